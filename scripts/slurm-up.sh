#!/usr/bin/env bash
# Start a one-node SLURM (munge + slurmctld + slurmd) from Debian's packages, as root,
# without systemd. For CI and for trying `lambda-hat slurm --submit` on one machine.
#
#   sudo scripts/slurm-up.sh            # install nothing; start the daemons
#   sudo scripts/slurm-up.sh --install  # apt-get install the packages first
#   sudo scripts/slurm-up.sh --down     # stop the daemons this script started
#
# Idempotent: exits 0 at once when `scontrol ping` already reaches a controller. Writes
# /etc/slurm/slurm.conf only when there is none or it is one this script wrote (a marker
# line), so it never overwrites a real cluster's configuration. Exit status 0 means
# `sinfo` shows the node idle and jobs can run; non-zero prints why on stderr.
set -uo pipefail

MARKER="# written by lambda-hat scripts/slurm-up.sh"
CONF=/etc/slurm/slurm.conf
STATE=/var/lib/slurm/slurmctld
SPOOL=/var/lib/slurm/slurmd
LOGS=/var/log/slurm
RUN=/run/slurm

die() { echo "slurm-up: $*" >&2; exit 1; }

if [[ "${1:-}" == "--down" ]]; then
  for pidfile in "$RUN/slurmd.pid" "$RUN/slurmctld.pid" /run/munge/munged.pid; do
    [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (it starts system daemons)"

if [[ "${1:-}" == "--install" ]]; then
  export DEBIAN_FRONTEND=noninteractive
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge \
      >/dev/null 2>&1 || die "apt-get install slurmctld slurmd slurm-client munge failed"
  fi
fi

for cmd in munged slurmctld slurmd scontrol sinfo; do
  command -v "$cmd" >/dev/null || die "$cmd not found; install Debian's slurmctld slurmd slurm-client munge (or run with --install)"
done

if [[ -f "$CONF" ]] && scontrol ping 2>/dev/null | grep -q "is UP"; then
  echo "slurm-up: a SLURM controller is already running"
  exit 0
fi

# --- munge -------------------------------------------------------------------------
mkdir -p /run/munge /var/lib/munge /var/log/munge /etc/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge 2>/dev/null
chmod 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --force || die "munged failed to start"
  for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n </dev/null | unmunge >/dev/null 2>&1 || die "munge does not work (see /var/log/munge/munged.log)"

# --- slurm.conf ------------------------------------------------------------------------
if [[ -f "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
  die "$CONF exists and was not written by this script; refusing to overwrite it"
fi
HOST=$(hostname -s)
NODE=$(slurmd -C 2>/dev/null | head -1)
[[ "$NODE" == NodeName=* ]] || die "slurmd -C could not describe this machine"
mkdir -p "$STATE" "$SPOOL" "$LOGS" "$RUN" /etc/slurm
cat >"$CONF" <<EOF
$MARKER
ClusterName=lambdahat
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=600
KillWait=30
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
$NODE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
# OverSubscribe: up to 4 jobs share a core, so a test's job starts at once instead of
# queueing behind another test's array on this small node (tests check lambda-hat, not
# SLURM's queue; the cost is CPU contention, which the tests' timeouts allow for).

# --- daemons -----------------------------------------------------------------------
pgrep -x slurmctld >/dev/null || slurmctld -c || die "slurmctld failed to start (see $LOGS/slurmctld.log)"
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 0.2; done
scontrol ping 2>/dev/null | grep -q "is UP" || die "slurmctld is not answering (see $LOGS/slurmctld.log)"
pgrep -x slurmd >/dev/null || slurmd || die "slurmd failed to start (see $LOGS/slurmd.log)"
for _ in $(seq 150); do
  state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -1)
  [[ "$state" == idle || "$state" == mix || "$state" == alloc ]] && break
  [[ "$state" == down* || "$state" == drain* ]] && scontrol update nodename="$HOST" state=resume 2>/dev/null
  sleep 0.2
done
state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -1)
[[ "$state" == idle || "$state" == mix || "$state" == alloc ]] \
  || die "node $HOST is '$state', not idle (see $LOGS/slurmd.log)"
echo "slurm-up: one-node SLURM running (node $HOST, partition debug)"
