# Shared by bench/drive.sh, bench/receive.sh and bench/export.sh (sourced): the ~2 GB source tree of restic-like
# pack files and small index files, the page-cache warm-up, timing, the `cp -a` + `sync` baseline
# and the report, and the bench server (start_bench_server). Expects $work; reads BENCH_PACKS (default 120 files of 16 MiB) and BENCH_SMALL
# (default 2000 files of 1-64 KiB).

# Builds $work/src and sets $bytes and $files.
make_source_tree() {
    local packs=${BENCH_PACKS:-120} small=${BENCH_SMALL:-2000} i
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
}

# `sync`, then reads the tree $1 once, so the timed run reads from the page cache.
warm() {
    sync
    find "$1" -type f -exec cat {} + > /dev/null
}

now() { date +%s.%N; }

# Seconds between two `now` readings, two decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

# One timed `cp -a` + `sync` of the source tree into $1 (default: $work/cp, removed afterwards;
# a directory given is kept, so that the next round does not allocate inodes right after
# freeing thousands, which ext4 without a journal makes slow); appends to cp_times.
time_cp() {
    local t0 t1 dst=${1:-$work/cp}
    rm -rf "$dst" && mkdir -p "$dst"
    warm "$work/src"
    t0=$(now)
    cp -a "$work/src" "$dst/" && sync
    t1=$(now)
    cp_times+=("$(elapsed "$t0" "$t1")")
    [ -n "${1:-}" ] || rm -rf "$dst"
}

mean() { printf '%s\n' "$@" | awk '{s += $1} END {printf "%.2f", s / NR}'; }

# Prints the means of cp_times and of the tool's times ($2...), named $1, and the ratio.
report() {
    local label=$1 cp_mean tool_mean
    shift
    cp_mean=$(mean "${cp_times[@]}")
    tool_mean=$(mean "$@")
    awk -v b="$bytes" -v c="$cp_mean" -v s="$tool_mean" -v l="$label" 'BEGIN {
        printf "%-24s %6.2f s  %7.1f MB/s\n", "cp -a + sync:", c, b / c / 1e6;
        printf "%-24s %6.2f s  %7.1f MB/s\n", l ":", s, b / s / 1e6;
        printf "ratio (%s / cp throughput): %.2f\n", l, c / s;
    }'
}

# Starts `seedship server` ($bin) on a free loopback port with its data in $work/data, records
# its pid in server_pid (the caller's trap kills it), and creates the account owner
# $work/owner.credentials (account "bench") and the operator $work/operator.credentials.
start_bench_server() {
    "$bin" --json server --data-dir "$work/data" --listen 127.0.0.1:0 > "$work/server.out" 2> "$work/server.err" &
    server_pid=$!
    for _ in $(seq 1 100); do
        grep -q server_ready "$work/server.out" 2> /dev/null && break
        sleep 0.1
    done
    local admin="$work/data/admin-credentials"
    "$bin" admin account create bench --admin-credentials "$admin" --out "$work/owner.credentials" > /dev/null
    "$bin" admin operator create dc --admin-credentials "$admin" --out "$work/operator.credentials" > /dev/null
}
