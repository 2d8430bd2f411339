#!/usr/bin/env bash
# bench/analyzer.sh: hotkey-analyzer on a big instance (make analyzer-bench).
#
# Usage:   make analyzer && bench/analyzer.sh
# Env:     BENCH_KEYS=1000000   keys of the target (strings, and every
#                               tenth a hash, list, set or zset)
#          BENCH_ROUNDS=3       unpaced rounds (medians are reported)
#          BENCH_BASE=path      another analyzer build, run in each round
#                               too (before and after in the same run)
#          BENCH_TLS=1          each round also runs the unpaced task over
#                               TLS (the target's TLS port, a client
#                               certificate, the name verified): keys/s
#                               and CPU beside the plain run's
#          BENCH_OUT=build/analyzer-bench.md   the report is also written here
#          ANALYZER=build/hotkey-analyzer
#          BENCH_KEEP=1         keep the temp dir (logs)
#
# What it does, on free loopback ports in a temp dir: a store and a target
# redis-server (allkeys-lfu, Redis's default LFU settings), the target
# loaded with BENCH_KEYS keys and a skewed access pattern (key:1 .. key:200
# read 2000 / i times), then:
#
#   rounds    BENCH_ROUNDS times, one after the other on the same
#             instance: one task with --no-pacing (keys per second from
#             the analyzer's log line; the target's CPU time from its INFO
#             cpu, the analyzer's from /proc), the same with BENCH_BASE if
#             set, and `redis-cli --hotkeys` (the baseline: SCAN + OBJECT
#             FREQ, one node, one database), timed; the ratio of the
#             speeds in each round (target: the analyzer >= 5x) and the
#             medians.  On a shared machine the load moves: a ratio is only
#             taken between runs of the same round;
#   paced     one task with the default pacing (10% of the target's CPU):
#             wall time (target: < 60 s) and the share of the target's CPU
#             over the task, from its INFO cpu before and after (the target
#             is otherwise idle; target: <= 10%);
#   rss       the analyzer's resident size after a task of 10,000 keys and
#             after the rounds on BENCH_KEYS keys, in the same process
#             (VmRSS, VmHWM): flat whatever the key count.
#
# Measured, never asserted: the script prints the tables and exits 0 unless
# something failed to run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

KEYS=${BENCH_KEYS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
BASE=${BENCH_BASE:-}
TLS=${BENCH_TLS:-}
OUT=${BENCH_OUT:-$top/build/analyzer-bench.md}
ANALYZER=${ANALYZER:-$top/build/hotkey-analyzer}
[ -x "$ANALYZER" ] || { echo "no $ANALYZER: make analyzer" >&2; exit 1; }
[ -z "$BASE" ] || [ -x "$BASE" ] || { echo "no $BASE" >&2; exit 1; }

tmp=$(mktemp -d /tmp/hotkey-abench-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do stop_pid "$p" || true; done
    [ -n "${BENCH_KEEP:-}" ] && echo "kept: $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/store" "$tmp/bstore" "$tmp/target" "$tmp/small"
sport=$(free_port); tport=$(free_port); mport=$(free_port); smport=$(free_port)
bsport=$(free_port); ttport=$(free_port)
tls_args=()
if [ -n "$TLS" ]; then    # the certificates of the tests (openssl command)
    perl -I"$top/t/lib" -MHotkey::TLS -e 'Hotkey::TLS::certs($ARGV[0])' \
        "$tmp/tls" || { echo "no certificates" >&2; exit 1; }
    tls_args=(--tls-port "$ttport" --tls-cert-file "$tmp/tls/server.crt"
              --tls-key-file "$tmp/tls/server.key"
              --tls-ca-cert-file "$tmp/tls/ca.crt")
fi
start_temp_redis "$tmp/store" "$sport" || { echo "store did not start" >&2; exit 1; }
pids+=("$REDIS_PID")
start_temp_redis "$tmp/target" "$tport" redis-server \
    --maxmemory-policy allkeys-lfu "${tls_args[@]}" \
    || { echo "target did not start" >&2; exit 1; }
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

register() {    # register <store port> <iid> <port>
    cli -p "$1" HSET "hotkey:{$2}:instance" project_id bench \
        eviction_policy allkeys-lfu addr "127.0.0.1:$3" mode standalone >/dev/null
    cli -p "$1" SADD hotkey:registry "$2" >/dev/null
}
big=$(random_uuid); small=$(random_uuid); bigtls=$(random_uuid)
register "$sport" "$big" "$tport"
register "$sport" "$small" "$smport"
creds=()
if [ -n "$TLS" ]; then    # the same instance on its TLS port
    register "$sport" "$bigtls" "$ttport"
    cli -p "$sport" HSET "hotkey:{$bigtls}:instance" tls 1 >/dev/null
    (umask 077; printf '%s tls-ca=%s tls-cert=%s tls-key=%s tls-name=redis.test\n' \
        "$bigtls" "$tmp/tls/ca.crt" "$tmp/tls/client.crt" \
        "$tmp/tls/client.key" >"$tmp/credentials")
    creds=(--credentials "$tmp/credentials")
fi
if [ -n "$BASE" ]; then    # the base analyzer has a store of its own
    start_temp_redis "$tmp/bstore" "$bsport" \
        || { echo "base store did not start" >&2; exit 1; }
    pids+=("$REDIS_PID")
    register "$bsport" "$big" "$tport"
fi

# run_task <bin> <iid> <log> [store port]: creates a task, waits; its log line
run_task() {
    local tid st port=${4:-$sport}
    tid=$("$1" --store "127.0.0.1:$port" --create-task "$2")
    for _ in $(seq 3000); do
        st=$(cli -p "$port" HGET "hotkey:{$2}:task:$tid" status)
        [ "$st" = success ] || [ "$st" = failed ] && break
        sleep 0.1
    done
    for _ in $(seq 50); do    # the log line follows the record
        grep -q "task $tid " "$3" && break
        sleep 0.1
    done
    grep "task $tid " "$3" | tail -n 1
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
cpu() { cli -p "$tport" INFO cpu | tr -d '\r' \
        | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss() { awk '/^(VmRSS|VmHWM):/ { printf "%s %s kB ", $1, $2 }' "/proc/$1/status"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
    END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
nth() { echo "$1" | awk -v i="$2" '{ print $i }'; }
load() { cut -d' ' -f1 /proc/loadavg; }

start_analyzer() {    # start_analyzer <bin> <log> <store port> [args]: sets $apid
    local bin=$1 log=$2 port=$3
    shift 3
    "$bin" --store "127.0.0.1:$port" --pass-ms 200 --log "$log" "$@" &
    apid=$!
    pids+=("$apid")
    sleep 0.5
}

# unpaced <bin> <pid> <log> <store port> [iid]: "keys/s wall target-CPU
# analyzer-CPU" of one task on the big target (or iid); its log line in
# $tmp/last-<store port>
unpaced() {
    local a0 a1 c0 c1 line keys secs
    a0=$(ticks "$2"); c0=$(cpu)
    line=$(run_task "$1" "${5:-$big}" "$3" "$4")
    c1=$(cpu); a1=$(ticks "$2")
    say "  $(basename "$1"): $line"
    [ -n "${5:-}" ] || echo "$line" >"$tmp/last-$4"
    keys=$(echo "$line" | field keys_scanned)
    secs=$(echo "$line" | field duration | tr -d s)
    echo "$(calc "$keys / $secs" 0) $secs $(calc "$c1 - $c0")" \
         "$(calc "($a1 - $a0) / $(getconf CLK_TCK)")"
}

hotkeys() {    # "keys/s wall target-CPU" of redis-cli --hotkeys
    local t0 c0 c1 secs
    t0=$(date +%s.%N); c0=$(cpu)
    cli -p "$tport" --hotkeys >"$tmp/hotkeys.out" 2>&1
    c1=$(cpu); secs=$(calc "$(date +%s.%N) - $t0")
    echo "$(calc "$KEYS / $secs" 0) $secs $(calc "$c1 - $c0")"
}

# --- the rounds, and the analyzer's memory
start_analyzer "$ANALYZER" "$tmp/analyzer.log" "$sport" --no-pacing \
    --metrics "127.0.0.1:$mport" "${creds[@]}"
new_pid=$apid
say "small: $(run_task "$ANALYZER" "$small" "$tmp/analyzer.log")"
rss_small=$(rss "$new_pid")
if [ -n "$BASE" ]; then
    start_analyzer "$BASE" "$tmp/base.log" "$bsport" --no-pacing
    base_pid=$apid
fi

rows=""
n_kps="" n_wall="" n_tcpu="" n_acpu="" h_kps="" h_wall="" h_tcpu="" ratios=""
b_kps="" b_wall="" b_tcpu="" b_acpu="" b_ratios=""
t_kps="" t_wall="" t_tcpu="" t_acpu="" t_ratios=""
for r in $(seq "$ROUNDS"); do
    say "round $r, load average $(load)"
    set -- $(unpaced "$ANALYZER" "$new_pid" "$tmp/analyzer.log" "$sport")
    n_kps+=" $1" n_wall+=" $2" n_tcpu+=" $3" n_acpu+=" $4"
    row="| $r | $(load) | $1 | $2 | $3 | $4 |"
    if [ -n "$TLS" ]; then
        set -- $(unpaced "$ANALYZER" "$new_pid" "$tmp/analyzer.log" "$sport" \
                 "$bigtls")
        t_kps+=" $1" t_wall+=" $2" t_tcpu+=" $3" t_acpu+=" $4"
        t_ratios+=" $(calc "$1 / $(nth "$n_kps" "$r")")"
        row+=" $1 | $2 | $3 | $4 | $(nth "$t_ratios" "$r")x |"
    fi
    if [ -n "$BASE" ]; then
        set -- $(unpaced "$BASE" "$base_pid" "$tmp/base.log" "$bsport")
        b_kps+=" $1" b_wall+=" $2" b_tcpu+=" $3" b_acpu+=" $4"
        row+=" $1 | $2 | $3 | $4 |"
    fi
    set -- $(hotkeys)
    say "  redis-cli --hotkeys: $2 s"
    h_kps+=" $1" h_wall+=" $2" h_tcpu+=" $3"
    ratios+=" $(calc "$(nth "$n_kps" "$r") / $1")"
    row+=" $1 | $2 | $3 | $(nth "$ratios" "$r")x |"
    if [ -n "$BASE" ]; then
        b_ratios+=" $(calc "$(nth "$b_kps" "$r") / $1")"
        row+=" $(nth "$b_ratios" "$r")x |"
    fi
    rows+="$row"$'\n'
done
rss_big=$(rss "$new_pid")
last=$(cat "$tmp/last-$sport")
top3=$(cli -p "$sport" LRANGE "hotkey:{$big}:task:$(echo "$last" | awk '{print $4}'):keys" 0 2 | cut -d'|' -f1,7 | tr '\n' ' ')
stop_pid "$new_pid" || true
[ -z "$BASE" ] || stop_pid "$base_pid" || true

# --- paced (the default)
start_analyzer "$ANALYZER" "$tmp/analyzer.log" "$sport"
c0=$(cpu); w0=$(date +%s.%N)
line=$(run_task "$ANALYZER" "$big" "$tmp/analyzer.log")
c1=$(cpu); w1=$(date +%s.%N)
say "paced: $line"
scanned=$(echo "$line" | field keys_scanned)
pwall=$(echo "$line" | field duration | tr -d s)
share=$(calc "100 * ($c1 - $c0) / ($w1 - $w0)" 1)
waits=$(echo "$line" | field pacing_waits)
stop_pid "$apid" || true

m() { echo "$1" | median; }
head_b="" sep_b="" med_b=""
if [ -n "$BASE" ]; then
    head_b=" base keys/s | base wall s | base target CPU s | base CPU s |"
    sep_b="---:|---:|---:|---:|"
    med_b=" $(m "$b_kps") | $(m "$b_wall") | $(m "$b_tcpu") | $(m "$b_acpu") |"
fi
head_t="" sep_t="" med_t=""
if [ -n "$TLS" ]; then
    head_t=" TLS keys/s | TLS wall s | TLS target CPU s | TLS CPU s | TLS / plain |"
    sep_t="---:|---:|---:|---:|---:|"
    med_t=" $(m "$t_kps") | $(m "$t_wall") | $(m "$t_tcpu") | $(m "$t_acpu") | $(m "$t_ratios")x |"
fi
h_ratio_b="" s_ratio_b="" m_ratio_b=""
if [ -n "$BASE" ]; then
    h_ratio_b=" base / redis-cli |" s_ratio_b="---:|"
    m_ratio_b=" $(m "$b_ratios")x |"
fi

report=$(cat <<EOF
hotkey-analyzer on $(nproc) cores shared with other jobs (load average at the end $(cut -d' ' -f1-3 /proc/loadavg)), $(redis-server --version | awk '{print $1, $2, $3}'), $KEYS keys, $ROUNDS rounds${BASE:+, base: $BASE}${TLS:+, plain and TLS}.
Unpaced (--no-pacing)${TLS:+, over plain TCP then over TLS}, then redis-cli --hotkeys on the same instance, in turn; the ratio of the speeds per round (target >= 5x):

| round | load | keys/s | wall s | target CPU s | analyzer CPU s |$head_t$head_b redis-cli keys/s | redis-cli wall s | redis-cli target CPU s | analyzer / redis-cli |$h_ratio_b
|---|---:|---:|---:|---:|---:|$sep_t$sep_b---:|---:|---:|---:|$s_ratio_b
${rows}| median | | $(m "$n_kps") | $(m "$n_wall") | $(m "$n_tcpu") | $(m "$n_acpu") |$med_t$med_b $(m "$h_kps") | $(m "$h_wall") | $(m "$h_tcpu") | $(m "$ratios")x |$m_ratio_b

Top keys found: $top3

| paced run | keys | wall s | keys/s | notes |
|---|---:|---:|---:|---|
| analyzer, default pacing (10%) | $scanned | $pwall | $(calc "$scanned / $pwall" 0) | target CPU share ${share}% over the task (target <= 10%), $waits pauses |

Analyzer memory, same process: after 10,000 keys $rss_small; after $ROUNDS tasks of $KEYS keys $rss_big
EOF
)
printf '%s\n' "$report"
mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$report" >"$OUT"
