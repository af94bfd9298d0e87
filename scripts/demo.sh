#!/usr/bin/env bash
# The main job on embedded defaults: build seedship, generate a sample tree, back it up into a
# new repository with a generated password, change a little and back up again (incremental),
# restore the latest snapshot, and prove the restore bit-exact (contents, types, symlink
# targets, permissions, mtimes). Needs only cargo (plus coreutils, diff and find).
#
# Environment: DEMO_DIR (work directory; default a new one under /tmp, removed at the end
#   unless DEMO_KEEP=1), DEMO_MB (approximate size of the sample tree, default 300).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "demo: building seedship (release)"
cargo build --release -q -p seedship-cli
seedship="$PWD/target/release/seedship"

work="${DEMO_DIR:-$(mktemp -d /tmp/seedship-demo.XXXXXX)}"
mkdir -p "$work"
finish() {
    if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: left the tree, repository and restore in $work"; else rm -rf "$work"; fi
}
trap finish EXIT
started=$(date +%s)

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

# --- backup, change, incremental backup, restore ---
export SEEDSHIP_PASSWORD
SEEDSHIP_PASSWORD="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
repo="$work/repo"
echo "demo: first backup into $repo"
"$seedship" backup "$tree" --repo "$repo"
echo "demo: changing 3 files, then an incremental backup"
printf 'changed\n' >> "$tree/docs/note-3.txt"
head -c 1000000 /dev/urandom > "$tree/media/new-clip.bin"
rm "$tree/docs/note-4.txt"
touch -d "@1700000000" "$tree/docs/note-3.txt" "$tree/media/new-clip.bin" "$tree/docs" "$tree/media"
"$seedship" backup "$tree" --repo "$repo"
"$seedship" snapshots --repo "$repo"
restored="$work/restored"
echo "demo: restoring the latest snapshot into $restored"
"$seedship" restore latest --target "$restored" --repo "$repo"
"$seedship" check --read-data --repo "$repo"

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
echo "demo: OK: $entries entries ($(du -sh --apparent-size "$tree" | cut -f1)) restored bit-exact" \
     "(contents, types, symlink targets, permissions, mtimes); repository $(du -sh "$repo" | cut -f1);" \
     "$(( $(date +%s) - started )) s after the build"
