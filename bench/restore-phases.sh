#!/usr/bin/env bash
# Usage: bash bench/restore-phases.sh [GIB...]  (run under flock /work/bench.lock on shared machines)
# Samples the resident memory of `seedship restore` (its tuned child process) every 50 ms;
# prints the peak over the whole run and over the samples after the first second, which leaves
# out opening the repository (scrypt key derivation, 128 MiB for keys seedship creates) and
# shows the content restore itself. One generated incompressible file per size, as bench/restore.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p seedship-cli
seedship="$PWD/target/release/seedship"
export SEEDSHIP_PASSWORD=phase-bench
sizes=("$@"); [ "${#sizes[@]}" -gt 0 ] || sizes=(1 4)
for gib in "${sizes[@]}"; do
    data=$(mktemp -d /dev/shm/rss-phase.XXXX); repo=$(mktemp -d /tmp/rss-phase-repo.XXXX)
    head -c $((gib << 30)) /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:seedship-bench -pbkdf2 >"$data/big.img"
    "$seedship" backup "$data/big.img" --repo "$repo/r" --json >/dev/null
    rm "$data/big.img"; sync
    "$seedship" restore latest --target "$data/out" --repo "$repo/r" --json >/dev/null &
    parent=$!; start=$(date +%s%N); all=0; late=0; n=0
    while kill -0 "$parent" 2>/dev/null; do
        for pid in $parent $(pgrep -P "$parent" || true); do
            rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
            [ -n "$rss" ] || rss=0
            [ "$rss" -gt "$all" ] && all=$rss
            if [ $(( ($(date +%s%N) - start) / 1000000 )) -gt 1000 ] && [ "$rss" -gt "$late" ]; then late=$rss; fi
        done
        n=$((n+1)); sleep 0.05
    done
    wait "$parent"
    echo "$gib GiB: peak $((all/1024)) MiB over the run, $((late/1024)) MiB after the first second ($n samples, $(( ($(date +%s%N) - start) / 1000000 )) ms)"
    rm -rf "$data" "$repo"
done
