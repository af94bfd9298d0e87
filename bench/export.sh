#!/usr/bin/env bash
# Benchmark (not a test): the export path of a ~2 GB vault, in one run.
#
#   1. `seedship export write` of the whole vault onto one drive directory (objects streamed
#      from the server's local-directory store over loopback, sealed, written, synced, then
#      verified and the transfer ended), against `cp -a` + `sync` of the vault's objects to the
#      same file system;
#   2. `seedship restore --from-drive` of the latest snapshot from that drive, against
#      `seedship restore --repo` of the same snapshot from a local copy of the vault;
# with peak resident memory of each seedship run (/usr/bin/time -v). For where the time goes,
# also the copy phase of export write (its JSON's copy.seconds: before the verification and
# the end of the transfer) and `drive prepare` of a local copy of the same objects (the same
# drive format without the network and the objects' checks).
#
# Usage: bench/export.sh [WORKDIR]   (default: a fresh directory under $TMPDIR or /tmp)
# Env:   BENCH_FILES (default 100 files of 20 MiB, incompressible), BENCH_ROUNDS (default 2;
#        the pairs alternate which runs first).
# Run it under `flock /work/bench.lock` on shared machines, so two benchmarks never overlap.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/copy-common.sh
rounds=${BENCH_ROUNDS:-2}
files=${BENCH_FILES:-100}
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/seedship-export-bench.XXXXXX")}
mkdir -p "$work"
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ ! -x /usr/bin/time ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq time > /dev/null
fi

cargo build --release --quiet -p seedship-cli
bin=$PWD/target/release/seedship
export SEEDSHIP_PASSWORD="bench-$RANDOM" SEEDSHIP_DRIVE_PASSPHRASE=bench-passphrase

# Runs a command under /usr/bin/time -v after a `sync`, then `sync`s again (counted); sets wall
# (s) and rss (MiB).
measure() {
    local log="$work/time.log" t0 t1
    sync
    t0=$(now)
    /usr/bin/time -v -o "$log" "$@" > "$work/last.out" 2> "$work/last.err" || {
        echo "bench: failed: $*" >&2; cat "$work/last.err" >&2; exit 1; }
    sync
    t1=$(now)
    wall=$(elapsed "$t0" "$t1")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
}

echo "# source: $files files of 20 MiB (incompressible) and a small tree"
mkdir -p "$work/src/small"
for i in $(seq 1 "$files"); do
    head -c $((20 << 20)) /dev/urandom > "$work/src/f$(printf %04d "$i")"
done
for i in $(seq 1 500); do
    head -c $(((RANDOM % 32 + 1) << 10)) /dev/urandom > "$work/src/small/s$i"
done

start_bench_server
owner="$work/owner.credentials"
operator="$work/operator.credentials"
"$bin" vault create laptop --credentials "$owner" --out "$work/laptop.vault" > /dev/null
"$bin" agent register --credentials "$work/laptop.vault" --name laptop --config-dir "$work/agent" > /dev/null
repo=$(awk -F'"' '/^id = / {id=$2} /^secret = / {s=$2} /^url = / {u=$2} END {
    split(u, p, "://"); printf "rest:%s://%s:%s@%s", p[1], id, s, p[2] }' "$work/agent/agent.toml")
"$bin" --no-progress backup "$work/src" --repo "$repo" --no-cache > /dev/null
vault_dir=$(find "$work/data/objects/vaults" -mindepth 1 -maxdepth 1 -type d)
bytes=$(du -sb "$vault_dir" | cut -f1)
echo "# vault: $(find "$vault_dir" -type f | wc -l) objects, $bytes bytes; $(nproc) cores"
"$bin" keygen --out "$work/owner" > /dev/null
# A local copy of the vault: the repository `restore --repo` reads in part 2.
cp -a "$vault_dir" "$work/local-repo"

cat > "$work/spec.json" << 'EOF'
{"name": "PLACEHOLDER", "job_type": "Export", "region": "local",
 "contact": {"name": "Bench", "email": "bench@example.com", "phone": ""},
 "return_shipping": {"carrier": "DHL", "account_number": "1",
   "address": {"recipient": "Bench", "street": ["1 Road"], "city": "X", "postal_code": "1", "country": "NL", "phone": ""}}}
EOF

cp_times=()
ex_times=()
ex_copy=()
ex_rss=()
pr_times=()
ld_times=()
ld_rss=()
lr_times=()
lr_rss=()
for round in $(seq 1 "$rounds"); do
    job="bench-$round"
    id=$(printf '%032x' "$round")
    sed "s/PLACEHOLDER/$job/" "$work/spec.json" > "$work/spec-$round.json"
    "$bin" job create --type export --credentials "$owner" --spec "$work/spec-$round.json" \
        --vault laptop --owner-key "$work/owner.pub" > /dev/null
    "$bin" job ship --job "$job" --credentials "$owner" --carrier DHL \
        --tracking-number "BENCH-$$-$round" --ship-date 2026-12-01 --drive-count 1 > /dev/null
    "$bin" export receive --job "$job" --credentials "$operator" --drive-id "$id" > /dev/null
    drive="$work/drive-$round"
    mkdir -p "$drive"

    # 1. export write against cp -a + sync of the vault's objects, both from the page cache.
    run_export() {
        warm "$vault_dir"
        measure "$bin" --json --no-progress export write --job "$job" --credentials "$operator" \
            --drive "$id=$drive" --journal-dir "$work/journals" --not-a-mount-point
        grep -q '"state":"Completed"' "$work/last.out" || { echo "export did not complete:"; cat "$work/last.out"; exit 1; }
        ex_times+=("$wall"); ex_rss+=("$rss")
        ex_copy+=("$(python3 -c 'import json,sys; print("%.2f" % json.loads(sys.stdin.read().splitlines()[-1])["copy"]["seconds"])' < "$work/last.out")")
    }
    run_cp() {
        rm -rf "$work/cp-$round" && mkdir -p "$work/cp-$round"
        warm "$vault_dir"
        local t0 t1
        t0=$(now)
        cp -a "$vault_dir" "$work/cp-$round/" && sync
        t1=$(now)
        cp_times+=("$(elapsed "$t0" "$t1")")
    }
    # the same drive format from a local copy of the objects: what the network and the
    # objects' checks add
    run_prepare() {
        rm -rf "$work/prep-$round" "$work/prep-$round.jrn" && mkdir -p "$work/prep-$round"
        warm "$work/local-repo"
        measure "$bin" --json --no-progress drive prepare --journal "$work/prep-$round.jrn" \
            --session "local$round" --srcdir "$work/local-repo" --dstdir export/repository \
            --drive "$work/prep-$round" --encrypt --service-key "$work/owner.pub" --not-a-mount-point
        pr_times+=("$wall")
    }
    if [ $((round % 2)) -eq 1 ]; then run_cp; run_export; run_prepare; else run_prepare; run_export; run_cp; fi
    echo "round $round: cp -a + sync ${cp_times[-1]} s; export write ${ex_times[-1]} s (copy ${ex_copy[-1]} s, then verify and end), ${ex_rss[-1]} MiB; drive prepare from a local copy ${pr_times[-1]} s"
    rm -rf "$work/prep-$round" "$work/prep-$round.jrn"

    # 2. restore from the drive against restore from the local copy, into fresh targets.
    run_from_drive() {
        rm -rf "$work/t-drive"
        warm "$drive"
        measure "$bin" --json --no-progress restore latest --target "$work/t-drive" \
            --from-drive "$drive" --key "$work/owner.key"
        ld_times+=("$wall"); ld_rss+=("$rss")
    }
    run_local() {
        rm -rf "$work/t-local"
        warm "$work/local-repo"
        measure "$bin" --json --no-progress restore latest --target "$work/t-local" \
            --repo "$work/local-repo" --no-cache
        lr_times+=("$wall"); lr_rss+=("$rss")
    }
    if [ $((round % 2)) -eq 1 ]; then run_local; run_from_drive; else run_from_drive; run_local; fi
    diff -r "$work/src" "$work/t-drive/${work#/}/src" > /dev/null || { echo "restore from drive differs"; exit 1; }
    echo "round $round: restore --repo ${lr_times[-1]} s, ${lr_rss[-1]} MiB; restore --from-drive ${ld_times[-1]} s, ${ld_rss[-1]} MiB"
    rm -rf "$work/cp-$round" "$work/t-drive" "$work/t-local"
done

report "seedship export write" "${ex_times[@]}"
echo "export write's copy phase: $(mean "${ex_copy[@]}") s; drive prepare from a local copy: $(mean "${pr_times[@]}") s"
lr=$(mean "${lr_times[@]}")
ld=$(mean "${ld_times[@]}")
awk -v b="$bytes" -v l="$lr" -v d="$ld" 'BEGIN {
    printf "%-24s %6.2f s  %7.1f MB/s\n", "restore --repo:", l, b / l / 1e6;
    printf "%-24s %6.2f s  %7.1f MB/s\n", "restore --from-drive:", d, b / d / 1e6;
    printf "ratio (from-drive / local restore throughput): %.2f\n", l / d;
}'
max() { printf '%s\n' "$@" | sort -n | tail -1; }
echo "peak memory: export write $(max "${ex_rss[@]}") MiB, restore --from-drive $(max "${ld_rss[@]}") MiB, restore --repo $(max "${lr_rss[@]}") MiB"
