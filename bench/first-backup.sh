#!/usr/bin/env bash
# Benchmark (not a test): the first backup, seedship against restic, on the same data in one
# run. The first backup into an empty repository is the offline seeding's big one; seedship
# writes it with its own pipelined writer (crates/repo/src/archive.rs).
#
# Usage: bash bench/first-backup.sh [SET...]
#   system      a copy of /usr/share /usr/lib/x86_64-linux-gnu /usr/lib/llvm-14 (about 2 GB,
#               48,000 files), as bench/backup.sh
#   files:N     N small files of 1-8 KiB (bench/generate-data.py; N may end in k)
#   gb:N        N GB in files of 1-50 MB, half random and half text-like
#   default: system files:300k
# Env:  BINARY (default target/release/seedship), BENCH_ROUNDS (default 2), BENCH_DIR (work
#       directory, default a new one under /tmp; removed at the end).
#
# Per set and round, each tool backs up the set into a new local repository (the order of the
# tools alternates between rounds): wall time, user+sys CPU and peak resident memory from
# /usr/bin/time -v, and the repository's size. restic's repository is made by
# `restic init --repository-version 2` beforehand, untimed; seedship's backup creates its own,
# timed. Both run with --no-cache, and the set is read once (tar > /dev/null) before each
# backup. After the first round, `restic check --read-data` reads seedship's repository and
# must find no error, and a `seedship backup --no-parent` of the same set into it (rustic_core's
# archiver, chunking every file again) must add no data.
# Run it under `flock /work/bench.lock` on shared machines, so two benchmarks never overlap.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${BINARY:-target/release/seedship}")
[ -x "$bin" ] || { echo "bench: $bin is not an executable (build it, or set BINARY)" >&2; exit 1; }
command -v restic > /dev/null || { echo "bench: restic not found (bash scripts/install-test-deps.sh)" >&2; exit 1; }
rounds=${BENCH_ROUNDS:-2}
work=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/seedship-first-backup.XXXXXX")}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
export SEEDSHIP_PASSWORD="bench-$RANDOM-$RANDOM" RESTIC_PASSWORD
RESTIC_PASSWORD=$SEEDSHIP_PASSWORD
[ "$#" -gt 0 ] || set -- system files:300k

source bench/measure.sh
bytes_of() { du -sb --apparent-size "$1" | cut -f1; }

echo "first backup: $(nproc) cores; seedship $bin (script at $(git rev-parse --short HEAD 2>/dev/null || echo "?")), $(restic version | cut -d' ' -f1-2); $rounds rounds"
printf '%-12s %-6s %-9s %8s %8s %8s %9s %10s\n' set round tool "wall s" "MB/s" "CPU s" "peak MiB" "repo MB"
for set in "$@"; do
    data="$work/data"
    rm -rf "$data"
    case "$set" in
        system)
            mkdir -p "$data"
            for src in /usr/share /usr/lib/x86_64-linux-gnu /usr/lib/llvm-14; do
                mkdir -p "$data$(dirname "$src")"
                cp -a "$src" "$data$src"
            done ;;
        files:*|gb:*)
            kind=${set%%:*} n=${set#*:}
            case "$n" in *k) n=$(( ${n%k} * 1000 )) ;; esac
            python3 bench/generate-data.py "$kind" "$n" "$data" ;;
        *) echo "bench: unknown set $set (system, files:N or gb:N)" >&2; exit 2 ;;
    esac
    src_bytes=$(find "$data" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}')
    echo "# $set: $(find "$data" -type f | wc -l) files, $src_bytes bytes"
    declare -A sum_wall=() sum_cpu=() max_rss=() size=()
    for round in $(seq 1 "$rounds"); do
        if [ $((round % 2)) = 1 ]; then order="seedship restic"; else order="restic seedship"; fi
        for tool in $order; do
            repo="$work/repo-$tool"
            rm -rf "$repo"
            [ "$tool" = restic ] && restic --repo "$repo" init --repository-version 2 > /dev/null
            tar -cf - -C "$data" . > /dev/null
            case "$tool" in
                seedship) measure "$bin" backup "$data" --repo "$repo" --no-cache --json ;;
                restic) measure restic --repo "$repo" --no-cache backup --quiet "$data" ;;
            esac
            size[$tool]=$(bytes_of "$repo")
            sum_wall[$tool]=$(awk -v a="${sum_wall[$tool]:-0}" -v b="$wall" 'BEGIN {print a + b}')
            sum_cpu[$tool]=$(awk -v a="${sum_cpu[$tool]:-0}" -v b="$cpu" 'BEGIN {print a + b}')
            [ "$rss" -gt "${max_rss[$tool]:-0}" ] && max_rss[$tool]=$rss
            printf '%-12s %-6s %-9s %8s %8s %8s %9s %10s\n' "$set" "$round" "$tool" "$wall" \
                "$(awk -v b="$src_bytes" -v w="$wall" 'BEGIN {printf "%.1f", b / 1e6 / w}')" "$cpu" "$rss" \
                "$(awk -v b="${size[$tool]}" 'BEGIN {printf "%.1f", b / 1e6}')"
        done
        if [ "$round" = 1 ]; then
            restic --repo "$work/repo-seedship" --no-cache check --read-data > "$work/check.out" 2>&1 || {
                echo "bench: restic check --read-data of seedship's repository failed" >&2; cat "$work/check.out" >&2; exit 1; }
            "$bin" backup "$data" --repo "$work/repo-seedship" --no-cache --no-parent --json > "$work/again.json"
            added=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "summary" in l][-1]["data_added"])' "$work/again.json")
            echo "# $set: restic check --read-data of seedship's repository: no errors; seedship backup --no-parent again (rustic_core's archiver) added $added bytes"
            [ "$added" = 0 ] || { echo "bench: rustic_core chunked the set differently" >&2; exit 1; }
        fi
    done
    awk -v sw="${sum_wall[seedship]}" -v rw="${sum_wall[restic]}" -v sc="${sum_cpu[seedship]}" -v rc="${sum_cpu[restic]}" \
        -v ss="${size[seedship]}" -v rs="${size[restic]}" -v sm="${max_rss[seedship]}" -v rm="${max_rss[restic]}" -v set="$set" \
        'BEGIN {printf "%s: seedship throughput %.2fx restic'"'"'s (time %.2f), CPU %.2fx, repository %.3fx, peak memory %.2fx\n", set, rw / sw, sw / rw, sc / rc, ss / rs, sm / rm}'
    rm -rf "$data" "$work"/repo-*
done
