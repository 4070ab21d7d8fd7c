# For papermill-differential.test.ts: runs the runner (redlab_nbrun.py) for one case after another,
# each in a fresh process forked from this one, which has imported what the runner's IPython path
# imports (nbclient, nbformat, ipykernel; about 3 s of CPU per process, most of it jsonschema building
# its rfc3987 grammar) and nothing else. The child then is `python3 redlab_nbrun.py ARGS` in the case's
# folder: its own sys.argv, sys.path[0], __main__, stdin (empty), stdout and stderr (a log file), and it
# ends as such a process does (SystemExit, or an uncaught exception: status 1), atexit handlers included.
#
# Requests come one JSON object per line on stdin, each answered by one JSON line on the answer channel:
#   {"runner": path, "args": [...], "cwd": folder, "log": file, "timeout": seconds} -> {"exit": code or null (a signal)}
import json
import os
import signal
import sys
import time

answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)

import ipykernel  # noqa: E402,F401 (the runner's IPython path imports these three)
import nbclient  # noqa: E402,F401
import nbformat  # noqa: E402,F401


def start(request):
    """In the child: become `python3 RUNNER ARGS` in the case's folder, then run the runner as __main__."""
    import runpy

    os.chdir(request["cwd"])
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)
    sys.stdin = open(0, encoding=sys.stdin.encoding, closefd=False)
    answers.close()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.argv = [request["runner"], *request["args"]]
    sys.path[0] = os.path.dirname(os.path.abspath(request["runner"]))
    runpy.run_path(request["runner"], run_name="__main__")
    sys.exit(0)  # the runner's own sys.exit ends the child before this


def wait(pid, timeout):
    """The child's exit code (None when a signal ended it); SIGTERM after timeout seconds, as spawnSync's timeout."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else None
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGTERM)
            deadline = float("inf")
        time.sleep(0.02)


for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        start(request)  # never returns: SystemExit or an uncaught exception ends the child
    answers.write(json.dumps({"exit": wait(pid, request["timeout"])}) + "\n")
    answers.flush()
