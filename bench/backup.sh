#!/usr/bin/env bash
# Benchmark: the same tree backed up by seedship (release build), restic and borg (zstd,3) in one
# run. For each tool: first backup (wall time, throughput, CPU seconds, peak memory),
# repository size, a second backup after 1% of the bytes changed (added size), and a full
# restore (wall time, peak memory), with ratios against restic.
#
# Usage: bash bench/backup.sh [PATH...]
#   PATHs default to /usr/share plus /usr/lib/x86_64-linux-gnu and /usr/lib/llvm-14 when present
#   (about 1.6 GB of real system files). They are copied first, so the 1% change never touches
#   the originals.
# Environment: BENCH_DIR (work directory, default a new one under /tmp; removed at the end
#   unless BENCH_KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -gt 0 ]; then
    sources=("$@")
else
    sources=()
    for candidate in /usr/share /usr/lib/x86_64-linux-gnu /usr/lib/llvm-14; do
        [ -d "$candidate" ] && sources+=("$candidate")
    done
fi
for tool in restic borg; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found (bash scripts/install-test-deps.sh)" >&2; exit 1; }
done
if [ ! -x /usr/bin/time ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq time >/dev/null
fi

cargo build --release -q -p seedship-cli
seedship="$PWD/target/release/seedship"

work="${BENCH_DIR:-$(mktemp -d /tmp/seedship-bench.XXXXXX)}"
mkdir -p "$work"
cleanup() {
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: left everything in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

export SEEDSHIP_PASSWORD="bench-$RANDOM-$RANDOM" RESTIC_PASSWORD BORG_PASSPHRASE
RESTIC_PASSWORD="$SEEDSHIP_PASSWORD"; BORG_PASSPHRASE="$SEEDSHIP_PASSWORD"
export RESTIC_CACHE_DIR="$work/restic-cache" BORG_BASE_DIR="$work/borg-base"

tree="$work/tree"
echo "bench: copying ${sources[*]} to $tree"
mkdir -p "$tree"
for src in "${sources[@]}"; do
    mkdir -p "$tree$(dirname "$src")"
    cp -a "$src" "$tree$src"
done
tree_bytes=$(du -sb --apparent-size "$tree" | cut -f1)
tree_files=$(find "$tree" -type f | wc -l)
echo "bench: $tree_files files, $tree_bytes bytes; $(nproc) cores"

# Runs a command under /usr/bin/time -v; sets wall, cpu (user+sys seconds), rss (MiB).
measure() {
    local log="$work/time.log"
    /usr/bin/time -v -o "$log" "$@" >"$work/last.out" 2>"$work/last.err" || {
        echo "bench: failed: $*" >&2; cat "$work/last.err" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
    cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f", u+s}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
}
repo_bytes() { du -sb --apparent-size "$1" | cut -f1; }
warm() { tar -cf - -C "$work" tree >/dev/null; }   # same page-cache state for every tool

declare -A first_wall first_cpu first_rss size added restore_wall restore_rss

backup() { # tool, label
    case "$1" in
        seedship) measure "$seedship" backup "$tree" --repo "$work/seedship-repo" --json ;;
        restic) measure restic --repo "$work/restic-repo" backup --quiet "$tree" ;;
        borg) measure borg create --compression zstd,3 "$work/borg-repo::$2" "$tree" ;;
    esac
}

restic --repo "$work/restic-repo" init --repository-version 2 >/dev/null
borg init --encryption repokey "$work/borg-repo" 2>/dev/null

for tool in seedship restic borg; do
    warm
    backup "$tool" first
    first_wall[$tool]=$wall; first_cpu[$tool]=$cpu; first_rss[$tool]=$rss
    size[$tool]=$(repo_bytes "$work/$tool-repo")
    echo "bench: $tool first backup ${wall}s, cpu ${cpu}s, peak ${rss} MiB, repository ${size[$tool]} B"
done

# 1% change: rewrite whole files (every 17th regular file of at least 4 KiB, in a stable
# order) with new pseudo-random, partly compressible content of the same size, until 1% of
# the tree's bytes are rewritten.
target=$((tree_bytes / 100)); changed=0; nchanged=0
while IFS= read -r -d '' file; do
    [ "$changed" -ge "$target" ] && break
    bytes=$(stat -c %s "$file")
    [ "$bytes" -ge 4096 ] || continue
    { head -c $((bytes / 2)) /dev/urandom; { yes "changed $nchanged" || true; } | head -c $((bytes - bytes / 2)); } > "$file.new"
    mv "$file.new" "$file"
    changed=$((changed + bytes)); nchanged=$((nchanged + 1))
done < <(find "$tree" -type f -print0 | sort -z | awk 'BEGIN{RS="\0"; ORS="\0"} NR % 17 == 0')
echo "bench: rewrote $nchanged files, $changed bytes (1% of $tree_bytes)"

for tool in seedship restic borg; do
    before=$(repo_bytes "$work/$tool-repo")
    warm
    backup "$tool" second
    added[$tool]=$(( $(repo_bytes "$work/$tool-repo") - before ))
    echo "bench: $tool second backup ${wall}s, repository grew ${added[$tool]} B"
done

for tool in seedship restic borg; do
    dest="$work/restore-$tool"
    mkdir -p "$dest"
    tar -cf - -C "$work" "$tool-repo" >/dev/null   # repository in the page cache, for all alike
    case "$tool" in
        seedship) measure "$seedship" restore latest --target "$dest" --repo "$work/seedship-repo" --json ;;
        restic) measure restic --repo "$work/restic-repo" restore latest --target "$dest" ;;
        borg) measure sh -c 'cd "$1" && exec borg extract "$2"' borg-extract "$dest" "$work/borg-repo::second" ;;
    esac
    restore_wall[$tool]=$wall; restore_rss[$tool]=$rss
    echo "bench: $tool restore ${wall}s, peak ${rss} MiB"
    if ! diff -r --no-dereference "$tree" "$dest$tree" >/dev/null; then
        echo "bench: $tool restore DIFFERS from the tree" >&2; exit 1
    fi
    rm -rf "$dest"
done

mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
echo
echo "tree: $tree_files files, $(mb "$tree_bytes") MB (${sources[*]}); 1% change: $nchanged files, $(mb "$changed") MB; $(nproc) cores"
printf '%-9s %9s %8s %7s %8s %9s %10s %9s %9s %9s\n' tool "backup s" "MB/s" "CPU s" "peak MiB" "repo MB" "1% adds MB" "restore s" "rest. MiB" ""
for tool in seedship restic borg; do
    printf '%-9s %9s %8s %7s %8s %9s %10s %9s %9s\n' "$tool" "${first_wall[$tool]}" \
        "$(awk -v b="$tree_bytes" -v s="${first_wall[$tool]}" 'BEGIN {printf "%.1f", b / 1e6 / s}')" \
        "${first_cpu[$tool]}" "${first_rss[$tool]}" "$(mb "${size[$tool]}")" "$(mb "${added[$tool]}")" \
        "${restore_wall[$tool]}" "${restore_rss[$tool]}"
done
echo "ratios against restic (lower is better, except throughput):"
for tool in seedship borg; do
    printf '%-9s backup time %s, CPU %s, peak %s, repository %s, 1%% adds %s, restore time %s, restore peak %s\n' "$tool" \
        "$(ratio "${first_wall[$tool]}" "${first_wall[restic]}")" "$(ratio "${first_cpu[$tool]}" "${first_cpu[restic]}")" \
        "$(ratio "${first_rss[$tool]}" "${first_rss[restic]}")" "$(ratio "${size[$tool]}" "${size[restic]}")" \
        "$(ratio "${added[$tool]}" "${added[restic]}")" "$(ratio "${restore_wall[$tool]}" "${restore_wall[restic]}")" \
        "$(ratio "${restore_rss[$tool]}" "${restore_rss[restic]}")"
done
