#!/bin/sh
# Stops what scripts/run.sh started (`make stop`): the analyzer first
# (SIGTERM: a task in progress is handed back to the queue; its keeper loop
# is told not to start it again), nginx (a graceful QUIT: requests in
# flight are finished), the demo target, then the store: redis-server, or
# the nodes of STORE=cluster's cluster (SHUTDOWN SAVE: the data is on disk
# for the next run). Quiet success when any is not
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
andir=$RUN_DIR/analyzer
tdir=$RUN_DIR/demo-target

. "$top/scripts/lib.sh"    # alive (sets $pid), wait_gone

say() { printf '%s\n' "$*"; }

# the analyzer: TERM, and its keeper loop (which reaps it) sees the stop
# file and ends instead of starting it again
if [ -d "$andir" ]; then
    : >"$andir/stopping"
    if alive "$andir/analyzer.pid" hotkey-analyzer; then
        kill -TERM "$pid"
        wait_gone "$pid" 150 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        say "analyzer: stopped (pid $pid)"
    else
        say "analyzer: not running"
    fi
    if alive "$andir/keeper.pid" sh; then
        wait_gone "$pid" 30 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$andir/keeper.pid" "$andir/analyzer.pid"
fi

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

if alive "$tdir/redis.pid" redis-server; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 100 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    say "demo target: stopped (pid $pid)"
fi
rm -f "$tdir/redis.pid"

if [ -d "$RUN_DIR/cluster" ]; then
    RUN_DIR=$RUN_DIR "$top/scripts/cluster.sh" stop
fi

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
