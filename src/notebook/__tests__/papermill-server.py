# For papermill-differential.test.ts: runs papermill's own command line (papermill.cli.papermill, the
# click command behind `python -m papermill`) for one case after another in this one process, so that
# papermill, nbclient and nbformat are imported once instead of once per case (about 3 s of CPU each,
# most of it jsonschema building its rfc3987 grammar). Each case still gets its own kernel, its own
# folder and papermill's own argument parsing and exit code.
#
# Requests come one JSON object per line on stdin, each answered by one JSON line on the answer channel:
#   {"papermill": [args...], "cwd": folder} -> {"exit": code}
#   {"summary": script, "file": notebook}   -> {"out": what the script printed} or {"error": traceback}
# Everything else this process or its kernels write goes to stderr, which the test shows on a failure.
import contextlib
import io
import json
import os
import sys
import traceback

answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)  # kernels and papermill inherit fd 1: keep it off the answer channel
sys.stdout = sys.stderr

import papermill.cli  # noqa: E402 (after the channel is set apart: importing it may print)


def exit_code(e: SystemExit) -> int:
    """The exit status Python gives a process ended by this SystemExit."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def run_papermill(args, cwd):
    os.chdir(cwd)
    try:
        papermill.cli.papermill.main(args=args, prog_name="papermill", standalone_mode=True)
        return 0
    except SystemExit as e:
        return exit_code(e)
    except BaseException:  # an uncaught exception ends `python -m papermill` with status 1
        traceback.print_exc()
        return 1


def run_summary(script, file):
    out = io.StringIO()
    argv = sys.argv
    sys.argv = ["summary", file]
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(script, "<summary>", "exec"), {"__name__": "__main__"})
    except BaseException:
        return {"error": traceback.format_exc()}
    finally:
        sys.argv = argv
    return {"out": out.getvalue()}


for line in sys.stdin:
    request = json.loads(line)
    if "papermill" in request:
        answer = {"exit": run_papermill(request["papermill"], request["cwd"])}
    else:
        answer = run_summary(request["summary"], request["file"])
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
