#!/usr/bin/env bash
# Benchmark: restic backing up a ~2 GB tree to a seedship vault over loopback versus restic
# backing up the same tree to a local directory, in one run (same machine, same data).
#
# Usage: bench/vault.sh [SIZE_MB] [ROUNDS]      (defaults: 2048 MB, 2 rounds, interleaved)
# Needs: restic on PATH; builds `seedship` in release mode. Work files go to $BENCH_DIR
# (default: a new directory under /tmp), removed at the end.
set -euo pipefail

SIZE_MB=${1:-2048}
ROUNDS=${2:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$(mktemp -d /tmp/seedship-vault-bench.XXXXXX)}
mkdir -p "$WORK"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release -q -p seedship-cli --manifest-path "$ROOT/Cargo.toml"
SEEDSHIP="$ROOT/target/release/seedship"

# Source tree: incompressible, non-duplicate data in files of 1-32 MiB plus 2000 small files.
SRC="$WORK/source"
mkdir -p "$SRC/small"
remaining=$((SIZE_MB * 1024 * 1024))
i=0
while [ "$remaining" -gt 0 ]; do
    size=$(( (1 + (i * 7) % 32) * 1024 * 1024 ))
    [ "$size" -gt "$remaining" ] && size=$remaining
    head -c "$size" /dev/urandom > "$SRC/file-$i.bin"
    remaining=$((remaining - size))
    i=$((i + 1))
done
for j in $(seq 1 2000); do head -c $((j * 13 % 8000 + 100)) /dev/urandom > "$SRC/small/s-$j"; done
TOTAL_BYTES=$(du -sb "$SRC" | cut -f1)
cat "$SRC"/file-* > /dev/null  # warm the page cache so both runs read from memory

# Server on loopback with embedded defaults (SQLite + local object directory).
"$SEEDSHIP" --json server --data-dir "$WORK/server" --listen 127.0.0.1:0 > "$WORK/server.out" 2> "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/server.out" ] && break; sleep 0.1; done
LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$WORK/server.out")
"$SEEDSHIP" admin account create bench --admin-credentials "$WORK/server/admin-credentials" --out "$WORK/account" > /dev/null

export RESTIC_PASSWORD=benchmark
export RESTIC_CACHE_DIR="$WORK/cache"
seconds() { python3 -c 'import time; print(time.time())'; }

run() {  # run <label> <repository>
    local label=$1 repo=$2 start end
    RESTIC_REPOSITORY="$repo" restic init -q
    start=$(seconds)
    RESTIC_REPOSITORY="$repo" restic backup -q "$SRC"
    end=$(seconds)
    python3 -c "print('%-6s %7.2f s  %7.1f MB/s' % ('$label', $end - $start, $TOTAL_BYTES / 1e6 / ($end - $start)))"
    echo "$label $end $start" >> "$WORK/times"
}

echo "restic $(restic version | cut -d' ' -f2), tree $((TOTAL_BYTES / 1000000)) MB in $((i + 2000)) files, $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
    rm -rf "$WORK/local-repo" "$WORK/cache"
    run local "$WORK/local-repo"
    rm -rf "$WORK/cache"
    "$SEEDSHIP" vault create "round$round" --credentials "$WORK/account" --out "$WORK/vault$round" > /dev/null
    "$SEEDSHIP" agent register --credentials "$WORK/vault$round" --name bench --config-dir "$WORK/agent$round" > /dev/null
    id=$(sed -n 's/^id = "\(.*\)"/\1/p' "$WORK/agent$round/agent.toml")
    secret=$(sed -n 's/^secret = "\(.*\)"/\1/p' "$WORK/agent$round/agent.toml")
    run vault "rest:http://$id:$secret@$LISTEN/vaults/bench/round$round/"
    rm -rf "$WORK/server/objects/vaults"
done
python3 - "$WORK/times" <<'PY'
import sys
best = {}
for line in open(sys.argv[1]):
    label, end, start = line.split()
    t = float(end) - float(start)
    best[label] = min(best.get(label, t), t)
print("best of each: local %.2f s, vault %.2f s; vault speed = %.0f%% of local" % (
    best["local"], best["vault"], 100 * best["local"] / best["vault"]))
PY
