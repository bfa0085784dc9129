#!/usr/bin/env bash
# A one-node Slurm cluster for the Slurm executor's tests, started by hand
# (no systemd): a private munge key and socket, slurmctld and slurmd in the
# foreground-mode (-D) in the background, everything under one directory.
#
#   scripts/slurm-cluster.sh start DIR   # prints "export SLURM_CONF=DIR/slurm.conf" when sinfo answers
#   scripts/slurm-cluster.sh stop DIR    # stops the daemons by their PIDs, removes DIR
#
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge
# (scripts/deps.sh slurm installs them).
set -euo pipefail
cmd=${1:?usage: $0 start|stop DIR}
d=${2:?usage: $0 start|stop DIR}

stop() {
  for p in slurmd slurmctld munged; do
    [ -f "$d/$p.pid" ] && kill "$(cat "$d/$p.pid")" 2>/dev/null || true
  done
  sleep 0.5
  for p in slurmd slurmctld munged; do
    [ -f "$d/$p.pid" ] && kill -9 "$(cat "$d/$p.pid")" 2>/dev/null || true
  done
  rm -rf "$d"
}

# A TCP port on 127.0.0.1 that nothing listens on (bash's /dev/tcp; no python).
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  echo "slurm-cluster: no free port found" >&2
  return 1
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "slurm-cluster: needs root (slurmd runs jobs as their user)" >&2; exit 1; }
for b in munged slurmctld slurmd sinfo; do
  command -v "$b" >/dev/null || { echo "slurm-cluster: $b missing: run scripts/deps.sh slurm" >&2; exit 1; }
done
mkdir -p "$d"/{state,spool,munge}
chmod 700 "$d/munge"
dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$d/munge/munge.key"
munged --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.sock" \
  --pid-file="$d/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/munge.seed"

node=$(hostname -s)
# The node's CPUs and memory as slurmd sees them.
hw=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //; s/ UpTime=.*//')
cport=$(free_port)
dport=$(free_port)
while [ "$dport" = "$cport" ]; do dport=$(free_port); done
cat > "$d/slurm.conf" <<CONF
ClusterName=siambench-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$cport
SlurmdPort=$dport
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$d/slurm.conf"
slurmctld -D -f "$SLURM_CONF" >"$d/slurmctld.out" 2>&1 &
echo $! > "$d/slurmctld.pid"
slurmd -D -f "$SLURM_CONF" >"$d/slurmd.out" 2>&1 &
echo $! > "$d/slurmd.pid"
for _ in $(seq 1 60); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "slurm-cluster: the node did not come up within 30 s; logs in $d:" >&2
tail -5 "$d"/slurmctld.log "$d"/slurmd.log "$d"/slurmctld.out "$d"/slurmd.out >&2 || true
stop
exit 1
