# Sourced by .ci/setup, .ci/test and .ci/demo: puts the project's own virtual
# environment (.venv/, made by .ci/setup) first on PATH, so python3, pip and
# jupyter are the project's, never the system interpreter's packages.
REDLAB_VENV="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv"
export VIRTUAL_ENV="$REDLAB_VENV"
export PATH="$REDLAB_VENV/bin:$PATH"
unset PYTHONHOME
