# Shared by bench/scaling.sh and bench/first-backup.sh (sourced). Expects $work.

# Runs a command under /usr/bin/time -v after a `sync` (untimed); sets wall (s), cpu (user+sys
# s), rss (MiB).
measure() {
    local log="$work/time.log"
    sync
    /usr/bin/time -v -o "$log" "$@" > "$work/last.out" 2> "$work/last.err" || {
        echo "bench: failed: $*" >&2; tail -n 20 "$work/last.err" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
    cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f", u+s}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
}
