#!/usr/bin/env bash
# The main job on embedded defaults: the whole offline-seeding workflow on one machine.
#
#   1. start `seedship server` on 127.0.0.1 with a temporary data directory (SQLite, local
#      object directory); create an account, a storage account, a container and a vault, an
#      operator for the "data centre", and register an agent;
#   2. generate a sample tree (text, binary, empty and large files, symlinks, odd names, modes,
#      mtimes), set an offline policy and run the first backup: it goes to the staging location;
#   3. `diskprep` it onto two drives (directories), encrypted to the import service's key, which
#      creates the import job; record the shipment; a scheduled run while the drives travel
#      still backs up, into the staging location (no backup gap), and says it waits for the job;
#   4. at the "data centre": receive both drives into the job's container and ship them back
#      (the job ends Completed);
#   5. change a few files; the next backup seeds the vault from the container (server-side,
#      nothing uploaded), uploads what the staging location gained while the drives travelled
#      (the catch-up) and backs up incrementally over the network; restore from the vault and
#      prove the restore bit-exact; print a summary.
#
# Needs only cargo (plus coreutils, diff, find, and curl for the byte count, if present).
# Environment: DEMO_DIR (work directory; default a new one under /tmp, removed at the end
#   unless DEMO_KEEP=1), DEMO_MB (approximate size of the sample tree, default 300).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "demo: building seedship (release)"
cargo build --release -q -p seedship-cli
seedship="$PWD/target/release/seedship"

work="${DEMO_DIR:-$(mktemp -d /tmp/seedship-demo.XXXXXX)}"
mkdir -p "$work"
server_pid=
finish() {
    [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null && wait "$server_pid" 2> /dev/null
    if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: left everything in $work"; else rm -rf "$work"; fi
}
trap finish EXIT
started=$(date +%s)
# The first value of a string or number field in the JSON document on stdin.
field() { grep -o "\"$1\":\"\{0,1\}[^\",}]*" | head -n 1 | sed 's/^[^:]*:"\{0,1\}//'; }

# --- 1. the cloud side on embedded defaults ---
data="$work/server"
echo "demo: starting seedship server (data in $data)"
"$seedship" --json server --data-dir "$data" --listen 127.0.0.1:0 > "$work/server.out" 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 1 300); do
    grep -q server_ready "$work/server.out" 2> /dev/null && break
    kill -0 "$server_pid" 2> /dev/null || { echo "demo: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done
admin="$data/admin-credentials"
owner="$work/owner.credentials"
operator="$work/operator.credentials"
"$seedship" admin account create demo --admin-credentials "$admin" --out "$owner" > /dev/null
"$seedship" admin operator create datacentre --admin-credentials "$admin" --out "$operator" > /dev/null
"$seedship" storage create demostore --credentials "$owner" > /dev/null
"$seedship" container create seed --storage-account demostore --credentials "$owner" > /dev/null
"$seedship" vault create laptop --credentials "$owner" --out "$work/laptop.vault" > /dev/null
"$seedship" agent register --credentials "$work/laptop.vault" --name laptop --config-dir "$work/agent" > /dev/null
agent_field() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" "$work/agent/agent.toml"; }
agent_url=$(agent_field url)

# --- sample tree: text, binary, empty and large files, symlinks, odd names, modes, mtimes ---
tree="$work/sample"
mb="${DEMO_MB:-300}"
echo "demo: generating a ~${mb} MB sample tree in $tree"
mkdir -p "$tree/docs" "$tree/media" "$tree/code/src/deep/er" "$tree/empty dir" "$tree/ünïcödé ✓"
for i in $(seq 1 400); do   # many small text files (compressible, with duplicates)
    { echo "document $i"; seq 1 $((i * 7)); } > "$tree/docs/note-$i.txt"
done
for i in $(seq 1 50); do cp "$tree/docs/note-7.txt" "$tree/code/src/deep/dup-$i.txt"; done
for i in $(seq 1 8); do     # random media (incompressible)
    head -c $((mb * 1024 * 1024 / 2 / 8)) /dev/urandom > "$tree/media/clip-$i.bin"
done
{ yes "a log line that repeats, as log lines do $RANDOM" || true; } | head -c $((mb * 1024 * 1024 / 2)) > "$tree/code/big.log"
: > "$tree/empty file"
printf 'spaces\n' > "$tree/name with spaces.txt"
printf 'newline\n' > "$tree/new"$'\n'"line"
printf 'utf-8\n' > "$tree/ünïcödé ✓/файл.txt"
printf '#!/bin/sh\necho hello\n' > "$tree/code/run.sh"
ln -s ../docs/note-1.txt "$tree/code/link-to-note"
ln -s /nonexistent/target "$tree/dangling link"
chmod 755 "$tree/code/run.sh"; chmod 600 "$tree/docs/note-1.txt"; chmod 444 "$tree/docs/note-2.txt"
chmod 700 "$tree/empty dir"
# distinct mtimes, files first and directories last (deepest first)
n=0
while IFS= read -r -d '' entry; do
    n=$((n + 1)); touch -h -d "@$((1500000000 + n * 3607)).$((n % 1000))123" "$entry"
done < <(find "$tree" -mindepth 1 ! -type d -print0 | sort -z)
while IFS= read -r -d '' entry; do
    n=$((n + 1)); touch -d "@$((1500000000 + n * 3607)).456789012" "$entry"
done < <(find "$tree" -type d -print0 | sort -zr)

# --- 2. the offline policy and the first backup, to staging ---
export SEEDSHIP_PASSWORD
SEEDSHIP_PASSWORD="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
job=laptop-first-backup
staging="$work/staging"
agent=(--config-dir "$work/agent" --host laptop --cache-dir "$work/cache")
"$seedship" policy set "$tree" --offline --staging "$staging" --job "$job" \
    --storage-account demostore --container seed --config-dir "$work/agent"
echo "demo: first backup (offline policy): into the staging location $staging"
"$seedship" backup "${agent[@]}"
staged_bytes=$(du -sb "$staging/$job/repository" | cut -f1)

# --- 3. diskprep: two drives, the import job, shipping ---
export SEEDSHIP_DRIVE_PASSPHRASE
SEEDSHIP_DRIVE_PASSPHRASE="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
capacity=$(( staged_bytes * 6 / 10 + (4 << 20) ))   # each drive a little over half the backup
mkdir -p "$work/drive1" "$work/drive2"
cat > "$work/job-details.json" << 'JOB'
{"region": "local", "contact": {"name": "Demo Operator", "email": "ops@example.com", "phone": "+31 20 000 0000"},
 "return_shipping": {"carrier": "DHL", "account_number": "123456",
   "address": {"recipient": "Demo Operator", "street": ["1 Backup Lane"], "city": "Amsterdam",
               "postal_code": "1000 AA", "country": "NL", "phone": "+31 20 000 0000"}}}
JOB
echo "demo: diskprep onto two drives of $((capacity >> 20)) MiB, then the import job"
# The drives here are directories of the work directory, not mounted disks: --not-a-mount-point
# (a real drive is a mounted file system, see docs/cli.md "Using a whole disk as a drive").
"$seedship" diskprep --staging "$staging" --credentials "$owner" --drive "$work/drive1" --drive "$work/drive2" \
    --not-a-mount-point --capacity "$capacity" --details "$work/job-details.json" --yes
for n in 1 2; do
    "$seedship" drive verify --journal "$staging/$job/journals/drive-$n.jrn" --drive "$work/drive$n"
done
"$seedship" diskprep --staging "$staging" --ship --credentials "$owner" --carrier DHL \
    --tracking-number "DEMO-$$-$(date +%s)" --ship-date "$(date -u +%F)" --drive-count 2 --yes > /dev/null
echo "demo: while the drives travel, a scheduled run still backs up, into the staging location:"
printf 'written while the drives travel\n' > "$tree/docs/travel.txt"
touch -d "@1690000000" "$tree/docs/travel.txt" "$tree/docs"
"$seedship" --json agent run --once "${agent[@]}" > "$work/travel.json"
grep -q '"backed_up":true' "$work/travel.json" || {
    echo "demo: FAILED: no backup while the drives travel:" >&2; cat "$work/travel.json" >&2; exit 1; }

# --- 4. the data centre ---
echo "demo: the data centre receives both drives"
"$seedship" import receive --credentials "$operator" --job "$job" \
    --identity "$data/import-service.key" --drive "$work/drive1" --drive "$work/drive2"
"$seedship" import ship-back --credentials "$operator" --job "$job" --tracking-number "RET-$$" > /dev/null
"$seedship" diskprep --staging "$staging" --status --credentials "$owner"
state=$("$seedship" --json job show "$job" --credentials "$owner" | field state)
[ "$state" = Completed ] || { echo "demo: FAILED: the import job is $state, not Completed" >&2; exit 1; }
"$seedship" job custody "$job" --credentials "$owner" > /dev/null

# --- 5. the next backup seeds the vault, then goes incremental over the network ---
echo "demo: changing 3 files; the next backup seeds the vault, catches up and backs up incrementally"
printf 'changed\n' >> "$tree/docs/note-3.txt"
head -c 1000000 /dev/urandom > "$tree/media/new-clip.bin"
rm "$tree/docs/note-4.txt"
touch -d "@1700000000" "$tree/docs/note-3.txt" "$tree/media/new-clip.bin" "$tree/docs" "$tree/media"
received() {
    command -v curl > /dev/null || return 0
    local token
    token="$(sed -n 's/^id = "\(.*\)"$/\1/p' "$admin").$(sed -n 's/^secret = "\(.*\)"$/\1/p' "$admin")"
    curl -fsS -H "Authorization: Bearer $token" "${agent_url%%/vaults/*}/api/v1/metrics" | field vault_bytes_received
}
before=$(received)
"$seedship" --json backup "${agent[@]}" > "$work/incremental.json"
after=$(received)
grep -q '"message_type":"seeded"' "$work/incremental.json" || { echo "demo: FAILED: the vault was not seeded" >&2; exit 1; }
packed=$(grep -v '"message_type":"seeded"' "$work/incremental.json" | field data_added_packed)
parent=$(grep -v '"message_type":"seeded"' "$work/incremental.json" | field parent_id)
[ -n "$parent" ] || { echo "demo: FAILED: the backup to the vault was not incremental" >&2; exit 1; }
# Without --repo the registered agent's vault is used (no URL with the agent's secret to build).
vault=(--config-dir "$work/agent" --cache-dir "$work/cache")
"$seedship" snapshots "${vault[@]}"
restored="$work/restored"
echo "demo: restoring the latest snapshot from the vault into $restored"
"$seedship" restore latest --target "$restored" "${vault[@]}"
"$seedship" check --read-data "${vault[@]}"

# --- compare: contents, then type/mode/mtime/symlink target of every entry ---
copy="$restored$(cd "$tree" && pwd -P)"
diff -r --no-dereference "$tree" "$copy"
listing() { (cd "$1" && find . -printf '%p|%y|%m|%T@|%l\n' | LC_ALL=C sort); }
if ! diff <(listing "$tree") <(listing "$copy") >/dev/null; then
    echo "demo: FAILED: metadata differs:" >&2
    diff <(listing "$tree") <(listing "$copy") | head -20 >&2
    exit 1
fi
entries=$(listing "$tree" | wc -l)
echo
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "demo: OK, offline seeding end to end in $(( $(date +%s) - started )) s after the build"
echo "  data:                  $entries entries, $(mib "$(du -sb --apparent-size "$tree" | cut -f1)")"
echo "  staged repository:     $(mib "$staged_bytes") (compressed, encrypted, deduplicated)"
echo "  drives used:           2 ($(du -sh "$work/drive1" | cut -f1) + $(du -sh "$work/drive2" | cut -f1)), import job Completed"
if [ -n "$before" ] && [ -n "$after" ]; then
    echo "  catch-up + incremental: $(mib $((after - before))) crossed the network ($(mib "$packed") of new packs in the last backup)"
else
    echo "  incremental upload:    $(mib "$packed") of new packs (curl not found: server byte count not read)"
fi
echo "  restore from vault:    bit-exact (contents, types, symlink targets, permissions, mtimes)"
