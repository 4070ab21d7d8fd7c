"""JupyterLab server configuration for the RED Lab ui-tests (started by start-jupyter.sh).

Galata's test set-up (no token, no XSRF check, its in-page helpers), a fixed port on
loopback, the root folder start-jupyter.sh prepared, the repository's current build of
the extension, and nothing that reaches the internet. Never use this outside tests.
"""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is Jupyter's config object)

base = os.environ["REDLAB_UI_BASE"]

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = int(os.environ.get("REDLAB_UI_PORT", "8988"))
c.ServerApp.port_retries = 0
c.ServerApp.root_dir = os.environ["JUPYTERLAB_GALATA_ROOT_DIR"]
c.ServerApp.open_browser = False
# CI machines run as root (Docker); the server only listens on loopback.
c.ServerApp.allow_root = os.geteuid() == 0

# Galata's helpers first, then the repo's build (start-jupyter.sh copies it there), so it wins
# over the copy `pip install -e .` made in sys.prefix.
galata_path = c.LabServerApp.extra_labextensions_path  # a str as Galata sets it
c.LabServerApp.extra_labextensions_path = [
    *([galata_path] if isinstance(galata_path, str) else list(galata_path)),
    os.path.join(base, "labextensions"),
]
c.LabApp.workspaces_dir = os.path.join(base, "workspaces")
c.LabApp.user_settings_dir = os.path.join(base, "settings")

# Offline: no news feed, no update check, no PyPI extension manager.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
# The RTC/LSP/terminal bits are not needed by the tests.
c.ServerApp.terminals_enabled = False
