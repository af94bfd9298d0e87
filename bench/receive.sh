#!/usr/bin/env bash
# Benchmark (not a test): `seedship import receive` of a ~2 GB drive into the server's
# local-directory store against `cp -a` + `sync` of the same source tree to the same file
# system, in one run.
#
# Usage: bench/receive.sh [WORKDIR]   (default: a fresh directory under $TMPDIR or /tmp)
# Env:   BENCH_PACKS (default 120 files of 16 MiB), BENCH_SMALL (default 2000 files of 1-64 KiB),
#        BENCH_ROUNDS (default 2; cp and receive alternate).
#
# Each round prepares its own drive (not timed). Nothing a round writes is deleted before the
# end (about 6 GB of disk per round): on ext4 without a journal, allocating inodes right after
# thousands were freed is many times slower, and would slow later rounds (see
# docs/BENCHMARKS.md). Before every timed run: `sync`, then the tree being
# read (the source for cp, the drive for receive) is read once, so both read from the page
# cache and pay for writing. cp is timed until its final `sync` returns; receive until it exits
# and a `sync` returns (the server's store writes files through a temporary and a rename).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/copy-common.sh
rounds=${BENCH_ROUNDS:-2}
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/seedship-receive-bench.XXXXXX")}
mkdir -p "$work"
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null || true
    rm -rf "$work/src" "$work"/drive-* "$work"/cp-* "$work/data" "$work"/*.jrn* "$work"/*.credentials
}
trap cleanup EXIT

cargo build --release --quiet -p seedship-cli
bin=$PWD/target/release/seedship

rm -rf "$work/data"
make_source_tree

start_bench_server
"$bin" storage create bench --credentials "$work/owner.credentials" > /dev/null
"$bin" container create seed --storage-account bench --credentials "$work/owner.credentials" > /dev/null

export SEEDSHIP_DRIVE_PASSPHRASE=bench-passphrase
cat > "$work/job.json" << 'EOF'
{"name": "PLACEHOLDER", "job_type": "Import",
 "destination": {"storage_account": "bench", "container": "seed", "prefix": "", "disposition": "overwrite"},
 "region": "local", "contact": {"name": "Bench", "email": "bench@example.com", "phone": ""},
 "return_shipping": {"carrier": "DHL", "account_number": "1",
   "address": {"recipient": "Bench", "street": ["1 Road"], "city": "X", "postal_code": "1", "country": "NL", "phone": ""}},
 "drives": []}
EOF

cp_times=()
rc_times=()
for round in $(seq 1 "$rounds"); do
    time_cp "$work/cp-$round"

    # a fresh drive and job each round (a received drive cannot be received again)
    job="bench-$round"
    drive="$work/drive-$round"
    rm -rf "$drive" "$drive".jrn* && mkdir -p "$drive"
    "$bin" --json drive prepare --journal "$drive.jrn" --session "round$round" \
        --srcdir "$work/src" --dstdir "seed/r$round" --drive "$drive" \
        --encrypt --service-key "$work/data/import-service.pub" --not-a-mount-point > /dev/null
    sed "s/PLACEHOLDER/$job/" "$work/job.json" > "$work/job-$round.json"
    "$bin" job create --credentials "$work/owner.credentials" --spec "$work/job-$round.json" \
        --journal "$drive.jrn" > /dev/null
    "$bin" job ship "$job" --credentials "$work/owner.credentials" --carrier DHL \
        --tracking-number "BENCH-$$-$round" --ship-date 2026-12-01 --drive-count 1 > /dev/null
    warm "$drive"
    t0=$(now)
    "$bin" --json --no-progress import receive --credentials "$work/operator.credentials" --job "$job" \
        --identity "$work/data/import-service.key" --drive "$drive" > "$work/receive.json"
    sync
    t1=$(now)
    rc_times+=("$(elapsed "$t0" "$t1")")
    grep -q '"state":"Completed"' "$work/receive.json" || { echo "receive did not complete:"; cat "$work/receive.json"; exit 1; }
    echo "round $round: cp -a + sync ${cp_times[-1]} s, seedship import receive ${rc_times[-1]} s"
done

report "seedship import receive" "${rc_times[@]}"
