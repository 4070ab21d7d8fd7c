"""RED Lab: run a notebook's experiment in a container.

The prebuilt JupyterLab extension and the jupyter-server-proxy entry that starts
the bridge are added to this package by the extension's build.
"""

__version__ = "0.1.0"
