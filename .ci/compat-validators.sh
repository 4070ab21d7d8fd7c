#!/usr/bin/env bash
# The real validators the compatibility test (server-bridge/test/integration/red-compat.test.ts) runs:
#   - Curious Containers' RED validator: PyPI cc-core 9.3.0 with red-val 9.3.0 (the validation code and the RED 9
#     schema) and cc-faice 9.3.0 (the `faice` command); cc-core pins urllib3<2, ruamel.yaml<0.18 and docker<7;
#   - cwltool, the CWL reference implementation (`cwltool --validate`).
# Each lives in its own environment inside the project's .venv (.venv/tools/cc-core, .venv/tools/cwltool), so its
# pins never meet JupyterLab's and nothing goes to the system interpreter; `faice` and `cwltool` are linked into
# .venv/bin. The wheels are kept in a cache outside the clone ($REDLAB_CACHE/wheels, default /var/cache/redlab), so
# a rerun, or a fresh clone on this machine, installs with no network. Idempotent: a second call is instant.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${REDLAB_CACHE:-/var/cache/redlab}
TOOLS=.venv/tools

[ -x .venv/bin/python3 ] || { echo "compat-validators: no .venv; run .ci/setup first" >&2; exit 1; }

# install_tool NAME CHECK REQUIREMENT...: a venv at $TOOLS/NAME with exactly these requirements, from the wheel cache.
install_tool() {
  local name=$1 check=$2
  shift 2
  local env=$TOOLS/$name reqs="$*"
  local stamp=$env/redlab-requirements.txt
  local wheels
  wheels=$CACHE/wheels/$name-$(printf '%s' "$reqs" | sha256sum | cut -c1-12)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$reqs" ] && "$env/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "compat-validators: $name cached ($reqs)"
    return 0
  fi
  rm -rf "$env"
  mkdir -p "$TOOLS"
  # The base interpreter of .venv (python3 -m venv from a venv makes a sibling of it, not a child).
  .venv/bin/python3 -m venv "$env"
  if [ ! -f "$wheels/.complete" ]; then
    echo "compat-validators: fetching the wheels of $reqs from PyPI"
    mkdir -p "$CACHE/wheels"
    local tmp
    tmp=$(mktemp -d "$CACHE/wheels/.download.XXXXXX")
    # shellcheck disable=SC2086
    if ! "$env/bin/python" -m pip wheel -q --disable-pip-version-check -w "$tmp" $reqs >"$tmp.log" 2>&1; then
      tail -20 "$tmp.log" >&2
      rm -rf "$tmp" "$tmp.log"
      echo "compat-validators: could not fetch $reqs (PyPI unreachable and no cached wheels in $wheels)" >&2
      return 1
    fi
    rm -f "$tmp.log"
    touch "$tmp/.complete"
    rm -rf "$wheels"
    mv "$tmp" "$wheels"
  fi
  # shellcheck disable=SC2086
  "$env/bin/python" -m pip install -q --disable-pip-version-check --no-index --find-links "$wheels" $reqs
  "$env/bin/python" -c "$check" || { echo "compat-validators: $name installed but does not import" >&2; return 1; }
  printf '%s' "$reqs" >"$stamp"
  echo "compat-validators: installed $name ($reqs) in $env"
}

install_tool cc-core 'import cc_core, cc_faice, red_val.red_validation' \
  cc-core==9.3.0 cc-faice==9.3.0 red-val==9.3.0
install_tool cwltool 'import cwltool.main' \
  cwltool==3.3.20260925135507

# On PATH after `. .ci/venv.sh` (their shebangs name their own environment's python).
ln -sfn ../tools/cc-core/bin/faice .venv/bin/faice
ln -sfn ../tools/cwltool/bin/cwltool .venv/bin/cwltool
