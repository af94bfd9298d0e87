#!/usr/bin/env bash
# Benchmark: restore of one large incompressible file by seedship (release build) and restic, in
# one run, at several file sizes: peak resident memory and wall time side by side, to show how
# restore memory grows (or not) with the size of a single file.
#
# For each size (GiB): the file is generated (AES-CTR keystream, incompressible, the same bytes
# every time), backed up by one tool into its own local repository, deleted, restored under
# /usr/bin/time -v and compared with the original's SHA-256; then everything is deleted and the
# other tool runs. The repository is on disk (BENCH_DIR); the file and the restore target are in
# BENCH_DATA_DIR (default /dev/shm, so that disk use stays at one repository: both tools then
# write into memory, which takes the target disk out of the comparison).
#
# Usage: bash bench/restore.sh [GIB...]    (default: 1 2 3 4)
# Environment: BENCH_DIR (work directory, default a new one under /tmp), BENCH_DATA_DIR; both
# removed at the end.
# Run it under `flock /work/bench.lock` on shared machines, so two benchmarks never overlap.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ "${#sizes[@]}" -gt 0 ] || sizes=(1 2 3 4)
command -v restic >/dev/null || { echo "bench: restic not found (bash scripts/install-test-deps.sh)" >&2; exit 1; }
if [ ! -x /usr/bin/time ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq time >/dev/null
fi

cargo build --release -q -p seedship-cli
seedship="$PWD/target/release/seedship"

work="${BENCH_DIR:-$(mktemp -d /tmp/seedship-restore-bench.XXXXXX)}"
data="${BENCH_DATA_DIR:-$(mktemp -d /dev/shm/seedship-restore-bench.XXXXXX)}"
mkdir -p "$work" "$data"
trap 'rm -rf "$work" "$data"' EXIT
export SEEDSHIP_PASSWORD="bench-$RANDOM-$RANDOM" RESTIC_PASSWORD
RESTIC_PASSWORD="$SEEDSHIP_PASSWORD"
export RESTIC_CACHE_DIR="$work/restic-cache"

# Runs a command under /usr/bin/time -v; sets wall (s), cpu (user+sys s), rss (MiB).
measure() {
    local log="$work/time.log"
    /usr/bin/time -v -o "$log" "$@" >"$work/last.out" 2>"$work/last.err" || {
        echo "bench: failed: $*" >&2; cat "$work/last.err" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
    cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f", u+s}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
}

# Writes GIB GiB of incompressible bytes, the same for every call.
generate() { # path, gib
    mkdir -p "$(dirname "$1")"
    head -c "$(( $2 << 30 ))" /dev/zero \
        | openssl enc -aes-128-ctr -nosalt -pass pass:seedship-bench -pbkdf2 >"$1"
}

run_tool() { # tool, gib; sets b_wall b_rss r_wall r_cpu r_rss
    local tool=$1 gib=$2 src="$data/src/big.img" repo="$work/repo" dest="$data/restored"
    generate "$src" "$gib"
    local sum
    sum=$(sha256sum "$src" | cut -d' ' -f1)
    case "$tool" in
        seedship) measure "$seedship" backup "$src" --repo "$repo" --json ;;
        restic)
            restic --repo "$repo" init --repository-version 2 >/dev/null
            measure restic --repo "$repo" backup --quiet "$src" ;;
    esac
    b_wall=$wall b_rss=$rss
    rm -rf "$data/src"
    sync
    case "$tool" in
        seedship) measure "$seedship" restore latest --target "$dest" --repo "$repo" --json ;;
        restic) measure restic --repo "$repo" restore latest --target "$dest" ;;
    esac
    r_wall=$wall r_cpu=$cpu r_rss=$rss
    local got
    got=$(sha256sum "$dest$src" | cut -d' ' -f1)
    [ "$got" = "$sum" ] || { echo "bench: $tool restored a different file ($got, expected $sum)" >&2; exit 1; }
    rm -rf "$repo" "$dest" "$RESTIC_CACHE_DIR"
}

echo "restore of one incompressible file; $(nproc) cores; seedship $(git rev-parse --short HEAD), $(restic version | cut -d' ' -f1-2)"
printf '%-5s %-9s %9s %9s %10s %9s %9s %9s\n' GiB tool "backup s" "bkp MiB" "restore s" "MB/s" "CPU s" "peak MiB"
declare -A peak
for gib in "${sizes[@]}"; do
    for tool in seedship restic; do
        run_tool "$tool" "$gib"
        mbps=$(awk -v g="$gib" -v w="$r_wall" 'BEGIN {printf "%.1f", g * 1073.741824 / w}')
        printf '%-5s %-9s %9s %9s %10s %9s %9s %9s\n' "$gib" "$tool" "$b_wall" "$b_rss" "$r_wall" "$mbps" "$r_cpu" "$r_rss"
        peak[$tool,$gib]=$r_rss
    done
    echo "      restore peak seedship/restic: $(awk -v a="${peak[seedship,$gib]}" -v b="${peak[restic,$gib]}" 'BEGIN {printf "%.2f", a / b}')"
done
first=${sizes[0]} last=${sizes[${#sizes[@]}-1]}
for tool in seedship restic; do
    echo "$tool restore peak ${last} GiB / ${first} GiB: $(awk -v a="${peak[$tool,$last]}" -v b="${peak[$tool,$first]}" 'BEGIN {printf "%.2f", a / b}')"
done
