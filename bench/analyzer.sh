#!/usr/bin/env bash
# bench/analyzer.sh: hotkey-analyzer on a big instance (make analyzer-bench).
#
# Usage:   make analyzer && bench/analyzer.sh
# Env:     BENCH_KEYS=1000000   keys of the target (strings, and every
#                               tenth a hash, list, set or zset)
#          BENCH_OUT=build/analyzer-bench.md   the report is also written here
#          ANALYZER=build/hotkey-analyzer
#          BENCH_KEEP=1         keep the temp dir (logs)
#
# What it does, on free loopback ports in a temp dir: a store and a target
# redis-server (allkeys-lfu, Redis's default LFU settings), the target
# loaded with BENCH_KEYS keys and a skewed access pattern (key:1 .. key:200
# read 2000 / i times), then:
#
#   unpaced   one task with --no-pacing: keys per second (the analyzer's
#             log line) and the top keys it found;
#   hotkeys   `redis-cli --hotkeys` on the same instance (the baseline:
#             SCAN + OBJECT FREQ, one node, one database), timed: the ratio
#             of the two speeds (target: the analyzer >= 5x);
#   paced     one task with the default pacing (10% of the target's CPU):
#             wall time (target: < 60 s) and the share of the target's CPU
#             over the task, from its INFO cpu before and after (the target
#             is otherwise idle; target: <= 10%);
#   rss       the analyzer's resident size after a task of 10,000 keys and
#             after the task of BENCH_KEYS keys, in the same process
#             (VmRSS, VmHWM): flat whatever the key count.
#
# Measured, never asserted: the script prints the table and exits 0 unless
# something failed to run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

KEYS=${BENCH_KEYS:-1000000}
OUT=${BENCH_OUT:-$top/build/analyzer-bench.md}
ANALYZER=${ANALYZER:-$top/build/hotkey-analyzer}
[ -x "$ANALYZER" ] || { echo "no $ANALYZER: make analyzer" >&2; exit 1; }

tmp=$(mktemp -d /tmp/hotkey-abench-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do stop_pid "$p" || true; done
    [ -n "${BENCH_KEEP:-}" ] && echo "kept: $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/store" "$tmp/target" "$tmp/small"
sport=$(free_port); tport=$(free_port); mport=$(free_port); smport=$(free_port)
start_temp_redis "$tmp/store" "$sport" || { echo "store did not start" >&2; exit 1; }
pids+=("$REDIS_PID")
start_temp_redis "$tmp/target" "$tport" redis-server \
    --maxmemory-policy allkeys-lfu || { echo "target did not start" >&2; exit 1; }
pids+=("$REDIS_PID")
target_pid=$REDIS_PID
start_temp_redis "$tmp/small" "$smport" redis-server \
    --maxmemory-policy allkeys-lfu || { echo "small target did not start" >&2; exit 1; }
pids+=("$REDIS_PID")

calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
say() { printf '%s\n' "$*" >&2; }
cli() { redis-cli -h 127.0.0.1 "$@"; }

fill() {    # fill <port> <keys>
    awk -v n="$2" 'BEGIN {
        for (i = 1; i <= n; i++) {
            m = i % 10
            if (m == 1) printf "HSET key:%d f v g w\n", i
            else if (m == 2) printf "RPUSH key:%d a b c\n", i
            else if (m == 3) printf "SADD key:%d a b\n", i
            else if (m == 4) printf "ZADD key:%d 1 a 2 b\n", i
            else printf "SET key:%d value-%d\n", i, i
        }
        for (i = 1; i <= 200; i++) for (r = 0; r < int(2000 / i); r++)
            printf "EXISTS key:%d\nTYPE key:%d\n%s key:%d\n", i, i, (i % 10 == 1 ? "HLEN" : i % 10 == 2 ? "LLEN" : i % 10 == 3 ? "SCARD" : i % 10 == 4 ? "ZCARD" : "GET"), i
    }' | cli -p "$1" --pipe >/dev/null
}

say "loading $KEYS keys into the target..."
t0=$(date +%s.%N)
fill "$tport" "$KEYS"
fill "$smport" 10000
say "loaded $(cli -p "$tport" DBSIZE) keys in $(calc "$(date +%s.%N) - $t0") s"

register() {    # register <iid> <port>
    cli -p "$sport" HSET "hotkey:{$1}:instance" project_id bench \
        eviction_policy allkeys-lfu addr "127.0.0.1:$2" mode standalone >/dev/null
    cli -p "$sport" SADD hotkey:registry "$1" >/dev/null
}
big=$(random_uuid); small=$(random_uuid)
register "$big" "$tport"
register "$small" "$smport"

run_task() {    # run_task <iid>: creates a task, waits for it; prints its log line
    local tid st
    tid=$("$ANALYZER" --store "127.0.0.1:$sport" --create-task "$1")
    for _ in $(seq 3000); do
        st=$(cli -p "$sport" HGET "hotkey:{$1}:task:$tid" status)
        [ "$st" = success ] || [ "$st" = failed ] && break
        sleep 0.1
    done
    grep "task $tid " "$tmp/analyzer.log" | tail -n 1
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
cpu() { cli -p "$tport" INFO cpu | tr -d '\r' \
        | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss() { awk '/^(VmRSS|VmHWM):/ { printf "%s %s kB ", $1, $2 }' "/proc/$1/status"; }

# --- unpaced, and the analyzer's memory
"$ANALYZER" --store "127.0.0.1:$sport" --no-pacing --pass-ms 200 \
    --metrics "127.0.0.1:$mport" --log "$tmp/analyzer.log" &
apid=$!
pids+=("$apid")
sleep 0.5
line=$(run_task "$small")
rss_small=$(rss "$apid")
say "small: $line"
a0=$(ticks "$apid"); c0=$(cpu)
line=$(run_task "$big")
c1=$(cpu); a1=$(ticks "$apid")
rss_big=$(rss "$apid")
ucpu=$(calc "$c1 - $c0"); acpu=$(calc "($a1 - $a0) / $(getconf CLK_TCK)")
say "unpaced: $line"
scanned=$(echo "$line" | field keys_scanned)
secs=$(echo "$line" | field duration | tr -d s)
kps=$(calc "$scanned / $secs" 0)
top3=$(cli -p "$sport" LRANGE "hotkey:{$big}:task:$(echo "$line" | awk '{print $4}'):keys" 0 2 | cut -d'|' -f1,7 | tr '\n' ' ')
stop_pid "$apid" || true

# --- redis-cli --hotkeys, the baseline
say "redis-cli --hotkeys..."
t0=$(date +%s.%N); c0=$(cpu)
cli -p "$tport" --hotkeys >"$tmp/hotkeys.out" 2>&1
c1=$(cpu); hcpu=$(calc "$c1 - $c0")
hsecs=$(calc "$(date +%s.%N) - $t0")
hkps=$(calc "$KEYS / $hsecs" 0)
ratio=$(calc "$kps / $hkps" 1)

# --- paced (the default)
"$ANALYZER" --store "127.0.0.1:$sport" --pass-ms 200 \
    --log "$tmp/analyzer.log" &
apid=$!
pids+=("$apid")
sleep 0.5
c0=$(cpu); w0=$(date +%s.%N)
line=$(run_task "$big")
c1=$(cpu); w1=$(date +%s.%N)
say "paced: $line"
pwall=$(echo "$line" | field duration | tr -d s)
share=$(calc "100 * ($c1 - $c0) / ($w1 - $w0)" 1)
waits=$(echo "$line" | field pacing_waits)
stop_pid "$apid" || true

report=$(cat <<EOF
hotkey-analyzer on $(nproc) cores, $(redis-server --version | awk '{print $1, $2, $3}'), $KEYS keys:

| run | keys | wall s | keys/s | target CPU s | notes |
|---|---:|---:|---:|---:|---|
| analyzer, --no-pacing | $scanned | $secs | $kps | $ucpu | analyzer CPU ${acpu} s; top: $top3 |
| redis-cli --hotkeys (baseline) | $KEYS | $hsecs | $hkps | $hcpu | |
| analyzer / redis-cli | | | ${ratio}x | | target >= 5x |
| analyzer, default pacing (10%) | $scanned | $pwall | $(calc "$scanned / $pwall" 0) | | target CPU share ${share}% over the task (target <= 10%), $waits pauses |

Analyzer memory, same process: after 10,000 keys $rss_small; after $KEYS keys $rss_big
EOF
)
printf '%s\n' "$report"
mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$report" >"$OUT"
