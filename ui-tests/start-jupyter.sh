#!/usr/bin/env bash
# The web server of the ui-tests (Playwright's `webServer`): JupyterLab with RED Lab,
# serving a throw-away copy of binder/demo so nothing the tests write lands in the repo.
#
#   $REDLAB_UI_BASE/root/          Jupyter's root_dir and working folder (so the bridge's cwd
#                                  and allowed root): a copy of binder/demo; Galata puts each
#                                  test's files in a folder of its own under it
#   $REDLAB_UI_BASE/bridge-data/   the bridge's run store (REDLAB_DATA_DIR)
#   $REDLAB_UI_BASE/labextensions/ jupyterlab-redlab: a copy of the repo's current build, taken
#                                  at start (a rebuild during the run cannot break the page), and
#                                  found before the copy `pip install -e .` put in sys.prefix
#                                  (which a rebuild does not update)
#   $REDLAB_UI_BASE/jupyter.log    JupyterLab's and the bridge's log
#   $REDLAB_UI_BASE/slurm/         a real one-node Slurm (server-bridge/test/helpers/slurm-cluster.sh),
#                                  where Slurm can run here (its binaries, root): the bridge gets
#                                  REDLAB_ENGINES=docker,slurm (docker stays the default) and its
#                                  SLURM_CONF; stopped with the server. Under CI it must start;
#                                  elsewhere a machine without it runs the tests without slurm
#                                  (tests/cluster-engine.spec.ts skips then)
#
# The folder is wiped when the server starts and kept after it stops, for looking at a failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
port="${REDLAB_UI_PORT:-8988}"
base="${REDLAB_UI_BASE:-${TMPDIR:-/tmp}/redlab-ui-tests-$port}"

case "$base" in /|"$repo"|"$repo"/*) echo "REDLAB_UI_BASE must be outside the repository: $base" >&2; exit 2 ;; esac
if [ ! -f "$repo/jupyterlab_redlab/labextension/package.json" ]; then
  echo "the extension is not built: run 'npm run build' in $repo" >&2
  exit 2
fi

# A server still shutting down (the previous run's) holds the port for a few seconds.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
for _ in $(seq 1 60); do port_busy || break; sleep 0.5; done
if port_busy; then
  echo "[redlab-ui] port $port is in use: stop what runs there, or set REDLAB_UI_PORT" >&2
  exit 1
fi

slurm_helper="$repo/server-bridge/test/helpers/slurm-cluster.sh"
slurm_dir="$base/slurm"
# A cluster a killed run left behind (its daemons hold their pid files there) goes first.
bash "$slurm_helper" stop "$slurm_dir" >/dev/null 2>&1 || true
rm -rf "$base"
mkdir -p "$base"/{root,bridge-data,labextensions,config,runtime,settings,workspaces}
cp -R "$repo/binder/demo/." "$base/root/"
cp -R "$repo/jupyterlab_redlab/labextension" "$base/labextensions/jupyterlab-redlab"

export REDLAB_UI_PORT="$port" REDLAB_UI_BASE="$base"
export JUPYTERLAB_GALATA_ROOT_DIR="$base/root"
export JUPYTER_CONFIG_DIR="$base/config" JUPYTER_RUNTIME_DIR="$base/runtime"
export JUPYTERLAB_SETTINGS_DIR="$base/settings" JUPYTERLAB_WORKSPACES_DIR="$base/workspaces"
export REDLAB_DATA_DIR="$base/bridge-data" REDLAB_LOG_FORMAT=pretty
# Quiet: no platformdirs deprecation warning from Jupyter, no npm update notice.
export JUPYTER_PLATFORM_DIRS=1 NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false

# Slurm for the bridge's slurm engine: the cluster stops whenever this script ends (EXIT),
# also when JupyterLab or the cluster's own start fails.
stop_slurm() { [ -d "$slurm_dir" ] && bash "$slurm_helper" stop "$slurm_dir" >/dev/null 2>&1 || true; }
trap stop_slurm EXIT
slurm_missing=""
for b in munged slurmctld slurmd sbatch sinfo ch-run ch-convert; do command -v "$b" >/dev/null || slurm_missing+=" $b"; done
[ "$(id -u)" -eq 0 ] || slurm_missing+=" root"
if [ -n "$slurm_missing" ]; then
  if [ "${CI:-}" = true ]; then
    echo "[redlab-ui] CI: Slurm cannot run here (missing:$slurm_missing): run bash .ci/setup as root" >&2
    exit 1
  fi
  echo "[redlab-ui] no Slurm here (missing:$slurm_missing): the bridge runs without the slurm engine" >&2
else
  echo "[redlab-ui] starting a one-node Slurm in $slurm_dir (log $base/slurm-cluster.log)" >&2
  if slurm_out=$(bash "$slurm_helper" start "$slurm_dir" 2>"$base/slurm-cluster.log") && [[ "$slurm_out" == *SLURM_CONF=* ]]; then
    export SLURM_CONF="${slurm_out##*SLURM_CONF=}"
    export REDLAB_ENGINES=docker,slurm
    echo "[redlab-ui] Slurm up: SLURM_CONF=$SLURM_CONF, REDLAB_ENGINES=$REDLAB_ENGINES" >&2
  else
    tail -20 "$base/slurm-cluster.log" >&2 || true
    stop_slurm
    if [ "${CI:-}" = true ]; then
      echo "[redlab-ui] CI: the Slurm cluster did not start (above, and $base/slurm-cluster.log)" >&2
      exit 1
    fi
    echo "[redlab-ui] the Slurm cluster did not start: the bridge runs without the slurm engine" >&2
  fi
fi

cd "$base/root"
echo "[redlab-ui] JupyterLab on http://127.0.0.1:$port/lab, root $base/root, log $base/jupyter.log" >&2
jupyter lab --config "$here/jupyter_server_test_config.py" >"$base/jupyter.log" 2>&1 &
jl=$!
# Stopped by Playwright (SIGTERM): JupyterLab stops the bridge; give it 15 s, then kill it, so
# that the port is free for the next run.
stop() {
  trap - TERM INT HUP
  kill -TERM "$jl" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$jl" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$jl" 2>/dev/null || true
  wait "$jl" 2>/dev/null || true
  exit 0
}
trap stop TERM INT HUP
wait "$jl" || { rc=$?; echo "[redlab-ui] jupyter lab exited ($rc); last lines of $base/jupyter.log:" >&2; tail -40 "$base/jupyter.log" >&2; exit "$rc"; }
