#!/usr/bin/env bash
# Benchmark (not a test): `seedship drive prepare` of a ~2 GB tree onto one drive (a directory
# on the same file system) against `cp -a` + `sync` of the same tree, in one run.
#
# Usage: bench/drive.sh [WORKDIR]   (default: a fresh directory under $TMPDIR or /tmp)
# Env:   BENCH_PACKS (default 120 files of 16 MiB), BENCH_SMALL (default 2000 files of 1-64 KiB),
#        BENCH_ROUNDS (default 2; cp and seedship alternate).
#
# Page cache: before every timed run the whole source tree is read once (cat > /dev/null)
# after a `sync`, so both tools read from memory and pay for writing to the disk; each timed
# run ends only when its data is on stable storage (cp: the final `sync`; seedship: its own
# fsync/syncfs checkpoints before it exits).
set -euo pipefail
cd "$(dirname "$0")/.."

packs=${BENCH_PACKS:-120}
small=${BENCH_SMALL:-2000}
rounds=${BENCH_ROUNDS:-2}
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/seedship-drive-bench.XXXXXX")}
mkdir -p "$work"
trap 'rm -rf "$work/src" "$work/drive" "$work/cp" "$work"/*.jrn* "$work"/service.*' EXIT
rm -f "$work"/service.*

cargo build --release --quiet -p seedship-cli
bin=target/release/seedship

echo "# building the source tree in $work/src"
rm -rf "$work/src"
mkdir -p "$work/src/data" "$work/src/index"
for i in $(seq 1 "$packs"); do
    head -c $((16 << 20)) /dev/urandom > "$work/src/data/$(printf %04d "$i")"
done
for i in $(seq 1 "$small"); do
    head -c $(((RANDOM % 64 + 1) << 10)) /dev/urandom > "$work/src/index/$(printf %05d "$i")"
done
bytes=$(du -sb "$work/src" | cut -f1)
files=$(find "$work/src" -type f | wc -l)
echo "# source: $files files, $bytes bytes"

"$bin" keygen --out "$work/service" > /dev/null
export SEEDSHIP_DRIVE_PASSPHRASE=bench-passphrase

warm() {
    sync
    find "$work/src" -type f -exec cat {} + > /dev/null
}

now() { date +%s.%N; }

cp_times=()
sd_times=()
for round in $(seq 1 "$rounds"); do
    rm -rf "$work/cp" && mkdir -p "$work/cp"
    warm
    t0=$(now)
    cp -a "$work/src" "$work/cp/" && sync
    t1=$(now)
    cp_times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')")
    rm -rf "$work/cp"

    rm -rf "$work/drive" "$work"/drive.jrn* && mkdir -p "$work/drive"
    warm
    t0=$(now)
    "$bin" --json drive prepare --journal "$work/drive.jrn" --session bench \
        --srcdir "$work/src" --dstdir seeds/bench --drive "$work/drive" \
        --encrypt --service-key "$work/service.pub" > "$work/summary.json"
    t1=$(now)
    sd_times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')")
    "$bin" drive verify --journal "$work/drive.jrn" --drive "$work/drive" > /dev/null
    echo "round $round: cp -a + sync ${cp_times[-1]} s, seedship drive prepare ${sd_times[-1]} s (verified)"
done

mean() { printf '%s\n' "$@" | awk '{s += $1} END {printf "%.2f", s / NR}'; }
cp_mean=$(mean "${cp_times[@]}")
sd_mean=$(mean "${sd_times[@]}")
awk -v b="$bytes" -v c="$cp_mean" -v s="$sd_mean" 'BEGIN {
    printf "cp -a + sync:           %6.2f s  %7.1f MB/s\n", c, b / c / 1e6;
    printf "seedship drive prepare: %6.2f s  %7.1f MB/s\n", s, b / s / 1e6;
    printf "ratio (seedship / cp throughput): %.2f\n", c / s;
}'
tail -n 1 "$work/summary.json" | sed 's/^/last summary: /'
