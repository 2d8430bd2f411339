#!/bin/bash
# Resident memory of the nginx worker over ~RSS_REQUESTS (default 1e6)
# requests on each of two paths, driven by `wrk -t2 -c50`:
#   hit   the list route with the cache on (answers from shared memory)
#   miss  the list route with the cache off (every request asks redis)
# One worker, so that every request lands in the process we watch.  Each
# path's requests are sent in 10 wrk runs (the first one of RSS_WARMUP
# seconds, default 3, also measures the rate; the other nine share what
# is left); VmRSS of the worker is read from /proc/<pid>/status after each
# run.  Prints the samples and the growth from the 2nd sample to the last;
# exits non-zero when that growth is above RSS_MAX_GROWTH % (default 5)
# on either path, or when the worker changed (it crashed).
#
# Usage: scripts/rss.sh        (needs make build; wrk, redis-server)
# HOTKEY_MODULE=path selects the .so (default build/ngx_http_hotkey_module.so)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
total=${RSS_REQUESTS:-1000000}
warmup=${RSS_WARMUP:-3}
max_growth=${RSS_MAX_GROWTH:-5}
module=${HOTKEY_MODULE:-$top/build/ngx_http_hotkey_module.so}
. "$top/scripts/lib.sh"

say() { printf 'rss.sh: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

for b in wrk redis-server redis-cli curl perl; do
    command -v $b >/dev/null || die "$b is not installed"
done
[ -f "$module" ] || make -s build || die "no module"

dir=$(mktemp -d /tmp/hotkey-rss-XXXXXX)
REDIS_PID=
cleanup() {
    if [ -f "$dir/logs/nginx.pid" ]; then
        kill -TERM "$(cat "$dir/logs/nginx.pid")" 2>/dev/null
        sleep 0.5
    fi
    stop_pid "$REDIS_PID"
    rm -rf "$dir"
}
trap cleanup EXIT

mkdir -p "$dir/conf" "$dir/logs" "$dir/redis" "$dir/tmp"
cp "$module" "$dir/ngx_http_hotkey_module.so"    # others may rebuild build/

rport=$(free_port)
port=$(free_port)

P=0123456789abcdef0123456789abcdef
I=5560df16-cebf-4473-95c4-d1b573c16e79

start_temp_redis "$dir/redis" "$rport" || die "redis-server did not start"
redis-cli -p "$rport" HSET "hotkey:{$I}:instance" project_id $P eviction_policy allkeys-lfu >/dev/null
load_fixed_tasks "$rport" "$I" 10

cat >"$dir/conf/nginx.conf" <<EOF
$(nginx_conf_head "$dir" notice)
worker_processes 1;

events {
    worker_connections 1024;
}

http {
    access_log off;
$(nginx_temp_paths "$dir")

    hotkey_cache_zone hk:10m;

    upstream hk_store {
        server 127.0.0.1:$rport;
        keepalive 32;
    }

    server {
        listen 127.0.0.1:$port;
        keepalive_requests 100000;

        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store hk_store;
            hotkey_cache hk;
            hotkey_cache_valid 1h;
        }
    }

    server {
        listen 127.0.0.2:$port;
        keepalive_requests 100000;

        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store hk_store;
        }
    }
}
EOF

/usr/sbin/nginx -p "$dir/" -c "$dir/conf/nginx.conf" -e "$dir/logs/error.log" \
    || die "nginx did not start: $(tail -5 "$dir/logs/error.log")"
for _ in $(seq 100); do [ -s "$dir/logs/nginx.pid" ] && break; sleep 0.05; done
master=$(cat "$dir/logs/nginx.pid")

worker_pid() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(awk '{print $4}' "$p/stat" 2>/dev/null)" = "$master" ] \
            && grep -q '^Name:.*nginx' "$p/status" 2>/dev/null \
            && { basename "$p"; return; }
    done
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

L=/v2/$P/instances/$I/hotkey-tasks
wait_http "http://127.0.0.1:$port$L"
worker=$(worker_pid)
[ -n "$worker" ] || die "no worker process"

# wrk run: prints the number of requests (2xx only are counted as fine)
run_wrk() {    # url seconds
    local out n non2xx
    out=$(wrk -t2 -c50 -d"$2s" --timeout 5s "$1" 2>&1)
    n=$(printf '%s\n' "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    non2xx=$(printf '%s\n' "$out" | sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\)/\1/p')
    [ -n "$non2xx" ] && say "  ($non2xx non-2xx answers)" >&2
    echo "${n:-0}"
}

fail=0
for path in hit miss; do
    case $path in
        hit)  url="http://127.0.0.1:$port$L" ;;
        miss) url="http://127.0.0.2:$port$L" ;;
    esac
    status=$(curl -s -o /dev/null -w '%{http_code}' "$url")
    [ "$status" = 200 ] || die "$path: GET $url answers $status"

    say "$path path: $url, ~$total requests, wrk -t2 -c50"
    samples=()
    sent=0
    secs=$warmup
    t0=$(date +%s.%N)
    for i in 1 2 3 4 5 6 7 8 9 10; do
        n=$(run_wrk "$url" "$secs")
        sent=$((sent + n))
        w=$(worker_pid)
        if [ "$w" != "$worker" ]; then
            say "$path: the worker changed ($worker -> ${w:-none}): it crashed?"
            grep -E 'signal|alert' "$dir/logs/error.log" | tail -5
            fail=1
            worker=$w
            break
        fi
        kb=$(rss_kb "$worker")
        samples+=("$kb")
        printf '  sample %2d: %8d requests so far, VmRSS %6d kB\n' $i $sent "$kb"
        if [ $i = 1 ]; then
            # the rest in nine runs of equal length
            rate=$((n / warmup))
            [ $rate -gt 0 ] || die "$path: no requests served"
            secs=$(( (total - sent) / 9 / rate + 1 ))
            [ $secs -ge 1 ] || secs=1
        fi
    done
    t1=$(date +%s.%N)
    [ ${#samples[@]} = 10 ] || continue
    s2=${samples[1]}
    last=${samples[9]}
    growth=$(perl -e 'printf "%.2f", ($ARGV[1] - $ARGV[0]) * 100 / $ARGV[0]' "$s2" "$last")
    rps=$(perl -e 'printf "%.0f", $ARGV[0] / ($ARGV[2] - $ARGV[1])' $sent "$t0" "$t1")
    say "$path: $sent requests (~$rps/s); VmRSS samples (kB): ${samples[*]}"
    say "$path: growth from sample 2 to sample 10: $growth % (limit $max_growth %)"
    if perl -e 'exit($ARGV[0] > $ARGV[1] ? 0 : 1)' "$growth" "$max_growth"; then
        say "$path: FAILED: memory grows"
        fail=1
    fi
done

if grep -q -E 'exited on signal|\[alert\]|\[emerg\]' "$dir/logs/error.log"; then
    grep -E 'exited on signal|\[alert\]|\[emerg\]' "$dir/logs/error.log" | head -5
    fail=1
fi

[ $fail = 0 ] && say "ok: no growth above $max_growth %" || say "FAILED"
exit $fail
