#!/usr/bin/env bash
# scripts/faults.sh: fault injection under load (make faults).
#
# Starts Redis (RDB persistence in a temp dir, so that a restart brings the
# data back) and nginx with the module (2 workers, cache OFF so that every
# request is a store round trip, hotkey_store_read_timeout 500ms, the
# json-errors.conf snippet included), then, while wrk sends the list request
# for the whole run, a second wrk sends writes to a cached server of the
# same nginx (creates, deletes, autoscan PUTs with good and bad bodies,
# beside lists, details and autoscan GETs from the cache, whose entries the
# writes' hotkey:changes messages drop through each worker's subscription),
# a loop ends the created tasks every 0.1 s as an analyzer would (so that
# creates keep succeeding), and a poller sends one list request every 20 ms
# (logging the time and the status):
#
#   1. kills Redis with SIGKILL and restarts it 2 s later;
#   2. pauses Redis past the read timeout (CLIENT PAUSE 1500 ALL);
#   3. reloads nginx ten times, 0.3 s apart (nginx -s reload);
#   4. keeps one client connection open that sent half a request line and
#      then stalls, for the whole run.
#
# Then reports, for each wrk: answers per status, answers whose body is not
# the contract's JSON (a 200 must start with {"instance_id": or {"id": (a
# create's or a details'), a 204 has no body, any other status starts with
# {"error_code":; counted in wrk's response()); the writes that succeeded;
# the store's consistency after it all (every indexed task has its record
# and exactly one status index, at most 100 records where creates ran); worker crashes (error log:
# "exited on signal" or a worker exiting with a non-zero code), every
# [alert]/[crit]/[emerg] line, wrk's socket errors, the stalled client's
# fate, and how long after Redis came back (answered PING) the first 200
# arrived (from the poller's log).
#
# Exit status: 1 if any answer is not the contract's JSON, a worker crashed,
# no 200 arrived after Redis came back, no create succeeded, or the store's
# records are inconsistent; 0 otherwise.
#
# Env: HOTKEY_MODULE (default build/ngx_http_hotkey_module.so),
#      HOTKEY_NGINX, HOTKEY_REDIS (default /usr/sbin/nginx, /usr/bin/redis-server),
#      FAULTS_KEEP=1 keeps the temp dir (configs, logs, poller log).
# Everything it starts is stopped on exit.

set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
MODULE=${HOTKEY_MODULE:-$TOP/build/ngx_http_hotkey_module.so}
NGINX=${HOTKEY_NGINX:-/usr/sbin/nginx}
REDIS=${HOTKEY_REDIS:-/usr/bin/redis-server}
REDIS_CLI=$(command -v redis-cli)
WRK=$(command -v wrk)
WORKERS=2
TOTAL=20        # seconds of load
. "$TOP/scripts/lib.sh"

die() { echo "faults: $*" >&2; exit 2; }
for b in "$NGINX" "$REDIS" "$REDIS_CLI" "$WRK" curl perl; do
    command -v "$b" >/dev/null 2>&1 || die "missing: $b"
done
[ -f "$MODULE" ] || die "module not built: $MODULE (run make build)"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/hotkey-faults-XXXXXX")
NGINX_PID= REDIS_PID= WRK_PID= POLL_PID= STALL_PID= WWRK_PID= FIN_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$WRK_PID"; stop_pid "$POLL_PID"; stop_pid "$STALL_PID"
    stop_pid "$WWRK_PID"; stop_pid "$FIN_PID"
    stop_nginx_tree "$NGINX_PID"
    stop_pid "$REDIS_PID"
    if [ -n "${FAULTS_KEEP:-}" ]; then echo "faults: kept $DIR" >&2; else rm -rf "$DIR"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

REDIS_PORT=$(free_port)
HTTP_PORT=$(free_port)
while [ "$HTTP_PORT" = "$REDIS_PORT" ]; do HTTP_PORT=$(free_port); done
WRITE_PORT=$(free_port)
while [ "$WRITE_PORT" = "$REDIS_PORT" ] || [ "$WRITE_PORT" = "$HTTP_PORT" ]; do
    WRITE_PORT=$(free_port)
done

now() { date +%s.%N | cut -c1-14; }    # seconds, 3 decimals
rcli() { "$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
T0=$(now)
say() { printf '[%6.2fs] %s\n' "$(awk -v a="$T0" -v b="$(now)" 'BEGIN { print b - a }')" "$*" >&2; }

# ------------------------------------------------------------ redis
mkdir -p "$DIR/redis" "$DIR/logs" "$DIR/tmp" "$DIR/conf"
start_redis() {
    start_temp_redis "$DIR/redis" "$REDIS_PORT" "$REDIS" \
        || die "redis-server did not start: $(tail -5 "$DIR/redis/redis.log")"
}
start_redis

PROJECT=$(random_hex32)
INSTANCE=$(random_uuid)
K="hotkey:{$INSTANCE}"
small_instance_cmds "$K" "$PROJECT" | rcli >/dev/null || die "loading the data failed"
# the writes: WI holds 5,000 finished tasks for deletes to consume, one
# running (a delete refused) and one kept for details; CI, 95 finished
# tasks and no busy one, takes the creates (past 100 records each drops
# the oldest)
WI=$(random_uuid)
WK="hotkey:{$WI}"
CI=$(random_uuid)
RUN=a0000000-0000-4000-8000-00000000beef
KEEP=$(deletable_id 999999999)
{
    echo "HSET $WK:instance project_id $PROJECT eviction_policy allkeys-lfu"
    echo "HSET hotkey:{$CI}:instance project_id $PROJECT eviction_policy volatile-lfu"
    echo "HSET $WK:task:$RUN id $RUN status running scan_type auto created_at 1592187678669 started_at 1592187678700"
    echo "ZADD $WK:tasks 1592187678669 $RUN"
    echo "ZADD $WK:tasks:running 1592187678669 $RUN"
} | rcli >/dev/null || die "loading the data failed"
load_deletable_tasks "$REDIS_PORT" "$WI" 5000 || die "loading the deletable tasks failed"
load_deletable_tasks "$REDIS_PORT" "$WI" 1 999999999 || die "loading the deletable tasks failed"
load_fixed_tasks "$REDIS_PORT" "$CI" 95
rcli SAVE >/dev/null || die "SAVE failed"
[ -s "$DIR/redis/dump.rdb" ] || die "no dump.rdb after SAVE"

LIST_PATH="/v2/$PROJECT/instances/$INSTANCE/hotkey-tasks"

# ------------------------------------------------------------ nginx
cp "$MODULE" "$DIR/ngx_http_hotkey_module.so"
cp "$TOP/conf-examples/json-errors.conf" "$DIR/conf/json-errors.conf"
cat >"$DIR/conf/nginx.conf" <<EOF
$(nginx_conf_head "$DIR" notice)
worker_processes $WORKERS;
daemon off;
master_process on;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000;
$(nginx_temp_paths "$DIR")
    upstream store {
        server 127.0.0.1:$REDIS_PORT;
        keepalive 16;
    }
    hotkey_cache_zone faults:4m;
    log_format faults '\$msec \$request_time \$status \$request_method \$uri '
                      '\$hotkey_cache_status \$hotkey_error_code \$pid';
    server {
        listen 127.0.0.1:$HTTP_PORT;
        include json-errors.conf;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store store;
            hotkey_store_connect_timeout 500ms;
            hotkey_store_send_timeout 500ms;
            hotkey_store_read_timeout 500ms;
        }
    }
    # the writes, beside reads from a cache that the writes invalidate
    server {
        listen 127.0.0.1:$WRITE_PORT;
        include json-errors.conf;
        client_body_buffer_size 1k;
        access_log $DIR/logs/writes.log faults;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store store;
            hotkey_cache faults;
            hotkey_cache_valid 60s;
            hotkey_store_connect_timeout 500ms;
            hotkey_store_send_timeout 500ms;
            hotkey_store_read_timeout 500ms;
        }
    }
}
EOF
NG=("$NGINX" -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log")
"${NG[@]}" -t >"$DIR/logs/nginx-t.out" 2>&1 || die "nginx -t failed: $(cat "$DIR/logs/nginx-t.out")"
"${NG[@]}" </dev/null >>"$DIR/logs/nginx.out" 2>&1 &
NGINX_PID=$!
wait_http "http://127.0.0.1:$HTTP_PORT$LIST_PATH" "$NGINX_PID"
[ $? != 2 ] || die "nginx exited: $(tail -5 "$DIR/logs/error.log")"
CODE=$(curl -s -o "$DIR/first.body" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT$LIST_PATH")
[ "$CODE" = 200 ] || die "the list request answers $CODE before any fault: $(cat "$DIR/first.body")"

# ------------------------------------------------------------ load
cat >"$DIR/check.lua" <<'EOF'
-- counts answers per status and those whose body is not the contract's JSON
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
    counts = {}      -- status -> answers
    bad = {}         -- status -> answers with a wrong body
    samples = {}     -- a few wrong answers
    nbad = 0
end
function response(status, headers, body)
    local k = tostring(status)
    counts[k] = (counts[k] or 0) + 1
    local ctype = headers["Content-Type"] or headers["content-type"] or ""
    local json = ctype:find("application/json", 1, true) ~= nil
    local ok
    if status == 204 then
        ok = body == nil or body == ""
    elseif status == 200 then
        ok = json and body ~= nil and (body:sub(1, 15) == '{"instance_id":'
                                       or body:sub(1, 6) == '{"id":')
    else
        ok = json and body ~= nil and body:sub(1, 14) == '{"error_code":'
    end
    if not ok then
        bad[k] = (bad[k] or 0) + 1
        nbad = nbad + 1
        if nbad <= 5 then
            table.insert(samples, k .. " " .. ctype .. " " .. string.sub(body or "<nil>", 1, 120))
        end
    end
end
function done(summary, latency, requests)
    local c, b, s = {}, {}, {}
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("counts")) do c[k] = (c[k] or 0) + v end
        for k, v in pairs(t:get("bad")) do b[k] = (b[k] or 0) + v end
        for _, v in ipairs(t:get("samples")) do table.insert(s, v) end
    end
    local total, nonjson = 0, 0
    for k, v in pairs(c) do
        total = total + v
        io.write(string.format("FAULTS status=%s answers=%d notjson=%d\n", k, v, b[k] or 0))
        nonjson = nonjson + (b[k] or 0)
    end
    io.write(string.format("FAULTS total=%d notjson=%d requests=%d " ..
        "err_connect=%d err_read=%d err_write=%d err_timeout=%d p99_us=%d max_us=%d\n",
        total, nonjson, summary.requests, summary.errors.connect, summary.errors.read,
        summary.errors.write, summary.errors.timeout, latency:percentile(99), latency.max))
    for _, v in ipairs(s) do io.write("FAULTS sample " .. v .. "\n") end
end
EOF

# the writes: round robin over these requests ("{n}": the n-th delete's
# task); a 2 KiB body goes to nginx's temporary file
W="/v2/$PROJECT/instances/$WI"
C="/v2/$PROJECT/instances/$CI"
PAD=$(head -c 2000 /dev/zero | tr '\0' x)
cat >"$DIR/writes.lua" <<LUA
local J = { ["Content-Type"] = "application/json" }
local reqs = {
    { "POST", "$C/hotkey-task" },
    { "GET", "$C/hotkey-tasks?limit=3" },
    { "DELETE", "$W/hotkey-task/d0000000-0000-4000-8000-{n}" },
    { "GET", "$W/hotkey-tasks" },
    { "GET", "$W/hotkey-task/$KEEP" },
    { "DELETE", "$W/hotkey-task/$RUN" },
    { "GET", "$W/hotkey-task/$RUN" },
    { "PUT", "$C/hotkey/autoscan", J, '{"enable_auto_scan":true,"schedule_at":["21:00","03:30"]}' },
    { "GET", "$C/hotkey/autoscan" },
    { "PUT", "$C/hotkey/autoscan", J, '{"enable_auto_scan":false,"schedule_at":[],"pad":"$PAD"}' },
    { "PUT", "$C/hotkey/autoscan", J, '{"enable_auto_scan":true,"schedule_at":[]}' },
    { "PUT", "$C/hotkey/autoscan", J, '' },
    { "PUT", "$C/hotkey/autoscan", J, 'not json' },
    { "POST", "/v2/$PROJECT/instances/$(random_uuid)/hotkey-task" },
}
LUA
wrk_round_robin_lua >>"$DIR/writes.lua"
cat "$DIR/check.lua" >>"$DIR/writes.lua"

# the poller: one request every 20 ms on a new connection; logs
# "<send time> <answer time> <status>" (epoch seconds; status 0 = no answer)
cat >"$DIR/poll.pl" <<'EOF'
use strict; use warnings;
use IO::Socket::INET; use Time::HiRes qw(time sleep);
$| = 1;
my ($port, $path, $secs) = @ARGV;
my $end = time + $secs;
while ((my $t0 = time) < $end) {
    my $st = 0;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port,
                                  Proto => "tcp", Timeout => 2);
    if ($s) {
        $s->send("GET $path HTTP/1.1\r\nHost: poll\r\nConnection: close\r\n\r\n");
        my $buf = "";
        my $rin = ""; vec($rin, fileno($s), 1) = 1;
        while (select(my $r = $rin, undef, undef, 2)) {
            my $n = sysread($s, $buf, 65536, length $buf);
            last unless $n;
        }
        $st = $1 if $buf =~ m{^HTTP/1\.[01] (\d{3})};
        close $s;
    }
    printf "%.3f %.3f %d\n", $t0, time, $st;
    my $left = $t0 + 0.02 - time;
    sleep($left) if $left > 0;
}
EOF

# the keepalive probe: one request, its answer read by Content-Length,
# then: does the server keep the connection open as its header says?
cat >"$DIR/probe.pl" <<'EOF'
use strict; use warnings;
use IO::Socket::INET; use Time::HiRes qw(sleep);
my ($port, $path) = @ARGV;
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp")
    or die "connect: $!";
$s->send("GET $path HTTP/1.1\r\nHost: probe\r\n\r\n");
my $buf = "";
while ($buf !~ /\r\n\r\n/) { sysread($s, $buf, 65536, length $buf) or last }
my ($head, $body) = split /\r\n\r\n/, $buf, 2;
my ($len) = $head =~ /^Content-Length: (\d+)/mi;
while (defined $len && length($body // "") < $len) { sysread($s, $body, 65536, length $body) or last }
my ($st) = $head =~ m{^HTTP/1\.1 (\d+)};
my ($conn) = $head =~ /^Connection: (\S+)/mi;
sleep 0.2;
my $rin = ""; vec($rin, fileno($s), 1) = 1;
my $closed = "open";
if (select(my $r = $rin, undef, undef, 0)) {
    my $n = sysread($s, my $x, 1);
    $closed = defined $n && $n == 0 ? "closed" : defined $n ? "extra bytes" : "reset ($!)";
}
print "status=$st connection=", $conn // "-", " after=$closed body=", substr($body // "", 0, 40), "\n";
EOF

# the staller: half a request line, then nothing; logs when nginx closes
cat >"$DIR/stall.pl" <<'EOF'
use strict; use warnings;
use IO::Socket::INET; use Time::HiRes qw(time);
$| = 1;
my ($port, $path) = @ARGV;
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp")
    or die "connect: $!";
$s->send("GET $path HT");
printf "sent %.3f\n", time;
my $n = sysread($s, my $buf, 65536);
printf "closed %.3f bytes=%d %s\n", time, $n // -1, substr($buf // "", 0, 80) =~ s/\r?\n/ /gr;
sleep 3600;
EOF

say "redis :$REDIS_PORT, nginx :$HTTP_PORT ($WORKERS workers, cache off, store read timeout 500ms)"
perl "$DIR/stall.pl" "$HTTP_PORT" "$LIST_PATH" >"$DIR/stall.log" 2>&1 &
STALL_PID=$!
"$WRK" -t1 -c20 -d"${TOTAL}s" --timeout 5s -s "$DIR/check.lua" \
    "http://127.0.0.1:$HTTP_PORT$LIST_PATH" >"$DIR/wrk.out" 2>&1 &
WRK_PID=$!
perl "$DIR/poll.pl" "$HTTP_PORT" "$LIST_PATH" "$TOTAL" >"$DIR/poll.log" 2>&1 &
POLL_PID=$!
"$WRK" -t1 -c8 -d"${TOTAL}s" --timeout 5s -s "$DIR/writes.lua" \
    "http://127.0.0.1:$WRITE_PORT" >"$DIR/wrk-writes.out" 2>&1 &
WWRK_PID=$!
FINISH_LUA=$(finish_waiting_lua)
(
    while :; do
        rcli EVAL "$FINISH_LUA" 0 "$(date +%s%3N)" "$CI" 2>/dev/null | grep -x '[0-9]*'
        sleep 0.1
    done
) >"$DIR/finished.log" &
FIN_PID=$!
say "wrk -t1 -c20 -d${TOTAL}s (the list, cache off), wrk -t1 -c8 -d${TOTAL}s (writes and cached reads), poller every 20 ms, finisher every 0.1 s, stalled half request line: started"
sleep 2

# 1. SIGKILL Redis, restart after 2 s
KILL_AT=$(now)
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
say "redis killed (SIGKILL)"
# probe: a 500 on a keepalive connection, then a second request on it
perl "$DIR/probe.pl" "$HTTP_PORT" "$LIST_PATH" >"$DIR/keepalive.probe" 2>&1
sleep 1.9
RESTART_AT=$(now)
start_redis
PING_AT=$(now)
# "back": Redis's own log line, millisecond precision (redis-cli PING from
# this script is late by a process start or two on a loaded machine)
READY=$(grep 'Ready to accept connections' "$DIR/redis/redis.log" | tail -1 \
        | sed -E 's/^[0-9]+:[A-Z] ([0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+) .*/\1/')
BACK_AT=$(date -d "$READY" +%s.%3N 2>/dev/null) || BACK_AT=$PING_AT
say "redis restarted, ready at +$(awk -v a="$RESTART_AT" -v b="$BACK_AT" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms (its log), answers PING (data from dump.rdb: $(rcli EXISTS "$K:instance") instance key)"
sleep 2

# 2. pause Redis past the read timeout
PAUSE_AT=$(now)
rcli CLIENT PAUSE 1500 ALL >/dev/null || say "CLIENT PAUSE failed"
say "redis CLIENT PAUSE 1500 ALL"
sleep 2.5
UNPAUSED_AT=$(awk -v a="$PAUSE_AT" 'BEGIN { printf "%.3f", a + 1.5 }')

# 3. ten reloads, 0.3 s apart
RELOAD_AT=$(now)
for i in $(seq 10); do
    "${NG[@]}" -s reload 2>>"$DIR/logs/reload.err" || say "nginx -s reload $i failed"
    sleep 0.3
done
say "nginx reloaded 10 times"

wait "$WRK_PID"; WRK_PID=
wait "$WWRK_PID"; WWRK_PID=
wait "$POLL_PID"; POLL_PID=
stop_pid "$FIN_PID"; FIN_PID=
say "load finished"
STALL_ALIVE=no; kill -0 "$STALL_PID" 2>/dev/null && STALL_ALIVE=yes
sleep 0.5

# ------------------------------------------------------------ report
FAIL=0
echo
echo "### Fault injection: nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), $WORKERS workers, hotkey_store_read_timeout 500ms; $(nproc) cores"
echo
f() { sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" <<<"$2"; }
wrk_report() {    # file title
    local out=$1 line answers notjson
    grep -q '^FAULTS total=' "$out" || { cat "$out" >&2; die "no result from wrk ($2)"; }
    line=$(grep '^FAULTS total=' "$out")
    answers=$(f total "$line"); notjson=$(f notjson "$line")
    echo "$2:"
    echo
    echo "| status | answers (wrk) | not the contract's JSON |"
    echo "|---|---:|---:|"
    grep '^FAULTS status=' "$out" | sort | while read -r _ s a b; do
        echo "| ${s#status=} | ${a#answers=} | ${b#notjson=} |"
    done
    echo "| **total** | $answers | $notjson |"
    echo
    echo "wrk socket errors (not answers): connect $(f err_connect "$line"), read $(f err_read "$line"), write $(f err_write "$line"), timeout $(f err_timeout "$line"); p99 $(f p99_us "$line") us, max $(f max_us "$line") us"
    grep '^FAULTS sample' "$out" | sed 's/^FAULTS sample /  not JSON: /'
    [ "$answers" -gt 0 ] || { echo "FAIL: no answers"; FAIL=1; }
    [ "$notjson" = 0 ] || { echo "FAIL: $notjson answers are not the contract's JSON"; FAIL=1; }
    echo
}
wrk_report "$DIR/wrk.out" "The list, cache off (wrk -c20)"
wrk_report "$DIR/wrk-writes.out" "Writes and cached reads (wrk -c8: creates, deletes, autoscan PUTs good and bad, lists, details, autoscan GETs)"
CREATED=$(awk '{ n += $1 } END { print n + 0 }' "$DIR/finished.log")
LEFT=$(rcli ZCOUNT "$WK:tasks" 1592187678669 $((1592187678669 + 4999)))
echo "writes: $CREATED tasks created (and ended by the finisher); $((5000 - LEFT)) of the 5,000 deletable tasks gone at the end (Redis restarted from the dump.rdb made before the load: deletes before the kill were undone)"
[ "$CREATED" -gt 0 ] || { echo "FAIL: no create succeeded"; FAIL=1; }
echo "slowest answers of the writes' server (its access log: end time, seconds, status, method, uri, cache status, error code, worker pid):"
sort -k2,2 -rn "$DIR/logs/writes.log" | head -5 | sed 's/^/  /'
echo "answers of the writes' server over 1 s: $(awk '$2 > 1' "$DIR/logs/writes.log" | wc -l) of $(wc -l <"$DIR/logs/writes.log")"
# every indexed task has its record and exactly one status index, the one
# of its status; every status index entry is indexed; creates kept 100
CONS=$(rcli EVAL "
    local bad = {}
    local sts = { 'waiting', 'running', 'success', 'failed' }
    for a, iid in ipairs(ARGV) do
        local p = 'hotkey:{' .. iid .. '}:'
        local ids = redis.call('ZRANGE', p .. 'tasks', 0, -1)
        for _, id in ipairs(ids) do
            local st = redis.call('HGET', p .. 'task:' .. id, 'status')
            local k = 0
            for _, s in ipairs(sts) do
                if redis.call('ZSCORE', p .. 'tasks:' .. s, id) then k = k + 1 end
            end
            if not st or k ~= 1 or not redis.call('ZSCORE', p .. 'tasks:' .. st, id) then
                table.insert(bad, iid .. ' ' .. id .. ' ' .. tostring(st) .. ': in ' .. k .. ' status indexes')
            end
        end
        for _, s in ipairs(sts) do
            for _, id in ipairs(redis.call('ZRANGE', p .. 'tasks:' .. s, 0, -1)) do
                if not redis.call('ZSCORE', p .. 'tasks', id) then
                    table.insert(bad, iid .. ' ' .. id .. ': in tasks:' .. s .. ' only')
                end
            end
        end
        if a == 2 and #ids > 100 then
            table.insert(bad, iid .. ': ' .. #ids .. ' records, over 100')
        end
    end
    return bad" 0 "$WI" "$CI")
if [ -n "$CONS" ]; then
    echo "FAIL: the store is inconsistent:"; sed 's/^/  /' <<<"$CONS" | head -10; FAIL=1
else
    echo "store consistency: every indexed task has its record and one status index; the creates' instance keeps $(rcli ZCARD "hotkey:{$CI}:tasks") records (100 at most)"
fi
echo

LOG="$DIR/logs/error.log"
CRASH=$(grep -cE 'exited on signal|worker process [0-9]+ exited with code [1-9]' "$LOG")
EXITS=$(grep -cE 'worker process [0-9]+ exited with code 0' "$LOG")
ALERTS=$(grep -E '\[(alert|crit|emerg)\]' "$LOG")
echo
echo "worker crashes (exited on signal / non-zero code): $CRASH; normal worker exits (reloads): $EXITS"
if [ -n "$ALERTS" ]; then
    echo "[alert]/[crit]/[emerg] lines: $(grep -cE '\[(alert|crit|emerg)\]' "$LOG")"
    sed 's/^/  /' <<<"$ALERTS" | head -20
else
    echo "[alert]/[crit]/[emerg] lines: 0"
fi
echo "[error] lines: $(grep -c '\[error\]' "$LOG") (store failures), by message:"
grep '\[error\]' "$LOG" | sed -E 's/^.*\[error\] [0-9]+#[0-9]+: (\*[0-9]+ )?//; s/, client:.*//; s/[0-9]+(\.[0-9]+)?//g' | sort | uniq -c | sort -rn | head -8 | sed 's/^/  /'
[ "$CRASH" = 0 ] || { echo "FAIL: worker crash"; grep -E 'exited on signal|exited with code [1-9]' "$LOG" | head; FAIL=1; }

# the poller: statuses by phase, and the first 200 after Redis answered again
echo
awk -v k="$KILL_AT" -v r="$RESTART_AT" -v b="$BACK_AT" -v p="$PAUSE_AT" -v u="$UNPAUSED_AT" -v l="$RELOAD_AT" '
    function phase(t) {
        if (t < k) return "1 before faults"
        if (t < b) return "2 redis down"
        if (t < p) return "3 redis back"
        if (t < u + 0.5) return "4 redis paused 1.5 s"
        if (t < l) return "5 after pause"
        return "6 reloads"
    }
    { n[phase($1) " " $3]++ ; all++ }
    $3 == 200 && $1 >= r && (first == "" || $2 < first) { first = $2 }
    $3 != 200 && $1 >= u + 0.5 { late[$3]++ }
    END {
        printf "poller: %d requests\n", all
        for (x in n) printf "  %s: %d\n", x, n[x] | "sort"
        close("sort")
        if (first == "") print "first 200 after Redis came back: NONE"
        else printf "first 200 after Redis came back: %.0f ms (Redis killed, restarted %.0f ms later, ready %.0f ms after the restart per its log; first 200 = answer time of the first 200 to a poll sent after the restart, minus the ready time)\n", (first - b) * 1000, (r - k) * 1000, (b - r) * 1000
        for (s in late) printf "  non-200 after the pause ended (+0.5 s): %d x %s\n", late[s], s
    }' "$DIR/poll.log" | tee "$DIR/poll.summary"
grep -q 'first 200 after Redis came back: NONE' "$DIR/poll.summary" && { echo "FAIL: no 200 after Redis came back"; FAIL=1; }

echo
# keepalive after a store failure: the 500 says "Connection: keep-alive";
# is the connection still usable for the next request?
PROBE=$(cat "$DIR/keepalive.probe")
echo "keepalive probe while Redis was down (one request, then is the connection still open 0.2 s later?): $PROBE"
case "$PROBE" in
*connection=keep-alive*after=closed*|*connection=keep-alive*after=reset*)
    echo "WARN: the 500 DCS.5000 for a store failure says 'Connection: keep-alive' but nginx closes the connection right after it: a client's next request on that connection fails (wrk's read errors above)";;
esac

echo
echo "stalled client (half a request line): $(tr '\n' ' ' <"$DIR/stall.log")still connected at the end: $STALL_ALIVE"
LEFT=$(ps -o pid=,args= --ppid "$NGINX_PID" | grep -c 'shutting down')
echo "nginx workers still shutting down after the reloads: $LEFT"
echo
if [ "$FAIL" = 0 ]; then echo "faults: PASS"; else echo "faults: FAIL"; fi
exit "$FAIL"
