#!/usr/bin/env bash
# bench/run.sh: throughput and latency of the list route, from the cache and
# from the store, next to nginx's own `return 200` and redis-benchmark.
#
# Usage:   make build && bench/run.sh          (or: make bench)
# Env:     BENCH_DURATION=10     seconds per wrk run (and the length of
#                                the redis-benchmark run, roughly)
#          BENCH_CONNECTIONS=50  wrk -c and redis-benchmark -c
#          BENCH_THREADS=2       wrk -t and redis-benchmark --threads
#          BENCH_WORKERS=2       nginx worker_processes (default: the
#                                number of cores, i.e. `nproc`)
#          HOTKEY_MODULE=...     the .so (default build/ngx_http_hotkey_module.so)
#          HOTKEY_NGINX, HOTKEY_REDIS   binaries (default /usr/sbin/nginx,
#                                /usr/bin/redis-server)
#          BENCH_KEEP=1          keep the temp dir (configs, logs, wrk output)
#
# What it does: starts redis-server and nginx (daemon off, children of this
# script) on free loopback ports in a temp dir, loads one instance with 25
# tasks, and runs, each for BENCH_DURATION seconds with keepalive:
#   (a) hit     GET /v2/<p>/instances/<i>/hotkey-tasks, hotkey_cache on
#               (valid 1h), hotkey_auth off: every request a cache HIT
#   (b) static  location = /static { return 200 '<the same body>'; } in the
#               same nginx (same server{}), byte-identical JSON body
#   (c) off     the same route in a server without hotkey_cache: every
#               request is one EVAL round trip to Redis
#   (d) redis   redis-benchmark running that very EVAL (script text taken
#               from src/hotkey_store.c, same KEYS and ARGV) with the same
#               number of connections
# and prints requests/s, p50 and p99 latency of each, the ratios hit/static
# and off/redis, and the EVAL calls Redis counted during each HTTP run
# (a: ~0, c: = requests) as a check that the runs measured what they say.
#
# Extending it (auth is being built): every wrk run goes through
# wrk_run NAME URL [HEADER: VALUE ...]; the headers go into the generated
# wrk lua script (bench/<tmp>/NAME.lua).  Placeholders at the end of
# "scenarios" below show where token and AK/SK runs go.  For AK/SK, whose
# signature changes per request, give the lua script a request() function
# (see wrk_lua) or pre-sign with `build/hotkeyctl sign` if a fixed
# X-Sdk-Date within hotkey_auth_date_skew is acceptable for the run.
#
# Everything it starts is stopped on exit (trap on EXIT, INT, TERM).

set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-50}
THREADS=${BENCH_THREADS:-2}
WORKERS=${BENCH_WORKERS:-$(nproc 2>/dev/null || echo 2)}
MODULE=${HOTKEY_MODULE:-$TOP/build/ngx_http_hotkey_module.so}
NGINX=${HOTKEY_NGINX:-/usr/sbin/nginx}
REDIS=${HOTKEY_REDIS:-/usr/bin/redis-server}
REDIS_CLI=$(command -v redis-cli)
REDIS_BENCH=$(command -v redis-benchmark)
WRK=$(command -v wrk)

die() { echo "bench: $*" >&2; exit 1; }

for b in "$NGINX" "$REDIS" "$REDIS_CLI" "$REDIS_BENCH" "$WRK" curl perl; do
    command -v "$b" >/dev/null 2>&1 || die "missing: $b"
done
[ -f "$MODULE" ] || die "module not built: $MODULE (run make build)"
case "$DURATION$CONNS$THREADS$WORKERS" in *[!0-9]*) die "BENCH_* must be integers";; esac
[ "$CONNS" -ge "$THREADS" ] || die "BENCH_CONNECTIONS must be >= BENCH_THREADS"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/hotkey-bench-XXXXXX")
NGINX_PID=
REDIS_PID=
CHILD_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$CHILD_PID" ] && kill "$CHILD_PID" 2>/dev/null
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        # the workers' pids, in case the master has to be killed hard
        local workers w
        workers=$(ps -o pid= --ppid "$NGINX_PID" 2>/dev/null)
        kill -TERM "$NGINX_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$NGINX_PID" 2>/dev/null; then
            kill -KILL "$NGINX_PID" 2>/dev/null
            for w in $workers; do kill -KILL "$w" 2>/dev/null; done
        fi
    fi
    [ -n "$NGINX_PID" ] && wait "$NGINX_PID" 2>/dev/null
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        kill -TERM "$REDIS_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$REDIS_PID" 2>/dev/null
    fi
    [ -n "$REDIS_PID" ] && wait "$REDIS_PID" 2>/dev/null
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

free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0, Proto => "tcp") or die;
        print $s->sockport, "\n";'
}

wait_port() {    # port pid
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

REDIS_PORT=$(free_port)
HTTP_PORT=$(free_port)
OFF_PORT=$(free_port)
while [ "$HTTP_PORT" = "$REDIS_PORT" ]; do HTTP_PORT=$(free_port); done
while [ "$OFF_PORT" = "$REDIS_PORT" ] || [ "$OFF_PORT" = "$HTTP_PORT" ]; do OFF_PORT=$(free_port); done

rcli() { "$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
evals() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_eval:calls=\([0-9]*\).*/\1/p' | grep . || echo 0; }

# ------------------------------------------------------------ redis + data
mkdir -p "$DIR/redis" "$DIR/logs" "$DIR/tmp" "$DIR/conf"
"$REDIS" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --save '' \
    --appendonly no --daemonize no --protected-mode no \
    --logfile "$DIR/redis/redis.log" </dev/null >/dev/null 2>&1 &
REDIS_PID=$!
wait_port "$REDIS_PORT" "$REDIS_PID" || die "redis-server did not start: $(tail -5 "$DIR/redis/redis.log")"
for _ in $(seq 50); do [ "$(rcli PING 2>/dev/null)" = PONG ] && break; sleep 0.05; done

PROJECT=$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')
INSTANCE=$(cat /proc/sys/kernel/random/uuid)
K="hotkey:{$INSTANCE}"
{
    echo "HSET $K:instance project_id $PROJECT eviction_policy allkeys-lfu"
    base=1592187678669
    statuses=(waiting running success failed)
    for i in $(seq 0 24); do
        id=$(cat /proc/sys/kernel/random/uuid)
        st=${statuses[$((i % 4))]}
        c=$((base + i * 60000 + i))
        f="id $id status $st scan_type $([ $((i % 3)) = 0 ] && echo auto || echo manual) created_at $c"
        [ "$st" != waiting ] && f="$f started_at $((c + 4865))"
        [ "$st" = success ] || [ "$st" = failed ] && f="$f finished_at $((c + 6919))"
        echo "HSET $K:task:$id $f"
        echo "ZADD $K:tasks $c $id"
        echo "ZADD $K:tasks:$st $c $id"
    done
} | rcli >/dev/null || die "loading the data failed"

LIST_PATH="/v2/$PROJECT/instances/$INSTANCE/hotkey-tasks"

# ------------------------------------------------------------ nginx
cp "$MODULE" "$DIR/ngx_http_hotkey_module.so"
USER_LINE=
[ "$(id -u)" = 0 ] && USER_LINE="user root;"

write_conf() {    # static body ('' before we have it)
    local static=$1
    cat >"$DIR/conf/nginx.conf" <<EOF
load_module $DIR/ngx_http_hotkey_module.so;
$USER_LINE
worker_processes $WORKERS;
daemon off;
master_process on;
pid $DIR/logs/nginx.pid;
error_log $DIR/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    client_body_temp_path $DIR/tmp/client_body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;
    hotkey_cache_zone bench:10m;
    upstream bench_store {
        server 127.0.0.1:$REDIS_PORT;
        keepalive 64;
    }
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
    }
    server {
        listen 127.0.0.1:$OFF_PORT;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store bench_store;
        }
    }
    # placeholder: a server with authentication on, for token and AK/SK runs
    # (BENCH_AUTH_DIRECTIVES, e.g. "hotkey_auth on; hotkey_auth_token_keys ...;")
${AUTH_SERVER:-}
}
EOF
}

AUTH_SERVER=
AUTH_PORT=
if [ -n "${BENCH_AUTH_DIRECTIVES:-}" ]; then
    AUTH_PORT=$(free_port)
    AUTH_SERVER="    server {
        listen 127.0.0.1:$AUTH_PORT;
        location /v2/ {
            hotkey_api on;
            hotkey_store bench_store;
            hotkey_cache bench;
            hotkey_cache_valid 1h;
            $BENCH_AUTH_DIRECTIVES
        }
    }"
fi

write_conf ''
"$NGINX" -t -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log" \
    >"$DIR/logs/nginx-t.out" 2>&1 || die "nginx -t failed: $(cat "$DIR/logs/nginx-t.out")"
"$NGINX" -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log" \
    </dev/null >>"$DIR/logs/nginx.out" 2>&1 &
NGINX_PID=$!
wait_port "$HTTP_PORT" "$NGINX_PID" && wait_port "$OFF_PORT" "$NGINX_PID" \
    || die "nginx did not start: $(tail -5 "$DIR/logs/error.log")"

# the body, from the store (MISS), then once more from the cache (HIT)
BODY=$(curl -sS -o - "http://127.0.0.1:$HTTP_PORT$LIST_PATH") || die "curl failed"
HDRS=$(curl -sS -D - -o "$DIR/hit.body" "http://127.0.0.1:$HTTP_PORT$LIST_PATH" | tr -d '\r')
echo "$HDRS" | grep -qi '^X-Cache-Status: HIT' || die "the second request is not a cache HIT: $HDRS"
printf '%s' "$BODY" | grep -q "[\$'\\\\]" && die "the body has a quote, \$ or \\ that nginx's return would alter"

# the static location with the byte-identical body: a reload (the zone,
# and the cached entry, survive it)
write_conf "$BODY"
"$NGINX" -t -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log" \
    >"$DIR/logs/nginx-t.out" 2>&1 || die "nginx -t failed: $(cat "$DIR/logs/nginx-t.out")"
kill -HUP "$NGINX_PID"
for _ in $(seq 100); do
    S=$(curl -sS "http://127.0.0.1:$HTTP_PORT/static" 2>/dev/null) && [ "$S" = "$BODY" ] && break
    sleep 0.05
done
[ "$S" = "$BODY" ] || die "/static does not serve the body after the reload"
cmp -s "$DIR/hit.body" <(curl -sS "http://127.0.0.1:$HTTP_PORT/static") \
    || die "/static is not byte-identical to the cached answer"
sleep 0.5    # old workers leave
OFF_BODY=$(curl -sS -D "$DIR/off.hdr" "http://127.0.0.1:$OFF_PORT$LIST_PATH")
[ "$OFF_BODY" = "$BODY" ] || die "the cache-off server answers another body"
grep -qi '^X-Cache-Status' "$DIR/off.hdr" && die "the cache-off server has a cache"

# ------------------------------------------------------------ wrk
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
-- per-request signing (AK/SK) would go in a request() function:
-- request = function() return wrk.format(nil, nil, headers_for_now()) end
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

declare -A RPS P50 P99 TRIPS ERRS REQS

# wrk_run NAME URL [HEADER: VALUE ...]
wrk_run() {
    local name=$1 url=$2; shift 2
    wrk_lua "$name" "$@"
    local e0 e1
    rcli CONFIG RESETSTAT >/dev/null
    e0=$(evals)
    echo "== ($name) wrk -t$THREADS -c$CONNS -d${DURATION}s --latency $url" >&2
    run_child "$WRK" -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
        -s "$DIR/$name.lua" "$url" >"$DIR/$name.out" 2>&1 \
        || die "wrk failed: $(cat "$DIR/$name.out")"
    e1=$(evals)
    local line
    line=$(grep '^BENCHRESULT' "$DIR/$name.out") || die "no result from wrk: $(cat "$DIR/$name.out")"
    local req dur p50 p99 ec er ew es et
    req=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
    dur=$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$line")
    p50=$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$line")
    p99=$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$line")
    ec=$(sed 's/.*err_connect=\([0-9]*\).*/\1/' <<<"$line")
    er=$(sed 's/.*err_read=\([0-9]*\).*/\1/' <<<"$line")
    ew=$(sed 's/.*err_write=\([0-9]*\).*/\1/' <<<"$line")
    es=$(sed 's/.*err_status=\([0-9]*\).*/\1/' <<<"$line")
    et=$(sed 's/.*err_timeout=\([0-9]*\).*/\1/' <<<"$line")
    REQS[$name]=$req
    RPS[$name]=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
    P50[$name]=$(awk -v v="$p50" 'BEGIN { printf "%.3f", v / 1000 }')
    P99[$name]=$(awk -v v="$p99" 'BEGIN { printf "%.3f", v / 1000 }')
    TRIPS[$name]=$((e1 - e0))
    ERRS[$name]=$((ec + er + ew + es + et))
    printf '   %s requests/s, p50 %s ms, p99 %s ms, %s requests, %s EVALs in Redis, errors: connect %s read %s write %s status %s timeout %s\n' \
        "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$req" "${TRIPS[$name]}" \
        "$ec" "$er" "$ew" "$es" "$et" >&2
}

# ------------------------------------------------------------ redis-benchmark
# The EVAL of src/hotkey_store.c: the C string literal, concatenated.
SCRIPT=$(perl -0777 -ne '
    /hotkey_list_script\[\]\s*=\s*((?:\s*"(?:[^"\\]|\\.)*")+)\s*;/s or exit 1;
    my $lit = $1; my $s = "";
    $s .= $1 while $lit =~ /"((?:[^"\\]|\\.)*)"/g;
    $s =~ s/\\(["\\\x27])/$1/g;
    die "unhandled escape in the script literal\n" if $s =~ /\\/;
    print $s;' "$TOP/src/hotkey_store.c") || die "cannot find hotkey_list_script in src/hotkey_store.c"
# the same KEYS and ARGV as the list route with no parameters (offset 0, limit 10)
EVAL_ARGS=(EVAL "$SCRIPT" 2 "$K:instance" "$K:tasks" "$PROJECT" 0 9 "$K:task:")
# check: the script answers (and counts) like the route's
[ "$(rcli "${EVAL_ARGS[@]}" | head -1)" = "$PROJECT" ] || die "the EVAL does not answer the project id"

redis_bench() {
    local n=$1 name=redis
    rcli CONFIG RESETSTAT >/dev/null
    echo "== ($name) redis-benchmark -c $CONNS --threads $THREADS -n $n EVAL <hotkey_list_script> 2 $K:instance $K:tasks $PROJECT 0 9 $K:task:" >&2
    run_child "$REDIS_BENCH" -h 127.0.0.1 -p "$REDIS_PORT" -c "$CONNS" --threads "$THREADS" \
        -n "$n" --csv "${EVAL_ARGS[@]}" >"$DIR/$name.out" 2>&1 \
        || die "redis-benchmark failed: $(cat "$DIR/$name.out")"
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    local row
    row=$(grep -v '^"test"' "$DIR/$name.out" | tr -d '"' | tail -1)
    [ -n "$row" ] || die "no result from redis-benchmark: $(cat "$DIR/$name.out")"
    # the test name (the command) has commas: count from the end
    RPS[$name]=$(awk -F, '{ printf "%.0f", $(NF-6) }' <<<"$row")
    P50[$name]=$(awk -F, '{ print $(NF-3) }' <<<"$row")
    P99[$name]=$(awk -F, '{ print $(NF-1) }' <<<"$row")
    TRIPS[$name]=$(evals)
    REQS[$name]=$n
    ERRS[$name]=$(rcli INFO stats | tr -d '\r' | sed -n 's/^total_error_replies:\([0-9]*\)/\1/p')
    printf '   %s requests/s, p50 %s ms, p99 %s ms, %s requests, %s EVALs in Redis\n' \
        "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$n" "${TRIPS[$name]}" >&2
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# ------------------------------------------------------------ scenarios
echo "bench: nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), $WORKERS worker(s) (worker_processes $WORKERS), $(nproc) cores;" \
     "redis $("$REDIS" --version | sed 's/.*v=\([^ ]*\).*/\1/'); wrk -t$THREADS -c$CONNS -d${DURATION}s, keepalive" >&2
echo "bench: body ${#BODY} bytes (25 tasks, default page of 10), route $LIST_PATH" >&2

wrk_run hit    "http://127.0.0.1:$HTTP_PORT$LIST_PATH"
wrk_run static "http://127.0.0.1:$HTTP_PORT/static"
wrk_run off    "http://127.0.0.1:$OFF_PORT$LIST_PATH"
# as many EVALs as the cache-off run made, so that it runs about as long
N=$(( ${REQS[off]} > 10000 ? ${REQS[off]} : 10000 ))
redis_bench "$N"

EXTRA_ROWS=()
# placeholder: token auth.  Set BENCH_AUTH_DIRECTIVES (the auth directives
# of the extra server) and BENCH_TOKEN (a JWT for $PROJECT, e.g. from
# `build/hotkeyctl token ...`); the run is a cache-hit run behind auth.
if [ -n "$AUTH_PORT" ] && [ -n "${BENCH_TOKEN:-}" ]; then
    wrk_run token "http://127.0.0.1:$AUTH_PORT$LIST_PATH" "X-Auth-Token: $BENCH_TOKEN"
    EXTRA_ROWS+=(token)
fi
# placeholder: AK/SK.  BENCH_AKSK_HEADERS="Authorization: SDK-HMAC-SHA256 ...|X-Sdk-Date: ..."
# (pre-signed headers, '|'-separated), or a request() function in wrk_lua.
if [ -n "$AUTH_PORT" ] && [ -n "${BENCH_AKSK_HEADERS:-}" ]; then
    IFS='|' read -r -a AKSK_H <<<"$BENCH_AKSK_HEADERS"
    wrk_run aksk "http://127.0.0.1:$AUTH_PORT$LIST_PATH" "${AKSK_H[@]}"
    EXTRA_ROWS+=(aksk)
fi

# ------------------------------------------------------------ report
BAD=0
[ "${ERRS[hit]}" = 0 ] && [ "${ERRS[static]}" = 0 ] && [ "${ERRS[off]}" = 0 ] || BAD=1
[ "${TRIPS[hit]}" -le 1 ] || BAD=1
[ "${TRIPS[off]}" -ge "${REQS[off]}" ] || BAD=1

echo
echo "### hotkey bench: $WORKERS nginx worker(s), wrk -t$THREADS -c$CONNS -d${DURATION}s (keepalive), $(nproc) cores"
echo
echo "| scenario | requests/s | p50 ms | p99 ms | requests | Redis EVALs | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row() { printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${RPS[$2]}" "${P50[$2]}" "${P99[$2]}" "${REQS[$2]}" "${TRIPS[$2]}" "${ERRS[$2]}"; }
row "(a) list route, cache HIT" hit
row "(b) static \`return 200\`, same body" static
row "(c) list route, cache off (1 EVAL each)" off
row "(d) redis-benchmark, same EVAL, -c $CONNS" redis
for r in "${EXTRA_ROWS[@]}"; do row "($r) cache HIT behind $r auth" "$r"; done
echo
echo "| ratio | value |"
echo "|---|---:|"
echo "| hit / static (requests/s) | $(ratio "${RPS[hit]}" "${RPS[static]}") |"
echo "| cache off / redis-benchmark (requests/s) | $(ratio "${RPS[off]}" "${RPS[redis]}") |"
echo "| hit / cache off (requests/s) | $(ratio "${RPS[hit]}" "${RPS[off]}") |"
echo
if [ "$BAD" != 0 ]; then
    echo "bench: WARNING: errors, or EVAL counts that do not match the scenarios (see above)" >&2
    exit 1
fi
