#!/usr/bin/env python3
"""Generates a benchmark's data set, the same for every run with the same arguments.

Usage: generate-data.py KIND COUNT DIR
  files  COUNT small files of 1-8 KiB, 1000 per directory, each half random bytes and half
         text-like (a slice of a 16 MiB word-text pool)
  gb     COUNT x 10^9 bytes in files of 1-50 MB, alternately random bytes and text-like
         (slices of 4-64 KiB of the pool)
Used by bench/scaling.sh and bench/first-backup.sh.
"""
import os, random, sys
kind, count, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(count * 7 + (kind == "gb"))
words = [("w%d" % i).encode() for i in range(5000)]
pool = bytearray()
while len(pool) < 16 << 20:
    pool += b" ".join(rng.choice(words) for _ in range(200)) + b"\n"
pool = bytes(pool)
def text(n):  # slices of 4-64 KiB of the pool at random offsets
    parts, left = [], n
    while left > 0:
        k = min(left, rng.randint(4 << 10, 64 << 10))
        o = rng.randrange(len(pool) - k)
        parts.append(pool[o:o + k]); left -= k
    return b"".join(parts)
if kind == "files":
    for i in range(count):
        if i % 1000 == 0:
            d = os.path.join(root, "d%05d" % (i // 1000)); os.makedirs(d)
        n = rng.randint(1 << 10, 8 << 10); o = rng.randrange(len(pool) - n)
        with open(os.path.join(d, "f%03d" % (i % 1000)), "wb") as f:
            f.write(rng.randbytes(n // 2) + pool[o:o + n - n // 2])
else:
    os.makedirs(root)
    made, i, total = 0, 0, count * 10**9
    while made < total:
        n = min(rng.randint(10**6, 50 * 10**6), total - made)
        with open(os.path.join(root, "b%05d" % i), "wb") as f:
            if i % 2:
                f.write(text(n))
            else:
                for j in range(0, n, 4 << 20):
                    f.write(rng.randbytes(min(4 << 20, n - j)))
        made += n; i += 1
