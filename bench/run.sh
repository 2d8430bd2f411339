#!/usr/bin/env bash
# bench/run.sh: throughput and latency of the list route, the details
# route from the cache and the write routes (create, delete), each
# scenario next to a baseline measured in the same run, with the ratio.
#
# Usage:   make build cli && bench/run.sh          (or: make bench)
# Env:     BENCH_DURATION=10     seconds per wrk run (and, roughly, of the
#                                redis-benchmark run)
#          BENCH_CONNECTIONS=50  wrk -c and redis-benchmark -c
#          BENCH_LAYOUT=pinned   (the default: on this 2-core machine, shared
#                                with other jobs, its per-round ratios were the
#                                tighter ones) pinned: nginx worker_processes 1 pinned to
#                                core 0 (worker_cpu_affinity 1), wrk -t1 and
#                                redis-benchmark --threads 1 pinned to core 1
#                                (taskset -c 1), redis-server on core 0
#                                (servers on core 0, clients on core 1);
#                                shared: worker_processes = nproc, wrk -t2,
#                                redis-benchmark --threads 2, nothing pinned
#          BENCH_THREADS, BENCH_WORKERS   override the layout's wrk -t and
#                                worker_processes
#          BENCH_SLICE=1         seconds per round: each scenario runs in
#                                BENCH_DURATION/BENCH_SLICE rounds interleaved
#                                with its baseline (BENCH_SLICE=BENCH_DURATION:
#                                one wrk run per scenario)
#          BENCH_RECORDS=100000  tasks of the large instance
#          BENCH_OUT=build/bench.md   the final table is also written here
#          HOTKEY_MODULE=...     the .so (default build/ngx_http_hotkey_module.so)
#          HOTKEY_CLI=...        hotkeyctl (default build/hotkeyctl)
#          HOTKEY_NGINX, HOTKEY_REDIS   binaries (default /usr/sbin/nginx,
#                                /usr/bin/redis-server)
#          BENCH_KEEP=1          keep the temp dir (configs, logs, wrk output)
#          BENCH_STORE_CMD=      eval or evalsha: the redis-benchmark baseline's
#                                command (default: what the module sends)
#          BENCH_WRITE_POOL=30000*BENCH_SLICE   instances registered for
#                                the write scenarios (one per create or
#                                delete of a slice: a slice must not need more)
#          HOTKEY_RCALL=...      the write baselines' client (default
#                                build/rcall, from bench/rcall.c: make bench
#                                builds it)
#          BENCH_ONLY=auth       only static, hit, token and aksk, in one group
#                                of interleaved rounds (no large instance, no
#                                cache-off or redis-benchmark runs): a quick
#                                check of the authenticated hit ratios
#
# What it does: starts redis-server (on a loopback port and on a unix
# socket, mode 700, in the temp dir) and one nginx (daemon off, children of
# this script) on free loopback ports in a temp dir, loads a small instance
# (25 tasks) and a large one (BENCH_RECORDS tasks, through redis-cli --pipe),
# and runs wrk with keepalive for BENCH_DURATION seconds per scenario:
#
#   static  location = /static { return 200 '<body>'; }: the byte-identical
#           JSON body of the cached answer, in the same nginx
#   hit     the list route, hotkey_cache on (valid 1h), hotkey_auth off:
#           every request a cache HIT                  baseline: static
#   token   the same, hotkey_auth on, X-Auth-Token: an ES256 JWT minted by
#           hotkeyctl (verified once per worker, then from the per-worker
#           token cache)                               baseline: static
#   aksk    the same, hotkey_auth on, AK/SK headers signed once by
#           `hotkeyctl sign` and replayed: each worker verifies the
#           signature once, then finds the request in its cache of
#           verified requests (X-Sdk-Date, key and permissions still
#           checked on every request)               baseline: static
#   fresh   the same as aksk, but cycling through 2048 requests signed
#           apart (a signed X-Bench-Nonce header 1..2048, the same answer
#           from the cache): more than a worker's cache of verified requests
#           (1024) holds, so that every request's signature is checked, as
#           for an SDK that signs each request at another second
#                                                  baseline: static
#   off     the list route without cache: every request one script round
#           trip to Redis over loopback TCP (upstream, keepalive 64)
#                                                  baseline: redis-benchmark
#           running the command the module sends, with the same script,
#           KEYS, ARGV and number of connections (see below)
#   offunix the same, the upstream's server a unix: socket (keepalive 64)
#                                                  baseline: redis-benchmark
#           of the same command on that socket (-s)
#   large instance, cache off, limit=10:
#   big0    offset=0 (the shallow case)
#   deep    offset=99000 (BENCH_RECORDS - 1000)    baseline: big0
#   failed  status=failed&offset=20000 (~25% of the tasks are failed)
#                                                  baseline: big0
#
#   details, from the cache:
#   dstatic location = /static_details { return 200 '<body>'; }: the
#           byte-identical answer of the details route for a successful
#           task of the small instance with 10 hot keys
#   dhit    GET .../hotkey-task/{id}, hotkey_cache on, hotkey_auth off:
#           every request a cache HIT                  baseline: dstatic
#
#   writes, through the cached server (auth off), each followed in the
#   same round by the same script run directly on the same Redis, as many
#   times, by bench/rcall (below):
#   create  POST .../instances/{i}/hotkey-task, i the next of
#           BENCH_WRITE_POOL registered instances (each request another
#           instance: a create is refused while a task of its instance is
#           waiting or running); after the slice (not timed) the tasks it
#           created are ended (success), so that the next slice's creates
#           succeed too                               baseline: rcreate
#   delete  DELETE .../instances/{i}/hotkey-task/{d_i}: each pool instance
#           holds one successful task d_i (with a keys list), put back after
#           each slice (not timed)                    baseline: rdelete
#   cbusy   POST .../hotkey-task on the small instance, which has waiting
#           and running tasks: every answer is the conflict, 400 DCS.4026
#           (the refusal's cost, measured apart)      baseline: rbusy
#   rcl     rcall running the list EVALSHA of "off", against redis-benchmark
#           of the same (rbl) in the same round: rcall's own calibration
#
# The write baselines' client: the create script checks that the task id
# is a new lowercase UUID (a redis-benchmark __rand_int__ cannot make one
# that is new every time) and each create needs an instance with no busy
# task, each delete an existing finished task of its instance, in the
# same command (redis-benchmark draws each __rand_int__ apart).  So
# bench/rcall, a closed-loop client like redis-benchmark -P 1 (same
# connections, one command in flight on each, one thread, pinned like
# it), sends exactly the EVALSHA the module sends, KEYS and ARGV included,
# with __n__ (the command's number), __uuid__ (a new random UUID) and
# __now__ (ms) filled in per command.  Its rate against redis-benchmark on
# the list's EVALSHA is in the table (rcl / rbl).
#
# static, hit, token, aksk, off and offunix run in one group of interleaved
# rounds, so that every CPU ratio below compares slices of the same minutes.
#
# The store protocol: the module sends EVALSHA <sha1 of the script> (and
# EVAL with the script text the first time in a worker, and again after a
# NOSCRIPT); a module built before that sends EVAL every time.  Redis's
# count of script runs is therefore cmdstat_eval + cmdstat_evalsha, each
# calls - failed_calls (a NOSCRIPT is a failed call of EVALSHA: the retry
# that follows is the run).  The redis-benchmark baseline runs what the
# module under test sends: the script text is printed by `hotkeyctl script
# list` (from src/hotkey_scripts.c), SCRIPT LOADed, its SHA1 checked against
# Redis's; then, if Redis counted EVALSHAs during the warm-up requests of
# the cache-off server, the baseline is EVALSHA <sha> (as the module, no
# script text on the wire), otherwise EVAL <script> (BENCH_STORE_CMD=eval or
# evalsha forces one).  Either way the baseline is Redis alone doing what
# the module asks of it, with no HTTP and no nginx.
#
# Miss path cost (issue 9): the worker CPU per request of off and of
# offunix over that of static (nginx sending the same body with
# `return 200`), from the same rounds: "off / static worker CPU",
# target <= 3 over loopback TCP; the unix-socket figure beside it; user and
# system time per request apart.
#
# Every HTTP run is checked: no wrk errors (non-2xx included; cbusy: every
# answer a 400), and the script runs Redis counted (~0 for cache hits, =
# requests for cache off and writes); every rcall run: no error reply, and
# every reply the word expected (ok for creates and deletes, conflict for
# rbusy).
# Targets: hit >= 0.90 x static; token, aksk >= 0.85 x static (req/s and
# CPU); off <= 3 x static worker CPU; deep and failed ~1.0 x big0 (the cost
# must not grow with the offset or N).
# The table at the end is markdown, also written to BENCH_OUT.
#
# Everything it starts is stopped on exit (trap on EXIT, INT, TERM).

set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-50}
LAYOUT=${BENCH_LAYOUT:-pinned}
RECORDS=${BENCH_RECORDS:-100000}
ONLY=${BENCH_ONLY:-all}
case "$ONLY" in all|auth) ;; *) echo "bench: BENCH_ONLY must be all or auth" >&2; exit 1 ;; esac
NCPU=$(nproc 2>/dev/null || echo 2)
case "$LAYOUT" in
pinned)
    THREADS=${BENCH_THREADS:-1}
    WORKERS=${BENCH_WORKERS:-1}
    ;;
shared)
    THREADS=${BENCH_THREADS:-2}
    WORKERS=${BENCH_WORKERS:-$NCPU}
    ;;
*)  echo "bench: BENCH_LAYOUT must be pinned or shared" >&2; exit 1 ;;
esac
OUT=${BENCH_OUT:-$TOP/build/bench.md}
MODULE=${HOTKEY_MODULE:-$TOP/build/ngx_http_hotkey_module.so}
CLI=${HOTKEY_CLI:-$TOP/build/hotkeyctl}
NGINX=${HOTKEY_NGINX:-/usr/sbin/nginx}
REDIS=${HOTKEY_REDIS:-/usr/bin/redis-server}
REDIS_CLI=$(command -v redis-cli)
REDIS_BENCH=$(command -v redis-benchmark)
WRK=$(command -v wrk)
RCALL=${HOTKEY_RCALL:-$TOP/build/rcall}
. "$TOP/scripts/lib.sh"

die() { echo "bench: $*" >&2; exit 1; }

for b in "$NGINX" "$REDIS" "$REDIS_CLI" "$REDIS_BENCH" "$WRK" curl perl openssl; do
    command -v "$b" >/dev/null 2>&1 || die "missing: $b"
done
[ -f "$MODULE" ] || die "module not built: $MODULE (run make build)"
[ -x "$CLI" ] || die "hotkeyctl not built: $CLI (run make cli)"
[ -x "$RCALL" ] || die "rcall not built: $RCALL (run make bench, or cc -O2 -o build/rcall bench/rcall.c -lhiredis)"
case "$DURATION$CONNS$THREADS$WORKERS$RECORDS" in *[!0-9]*) die "BENCH_* must be integers";; esac
[ "$CONNS" -ge "$THREADS" ] || die "BENCH_CONNECTIONS must be >= the wrk threads"
[ "$RECORDS" -ge 21010 ] || die "BENCH_RECORDS must be >= 21010 (the status=failed offset is 20000)"

# pinning: nginx's worker to core 0, the load generators to core 1
PIN_CLIENT=()
PIN_SERVER=()
AFFINITY=
if [ "$LAYOUT" = pinned ]; then
    if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
        PIN_CLIENT=(taskset -c 1)
        PIN_SERVER=(taskset -c 0)
        [ "$WORKERS" = 1 ] && AFFINITY="worker_cpu_affinity 1;"
    else
        echo "bench: fewer than 2 cores or no taskset: nothing pinned" >&2
    fi
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/hotkey-bench-XXXXXX")
NGINX_PID=
REDIS_PID=
CHILD_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$CHILD_PID" ] && kill "$CHILD_PID" 2>/dev/null
    stop_nginx_tree "$NGINX_PID"
    stop_pid "$REDIS_PID"
    if [ -n "${BENCH_KEEP:-}" ]; then
        echo "bench: kept $DIR" >&2
    else
        rm -rf "$DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# runs a command in the background as our child so that a signal to this
# script reaches it through cleanup(), then waits for it
run_child() {
    "$@" &
    CHILD_PID=$!
    wait "$CHILD_PID"
    local rc=$?
    CHILD_PID=
    return $rc
}

declare -A USED
new_port() {
    local p
    while :; do
        p=$(free_port)
        [ -z "${USED[$p]:-}" ] && break
    done
    USED[$p]=1
    echo "$p"
}
REDIS_PORT=$(new_port); USED[$REDIS_PORT]=1
HTTP_PORT=$(new_port);  USED[$HTTP_PORT]=1
OFF_PORT=$(new_port);   USED[$OFF_PORT]=1
AUTH_PORT=$(new_port);  USED[$AUTH_PORT]=1
UNIX_PORT=$(new_port);  USED[$UNIX_PORT]=1

rcli() { "$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# script runs: EVAL and EVALSHA calls that did not fail (a NOSCRIPT is a
# failed EVALSHA; the EVAL that follows it is the run)
evals() {
    rcli INFO commandstats | tr -d '\r' | awk -F'[:,=]' '
        $1 == "cmdstat_eval" || $1 == "cmdstat_evalsha" {
            for (i = 2; i < NF; i += 2) {
                if ($i == "calls") n += $(i + 1)
                if ($i == "failed_calls") n -= $(i + 1)
            }
        }
        END { print n + 0 }'
}
# EVALSHAs Redis counted since the last CONFIG RESETSTAT
evalshas() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\).*/\1/p' | grep . || echo 0; }

# ------------------------------------------------------------ redis + data
mkdir -p "$DIR/redis" "$DIR/logs" "$DIR/tmp" "$DIR/conf"
# the unix socket: in the temp dir (mode 700, ours), the socket itself 700
# (nginx's workers run as this user: "user root;" when we are root)
chmod 700 "$DIR" "$DIR/redis"
SOCK=$DIR/redis/redis.sock
[ "${#SOCK}" -lt 100 ] || die "the socket path is too long for a unix socket: $SOCK (set TMPDIR)"
start_temp_redis "$DIR/redis" "$REDIS_PORT" "${PIN_SERVER[@]}" "$REDIS" \
    --unixsocket "$SOCK" --unixsocketperm 700 \
    || die "redis-server did not start: $(tail -5 "$DIR/redis/redis.log")"

PROJECT=$(random_hex32)
INSTANCE=$(random_uuid)
K="hotkey:{$INSTANCE}"
small_instance_cmds "$K" "$PROJECT" | rcli >/dev/null || die "loading the data failed"

BIG= BK= NFAILED=0 LOAD_S=0
if [ "$ONLY" = all ]; then
# the large instance: RECORDS tasks as raw RESP through redis-cli --pipe;
# statuses cycle waiting, running, success, failed (25% failed); every 7th
# created_at repeats the previous one (ties: id descending)
BIG=$(random_uuid)
BK="hotkey:{$BIG}"
T0=$(date +%s.%N)
perl -e '
    my ($k, $p, $n) = @ARGV;
    srand(42);
    sub cmd { my $s = "*" . scalar(@_) . "\r\n";
              $s .= "\$" . length($_) . "\r\n$_\r\n" for @_; $s }
    my @st = qw(waiting running success failed);
    my $base = 1500000000000;
    print cmd("HSET", "$k:instance", "project_id", $p, "eviction_policy", "volatile-lfu");
    my $c = $base;
    for my $i (0 .. $n - 1) {
        my $id = sprintf("%08x-%04x-4%03x-%04x-%012x", $i, int(rand(65536)),
                         int(rand(4096)), 0x8000 | int(rand(16384)),
                         int(rand(2**32)) * 65536 + int(rand(65536)));
        $c += 60000 + $i % 1000 unless $i % 7 == 6;
        my $s = $st[$i % 4];
        my @f = ("id", $id, "status", $s, "scan_type", ($i % 3 ? "manual" : "auto"),
                 "created_at", $c);
        push @f, "started_at", $c + 4865 if $s ne "waiting";
        push @f, "finished_at", $c + 6919 if $s eq "success" || $s eq "failed";
        print cmd("HSET", "$k:task:$id", @f);
        print cmd("ZADD", "$k:tasks", $c, $id);
        print cmd("ZADD", "$k:tasks:$s", $c, $id);
    }' "$BK" "$PROJECT" "$RECORDS" >"$DIR/big.resp" || die "generating the large instance failed"
rcli --pipe <"$DIR/big.resp" >"$DIR/logs/pipe.out" 2>&1 || die "redis-cli --pipe failed: $(cat "$DIR/logs/pipe.out")"
grep -q 'errors: 0,' "$DIR/logs/pipe.out" || die "redis-cli --pipe: $(cat "$DIR/logs/pipe.out")"
rm -f "$DIR/big.resp"
[ "$(rcli ZCARD "$BK:tasks")" = "$RECORDS" ] || die "the large instance has $(rcli ZCARD "$BK:tasks") tasks, not $RECORDS"
NFAILED=$(rcli ZCARD "$BK:tasks:failed")
LOAD_S=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
fi

# details: a successful task of the small instance with 10 hot keys
DTASK=$(rcli ZREVRANGE "$K:tasks:success" 0 0)
[ -n "$DTASK" ] || die "no successful task in the small instance"
for i in $(seq 0 9); do
    rcli RPUSH "$K:task:$DTASK:keys" "$((250 - i * 20))|$((i % 3))|$(case $((i % 4)) in 0) echo string;; 1) echo hash;; 2) echo zset;; 3) echo list;; esac)|$((1000 + i * 37))|$([ $((i % 4)) = 0 ] && echo byte || echo count)|127.0.0.1:6379|user:session:$((1000 + i))" >/dev/null
done
DETAILS_PATH="/v2/$PROJECT/instances/$INSTANCE/hotkey-task/$DTASK"

# the write pool: WPOOL instances b0000000-0000-4000-8000-<i, 12 hex>
# (allkeys-lfu, of PROJECT), each with one successful task
# d0000000-0000-4000-8000-<i> (and its keys list) for a delete
WPOOL=${BENCH_WRITE_POOL:-$(( 30000 * ${BENCH_SLICE:-1} ))}
case "$WPOOL" in *[!0-9]*|'') die "BENCH_WRITE_POOL must be an integer";; esac
T0=$(date +%s.%N)
perl -e '
    my ($p, $n) = @ARGV;
    sub cmd { my $s = "*" . scalar(@_) . "\r\n";
              $s .= "\$" . length($_) . "\r\n$_\r\n" for @_; $s }
    for my $i (0 .. $n - 1) {
        my $k = sprintf("hotkey:{b0000000-0000-4000-8000-%012x}", $i);
        my $d = sprintf("d0000000-0000-4000-8000-%012x", $i);
        print cmd("HSET", "$k:instance", "project_id", $p, "eviction_policy", "allkeys-lfu");
        print cmd("HSET", "$k:task:$d", "id", $d, "status", "success", "scan_type", "manual",
                  "created_at", 1592187678669, "started_at", 1592187678700,
                  "finished_at", 1592187678800, "num", 1);
        print cmd("RPUSH", "$k:task:$d:keys", "7|0|list|3|count|127.0.0.1:6379|q");
        print cmd("ZADD", "$k:tasks", 1592187678669, $d);
        print cmd("ZADD", "$k:tasks:success", 1592187678669, $d);
    }' "$PROJECT" "$WPOOL" >"$DIR/pool.resp" || die "generating the write pool failed"
rcli --pipe <"$DIR/pool.resp" >"$DIR/logs/pipe-pool.out" 2>&1 || die "redis-cli --pipe failed: $(cat "$DIR/logs/pipe-pool.out")"
grep -q 'errors: 0,' "$DIR/logs/pipe-pool.out" || die "redis-cli --pipe: $(cat "$DIR/logs/pipe-pool.out")"
rm -f "$DIR/pool.resp"
POOL_S=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
POOL_PATH="/v2/$PROJECT/instances/b0000000-0000-4000-8000-%012x"
# (not timed) end the tasks creates made on pool instances 0..n-1, and
# put back the deletes' tasks d_i of instances 0..n-1: one script each
POOL_FINISH='
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
    local p = string.format("hotkey:{b0000000-0000-4000-8000-%012x}:", i)
    for _, id in ipairs(redis.call("ZRANGE", p .. "tasks:waiting", 0, -1)) do
        local c = redis.call("HGET", p .. "task:" .. id, "created_at")
        redis.call("HSET", p .. "task:" .. id, "status", "success",
                   "started_at", c, "finished_at", c, "num", 0)
        redis.call("ZREM", p .. "tasks:waiting", id)
        redis.call("ZADD", p .. "tasks:success", c, id)
    end
    redis.call("DEL", p .. "queue")
end
return n'
POOL_RESTORE='
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
    local p = string.format("hotkey:{b0000000-0000-4000-8000-%012x}:", i)
    local d = string.format("d0000000-0000-4000-8000-%012x", i)
    redis.call("HSET", p .. "task:" .. d, "id", d, "status", "success",
               "scan_type", "manual", "created_at", 1592187678669,
               "started_at", 1592187678700, "finished_at", 1592187678800,
               "num", 1)
    redis.call("DEL", p .. "task:" .. d .. ":keys")
    redis.call("RPUSH", p .. "task:" .. d .. ":keys",
               "7|0|list|3|count|127.0.0.1:6379|q")
    redis.call("ZADD", p .. "tasks", 1592187678669, d)
    redis.call("ZADD", p .. "tasks:success", 1592187678669, d)
end
return n'
pool_finish() {    # n
    local n=$(( $1 < WPOOL ? $1 : WPOOL ))
    rcli EVAL "$POOL_FINISH" 0 "$n" >/dev/null || die "ending the pool's tasks failed"
}
pool_restore() {    # n
    local n=$(( $1 < WPOOL ? $1 : WPOOL ))
    rcli EVAL "$POOL_RESTORE" 0 "$n" >/dev/null || die "putting back the pool's tasks failed"
}

LIST_PATH="/v2/$PROJECT/instances/$INSTANCE/hotkey-tasks"
BIG_PATH="/v2/$PROJECT/instances/$BIG/hotkey-tasks"
DEEP_OFFSET=$((RECORDS - 1000))

# ------------------------------------------------------------ credentials
# an ES256 key pair (the server gets the public key), a token for PROJECT;
# an AK/SK credential allowed on PROJECT
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/conf/es256.pem" 2>"$DIR/logs/openssl.err" \
    && openssl pkey -in "$DIR/conf/es256.pem" -pubout -out "$DIR/conf/es256.pub" 2>>"$DIR/logs/openssl.err" \
    || die "openssl: $(cat "$DIR/logs/openssl.err")"
TOKEN=$("$CLI" token --key "$DIR/conf/es256.pem" --alg ES256 --project "$PROJECT" \
        --actions dcs:instance:listHotKey --ttl 3600 --sub bench) || die "hotkeyctl token failed"
AK=BENCHAK$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
SK=$(head -c24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$AK $SK projects=$PROJECT actions=dcs:instance:listHotKey name=bench-aksk" >"$DIR/conf/credentials"
chmod 600 "$DIR/conf/credentials"

# ------------------------------------------------------------ nginx
cp "$MODULE" "$DIR/ngx_http_hotkey_module.so"

write_conf() {    # static bodies of the list and the details ('' before we have them)
    local static=$1 dstatic=$2
    cat >"$DIR/conf/nginx.conf" <<EOF
$(nginx_conf_head "$DIR" warn)
worker_processes $WORKERS;
$AFFINITY
daemon off;
master_process on;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
$(nginx_temp_paths "$DIR")
    hotkey_cache_zone bench:10m;
    upstream bench_store {
        server 127.0.0.1:$REDIS_PORT;
        keepalive 64;
    }
    upstream bench_store_unix {
        server unix:$SOCK;
        keepalive 64;
    }
    # cache HIT, no auth; and the static baseline
    server {
        listen 127.0.0.1:$HTTP_PORT;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store bench_store;
            hotkey_cache bench;
            hotkey_cache_valid 1h;
        }
        location = /static {
            default_type application/json;
            return 200 '$static';
        }
        location = /static_details {
            default_type application/json;
            return 200 '$dstatic';
        }
    }
    # cache HIT behind authentication (token or AK/SK), no rate limit
    server {
        listen 127.0.0.1:$AUTH_PORT;
        location /v2/ {
            hotkey_api on;
            hotkey_auth on;
            hotkey_auth_token_keys $DIR/conf/es256.pub;
            hotkey_auth_credentials $DIR/conf/credentials;
            hotkey_store bench_store;
            hotkey_cache bench;
            hotkey_cache_valid 1h;
        }
    }
    # no cache: every request one EVAL
    server {
        listen 127.0.0.1:$OFF_PORT;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store bench_store;
        }
    }
    # no cache, the store on a unix socket: every request one script run
    server {
        listen 127.0.0.1:$UNIX_PORT;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store bench_store_unix;
        }
    }
}
EOF
}

write_conf '' ''
"$NGINX" -t -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log" \
    >"$DIR/logs/nginx-t.out" 2>&1 || die "nginx -t failed: $(cat "$DIR/logs/nginx-t.out")"
"$NGINX" -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log" \
    </dev/null >>"$DIR/logs/nginx.out" 2>&1 &
NGINX_PID=$!
for p in "$HTTP_PORT" "$AUTH_PORT" "$OFF_PORT" "$UNIX_PORT"; do
    wait_http "http://127.0.0.1:$p/" "$NGINX_PID" || die "nginx did not start: $(tail -5 "$DIR/logs/error.log")"
done

# the body, from the store (MISS), then once more from the cache (HIT)
BODY=$(curl -sS -o - "http://127.0.0.1:$HTTP_PORT$LIST_PATH") || die "curl failed"
HDRS=$(curl -sS -D - -o "$DIR/hit.body" "http://127.0.0.1:$HTTP_PORT$LIST_PATH" | tr -d '\r')
echo "$HDRS" | grep -qi '^X-Cache-Status: HIT' || die "the second request is not a cache HIT: $HDRS"
printf '%s' "$BODY" | grep -q "[\$'\\\\]" && die "the body has a quote, \$ or \\ that nginx's return would alter"
# the same for the details of DTASK
DBODY=$(curl -sS -o - "http://127.0.0.1:$HTTP_PORT$DETAILS_PATH") || die "curl failed"
HDRS=$(curl -sS -D - -o "$DIR/dhit.body" "http://127.0.0.1:$HTTP_PORT$DETAILS_PATH" | tr -d '\r')
echo "$HDRS" | grep -qi '^X-Cache-Status: HIT' || die "the second details request is not a cache HIT: $HDRS"
grep -q '"num":10,"keys":\[' "$DIR/dhit.body" || die "the details answer has not 10 keys: $(head -c 300 "$DIR/dhit.body")"
printf '%s' "$DBODY" | grep -q "[\$'\\\\]" && die "the details body has a quote, \$ or \\ that nginx's return would alter"

# the static location with the byte-identical body: a reload (the zone,
# and the cached entry, survive it)
write_conf "$BODY" "$DBODY"
"$NGINX" -t -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log" \
    >"$DIR/logs/nginx-t.out" 2>&1 || die "nginx -t failed: $(cat "$DIR/logs/nginx-t.out")"
kill -HUP "$NGINX_PID"
S=
# (until the old workers are gone, a connection may still reach one)
same_as() {    # location cached-body: the location answers those bytes
    local i
    for i in $(seq 100); do
        curl -sS -o "$DIR/same.body" "http://127.0.0.1:$HTTP_PORT$1" 2>/dev/null \
            && cmp -s "$2" "$DIR/same.body" && return 0
        sleep 0.05
    done
    return 1
}
same_as /static "$DIR/hit.body" || die "/static is not byte-identical to the cached answer"
same_as /static_details "$DIR/dhit.body" || die "/static_details is not byte-identical to the cached details"
sleep 0.5    # old workers leave
OFF_BODY=$(curl -sS -D "$DIR/off.hdr" "http://127.0.0.1:$OFF_PORT$LIST_PATH")
[ "$OFF_BODY" = "$BODY" ] || die "the cache-off server answers another body"
grep -qi '^X-Cache-Status' "$DIR/off.hdr" && die "the cache-off server has a cache"
UNIX_BODY=$(curl -sS -D "$DIR/offunix.hdr" "http://127.0.0.1:$UNIX_PORT$LIST_PATH")
[ "$UNIX_BODY" = "$BODY" ] || die "the unix-socket cache-off server answers another body"
grep -qi '^X-Cache-Status' "$DIR/offunix.hdr" && die "the unix-socket cache-off server has a cache"

# AK/SK: signed once, replayed for the whole run (X-Sdk-Date must stay
# within hotkey_auth_date_skew, 15 min by default, of the server's clock)
AKSK_URL="http://127.0.0.1:$AUTH_PORT$LIST_PATH"
mapfile -t AKSK_H < <("$CLI" sign --ak "$AK" --sk-file <(echo "$SK") --url "$AKSK_URL")
[ "${#AKSK_H[@]}" -ge 2 ] || die "hotkeyctl sign printed: ${AKSK_H[*]}"
TOKEN_H=("X-Auth-Token: $TOKEN")

# auth answers: 200, the same body, from the cache (the MISS/HIT happened above)
check_auth() {    # name header...
    local name=$1; shift
    local args=() h
    for h in "$@"; do args+=(-H "$h"); done
    local code
    code=$(curl -sS -o "$DIR/$name.body" -D "$DIR/$name.hdr" -w '%{http_code}' "${args[@]}" "$AKSK_URL")
    [ "$code" = 200 ] || die "$name: HTTP $code: $(cat "$DIR/$name.body")"
    cmp -s "$DIR/$name.body" "$DIR/hit.body" || die "$name: another body"
    tr -d '\r' <"$DIR/$name.hdr" | grep -qi '^X-Cache-Status: HIT' || die "$name: not a cache HIT"
}
check_auth token "${TOKEN_H[@]}"
check_auth aksk "${AKSK_H[@]}"
# fresh: 2048 requests signed apart by a signed nonce header, cycled by a
# wrk script (each formatted once, in init)
FRESH_N=2048
{
    echo "-- generated by bench/run.sh: $FRESH_N requests signed apart"
    echo "local sets = {"
    for n in $(seq "$FRESH_N"); do
        printf '  {'
        "$CLI" sign --ak "$AK" --sk-file <(echo "$SK") --url "$AKSK_URL" \
            --header "X-Bench-Nonce: $n" --signed-headers "host;x-bench-nonce;x-sdk-date" \
            | sed 's/\\/\\\\/g; s/"/\\"/g; s/^\([^:]*\): *\(.*\)$/["\1"] = "\2", /' | tr -d '\n'
        echo " [\"X-Bench-Nonce\"] = \"$n\" },"
    done
    echo "}"
    cat <<'EOF_LUA'
local reqs, n = {}, 0
init = function(args)
    for i, h in ipairs(sets) do reqs[i] = wrk.format(nil, nil, h) end
end
request = function()
    n = n % #reqs + 1
    return reqs[n]
end
EOF_LUA
} >"$DIR/fresh.body.lua" || die "signing the fresh requests failed"
FRESH1=$(sed -n 3p "$DIR/fresh.body.lua" | grep -o '\["[^"]*"\] = "[^"]*"' | sed 's/^\["\([^"]*\)"\] = "\(.*\)"$/\1: \2/')
mapfile -t FRESH1_H <<<"$FRESH1"
check_auth fresh "${FRESH1_H[@]}"
# the other AK/SK schemes the SDKs sign with, each signed once the same way
declare -A SCHEME_OF=([aksk_sm3]=SDK-HMAC-SM3 [aksk_v11]=V11-HMAC-SHA256
                      [aksk_p256]=SDK-ECDSA-P256-SHA256 [aksk_sm2]=SDK-SM2-SM3)
AKSK_SCHEMES=(aksk_sm3 aksk_v11 aksk_p256 aksk_sm2)
declare -A SCHEME_H
for s in "${AKSK_SCHEMES[@]}"; do
    extra=(); [ "$s" = aksk_v11 ] && extra=(--region cn-north-4 --service dcs)
    SCHEME_H[$s]=$("$CLI" sign --scheme "${SCHEME_OF[$s]}" "${extra[@]}" --ak "$AK" \
                   --sk-file <(echo "$SK") --url "$AKSK_URL") || die "hotkeyctl sign --scheme ${SCHEME_OF[$s]} failed"
    mapfile -t hs <<<"${SCHEME_H[$s]}"
    check_auth "$s" "${hs[@]}"
done
# a wrong signature must fail: the server does verify it
BAD_H=("${AKSK_H[@]}")
for i in "${!BAD_H[@]}"; do
    case "${BAD_H[$i]}" in
    [Aa]uthorization:*) BAD_H[$i]=$(sed 's/Signature=\(.\)/Signature=0/' <<<"${BAD_H[$i]}")
        [ "${BAD_H[$i]}" = "${AKSK_H[$i]}" ] && BAD_H[$i]=$(sed 's/Signature=./Signature=1/' <<<"${BAD_H[$i]}");;
    esac
done
bad_args=(); for h in "${BAD_H[@]}"; do bad_args+=(-H "$h"); done
BAD_CODE=$(curl -sS -o /dev/null -w '%{http_code}' "${bad_args[@]}" "$AKSK_URL")
[ "$BAD_CODE" = 401 ] || die "a tampered AK/SK signature got HTTP $BAD_CODE, not 401"

# the write routes answer as the scenarios expect: a create on pool
# instance 0 (200), then a conflict there (400 DCS.4026); a delete of
# d_0 (204) and again (400 DCS.4941); a create on the busy small
# instance (400 DCS.4026); then the pool is put back
wcheck() {    # method path want-status want-body-part
    local code
    code=$(curl -sS -X "$1" -o "$DIR/wcheck.body" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT$2")
    [ "$code" = "$3" ] && { [ -z "$4" ] || grep -q -- "$4" "$DIR/wcheck.body"; } \
        || die "$1 $2: HTTP $code, not $3 with $4: $(head -c 300 "$DIR/wcheck.body")"
}
P0=$(printf "$POOL_PATH" 0)
wcheck POST "$P0/hotkey-task" 200 '"status":"waiting"'
wcheck POST "$P0/hotkey-task" 400 'DCS.4026'
wcheck DELETE "$P0/hotkey-task/$(printf 'd0000000-0000-4000-8000-%012x' 0)" 204 ''
wcheck DELETE "$P0/hotkey-task/$(printf 'd0000000-0000-4000-8000-%012x' 0)" 400 'DCS.4941'
wcheck POST "/v2/$PROJECT/instances/$INSTANCE/hotkey-task" 400 'DCS.4026'
pool_finish 1
pool_restore 1

# the large instance answers 10 records at each depth
for q in "offset=0&limit=10" "offset=$DEEP_OFFSET&limit=10" "status=failed&offset=20000&limit=10"; do
    [ "$ONLY" = all ] || break
    b=$(curl -sS "http://127.0.0.1:$OFF_PORT$BIG_PATH?$q")
    n=$(perl -ne 'print scalar(() = /"id":/g)' <<<"$b")
    [ "$n" = 10 ] || die "large instance, $q: $n records: ${b:0:300}"
done

# ------------------------------------------------------------ wrk
# The machine is shared (wrk, nginx and Redis on the same cores, and
# whatever else runs there), so a scenario and its baseline are measured
# interleaved: each group of scenarios runs in ROUNDS rounds of SLICE
# seconds per scenario, the order rotated every round, so that a change in
# background load hits the baseline as much as the scenario.  req/s = all
# requests / all wrk time of the scenario; p50 and p99 = the median of the
# rounds' p50 and p99.
SLICE=${BENCH_SLICE:-1}
case "$SLICE" in *[!0-9]*|0) die "BENCH_SLICE must be a positive integer";; esac
[ "$SLICE" -gt "$DURATION" ] && SLICE=$DURATION
ROUNDS=$(( (DURATION + SLICE - 1) / SLICE ))

lua_str() { local x=${1//\\/\\\\}; x=${x//\"/\\\"}; printf '"%s"' "$x"; }

# wrk_lua NAME [HEADER: VALUE ...]: writes NAME.lua, which sets the headers
# and prints one machine-readable line in done().
wrk_lua() {
    local name=$1; shift
    {
        echo "-- generated by bench/run.sh"
        local h k v
        for h in "$@"; do
            k=${h%%:*} v=${h#*:}
            v=${v# }
            echo "wrk.headers[$(lua_str "$k")] = $(lua_str "$v")"
        done
        cat <<'EOF'
done = function(summary, latency, requests)
    io.write(string.format(
        "BENCHRESULT requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.0f " ..
        "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99), latency.mean,
        summary.errors.connect, summary.errors.read, summary.errors.write,
        summary.errors.status, summary.errors.timeout))
end
EOF
    } >"$DIR/$name.lua"
}

# wrk_lua_seq NAME METHOD PATH-FORMAT: NAME.lua, whose every request is
# METHOD of PATH-FORMAT with its %012x (each) filled in by the request's
# number i: thread k of T sends k, k+T, k+2T, ... (one pool instance per
# request); the same done() as wrk_lua
wrk_lua_seq() {
    local name=$1 method=$2 fmt=$3
    wrk_lua "$name"
    {
        cat <<EOF
-- the requests: $method $fmt
local nthreads, created = $THREADS, 0
setup = function(thread)
    thread:set("first", created)
    created = created + 1
end
local i = nil
request = function()
    if i == nil then i = first end
    local path = string.format("$fmt", i, i)
    i = i + nthreads
    return wrk.format("$method", path)
end
EOF
    } >>"$DIR/$name.lua"
}

# Redis's own CPU time so far (used_cpu_sys + used_cpu_user), in us
redis_cpu_us() {
    rcli INFO cpu | tr -d '\r' | awk -F: '$1 == "used_cpu_sys" || $1 == "used_cpu_user" { t += $2 } END { printf "%.0f", t * 1e6 }'
}

declare -A URL RPS P50 P99 TRIPS ERRS REQS DUR P50S P99S RPSR CPU CPUU CPUS CPUR RCPU WORDS

# CPU time (clock ticks) the nginx workers have used so far, "user system":
# the cost of a request on the server, whatever the client's own limit is
worker_ticks() {
    local w u=0 s=0 v
    for w in $(ps -o pid= --ppid "$NGINX_PID" 2>/dev/null); do
        v=$(awk '{ print $14, $15 }' "/proc/$w/stat" 2>/dev/null) || continue
        set -- $v
        u=$(( u + $1 )) s=$(( s + $2 ))
    done
    echo "$u $s"
}
HZ=$(getconf CLK_TCK)

# scenario NAME URL [HEADER: VALUE ...]
scenario() {
    local name=$1; shift
    URL[$name]=$1; shift
    wrk_lua "$name" "$@"
    REQS[$name]=0 DUR[$name]=0 TRIPS[$name]=0 ERRS[$name]=0 P50S[$name]= P99S[$name]= RPSR[$name]= CPU[$name]=0
    CPUU[$name]=0 CPUS[$name]=0 CPUR[$name]= RCPU[$name]=0 WORDS[$name]=
}

field() { sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" <<<"$2"; }

# wrk_slice NAME ROUND: one wrk run of SLICE seconds, added to NAME's totals
wrk_slice() {
    local name=$1 round=$2 out="$DIR/$1.$2.out"
    local e0 e1 line c0 c1
    rcli CONFIG RESETSTAT >/dev/null
    e0=$(evals)
    local r0 r1
    r0=$(redis_cpu_us)
    c0=$(worker_ticks)
    [ "$round" = 1 ] && echo "== ($name) ${PIN_CLIENT[*]} wrk -t$THREADS -c$CONNS -d${SLICE}s --latency ${URL[$name]}" >&2
    run_child "${PIN_CLIENT[@]}" "$WRK" -t"$THREADS" -c"$CONNS" -d"${SLICE}s" --latency \
        -s "$DIR/$name.lua" "${URL[$name]}" >"$out" 2>&1 \
        || die "wrk failed: $(cat "$out")"
    c1=$(worker_ticks)
    r1=$(redis_cpu_us)
    RCPU[$name]=$(( RCPU[$name] + r1 - r0 ))
    local du ds
    du=$(( ${c1% *} - ${c0% *} )) ds=$(( ${c1#* } - ${c0#* } ))
    CPUU[$name]=$(( CPUU[$name] + du ))
    CPUS[$name]=$(( CPUS[$name] + ds ))
    CPU[$name]=$(( CPU[$name] + du + ds ))
    e1=$(evals)
    line=$(grep '^BENCHRESULT' "$out") || die "no result from wrk: $(cat "$out")"
    local req dur ec er ew es et
    req=$(field requests "$line"); dur=$(field duration_us "$line")
    ec=$(field err_connect "$line"); er=$(field err_read "$line"); ew=$(field err_write "$line")
    es=$(field err_status "$line"); et=$(field err_timeout "$line")
    REQS[$name]=$(( REQS[$name] + req ))
    DUR[$name]=$(( DUR[$name] + dur ))
    TRIPS[$name]=$(( TRIPS[$name] + e1 - e0 ))
    ERRS[$name]=$(( ERRS[$name] + ec + er + ew + es + et ))
    P50S[$name]+=" $(field p50_us "$line")"
    P99S[$name]+=" $(field p99_us "$line")"
    RPSR[$name]+=" $(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.1f", r / (d / 1e6) }')"
    LAST_REQS=$req
    LAST_TRIPS=$((e1 - e0))
    # this round's worker CPU per request (us), for the per-round CPU ratios
    CPUR[$name]+=" $(awk -v c=$((du + ds)) -v n="$req" -v hz="$HZ" 'BEGIN { if (n > 0) printf "%.3f", c * 1e6 / hz / n; else print 0 }')"
    printf '   round %s: %s requests/s, p50 %s us, p99 %s us, %s script runs, errors: connect %s read %s write %s status %s timeout %s\n' \
        "$round" "$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')" \
        "$(field p50_us "$line")" "$(field p99_us "$line")" "$((e1 - e0))" "$ec" "$er" "$ew" "$es" "$et" >&2
}

median_ms() {    # values in microseconds
    tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.3f", m / 1000 }'
}

finish() {    # NAME: totals -> RPS P50 P99
    local name=$1
    RPS[$name]=$(awk -v r="${REQS[$name]}" -v d="${DUR[$name]}" 'BEGIN { if (d > 0) printf "%.0f", r / (d / 1e6); else print 0 }')
    P50[$name]=$(median_ms "${P50S[$name]}")
    P99[$name]=$(median_ms "${P99S[$name]}")
}

# group NAME...: ROUNDS rounds, the order rotated by one every round
group() {
    local names=("$@") n=$# r i
    for r in $(seq 1 "$ROUNDS"); do
        for i in $(seq 0 $((n - 1))); do
            wrk_slice "${names[$(( (i + r - 1) % n ))]}" "$r"
        done
    done
    for i in "${names[@]}"; do finish "$i"; done
}

# ------------------------------------------------------------ redis-benchmark
# The list script, as the module has it (hotkeyctl prints it from the same
# source, src/hotkey_scripts.c)
SCRIPT=$("$CLI" script list) || die "hotkeyctl script list failed"
# loaded into Redis's script cache; its SHA1 is what the module sends
SHA=$(rcli SCRIPT LOAD "$SCRIPT") || die "SCRIPT LOAD failed"
[ "$SHA" = "$(printf '%s' "$SCRIPT" | sha1sum | cut -d' ' -f1)" ] || die "SCRIPT LOAD answered $SHA, not the SHA1 of the script"
# the command the module sends: the warm-up requests above (4 to the
# cache-off server, 1 to the unix one, in one worker) made EVALSHAs when it
# sends EVALSHA (only the first request of a worker is an EVAL)
if [ "$(evalshas)" -gt 0 ]; then MODULE_CMD=EVALSHA; else MODULE_CMD=EVAL; fi
STORE_CMD=${BENCH_STORE_CMD:-$(tr A-Z a-z <<<"$MODULE_CMD")}
# the same KEYS and ARGV as the list route with no parameters (offset 0, limit 10)
case "$STORE_CMD" in
evalsha) EVAL_ARGS=(EVALSHA "$SHA" 2 "$K:instance" "$K:tasks" "$PROJECT" 0 9 "$K:task:")
         EVAL_TXT="EVALSHA $SHA" ;;
eval)    EVAL_ARGS=(EVAL "$SCRIPT" 2 "$K:instance" "$K:tasks" "$PROJECT" 0 9 "$K:task:")
         EVAL_TXT="EVAL <hotkey_list_script>" ;;
*)       die "BENCH_STORE_CMD must be eval or evalsha" ;;
esac
STORE_CMD_UC=$(tr a-z A-Z <<<"$STORE_CMD")
# the create and delete scripts, SCRIPT LOADed the same way; the commands
# the module sends for pool instance i (rcall fills __n__ with i):
#   EVALSHA <create> 1 hotkey:{I}:instance <project> <new task id> manual <now ms>
#   EVALSHA <delete> 4 hotkey:{I}:instance hotkey:{I}:task:T hotkey:{I}:task:T:keys
#           hotkey:{I}:tasks <project> T hotkey:{I}: I
CSCRIPT=$("$CLI" script create) || die "hotkeyctl script create failed"
DSCRIPT=$("$CLI" script delete) || die "hotkeyctl script delete failed"
CSHA=$(rcli SCRIPT LOAD "$CSCRIPT") || die "SCRIPT LOAD failed"
DSHA=$(rcli SCRIPT LOAD "$DSCRIPT") || die "SCRIPT LOAD failed"
[ "$CSHA" = "$(printf '%s' "$CSCRIPT" | sha1sum | cut -d' ' -f1)" ] || die "SCRIPT LOAD answered $CSHA, not the SHA1 of the create script"
[ "$DSHA" = "$(printf '%s' "$DSCRIPT" | sha1sum | cut -d' ' -f1)" ] || die "SCRIPT LOAD answered $DSHA, not the SHA1 of the delete script"
PI="b0000000-0000-4000-8000-__n__"
PK="hotkey:{$PI}"
PT="d0000000-0000-4000-8000-__n__"
case "$STORE_CMD" in
evalsha) C_HEAD=(EVALSHA "$CSHA") D_HEAD=(EVALSHA "$DSHA") L_HEAD=(EVALSHA "$SHA") ;;
*)       C_HEAD=(EVAL "$CSCRIPT") D_HEAD=(EVAL "$DSCRIPT") L_HEAD=(EVAL "$SCRIPT") ;;
esac
CREATE_ARGS=("${C_HEAD[@]}" 1 "$PK:instance" "$PROJECT" __uuid__ manual __now__)
DELETE_ARGS=("${D_HEAD[@]}" 4 "$PK:instance" "$PK:task:$PT" "$PK:task:$PT:keys" "$PK:tasks" "$PROJECT" "$PT" "$PK:" "$PI")
BUSY_ARGS=("${C_HEAD[@]}" 1 "$K:instance" "$PROJECT" __uuid__ manual __now__)
RLIST_ARGS=("${L_HEAD[@]}" 2 "$K:instance" "$K:tasks" "$PROJECT" 0 9 "$K:task:")
# check: rcall's create and delete answer ok on pool instance 0 (then put back)
"$RCALL" -h 127.0.0.1 -p "$REDIS_PORT" -c 1 -n 1 -- "${CREATE_ARGS[@]}" | grep -q 'errors=0 words=ok:1$' || die "rcall's create is not ok: $("$RCALL" -h 127.0.0.1 -p "$REDIS_PORT" -c 1 -n 1 -- "${CREATE_ARGS[@]}" 2>&1)"
"$RCALL" -h 127.0.0.1 -p "$REDIS_PORT" -c 1 -n 1 -- "${DELETE_ARGS[@]}" | grep -q 'errors=0 words=ok:1$' || die "rcall's delete is not ok"
"$RCALL" -h 127.0.0.1 -p "$REDIS_PORT" -c 1 -n 1 -- "${BUSY_ARGS[@]}" | grep -q 'errors=0 words=conflict:1$' || die "rcall's create on the busy instance is not a conflict"
pool_finish 1
pool_restore 1
# check: the script answers (and counts) like the route's
[ "$(rcli "${EVAL_ARGS[@]}" | head -1)" = "$PROJECT" ] || die "the $STORE_CMD_UC does not answer the project id"
[ "$("$REDIS_CLI" -s "$SOCK" "${EVAL_ARGS[@]}" | head -1)" = "$PROJECT" ] || die "the $STORE_CMD_UC on the unix socket does not answer the project id"

# redis_slice NAME ROUND N: redis-benchmark running the script N times,
# NAME redis over TCP, redisunix over the unix socket
redis_slice() {
    local name=$1 round=$2 n=$3 out="$DIR/$1.$2.out" where
    if [ "$name" = redisunix ]; then where=(-s "$SOCK"); else where=(-h 127.0.0.1 -p "$REDIS_PORT"); fi
    rcli CONFIG RESETSTAT >/dev/null
    local rc0
    rc0=$(redis_cpu_us)
    [ "$round" = 1 ] && echo "== ($name) ${PIN_CLIENT[*]} redis-benchmark ${where[*]} -c $CONNS --threads $THREADS -n <as many as the cache-off round> $EVAL_TXT 2 $K:instance $K:tasks $PROJECT 0 9 $K:task:" >&2
    run_child "${PIN_CLIENT[@]}" "$REDIS_BENCH" "${where[@]}" -c "$CONNS" --threads "$THREADS" \
        -n "$n" --csv "${EVAL_ARGS[@]}" >"$out" 2>&1 \
        || die "redis-benchmark failed: $(cat "$out")"
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    local row rps p50 p99 trips errs
    row=$(grep -v '^"test"' "$out" | tr -d '"' | tail -1)
    [ -n "$row" ] || die "no result from redis-benchmark: $(cat "$out")"
    # the test name (the command) has commas: count from the end
    rps=$(awk -F, '{ print $(NF-6) }' <<<"$row")
    p50=$(awk -F, '{ printf "%.0f", $(NF-3) * 1000 }' <<<"$row")
    p99=$(awk -F, '{ printf "%.0f", $(NF-1) * 1000 }' <<<"$row")
    RCPU[$name]=$(( RCPU[$name] + $(redis_cpu_us) - rc0 ))
    trips=$(evals)
    errs=$(rcli INFO stats | tr -d '\r' | sed -n 's/^total_error_replies:\([0-9]*\)/\1/p')
    REQS[$name]=$(( REQS[$name] + n ))
    DUR[$name]=$(( DUR[$name] + $(awk -v n="$n" -v r="$rps" 'BEGIN { printf "%.0f", n / r * 1e6 }') ))
    TRIPS[$name]=$(( TRIPS[$name] + trips ))
    ERRS[$name]=$(( ERRS[$name] + ${errs:-0} ))
    P50S[$name]+=" $p50"
    P99S[$name]+=" $p99"
    RPSR[$name]+=" $rps"
    printf '   round %s: %.0f requests/s, p50 %s us, p99 %s us, %s script runs\n' "$round" "$rps" "$p50" "$p99" "$trips" >&2
}

# rcall_slice NAME ROUND N ARG...: bench/rcall running ARG... N times
# over TCP with the same connections and pinning as redis-benchmark
rcall_slice() {
    local name=$1 round=$2 n=$3 out="$DIR/$1.$2.out"
    shift 3
    local r0 r1 line rps p50 p99 trips errs
    rcli CONFIG RESETSTAT >/dev/null
    r0=$(redis_cpu_us)
    [ "$round" = 1 ] && echo "== ($name) ${PIN_CLIENT[*]} rcall -h 127.0.0.1 -p $REDIS_PORT -c $CONNS -n <as many as the nginx round> -- $(printf '%s ' "$@" | head -c 400)" >&2
    run_child "${PIN_CLIENT[@]}" "$RCALL" -h 127.0.0.1 -p "$REDIS_PORT" -c "$CONNS" -n "$n" -- "$@" >"$out" 2>&1 \
        || die "rcall failed: $(cat "$out")"
    r1=$(redis_cpu_us)
    line=$(grep '^RCALL ' "$out") || die "no result from rcall: $(cat "$out")"
    rps=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line")
    p50=$(field p50_us "$line"); p99=$(field p99_us "$line")
    errs=$(field errors "$line")
    trips=$(evals)
    REQS[$name]=$(( REQS[$name] + n ))
    DUR[$name]=$(( DUR[$name] + $(field duration_us "$line") ))
    TRIPS[$name]=$(( TRIPS[$name] + trips ))
    ERRS[$name]=$(( ERRS[$name] + errs ))
    RCPU[$name]=$(( RCPU[$name] + r1 - r0 ))
    P50S[$name]+=" $p50"
    P99S[$name]+=" $p99"
    RPSR[$name]+=" $rps"
    WORDS[$name]+=" $(sed -n 's/.* words=//p' <<<"$line")"
    printf '   round %s: %.0f requests/s, p50 %s us, p99 %s us, %s script runs, %s error replies, replies %s\n' \
        "$round" "$rps" "$p50" "$p99" "$trips" "$errs" "$(sed -n 's/.* words=//p' <<<"$line")" >&2
}
# how many replies of NAME's rcall runs were WORD
words_of() {    # NAME WORD
    tr ' ,' '\n\n' <<<"${WORDS[$1]}" | awk -F: -v w="$2" '$1 == w { n += $2 } END { print n + 0 }'
}

# ratio NAME BASE: the median over the rounds of NAME's req/s / BASE's req/s
# in the same round (robust to a burst of outside load during one round)
ratio() {
    awk -v a="${RPSR[$1]}" -v b="${RPSR[$2]}" 'BEGIN {
        n = split(a, x, " "); m = split(b, y, " "); if (m < n) n = m
        k = 0
        for (i = 1; i <= n; i++) if (y[i] > 0) v[++k] = x[i] / y[i]
        if (k == 0) { print "n/a"; exit }
        for (i = 2; i <= k; i++) { t = v[i]; j = i - 1; while (j > 0 && v[j] > t) { v[j + 1] = v[j]; j-- } v[j + 1] = t }
        printf "%.2f", (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2 }'
}
ratios() {    # the per-round ratios, for the log
    awk -v a="${RPSR[$1]}" -v b="${RPSR[$2]}" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ")
        for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? " " : ""), (y[i] > 0 ? x[i] / y[i] : 0) }'
}
# cratio NAME BASE: NAME's worker CPU per request over BASE's, round by
# round (both in the same group): "median min max" (how many times the
# baseline's CPU a request of NAME costs)
cratio() {
    awk -v a="${CPUR[$1]}" -v b="${CPUR[$2]}" 'BEGIN {
        n = split(a, x, " "); m = split(b, y, " "); if (m < n) n = m
        k = 0
        for (i = 1; i <= n; i++) if (y[i] > 0) v[++k] = x[i] / y[i]
        if (k == 0) { print "n/a n/a n/a"; exit }
        for (i = 2; i <= k; i++) { t = v[i]; j = i - 1; while (j > 0 && v[j] > t) { v[j + 1] = v[j]; j-- } v[j + 1] = t }
        printf "%.2f %.2f %.2f", (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2, v[1], v[k] }'
}
cratios() {    # the per-round CPU ratios, for the log
    awk -v a="${CPUR[$1]}" -v b="${CPUR[$2]}" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ")
        for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? " " : ""), (y[i] > 0 ? x[i] / y[i] : 0) }'
}

# ------------------------------------------------------------ scenarios
NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')
REDIS_VERSION=$("$REDIS" --version | sed 's/.*v=\([^ ]*\).*/\1/')
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
if [ "$LAYOUT" = pinned ] && [ -n "${PIN_CLIENT[*]}" ]; then
    LAYOUT_TXT="nginx worker_processes $WORKERS${AFFINITY:+ pinned to core 0 (worker_cpu_affinity 1)}; wrk -t$THREADS and redis-benchmark --threads $THREADS pinned to core 1 (taskset -c 1); redis-server pinned to core 0 (taskset -c 0): servers on core 0, clients on core 1"
else
    LAYOUT_TXT="nginx worker_processes $WORKERS; wrk -t$THREADS and redis-benchmark --threads $THREADS; nothing pinned"
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $NCPU cores ($CPU_MODEL), nginx $NGINX_VERSION, redis $REDIS_VERSION; load average $LOAD_BEFORE" >&2
echo "bench: layout $LAYOUT: $LAYOUT_TXT; wrk -c$CONNS, keepalive, ${DURATION}s per scenario in $ROUNDS interleaved rounds of ${SLICE}s" >&2
echo "bench: small instance: 25 tasks, body ${#BODY} bytes (page of 10); large instance: $RECORDS tasks ($NFAILED failed), loaded in ${LOAD_S}s with redis-cli --pipe" >&2
echo "bench: details body ${#DBODY} bytes (10 hot keys); write pool: $WPOOL instances with one finished task each, loaded in ${POOL_S}s" >&2
echo "bench: the module sends $MODULE_CMD (redis-benchmark baseline: $EVAL_TXT)" >&2

scenario static  "http://127.0.0.1:$HTTP_PORT/static"
scenario hit     "http://127.0.0.1:$HTTP_PORT$LIST_PATH"
scenario token   "$AKSK_URL" "${TOKEN_H[@]}"
scenario aksk    "$AKSK_URL" "${AKSK_H[@]}"
scenario fresh   "$AKSK_URL"
cat "$DIR/fresh.body.lua" >>"$DIR/fresh.lua"
scenario off     "http://127.0.0.1:$OFF_PORT$LIST_PATH"
scenario offunix "http://127.0.0.1:$UNIX_PORT$LIST_PATH"
for s in "${AKSK_SCHEMES[@]}"; do
    mapfile -t hs <<<"${SCHEME_H[$s]}"
    scenario "$s" "$AKSK_URL" "${hs[@]}"
done
for b in redis redisunix; do
    REQS[$b]=0 DUR[$b]=0 TRIPS[$b]=0 ERRS[$b]=0 P50S[$b]= P99S[$b]= RPSR[$b]=
done
scenario dstatic "http://127.0.0.1:$HTTP_PORT/static_details"
scenario dhit    "http://127.0.0.1:$HTTP_PORT$DETAILS_PATH"
scenario create "http://127.0.0.1:$HTTP_PORT/"
wrk_lua_seq create POST "$POOL_PATH/hotkey-task"
scenario delete "http://127.0.0.1:$HTTP_PORT/"
wrk_lua_seq delete DELETE "$POOL_PATH/hotkey-task/d0000000-0000-4000-8000-%012x"
scenario cbusy "http://127.0.0.1:$HTTP_PORT/v2/$PROJECT/instances/$INSTANCE/hotkey-task"
echo 'wrk.method = "POST"' >>"$DIR/cbusy.lua"
for b in rcreate rdelete rbusy rcl rbl; do
    REQS[$b]=0 DUR[$b]=0 TRIPS[$b]=0 ERRS[$b]=0 P50S[$b]= P99S[$b]= RPSR[$b]= RCPU[$b]=0 WORDS[$b]=
done
scenario big0   "http://127.0.0.1:$OFF_PORT$BIG_PATH?offset=0&limit=10"
scenario deep   "http://127.0.0.1:$OFF_PORT$BIG_PATH?offset=$DEEP_OFFSET&limit=10"
scenario failed "http://127.0.0.1:$OFF_PORT$BIG_PATH?status=failed&offset=20000&limit=10"

# BENCH_ONLY=auth: the authenticated hits against return 200 and the plain
# hit, in one group of interleaved rounds, and nothing else
if [ "$ONLY" = auth ]; then
    echo "-- return 200; cache HIT: auth off, token, AK/SK replayed, AK/SK signed apart (BENCH_ONLY=auth)" >&2
    group static hit token aksk fresh
    BAD=0
    for s in static hit token aksk fresh; do
        [ "${ERRS[$s]}" = 0 ] || { echo "bench: $s: ${ERRS[$s]} wrk errors" >&2; BAD=1; }
    done
    for s in hit token aksk fresh; do
        [ "${TRIPS[$s]}" -le 1 ] || { echo "bench: $s: ${TRIPS[$s]} script runs, not cache hits" >&2; BAD=1; }
    done
    for pair in "hit static" "token static" "aksk static" "fresh static" "token hit" "aksk hit" "fresh hit"; do
        set -- $pair
        echo "bench: $1 / $2 req/s median $(ratio "$1" "$2") per round: $(ratios "$1" "$2")" >&2
    done
    for s in hit token aksk fresh; do
        c=$(cratio static "$s"); c=${c%% *}
        echo "bench: static / $s worker CPU per request: median $c per round: $(cratios static "$s")" >&2
    done
    for s in static hit token aksk fresh; do
        echo "bench: $s: ${RPS[$s]} req/s, worker CPU $(awk -v c="${CPU[$s]}" -v n="${REQS[$s]}" -v hz="$HZ" 'BEGIN { if (n > 0) printf "%.2f", c * 1e6 / hz / n }') us/req" >&2
    done
    exit "$BAD"
fi

# after a cache-off slice, redis-benchmark of the same script runs as many
# times as that slice's requests (so that it runs about as long), on the
# same transport
after_off() {    # NAME ROUND
    case "$1" in
    off)     redis_slice redis "$2" $(( LAST_REQS > 2000 ? LAST_REQS : 2000 )) ;;
    offunix) redis_slice redisunix "$2" $(( LAST_REQS > 2000 ? LAST_REQS : 2000 )) ;;
    esac
}

echo "-- return 200; cache HIT: auth off, token, AK/SK replayed and signed apart; cache off over TCP and a unix socket, each followed by redis-benchmark of the same $STORE_CMD_UC" >&2
for r in $(seq 1 "$ROUNDS"); do
    names=(static hit token aksk fresh off offunix)
    for i in $(seq 0 6); do
        nm=${names[$(( (i + r - 1) % 7 ))]}
        wrk_slice "$nm" "$r"
        after_off "$nm" "$r"
    done
done
for nm in static hit token aksk fresh off offunix redis redisunix; do finish "$nm"; done
echo "-- cache HIT: each AK/SK scheme against SDK-HMAC-SHA256" >&2
group aksk "${AKSK_SCHEMES[@]}"
echo "-- $RECORDS tasks, cache off: deep offset and status filter against offset 0" >&2
group big0 deep failed
echo "-- details: cache HIT against return 200 of the same body" >&2
group dstatic dhit

# writes: in each round, in a rotated order, create, delete and the
# refused create through nginx, each followed by rcall of the same script
# as many times; and rcall against redis-benchmark on the list's EVALSHA
#
# write_pair NAME BASELINE READY ROUND ARG...: NAME's wrk slice, then the
# baseline's rcall of ARG... as many times (1000 at least); READY (not
# timed: pool_finish, pool_restore, or : for nothing) readies the pool
# instances the slice used, and those rcall used after it
write_pair() {
    local name=$1 base=$2 ready=$3 round=$4 n used
    shift 4
    wrk_slice "$name" "$round"
    n=$LAST_REQS
    if [ "$ready" != : ]; then
        # the instances used: wrk's count leaves out the requests in
        # flight when it stopped, Redis's count of script runs does not
        used=$(( (LAST_TRIPS > n ? LAST_TRIPS : n) + 2 * CONNS + THREADS ))
        [ "$used" -lt "$WPOOL" ] || die "$name: $used requests in a slice, the pool has $WPOOL instances: raise BENCH_WRITE_POOL"
        sleep 0.1
        "$ready" "$used"
    fi
    rcall_slice "$base" "$round" "$(( n > 1000 ? n : 1000 ))" "$@"
    "$ready" $(( n > 1000 ? n : 1000 ))
    LAST_WRITE_N=$n
}
write_step() {    # NAME ROUND
    local n
    case "$1" in
    create) write_pair create rcreate pool_finish "$2" "${CREATE_ARGS[@]}" ;;
    delete) write_pair delete rdelete pool_restore "$2" "${DELETE_ARGS[@]}" ;;
    cbusy)  write_pair cbusy rbusy : "$2" "${BUSY_ARGS[@]}" ;;
    rcl)
        n=${LAST_WRITE_N:-20000}
        [ "$n" -ge 2000 ] || n=2000
        rcall_slice rcl "$2" "$n" "${RLIST_ARGS[@]}"
        redis_slice rbl "$2" "$n"
        ;;
    esac
}
echo "-- writes through nginx (cache on, auth off), each followed by rcall of the same $STORE_CMD_UC; rcall against redis-benchmark on the list's" >&2
for r in $(seq 1 "$ROUNDS"); do
    names=(create delete cbusy rcl)
    for i in 0 1 2 3; do
        write_step "${names[$(( (i + r - 1) % 4 ))]}" "$r"
    done
done
for nm in dstatic dhit create delete cbusy rcreate rdelete rbusy rcl rbl; do finish "$nm"; done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------ report
BAD=0
for s in static hit token aksk fresh "${AKSK_SCHEMES[@]}" off offunix big0 deep failed dstatic dhit create delete; do
    [ "${ERRS[$s]}" = 0 ] || { echo "bench: $s: ${ERRS[$s]} wrk errors (non-2xx included)" >&2; BAD=1; }
done
# the refused creates: every answer a 400 (wrk counts them as status errors)
[ "${ERRS[cbusy]}" = "${REQS[cbusy]}" ] || { echo "bench: cbusy: ${ERRS[cbusy]} non-2xx of ${REQS[cbusy]}, not all" >&2; BAD=1; }
for s in create delete cbusy; do
    [ "${TRIPS[$s]}" -ge "${REQS[$s]}" ] || { echo "bench: $s: ${TRIPS[$s]} script runs < ${REQS[$s]} requests" >&2; BAD=1; }
done
[ "${TRIPS[dhit]}" -le 1 ] || { echo "bench: dhit: ${TRIPS[dhit]} script runs, not cache hits" >&2; BAD=1; }
for pair in "rcreate ok" "rdelete ok" "rbusy conflict"; do
    set -- $pair
    [ "${ERRS[$1]}" = 0 ] || { echo "bench: $1: ${ERRS[$1]} error replies" >&2; BAD=1; }
    [ "$(words_of "$1" "$2")" = "${REQS[$1]}" ] || { echo "bench: $1: $(words_of "$1" "$2") of ${REQS[$1]} replies are $2 (${WORDS[$1]})" >&2; BAD=1; }
    [ "${TRIPS[$1]}" -ge "${REQS[$1]}" ] || { echo "bench: $1: ${TRIPS[$1]} script runs < ${REQS[$1]} commands" >&2; BAD=1; }
done
for s in rcl rbl; do
    [ "${ERRS[$s]}" = 0 ] || { echo "bench: $s: ${ERRS[$s]} error replies" >&2; BAD=1; }
done
for s in redis redisunix; do
    [ "${ERRS[$s]}" = 0 ] || { echo "bench: $s: ${ERRS[$s]} error replies" >&2; BAD=1; }
    [ "${TRIPS[$s]}" -ge "${REQS[$s]}" ] || { echo "bench: $s: ${TRIPS[$s]} script runs < ${REQS[$s]} commands" >&2; BAD=1; }
done
for s in hit token aksk fresh "${AKSK_SCHEMES[@]}"; do
    [ "${TRIPS[$s]}" -le 1 ] || { echo "bench: $s: ${TRIPS[$s]} script runs, not cache hits" >&2; BAD=1; }
done
for s in off offunix big0 deep failed; do
    [ "${TRIPS[$s]}" -ge "${REQS[$s]}" ] || { echo "bench: $s: ${TRIPS[$s]} script runs < ${REQS[$s]} requests" >&2; BAD=1; }
done

verdict() {    # ratio min
    awk -v r="$1" -v m="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= m) print "met"; else print "NOT met" }'
}
verdict_max() {    # ratio max
    awk -v r="$1" -v m="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 <= m) print "met"; else print "NOT met" }'
}
cpu_us() { awk -v c="${CPU[$1]}" -v n="${REQS[$1]}" -v hz="$HZ" 'BEGIN { if (n > 0) printf "%.2f", c * 1e6 / hz / n; else print "n/a" }'; }
cpu_us_us() {    # NAME: "user+system" us per request
    awk -v u="${CPUU[$1]}" -v s="${CPUS[$1]}" -v n="${REQS[$1]}" -v hz="$HZ" 'BEGIN {
        if (n > 0) printf "%.1f + %.1f", u * 1e6 / hz / n, s * 1e6 / hz / n; else print "n/a" }'
}

{
    echo "Machine: $NCPU cores (nproc), $CPU_MODEL; nginx $NGINX_VERSION; Redis $REDIS_VERSION; load average $LOAD_BEFORE before, $LOAD_AFTER after."
    echo "Layout ($LAYOUT): $LAYOUT_TXT."
    echo "wrk -t$THREADS -c$CONNS --latency, keepalive, loopback; ${DURATION}s per scenario, run as $ROUNDS rounds of ${SLICE}s interleaved with its baseline (order rotated each round); req/s over all rounds; p50, p99 and the ratio: the median of the rounds' values."
    echo "AK/SK: the headers are signed once by \`hotkeyctl sign\` and replayed; each worker verifies the signature once, then finds the request in its cache of verified requests (keyed by the Authorization value and the signed parts of the request as sent; X-Sdk-Date, the key and permissions still checked per request)."
    echo "Token: one ES256 JWT minted by \`hotkeyctl token\` for the whole run; each worker verifies it once, then finds it in its cache of verified tokens (keyed by the whole token; exp/nbf still checked per request)."
    echo "Store: the module sends $MODULE_CMD; the redis-benchmark baselines run $EVAL_TXT with the route's KEYS and ARGV, over TCP and over the unix socket."
    echo
    echo "Server CPU: the nginx workers' CPU time (utime + stime from /proc) per request; its ratio is the baseline's cost over the scenario's (1.00: as cheap as the baseline), which holds even when the client, not the server, sets the request rate."
    echo
    echo "| scenario | req/s | p50 ms | p99 ms | server CPU us/req | baseline | ratio | CPU ratio | target |"
    echo "|---|---:|---:|---:|---:|---|---:|---:|---|"
    brow() {    # label name baseline-label baseline-name target
        local r= t=$5 cr=
        [ -n "$4" ] && r=$(ratio "$2" "$4")
        [ -n "$4" ] && [ "${4#redis}" = "$4" ] && cr=$(awk -v a="$(cpu_us "$4")" -v b="$(cpu_us "$2")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        [ -n "$t" ] && [ -n "$r" ] && case "$t" in ">="*) t="$t (req/s $(verdict "$r" "${t#>= }"), CPU $(verdict "$cr" "${t#>= }"))";; esac
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${RPS[$2]}" "${P50[$2]}" "${P99[$2]}" "$([ "${2#redis}" != "$2" ] && echo - || cpu_us "$2")" "$3" "$r" "$cr" "$t"
    }
    brow "nginx \`return 200\`, the same body" static "" "" ""
    brow "cache HIT, auth off" hit "\`return 200\`" static ">= 0.90"
    brow "cache HIT, X-Auth-Token (ES256 JWT)" token "\`return 200\`" static ">= 0.85"
    brow "cache HIT, AK/SK (replayed headers, from the cache of verified requests)" aksk "\`return 200\`" static ">= 0.85"
    brow "cache HIT, AK/SK signed apart ($FRESH_N requests cycled: every signature checked)" fresh "\`return 200\`" static ""
    for s in "${AKSK_SCHEMES[@]}"; do
        brow "cache HIT, AK/SK ${SCHEME_OF[$s]} (replayed, from the cache of verified requests)" "$s" "SDK-HMAC-SHA256" aksk ""
    done
    brow "redis-benchmark, the same $STORE_CMD_UC, TCP, -c $CONNS" redis "" "" ""
    brow "cache off, 25 tasks (1 script run per request), TCP" off "redis-benchmark TCP" redis ""
    brow "redis-benchmark, the same $STORE_CMD_UC, unix socket, -c $CONNS" redisunix "" "" ""
    brow "cache off, 25 tasks, store on a unix socket" offunix "redis-benchmark unix" redisunix ""
    brow "cache off, $RECORDS tasks, offset=0&limit=10" big0 "" "" ""
    brow "cache off, $RECORDS tasks, offset=$DEEP_OFFSET&limit=10" deep "offset=0" big0 "~1.0"
    brow "cache off, $RECORDS tasks, status=failed&offset=20000&limit=10" failed "offset=0" big0 "~1.0"
    echo
    echo "Miss path cost: the worker CPU of a cache-off request over that of \`return 200\` of the same body, from the same interleaved rounds (median of the $ROUNDS rounds' ratios, their range, and the ratio of the totals)."
    echo
    echo "| cache off, store over | worker CPU us/req (user + sys) | \`return 200\` us/req (user + sys) | off / static worker CPU | rounds min–max | totals | target |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    mrow() {    # label name target-max
        local c med lo hi tot t=
        c=$(cratio "$2" static); read -r med lo hi <<<"$c"
        tot=$(awk -v a="$(cpu_us "$2")" -v b="$(cpu_us static)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        [ -n "$3" ] && t="<= $3 ($(verdict_max "$med" "$3"))"
        printf '| %s | %s (%s) | %s (%s) | %s | %s–%s | %s | %s |\n' "$1" "$(cpu_us "$2")" "$(cpu_us_us "$2")" \
            "$(cpu_us static)" "$(cpu_us_us static)" "$med" "$lo" "$hi" "$tot" "$t"
    }
    mrow "loopback TCP (upstream keepalive 64)" off 3
    mrow "unix socket (upstream keepalive 64)" offunix ""
    echo
    echo "Details from the cache: a successful task of the small instance with 10 hot keys (a ${#DBODY}-byte answer), against \`return 200\` of the same body, in their own interleaved rounds."
    echo
    echo "| scenario | req/s | p50 ms | p99 ms | server CPU us/req | baseline | ratio | CPU ratio |"
    echo "|---|---:|---:|---:|---:|---|---:|---:|"
    drow() {    # label name baseline-label baseline-name
        local r= cr=
        [ -n "$4" ] && r=$(ratio "$2" "$4") && cr=$(awk -v a="$(cpu_us "$4")" -v b="$(cpu_us "$2")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${RPS[$2]}" "${P50[$2]}" "${P99[$2]}" "$(cpu_us "$2")" "$3" "$r" "$cr"
    }
    drow "nginx \`return 200\`, the same ${#DBODY}-byte body" dstatic "" ""
    drow "details (GET .../hotkey-task/{id}), cache HIT, auth off" dhit "\`return 200\`" dstatic
    echo
    echo "Writes: through the cached server (auth off, upstream keepalive 64, TCP), each slice followed in the same round by bench/rcall running the same $STORE_CMD_UC, KEYS and ARGV on the same Redis (-c $CONNS, as many commands); us/req = 1,000,000 / (req/s) with $CONNS requests in flight; Redis CPU: used_cpu_user + used_cpu_sys per request; ratio: the median of the rounds' req/s ratios."
    echo
    echo "| scenario | req/s | us/req | p50 ms | p99 ms | nginx worker CPU us/req | Redis CPU us/req | baseline | ratio (req/s) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|---:|"
    wrow() {    # label name baseline-label baseline-name
        local r= w c rc
        [ -n "$4" ] && r=$(ratio "$2" "$4")
        w=$(awk -v x="${RPS[$2]}" 'BEGIN { if (x > 0) printf "%.1f", 1e6 / x; else print "n/a" }')
        c=-; [ "${2#r}" = "$2" ] && c=$(cpu_us "$2")
        rc=$(awk -v c="${RCPU[$2]}" -v n="${REQS[$2]}" 'BEGIN { if (n > 0) printf "%.1f", c / n; else print "n/a" }')
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${RPS[$2]}" "$w" "${P50[$2]}" "${P99[$2]}" "$c" "$rc" "$3" "$r"
    }
    wrow "rcall: create script, a new instance each (ok)" rcreate "" ""
    wrow "create (POST .../hotkey-task), 200" create "rcall create" rcreate
    wrow "rcall: delete script, a finished task each (ok)" rdelete "" ""
    wrow "delete (DELETE .../hotkey-task/{id}), 204" delete "rcall delete" rdelete
    wrow "rcall: create script on the busy instance (conflict)" rbusy "" ""
    wrow "create refused (busy instance), 400 DCS.4026" cbusy "rcall conflict" rbusy
    wrow "redis-benchmark: the list's $STORE_CMD_UC" rbl "" ""
    wrow "rcall: the same" rcl "redis-benchmark" rbl
} >"$DIR/table.md"
for pair in "hit static" "token static" "aksk static" "fresh static" "aksk_sm3 aksk" "aksk_v11 aksk" "aksk_p256 aksk" "aksk_sm2 aksk" "off redis" "offunix redisunix" "deep big0" "failed big0" "dhit dstatic" "create rcreate" "delete rdelete" "cbusy rbusy" "rcl rbl"; do
    set -- $pair
    echo "bench: $1 / $2 per round: $(ratios "$1" "$2")" >&2
done
for s in hit token aksk fresh off offunix; do
    echo "bench: $s / static worker CPU per request, per round: $(cratios "$s" static)" >&2
done

echo
cat "$DIR/table.md"
echo
mkdir -p "$(dirname "$OUT")" && cp "$DIR/table.md" "$OUT" && echo "bench: table written to $OUT" >&2
if [ "$BAD" != 0 ]; then
    echo "bench: WARNING: errors, or script-run counts that do not match the scenarios (see above)" >&2
    exit 1
fi
