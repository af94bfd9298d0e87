#!/usr/bin/env bash
# Peak memory of `seedship import receive` on two hostile drives of one job (issue 15, item 2;
# the figure is in docs/SECURITY.md): a server on loopback, a 512 MiB source prepared onto two
# drives with `seedship drive prepare`, the job created and shipped; then drive 1's manifest
# becomes a symbolic link to /dev/zero and drive 2 loses its data files, and the receive runs
# under `/usr/bin/time -v`.
#
# Usage: bash bench/hostile-receive.sh   (builds the debug binary the tests use)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p seedship-cli
seedship="$PWD/target/debug/seedship"
work=$(mktemp -d /tmp/seedship-hostile.XXXXXX)
data=$work/server
"$seedship" --json server --data-dir "$data" --listen 127.0.0.1:0 > "$work/server.out" 2> "$work/server.log" &
server_pid=$!
trap 'kill $server_pid; wait $server_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do grep -q server_ready "$work/server.out" 2> /dev/null && break; sleep 0.1; done
admin=$data/admin-credentials owner=$work/owner.credentials operator=$work/operator.credentials
"$seedship" admin account create acme --admin-credentials "$admin" --out "$owner" > /dev/null
"$seedship" admin operator create dc --admin-credentials "$admin" --out "$operator" > /dev/null
"$seedship" storage create acme --credentials "$owner" > /dev/null
"$seedship" container create seed --storage-account acme --credentials "$owner" > /dev/null
mkdir -p "$work/src" "$work/d1" "$work/d2"
head -c $((512 << 20)) /dev/urandom > "$work/src/big.img"
for i in $(seq 1 20); do head -c $((i * 1000)) /dev/urandom > "$work/src/small-$i.bin"; done
export SEEDSHIP_DRIVE_PASSPHRASE=measure
"$seedship" --json drive prepare --session sess1 --srcdir "$work/src" --dstdir seed/host1 --encrypt --not-a-mount-point \
  --service-key "$data/import-service.pub" --capacity $((300 << 20)) \
  --drive "$work/d1" --journal "$work/d1.jrn" --drive "$work/d2" --journal "$work/d2.jrn" > /dev/null
cat > "$work/spec.json" << 'JOB'
{"name": "hostile", "job_type": "Import",
 "destination": {"storage_account": "acme", "container": "seed", "prefix": "host1", "disposition": "rename"},
 "region": "local", "contact": {"name": "Ann", "email": "ann@example.com", "phone": ""},
 "return_shipping": {"carrier": "DHL", "account_number": "123", "address": {"recipient": "Ann",
   "street": ["2 Lane"], "city": "Utrecht", "postal_code": "3511", "country": "NL", "phone": ""}},
 "drives": []}
JOB
"$seedship" --json job create --credentials "$owner" --spec "$work/spec.json" --journal "$work/d1.jrn" --journal "$work/d2.jrn" > /dev/null
"$seedship" --json job ship hostile --credentials "$owner" --carrier DHL --tracking-number T-1 \
  --ship-date 2026-11-30 --drive-count 2 > /dev/null
du -sh "$work/d1" "$work/d2"
# drive 1: its manifest is a symlink to /dev/zero; drive 2: its data files are gone, so its
# manifest declares ~260 MiB that the drive does not hold
rm "$work/d1/sess1/manifest.ssm"; ln -s /dev/zero "$work/d1/sess1/manifest.ssm"
rm -r "$work/d2/sess1/data"; mkdir "$work/d2/sess1/data"
set +e
/usr/bin/time -v "$seedship" --json import receive --credentials "$operator" --job hostile \
  --identity "$data/import-service.key" --drive "$work/d1" --drive "$work/d2" > "$work/receive.out" 2> "$work/receive.err"
echo "exit $?"
set -e
cat "$work/receive.out"
grep -E "Maximum resident|Elapsed|Exit status" "$work/receive.err"
