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
# (hit, miss, errors, auth failures, AK/SK, metrics, purge), stops nginx
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
cleanup() {
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
load_fixed_tasks "$rport" "$I" 12

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

L=/v2/$P/instances/$I/hotkey-tasks
sig=$("$ctl" sign --ak $AK --sk $SK --url "http://127.0.0.1:$port_a$L?limit=5") || die "sign"
sdk_date=$(printf '%s\n' "$sig" | sed -n 's/^X-Sdk-Date: //p')
sdk_auth=$(printf '%s\n' "$sig" | sed -n 's/^Authorization: //p')
sdk_host=$(printf '%s\n' "$sig" | sed -n 's/^Host: //p')

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

    # A: cache, authentication, rate limit (hits, auth failures)
    server {
        listen 127.0.0.1:$port_a;
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
# { method, path, headers{}, body }.  No HEAD: wrk would wait for the body
# the Content-Length announces.
lua_req() {    # file rows...
    local f=$1
    shift
    {
        echo 'local reqs = {'
        for row in "$@"; do echo "  $row,"; done
        cat <<'LUA'
}
local i = 0
request = function()
    i = i % #reqs + 1
    local q = reqs[i]
    return wrk.format(q[1], q[2], q[3], q[4])
end
local threads = {}
setup = function(thread)
    table.insert(threads, thread)
end
init = function()
    n2, n4, n5 = 0, 0, 0
end
response = function(status)
    if status < 300 then n2 = n2 + 1
    elseif status < 500 then n4 = n4 + 1
    else n5 = n5 + 1 end
end
done = function(summary)
    local a, b, c = 0, 0, 0
    for _, t in ipairs(threads) do
        a = a + t:get("n2"); b = b + t:get("n4"); c = c + t:get("n5")
    end
    io.write(string.format("    %d requests: %d 2xx, %d 4xx, %d 5xx, %d socket errors\n",
        summary.requests, a, b, c, summary.errors.connect + summary.errors.read
        + summary.errors.write + summary.errors.timeout))
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
lua_req "$dir/metrics.lua" \
    "{'GET', '/metrics', $H}" \
    "{'POST', '/purge?instance_id=$I', $H}" \
    "{'GET', '$L', {[\"X-Auth-Token\"]='$tok'}}"

say "HEAD: 50 requests with curl"
for _ in $(seq 25); do
    curl -s -o /dev/null -I -H "X-Auth-Token: $tok" "http://127.0.0.1:$port_a$L?limit=2"
    curl -s -o /dev/null -I "http://127.0.0.1:$port_b$L?offset=1"
done

for kind in hit aksk miss errors authfail metrics; do
    case $kind in miss|errors) port=$port_b ;; *) port=$port_a ;; esac
    say "$kind: wrk -t1 -c4 -d${secs}s"
    wrk -t1 -c4 -d"${secs}s" --timeout 10s -s "$dir/$kind.lua" \
        "http://127.0.0.1:$port" 2>&1 | grep -E '^ +[0-9]+ requests:' \
        || say "wrk printed no summary for $kind"
done

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
    my ($ours, $other, $ob, $xb) = (0, 0, 0, 0);
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
            } else {
                $other++; $xb += $b;
                print STDERR "--- elsewhere:\n$rec\n\n" if $ENV{VG_VERBOSE};
            }
        }
    }
    print "definitely lost from the module: $ours records, $ob bytes\n";
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
