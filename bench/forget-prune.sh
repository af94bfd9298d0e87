#!/usr/bin/env bash
# `seedship forget --prune` against `restic forget --prune` on two copies of one repository:
# ten snapshots; each adds a set of SET_MB megabytes of random 2 MiB files (nothing
# deduplicates), half of them kept for good and half (interleaved by name, so the same packs
# hold both) deleted before the next snapshot. Both forget the older half of the snapshots
# (--keep-last 5) and prune: the short-lived halves of the five forgotten snapshots become
# unused inside packs that also hold data still in use, so prune repacks (restic's default
# --max-unused 5%) as well as deleting. Each run gets its own fresh copy; the pair runs ROUNDS
# times in alternating order. Both copies are checked with `restic check --read-data`.
#
#   bash bench/forget-prune.sh [SET_MB] [ROUNDS] [BINARY]   # default 200 MB sets (2 GB), 2 rounds
set -euo pipefail
set_mb=${1:-200}
rounds=${2:-2}
bin=$(realpath "${3:-target/release/seedship}")
work=$(mktemp -d /tmp/seedship-forget-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SEEDSHIP_PASSWORD=bench RESTIC_PASSWORD=bench

mkdir -p "$work/tree"
for i in $(seq 1 10); do
    # The short-lived (odd-numbered) files of the earlier sets go; the even ones stay.
    rm -f "$work"/tree/set*/f*[13579]
    mkdir "$work/tree/set$i"
    for j in $(seq -w 1 $((set_mb / 2))); do
        head -c $((2 << 20)) /dev/urandom >"$work/tree/set$i/f$j"
    done
    "$bin" backup --repo "$work/repo" --no-cache --no-progress "$work/tree" >/dev/null
done
echo "repository: $(du -sb "$work/repo" | cut -f1) bytes, $(restic -r "$work/repo" snapshots --json --no-cache | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') snapshots; $(nproc) cores"

measure() { # label, command...
    local label=$1; shift
    sync
    /usr/bin/time -v "$@" >"$work/$label.out" 2>"$work/$label.time"
    local wall rss cpu_user cpu_sys
    wall=$(grep 'Elapsed (wall clock)' "$work/$label.time" | awk '{print $NF}')
    rss=$(grep 'Maximum resident' "$work/$label.time" | awk '{print $NF}')
    cpu_user=$(grep 'User time' "$work/$label.time" | awk '{print $NF}')
    cpu_sys=$(grep 'System time' "$work/$label.time" | awk '{print $NF}')
    echo "$label: wall $wall, user ${cpu_user} s, sys ${cpu_sys} s, peak ${rss} KiB"
}
for round in $(seq 1 "$rounds"); do
    order="restic seedship"
    if [ $((round % 2)) -eq 0 ]; then order="seedship restic"; fi
    for tool in $order; do
        rm -rf "$work/copy-$tool"
        cp -a "$work/repo" "$work/copy-$tool"
        if [ "$tool" = restic ]; then
            measure "restic-$round" restic -r "$work/copy-restic" --no-cache forget --keep-last 5 --prune
        else
            measure "seedship-$round" "$bin" forget --repo "$work/copy-seedship" --no-cache --no-progress --keep-last 5 --prune
        fi
        echo "  $tool copy after: $(du -sb "$work/copy-$tool" | cut -f1) bytes"
    done
done
for tool in restic seedship; do
    restic -r "$work/copy-$tool" --no-cache check --read-data >/dev/null 2>&1 && echo "restic check of the $tool copy: ok" \
        || { echo "restic check of the $tool copy: FAILED"; exit 1; }
done
