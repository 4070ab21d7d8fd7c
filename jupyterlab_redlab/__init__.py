"""RED Lab: run a notebook's experiment in a container.

This package carries the prebuilt JupyterLab extension (labextension/), the
jupyter-server-proxy entry that starts the bridge (bridge_proxy.py) and the
stdlib notebook runner (runner/).
"""

__version__ = "0.1.0"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-redlab"}]
