#!/usr/bin/env bash
# Start a single-node SLURM (munged, slurmctld, slurmd) whose config and state live in DIR.
#
#   .ci/slurm/up.sh DIR [PARTITION]    # then: export SLURM_CONF=DIR/slurm.conf
#   .ci/slurm/down.sh DIR              # stops exactly the daemons up.sh started (by pid)
#
# Needs root and the Debian packages slurmctld slurmd slurm-client munge (installed here with
# apt-get when missing). Facts behind every setting: shared/reference/slurm-ci-notes.md.
# Prints "slurm up: ..." once `sinfo` reports the node idle; exits non-zero otherwise.
set -euo pipefail

dir=$(realpath -m "${1:?usage: up.sh DIR [PARTITION]}")
partition=${2:-main}
mkdir -p "$dir"/{state,spool,log,run}
chmod 755 "$dir"   # the slurm user must reach its state and log folders

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

host=$(hostname -s)
free_mb=$(free -m | awk '/^Mem:/ {print $7}')
real_mb=$(( free_mb * 8 / 10 ))
cpus=$(nproc)
chown slurm:slurm "$dir/state" "$dir/log"
# Ports of our own, free now: a controller left over from another run on the fixed defaults
# (6817/6818) would otherwise answer sinfo and take our jobs (seen once: its jobs never ran).
read -r ctld_port slurmd_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for sock in socks:
    sock.bind(("127.0.0.1", 0))
print(*(sock.getsockname()[1] for sock in socks))
PY
)

cat > "$dir/slurm.conf" <<CONF
ClusterName=blox-ci
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${real_mb} State=UNKNOWN
PartitionName=${partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
# snakemake-executor-plugin-slurm-jobstep (0.6.1) drops every SLURM_* variable but the job ids
# before its nested `srun`, SLURM_CONF included; srun then looks for /etc/slurm/slurm.conf (or a
# DNS SRV record) and fails with "Could not establish a configuration source". So link the
# default path to our file when nothing is there, and remember to remove the link.
if [ ! -e /etc/slurm/slurm.conf ]; then
  mkdir -p /etc/slurm
  ln -s "$SLURM_CONF" /etc/slurm/slurm.conf
  echo /etc/slurm/slurm.conf > "$dir/run/created-links"
elif [ "$(readlink -f /etc/slurm/slurm.conf)" != "$SLURM_CONF" ]; then
  echo "warning: /etc/slurm/slurm.conf exists and is not ours; jobs' srun steps will read it" >&2
fi

# munged runs as the munge user (it owns the key) with its default pid file in /run/munge.
mkdir -p /run/munge
chown munge:munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile /etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
if [ -s /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
  : > "$dir/run/munged.pid.borrowed"   # someone else's munged: use it, never stop it
else
  runuser -u munge -- /usr/sbin/munged
  cp /run/munge/munged.pid "$dir/run/munged.pid"
fi

slurmctld -f "$SLURM_CONF"   # drops to SlurmUser itself
for _ in $(seq 50); do [ -s "$dir/run/slurmctld.pid" ] && break; sleep 0.2; done
slurmd -f "$SLURM_CONF"

for _ in $(seq 60); do
  state=$(sinfo -h -N -o %t 2>/dev/null | head -n1 || true)
  if [ "$state" = "idle" ] && kill -0 "$(cat "$dir/run/slurmctld.pid" 2>/dev/null)" 2>/dev/null; then
    echo "slurm up: node $host idle, partition $partition, $cpus CPUs, ${real_mb} MB, ports $ctld_port/$slurmd_port; SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "slurm did not come up (node state: '${state:-none}'); logs in $dir/log" >&2
tail -n 20 "$dir"/log/*.log >&2 || true
exit 1
