#!/bin/sh
# The local Redis Cluster of `STORE=cluster make run`: 3 masters and 3
# replicas on 127.0.0.1, ports $CLUSTER_PORT .. $CLUSTER_PORT + 5 (cluster
# bus: each port + 10000), persistent like the standalone store (AOF +
# RDB) in $RUN_DIR/cluster/<port>/, with its nodes.conf there.
#
#   scripts/cluster.sh start   start the nodes that are not running; the
#                              first time, create the cluster
#                              (redis-cli --cluster create ...
#                              --cluster-replicas 1); wait until every
#                              node says cluster_state:ok
#   scripts/cluster.sh stop    SHUTDOWN SAVE on every node that runs
#   scripts/cluster.sh nodes   the nodes as host:port, masters first,
#                              separated by spaces (STORE_NODES)
#   scripts/cluster.sh port    the first port (of this run, or the last)
#
# Environment:
#   RUN_DIR                as for run.sh (default: <repo>/run)
#   CLUSTER_PORT           the first port (default: the last run's, else
#                          7390); a cluster once created keeps its ports:
#                          delete $RUN_DIR/cluster to move it
#   CLUSTER_NODE_TIMEOUT   cluster-node-timeout in ms (default 3000): how
#                          long a dead master goes unnoticed before its
#                          replica takes over
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=${RUN_DIR:-$top/run}
cdir=$RUN_DIR/cluster
state=$cdir/cluster.env
NODE_TIMEOUT=${CLUSTER_NODE_TIMEOUT:-3000}

. "$top/scripts/lib.sh"    # alive, redis_ping, wait_until, wait_gone

say() { printf '%s\n' "$*"; }
die() { printf 'cluster.sh: %s\n' "$*" >&2; exit 1; }

old_port=$(sed -n 's/^CLUSTER_PORT=//p' "$state" 2>/dev/null | head -n 1)
CLUSTER_PORT=${CLUSTER_PORT:-${old_port:-7390}}
case $CLUSTER_PORT in ''|*[!0-9]*) die "CLUSTER_PORT must be a number" ;; esac
[ "$CLUSTER_PORT" -ge 1 ] && [ "$CLUSTER_PORT" -le 55530 ] \
    || die "CLUSTER_PORT must be 1..55530 (its bus ports are 10000 above)"
ports=$(seq "$CLUSTER_PORT" $((CLUSTER_PORT + 5)))

cli() { redis-cli -h 127.0.0.1 -p "$@"; }

start_node() {
    d=$cdir/$1
    mkdir -p "$d"
    if redis_ping "$1"; then
        die "another Redis already answers on port $1 (not ours); set CLUSTER_PORT"
    fi
    cat >"$d/redis.conf" <<EOF
# written by scripts/cluster.sh; rewritten on each start
daemonize yes
pidfile $d/redis.pid
logfile $d/redis.log
bind 127.0.0.1
protected-mode yes
port $1
dir $d
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout $NODE_TIMEOUT
# a demo: a replica takes over however long it was cut off from its master
cluster-replica-validity-factor 0
# the other shards answer while one has no master
cluster-require-full-coverage no
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
dbfilename dump.rdb
EOF
    redis-server "$d/redis.conf" >/dev/null
    if ! wait_until 101 0.1 redis_ping "$1"; then
        tail -n 20 "$d/redis.log" >&2 || true
        die "cluster node $1 did not come up (log: $d/redis.log)"
    fi
    say "cluster node 127.0.0.1:$1: started (pid $(tr -d ' \n' <"$d/redis.pid"))"
}

cluster_ok() {
    for p in $ports; do
        alive "$cdir/$p/redis.pid" redis-server || continue
        cli "$p" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok' \
            || return 1
    done
}

# every live replica has its master's data: it can take over from now on
replicas_synced() {
    for p in $ports; do
        alive "$cdir/$p/redis.pid" redis-server || continue
        info=$(cli "$p" INFO replication 2>/dev/null | tr -d '\r')
        case $info in *role:slave*) ;; *) continue ;; esac
        case $info in
            *master_link_status:up*master_sync_in_progress:0*) ;;
            *) return 1 ;;
        esac
    done
}

start() {
    if [ -n "$old_port" ] && [ "$old_port" != "$CLUSTER_PORT" ]; then
        die "the cluster in $cdir uses ports from $old_port; delete $cdir to move it to $CLUSTER_PORT"
    fi
    mkdir -p "$cdir"
    printf 'CLUSTER_PORT=%s\n' "$CLUSTER_PORT" >"$state"
    for p in $ports; do
        if alive "$cdir/$p/redis.pid" redis-server; then
            say "cluster node 127.0.0.1:$p: already running"
        else
            start_node "$p"
        fi
    done
    if cli "$CLUSTER_PORT" CLUSTER INFO | grep -q '^cluster_slots_assigned:0'
    then
        addrs=$(for p in $ports; do printf '127.0.0.1:%s ' "$p"; done)
        # shellcheck disable=SC2086
        redis-cli --cluster create $addrs --cluster-replicas 1 \
            --cluster-yes >"$cdir/create.log" 2>&1 \
            || { cat "$cdir/create.log" >&2; die "redis-cli --cluster create failed"; }
        say "cluster: created (3 masters, 3 replicas; log $cdir/create.log)"
    fi
    if ! wait_until 301 0.1 cluster_ok; then
        die "the cluster is not ok after 30 s (logs: $cdir/*/redis.log)"
    fi
    if ! wait_until 601 0.1 replicas_synced; then
        say "cluster: a replica is not in sync after 60 s (logs: $cdir/*/redis.log)"
    fi
    say "cluster: ok, nodes $(nodes)"
}

stop() {
    for p in $ports; do
        alive "$cdir/$p/redis.pid" redis-server || continue
        cli "$p" SHUTDOWN SAVE >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 300; then
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 100 || { say "cluster node $p: did not stop (pid $pid)"; exit 1; }
        fi
        say "cluster node 127.0.0.1:$p: stopped, data saved (pid $pid)"
        rm -f "$cdir/$p/redis.pid"
    done
}

# the nodes as one live node sees them: masters, then replicas
nodes() {
    for p in $ports; do
        out=$(cli "$p" CLUSTER NODES 2>/dev/null) || continue
        [ -n "$out" ] || continue
        printf '%s\n' "$out" | awk '
            { split($2, a, "@"); role = ($3 ~ /master/) ? 0 : 1;
              print role, a[1] }' | sort -k1,1n -k2,2 | cut -d' ' -f2 \
            | tr '\n' ' ' | sed 's/ $//'
        echo
        return 0
    done
    for p in $ports; do printf '127.0.0.1:%s ' "$p"; done | sed 's/ $//'
    echo
}

case ${1:-} in
    start) start ;;
    stop) if [ -d "$cdir" ]; then stop; fi ;;
    nodes) nodes ;;
    port) echo "$CLUSTER_PORT" ;;
    *) die "usage: scripts/cluster.sh start|stop|nodes|port" ;;
esac
