#!/usr/bin/env bash
# `seedship plan` against the backup it predicts, on a generated tree of about MB megabytes
# (default 500): a third text-like, a third random bytes, a sixth small files, a sixth copies.
# Prints the plan's estimate and time, the backup's stored size and time (/usr/bin/time -v).
#
#   bash bench/plan.sh [MB] [BINARY]     # BINARY: default target/release/seedship
set -euo pipefail
mb=${1:-500}
bin=${2:-target/release/seedship}
work=$(mktemp -d /tmp/seedship-plan-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$work/tree" "$mb" <<'EOF'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
random.seed(20)
words = [("w%d" % i).encode() for i in range(5000)]
def text(n):
    out = bytearray()
    while len(out) < n:
        out += b" ".join(random.choice(words) for _ in range(200)) + b"\n"
    return bytes(out[:n])
total = mb << 20
made = 0
originals = []
for d in ["text", "random", "small", "copies"]:
    os.makedirs(os.path.join(root, d), exist_ok=True)
i = 0
while made < total:
    kind = i % 6
    if kind in (0, 1):
        n = random.randint(1 << 20, 24 << 20); data = text(n); path = f"text/t{i}.txt"
    elif kind in (2, 3):
        n = random.randint(1 << 20, 24 << 20); data = os.urandom(n); path = f"random/r{i}.bin"
    elif kind == 4:
        for j in range(64):
            n = random.randint(100, 64 << 10)
            with open(os.path.join(root, f"small/s{i}-{j}"), "wb") as f:
                f.write(text(n) if j % 2 else os.urandom(n))
            made += n
        i += 1
        continue
    else:
        src = random.choice(originals) if originals else None
        if src is None:
            i += 1
            continue
        data = open(os.path.join(root, src), "rb").read(); path = f"copies/c{i}"
    with open(os.path.join(root, path), "wb") as f:
        f.write(data)
    if kind in (0, 2):
        originals.append(path)
    made += len(data)
    i += 1
EOF
sync
echo "tree: $(du -sb "$work/tree" | cut -f1) bytes, $(find "$work/tree" -type f | wc -l) files; $(nproc) cores"
measure() { # label, command...
    local label=$1; shift
    /usr/bin/time -v "$@" >"$work/$label.out" 2>"$work/$label.time"
    local wall rss
    wall=$(grep 'Elapsed (wall clock)' "$work/$label.time" | awk '{print $NF}')
    rss=$(grep 'Maximum resident' "$work/$label.time" | awk '{print $NF}')
    echo "$label: wall $wall, peak ${rss} KiB"
}
measure plan "$bin" plan "$work/tree" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("plan: sample", d["sample"]["bytes"], "bytes; estimate", d["stored"]["total_bytes"], "bytes; backup predicted", round(d["offline"]["backup_hours"]*3600, 1), "s")' "$work/plan.out"
SEEDSHIP_PASSWORD=bench measure backup "$bin" backup --repo "$work/repo" --no-cache "$work/tree" --json
echo "backup: repository $(du -sb "$work/repo" | cut -f1) bytes"
