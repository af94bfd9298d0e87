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

source bench/copy-common.sh
rounds=${BENCH_ROUNDS:-2}
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/seedship-drive-bench.XXXXXX")}
mkdir -p "$work"
trap 'rm -rf "$work/src" "$work/drive" "$work/cp" "$work"/*.jrn* "$work"/service.*' EXIT
rm -f "$work"/service.*

cargo build --release --quiet -p seedship-cli
bin=target/release/seedship

make_source_tree

"$bin" keygen --out "$work/service" > /dev/null
export SEEDSHIP_DRIVE_PASSPHRASE=bench-passphrase

cp_times=()
sd_times=()
for round in $(seq 1 "$rounds"); do
    time_cp

    rm -rf "$work/drive" "$work"/drive.jrn* && mkdir -p "$work/drive"
    warm "$work/src"
    t0=$(now)
    "$bin" --json drive prepare --journal "$work/drive.jrn" --session bench \
        --srcdir "$work/src" --dstdir seeds/bench --drive "$work/drive" \
        --encrypt --service-key "$work/service.pub" --not-a-mount-point > "$work/summary.json"
    t1=$(now)
    sd_times+=("$(elapsed "$t0" "$t1")")
    "$bin" drive verify --journal "$work/drive.jrn" --drive "$work/drive" > /dev/null
    echo "round $round: cp -a + sync ${cp_times[-1]} s, seedship drive prepare ${sd_times[-1]} s (verified)"
done

report "seedship drive prepare" "${sd_times[@]}"
tail -n 1 "$work/summary.json" | sed 's/^/last summary: /'
