#!/usr/bin/env bash
# `seedship plan` against the backup it predicts, on a generated tree of about MB megabytes
# (default 500): a third text-like, a third random bytes, a sixth small files, a sixth copies.
# Prints the plan's estimate and time, the backup's stored size and time (/usr/bin/time -v).
#
#   bash bench/plan.sh [MB] [BINARY]     # BINARY: default target/release/seedship
set -euo pipefail
mb=${1:-500}
bin=${2:-target/release/seedship}
work=$(mktemp -d /tmp/seedship-plan-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$(dirname "$0")/mixed-tree.py" "$work/tree" "$mb"
sync
echo "tree: $(du -sb "$work/tree" | cut -f1) bytes, $(find "$work/tree" -type f | wc -l) files; $(nproc) cores"
measure() { # label, command...
    local label=$1; shift
    /usr/bin/time -v "$@" >"$work/$label.out" 2>"$work/$label.time"
    local wall rss
    wall=$(grep 'Elapsed (wall clock)' "$work/$label.time" | awk '{print $NF}')
    rss=$(grep 'Maximum resident' "$work/$label.time" | awk '{print $NF}')
    echo "$label: wall $wall, peak ${rss} KiB"
}
measure plan "$bin" plan "$work/tree" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("plan: sample", d["sample"]["bytes"], "bytes; estimate", d["stored"]["total_bytes"], "bytes; backup predicted", round(d["offline"]["backup_hours"]*3600, 1), "s")' "$work/plan.out"
SEEDSHIP_PASSWORD=bench measure backup "$bin" backup --repo "$work/repo" --no-cache "$work/tree" --json
echo "backup: repository $(du -sb "$work/repo" | cut -f1) bytes"
