#!/usr/bin/env bash
# Stop the daemons .ci/slurm/up.sh DIR started, by the pids it recorded (never by name).
set -uo pipefail
dir=$(realpath -m "${1:?usage: down.sh DIR}")
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
