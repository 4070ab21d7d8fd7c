#!/usr/bin/env bash
# A real one-node Slurm cluster on loopback, for tests and benchmarks: its own munge key and
# socket, slurmctld and slurmd on free ports, one node with 2 fake GPUs (gres.conf on
# character devices: Slurm schedules --gres=gpu:N and sets CUDA_VISIBLE_DEVICES), state and
# logs in DIR. Nothing of the machine's own Slurm or munge is used or touched.
#   slurm-cluster.sh start DIR   → prints SLURM_CONF=DIR/slurm.conf once the node is idle
#   slurm-cluster.sh stop DIR    → cancels its jobs, stops its daemons, removes DIR
# Needs Debian's slurm-wlm and munge (.ci/setup installs them) and root (slurmd, mknod).
set -euo pipefail
cmd=${1:?usage: slurm-cluster.sh start|stop DIR}
dir=${2:?usage: slurm-cluster.sh start|stop DIR}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

stop() {
  [ -d "$dir" ] || return 0
  if [ -f "$dir/slurm.conf" ]; then SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --full --quiet --user="$(id -un)" 2>/dev/null || true; fi
  for p in slurmd slurmctld munged; do
    [ -f "$dir/run/$p.pid" ] && kill "$(cat "$dir/run/$p.pid")" 2>/dev/null || true
  done
  for p in slurmd slurmctld munged; do
    for _ in $(seq 1 50); do
      [ -f "$dir/run/$p.pid" ] && kill -0 "$(cat "$dir/run/$p.pid")" 2>/dev/null || break
      sleep 0.1
    done
    [ -f "$dir/run/$p.pid" ] && kill -9 "$(cat "$dir/run/$p.pid")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

start() {
  for b in munged slurmctld slurmd sbatch ch-run; do command -v "$b" >/dev/null || { echo "slurm-cluster: $b is missing: run bash .ci/setup (Debian's slurm-wlm, munge, charliecloud)" >&2; exit 3; }; done
  mkdir -p "$dir"/{state,spool,run,dev}
  chmod 755 "$dir" "$dir/run"
  head -c 1024 /dev/urandom >"$dir/munge.key"
  chmod 400 "$dir/munge.key"
  local sock="$dir/run/munge.sock"
  setsid munged --force --socket="$sock" --key-file="$dir/munge.key" --log-file="$dir/munged.log" \
    --pid-file="$dir/run/munged.pid" --seed-file="$dir/munged.seed" >/dev/null 2>&1 </dev/null
  for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
  [ -S "$sock" ] || { cat "$dir/munged.log" >&2; echo "slurm-cluster: munged did not start" >&2; exit 1; }
  mknod "$dir/dev/gpu0" c 1 3
  mknod "$dir/dev/gpu1" c 1 3
  local ctld_port slurmd_port mem
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  cat >"$dir/slurm.conf" <<CONF
ClusterName=redlabtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$sock
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=$(id -un)
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
GresTypes=gpu
ReturnToService=2
KillWait=5
MinJobAge=300
SchedulerParameters=sched_interval=1,sched_min_interval=0
NodeName=redlabnode NodeAddr=127.0.0.1 NodeHostname=$(hostname) CPUs=$(nproc) RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=redlabnode Default=YES MaxTime=INFINITE State=UP
CONF
  printf 'NodeName=redlabnode Name=gpu File=%s/dev/gpu[0-1]\n' "$dir" >"$dir/gres.conf"
  export SLURM_CONF="$dir/slurm.conf"
  setsid slurmctld -f "$SLURM_CONF" >/dev/null 2>&1 </dev/null
  setsid slurmd -N redlabnode -f "$SLURM_CONF" >/dev/null 2>&1 </dev/null
  for _ in $(seq 1 100); do
    [ "$(sinfo --noheader --format=%T 2>/dev/null)" = idle ] && { echo "SLURM_CONF=$SLURM_CONF"; return 0; }
    sleep 0.2
  done
  tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  echo "slurm-cluster: the node did not become idle within 20 s" >&2
  exit 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: slurm-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
