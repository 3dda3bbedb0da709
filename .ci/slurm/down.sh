#!/usr/bin/env bash
# Stop the daemons .ci/slurm/up.sh DIR started, by the pids it recorded (never by name).
set -uo pipefail
dir=$(realpath -m "${1:?usage: down.sh DIR}")
# Cancel what is still queued or running on this private cluster first, so that no job step
# (slurmstepd and the rule it runs) outlives the daemons.
if [ -s "$dir/run/slurmctld.pid" ] && kill -0 "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null; then
  export SLURM_CONF="$dir/slurm.conf"
  jobs=$(squeue -h -o %i 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086
    scancel --full $jobs 2>/dev/null || true
    for _ in $(seq 50); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi
for name in slurmd slurmctld munged; do
  pidfile="$dir/run/$name.pid"
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
done
# Remove the /etc/slurm/slurm.conf link up.sh made (only if it still points into DIR).
if [ -s "$dir/run/created-links" ]; then
  while read -r link; do
    case "$(readlink "$link")" in "$dir"/*) rm -f "$link" ;; esac
  done < "$dir/run/created-links"
  rm -f "$dir/run/created-links"
fi
exit 0
