#!/usr/bin/env python3
"""The mixed tree of bench/plan.sh and bench/offline-path.sh: about MB megabytes under ROOT,
a third text-like, a third random bytes, a sixth small files, a sixth copies of other files.

Usage: python3 bench/mixed-tree.py ROOT MB
"""
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
