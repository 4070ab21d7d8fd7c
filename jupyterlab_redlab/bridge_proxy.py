"""jupyter-server-proxy entry: JupyterLab starts the RED Lab bridge on first use
and serves it at <base_url>/redlab-bridge/, behind Jupyter's own authentication.

The bridge still requires its token on every request. The proxy adds it to each
forwarded request, so it never reaches the browser, and pins the forwarded Origin
(Jupyter has already checked the browser's origin before proxying).
"""

import os
import secrets
import shutil
from pathlib import Path

PROXY_ORIGIN = "http://redlab-bridge.jupyter-proxy"


def _bridge_command():
    """The `redlab` launcher: REDLAB_BRIDGE_COMMAND, this repository's build (develop
    install), the copy inside this package (wheel install), or `redlab` on PATH."""
    override = os.environ.get("REDLAB_BRIDGE_COMMAND")
    if override:
        return override.split()
    here = Path(__file__).resolve().parent
    node = shutil.which("node")
    for launcher in (here.parent / "server-bridge" / "bin" / "redlab.js", here / "bridge" / "launch.js"):
        if launcher.exists() and node:
            return [node, str(launcher)]
    on_path = shutil.which("redlab")
    if on_path:
        return [on_path]
    raise RuntimeError(
        "RED Lab: cannot find the bridge. Install Node.js and build RED Lab (npm ci && npm run build), "
        "or set REDLAB_BRIDGE_COMMAND to the `redlab` command."
    )


def setup_redlab_bridge():
    token = os.environ.get("REDLAB_TOKEN") or secrets.token_urlsafe(32)
    command = _bridge_command() + [
        "bridge",
        "--host", "127.0.0.1",
        "--port", "{port}",
        "--allowed-origin", PROXY_ORIGIN,
    ]
    return {
        "command": command,
        "environment": {"REDLAB_TOKEN": token},
        "timeout": 60,
        "absolute_url": False,
        "request_headers_override": {"Authorization": f"Bearer {token}", "Origin": PROXY_ORIGIN},
        "launcher_entry": {"enabled": False},
    }
