#!/usr/bin/env python3
"""redlab_nbrun: run a Jupyter notebook with plain Python, papermill style.

RED Lab copies this file next to a notebook and runs it in the experiment's
container (any image with python3 >= 3.8; nothing else is needed):

    python3 redlab_nbrun.py NOTEBOOK [--PARAM VALUE ...] [--FLAG] [--input-NAME PATH ...]
                            [--redlab-types NAME=TYPE,...] [--redlab-collect DIR
                            [--redlab-collect-skip GLOB,...]] [--output FILE]

- NOTEBOOK is an nbformat 4 notebook with a Python kernel.
- `--PARAM VALUE` (or `--PARAM=VALUE`) sets a value of the cell tagged
  `parameters`. Without `--redlab-types` (a command line written by hand) the
  value is typed as papermill's `-p` types it, whatever the default's type:
  True, False, None, an int, a float, else the text as given; a word that
  starts with [ or { and is JSON is that list or dict (papermill's `-y`); a
  name without a value (`--verbose`) is True. RED Lab's panel gives every type
  with `--redlab-types NAME=TYPE,...` (TYPE: int, float, string, boolean, a
  list of one of them as `float[]`, optional as `int?`, or json: a JSON value),
  and the value is converted to it or refused naming the parameter, the value
  and the type (exit 2); a list is a JSON list (`--xs '["a,b", "c"]'`) or its
  items joined by commas (`--xs 1,2,3`, as CWL's itemSeparator writes it). The
  panel reads the cell's types by the same rules as the runner's
  `--redlab-describe` (src/notebook/parameters.ts): the literal's type, an
  annotation `float` making an int a float, `list[float]` / `Optional[int]` /
  `int | None` honoured, None, dicts and mixed lists as JSON. A declared
  parameter whose option is absent is False (boolean), [] (list) or None
  (optional): CWL writes nothing for those. A parameter the cell does not
  define is injected anyway (as papermill does).
  A syntax error in the parameters cell is named (code cell and line) before the
  run starts; the cell then runs as it is and raises SyntaxError (exit 1, the
  notebook written), as in papermill; `--redlab-describe` exits 2 with the message.
- `--redlab-booleans A,B` (older RED files) names the boolean parameters this
  command line sets: those among them without their flag are False.
- `--redlab-collect DIR` gathers the files the notebook wrote in the working
  directory (new or changed, hidden names and __pycache__ left out) into DIR by
  hard links, after the run (also a failed one), except those that the globs of
  `--redlab-collect-skip GLOB,...` match (collected as outputs of their own, or
  left out on purpose).
- `--redlab-describe` prints the parameters as the runner reads them (JSON) and exits.
- `--input-NAME PATH` exposes an input file or folder to the notebook as the
  environment variable REDLAB_INPUT_<NAME> (upper case, other characters than
  letters and digits as `_`).
- `--redlab-kernel auto|ipython|stdlib` chooses what runs the cells. auto (the
  default): a real IPython kernel when this python3 has ipykernel, nbclient,
  nbformat and jupyter_client (Debian: python3-ipykernel python3-nbclient), so
  that magics, display hooks and pretty printing are IPython's own; else the
  runner's own stdlib execution, described below. ipython refuses to run
  without a kernel (exit 2). Which one ran is the line `cells run by: ...` on
  stderr and `metadata.redlab.execution` ("ipython" or "stdlib") of the
  executed notebook.
- `--output FILE` (or `--redlab-output FILE`, which works even when the notebook
  has a parameter named `output`) is where the executed notebook goes; default
  `<notebook name>.executed.ipynb` in the working directory (/cc/outputs in a
  RED experiment).

The values are injected as a new code cell tagged `injected-parameters` right
after the `parameters` cell (at the top when there is none; no such cell when no
values are given). Messages name cells as the notebook shows them: "code cell 3
(In [4])" is the third code cell, markdown and the injected cell not counted,
and In [n] its execution count, the injected cell counted as papermill counts
it. The notebook gets papermill 2.x's metadata (the `papermill` section, each
cell's status and times, nbclient's `execution` timestamps, nbformat 4.5 cell
ids) and, when a cell raised, papermill's error marker cells. In the stdlib
execution, the code cells then
run in order in one namespace; their stdout/stderr are recorded as stream outputs
and echoed live, the value of a final expression becomes an execute_result,
`display(...)` (also via an IPython.display stand-in when IPython is not installed)
a display_data, and open matplotlib figures PNG images (Agg backend). The first
error is recorded as an error output and stops the run; the executed notebook is
written anyway.

Exit codes (either execution): 0 every cell ran, or a cell ended the run with sys.exit(0) / raise
SystemExit / exit() (the remaining cells are not run, as papermill); 1 a cell
raised, or called sys.exit(n) with n != 0; 2 bad usage or a notebook that
cannot run here (not nbformat 4, not a Python kernel); 130 interrupted
(SIGINT/SIGTERM, as a shell reports a SIGINT: 128 + 2), with the notebook
written up to that point.

The runner reads IPython's syntax itself (the image needs no IPython), line by
line as IPython's input transformers do (at the start of a logical line, also
indented in a block; never inside strings or expressions): `!cmd` (output in
the cell, `_exit_code` set), `x = !cmd` (the output lines as a list), `%time` /
`%timeit` (line and cell forms, IPython's timing lines), `%cd`, `%env`, `%pip` /
`%conda` (run in the container: a missing tool or network is named),
`%matplotlib` (figures are drawn with Agg and kept as PNG anyway), `%load_ext
autoreload` / `%autoreload` (no effect), `%%bash`, `%%sh`, `%%writefile [-a]
FILE` and `%%capture [var]`; `{expr}` and `$name` in shell lines are the cell's
values. Another magic fails naming it. Values are shown as IPython's pretty
printer shows them (long containers one item a line, classes by name); warnings
go to the cell's stderr as `<code cell N>:LINE: Category: message`; input()
fails: a container run has no keyboard, so such a value is a parameter.
"""

import ast
import base64
import builtins
import codecs
import datetime
import fnmatch
import io
import json
import linecache
import math
import os
import pprint
import re
import shlex
import shutil
import signal
import sys
import time
import tokenize
import traceback
import types
import uuid

RUNNER_VERSION = "1.0.0"
_RUNNER_FILE = os.path.abspath(__file__) if "__file__" in globals() else "<redlab_nbrun>"
_INTERRUPTED = 130
_START_DIR = os.getcwd()


class UsageError(Exception):
    """Bad command line or a notebook this runner cannot execute (exit code 2)."""


class Interrupted(BaseException):
    """SIGTERM / SIGINT while a cell runs."""


def log(message):
    """A line of the runner's own on stderr (the cells' output goes there too, unprefixed)."""
    err = sys.__stderr__ or sys.stderr
    err.write("redlab_nbrun: %s\n" % message)
    err.flush()


# ---------------------------------------------------------------------------
# notebook helpers


def cell_source(cell):
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(src)
    return src if isinstance(src, str) else ""


def split_lines(text):
    """nbformat's multi-line string convention: a list of lines with their line ends."""
    return text.splitlines(True) if text else []


def now_iso():
    """UTC time as nbclient writes a cell's `execution` timestamps (2024-01-02T03:04:05.678901Z)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def papermill_time(when):
    """A time.time() as papermill writes its start_time/end_time (isoformat, +00:00)."""
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).isoformat()


def cell_tags(cell):
    tags = (cell.get("metadata") or {}).get("tags") or []
    return tags if isinstance(tags, list) else []


def load_notebook(path):
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UsageError("cannot read the notebook %s: %s" % (path, e.strerror or e))
    try:
        nb = json.loads(text)
    except ValueError as e:
        raise UsageError("%s is not a notebook: it is not valid JSON (%s)" % (path, e))
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise UsageError("%s is not a notebook: it has no list of cells" % path)
    if nb.get("nbformat") != 4:
        raise UsageError(
            "%s is in notebook format %s; this runner reads format 4 (open and save it in JupyterLab to convert it)"
            % (path, nb.get("nbformat"))
        )
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    spec = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
    info = meta.get("language_info") if isinstance(meta.get("language_info"), dict) else {}
    language = spec.get("language") or info.get("name")
    if isinstance(language, str) and language.strip().lower() != "python":
        raise UsageError(
            "%s uses the %s kernel (%s); this runner executes Python notebooks only: switch the notebook to a Python 3 kernel"
            % (path, spec.get("display_name") or spec.get("name") or language, language)
        )
    return nb


# ---------------------------------------------------------------------------
# parameters


_BOOL_WORDS = {"true": True, "false": False}
_MAGIC_SOURCE_LINE = re.compile(r"^\s*(%%?|!)")
_SCALARS = {"int": int, "float": float, "string": str, "boolean": bool}
_ANNOTATION_TYPES = {"int": "int", "float": "float", "str": "string", "bool": "boolean"}
_ANY_ANNOTATION = re.compile(r"^(?:typing\.)?(?:Any|dict|Dict|object)(?:\[.*\])?$")
_OPTIONAL_ANNOTATIONS = [
    re.compile(r"^(?:typing\.)?Optional\[(.+)\]$"),
    re.compile(r"^(?:typing\.)?Union\[(.+),None\]$"),
    re.compile(r"^(?:typing\.)?Union\[None,(.+)\]$"),
    re.compile(r"^(.+)\|None$"),
    re.compile(r"^None\|(.+)$"),
]
_LIST_ANNOTATION = re.compile(r"^(?:list|List|typing\.List)\[(\w+)\]$")


class ParametersSyntaxError(UsageError):
    pass


class Parameter(object):
    """A value of the parameters cell: its type as RED Lab's panel gives it (src/notebook/parameters.ts)."""

    def __init__(self, name, type_, default):
        self.name = name
        self.type = type_  # int, float, string, boolean, X[], X?, or json; None: not a literal RED Lab passes
        self.default = default


def syntax_message(code_cell, line, reason):
    """Word for word as parametersSyntaxMessage() in src/notebook/parameters.ts."""
    return "the parameters cell (code cell %d) has a syntax error on line %d: %s; fix it in the notebook" % (code_cell, line, reason)


def literal_kind(value):
    """The kind of a literal as the panel's parser sees it; None for what it does not take (tuples, sets, bytes, ...)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int" if abs(value) <= 2 ** 53 - 1 else None
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list" if all(literal_kind(v) for v in value) else None
    if isinstance(value, dict):
        return "dict" if all(isinstance(k, str) and literal_kind(v) for k, v in value.items()) else None
    return None


def value_type(value):
    """The type of a literal without annotation (valueType in parameters.ts)."""
    kind = literal_kind(value)
    if kind in _SCALARS:
        return kind
    if kind == "list":
        kinds = set(literal_kind(v) for v in value)
        if kinds == set(["int", "float"]):
            kinds = set(["float"])
        if len(kinds) == 1 and list(kinds)[0] in _SCALARS:
            return list(kinds)[0] + "[]"
    return "json"


def annotation_type(text):
    """(item, is_list, optional), "json", or None for an annotation (annotationType in parameters.ts)."""
    a = re.sub(r"\s+", "", text)
    optional = False
    for pattern in _OPTIONAL_ANNOTATIONS:
        m = pattern.match(a)
        if m:
            a, optional = m.group(1), True
            break
    if _ANY_ANNOTATION.match(a):
        return "json"
    if a in _ANNOTATION_TYPES:
        return (_ANNOTATION_TYPES[a], False, optional)
    m = _LIST_ANNOTATION.match(a)
    if m and m.group(1) in _ANNOTATION_TYPES:
        return (_ANNOTATION_TYPES[m.group(1)], True, optional)
    if m and _ANY_ANNOTATION.match(m.group(1)):
        return "json"
    return None


def _as_item(value, item):
    kind = literal_kind(value)
    if kind == item:
        return value
    if item == "float" and kind == "int":
        return float(value)
    return _NOT_ITEM


_NOT_ITEM = object()


def parameter_type(value, annotation):
    """(type, default) of a parameter from its literal value and annotation text (parameterType in parameters.ts)."""
    want = annotation_type(annotation) if annotation is not None else None
    if want is None:
        return value_type(value), value
    if want == "json":
        return "json", value
    item, is_list, optional = want
    if (item == "boolean" or is_list) and (optional or value is None):
        return "json", value  # absent is False or [] for these; None needs JSON
    type_ = item + ("[]" if is_list else "")
    if value is None:
        return type_ + "?", None
    suffix = "?" if optional else ""
    if is_list and isinstance(value, list):
        items = [_as_item(v, item) for v in value]
        if all(v is not _NOT_ITEM for v in items):
            return type_ + suffix, items
    elif not is_list:
        v = _as_item(value, item)
        if v is not _NOT_ITEM:
            return type_ + suffix, v
    return value_type(value), value


def blank_magics(source):
    """IPython magic and shell lines become blank (line numbers kept): they are no parameters."""
    return "\n".join("" if _MAGIC_SOURCE_LINE.match(line) else line for line in source.split("\n"))


def read_parameters(source, code_cell=1):
    """name -> Parameter of a parameters cell; raises ParametersSyntaxError when it is not valid Python."""
    params = {}
    text = blank_magics(source.replace("\r\n", "\n").replace("\r", "\n"))
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise ParametersSyntaxError(syntax_message(code_cell, e.lineno or 1, e.msg))
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value, annotation = node.targets[0].id, node.value, None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value, annotation = node.target.id, node.value, ast.get_source_segment(text, node.annotation)
        else:
            continue
        params.pop(name, None)  # the last assignment wins, in the order of the cell
        try:
            default = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            params[name] = Parameter(name, None, None)
            continue
        if literal_kind(default) is None:
            params[name] = Parameter(name, None, default)
            continue
        type_, default = parameter_type(default, annotation)
        params[name] = Parameter(name, type_, default)
    return params


def parse_bool(text):
    value = _BOOL_WORDS.get(text.strip().lower())
    if value is None:
        raise ValueError("expected True or False")
    return value


def papermill_value(text):
    """A value given without a declared type, typed as papermill's `-p NAME VALUE` types it
    (papermill/cli.py): True, False, None, an int, a float, else the text as given; and, as
    papermill's `-y`, a word that starts with [ or { and is JSON is that list or dict."""
    if text in _PAPERMILL_WORDS:
        return _PAPERMILL_WORDS[text]
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    if text.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


_PAPERMILL_WORDS = {"True": True, "False": False, "None": None}
# The largest whole number an int parameter takes (CWL's long); 1e100 is refused, not 101 digits.
_INT_LIMIT = 2 ** 63


def _convert_item(item, text):
    if item == "boolean":
        return parse_bool(text)
    if item == "int":
        try:
            value = int(text)
        except ValueError:
            f = float(text)
            if not f.is_integer():
                raise ValueError("not a whole number")
            value = int(f)
        if abs(value) >= _INT_LIMIT:
            raise ValueError("out of the range of a 64-bit whole number")
        return value
    if item == "float":
        return float(text)
    if item == "string":
        return text
    raise ValueError("unknown type %s" % item)


def _check_item(item, value):
    """A JSON list item as a value of the item type (an int is a float too, as in the cell)."""
    if item == "boolean" and isinstance(value, bool):
        return value
    if item == "int" and isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_LIMIT:
        return value
    if item == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if item == "string" and isinstance(value, str):
        return value
    raise ValueError("item %s is not a valid %s" % (json.dumps(value), describe_type(item)))


_TYPE_WORDS = {"int": "int", "float": "float", "string": "str", "boolean": "bool", "json": "JSON value"}


def describe_type(type_):
    t = type_.rstrip("?")
    if t.endswith("[]"):
        return "list of %s" % _TYPE_WORDS.get(t[:-2], t[:-2])
    return _TYPE_WORDS.get(t, t)


def convert_typed(name, text, type_):
    """One command-line word as a value of a parameter type (int, float, string, boolean, X[], X?, json)."""
    t = type_[:-1] if type_.endswith("?") else type_
    try:
        if t == "json":
            return json.loads(text)
        if t.endswith("[]"):
            item = t[:-2]
            if text.lstrip().startswith("["):
                # A JSON list: the items as given, commas in strings included.
                try:
                    items = json.loads(text)
                except ValueError as e:
                    raise ValueError("it starts with [ but is not a JSON list (%s)" % e)
                if not isinstance(items, list):
                    raise ValueError("it starts with [ but is not a JSON list")
                return [_check_item(item, v) for v in items]
            values = []
            for word in ([] if text == "" else text.split(",")):
                try:
                    values.append(_convert_item(item, word))
                except ValueError:
                    raise ValueError("item %r is not a valid %s; give the items separated by commas" % (word, describe_type(item)))
            return values
        return _convert_item(t, text)
    except ValueError as e:
        raise UsageError("--%s: %r is not a valid %s: %s" % (name, text, describe_type(type_), e))


def parse_types(text):
    """`a=int,b=float[],c=json` -> {name: type}: the types the panel gave (--redlab-types)."""
    types_ = {}
    for part in [p for p in text.split(",") if p]:
        name, eq, type_ = part.partition("=")
        base = type_.rstrip("?")
        base = base[:-2] if base.endswith("[]") else base
        if not eq or not name.isidentifier() or (base not in _SCALARS and type_ != "json"):
            raise UsageError(
                "--redlab-types: %r is not NAME=TYPE (TYPE: int, float, string, boolean, a list of them as int[], "
                "optional as int?, or json)" % part
            )
        types_[name] = type_
    return types_


def absent_value(type_):
    """The value of a declared parameter whose option is absent: CWL writes nothing for false, [] and null."""
    if type_.endswith("?"):
        return None
    if type_ == "boolean":
        return False
    if type_.endswith("[]"):
        return []
    return _ABSENT


_ABSENT = object()


class Options(object):
    def __init__(self):
        self.notebook = None
        self.output = None
        self.values = {}
        self.inputs = {}
        self.unknown = []
        self.collect = None
        self.collect_skip = []
        self.describe = False
        self.kernel = "auto"


USAGE = (
    "usage: python3 redlab_nbrun.py NOTEBOOK [--PARAM VALUE ...] [--FLAG] [--input-NAME PATH ...] "
    "[--redlab-types NAME=TYPE,...] [--redlab-booleans A,B] [--redlab-collect DIR [--redlab-collect-skip GLOB,...]] "
    "[--output FILE] [--redlab-kernel auto|ipython|stdlib] [--redlab-describe]"
)


# auto: a real IPython kernel when the image has one (ipykernel and nbclient), else the stdlib runner.
KERNEL_CHOICES = ("auto", "ipython", "stdlib")


def parse_args(argv, read_params):
    """Parses argv (without the program name); read_params(notebook_path) gives the parameters cell's Parameters."""
    if not argv or argv[0] in ("-h", "--help"):
        raise UsageError(USAGE)
    opts = Options()
    opts.notebook = argv[0]
    params = read_params(opts.notebook)
    rest = argv[1:]
    booleans = None
    declared = None
    # --redlab-types first: it decides how every other option is read.
    for n, word in enumerate(rest):
        if word.startswith("--redlab-types="):
            declared = parse_types(word.partition("=")[2])
        elif word == "--redlab-types" and n + 1 < len(rest):
            declared = parse_types(rest[n + 1])
    if declared is None and any(w == "--redlab-booleans" or w.startswith("--redlab-booleans=") for w in rest):
        # A RED file of an older panel (--redlab-booleans, no --redlab-types): the panel read the
        # types from the cell, as the runner does now, and joined list items by commas.
        # Only --redlab-types says that an absent option means False, [] or None.
        declared = dict((p.name, p.type) for p in params.values() if p.type is not None)
        absent_means_empty = False
    else:
        absent_means_empty = True
    given = []
    i = 0
    while i < len(rest):
        word = rest[i]
        i += 1
        if not word.startswith("--") or word == "--":
            raise UsageError("unexpected argument %r: give values as --NAME VALUE\n%s" % (word, USAGE))
        name, eq, inline = word[2:].partition("=")

        def value():
            nonlocal i
            if eq:
                return inline
            if i >= len(rest):
                raise UsageError("--%s needs a value" % name)
            i += 1
            return rest[i - 1]

        type_ = declared.get(name) if declared is not None else None
        if name == "redlab-types":
            value()
        elif name == "redlab-describe":
            opts.describe = True
        elif name == "redlab-kernel":
            opts.kernel = value()
            if opts.kernel not in KERNEL_CHOICES:
                raise UsageError("--redlab-kernel: %r is not one of %s" % (opts.kernel, ", ".join(KERNEL_CHOICES)))
        elif name == "redlab-output" or (name == "output" and "output" not in params and type_ is None):
            opts.output = value()
        elif name == "redlab-booleans":
            booleans = [b for b in value().split(",") if b]
        elif name == "redlab-collect":
            opts.collect = value()
        elif name == "redlab-collect-skip":
            opts.collect_skip = [g for g in value().split(",") if g]
        elif name.startswith("input-") and len(name) > len("input-") and type_ is None:
            opts.inputs[name[len("input-"):]] = value()
        elif declared is not None and type_ == "boolean":
            given.append(name)
            opts.values[name] = convert_typed(name, inline, type_) if eq else True
        elif declared is not None and type_ is not None:
            given.append(name)
            opts.values[name] = convert_typed(name, value(), type_)
        elif name.isidentifier():
            # No type from the panel (a command line written by hand, or a name the panel did not
            # declare): the value as papermill types it, whatever the default's type (papermill injects
            # it as given); a name without a value is a flag set to True.
            given.append(name)
            if eq:
                opts.values[name] = papermill_value(inline)
            elif i < len(rest) and not rest[i].startswith("--"):
                opts.values[name] = papermill_value(value())
            else:
                opts.values[name] = True
        else:
            raise UsageError("unknown option --%s\n%s" % (name, USAGE))
    for name, type_ in (declared or {}).items() if absent_means_empty else ():
        if name in given:
            continue
        empty = absent_value(type_)
        if empty is not _ABSENT:
            opts.values[name] = empty
    for name in booleans or []:
        if name not in opts.values and params.get(name) is not None and params[name].type == "boolean":
            opts.values[name] = False
    opts.unknown = [name for name in opts.values if name not in params]
    return opts


def input_env_name(name):
    return "REDLAB_INPUT_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def py_literal(value):
    """Source text for a parameter value (repr, with non-finite floats spelled out)."""
    if isinstance(value, float) and value != value:
        return "float('nan')"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "float('%s')" % ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[%s]" % ", ".join(py_literal(v) for v in value)
    if isinstance(value, tuple):
        return "(%s%s)" % (", ".join(py_literal(v) for v in value), "," if len(value) == 1 else "")
    return repr(value)


def new_cell_id(existing):
    while True:
        cid = uuid.uuid4().hex[:8]
        if cid not in existing:
            return cid


def inject_parameters(nb, values):
    """Adds the `injected-parameters` cell (after the `parameters` cell, else first) when there are
    values; an injected cell of an earlier run goes in any case. Returns the new cell, or None."""
    cells = [c for c in nb["cells"] if "injected-parameters" not in cell_tags(c)]
    nb["cells"] = cells
    if not values:
        return None
    at = 0
    for n, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and "parameters" in cell_tags(cell):
            at = n + 1
            break
    lines = ["# Parameters"] + ["%s = %s" % (k, py_literal(v)) for k, v in values.items()]
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": ["injected-parameters"]},
        "outputs": [],
        "source": split_lines("\n".join(lines) + "\n"),
    }
    cells.insert(at, cell)
    return cell


def ensure_cell_ids(nb):
    """nbformat 4.5: every cell has an id (papermill upgrades the notebook the same way)."""
    minor = nb.get("nbformat_minor")
    nb["nbformat_minor"] = max(minor if isinstance(minor, int) else 0, 5)
    existing = set(c.get("id") for c in nb["cells"])
    for cell in nb["cells"]:
        if not isinstance(cell.get("id"), str) or not cell["id"]:
            cell["id"] = new_cell_id(existing)
            existing.add(cell["id"])


# papermill's error marker (papermill/execute.py): a markdown cell at the top naming the failed
# cell and an anchor before it, both tagged so that papermill (and RED Lab) can find and drop them.
ERROR_MARKER_TAG = "papermill-error-cell-tag"
_ERROR_STYLE = 'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"'
_ERROR_MESSAGE = "<span " + _ERROR_STYLE + ">An Exception was encountered at '<a href=\"#papermill-error-cell\">In [%s]</a>'.</span>"
_ERROR_ANCHOR = '<span id="papermill-error-cell" ' + _ERROR_STYLE + ">Execution using papermill encountered an exception here and stopped:</span>"


def remove_error_markers(nb):
    nb["cells"] = [c for c in nb["cells"] if ERROR_MARKER_TAG not in cell_tags(c)]


def add_error_markers(nb, failed_cell):
    """papermill's marker cells for the cell that raised: the message first, the anchor right before it."""
    existing = set(c.get("id") for c in nb["cells"])

    def marker(text):
        cell = {"cell_type": "markdown", "id": new_cell_id(existing), "metadata": {"tags": [ERROR_MARKER_TAG]}, "source": split_lines(text)}
        existing.add(cell["id"])
        return cell

    at = next(n for n, c in enumerate(nb["cells"]) if c is failed_cell)
    nb["cells"].insert(at, marker(_ERROR_ANCHOR))
    nb["cells"].insert(0, marker(_ERROR_MESSAGE % failed_cell.get("execution_count")))


def parameters_cell_defaults(nb):
    """name -> literal default of the `parameters` cell (papermill.default_parameters)."""
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code" and "parameters" in cell_tags(cell):
            try:
                params = read_parameters(cell_source(cell))
            except UsageError:
                return {}
            return dict((p.name, p.default) for p in params.values() if p.type is not None)
    return {}


# ---------------------------------------------------------------------------
# the files the notebook writes


def _glob_match(pattern_parts, path_parts):
    """Python glob's rules on split paths: `*` stays within a name and skips names starting with '.' unless the pattern does; `**` spans folders."""
    if not pattern_parts:
        return not path_parts
    head = pattern_parts[0]
    if head == "**":
        return any(_glob_match(pattern_parts[1:], path_parts[k:]) for k in range(len(path_parts) + 1))
    if not path_parts:
        return False
    name = path_parts[0]
    if name.startswith(".") and not head.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, head) and _glob_match(pattern_parts[1:], path_parts[1:])


def glob_covers(pattern, rel):
    """Whether an output glob collects the file rel (itself, or a folder holding it)."""
    parts = [p for p in pattern.strip().split("/") if p not in ("", ".")]
    path = rel.split("/")
    return any(_glob_match(parts, path[:k]) for k in range(1, len(path) + 1))


def snapshot_files(root):
    """rel path -> (size, mtime_ns, inode) of the files under root (hidden names and __pycache__ left out)."""
    found = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__" and not os.path.islink(os.path.join(directory, d))]
        for f in files:
            full = os.path.join(directory, f)
            if f.startswith(".") or os.path.islink(full):
                continue
            try:
                st = os.stat(full)
            except OSError:
                continue
            found[os.path.relpath(full, root).replace(os.sep, "/")] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return found


def collect_new_files(root, before, folder, skip, own):
    """Links (or copies) the files written under root since `before` into root/folder, except those the
    `skip` globs collect on their own and the runner's `own` files; returns their relative paths."""
    dest_root = os.path.join(root, folder)
    new = []
    for rel, sig in sorted(snapshot_files(root).items()):
        if before.get(rel) == sig or rel in own or rel == folder or rel.startswith(folder + "/"):
            continue
        if any(glob_covers(g, rel) for g in skip):
            continue
        new.append(rel)
    for rel in new:
        src = os.path.join(root, rel)
        dest = os.path.join(dest_root, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copy2(src, dest)
    return new


# ---------------------------------------------------------------------------
# rich output


def _b64(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


_REPR_METHODS = [
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
    ("application/javascript", "_repr_javascript_"),
]


def safe_repr(obj):
    try:
        return repr(obj)
    except Exception as e:  # a broken __repr__ must not fail the cell
        return "<%s object (repr failed: %s)>" % (type(obj).__name__, e)


def figure_bundle(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    w, h = fig.get_size_inches() * fig.dpi
    text = "<Figure size %dx%d with %d Axes>" % (w, h, len(fig.axes))
    return {"image/png": _b64(buf.getvalue()), "text/plain": text}, {}


def mime_bundle(obj):
    """(data, metadata) for an object, as IPython's display formatter would give them."""
    figure_mod = sys.modules.get("matplotlib.figure")
    if figure_mod is not None and isinstance(obj, getattr(figure_mod, "Figure", ())):
        try:
            return figure_bundle(obj)
        except Exception:
            pass
    data, metadata = {}, {}
    if not isinstance(obj, type):
        method = getattr(obj, "_repr_mimebundle_", None)
        if callable(method):
            try:
                got = method(include=None, exclude=None)
            except TypeError:
                got = method()
            except Exception:
                got = None
            if isinstance(got, tuple) and len(got) == 2:
                got, md = got
                metadata.update(md or {})
            if isinstance(got, dict):
                data.update({k: _b64(v) for k, v in got.items()})
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
            data[mime] = _b64(value)
    if "text/plain" not in data:
        data["text/plain"] = pretty_text(obj)
    return data, metadata


# ---------------------------------------------------------------------------
# the runner


class _Tee(io.TextIOBase):
    """sys.stdout / sys.stderr while a cell runs: recorded as stream outputs and echoed live."""

    def __init__(self, name, real, runner):
        self._name = name
        self._real = real
        self._runner = runner

    @property
    def encoding(self):
        return getattr(self._real, "encoding", None) or "utf-8"

    @property
    def errors(self):
        return getattr(self._real, "errors", None)

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._real.fileno()

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if s:
            self._runner.add_stream(self._name, s)
            try:
                self._real.write(s)
                self._real.flush()
            except (OSError, ValueError):
                pass
        return len(s)

    def flush(self):
        try:
            self._real.flush()
        except (OSError, ValueError):
            pass


class DisplayHandle(object):
    def __init__(self, runner, display_id):
        self._runner = runner
        self.display_id = display_id

    def display(self, obj, **kwargs):
        self._runner.display(obj, **kwargs)

    def update(self, obj, **kwargs):
        self._runner.display(obj, **kwargs)


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


# ---------------------------------------------------------------------------
# IPython syntax without IPython: magics and shell escapes are rewritten line by line into calls
# of the `__redlab_ipy__` object (one line stays one line, so tracebacks keep IPython's numbers).

_ESCAPE_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<kind>%%|%|!!|!)(?P<rest>.*)$")
_ASSIGN_ESCAPE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<lhs>[\w.]+(?:\s*,\s*[\w.]+)*)\s*=\s*(?P<kind>!|%)(?P<rest>.*)$"
)
_CELL_MAGIC = re.compile(r"^%%(?P<name>\w+)[ \t]*(?P<args>.*)$")
_IPY = "__redlab_ipy__"
_NOOP_LINE_MAGICS = ("autoreload", "aimport", "config")
_KNOWN_LINE_MAGICS = ("matplotlib", "time", "timeit", "cd", "pwd", "env", "pip", "conda", "load_ext", "reload_ext") + _NOOP_LINE_MAGICS
_KNOWN_CELL_MAGICS = ("bash", "sh", "writefile", "capture", "time", "timeit")


def _inside_statement(prefix):
    """Whether the next line continues a statement begun in `prefix` (open bracket, string, backslash)."""
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
        return "%s.%s(%r, locals())" % (_IPY, method, rest)
    name, _, args = rest.partition(" ")
    return "%s.line_magic(%r, %r, locals())" % (_IPY, name, args.strip())


def transform_cell(source):
    """A cell's source with IPython's escapes as Python: `%%magic` as the first line (the body its
    argument), and at the start of a logical line `!cmd`, `x = !cmd`, `%magic args`, `x = %magic`.
    `%` and `!` inside strings, brackets and expressions are left alone, as IPython's transformers do."""
    lines = source.split("\n")
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first < len(lines):
        m = _CELL_MAGIC.match(lines[first])
        if m:
            body = "\n".join(lines[first + 1 :])
            call = "%s.cell_magic(%r, %r, %r, locals(), %d)" % (_IPY, m.group("name"), m.group("args").strip(), body, first + 1)
            return "\n" * first + call
    out = []
    for line in lines:
        # Tokenizing what came before is the costly part: only for a line that looks like an escape.
        if not _ESCAPE_LINE.match(line) and not _ASSIGN_ESCAPE.match(line) or _inside_statement("\n".join(out) + "\n"):
            out.append(line)
            continue
        m = _ASSIGN_ESCAPE.match(line)
        if m:
            out.append("%s%s = %s" % (m.group("indent"), m.group("lhs"), _escape_call(m.group("kind"), m.group("rest"), True)))
            continue
        m = _ESCAPE_LINE.match(line)
        if m and m.group("kind") != "%%":
            out.append(m.group("indent") + _escape_call(m.group("kind"), m.group("rest"), False))
            continue
        if m:  # %%magic below the first line: IPython reads it as a line magic named "%name"
            name = m.group("rest").split(" ")[0]
            out.append("%s%s.line_magic(%r, '', locals())" % (m.group("indent"), _IPY, "%" + name))
            continue
        out.append(line)
    return "\n".join(out)


class MagicUsageError(Exception):
    """IPython's UsageError: a magic the runner does not know, or one used wrongly."""


class StdinNotImplementedError(Exception):
    """input() in a run without a person at the keyboard (IPython's name for it)."""


def no_input(prompt=""):
    raise StdinNotImplementedError(
        "input() was called, but there is no input in a container run: pass the value as a parameter "
        "(a variable of the cell tagged `parameters`) instead"
    )


def cpu_times():
    """(user, system) CPU seconds of this process, as IPython's clock2 (getrusage where there is one)."""
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime, usage.ru_stime
    except ImportError:
        return os.times()[:2]


def format_time(seconds):
    """IPython's _format_time: 3 significant digits, in s, ms, μs (or us) or ns."""
    if seconds >= 60.0:
        minutes, s = divmod(seconds, 60.0)
        hours, minutes = divmod(minutes, 60.0)
        parts = [(hours, "h"), (minutes, "min"), (s, "s")]
        return " ".join("%s%s" % (int(v), u) for v, u in parts if v)
    # IPython writes the Greek mu (U+03BC) where stdout can encode it, else "us".
    units = ["s", "ms", "us", "ns"]
    try:
        "\u03bc".encode(getattr(sys.stdout, "encoding", None) or "ascii")
        units[2] = "\u03bcs"
    except (UnicodeEncodeError, LookupError):
        pass
    scaling = [1, 1e3, 1e6, 1e9]
    order = min(-int(math.floor(math.log10(seconds)) // 3), 3) if seconds > 0.0 else 3
    return "%.*g %s" % (3, seconds * scaling[order], units[order])


def _exit(code=None):
    raise SystemExit(code)


class _PrettyPrinter(pprint.PrettyPrinter):
    def format(self, obj, context, maxlevels, level):
        if isinstance(obj, type):
            return _type_name(obj), True, False
        if isinstance(obj, _FUNCTION_TYPES):
            return _function_text(obj), True, False
        return pprint.PrettyPrinter.format(self, obj, context, maxlevels, level)


_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType)


def _function_text(fn):
    """A function as IPython's pretty printer names it: `<function __main__.area(w, h=1.0)>`, `<function len(obj, /)>`."""
    name = getattr(fn, "__qualname__", None) or fn.__name__
    module = getattr(fn, "__module__", None)
    if module and module not in ("__builtin__", "builtins", "exceptions"):
        name = module + "." + name
    try:
        import inspect

        name += str(inspect.signature(fn))
    except (ValueError, TypeError):
        pass
    return "<function %s>" % name


def pretty_text(obj):
    """text/plain as IPython's pretty printer writes it: containers broken over lines when longer than
    79 characters, classes by name (`int`, `__main__.Point`), everything else its repr."""
    if isinstance(obj, type):
        return _type_name(obj)
    if isinstance(obj, _FUNCTION_TYPES):
        return _function_text(obj)
    if type(obj) in (list, tuple, dict, set, frozenset):
        try:
            return _PrettyPrinter(width=79, sort_dicts=False).pformat(obj)
        except Exception:
            pass
    return safe_repr(obj)


def _type_name(cls):
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", None) or cls.__name__
    return name if module in (None, "builtins") else "%s.%s" % (module, name)


class _CapturedIO(object):
    """What `%%capture var` keeps: IPython's CapturedIO (stdout, stderr, outputs, show())."""

    def __init__(self, runner, outputs):
        self._runner = runner
        self.outputs = outputs

    def _text(self, name):
        return "".join(o["text"] for o in self.outputs if o.get("output_type") == "stream" and o.get("name") == name)

    @property
    def stdout(self):
        return self._text("stdout")

    @property
    def stderr(self):
        return self._text("stderr")

    def show(self):
        for out in self.outputs:
            if out.get("output_type") == "stream":
                getattr(sys, out["name"]).write(out["text"])
            else:
                self._runner.add_display(out.get("data", {}), out.get("metadata", {}))

    __call__ = show


class IPythonSyntax(object):
    """`__redlab_ipy__` in the cells' namespace: the magics and shell escapes the runner knows."""

    def __init__(self, runner):
        self.runner = runner
        self.previous_dir = None

    # -- helpers

    def expand(self, text, local_ns):
        """IPython's var_expand: `{expr}` and `$name` from the cell's variables (`$$` is a `$`)."""
        ns = dict(self.runner.namespace)
        ns.update(local_ns or {})

        def brace(m):
            try:
                return str(eval(m.group(1), ns))
            except Exception:
                return m.group(0)

        def dollar(m):
            if m.group(0) == "$$":
                return "$"
            name = m.group(1)
            return str(ns[name]) if name in ns else m.group(0)

        text = re.sub(r"(?<!\{)\{([^{}]+)\}(?!\})", brace, text)
        return re.sub(r"\$\$|\$(\w+)", dollar, text)

    def _pump(self, stream, name):
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        target = sys.stdout if name == "stdout" else sys.stderr
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            target.write(decoder.decode(chunk))
        target.write(decoder.decode(b"", True))

    def _run_process(self, argv, stdin_text=None, merge=True, shell=False):
        """Runs a command with its output streamed into the cell; returns the exit code."""
        import subprocess
        import threading

        proc = subprocess.Popen(
            argv,
            shell=shell,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        )
        try:
            if stdin_text is not None:
                writer = threading.Thread(target=self._feed, args=(proc.stdin, stdin_text))
                writer.daemon = True
                writer.start()
            err_thread = None
            if not merge:
                err_out = []
                err_thread = threading.Thread(target=lambda: err_out.append(proc.stderr.read()))
                err_thread.daemon = True
                err_thread.start()
            self._pump(proc.stdout, "stdout")
            code = proc.wait()
            if err_thread is not None:
                err_thread.join()
                if err_out and err_out[0]:
                    sys.stderr.write(err_out[0].decode("utf-8", "replace"))
            return code
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    @staticmethod
    def _feed(pipe, text):
        try:
            pipe.write(text.encode("utf-8"))
            pipe.close()
        except OSError:
            pass

    # -- shell escapes

    def system(self, cmd, local_ns=None):
        """`!cmd`: output (stdout and stderr together, as IPython's pty gives them) into the cell;
        the exit code in `_exit_code`; a failing command does not stop the cell."""
        code = self._run_process(self.expand(cmd, local_ns), shell=True)
        self.runner.namespace["_exit_code"] = code
        return None

    def getoutput(self, cmd, local_ns=None):
        """`x = !cmd`: the output lines as a list (IPython's SList)."""
        import subprocess

        done = subprocess.run(
            self.expand(cmd, local_ns), shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.runner.namespace["_exit_code"] = done.returncode
        return done.stdout.decode("utf-8", "replace").splitlines()

    # -- line magics

    def line_magic(self, name, args, local_ns=None):
        if name in _NOOP_LINE_MAGICS:
            return None  # autoreload reloads changed modules: a run imports each module once anyway
        method = getattr(self, "magic_" + name, None) if name in _KNOWN_LINE_MAGICS else None
        if method is None:
            raise MagicUsageError(
                "Line magic function `%%%s` not found: the container runner runs plain Python and knows %s; "
                "replace `%%%s` with Python (or run the notebook in an image with IPython's kernel)"
                % (name, ", ".join("%" + n for n in _KNOWN_LINE_MAGICS), name)
            )
        return method(args, local_ns or {})

    def magic_matplotlib(self, args, local_ns):
        import matplotlib  # noqa: F401 (as IPython: ModuleNotFoundError when the image has none)

        backend = args.strip().lower()
        if backend not in ("", "inline", "agg"):
            sys.stderr.write("%%matplotlib %s: a container run has no display; figures are drawn with Agg and kept as PNG\n" % backend)
        return None

    def _timed(self, source, local_ns, filename):
        glob = self.runner.namespace
        start_cpu = cpu_times()
        start = time.time()
        value = self.runner.exec_source(transform_cell(source), filename, glob, local_ns)
        wall = time.time() - start
        end_cpu = cpu_times()
        user, system_ = end_cpu[0] - start_cpu[0], end_cpu[1] - start_cpu[1]
        print("CPU times: user %s, sys: %s, total: %s" % (format_time(user), format_time(system_), format_time(user + system_)))
        print("Wall time: %s" % format_time(wall))
        return value

    def magic_time(self, args, local_ns):
        return self._timed(args, local_ns, "<timed exec>")

    def _timeit(self, args, setup, local_ns):
        import timeit as timeit_mod

        number, repeat, quiet = 0, 7, False
        words = args.split()
        while words and words[0].startswith("-"):
            flag = words.pop(0)
            if flag in ("-n", "-r") and words:
                value = int(words.pop(0))
                if flag == "-n":
                    number = value
                else:
                    repeat = value
            elif flag == "-q":
                quiet = True
            elif flag == "-o":
                pass
            else:
                raise MagicUsageError("%%timeit: unknown option %s (the runner takes -n N, -r R, -q, -o)" % flag)
        stmt = " ".join(words) if setup is None else setup[1]
        setup_src = "pass" if setup is None else setup[0]
        ns = dict(self.runner.namespace)
        ns.update(local_ns)
        timer = timeit_mod.Timer(transform_cell(stmt) or "pass", transform_cell(setup_src) or "pass", globals=ns)
        if number == 0:
            number = 1
            for _ in range(10):
                if timer.timeit(number) >= 0.2:
                    break
                number *= 10
        timings = [t / number for t in timer.repeat(repeat, number)]
        mean = sum(timings) / len(timings)
        std = (sum((t - mean) ** 2 for t in timings) / len(timings)) ** 0.5
        if not quiet:
            print(
                "%s \xb1 %s per loop (mean \xb1 std. dev. of %d run%s, %s loop%s each)"
                % (format_time(mean), format_time(std), repeat, "" if repeat == 1 else "s", "{:,}".format(number), "" if number == 1 else "s")
            )
        return None

    def magic_timeit(self, args, local_ns):
        return self._timeit(args, None, local_ns)

    def magic_cd(self, args, local_ns):
        target = self.expand(args.strip(), local_ns)
        if target.startswith("-q "):
            target = target[3:].strip()
        if target == "-":
            if self.previous_dir is None:
                raise MagicUsageError("%cd -: there is no previous folder")
            target = self.previous_dir
        target = os.path.expanduser(target.strip("'\"") or "~")
        here = os.getcwd()
        try:
            os.chdir(target)
        except OSError as e:
            print("[Errno %s] %s: %r" % (e.errno, e.strerror, target))
            return None
        self.previous_dir = here
        print(os.getcwd())
        return None

    def magic_pwd(self, args, local_ns):
        return os.getcwd()

    def magic_env(self, args, local_ns):
        args = self.expand(args.strip(), local_ns)
        if not args:
            return dict(os.environ)
        m = re.match(r"^(\w+)\s*(?:=\s*|\s+)(.*)$", args)
        if m:
            os.environ[m.group(1)] = m.group(2)
            print("env: %s=%s" % (m.group(1), m.group(2)))
            return None
        if args not in os.environ:
            raise MagicUsageError("Environment does not have key: %s" % args)
        return os.environ[args]

    def magic_pip(self, args, local_ns):
        import subprocess

        probe = subprocess.run([sys.executable, "-m", "pip", "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode != 0:
            raise MagicUsageError(
                "%%pip %s: pip is not installed for %s in this image; install the package in the image "
                "(e.g. RUN pip install ... in its Dockerfile) instead" % (args, sys.executable)
            )
        argv = [sys.executable, "-m", "pip"] + shlex.split(self.expand(args, local_ns))
        code = self._run_process(argv)
        if code != 0:
            sys.stderr.write(
                "%%pip %s failed (exit code %d): a container run may have no network; put the package into the image instead\n"
                % (args, code)
            )
        else:
            print("Note: you may need to restart the kernel to use updated packages.")
        return None

    def magic_conda(self, args, local_ns):
        conda = os.environ.get("CONDA_EXE") or shutil.which("conda") or shutil.which("mamba")
        if not conda:
            raise MagicUsageError("%%conda %s: conda is not installed in this image; install the package in the image instead" % args)
        code = self._run_process([conda] + shlex.split(self.expand(args, local_ns)))
        if code != 0:
            sys.stderr.write(
                "%%conda %s failed (exit code %d): a container run may have no network; put the package into the image instead\n"
                % (args, code)
            )
        return None

    def magic_load_ext(self, args, local_ns):
        if args.strip() == "autoreload":
            return None
        raise MagicUsageError(
            "%%load_ext %s: the container runner has no IPython extensions (only autoreload is accepted, without effect); "
            "import the module and call it from Python instead" % args.strip()
        )

    magic_reload_ext = magic_load_ext

    # -- cell magics

    def cell_magic(self, name, args, body, local_ns, first_line):
        method = getattr(self, "cell_" + name, None) if name in _KNOWN_CELL_MAGICS else None
        if method is None:
            raise MagicUsageError(
                "Cell magic `%%%%%s` not found: the container runner runs plain Python and knows %s; replace it with "
                "Python (or run the notebook in an image with IPython's kernel)" % (name, ", ".join("%%" + n for n in _KNOWN_CELL_MAGICS))
            )
        self._body_offset = first_line
        return method(args, body, local_ns)

    def _body_source(self, body):
        return "\n" * getattr(self, "_body_offset", 1) + body

    def _script(self, shell, args, body):
        import subprocess

        if not shutil.which(shell):
            raise MagicUsageError("%%%%%s: %s is not installed in this image" % (shell, shell))
        code = self._run_process([shell], stdin_text=body, merge=False)
        if code != 0:
            raise subprocess.CalledProcessError(code, shell)
        return None

    def cell_bash(self, args, body, local_ns):
        return self._script("bash", args, body)

    def cell_sh(self, args, body, local_ns):
        return self._script("sh", args, body)

    def cell_writefile(self, args, body, local_ns):
        words = shlex.split(args)
        append = "-a" in words or "--append" in words
        names = [w for w in words if w not in ("-a", "--append")]
        if len(names) != 1:
            raise MagicUsageError("%%writefile needs one file name: %%writefile [-a] FILE")
        path = os.path.expanduser(self.expand(names[0], local_ns))
        if append:
            print("Appending to %s" % path)
        elif os.path.exists(path):
            print("Overwriting %s" % path)
        else:
            print("Writing %s" % path)
        with open(path, "a" if append else "w", encoding="utf-8") as f:
            f.write(body if body.endswith("\n") or not body else body + "\n")
        return None

    def cell_capture(self, args, body, local_ns):
        words = args.split()
        var = next((w for w in words if not w.startswith("-")), None)
        runner = self.runner
        saved = runner.outputs
        captured = []
        runner.outputs = captured
        try:
            runner.exec_source(transform_cell(self._body_source(body)), runner.filename, runner.namespace, local_ns, display_last=True)
            runner.flush_figures()
        finally:
            runner.outputs = saved
        if var:
            local_ns[var] = runner.namespace[var] = _CapturedIO(runner, captured)
        return None

    def cell_time(self, args, body, local_ns):
        return self._timed(self._body_source(body), local_ns, self.runner.filename)

    def cell_timeit(self, args, body, local_ns):
        return self._timeit(args, (args_setup(args), body), local_ns)


def args_setup(args):
    """%%timeit's first line after the options is setup code run once, as in IPython."""
    words = args.split()
    while words and words[0].startswith("-"):
        flag = words.pop(0)
        if flag in ("-n", "-r") and words:
            words.pop(0)
    return " ".join(words) or "pass"


class Runner(object):
    def __init__(self, nb, stdout=None, stderr=None):
        self.nb = nb
        self.outputs = None
        self.count = 0
        self.real_stdout = stdout or sys.stdout
        self.real_stderr = stderr or sys.stderr
        self.loop = None
        # The cells' globals are a real module's, installed as sys.modules["__main__"] while they
        # run (as IPython does), so that pickle and multiprocessing find what the cells define.
        self.main_module = types.ModuleType("__main__")
        self.namespace = self.main_module.__dict__
        self.filename = "<cell>"
        self.namespace.update({"__builtins__": builtins, "display": self.display, _IPY: IPythonSyntax(self), "input": no_input})
        # exit() / quit() as in a script (site's versions also close stdin): SystemExit ends the run.
        self.namespace.update({"exit": _exit, "quit": _exit})

    # -- outputs of the current cell

    def add_stream(self, name, text):
        if self.outputs is None:
            return
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last.get("output_type") == "stream" and last.get("name") == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def add_display(self, data, metadata):
        if self.outputs is not None:
            self.outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})

    def display(self, *objs, **kwargs):
        """IPython.display.display: each object as display_data (raw=True: objects are mime bundles)."""
        raw = kwargs.get("raw", False)
        display_id = kwargs.get("display_id")
        for obj in objs:
            if raw and isinstance(obj, dict):
                data, metadata = {k: _b64(v) for k, v in obj.items()}, dict(kwargs.get("metadata") or {})
            else:
                data, metadata = mime_bundle(obj)
                if kwargs.get("metadata"):
                    metadata.update(kwargs["metadata"])
            self.add_display(data, metadata)
        if display_id:
            return DisplayHandle(self, uuid.uuid4().hex if display_id is True else display_id)
        return None

    def clear_output(self, wait=False):
        if self.outputs is not None:
            del self.outputs[:]

    def flush_figures(self):
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        patch_pyplot(plt, self)
        try:
            numbers = list(plt.get_fignums())
        except Exception:
            return
        for n in numbers:
            try:
                data, metadata = figure_bundle(plt.figure(n))
                self.add_display(data, metadata)
            except Exception as e:
                self.add_stream("stderr", "redlab_nbrun: could not save figure %s as PNG: %s\n" % (n, e))
        try:
            plt.close("all")
        except Exception:
            pass

    # -- execution

    def _run_code(self, code, glob=None, loc=None):
        glob = self.namespace if glob is None else glob
        value = eval(code, glob, glob if loc is None else loc)
        if code.co_flags & 0x80:  # CO_COROUTINE: top-level await
            import asyncio

            if self.loop is None:
                self.loop = asyncio.new_event_loop()
            value = self.loop.run_until_complete(value)
        return value

    def exec_source(self, source, filename, glob, loc=None, display_last=False):
        """Runs Python source (already transformed); returns the value of a final expression, as a
        cell does (None when the last statement is no expression or ends with `;`)."""
        flags = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
        tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST | flags)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not ends_with_semicolon(source):
            last = ast.Expression(tree.body.pop().value)
        if tree.body:
            self._run_code(compile(tree, filename, "exec", flags), glob, loc)
        value = None
        if last is not None:
            value = self._run_code(compile(last, filename, "eval", flags), glob, loc)
        if display_last and value is not None:
            self.add_display(*mime_bundle(value))
        return value

    def run_cell(self, source, filename):
        """Runs one cell's code; returns None, or the exception that stopped it."""
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        self.filename = filename
        try:
            code = transform_cell(source)
            value = self.exec_source(code, filename, self.namespace)
            if value is not None:
                self.namespace["_"] = value
                data, metadata = mime_bundle(value)
                self.outputs.append(
                    {"output_type": "execute_result", "execution_count": self.count, "data": data, "metadata": metadata}
                )
        except Interrupted:
            raise
        except BaseException as e:  # SystemExit and KeyboardInterrupt from the cell stop the run too
            return e
        return None


def exit_status(exc):
    """The exit status a SystemExit asks for, as the interpreter reads it (None and False: 0)."""
    code = exc.code
    if code is None or code is False:
        return 0
    if isinstance(code, int):
        return code
    return 1


def _leave_out_runner_frames(report, seen):
    """The runner's own frames (a magic's machinery between the cell and the code it runs) left
    out of a traceback and of the exceptions chained to it."""
    if report is None or id(report) in seen:
        return
    seen.add(id(report))
    report.stack = traceback.StackSummary.from_list([f for f in report.stack if f.filename != _RUNNER_FILE])
    _leave_out_runner_frames(report.__cause__, seen)
    _leave_out_runner_frames(report.__context__, seen)


def error_output(exc, filename):
    """An nbformat error output; the traceback starts at the cell (the runner's frames are left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == _RUNNER_FILE:
        tb = tb.tb_next
    try:
        evalue = str(exc)
    except Exception:
        evalue = "<exception str() failed>"
    try:
        if isinstance(exc, SystemExit):  # as IPython shows it: no traceback
            lines = ["An exception has occurred, use %tb to see the full traceback.\n", "\n", "SystemExit: %s\n" % evalue]
        elif isinstance(exc, SyntaxError):
            lines = traceback.format_exception_only(type(exc), exc)
        elif isinstance(exc, (MagicUsageError, StdinNotImplementedError)):
            lines = ["%s: %s\n" % (type(exc).__name__, evalue)]
        else:
            report = traceback.TracebackException(type(exc), exc, tb)
            _leave_out_runner_frames(report, set())
            lines = list(report.format())
    except Exception:
        lines = ["%s: %s\n" % (type(exc).__name__, evalue)]
    text = "".join(lines).rstrip("\n")
    return {
        "output_type": "error",
        "ename": type(exc).__name__,
        "evalue": evalue,
        "traceback": text.split("\n"),
    }


def ipython_shim(runner):
    """Stand-ins for IPython, IPython.display, IPython.core and IPython.core.display (display only)."""
    ipython = types.ModuleType("IPython")
    ipython.__doc__ = "redlab_nbrun's stand-in for IPython: display() and the display classes only"
    ipython.__path__ = []
    ipython.__version__ = "0+redlab"
    # matplotlib (>= 3.9) asks an imported IPython for its version: a recent one handles its GUI itself.
    ipython.version_info = (8, 99, 0, "")
    ipython.get_ipython = lambda: None
    display_mod = types.ModuleType("IPython.display")

    class DisplayObject(object):
        _binary = False

        def __init__(self, data=None, url=None, filename=None, metadata=None):
            if filename is not None:
                with open(filename, "rb" if self._binary else "r") as f:
                    data = f.read()
            self.data = data
            self.url = url
            self.filename = filename
            self.metadata = metadata

        def __repr__(self):
            return "<IPython.core.display.%s object>" % type(self).__name__

    class HTML(DisplayObject):
        def _repr_html_(self):
            return self.data

    class Markdown(DisplayObject):
        def _repr_markdown_(self):
            return self.data

    class Latex(DisplayObject):
        def _repr_latex_(self):
            return self.data

    class Math(DisplayObject):
        def _repr_latex_(self):
            return "$\\displaystyle %s$" % (self.data or "").strip("$")

    class SVG(DisplayObject):
        def _repr_svg_(self):
            d = self.data
            return d.decode("utf-8") if isinstance(d, bytes) else d

    class JSON(DisplayObject):
        def __init__(self, data=None, url=None, filename=None, expanded=False, metadata=None, root="root", **kwargs):
            DisplayObject.__init__(self, data, url, filename, metadata)
            if isinstance(self.data, str):
                self.data = json.loads(self.data)

        def _repr_json_(self):
            return self.data

    class Pretty(DisplayObject):
        def __repr__(self):
            return str(self.data)

    class Image(DisplayObject):
        _binary = True

        def __init__(self, data=None, url=None, filename=None, format=None, embed=None, width=None, height=None, metadata=None, **kwargs):
            if isinstance(data, str) and filename is None and url is None and os.path.exists(data):
                filename, data = data, None
            DisplayObject.__init__(self, data, url, filename, metadata)
            name = (filename or url or "").lower()
            self.format = (format or ("jpeg" if name.endswith((".jpg", ".jpeg")) else "png")).lower().replace("jpg", "jpeg")
            self.width = width
            self.height = height

        def _md(self):
            md = {}
            if self.width:
                md["width"] = self.width
            if self.height:
                md["height"] = self.height
            return md or None

        def _repr_png_(self):
            if self.format == "png" and self.data is not None:
                return (self.data, self._md()) if self._md() else self.data
            return None

        def _repr_jpeg_(self):
            if self.format == "jpeg" and self.data is not None:
                return (self.data, self._md()) if self._md() else self.data
            return None

        def _repr_html_(self):
            if self.data is None and self.url:
                return '<img src="%s"/>' % self.url
            return None

    for name, value in dict(
        display=runner.display,
        clear_output=runner.clear_output,
        DisplayHandle=DisplayHandle,
        DisplayObject=DisplayObject,
        HTML=HTML,
        Markdown=Markdown,
        Latex=Latex,
        Math=Math,
        SVG=SVG,
        JSON=JSON,
        Pretty=Pretty,
        Image=Image,
    ).items():
        setattr(display_mod, name, value)
    ipython.display = display_mod
    ipython.core = core = types.ModuleType("IPython.core")
    core.__path__ = []
    core.display = display_mod
    return {"IPython": ipython, "IPython.display": display_mod, "IPython.core": core, "IPython.core.display": display_mod}


def patch_pyplot(plt, runner):
    """plt.show() puts the open figures into the current cell's outputs."""
    if getattr(plt, "_redlab_patched", False):
        return

    def show(*args, **kwargs):
        runner.flush_figures()

    plt.show = show
    plt._redlab_patched = True


class _PrebuiltLoader(object):
    def __init__(self, module):
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass


class ImportHooks(object):
    """A sys.meta_path finder: serves the IPython stand-in (when IPython is not installed),
    and patches modules as a cell imports them (pyplot.show, IPython.display.display)."""

    def __init__(self, runner):
        import importlib.util

        self.util = importlib.util
        self.busy = False
        try:
            have_ipython = importlib.util.find_spec("IPython") is not None
        except (ImportError, ValueError):
            have_ipython = False
        self.shim = {} if have_ipython else ipython_shim(runner)

        def patch_display(module):
            module.display = runner.display
            if hasattr(module, "clear_output"):
                module.clear_output = runner.clear_output

        self.patches = {
            "matplotlib.pyplot": lambda module: patch_pyplot(module, runner),
            "IPython.display": patch_display,
            "IPython.core.display_functions": patch_display,
        }

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.shim:
            return self.util.spec_from_loader(fullname, _PrebuiltLoader(self.shim[fullname]))
        patch = self.patches.get(fullname)
        if patch is None or self.busy:
            return None
        self.busy = True
        try:
            spec = self.util.find_spec(fullname)
        finally:
            self.busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader

        class Loader(object):
            def create_module(self, s):
                return loader.create_module(s)

            def exec_module(self, module):
                loader.exec_module(module)
                try:
                    patch(module)
                except Exception:
                    pass

        spec.loader = Loader()
        return spec


def json_safe(value):
    try:
        json.dumps(value, allow_nan=False)
        return value
    except ValueError:
        return py_literal(value)


def write_notebook(nb, path):
    path = os.path.join(_START_DIR, path)  # a cell's os.chdir / %cd does not move the output
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False, sort_keys=True)  # as nbformat writes it
        f.write("\n")
    os.replace(tmp, path)


def finish_outputs(outputs):
    for out in outputs:
        if out.get("output_type") == "stream":
            out["text"] = split_lines(out["text"])
    return outputs


def kernel_modules():
    """(nbformat, nbclient) when this python3 can run the notebook in a real IPython kernel
    (ipykernel, nbclient, nbformat and jupyter_client importable), else None."""
    import importlib.util

    try:
        if not all(importlib.util.find_spec(m) for m in ("ipykernel", "nbclient", "nbformat", "jupyter_client")):
            return None
        import nbclient
        import nbformat
    except Exception:  # a broken install is no kernel
        return None
    return nbformat, nbclient


def choose_execution(choice):
    """(kernel modules or None, what runs the cells, in words) for --redlab-kernel auto|ipython|stdlib."""
    modules = kernel_modules() if choice != "stdlib" else None
    if modules is not None:
        import ipykernel

        return modules, "IPython kernel (ipykernel %s, nbclient %s)" % (ipykernel.__version__, modules[1].__version__)
    if choice == "ipython":
        raise UsageError(
            "--redlab-kernel ipython: this python3 (%s) cannot start an IPython kernel: install ipykernel and nbclient "
            "in the image (Debian: apt-get install python3-ipykernel python3-nbclient; pip: pip install ipykernel nbclient), "
            "or leave the option out to use the runner's own Python execution" % sys.executable
        )
    return None, "redlab_nbrun's stdlib execution (Python %s; no IPython kernel in the image)" % sys.version.split()[0]


class CellRun(object):
    """What the cell loops report back: the exit code, and the failed cell with its error output."""

    def __init__(self):
        self.code = 0
        self.failed = None  # (label, error output) of the cell that raised
        self.failed_cell = None


def cell_label(is_injected, position, count):
    """A cell as the notebook shows it: "code cell 3 (In [4])", markdown and the injected cell not counted."""
    if is_injected:
        return "the injected parameters cell"
    return "code cell %d (In [%s])" % (position, count if count is not None else " ")


def start_cell(cell):
    pm = cell["metadata"]["papermill"]
    pm["start_time"] = papermill_time(time.time())
    pm["exception"] = False
    pm["status"] = "running"
    return time.time()


def end_cell(cell, t0):
    pm = cell["metadata"]["papermill"]
    t1 = time.time()
    pm["end_time"] = papermill_time(t1)
    pm["duration"] = round(t1 - t0, 6)


def skip_cell(cell):
    """As papermill: cells that run no code are started and completed at once."""
    pm = cell["metadata"]["papermill"]
    pm.update(start_time=papermill_time(time.time()), exception=False)
    pm.update(end_time=papermill_time(time.time()), duration=0.0, status="completed")


def interrupted_output():
    return {"output_type": "error", "ename": "Interrupted", "evalue": "the run was stopped", "traceback": ["Interrupted: the run was stopped"]}


def run_stdlib(nb, injected, out_path):
    """Runs the code cells with the runner's own Python execution (IPython syntax read by the runner)."""
    runner = Runner(nb)
    os.environ["MPLBACKEND"] = "Agg"
    import warnings

    warnings.filterwarnings("ignore", message=".*(non-interactive|currently using agg).*")
    sys.meta_path.insert(0, ImportHooks(runner))
    result = CellRun()
    saved = (sys.stdout, sys.stderr, sys.modules.get("__main__"))
    sys.modules["__main__"] = runner.main_module
    sys.stdout = _Tee("stdout", runner.real_stdout, runner)
    sys.stderr = _Tee("stderr", runner.real_stderr, runner)
    last_write = time.time()
    position = 0
    try:
        for cell in nb["cells"]:
            is_injected = cell is injected
            if cell.get("cell_type") == "code" and not is_injected:
                position += 1
            if cell.get("cell_type") != "code" or not cell_source(cell).strip():
                skip_cell(cell)
                continue
            pm = cell["metadata"]["papermill"]
            source = cell_source(cell)
            # As in IPython, the injected cell takes an execution count too: In [n] as papermill's.
            runner.count += 1
            cell["execution_count"] = runner.count
            runner.outputs = cell["outputs"]
            t0 = start_cell(cell)
            # nbclient's per-cell timestamps (the kernel messages' dates; here the runner's own clock).
            execution = cell["metadata"]["execution"] = {"iopub.status.busy": now_iso()}
            execution["iopub.execute_input"] = now_iso()
            filename = "<injected parameters>" if is_injected else "<code cell %d>" % position
            label = cell_label(is_injected, position, runner.count)
            try:
                error = runner.run_cell(source, filename)
                runner.flush_figures()
            except Interrupted:
                pm["exception"] = True
                pm["status"] = "failed"
                runner.outputs.append(interrupted_output())
                result.code = _INTERRUPTED
                break
            finally:
                execution["shell.execute_reply"] = now_iso()
                execution["iopub.status.idle"] = now_iso()
                end_cell(cell, t0)
                finish_outputs(cell["outputs"])
            if isinstance(error, SystemExit) and exit_status(error) == 0:
                pm["status"] = "completed"
                log("%s called sys.exit(0): the run ends there, successfully; the remaining cells were not run" % label)
                break
            if error is not None:
                out = error_output(error, filename)
                cell["outputs"].append(out)
                pm["exception"] = True
                pm["status"] = "failed"
                result.failed = (label, out)
                result.failed_cell = cell
                result.code = 1
                break
            pm["status"] = "completed"
            if time.time() - last_write > 2:
                write_notebook(nb, out_path)
                last_write = time.time()
    except Interrupted:
        result.code = _INTERRUPTED
    finally:
        sys.stdout, sys.stderr = saved[0], saved[1]
        if saved[2] is not None:
            sys.modules["__main__"] = saved[2]
        runner.outputs = None
    return result


def _echo_stream(output):
    """A kernel's stream output, echoed live as the stdlib runner echoes a cell's prints."""
    if output is None or output.get("output_type") != "stream":
        return
    stream = sys.stderr if output.get("name") == "stderr" else sys.stdout
    text = output.get("text")
    stream.write("".join(text) if isinstance(text, list) else (text or ""))
    stream.flush()


def asyncio_coroutine(fn):
    import inspect

    return inspect.iscoroutinefunction(fn)


def run_with_kernel(nb, injected, out_path, modules):
    """Runs the code cells in a real IPython kernel (ipykernel, started by nbclient) as papermill does:
    one cell at a time, stopping at the first error; a SystemExit of 0 or nothing ends the run successfully."""
    nbformat, nbclient = modules
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    last_write = [time.time()]

    class Client(nbclient.NotebookClient):
        def process_message(self, *args, **kwargs):
            output = super(Client, self).process_message(*args, **kwargs)
            _echo_stream(output)
            if time.time() - last_write[0] > 2:
                write_notebook(self.nb, out_path)
                last_write[0] = time.time()
            return output

    # debugpy's warning about frozen modules is noise on the run's stderr (the kernel never debugs here).
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # The image's own python3 kernel (ipykernel's), whatever kernel the notebook was saved with.
    client = Client(nb, kernel_name="python3", timeout=None, startup_timeout=120, resources={"metadata": {"path": os.getcwd()}})
    result = CellRun()
    state = {"position": 0, "current": None}

    def run_cells():
        for index, cell in enumerate(nb["cells"]):
            is_injected = cell is injected
            if cell.get("cell_type") == "code" and not is_injected:
                state["position"] += 1
            if cell.get("cell_type") != "code" or not cell_source(cell).strip():
                skip_cell(cell)
                continue
            state["current"] = cell
            t0 = start_cell(cell)
            try:
                client.execute_cell(cell, index)
                cell["metadata"]["papermill"]["status"] = "completed"
            except (CellExecutionError, DeadKernelError) as e:
                pm = cell["metadata"]["papermill"]
                pm["exception"] = True
                pm["status"] = "failed"
                errors = [o for o in cell["outputs"] if o.get("output_type") == "error"]
                if errors:
                    out = errors[-1]
                else:
                    # No error output from the kernel (IPython's UsageError for an unknown magic goes to
                    # stderr only): the message names it, the cell's outputs stay as the kernel left them.
                    last = (str(e).strip().splitlines() or [""])[-1]
                    out = {"output_type": "error", "ename": type(e).__name__, "evalue": last, "traceback": []}
                label = cell_label(is_injected, state["position"], cell.get("execution_count"))
                if out.get("ename") == "SystemExit" and out.get("evalue") in ("", "0", "None"):
                    # papermill: a cell that ends the notebook with sys.exit(0) is no failure.
                    log("%s called sys.exit(0): the run ends there, successfully; the remaining cells were not run" % label)
                    return
                result.failed = (label, out)
                result.failed_cell = cell
                result.code = 1
                return
            finally:
                end_cell(cell, t0)
            state["current"] = None

    try:
        client.reset_execution_trackers()
        with client.setup_kernel():
            reply = client.wait_for_reply(client.kc.kernel_info())
            if reply is not None:
                nb["metadata"]["language_info"] = reply["content"]["language_info"]
            try:
                run_cells()
            except Interrupted:
                # Stopped: the kernel is killed, not asked to shut down in the middle of a cell
                # (which makes it print tracebacks about closed sockets).
                try:
                    stop = client.km.shutdown_kernel
                    (nbclient.util.run_sync(stop) if asyncio_coroutine(stop) else stop)(now=True)
                except Exception:
                    pass
                raise
    except Interrupted:
        current = state["current"]
        if current is not None:
            current["metadata"]["papermill"].update(exception=True, status="failed")
            current["outputs"].append(nbformat.from_dict(interrupted_output()))
        result.code = _INTERRUPTED
    return result


def execute(nb, opts, out_path):
    """Runs the notebook; returns the exit code. The executed notebook is written to out_path in any case."""
    modules, how = choose_execution(opts.kernel)
    for name, path in opts.inputs.items():
        os.environ[input_env_name(name)] = path

    root = os.getcwd()
    before = snapshot_files(root) if opts.collect else {}
    remove_error_markers(nb)
    injected = inject_parameters(nb, opts.values)
    ensure_cell_ids(nb)
    started = time.time()
    meta = nb.setdefault("metadata", {})
    # papermill 2.x's section. Non-finite floats stay NaN/Infinity in the JSON, as papermill writes
    # them (Python's json reads them back); papermill leaves default_parameters {} on the command line.
    # As papermill, a section of an earlier run is kept (its other keys too, e.g. scrapbook's
    # metrics), its parameters replaced only when values are given.
    section = meta.get("papermill")
    if not isinstance(section, dict):
        section = meta["papermill"] = {
            "default_parameters": parameters_cell_defaults(nb),
            "parameters": {},
            "environment_variables": {},
            "version": "redlab_nbrun " + RUNNER_VERSION,
        }
    if opts.values:
        section["parameters"] = dict(opts.values)
    section.update(input_path=opts.notebook, output_path=out_path, start_time=papermill_time(started), end_time=None, duration=None, exception=None)
    # Which execution ran the cells, for the run record and whoever reads the notebook later.
    meta["redlab"] = {"runner": RUNNER_VERSION, "execution": "ipython" if modules is not None else "stdlib", "executed_by": how}
    code_cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.setdefault("metadata", {}).pop("execution", None)
        cell.setdefault("metadata", {})["papermill"] = {
            "exception": None,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "status": "pending",
        }
    if modules is not None:
        # nbclient works on nbformat's NotebookNode (attribute access), all the way down.
        nb = modules[0].reads(json.dumps(nb), as_version=4)
        meta = nb["metadata"]
        injected = next((c for c in nb["cells"] if "injected-parameters" in cell_tags(c)), None)
    if opts.unknown:
        log("the parameters cell does not define %s; injecting anyway" % ", ".join(opts.unknown))
    log(
        "running %s (%d code cells)%s"
        % (
            opts.notebook,
            len(code_cells) - (1 if injected is not None else 0),
            (" with " + ", ".join("%s=%s" % (k, py_literal(v)) for k, v in opts.values.items())) if opts.values else "",
        )
    )
    # One line of its own, word for word, so that the run cell can say which execution ran (logs.ts).
    log("cells run by: " + how)
    write_notebook(nb, out_path)

    def on_signal(signum, frame):
        raise Interrupted()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, on_signal)
        except (ValueError, OSError):
            pass
    result = CellRun()
    try:
        if modules is not None:
            result = run_with_kernel(nb, injected, out_path, modules)
        else:
            result = run_stdlib(nb, injected, out_path)
    except Interrupted:
        result.code = _INTERRUPTED
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(sig, signal.SIG_DFL if sig == signal.SIGTERM else signal.default_int_handler)
            except (ValueError, OSError):
                pass
        ended = time.time()
        meta["papermill"]["end_time"] = papermill_time(ended)
        meta["papermill"]["duration"] = round(ended - started, 6)
        # papermill: null when every cell ran, true when one raised (also sys.exit(0) in a kernel) or the run was stopped.
        raised = any(c["metadata"].get("papermill", {}).get("exception") for c in nb["cells"])
        meta["papermill"]["exception"] = True if result.code != 0 or raised else None
        if result.failed_cell is not None:
            add_error_markers(nb, result.failed_cell)
        write_notebook(nb, out_path)

    if result.failed is not None:
        label, out = result.failed
        # The traceback once, on stderr (the cell's own output went there live already).
        sys.stderr.write("\n".join(out.get("traceback") or []) + "\n")
        what = "called sys.exit(%s)" % out["evalue"] if out["ename"] == "SystemExit" else "raised %s: %s" % (out["ename"], out["evalue"])
        log("%s %s; the remaining cells were not run; the executed notebook is %s" % (label, what, out_path))
    elif result.code == _INTERRUPTED:
        log("interrupted; the notebook as far as it ran is %s" % out_path)
    else:
        ran = sum(1 for c in nb["cells"] if c.get("cell_type") == "code" and c.get("execution_count") is not None)
        log("done in %.1f s: %d cells ran; wrote %s" % (time.time() - started, ran, out_path))
    if opts.collect:
        report_collected(root, before, opts, out_path)
    return result.code


def report_collected(root, before, opts, out_path):
    own = set([os.path.relpath(os.path.abspath(p), root).replace(os.sep, "/") for p in (out_path, out_path + ".tmp")])
    try:
        new = collect_new_files(root, before, opts.collect, opts.collect_skip, own)
    except OSError as e:
        log("could not gather the new files in %s/: %s" % (opts.collect, e))
        return
    if not new:
        log("no other new files to gather in %s/" % opts.collect)
        return
    shown = ", ".join(new[:10]) + (", ... (%d files)" % len(new) if len(new) > 10 else "")
    log("gathered %d new file%s in %s/: %s" % (len(new), "" if len(new) == 1 else "s", opts.collect, shown))


def describe_parameters(params):
    """The parameters as this runner reads them, as JSON (what --redlab-describe prints): name, type
    (as the panel names it; null: not a literal RED Lab passes on) and default."""
    return json.dumps(
        [{"name": p.name, "type": p.type, "default": json_safe(p.default)} for p in params.values()],
        ensure_ascii=False,
    )


def default_output_path(notebook):
    base = os.path.basename(notebook)
    root = base[:-6] if base.endswith(".ipynb") else os.path.splitext(base)[0] or base
    return root + ".executed.ipynb"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, io.UnsupportedOperation):
            pass
    loaded = {}

    def read_params(path):
        nb = load_notebook(path)
        loaded["nb"] = nb
        code_cell = 0
        for cell in nb["cells"]:
            if cell.get("cell_type") != "code" or "injected-parameters" in cell_tags(cell):
                continue
            code_cell += 1
            if "parameters" in cell_tags(cell):
                try:
                    return read_parameters(cell_source(cell), code_cell)
                except ParametersSyntaxError as e:
                    # As papermill: the cell runs as it is and raises SyntaxError there (exit 1, the
                    # notebook written with the error); values are typed without the cell's types.
                    loaded["syntax_error"] = str(e)
                    return {}
        return {}

    try:
        opts = parse_args(argv, read_params)
    except UsageError as e:
        if str(e) == USAGE and argv and argv[0] in ("-h", "--help"):
            print(__doc__)
            return 0
        log(str(e))
        return 2
    if loaded.get("syntax_error"):
        log(loaded["syntax_error"])
        if opts.describe:
            return 2
    if opts.describe:
        print(describe_parameters(read_params(opts.notebook)))
        return 0
    out_path = opts.output or default_output_path(opts.notebook)
    try:
        return execute(loaded["nb"], opts, out_path)
    except UsageError as e:
        log(str(e))
        return 2
    except OSError as e:
        log("cannot write %s: %s" % (out_path, e))
        return 2


if __name__ == "__main__":
    sys.exit(main())
