#!/bin/bash
# nginx with the module under valgrind (memcheck), driven by wrk.
#
# The test harness always runs nginx with master_process on and daemon on,
# and its start-up timeouts are too short for valgrind, so this is a
# standalone script: it starts redis-server (with one instance and a few
# tasks) and nginx with `master_process off; daemon off;` (one process
# that serves, so valgrind sees every request and a normal exit) under
#
#   valgrind --leak-check=full --error-exitcode=99 --trace-children=yes
#
# with a config like the harness's (cache, AK/SK + token auth, rate limit,
# metrics), sends VG_SECONDS (default 5) of requests of each kind with wrk
# (hit, miss, errors, auth failures, AK/SK, metrics, purge, and the write
# routes: creates, deletes, autoscan PUTs with good and bad bodies, some
# bodies in nginx's temporary file, beside lists and details, without and
# with auth), while a loop ends the created tasks every 0.1 s as an
# analyzer would (so that creates keep succeeding, and every end is a
# hotkey:changes message to the worker's subscription), stops nginx
# with SIGQUIT and checks valgrind's report: it fails on any "Invalid
# read/write/free", use of uninitialised values, or a "definitely lost"
# block allocated from the module (hotkey_* / ngx_http_hotkey_*).  Losses
# elsewhere (OpenSSL, nginx's own start-up) are counted, not failed on
# (they also make valgrind exit 99, so the report decides, not the code).
#
# Usage: scripts/valgrind.sh           (needs make build cli; root)
# HOTKEY_MODULE=path selects the .so (default build/ngx_http_hotkey_module.so)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs=${VG_SECONDS:-5}
module=${HOTKEY_MODULE:-$top/build/ngx_http_hotkey_module.so}
ctl=$top/build/hotkeyctl
. "$top/scripts/lib.sh"

say() { printf 'valgrind.sh: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

for b in valgrind wrk redis-server redis-cli curl; do
    command -v $b >/dev/null || die "$b is not installed"
done
[ -f "$module" ] || make -s build || die "no module"
[ -x "$ctl" ] || make -s cli || die "no hotkeyctl"

dir=$(mktemp -d /tmp/hotkey-vg-XXXXXX)
REDIS_PID=
vg_pid=
fin_pid=
cleanup() {
    [ -n "$fin_pid" ] && stop_pid "$fin_pid"
    [ -n "$vg_pid" ] && kill -TERM "$vg_pid" 2>/dev/null && wait "$vg_pid" 2>/dev/null
    stop_pid "$REDIS_PID"
}
trap cleanup EXIT

mkdir -p "$dir/conf" "$dir/logs" "$dir/redis" "$dir/tmp"
# a private copy: others may rebuild build/ meanwhile
cp "$module" "$dir/ngx_http_hotkey_module.so"
cp "$ctl" "$dir/hotkeyctl"
ctl=$dir/hotkeyctl

rport=$(free_port)
port_a=$(free_port)
port_b=$(free_port)
while [ "$port_b" = "$port_a" ]; do port_b=$(free_port); done

P=0123456789abcdef0123456789abcdef
P2=fedcba9876543210fedcba9876543210
I=5560df16-cebf-4473-95c4-d1b573c16e79
I2=0b9a1c3e-1111-4222-8333-444455556666

# ---------------------------------------------------------------- redis

start_temp_redis "$dir/redis" "$rport" || die "redis-server did not start"
r() { redis-cli -p "$rport" "$@" >/dev/null; }
r HSET "hotkey:{$I}:instance" project_id $P eviction_policy allkeys-lfu
r HSET "hotkey:{$I2}:instance" project_id $P eviction_policy noeviction
# 100 records: every create past them drops the oldest (retention)
load_fixed_tasks "$rport" "$I" 100
# I3: tasks for deletes to consume (d0000000-...-<n>), one running (a
# delete refused), one kept for details with keys
I3=3c2b1a09-8765-4321-8fed-cba987654321
r HSET "hotkey:{$I3}:instance" project_id $P eviction_policy volatile-lfu
load_deletable_tasks "$rport" "$I3" 20000
load_deletable_tasks "$rport" "$I3" 1 999999999
KEEP=$(deletable_id 999999999)
RUN=a0000000-0000-4000-8000-00000000beef
r HSET "hotkey:{$I3}:task:$RUN" id $RUN status running scan_type auto created_at 1592187678669 started_at 1592187678700
r ZADD "hotkey:{$I3}:tasks" 1592187678669 $RUN
r ZADD "hotkey:{$I3}:tasks:running" 1592187678669 $RUN

# ---------------------------------------------------------------- auth

secret=$dir/conf/hs256.secret
printf 'valgrind-test-hs256-secret-0123456789abcdef' >"$secret"
AK=AKVALGRIND0123
SK=valgrind-secret-key
creds=$dir/conf/creds
printf '%s %s projects=%s actions=* name=vg\n' $AK $SK $P >"$creds"
chmod 600 "$secret" "$creds"

tok=$("$ctl" token --key "$secret" --project $P --ttl 7200) || die "token"
tok_other=$("$ctl" token --key "$secret" --project $P2 --ttl 7200) || die "token"
tok_noact=$("$ctl" token --key "$secret" --project $P --actions dcs:instance:analyze --ttl 7200) || die "token"
tok_old=$("$ctl" token --key "$secret" --project $P --ttl 10 --now 1600000000) || die "token"
tok_all=$("$ctl" token --key "$secret" --project $P --actions '*' --ttl 7200) || die "token"

L=/v2/$P/instances/$I/hotkey-tasks
sig=$("$ctl" sign --ak $AK --sk $SK --url "http://127.0.0.1:$port_a$L?limit=5") || die "sign"
sdk_date=$(printf '%s\n' "$sig" | sed -n 's/^X-Sdk-Date: //p')
sdk_auth=$(printf '%s\n' "$sig" | sed -n 's/^Authorization: //p')
sdk_host=$(printf '%s\n' "$sig" | sed -n 's/^Host: //p')

# write routes
C=/v2/$P/instances/$I/hotkey-task
A=/v2/$P/instances/$I/hotkey/autoscan
D3=/v2/$P/instances/$I3/hotkey-task
PUT_OK='{"enable_auto_scan":true,"schedule_at":["21:00","03:30","00:00"]}'
PUT_OFF='{"enable_auto_scan":false,"schedule_at":[]}'
# a valid body of about 3 KiB (the unknown field is ignored): with
# client_body_buffer_size 1k on server A it is read from nginx's
# temporary file, for the AK/SK body hash and for the parser
PUT_BIG="{\"enable_auto_scan\":true,\"schedule_at\":[\"12:00\"],\"pad\":\"$(head -c 3000 /dev/zero | tr '\0' x)\"}"
# over the module's 8 KiB limit: DCS.4005
PUT_HUGE="{\"enable_auto_scan\":true,\"schedule_at\":[\"12:00\"],\"pad\":\"$(head -c 9000 /dev/zero | tr '\0' x)\"}"
# "Name: value" lines -> a Lua table of headers
lua_hdrs() {
    printf '{'
    printf '%s\n' "$1" | while IFS= read -r h; do
        [ -n "$h" ] && printf '["%s"]=[[%s]], ' "${h%%: *}" "${h#*: }"
    done
    printf '}'
}
signed() {    # method url body: the signed headers, as a Lua table
    local h
    h=$("$ctl" sign --ak $AK --sk $SK --method "$1" --url "$2" \
        --header 'Content-Type: application/json' --data "$3") || die "sign"
    lua_hdrs "$h
Content-Type: application/json"
}
S_PUT=$(signed PUT "http://127.0.0.1:$port_a$A" "$PUT_OK")
S_PUTBIG=$(signed PUT "http://127.0.0.1:$port_a$A" "$PUT_BIG")
S_CREATE=$(signed POST "http://127.0.0.1:$port_a$C" "")
S_DETAILS=$(signed GET "http://127.0.0.1:$port_a$D3/$KEEP" "")

# ---------------------------------------------------------------- nginx

cat >"$dir/conf/nginx.conf" <<EOF
$(nginx_conf_head "$dir" notice)
master_process off;
daemon off;

events {
    worker_connections 1024;
}

http {
    access_log off;
$(nginx_temp_paths "$dir")

    hotkey_cache_zone hk:10m;
    hotkey_rate_limit_zone rl:1m;

    upstream hk_store {
        server 127.0.0.1:$rport;
        keepalive 8;
    }

    # A: cache, authentication, rate limit (hits, auth failures); bodies
    # over 1 KiB go to a temporary file
    server {
        listen 127.0.0.1:$port_a;
        client_body_buffer_size 1k;
        location /v2/ {
            hotkey_api on;
            hotkey_store hk_store;
            hotkey_auth on;
            hotkey_auth_token_keys $secret;
            hotkey_auth_credentials $creds;
            hotkey_cache hk;
            hotkey_cache_valid 60s;
            hotkey_rate_limit rl rate=1000000r/s burst=100000;
        }
        location = /metrics {
            hotkey_metrics;
        }
        location = /purge {
            hotkey_cache_purge hk;
        }
    }

    # B: no cache, no auth (misses: every request goes to redis)
    server {
        listen 127.0.0.1:$port_b;
        location /v2/ {
            hotkey_api on;
            hotkey_store 127.0.0.1:$rport;
            hotkey_auth off;
        }
    }
}
EOF

vglog=$dir/valgrind.%p.log
say "starting nginx under valgrind (logs in $dir)"
valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --error-exitcode=99 \
    --trace-children=yes --num-callers=40 --track-origins=yes \
    --log-file="$vglog" \
    /usr/sbin/nginx -p "$dir/" -c "$dir/conf/nginx.conf" -e "$dir/logs/error.log" \
    >"$dir/logs/nginx.out" 2>&1 &
vg_pid=$!

wait_http "http://127.0.0.1:$port_b/" "$vg_pid" 1200 || { cat "$dir"/valgrind.*.log "$dir/logs/error.log" | tail -40; die "nginx did not start"; }

# ---------------------------------------------------------------- load

# wrk runs a list of requests round robin: kind "name" -> lua table rows
# { method, path, headers{}, body } ("{n}" in a path: see
# wrk_round_robin_lua; LUA_N0 sets its first n).  No HEAD: wrk would wait
# for the body the Content-Length announces.
lua_req() {    # file rows...
    local f=$1
    shift
    {
        echo 'local reqs = {'
        for row in "$@"; do echo "  $row,"; done
        echo '}'
        wrk_round_robin_lua "${LUA_N0:-0}"
        cat <<'LUA'
local threads = {}
setup = function(thread)
    table.insert(threads, thread)
end
init = function()
    st = {}
end
response = function(status)
    st[status] = (st[status] or 0) + 1
end
done = function(summary)
    local all, keys = {}, {}
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("st")) do all[k] = (all[k] or 0) + v end
    end
    for k in pairs(all) do table.insert(keys, k) end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do table.insert(parts, k .. ": " .. all[k]) end
    io.write(string.format("    %d requests: %s; %d socket errors\n",
        summary.requests, table.concat(parts, ", "), summary.errors.connect
        + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
    } >"$f"
}

H='{["Host"]="localhost"}'
lua_req "$dir/hit.lua" \
    "{'GET', '$L', {[\"X-Auth-Token\"]='$tok'}}" \
    "{'GET', '$L?limit=5', {[\"X-Auth-Token\"]='$tok'}}" \
    "{'GET', '$L?offset=1&limit=3&status=success', {[\"X-Auth-Token\"]='$tok'}}"
lua_req "$dir/aksk.lua" \
    "{'GET', '$L?limit=5', {[\"Host\"]='$sdk_host', [\"X-Sdk-Date\"]='$sdk_date', [\"Authorization\"]='$sdk_auth'}}"
lua_req "$dir/miss.lua" \
    "{'GET', '$L', $H}" \
    "{'GET', '$L?offset=2&limit=7', $H}" \
    "{'GET', '$L?status=success&limit=1000', $H}" \
    "{'GET', '/v2/$P/instances/$I2/hotkey-tasks', $H}" \
    "{'GET', '/v2/$P2/instances/$I/hotkey-tasks', $H}"
lua_req "$dir/errors.lua" \
    "{'GET', '/v2/$P/instances/$I/nothing', $H}" \
    "{'POST', '$L', $H, 'x=1'}" \
    "{'DELETE', '$L', $H}" \
    "{'GET', '$L?limit=0', $H}" \
    "{'GET', '$L?offset=-1&status=bogus', $H}" \
    "{'GET', '$L?status=%zz', $H}" \
    "{'GET', '/v2/NOTHEX/instances/$I/hotkey-tasks', $H}" \
    "{'GET', '/v2/$P/instances/not-a-uuid/hotkey-tasks', $H}"
lua_req "$dir/authfail.lua" \
    "{'GET', '$L', $H}" \
    "{'GET', '$L', {[\"X-Auth-Token\"]='not.a.token'}}" \
    "{'GET', '$L', {[\"X-Auth-Token\"]='${tok}x'}}" \
    "{'GET', '$L', {[\"X-Auth-Token\"]='$tok_old'}}" \
    "{'GET', '$L', {[\"X-Auth-Token\"]='$tok_noact'}}" \
    "{'GET', '/v2/$P2/instances/$I/hotkey-tasks', {[\"X-Auth-Token\"]='$tok_other'}}" \
    "{'GET', '$L?limit=6', {[\"X-Sdk-Date\"]='$sdk_date', [\"Authorization\"]='$sdk_auth'}}" \
    "{'GET', '$L', {[\"X-Sdk-Date\"]='20200101T000000Z', [\"Authorization\"]='SDK-HMAC-SHA256 Access=$AK, SignedHeaders=x-sdk-date, Signature=$(printf '%064d' 0)'}}" \
    "{'GET', '$L', {[\"Authorization\"]='SDK-HMAC-SHA256 Access=nobody'}}"
# writes without auth or cache (server B), beside a list and details
JS='{["Host"]="localhost", ["Content-Type"]="application/json"}'
lua_req "$dir/writes.lua" \
    "{'POST', '$C', $H}" \
    "{'POST', '/v2/$P/instances/$I2/hotkey-task', $H}" \
    "{'POST', '/v2/$P/instances/99999999-1111-4222-8333-444455556666/hotkey-task', $H, 'ignored'}" \
    "{'DELETE', '$D3/d0000000-0000-4000-8000-{n}', $H}" \
    "{'DELETE', '$D3/$RUN', $H}" \
    "{'DELETE', '$D3/$(deletable_id 999999998)', $H}" \
    "{'GET', '$D3/$KEEP', $H}" \
    "{'GET', '$D3/$RUN', $H}" \
    "{'GET', '$C/$(deletable_id 5)', $H}" \
    "{'PUT', '$A', $JS, [[$PUT_OK]]}" \
    "{'PUT', '$A', $JS, [[$PUT_OFF]]}" \
    "{'PUT', '/v2/$P/instances/$I2/hotkey/autoscan', $JS, [[$PUT_OK]]}" \
    "{'PUT', '$A', $JS, [[$PUT_BIG]]}" \
    "{'PUT', '$A', $JS, [[$PUT_HUGE]]}" \
    "{'PUT', '$A', $JS, ''}" \
    "{'PUT', '$A', $JS, [[{\"enable_auto_scan\":true,\"schedule_at\":[\"24:00\"]}]]}" \
    "{'PUT', '$A', $JS, [[{\"enable_auto_scan\":1,\"schedule_at\":[]}]]}" \
    "{'PUT', '$A', $JS, [[{\"enable_auto_scan\":true,\"schedule_at\":[\"01:00\",\"01:00\"]}]]}" \
    "{'PUT', '$A', $JS, [[{\"a\":\"\\u0000\",\"enable_auto_scan\":false,\"schedule_at\":[]}x]]}" \
    "{'PUT', '$A', $JS, [[not json]]}" \
    "{'GET', '$A', $H}" \
    "{'GET', '$L?limit=3', $H}" \
    "{'POST', '$A', $H}" \
    "{'PATCH', '$D3/$KEEP', $H}"
# writes with auth and cache (server A): token and AK/SK (signed bodies,
# one read from the temporary file, and one body that is not the one
# signed: 401), details and lists from the cache between writes, a token
# without the write actions (403)
# (its deletes take other tasks than the writes' ones: from d...-2710 on)
LUA_N0=10000 lua_req "$dir/authwrites.lua" \
    "{'POST', '$C', {[\"X-Auth-Token\"]='$tok_all'}}" \
    "{'GET', '$L', {[\"X-Auth-Token\"]='$tok_all'}}" \
    "{'GET', '$D3/$KEEP', {[\"X-Auth-Token\"]='$tok_all'}}" \
    "{'GET', '$D3/$RUN', {[\"X-Auth-Token\"]='$tok_all'}}" \
    "{'DELETE', '$D3/d0000000-0000-4000-8000-{n}', {[\"X-Auth-Token\"]='$tok_all'}}" \
    "{'PUT', '$A', {[\"X-Auth-Token\"]='$tok_all', [\"Content-Type\"]='application/json'}, [[$PUT_OFF]]}" \
    "{'GET', '$A', {[\"X-Auth-Token\"]='$tok_all'}}" \
    "{'PUT', '$A', $S_PUT, [[$PUT_OK]]}" \
    "{'PUT', '$A', $S_PUTBIG, [[$PUT_BIG]]}" \
    "{'PUT', '$A', $S_PUT, [[$PUT_OFF]]}" \
    "{'POST', '$C', $S_CREATE}" \
    "{'GET', '$D3/$KEEP', $S_DETAILS}" \
    "{'POST', '$C', {[\"X-Auth-Token\"]='$tok'}}" \
    "{'PUT', '$A', {[\"X-Auth-Token\"]='$tok_noact'}, [[$PUT_OK]]}" \
    "{'GET', '$L?limit=5', {[\"X-Auth-Token\"]='$tok'}}"
lua_req "$dir/metrics.lua" \
    "{'GET', '/metrics', $H}" \
    "{'POST', '/purge?instance_id=$I', $H}" \
    "{'GET', '$L', {[\"X-Auth-Token\"]='$tok'}}"

say "HEAD: 100 requests with curl (lists, details, autoscan)"
for _ in $(seq 25); do
    curl -s -o /dev/null -I -H "X-Auth-Token: $tok" "http://127.0.0.1:$port_a$L?limit=2"
    curl -s -o /dev/null -I "http://127.0.0.1:$port_b$L?offset=1"
    curl -s -o /dev/null -I -H "X-Auth-Token: $tok_all" "http://127.0.0.1:$port_a$D3/$KEEP"
    curl -s -o /dev/null -I "http://127.0.0.1:$port_b$A"
done

# ends the created tasks (waiting) of I every 0.1 s, as an analyzer would
finish_lua=$(finish_waiting_lua)
(
    while :; do
        redis-cli -p "$rport" EVAL "$finish_lua" 0 "$(date +%s%3N)" "$I" 2>/dev/null
        sleep 0.1
    done
) >"$dir/finished.log" &
fin_pid=$!

for kind in hit aksk miss errors authfail writes authwrites metrics; do
    case $kind in miss|errors|writes) port=$port_b ;; *) port=$port_a ;; esac
    say "$kind: wrk -t1 -c4 -d${secs}s"
    wrk -t1 -c4 -d"${secs}s" --timeout 10s -s "$dir/$kind.lua" \
        "http://127.0.0.1:$port" 2>&1 | grep -E '^ +[0-9]+ requests:' \
        || say "wrk printed no summary for $kind"
done

stop_pid "$fin_pid"
fin_pid=
say "writes: $(awk '{ n += $1 } END { print n + 0 }' "$dir/finished.log") tasks created and ended; $I keeps $(redis-cli -p "$rport" ZCARD "hotkey:{$I}:tasks") records (retention: 100 at most); $(redis-cli -p "$rport" ZCARD "hotkey:{$I3}:tasks") of the 20002 of $I3 left after the deletes"

# ---------------------------------------------------------------- stop

say "stopping nginx (SIGQUIT) and waiting for valgrind's leak check"
kill -QUIT $vg_pid
rc=0
for _ in $(seq 1200); do kill -0 $vg_pid 2>/dev/null || break; sleep 0.1; done
wait $vg_pid
rc=$?
vg_pid=
say "valgrind exit code $rc"

# ---------------------------------------------------------------- report

logs=$(ls "$dir"/valgrind.*.log)
fail=0

errs=$(cat $logs | grep -E 'Invalid (read|write|free)|uninitialised|Mismatched free|overlap' | sort | uniq -c)
if [ -n "$errs" ]; then
    say "memory errors:"
    printf '%s\n' "$errs"
    for f in $logs; do
        grep -E -A25 'Invalid (read|write|free)|uninitialised|Mismatched' "$f" | head -80
    done
    fail=1
fi

# definitely lost records, each with its stack, split on blank lines
perl -e '
    my ($ours, $other, $ob, $xb, $conf, $cb) = (0, 0, 0, 0, 0, 0);
    local $/ = "";
    for my $f (@ARGV) {
        open my $fh, "<", $f or next;
        my $text = do { local $/; <$fh> };
        $text =~ s/^==\d+== ?//mg;
        for my $rec (split /\n\s*\n/, $text) {
            next unless $rec =~ /([\d,]+)(?: \([^)]*\))? bytes in [\d,]+ blocks are definitely lost/;
            (my $b = $1) =~ s/,//g;
            # frames of the module show as "???" once nginx has unloaded
            # it at exit: a leak under the content phase counts as ours
            if ($rec =~ /\b(hotkey_\w+|ngx_http_hotkey_\w+|ngx_http_core_content_phase)/) {
                $ours++; $ob += $b;
                print "--- ours:\n$rec\n\n";
            } elsif ($rec =~ /by 0x[0-9A-Fa-f]+: \?\?\?\n/ && $rec =~ /ngx_conf_parse/) {
                # frames of no object (the unloaded module) under a
                # directive: what the module keeps for the process from
                # its configuration (the digests hotkey_digest.c fetches
                # once), unreachable only because nginx dlclose()s the
                # module at exit; counted, not failed on
                $conf++; $cb += $b;
                print STDERR "--- the module, at configuration:\n$rec\n\n" if $ENV{VG_VERBOSE};
            } else {
                $other++; $xb += $b;
                print STDERR "--- elsewhere:\n$rec\n\n" if $ENV{VG_VERBOSE};
            }
        }
    }
    print "definitely lost from the module: $ours records, $ob bytes\n";
    print "kept by the module from its configuration, once per process (not per request): $conf records, $cb bytes\n";
    print "definitely lost elsewhere (nginx, libraries): $other records, $xb bytes\n";
    exit($ours ? 1 : 0);
' $logs || fail=1

grep -h -E 'ERROR SUMMARY|definitely lost:|indirectly lost:' $logs | sed 's/^==[0-9]*== /    /'

if grep -q -E 'exited on signal|\[alert\]|\[emerg\]' "$dir/logs/error.log"; then
    say "error log:"
    grep -E 'exited on signal|\[alert\]|\[emerg\]' "$dir/logs/error.log" | head
    fail=1
fi

# rc 99 also counts leaks of nginx itself and of the libraries, which
# are reported above but are not the module's: the report decides
[ $rc = 99 ] && [ $fail = 0 ] && say "(rc 99 from leaks outside the module only)"
if [ $fail = 0 ]; then
    say "clean: no invalid accesses, nothing definitely lost from the module"
    rm -rf "$dir"
    exit 0
fi
say "FAILED (valgrind rc $rc); logs kept in $dir"
exit 1
