#!/usr/bin/env bash
# Benchmark (not a test): the scaling curve of seedship and restic side by side, on data the
# script generates itself. For each STEP and each tool, in its own local repository: first
# backup, no-change rerun (same paths and host: incremental against the first snapshot), and
# restore of the latest snapshot; wall time, user+sys CPU seconds and peak resident memory of
# each (/usr/bin/time -v, including child processes), and the repository's size.
#
# Usage: bash bench/scaling.sh STEP...
#   files:N   N small files (N may end in k or M: files:10k, files:1M) of 1-8 KiB each, half
#             random bytes and half text-like (slices of a word-text pool), 1000 per directory
#   gb:N      N GB (10^9 bytes) in files of 1-50 MB, alternately random bytes and text-like
#   e.g. bash bench/scaling.sh files:10k files:100k files:1M gb:1 gb:10 gb:30
# Env:  BINARY (default target/release/seedship), BENCH_DIR (work directory, default a new one
#       under /tmp; removed at the end), BENCH_TOOLS (default "seedship restic"),
#       BENCH_SEEDSHIP_INIT=restic: seedship's repository is made by `restic init` (untimed) as
#       restic's is, so its key has restic's scrypt parameters (N=2^15, r=8: 32 MiB to open)
#       instead of those seedship gives a repository it creates (N=2^17, r=8: 128 MiB, which
#       is then the floor of every seedship peak and hides the working set under it).
# Both tools run with --no-cache (the repositories are local, so a cache would only copy them).
# restic's repository is made by `restic init --repository-version 2` beforehand, untimed;
# seedship's first backup creates its repository, timed (one key derivation, well under 1 s).
# Before each backup the data is read once (tar > /dev/null), before each restore the
# repository, so every timed run reads from the page cache as far as it holds; `sync` runs
# between timed runs, untimed. A restore is checked by its file count and byte total (not
# byte by byte: the end-to-end tests prove restores bit-exact), then deleted. Disk: the data,
# one repository and one restore at a time (about 2.6x the data at gb:N).
# BENCH_LOW_DISK=1: the data is deleted before each restore and generated again (the same
# bytes, untimed) for the next tool, so that the disk holds the data and one repository, or
# one repository and one restore (about 1.7x the data at gb:N: 51 GB at gb:30).
# Run it under `flock /work/bench.lock` on shared machines, so two benchmarks never overlap.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
bin=$(realpath "${BINARY:-target/release/seedship}")
[ -x "$bin" ] || { echo "bench: $bin is not an executable (build it, or set BINARY)" >&2; exit 1; }
command -v restic > /dev/null || { echo "bench: restic not found (bash scripts/install-test-deps.sh)" >&2; exit 1; }
work=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/seedship-scaling-bench.XXXXXX")}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
export SEEDSHIP_PASSWORD="bench-$RANDOM-$RANDOM" RESTIC_PASSWORD
RESTIC_PASSWORD=$SEEDSHIP_PASSWORD

generate() { python3 bench/generate-data.py "$@"; } # kind (files|gb), count, dir

source bench/measure.sh
warm() { tar -cf - -C "$1" . > /dev/null; }
bytes_of() { du -sb --apparent-size "$1" | cut -f1; }
file_bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}'; }
files_of() { find "$1" -type f | wc -l; }

echo "scaling: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); seedship $bin (script at $(git rev-parse --short HEAD 2>/dev/null || echo "?")), $(restic version | cut -d' ' -f1-2); --no-cache for both; seedship's repository made by ${BENCH_SEEDSHIP_INIT:-seedship}"
printf '%-12s %-9s %-8s %9s %8s %9s %12s\n' step tool run "wall s" "CPU s" "peak MiB" "repo MB"
for step in "$@"; do
    kind=${step%%:*} n=${step#*:}
    case "$n" in *k) n=$(( ${n%k} * 1000 )) ;; *M) n=$(( ${n%M} * 1000000 )) ;; esac
    case "$kind" in files|gb) ;; *) echo "bench: unknown step $step (files:N or gb:N)" >&2; exit 2 ;; esac
    data="$work/data-$kind-$n"
    t0=$(date +%s)
    generate "$kind" "$n" "$data"
    sync
    src_files=$(files_of "$data") src_bytes=$(file_bytes_of "$data")
    echo "# $step: $src_files files, $src_bytes bytes, generated in $(( $(date +%s) - t0 )) s; $(df -h --output=avail "$work" | tail -n 1 | tr -d ' ') free"
    for tool in ${BENCH_TOOLS:-seedship restic}; do
        repo="$work/repo-$tool" dest="$work/restore"
        if [ "$tool" = restic ] || [ "${BENCH_SEEDSHIP_INIT:-}" = restic ]; then
            restic --repo "$repo" init --repository-version 2 > /dev/null
        fi
        for run in first rerun; do
            warm "$data"
            case "$tool" in
                seedship) measure "$bin" backup "$data" --repo "$repo" --no-cache --json ;;
                restic) measure restic --repo "$repo" --no-cache backup --quiet "$data" ;;
            esac
            printf '%-12s %-9s %-8s %9s %8s %9s %12s\n' "$step" "$tool" "$run" "$wall" "$cpu" "$rss" \
                "$(awk -v b="$(bytes_of "$repo")" 'BEGIN {printf "%.1f", b / 1e6}')"
        done
        if [ "${BENCH_LOW_DISK:-0}" = 1 ]; then rm -rf "$data"; fi
        warm "$repo"
        mkdir -p "$dest"
        case "$tool" in
            seedship) measure "$bin" restore latest --target "$dest" --repo "$repo" --no-cache --json ;;
            restic) measure restic --repo "$repo" --no-cache restore latest --target "$dest" ;;
        esac
        printf '%-12s %-9s %-8s %9s %8s %9s\n' "$step" "$tool" restore "$wall" "$cpu" "$rss"
        got_files=$(files_of "$dest$data") got_bytes=$(file_bytes_of "$dest$data")
        if [ "$got_files" != "$src_files" ] || [ "$got_bytes" != "$src_bytes" ]; then
            echo "bench: $tool restored $got_files files, $got_bytes bytes; expected $src_files, $src_bytes" >&2
            exit 1
        fi
        rm -rf "$repo" "$dest"
        if [ ! -d "$data" ] && [ "$tool" != "$(echo ${BENCH_TOOLS:-seedship restic} | awk '{print $NF}')" ]; then
            t0=$(date +%s)
            generate "$kind" "$n" "$data"
            sync
            [ "$(file_bytes_of "$data")" = "$src_bytes" ] || { echo "bench: the data generated again differs" >&2; exit 1; }
            echo "# $step: data generated again for the next tool in $(( $(date +%s) - t0 )) s (BENCH_LOW_DISK)"
        fi
    done
    rm -rf "$data"
done
