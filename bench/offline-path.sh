#!/usr/bin/env bash
# Benchmark (not a test): the whole offline path as an operator runs it, against one copy.
#
#   1. `seedship backup PATH --repo STAGING --no-cache` of a generated tree of about MB
#      megabytes (bench/plan.sh's generator: a third text-like, a third random bytes, a sixth
#      small files, a sixth copies of other files) into a new local staging repository, then
#      `sync`;
#   2. `seedship drive prepare` of the staging repository onto one drive directory (--encrypt,
#      a fresh `keygen` service key, --not-a-mount-point), then `sync`;
#   against `cp -a` of the same tree to the same file system, then `sync`.
# Each step runs under /usr/bin/time -v (wall, user+sys CPU, peak RSS, file system outputs);
# the `sync` after it is timed and added to its wall time. The tree is read once (`sync` and
# cat > /dev/null) before the cp and before the backup, so both read it from the page cache;
# drive prepare reads the staging repository as the backup left it (just written: mostly in
# the page cache), as it is when an operator runs one after the other. Everything lives in one
# work directory on one file system; the copy is deleted before the backup, the staging
# repository and the drive at the end of each round.
#
# Usage: bash bench/offline-path.sh [MB] [BINARY]   # MB default 2048; BINARY default
#        target/release/seedship
# Env:   BENCH_DIR (work directory, default a new one under /tmp; removed at the end),
#        BENCH_ROUNDS (default 1).
# Run it under `flock /work/bench.lock` on shared machines, so two benchmarks never overlap.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-2048}
bin=$(realpath "${2:-target/release/seedship}")
rounds=${BENCH_ROUNDS:-1}
[ -x "$bin" ] || { echo "bench: $bin is not an executable (build it, or pass BINARY)" >&2; exit 1; }
work=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/seedship-offline-bench.XXXXXX")}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
export SEEDSHIP_PASSWORD="bench-$RANDOM-$RANDOM" SEEDSHIP_DRIVE_PASSPHRASE=bench-passphrase

# The tree: bench/plan.sh's generator.
python3 bench/mixed-tree.py "$work/tree" "$mb"
tree_bytes=$(du -sb --apparent-size "$work/tree" | cut -f1)
tree_files=$(find "$work/tree" -type f | wc -l)
echo "tree: $tree_files files, $tree_bytes bytes; $(nproc) cores; $("$bin" --version 2>/dev/null || echo seedship) ($bin)"
"$bin" keygen --out "$work/service" > /dev/null

warm() { sync; find "$work/tree" -type f -exec cat {} + > /dev/null; }

# label, command...: runs the command under /usr/bin/time -v, then `sync` (timed); sets wall
# (command + sync, s), cmd_wall, sync_wall, cpu (user+sys s), rss (MiB), out_bytes (file
# system outputs x 512: what the process dirtied for writing).
measure() {
    local label=$1 log="$work/$1.time" t0 t1
    shift
    /usr/bin/time -v -o "$log" "$@" > "$work/$label.out" 2> "$work/$label.err" || {
        echo "bench: $label failed: $*" >&2; cat "$work/$label.err" >&2; exit 1; }
    t0=$(date +%s.%N); sync; t1=$(date +%s.%N)
    cmd_wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
    sync_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    wall=$(awk -v a="$cmd_wall" -v b="$sync_wall" 'BEGIN {printf "%.2f", a + b}')
    cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f", u+s}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
    out_bytes=$(awk -F': ' '/File system outputs/ {printf "%.0f", $2*512}' "$log")
}
size() { du -sb --apparent-size "$1" | cut -f1; }
mbs() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }
row() { # step, bytes on disk
    printf '%-20s %8s %8s %7s %8s %9s %11s %11s\n' "$1" "$cmd_wall" "$sync_wall" "$wall" "$cpu" "$rss" "$2" "$(mbs "$out_bytes")"
}

for round in $(seq 1 "$rounds"); do
    echo "round $round"
    printf '%-20s %8s %8s %7s %8s %9s %11s %s\n' step "cmd s" "sync s" "wall s" "CPU s" "peak MiB" "MB on disk" "MB written (rusage)"
    warm
    measure cp cp -a "$work/tree" "$work/cp"
    cp_wall=$wall cp_cpu=$cpu
    row "cp -a + sync" "$(mbs "$(size "$work/cp")")"
    rm -rf "$work/cp"

    warm
    measure backup "$bin" backup "$work/tree" --repo "$work/staging" --no-cache --json
    b_wall=$wall b_cpu=$cpu staging=$(size "$work/staging")
    row "backup to staging" "$(mbs "$staging")"

    mkdir -p "$work/drive"
    measure prepare "$bin" --json drive prepare --journal "$work/drive.jrn" --session bench \
        --srcdir "$work/staging" --dstdir seeds/bench --drive "$work/drive" \
        --encrypt --service-key "$work/service.pub" --not-a-mount-point
    p_wall=$wall p_cpu=$cpu drive=$(size "$work/drive")
    row "drive prepare" "$(mbs "$drive")"

    total=$(awk -v a="$b_wall" -v b="$p_wall" 'BEGIN {printf "%.2f", a + b}')
    awk -v tb="$tree_bytes" -v st="$staging" -v dr="$drive" -v b="$b_wall" -v p="$p_wall" \
        -v t="$total" -v c="$cp_wall" -v bc="$b_cpu" -v pc="$p_cpu" -v cc="$cp_cpu" 'BEGIN {
        printf "offline path (backup + drive prepare): %.2f s, %.1f CPU s; cp -a + sync: %.2f s, %.1f CPU s\n", t, bc + pc, c, cc;
        printf "ratio offline path / cp time: %.2f (backup alone %.2f, drive prepare alone %.2f)\n", t / c, b / c, p / c;
        printf "share of the offline path: backup %.0f%%, drive prepare %.0f%%\n", 100 * b / t, 100 * p / t;
        printf "bytes: source %.1f MB; staging repository %.1f MB (%.0f%% of the source), written again onto the drive as %.1f MB\n", tb / 1e6, st / 1e6, 100 * st / tb, dr / 1e6;
        printf "written in all: %.1f MB (staging + drive) against cp'"'"'s %.1f MB: %.2fx\n", (st + dr) / 1e6, tb / 1e6, (st + dr) / tb;
    }'
    tail -n 1 "$work/prepare.out" | cut -c1-400 | sed 's/^/drive prepare summary: /'
    rm -rf "$work/staging" "$work/drive" "$work"/drive.jrn*
done
