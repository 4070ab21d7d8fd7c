#!/usr/bin/env python3
"""redlab_session: runs notebook cells one at a time in one persistent namespace, like a kernel.

RED Lab copies this file into a session's container (any image with python3; stdlib only,
Python 3.7+ syntax) and starts it as `python3 -u redlab_session.py`. The bridge talks to it over
stdin/stdout with JSON lines (UTF-8, one object per line).

Requests (stdin):
    {"type": "execute", "id": "<executionId>", "code": "<cell source>", "cellId": "<optional>"}
    {"type": "shutdown"}                      -> the runner exits 0 (so does the end of stdin)
  A line that is not JSON, not an object, of an unknown type or missing a field is answered by
  {"type": "protocol-error", "message": "..."} and the runner goes on. Requests are handled one
  after the other: an execute sent while a cell runs waits for it. "id" (a non-empty string) is
  echoed in every message about that execution; "cellId" is accepted and not used.

Interrupt: SIGINT to the runner (`docker kill -s INT`) raises KeyboardInterrupt in the running
cell, which ends with an `error` output (ename KeyboardInterrupt) and done status "aborted"; a
shell command the cell runs is killed. SIGINT while no cell runs is ignored; one that comes while
the runner writes a message waits until the line is whole. SIGTERM (`docker stop`) ends the
runner at once (exit 143); so does a closed stdout (exit 1).

Messages (the ORIGINAL stdout, which the runner dup()s for itself at start):
    {"type": "ready", "runner": RUNNER_VERSION, "python": "3.11.2", "pid": N}   once, first
    {"type": "status", "id": ..., "state": "busy"}                            an execute starts
    {"type": "output", "id": ..., "output": <nbformat v4 output dict>}        each output
    {"type": "done", "id": ..., "status": "ok"|"error"|"aborted", "executionCount": N}
    {"type": "protocol-error", "message": ...}
  executionCount counts executes from 1 (In [n]); every execute gets status, its outputs, done.
  Outputs are nbformat v4 dicts as Jupyter writes them: `stream` {name, text}, `execute_result`
  {execution_count, data, metadata}, `display_data` {data, metadata}, `error` {ename, evalue,
  traceback: [lines]}. Output written while no cell runs (a thread the cell left behind) is sent
  with "id": null.

Streams: fd 0 becomes /dev/null (a cell cannot read the requests); fd 1 and fd 2 become pipes that
threads read, so whatever the cell writes (print, sys.stderr, os.write(1, ...), child processes)
becomes `stream` outputs, in order within each stream, sent at each newline and at least every
50 ms, and nothing a cell writes reaches the protocol. Before any other output and before done,
the runner waits until the pipes are drained, so a display or an error follows the text printed
before it.

Cells: the value of the last expression statement is the execute_result (not None; a trailing
`;` hides it); `display(obj, ...)` is a builtin; rich data is text/plain (repr) plus what the
object's _repr_mimebundle_ (which wins) or _repr_html_, _repr_markdown_, _repr_svg_, _repr_png_,
_repr_jpeg_ (bytes as base64), _repr_json_, _repr_latex_ give (a method that raises or returns
None is left out). Each cell is compiled as `<cell N>` with its source in linecache, so tracebacks
show its lines; the runner's frames are left out. matplotlib (never imported by the runner) draws
with Agg (MPLBACKEND=Agg); plt.show() sends the open figures as display_data image/png and closes
them; figures still open at the end of a cell are sent then. At the start of a logical line,
`!cmd` (and `x = !cmd`) runs in a shell, `%time stmt`, `%cd dir`, `%pwd`, `%env [K[=V]]` and
`%matplotlib [inline]` (a no-op) work; `%pip`, `%conda` and other magics refuse the cell before
it runs (error UsageError naming the magic). Top-level `await` works (Python 3.8+). input()
raises StdinNotImplementedError. sys.exit() and exceptions end the cell with an `error` output
(status "error"); the namespace survives.
"""

import ast
import base64
import builtins
import codecs
import errno
import io
import json
import linecache
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import tokenize
import traceback
import types

RUNNER_VERSION = "1"

# The runner's frames, left out of a cell's traceback, are those whose code comes from this file.
_RUNNER_FILES = set([__file__, os.path.abspath(__file__), os.path.realpath(__file__)]) if "__file__" in globals() else set()
_FLUSH_INTERVAL = 0.05  # seconds: text without a newline waits no longer than this
_READ_SIZE = 65536
_TOP_LEVEL_AWAIT = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
_CO_COROUTINE = 0x80

# Agg before any cell can import matplotlib: a container has no display.
os.environ["MPLBACKEND"] = "Agg"


# ---------------------------------------------------------------------------
# protocol


class InterruptGuard(object):
    """Holds SIGINT back while the main thread is in the runner's own critical code (writing a
    message: half a line would break the protocol; a stream sync: its count would go wrong); the
    KeyboardInterrupt is raised when that code is left, if a cell still runs."""

    def __init__(self):
        self.depth = 0
        self.pending = False
        self.in_cell = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.depth += 1
        return self

    def __exit__(self, *exc):
        if threading.current_thread() is not threading.main_thread():
            return False
        self.depth -= 1
        if not self.depth and self.pending and exc[0] is None:
            self.pending = False
            if self.in_cell:
                raise KeyboardInterrupt()
        return False

    def on_sigint(self, signum, frame):
        if not self.in_cell:
            return  # idle: ignored
        if self.depth:
            self.pending = True
            return
        raise KeyboardInterrupt()


GUARD = InterruptGuard()


class Protocol(object):
    """Writes messages to the runner's own copy of the original stdout, one JSON line each."""

    def __init__(self, fd):
        self._fd = fd
        self._lock = threading.Lock()

    def send(self, message):
        try:
            line = json.dumps(message, ensure_ascii=False) + "\n"
            data = line.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a cell: \u escapes are still valid JSON
            data = (json.dumps(message, ensure_ascii=True) + "\n").encode("ascii")
        with GUARD, self._lock:
            view = memoryview(data)
            try:
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError as e:
                if e.errno == errno.EPIPE:  # the reader of the messages is gone: nobody to run cells for
                    os._exit(1)
                raise


# ---------------------------------------------------------------------------
# fd 1 / fd 2 capture


class StreamPump(object):
    """Reads one pipe (the cell's fd 1 or fd 2) and sends its text as `stream` outputs.

    A sync marker written into the pipe by the main thread tells it when everything written
    before has been sent (see sync())."""

    def __init__(self, name, read_fd, write_fd, session):
        self.name = name
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.session = session
        self.marker = ("\0redlab-sync-%s-%s\0" % (name, os.urandom(8).hex())).encode("ascii")
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._raw = b""
        self._text = ""
        self._pending_since = 0.0
        self._synced = threading.Condition()
        self._sync_seen = 0
        self._sync_asked = 0
        thread = threading.Thread(target=self._loop, name="redlab-%s" % name)
        thread.daemon = True
        thread.start()

    def _loop(self):
        while True:
            timeout = None  # nothing held back: wait for the next write
            if self._text:
                timeout = max(0.0, self._pending_since + _FLUSH_INTERVAL - time.monotonic())
            try:
                ready, _, _ = select.select([self.read_fd], [], [], timeout)
            except InterruptedError:
                continue
            if not ready:
                self._send(partial=True)
                continue
            try:
                chunk = os.read(self.read_fd, _READ_SIZE)
            except InterruptedError:
                continue
            except OSError:
                return
            if not chunk:
                return
            self._take(chunk)

    def _take(self, chunk):
        self._raw += chunk
        while True:
            at = self._raw.find(self.marker)
            if at < 0:
                break
            self._decode(self._raw[:at])
            self._raw = self._raw[at + len(self.marker):]
            self._send(partial=True, final=True)
            with self._synced:
                self._sync_seen += 1
                self._synced.notify_all()
        # Keep back a tail that may be the start of a marker split across reads.
        keep = 0
        for n in range(min(len(self.marker) - 1, len(self._raw)), 0, -1):
            if self.marker.startswith(self._raw[-n:]):
                keep = n
                break
        self._decode(self._raw[: len(self._raw) - keep])
        self._raw = self._raw[len(self._raw) - keep:]
        self._send(partial=len(self._text) >= _READ_SIZE)

    def _decode(self, data, final=False):
        if data or final:
            if not self._text:
                self._pending_since = time.monotonic()
            self._text += self._decoder.decode(data, final)

    def _send(self, partial, final=False):
        """Sends the text up to its last newline; all of it when `partial` (the timer, a sync)."""
        if final:
            self._decode(b"", final=True)
        if partial:
            text, self._text = self._text, ""
        else:
            cut = self._text.rfind("\n") + 1
            text, self._text = self._text[:cut], self._text[cut:]
            if text and self._text:
                self._pending_since = time.monotonic()
        if text:
            self.session.send_output({"output_type": "stream", "name": self.name, "text": text}, from_pump=True)

    def sync(self, timeout=5.0):
        """Returns once everything written to the pipe before this call has been sent."""
        with GUARD:
            with self._synced:
                self._sync_asked += 1
                wanted = self._sync_asked
            try:
                os.write(self.write_fd, self.marker)  # under PIPE_BUF bytes: never split by other writers
            except OSError:
                with self._synced:
                    self._sync_asked -= 1
                return
            deadline = time.time() + timeout
            with self._synced:
                while self._sync_seen < wanted:
                    left = deadline - time.time()
                    if left <= 0:
                        return  # the pipe is stuck (a cell replaced fd 1?): go on rather than hang
                    self._synced.wait(left)


def capture_fd(fd):
    """Points `fd` at a new pipe; returns (read end, a write end kept for sync markers)."""
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, fd)
    return read_fd, write_fd


# ---------------------------------------------------------------------------
# rich data


_REPR_METHODS = [
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("application/json", "_repr_json_"),
    ("text/latex", "_repr_latex_"),
]


def _b64(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def safe_repr(obj):
    try:
        return repr(obj)
    except Exception as e:  # a broken __repr__ must not fail the cell
        return "<%s object (repr failed: %s: %s)>" % (type(obj).__name__, type(e).__name__, e)


def figure_bundle(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    width, height = fig.get_size_inches() * fig.dpi
    text = "<Figure size %dx%d with %d Axes>" % (width, height, len(fig.axes))
    return {"text/plain": text, "image/png": _b64(buf.getvalue())}, {}


def mime_bundle(obj):
    """(data, metadata) for an object, as IPython's display formatter gives them."""
    figure_mod = sys.modules.get("matplotlib.figure")
    if figure_mod is not None and isinstance(obj, getattr(figure_mod, "Figure", ())):
        try:
            return figure_bundle(obj)
        except Exception:
            pass
    data, metadata = {}, {}
    if not isinstance(obj, type):  # a class's _repr_html_ is an unbound function
        method = getattr(obj, "_repr_mimebundle_", None)
        if callable(method):
            try:
                got = method(include=None, exclude=None)
            except TypeError:
                try:
                    got = method()
                except Exception:
                    got = None
            except Exception:
                got = None
            if isinstance(got, tuple) and len(got) == 2:
                got, md = got
                if isinstance(md, dict):
                    metadata.update(md)
            if isinstance(got, dict):
                data.update((k, _b64(v)) for k, v in got.items() if v is not None)
        for mime, attr in _REPR_METHODS:
            if mime in data:
                continue
            method = getattr(obj, attr, None)
            if not callable(method):
                continue
            try:
                value = method()
            except Exception:
                continue
            if isinstance(value, tuple) and len(value) == 2:
                value, md = value
                if md:
                    metadata[mime] = md
            if value is None:
                continue
            if mime == "application/json" and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    continue
            data[mime] = _b64(value)
    if "text/plain" not in data:
        data["text/plain"] = safe_repr(obj)
    return data, metadata


# ---------------------------------------------------------------------------
# IPython syntax: `!cmd` and `%magic` at the start of a logical line become calls of `__redlab__`
# (one line stays one line, so tracebacks keep the cell's line numbers).

_ESCAPE_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<kind>%%|%|!!|!)(?P<rest>.*)$")
_ASSIGN_ESCAPE = re.compile(r"^(?P<indent>[ \t]*)(?P<lhs>[\w.]+(?:\s*,\s*[\w.]+)*)\s*=\s*(?P<kind>!|%)(?P<rest>.*)$")
_HELPER = "__redlab__"
_LINE_MAGICS = ("time", "cd", "pwd", "env", "matplotlib")
_IMAGE_HINT = (
    "install packages in the session's image instead: list them in the notebook folder's "
    "requirements.txt, environment.yml or apt.txt, build the image (RED panel: build image; "
    "bridge: POST /images/build) and start a new session with it"
)


class UsageError(Exception):
    """A magic the session does not run (IPython's name for a wrong or unknown magic)."""


class StdinNotImplementedError(Exception):
    """input() in a container session: nobody can answer it."""


def refusal(kind, name):
    """The message for a magic that a container session does not run."""
    if kind == "%%":
        return "cell magic `%%%%%s` is not available in a RED Lab container session: write the cell in Python (`!cmd` lines run shell commands)" % name
    if name in ("pip", "conda", "mamba"):
        return "`%%%s` is not available in a RED Lab container session: %s" % (name, _IMAGE_HINT)
    return "line magic `%%%s` is not available in a RED Lab container session (it runs %s only): write it in Python" % (
        name,
        ", ".join("%" + n for n in _LINE_MAGICS),
    )


def _inside_statement(prefix):
    """Whether the next line continues a statement begun in `prefix` (open bracket or string, `\\`)."""
    if not prefix.strip():
        return False
    if prefix.rstrip("\n").endswith("\\"):
        return True
    try:
        for _ in tokenize.generate_tokens(io.StringIO(prefix).readline):
            pass
    except tokenize.TokenError:
        return True
    except (SyntaxError, IndentationError):
        return False
    return False


def _escape_call(kind, rest, assigned):
    rest = rest.strip()
    if kind in ("!", "!!"):
        method = "getoutput" if assigned or kind == "!!" else "system"
        return "%s.%s(%r)" % (_HELPER, method, rest)
    name, _, args = rest.partition(" ")
    return "%s.magic_%s(%r)" % (_HELPER, name, args.strip())


def transform_cell(source):
    """(Python source, [refusal messages]) for a cell: escapes rewritten as calls, magics that the
    session does not run collected so that the cell is refused before any of it runs."""
    refused = []
    out = []
    for line in source.split("\n"):
        # Tokenizing what came before is the costly part: only for a line that looks like an escape.
        if not (_ESCAPE_LINE.match(line) or _ASSIGN_ESCAPE.match(line)) or _inside_statement("\n".join(out) + "\n"):
            out.append(line)
            continue
        m = _ASSIGN_ESCAPE.match(line) or _ESCAPE_LINE.match(line)
        kind, rest = m.group("kind"), m.group("rest")
        name = rest.strip().split(" ")[0] if kind in ("%", "%%") else ""
        if kind == "%%" or (kind == "%" and name not in _LINE_MAGICS):
            refused.append(refusal(kind, name))
            out.append(line)
            continue
        lhs = m.groupdict().get("lhs")
        call = _escape_call(kind, rest, bool(lhs))
        out.append("%s%s%s" % (m.group("indent"), "%s = " % lhs if lhs else "", call))
    return "\n".join(out), refused


def ends_with_semicolon(source):
    """IPython's rule: a trailing `;` on the last statement hides its value."""
    last = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
                last = tok
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return last is not None and last.type == tokenize.OP and last.string == ";"


def format_time(seconds):
    """IPython's _format_time: 3 significant digits in s, ms, us or ns."""
    if seconds >= 60.0:
        minutes, s = divmod(seconds, 60.0)
        hours, minutes = divmod(minutes, 60.0)
        return " ".join("%d%s" % (v, u) for v, u in ((hours, "h"), (minutes, "min"), (s, "s")) if v)
    for scale, unit in ((1, "s"), (1e3, "ms"), (1e6, "\u03bcs")):
        if seconds * scale >= 1:
            return "%.3g %s" % (seconds * scale, unit)
    return "%.3g ns" % (seconds * 1e9)


class IPythonSyntax(object):
    """What `!cmd` and the supported magics call (`__redlab__` in the namespace)."""

    def __init__(self, session):
        self.session = session

    def _expand(self, cmd):
        """IPython's `{expr}` and `$name` in shell lines, from the cell's namespace."""
        ns = self.session.namespace

        def brace(m):
            try:
                return str(eval(m.group(1), ns))
            except Exception:
                return m.group(0)

        def dollar(m):
            return str(ns[m.group(1)]) if m.group(1) in ns else m.group(0)

        cmd = re.sub(r"(?<!\{)\{([^{}]+)\}(?!\})", brace, cmd)
        return re.sub(r"(?<!\$)\$([A-Za-z_]\w*)", dollar, cmd)

    def system(self, cmd):
        """`!cmd`: its output (stdout and stderr) goes to the cell's fds, so it streams live."""
        proc = subprocess.Popen(self._expand(cmd), shell=True, stdin=subprocess.DEVNULL)
        try:
            code = proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: the command goes with the cell
                proc.kill()
                proc.wait()
        self.session.namespace["_exit_code"] = code
        return None

    def getoutput(self, cmd):
        """`x = !cmd`: the output lines as a list."""
        proc = subprocess.Popen(
            self._expand(cmd), shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            out, _ = proc.communicate()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.session.namespace["_exit_code"] = proc.returncode
        return out.decode("utf-8", "replace").splitlines()

    def magic_time(self, stmt):
        start_cpu = os.times()
        start = time.time()
        try:
            return self.session.run_source(stmt or "pass", self.session.filename)
        finally:
            wall = time.time() - start
            end_cpu = os.times()
            user, system_ = end_cpu[0] - start_cpu[0], end_cpu[1] - start_cpu[1]
            print("CPU times: user %s, sys: %s, total: %s" % (format_time(user), format_time(system_), format_time(user + system_)))
            print("Wall time: %s" % format_time(wall))

    def magic_cd(self, path):
        target = os.path.expanduser(path.strip().strip("'\"") or "~")
        os.chdir(target)
        print(os.getcwd())

    def magic_pwd(self, _args):
        return os.getcwd()

    def magic_env(self, args):
        args = args.strip()
        if not args:
            return dict(os.environ)
        m = re.match(r"^(\S+?)\s*[=\s]\s*(.*)$", args)
        if m:
            os.environ[m.group(1)] = self._expand(m.group(2))
            print("env: %s=%s" % (m.group(1), os.environ[m.group(1)]))
            return None
        return os.environ[args]

    def magic_matplotlib(self, args):
        backend = args.strip().lower()
        if backend not in ("", "inline", "agg"):
            print("%%matplotlib %s: a container session has no display; figures are drawn with Agg and shown as PNG" % backend, file=sys.stderr)


def no_input(prompt=""):
    raise StdinNotImplementedError(
        "input() is not available in a RED Lab container session (nobody can type into the container): "
        "set the value in the cell instead"
    )


# ---------------------------------------------------------------------------
# matplotlib: plt.show() patched as soon as a cell imports pyplot (the runner never imports it)


class _PatchingLoader(object):
    def __init__(self, loader, after):
        self._loader = loader
        self._after = after

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._after(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class PyplotHook(object):
    """A sys.meta_path finder that lets the real finders load matplotlib.pyplot, then patches it."""

    def __init__(self, after):
        self._after = after

    def find_spec(self, name, path, target=None):
        if name != "matplotlib.pyplot":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, self._after)
                return spec
        return None


# ---------------------------------------------------------------------------
# the session


class Session(object):
    def __init__(self, protocol, request_fd):
        self.protocol = protocol
        self.request_fd = request_fd
        self.count = 0
        self.current_id = None
        self.filename = "<cell>"
        self.pumps = []
        self.loop = None  # the asyncio loop of cells with top-level await
        self._pyplot_patched = False
        # The cells' globals are a real module's, installed as __main__ (as IPython does), so that
        # pickle and multiprocessing find what the cells define.
        self.main_module = types.ModuleType("__main__")
        self.namespace = self.main_module.__dict__
        self.namespace.update(
            {"__builtins__": builtins, "display": self.display, "input": no_input, _HELPER: IPythonSyntax(self)}
        )
        sys.modules["__main__"] = self.main_module

    # -- outputs

    def send_output(self, output, from_pump=False):
        if not from_pump:
            self.sync_streams()
        self.protocol.send({"type": "output", "id": self.current_id, "output": output})

    def sync_streams(self):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        for pump in self.pumps:
            pump.sync()

    def display(self, *objs, **kwargs):
        """IPython.display.display: each object as display_data (raw=True: the objects are bundles)."""
        raw = kwargs.get("raw", False)
        extra = kwargs.get("metadata") or {}
        for obj in objs:
            if raw and isinstance(obj, dict):
                data, metadata = dict((k, _b64(v)) for k, v in obj.items()), {}
            else:
                data, metadata = mime_bundle(obj)
            metadata.update(extra)
            self.send_output({"output_type": "display_data", "data": data, "metadata": metadata})

    # -- matplotlib

    def patch_pyplot(self, plt):
        if self._pyplot_patched:
            return
        self._pyplot_patched = True
        session = self

        def show(*args, **kwargs):
            session.flush_figures()

        show.__doc__ = "RED Lab container session: sends the open figures as PNG images and closes them."
        plt.show = show

    def flush_figures(self):
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        self.patch_pyplot(plt)
        try:
            numbers = list(plt.get_fignums())
        except Exception:
            return
        for number in numbers:
            try:
                data, metadata = figure_bundle(plt.figure(number))
            except Exception as e:
                print("redlab: could not draw figure %s as PNG: %s: %s" % (number, type(e).__name__, e), file=sys.stderr)
                continue
            self.send_output({"output_type": "display_data", "data": data, "metadata": metadata})
        try:
            plt.close("all")
        except Exception:
            pass

    # -- execution

    def _run_code(self, code):
        value = eval(code, self.namespace)
        if code.co_flags & _CO_COROUTINE:  # top-level await (Python 3.8+), as IPython allows it
            import asyncio

            if self.loop is None:
                self.loop = asyncio.new_event_loop()
            value = self.loop.run_until_complete(value)
        return value

    def run_source(self, source, filename):
        """Runs (transformed) Python source in the namespace; returns the last expression's value
        (None when the last statement is no expression or ends with `;`)."""
        tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST | _TOP_LEVEL_AWAIT)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not ends_with_semicolon(source):
            last = ast.Expression(tree.body.pop().value)
        value = None
        if tree.body:
            self._run_code(compile(tree, filename, "exec", _TOP_LEVEL_AWAIT))
        if last is not None:
            value = self._run_code(compile(last, filename, "eval", _TOP_LEVEL_AWAIT))
        return value

    def execute(self, request_id, code):
        self.count += 1
        self.current_id = request_id
        self.filename = "<cell %d>" % self.count
        self.protocol.send({"type": "status", "id": request_id, "state": "busy"})
        linecache.cache[self.filename] = (len(code), None, code.splitlines(True), self.filename)
        status, failure = "ok", None
        GUARD.in_cell = True
        try:
            try:
                source, refused = transform_cell(code)
                if refused:
                    raise UsageError("\n".join(refused))
                value = self.run_source(source, self.filename)
                if value is not None:
                    self.namespace["_"] = value
                    data, metadata = mime_bundle(value)
                    self.send_output({"output_type": "execute_result", "execution_count": self.count, "data": data, "metadata": metadata})
            except BaseException as e:  # SystemExit and KeyboardInterrupt end the cell, not the runner
                failure = e
            try:
                self.flush_figures()  # also after an error, as the inline backend does
            except BaseException as e:
                failure = failure or e
        except KeyboardInterrupt as e:  # SIGINT in the runner's own code after the cell
            failure = failure or e
        finally:
            GUARD.in_cell = False
            GUARD.pending = False
        if failure is not None:
            status = "aborted" if isinstance(failure, KeyboardInterrupt) else "error"
            self.send_output(error_output(failure))
        self.sync_streams()
        self.protocol.send({"type": "done", "id": request_id, "status": status, "executionCount": self.count})
        self.current_id = None

    # -- requests

    def requests(self):
        """The request lines from the runner's copy of the original stdin."""
        buf = b""
        while True:
            try:
                chunk = os.read(self.request_fd, _READ_SIZE)
            except InterruptedError:
                continue
            if not chunk:
                if buf.strip():
                    yield buf
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield line

    def protocol_error(self, message):
        self.protocol.send({"type": "protocol-error", "message": message})

    def serve(self):
        for line in self.requests():
            try:
                request = json.loads(line.decode("utf-8"))
            except ValueError as e:  # UnicodeDecodeError is a ValueError too
                self.protocol_error("a request line is not JSON (%s): %r" % (e, line[:200].decode("utf-8", "replace")))
                continue
            if not isinstance(request, dict):
                self.protocol_error("a request must be a JSON object, got %s" % type(request).__name__)
                continue
            kind = request.get("type")
            if kind == "shutdown":
                return 0
            if kind != "execute":
                self.protocol_error('unknown request type %r: expected "execute" or "shutdown"' % (kind,))
                continue
            request_id, code = request.get("id"), request.get("code")
            if not isinstance(request_id, str) or not request_id:
                self.protocol_error('execute request without "id" (a non-empty string naming the execution)')
                continue
            if not isinstance(code, str):
                self.protocol_error('execute request %s without "code" (the cell source as a string)' % request_id)
                continue
            self.execute(request_id, code)
        return 0


def error_output(exc):
    """An nbformat error output; the traceback starts at the cell (the runner's frames left out)."""
    try:
        evalue = str(exc)
    except Exception:
        evalue = "<exception str() failed>"
    try:
        if isinstance(exc, SystemExit):  # as IPython shows it
            lines = ["An exception has occurred, use %tb to see the full traceback.", "", "SystemExit: %s" % evalue]
        elif isinstance(exc, SyntaxError):
            lines = "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n").split("\n")
        elif isinstance(exc, (UsageError, StdinNotImplementedError)):
            lines = ("%s: %s" % (type(exc).__name__, evalue)).split("\n")
        else:
            lines = "".join(format_without_runner(exc)).rstrip("\n").split("\n")
    except Exception:
        lines = ["%s: %s" % (type(exc).__name__, evalue)]
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": evalue, "traceback": lines}


def format_without_runner(exc):
    report = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    seen = set()

    def strip(rep):
        if rep is None or id(rep) in seen:
            return
        seen.add(id(rep))
        rep.stack = traceback.StackSummary.from_list([f for f in rep.stack if f.filename not in _RUNNER_FILES])
        strip(rep.__cause__)
        strip(rep.__context__)

    strip(report)
    return report.format()


def main():
    # The protocol's own copies of stdin and stdout; the cell gets /dev/null and pipes instead.
    protocol_fd = os.dup(1)
    request_fd = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    protocol = Protocol(protocol_fd)
    session = Session(protocol, request_fd)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        read_fd, write_fd = capture_fd(fd)
        session.pumps.append(StreamPump(name, read_fd, write_fd, session))
    # Python's own stdout/stderr on the new fds, flushed at each write (python3 without -u too).
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0, closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True, write_through=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0, closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True, write_through=True)
    sys.stdin = io.TextIOWrapper(os.fdopen(0, "rb", closefd=False), encoding="utf-8")
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin
    sys.meta_path.insert(0, PyplotHook(session.patch_pyplot))
    builtins.input = no_input  # libraries call the builtin, not the namespace's
    signal.signal(signal.SIGINT, GUARD.on_sigint)
    # SIGTERM (docker stop) ends the session at once: as process 1 of a container the runner would
    # otherwise ignore it, and a SystemExit raised in a cell would only end the cell.
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(128 + signum))
    protocol.send({"type": "ready", "runner": RUNNER_VERSION, "python": "%d.%d.%d" % sys.version_info[:3], "pid": os.getpid()})
    code = session.serve()
    session.sync_streams()
    return code


if __name__ == "__main__":
    sys.exit(main())
