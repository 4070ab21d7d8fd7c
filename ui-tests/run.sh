#!/usr/bin/env bash
# The RED Lab browser tests, as CI runs them: Debian's Chromium (installed if missing,
# never a Playwright browser download), the ui-tests npm packages, then
# `npx playwright test` with any arguments given here; exits with Playwright's code.
#
# Needs what .ci/setup provides: the extension built, the Python package installed
# (JupyterLab, jupyter-server-proxy), a running Docker engine and the local base images.
set -euo pipefail
cd "$(dirname "$0")"
log() { printf '\033[1m[ui-tests]\033[0m %s\n' "$*" >&2; }
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
chromium="${REDLAB_UI_CHROMIUM:-/usr/bin/chromium}"
# JupyterLab comes from the project's virtual environment, made by .ci/setup.
[ -x ../.venv/bin/python3 ] && . ../.ci/venv.sh

if [ ! -x "$chromium" ]; then
  log "installing Debian's chromium"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
"$chromium" --version 2>/dev/null | grep -v 'unexpected operator' >&2 || { log "$chromium does not start"; exit 1; }

if [ ! -d node_modules/@jupyterlab/galata ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing the ui-tests npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

python3 -c "import jupyterlab.galata, jupyter_server_proxy" 2>/dev/null \
  || { log "JupyterLab / jupyter-server-proxy missing: run bash .ci/setup first"; exit 1; }
[ -f ../jupyterlab_redlab/labextension/package.json ] \
  || { log "the extension is not built: run bash .ci/setup (or npm run build) first"; exit 1; }

log "running the browser tests (report: ui-tests/test-results/report/index.html)"
set +e
npx --no-install playwright test "$@"
rc=$?
set -e
exit "$rc"
