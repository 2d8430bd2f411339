#!/bin/sh
# Stops what scripts/run.sh started (`make stop`): nginx first (a graceful
# QUIT: requests in flight are finished), then redis-server (SHUTDOWN SAVE:
# the data is on disk for the next run). Quiet success when either is not
# running. The data in $RUN_DIR stays; delete $RUN_DIR to start afresh.
#
# Environment:
#   RUN_DIR   as for run.sh (default: <repo>/run)
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=${RUN_DIR:-$top/run}
rdir=$RUN_DIR/redis
ndir=$RUN_DIR/nginx
redis_pid=$rdir/redis.pid
nginx_pid=$ndir/logs/nginx.pid

. "$top/scripts/lib.sh"    # alive (sets $pid), wait_gone

say() { printf '%s\n' "$*"; }

# nginx: signal the master directly (`nginx -s quit` would parse the
# config again, and fails once the module file is gone, e.g. after make clean)
if alive "$nginx_pid" nginx; then
    kill -QUIT "$pid"
    if ! wait_gone "$pid" 100; then
        say "nginx: still running 10 s after QUIT, sending TERM"
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null || true
    fi
    say "nginx: stopped (pid $pid)"
else
    say "nginx: not running"
fi
rm -f "$nginx_pid"

if alive "$redis_pid" redis-server; then
    port=$(sed -n 's/^port //p' "$rdir/redis.conf" 2>/dev/null | head -n 1)
    if [ -z "$port" ] \
       || ! redis-cli -p "$port" SHUTDOWN SAVE >/dev/null 2>&1; then
        # no port known, or the command failed: SIGTERM also saves
        kill -TERM "$pid" 2>/dev/null || true
    fi
    if ! wait_gone "$pid" 300; then
        say "redis-server: still running 30 s after SHUTDOWN, sending TERM again"
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 100 || { say "redis-server: did not stop (pid $pid)"; exit 1; }
    fi
    say "redis-server: stopped, data saved in $rdir (pid $pid)"
else
    say "redis-server: not running"
fi
rm -f "$redis_pid"
