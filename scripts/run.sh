#!/bin/sh
# Starts the gateway locally (`make run` calls it after the build):
#
#   - a redis-server (the task store) in the background, persistent
#     (AOF + RDB) in $RUN_DIR/redis/, on 127.0.0.1:$REDIS_PORT;
#   - Debian's nginx with the module, its prefix in $RUN_DIR/nginx/, the
#     config rendered from conf-examples/quickstart.conf, on $PORT;
#   - the demo data (scripts/demo-data.sh), only when it is not in the
#     store yet, so that whatever was written since is kept;
#   - the demo credentials, once, in $RUN_DIR/auth/ (kept across runs;
#     delete that folder to get new ones):
#       auth/gateway/token-keys.pem  public half of the ES256 (P-256) token
#                                    key: hotkey_auth_token_keys
#       auth/gateway/credentials     the demo AK/SK, allowed every action
#                                    of the API (list, analyze, autoscan
#                                    settings) on the demo project only:
#                                    hotkey_auth_credentials
#       auth/client/token-key.pem    the private half, for `hotkeyctl token`
#       auth/client/demo-sk          the demo SK alone, for `hotkeyctl sign
#                                    --sk-file`
#       auth/client/demo-token       the demo token (sub "demo", 24 h,
#                                    every action); minted again when under
#                                    12 h are left, the key changed
#                                    (demo-token.key) or it lacks an action
#     Folders are mode 0700, files 0600: the credentials file and the
#     private key are secrets (nginx reads the gateway/ files as the user
#     that starts it, before it drops privileges);
#   - the demo target: a second redis-server (LFU, counters frozen) on
#     127.0.0.1:$DEMO_PORT with about 30,000 keys of every type and known
#     hot keys (scripts/demo-target.sh), not persistent: loaded again
#     whenever it starts empty; the demo instance $INSTANCE_ID points at it
#     (addr, mode in its instance hash; registered in hotkey:registry);
#   - the analyzer (build/hotkey-analyzer) on the store, its metrics on
#     127.0.0.1:$ANALYZER_PORT, its log and credentials file (mode 0600,
#     empty: the demo target has no password) in $RUN_DIR/analyzer/ and
#     $RUN_DIR/auth/analyzer/; a small keeper loop starts it again if it
#     dies (as systemd's Restart= would);
#   - $RUN_DIR/demo.env: BASE_URL, PORT, PROJECT_ID, INSTANCE_ID,
#     INSTANCE_ID_NO_LFU, INSTANCE_ID_BUSY, REDIS_PORT, DEMO_TARGET (host:port of the demo
#     target), ANALYZER_METRICS_URL, HOTKEY_TOKEN, HOTKEY_AK, HOTKEY_SK,
#     HOTKEY_TOKEN_KEY (absolute path of the private key), HOTKEY_TOKEN_ALG
#     (ES256), HOTKEY_TOKEN_KID (empty: with one key the gateway needs no
#     kid) as shell assignments (`. run/demo.env`);
# then prints the URL and requests to try (with the token, and signed with
# the AK/SK by build/hotkeyctl).
#
# Running it again is safe: a redis-server or nginx that is still running
# (pid file + live process) is left alone, one that is not is started again
# on the same data. scripts/stop.sh (`make stop`) stops both.
#
# STORE=cluster: the task store is a local Redis Cluster instead, 3
# masters and 3 replicas (scripts/cluster.sh: ports $CLUSTER_PORT ..
# $CLUSTER_PORT + 5, persistent in $RUN_DIR/cluster/); nginx's upstream
# lists every node with hotkey_store_cluster; the analyzer is given every
# node; the demo data goes in through hotkeyctl and redis-cli -c;
# demo.env also has STORE=cluster and STORE_NODES (the nodes, masters
# first, space-separated) and REDIS_PORT is the first node's port.
# Switching STORE needs scripts/stop.sh first.
#
# Environment:
#   RUN_DIR     where everything goes (default: <repo>/run, git-ignored)
#   PORT        gateway port (default: the previous run's, else 8080)
#   REDIS_PORT  redis-server port (default: the previous run's, else 6390);
#               while nginx or redis-server runs, changing a port needs
#               scripts/stop.sh first
#   LISTEN      address nginx listens on (default 127.0.0.1; authentication
#               is on, but the demo token and keys are printed and kept in
#               run/, and /metrics and the cache purge answer loopback only:
#               think twice before 0.0.0.0)
#   DEMO_PORT   the demo target's port (default: the previous run's, else
#               6391)
#   ANALYZER_PORT  the analyzer's metrics port (default: the previous
#               run's, else 9146)
#   ANALYZER    the analyzer binary (default <repo>/build/hotkey-analyzer,
#               `make analyzer`)
#   MODULE      the module .so (default <repo>/build/ngx_http_hotkey_module.so)
#   HOTKEYCTL   the CLI that mints the token (default <repo>/build/hotkeyctl,
#               `make cli`)
#   NGINX       the nginx binary (default /usr/sbin/nginx)
#   STORE       standalone (default) or cluster (above)
#   CLUSTER_PORT, CLUSTER_NODE_TIMEOUT  the cluster's first port (default:
#               the last run's, else 7390) and cluster-node-timeout (ms,
#               default 3000): see scripts/cluster.sh
#
# When run as root, the nginx workers run as root too (`user root;` in the
# rendered config), so that they can use $RUN_DIR whoever owns it.
set -e

# what the demo credentials may do: every route of the API
DEMO_ACTIONS=dcs:instance:listHotKey,dcs:instance:analyze,dcs:instance:getHotKeyAutoScanConfig,dcs:instance:updateHotKeyAutoScanConfig

top=$(cd "$(dirname "$0")/.." && pwd)
RUN_DIR=${RUN_DIR:-$top/run}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
MODULE=${MODULE:-$top/build/ngx_http_hotkey_module.so}
HOTKEYCTL=${HOTKEYCTL:-$top/build/hotkeyctl}
NGINX=${NGINX:-/usr/sbin/nginx}
LISTEN=${LISTEN:-127.0.0.1}
ANALYZER=${ANALYZER:-$top/build/hotkey-analyzer}
STORE=${STORE:-standalone}

rdir=$RUN_DIR/redis
ndir=$RUN_DIR/nginx
env_file=$RUN_DIR/demo.env
adir=$RUN_DIR/auth
gdir=$adir/gateway          # what nginx reads
cdir=$adir/client           # what a client uses
token_keys=$gdir/token-keys.pem
credentials=$gdir/credentials
token_key=$cdir/token-key.pem
sk_file=$cdir/demo-sk
token_file=$cdir/demo-token
redis_pid=$rdir/redis.pid
nginx_pid=$ndir/logs/nginx.pid
tdir=$RUN_DIR/demo-target
target_pid=$tdir/redis.pid
andir=$RUN_DIR/analyzer
keeper_pid=$andir/keeper.pid
analyzer_pid=$andir/analyzer.pid
an_auth=$adir/analyzer
an_creds=$an_auth/credentials

. "$top/scripts/lib.sh"    # alive, redis_ping, wait_until

cluster_sh() { RUN_DIR=$RUN_DIR "$top/scripts/cluster.sh" "$@"; }

say() { printf '%s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# value <NAME> <file>: NAME=value from a file of shell assignments
value() {
    if [ -f "$2" ]; then
        sed -n "s/^$1=//p" "$2" | head -n 1
    fi
}

# shq <text>: the text as one shell word, quoted only when needed
shq() {
    case $1 in
        ''|*[!A-Za-z0-9_./:=@%+-]*)
            printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
        *) printf '%s' "$1" ;;
    esac
}

# sed_escape <text>: safe as the replacement of s|...|...|
sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'
}

# --- ports: by default the ones of the previous run, so that a redis
# brought back listens where the running nginx looks for it ------------

nginx_state=$ndir/conf/run.env     # PORT, REDIS_PORT the config was made with
nginx_port=$(value PORT "$nginx_state")
nginx_redis_port=$(value REDIS_PORT "$nginx_state")
nginx_store=$(value STORE "$nginx_state")
redis_port_now=$(sed -n 's/^port //p' "$rdir/redis.conf" 2>/dev/null | head -n 1)

case $STORE in
    standalone|cluster) ;;
    *) die "STORE must be standalone or cluster, not $STORE" ;;
esac
# one kind of store at a time
other_store=
if [ "$STORE" = cluster ]; then
    alive "$redis_pid" redis-server && other_store="a standalone redis-server"
    REDIS_PORT=$(cluster_sh port)
else
    for f in "$RUN_DIR"/cluster/*/redis.pid; do
        alive "$f" redis-server && other_store="a cluster store"
    done
fi
if alive "$nginx_pid" nginx && [ "${nginx_store:-standalone}" != "$STORE" ]; then
    other_store="nginx with a ${nginx_store:-standalone} store"
fi
an_store=$(value STORE "$andir/run.env")
if alive "$keeper_pid" sh && [ "${an_store:-standalone}" != "$STORE" ]; then
    other_store="the analyzer of a ${an_store:-standalone} store"
fi
[ -z "$other_store" ] \
    || die "$other_store runs; run scripts/stop.sh first to switch to STORE=$STORE"

if alive "$nginx_pid" nginx; then
    REDIS_PORT=${REDIS_PORT:-$nginx_redis_port}
fi
PORT=${PORT:-${nginx_port:-8080}}
REDIS_PORT=${REDIS_PORT:-${redis_port_now:-6390}}

if [ "$STORE" = standalone ] && alive "$redis_pid" redis-server \
   && [ "$REDIS_PORT" != "$redis_port_now" ]; then
    die "redis-server already runs on port $redis_port_now; run scripts/stop.sh first to change REDIS_PORT"
fi
if alive "$nginx_pid" nginx \
   && { [ "$PORT" != "$nginx_port" ] || [ "$REDIS_PORT" != "$nginx_redis_port" ]; }; then
    die "nginx already runs on port $nginx_port with the store on port $nginx_redis_port; run scripts/stop.sh first to change PORT or REDIS_PORT"
fi

for p in "$PORT" "$REDIS_PORT"; do
    case $p in ''|*[!0-9]*) die "ports must be numbers (PORT=$PORT REDIS_PORT=$REDIS_PORT)" ;; esac
done

# --- the store ---------------------------------------------------------

start_redis() {
    mkdir -p "$rdir"
    if redis_ping "$REDIS_PORT"; then
        die "another Redis already answers on port $REDIS_PORT (not ours); set REDIS_PORT"
    fi
    # appendonly + appendfsync everysec: a write reaches the kernel before
    # the client gets its reply, so a killed redis-server loses nothing
    # (a machine crash at most the last second); the RDB snapshots make
    # restarts fast. SHUTDOWN (scripts/stop.sh) saves both.
    cat >"$rdir/redis.conf" <<EOF
# written by scripts/run.sh; rewritten on each start
daemonize yes
pidfile $rdir/redis.pid
logfile $rdir/redis.log
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
dir $rdir
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
dbfilename dump.rdb
EOF
    redis-server "$rdir/redis.conf" >/dev/null
    if ! wait_until 101 0.1 redis_ping "$REDIS_PORT"; then
        tail -n 20 "$rdir/redis.log" >&2 || true
        die "redis-server did not come up on port $REDIS_PORT (log: $rdir/redis.log)"
    fi
    say "redis-server: started on 127.0.0.1:$REDIS_PORT (pid $(tr -d ' \n' <"$redis_pid"), data in $rdir)"
}

# scli <command...>: redis-cli on the store (following a cluster's MOVED)
scli() {
    if [ "$STORE" = cluster ]; then
        redis-cli -c -h 127.0.0.1 -p "$REDIS_PORT" "$@"
    else
        redis-cli -p "$REDIS_PORT" "$@"
    fi
}

if [ "$STORE" = cluster ]; then
    cluster_sh start
    STORE_NODES=$(cluster_sh nodes)
    store_addrs=$(printf '%s' "$STORE_NODES" | tr ' ' ',')
elif alive "$redis_pid" redis-server; then
    say "redis-server: already running on 127.0.0.1:$REDIS_PORT (pid $(tr -d ' \n' <"$redis_pid"))"
    store_addrs=127.0.0.1:$REDIS_PORT
else
    start_redis
    store_addrs=127.0.0.1:$REDIS_PORT
fi

# --- the demo data -----------------------------------------------------

eval "$("$top/scripts/demo-data.sh" --env)"

if [ "$(scli EXISTS "hotkey:{$INSTANCE_ID}:instance")" = 1 ]; then
    say "demo data: already in the store, kept as it is"
elif [ "$STORE" = cluster ]; then
    REDIS_PORT=$REDIS_PORT REDIS_HOST=127.0.0.1 REDIS_CLUSTER=1 \
        HOTKEYCTL=$HOTKEYCTL "$top/scripts/demo-data.sh"
else
    REDIS_PORT=$REDIS_PORT REDIS_HOST=127.0.0.1 "$top/scripts/demo-data.sh"
fi

# --- the demo credentials (once; kept across runs) ----------------------

[ -x "$HOTKEYCTL" ] || die "no hotkeyctl at $HOTKEYCTL: run make cli first"
command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install openssl)"

# jwt_exp <token>: its exp claim (epoch seconds), empty when unreadable
jwt_exp() {
    b=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
    case $(( ${#b} % 4 )) in
        2) b="$b==" ;;
        3) b="$b=" ;;
    esac
    printf '%s' "$b" | base64 -d 2>/dev/null \
        | sed -n 's/.*"exp":[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1
}

# secrets: nothing below is ever readable by others
old_umask=$(umask)
umask 077
mkdir -p "$gdir" "$cdir"
chmod 700 "$adir" "$gdir" "$cdir"

if [ ! -s "$token_key" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$token_key.new" 2>/dev/null \
        || die "openssl genpkey failed"
    mv "$token_key.new" "$token_key"
    rm -f "$token_keys" "$token_file"
    say "auth: new ES256 token key in $token_key"
fi
# the gateway's key file must hold the public half of the signing key
# (it may hold more, e.g. the next key during a rotation)
pub=$(openssl pkey -in "$token_key" -pubout 2>/dev/null) \
    || die "openssl pkey -pubout failed for $token_key"
pub_line=$(printf '%s\n' "$pub" | sed -n 2p)
if [ ! -s "$token_keys" ] || ! grep -qF -- "$pub_line" "$token_keys"; then
    printf '%s\n' "$pub" >"$token_keys.new"
    mv "$token_keys.new" "$token_keys"
    say "auth: public key written to $token_keys"
fi

if [ ! -s "$credentials" ]; then
    ak=$(openssl rand -hex 10 | tr 'a-f' 'A-F')
    sk=$(openssl rand -hex 20)
    {
        echo "# written by scripts/run.sh: the demo AK/SK (hotkey_auth_credentials)"
        echo "# <ak> <sk> projects=... actions=... [name=...] [rate=...] [burst=...]"
        echo "$ak $sk projects=$PROJECT_ID actions=$DEMO_ACTIONS name=demo-aksk"
    } >"$credentials.new"
    mv "$credentials.new" "$credentials"
    rm -f "$sk_file"
    say "auth: new demo AK/SK in $credentials"
fi
# a demo line of an older run may only list: give it every action
if ! grep -q "actions=$DEMO_ACTIONS name=demo-aksk" "$credentials"; then
    sed "s/ actions=[^ ]* name=demo-aksk/ actions=$DEMO_ACTIONS name=demo-aksk/" \
        "$credentials" >"$credentials.new"
    mv "$credentials.new" "$credentials"
    say "auth: the demo AK/SK may now use every route"
fi
# the demo line: the one named demo-aksk
demo_line=$(sed -n '/^[[:space:]]*#/d; / name=demo-aksk\([[:space:]]\|$\)/{p;q;}' "$credentials")
set -f                      # split into fields, no globbing (an SK may hold *)
# shellcheck disable=SC2086
set -- $demo_line
set +f
[ $# -ge 2 ] || die "no demo AK/SK (name=demo-aksk) in $credentials; delete $adir to make new ones"
HOTKEY_AK=$1
HOTKEY_SK=$2
if [ ! -s "$sk_file" ] || [ "$(cat "$sk_file")" != "$HOTKEY_SK" ]; then
    printf '%s\n' "$HOTKEY_SK" >"$sk_file"
fi

# the token: 24 h, minted again when under 12 h are left (or unreadable),
now=$(date +%s)
HOTKEY_TOKEN=$(cat "$token_file" 2>/dev/null || true)
exp=$(jwt_exp "$HOTKEY_TOKEN")
# and when the key is not the one it was signed with (replaced by hand)
key_sum=$(openssl pkey -in "$token_key" -pubout 2>/dev/null | cksum)
if [ -z "$exp" ] || [ "$exp" -lt $((now + 43200)) ] \
   || [ "$(cat "$token_file.key" 2>/dev/null)" != "$key_sum" ] \
   || [ "$(cat "$token_file.actions" 2>/dev/null)" != "$DEMO_ACTIONS" ]; then
    HOTKEY_TOKEN=$("$HOTKEYCTL" token --key "$token_key" --alg ES256 \
                       --project "$PROJECT_ID" \
                       --actions "$DEMO_ACTIONS" \
                       --sub demo --ttl 86400) \
        || die "hotkeyctl token failed"
    printf '%s\n' "$HOTKEY_TOKEN" >"$token_file"
    printf '%s\n' "$key_sum" >"$token_file.key"
    printf '%s\n' "$DEMO_ACTIONS" >"$token_file.actions"
    exp=$(jwt_exp "$HOTKEY_TOKEN")
    say "auth: new demo token, valid until $(date -u -d "@$exp" '+%Y-%m-%d %H:%M:%S UTC')"
else
    say "auth: demo token kept, valid until $(date -u -d "@$exp" '+%Y-%m-%d %H:%M:%S UTC')"
fi
chmod 600 "$token_key" "$token_keys" "$credentials" "$sk_file" "$token_file" \
          "$token_file.key" "$token_file.actions"
umask "$old_umask"

# --- the gateway -------------------------------------------------------

start_nginx() {
    [ -f "$MODULE" ] || die "no module at $MODULE: run make build first"
    [ -x "$NGINX" ] || die "no nginx at $NGINX (apt-get install nginx)"
    mkdir -p "$ndir/conf" "$ndir/logs" "$ndir/tmp"
    cp "$top/conf-examples/json-errors.conf" "$ndir/conf/json-errors.conf"
    if [ "$(id -u)" = 0 ]; then
        user_sed='s|@USER@|root|g'
    else
        user_sed='/^user @USER@;/d'
    fi
    sed -e "$user_sed" \
        -e "s|@MODULE@|$(sed_escape "$MODULE")|g" \
        -e "s|@PREFIX@|$(sed_escape "$ndir")|g" \
        -e "s|@LISTEN@|$(sed_escape "$LISTEN")|g" \
        -e "s|@PORT@|$PORT|g" \
        -e "s|@REDIS_PORT@|$REDIS_PORT|g" \
        -e "s|@TOKEN_KEYS@|$(sed_escape "$token_keys")|g" \
        -e "s|@CREDENTIALS@|$(sed_escape "$credentials")|g" \
        "$top/conf-examples/quickstart.conf" >"$ndir/conf/nginx.conf.new"
    if grep -n '@[A-Z_]*@' "$ndir/conf/nginx.conf.new" >&2; then
        die "placeholders left in the rendered config (above)"
    fi
    if [ "$STORE" = cluster ]; then
        cluster_upstream <"$ndir/conf/nginx.conf.new" >"$ndir/conf/nginx.conf.cl"
        mv "$ndir/conf/nginx.conf.cl" "$ndir/conf/nginx.conf.new"
    fi
    mv "$ndir/conf/nginx.conf.new" "$ndir/conf/nginx.conf"
    printf 'PORT=%s\nREDIS_PORT=%s\n' "$PORT" "$REDIS_PORT" >"$nginx_state"
    [ "$STORE" = standalone ] || printf 'STORE=%s\n' "$STORE" >>"$nginx_state"

    if ! out=$("$NGINX" -t -p "$ndir/" -c conf/nginx.conf -e logs/error.log 2>&1); then
        printf '%s\n' "$out" >&2
        if [ "$STORE" = cluster ] \
           && printf '%s' "$out" | grep -q 'unknown directive "hotkey_store_cluster"'; then
            no_gateway="this build of the module does not know hotkey_store_cluster yet: nginx was not started ($ndir/conf/nginx.conf)"
            say "nginx: NOT started: $no_gateway"
            return 0
        fi
        die "nginx -t failed for $ndir/conf/nginx.conf"
    fi
    if ! out=$("$NGINX" -p "$ndir/" -c conf/nginx.conf -e logs/error.log 2>&1); then
        printf '%s\n' "$out" >&2
        tail -n 5 "$ndir/logs/error.log" >&2 || true
        die "nginx did not start (port $PORT busy? a worker left by a killed nginx master keeps the port; log: $ndir/logs/error.log)"
    fi
    if ! wait_until 51 0.1 curl -fsS -o /dev/null "http://$url_host:$PORT/healthz" 2>/dev/null; then
        tail -n 20 "$ndir/logs/error.log" >&2 || true
        die "nginx does not answer on $url_host:$PORT (log: $ndir/logs/error.log)"
    fi
    say "nginx: started on $LISTEN:$PORT (pid $(tr -d ' \n' <"$nginx_pid"), prefix $ndir)"
}

# cluster_upstream: the rendered config (stdin) with the store's one
# server line replaced by hotkey_store_cluster and every node of the cluster
cluster_upstream() {
    awk -v nodes="$STORE_NODES" '
        /^ *server 127\.0\.0\.1:[0-9]+;$/ && !done {
            ind = $0
            sub(/[^ ].*/, "", ind)
            print ind "hotkey_store_cluster;"
            n = split(nodes, a, " ")
            for (i = 1; i <= n; i++) print ind "server " a[i] ";"
            done = 1
            next
        }
        { print }'
}

no_gateway=
case $LISTEN in
    0.0.0.0|\*|127.0.0.1|localhost) url_host=127.0.0.1 ;;
    *) url_host=$LISTEN ;;
esac

if alive "$nginx_pid" nginx; then
    say "nginx: already running on port $PORT (pid $(tr -d ' \n' <"$nginx_pid"))"
    if [ -f "$MODULE" ] && [ "$MODULE" -nt "$nginx_pid" ]; then
        say "nginx: note: the module was rebuilt since nginx started; scripts/stop.sh then scripts/run.sh loads the new one"
    fi
    if [ "$token_keys" -nt "$nginx_pid" ] || [ "$credentials" -nt "$nginx_pid" ]; then
        say "nginx: note: the demo keys changed since nginx started; scripts/stop.sh then scripts/run.sh loads them"
    fi
else
    start_nginx
fi

# --- the demo target and the analyzer ----------------------------------

an_state=$andir/run.env         # DEMO_PORT, ANALYZER_PORT of the last start
DEMO_PORT=${DEMO_PORT:-$(value DEMO_PORT "$an_state")}
DEMO_PORT=${DEMO_PORT:-6391}
ANALYZER_PORT=${ANALYZER_PORT:-$(value ANALYZER_PORT "$an_state")}
ANALYZER_PORT=${ANALYZER_PORT:-9146}
for p in "$DEMO_PORT" "$ANALYZER_PORT"; do
    case $p in ''|*[!0-9]*) die "ports must be numbers (DEMO_PORT=$DEMO_PORT ANALYZER_PORT=$ANALYZER_PORT)" ;; esac
done

start_target() {
    mkdir -p "$tdir"
    if redis_ping "$DEMO_PORT"; then
        die "another Redis already answers on port $DEMO_PORT (not ours); set DEMO_PORT"
    fi
    # no persistence: the demo keys are loaded again on each start
    redis-server --daemonize yes --pidfile "$target_pid" \
        --logfile "$tdir/redis.log" --dir "$tdir" --bind 127.0.0.1 \
        --port "$DEMO_PORT" --save '' --appendonly no \
        --maxmemory-policy allkeys-lfu --lfu-log-factor 0 \
        --lfu-decay-time 0 >/dev/null
    if ! wait_until 101 0.1 redis_ping "$DEMO_PORT"; then
        tail -n 20 "$tdir/redis.log" >&2 || true
        die "the demo target did not come up on port $DEMO_PORT (log: $tdir/redis.log)"
    fi
    say "demo target: started on 127.0.0.1:$DEMO_PORT (pid $(tr -d ' \n' <"$target_pid"))"
}

if alive "$target_pid" redis-server; then
    say "demo target: already running on 127.0.0.1:$DEMO_PORT (pid $(tr -d ' \n' <"$target_pid"))"
else
    start_target
fi
if [ "$(redis-cli -p "$DEMO_PORT" DBSIZE)" = 0 ]; then
    "$top/scripts/demo-target.sh" "$DEMO_PORT"
    say "demo target: $(redis-cli -p "$DEMO_PORT" DBSIZE) keys loaded"
fi

# the demo instance is the demo target
scli HSET "hotkey:{$INSTANCE_ID}:instance" \
    addr "127.0.0.1:$DEMO_PORT" mode standalone >/dev/null
scli SADD hotkey:registry "$INSTANCE_ID" >/dev/null

# the analyzer's credentials: none needed by the demo target, but the
# file is where passwords go (mode 0600)
old_umask=$(umask)
umask 077
mkdir -p "$an_auth"
chmod 700 "$an_auth"
if [ ! -f "$an_creds" ]; then
    {
        echo "# hotkey-analyzer credentials (mode 0600): one analysed instance a line"
        echo "# <instance_id> password=<secret> [user=<acl user>]"
    } >"$an_creds"
fi
chmod 600 "$an_creds"
umask "$old_umask"

start_analyzer() {
    [ -x "$ANALYZER" ] || die "no analyzer at $ANALYZER: run make analyzer first"
    mkdir -p "$andir"
    rm -f "$andir/stopping"
    printf 'DEMO_PORT=%s\nANALYZER_PORT=%s\n' "$DEMO_PORT" "$ANALYZER_PORT" >"$an_state"
    [ "$STORE" = standalone ] || printf 'STORE=%s\n' "$STORE" >>"$an_state"
    # the keeper: starts the analyzer again if it dies, until stop.sh
    nohup sh -c '
        d=$1; shift
        echo $$ >"$d/keeper.pid"
        while [ ! -f "$d/stopping" ]; do
            "$@" &
            echo $! >"$d/analyzer.pid"
            wait $!
            [ -f "$d/stopping" ] || sleep 1
        done' hotkey-analyzer-keeper "$andir" \
        "$ANALYZER" --store "$store_addrs" \
        --metrics "127.0.0.1:$ANALYZER_PORT" --credentials "$an_creds" \
        --log "$andir/analyzer.log" >>"$andir/keeper.out" 2>&1 </dev/null &
    if ! wait_until 51 0.1 curl -fsS -o /dev/null "http://127.0.0.1:$ANALYZER_PORT/healthz" 2>/dev/null; then
        tail -n 5 "$andir/analyzer.log" "$andir/keeper.out" >&2 || true
        die "the analyzer does not answer on 127.0.0.1:$ANALYZER_PORT (log: $andir/analyzer.log)"
    fi
    say "analyzer: started (pid $(tr -d ' \n' <"$analyzer_pid"), metrics on 127.0.0.1:$ANALYZER_PORT, log $andir/analyzer.log)"
}

if alive "$keeper_pid" sh; then
    say "analyzer: already running (pid $(tr -d ' \n' <"$analyzer_pid" 2>/dev/null))"
else
    start_analyzer
fi

# --- what to do with it ------------------------------------------------

base="http://$url_host:$PORT"
cat >"$env_file" <<EOF
# written by scripts/run.sh: the running demo gateway. Use: . $(shq "$env_file")
# The HOTKEY_* values are demo secrets: this file is mode 0600.
BASE_URL=$base
PORT=$PORT
PROJECT_ID=$PROJECT_ID
INSTANCE_ID=$INSTANCE_ID
INSTANCE_ID_NO_LFU=$INSTANCE_ID_NO_LFU
INSTANCE_ID_BUSY=$INSTANCE_ID_BUSY
REDIS_PORT=$REDIS_PORT
DEMO_TARGET=127.0.0.1:$DEMO_PORT
ANALYZER_METRICS_URL=http://127.0.0.1:$ANALYZER_PORT/metrics
HOTKEY_TOKEN=$HOTKEY_TOKEN
HOTKEY_AK=$HOTKEY_AK
HOTKEY_SK=$HOTKEY_SK
HOTKEY_TOKEN_KEY=$(shq "$token_key")
HOTKEY_TOKEN_ALG=ES256
HOTKEY_TOKEN_KID=
EOF
if [ "$STORE" = cluster ]; then
    printf 'STORE=cluster\nSTORE_NODES=%s\n' "$(shq "$STORE_NODES")" >>"$env_file"
fi
chmod 600 "$env_file"

api="$base/v2/$PROJECT_ID/instances"
list="$api/$INSTANCE_ID/hotkey-tasks"
ctl=$(shq "$HOTKEYCTL")
envq=$(shq "$env_file")
cat <<EOF

The gateway runs at $base/  (authentication is ON: a token or an AK/SK signature)

Try (the demo token, sub "demo", may list the demo project's tasks until $(date -u -d "@$exp" '+%Y-%m-%d %H:%M UTC')):
  curl -s -H 'X-Auth-Token: $HOTKEY_TOKEN' '$list?limit=3'

The same, signed with the demo AK/SK (SDK-HMAC-SHA256, as the Huawei Cloud SDKs do):
  $ctl sign --ak $HOTKEY_AK --sk-file $(shq "$sk_file") --url '$list?limit=3' --curl -- -i

More, after  . $envq  (it sets HOTKEY_TOKEN and the IDs):
  curl -s -H "X-Auth-Token: \$HOTKEY_TOKEN" "\$BASE_URL/v2/\$PROJECT_ID/instances/\$INSTANCE_ID/hotkey-tasks?status=failed"
  curl -s -H "X-Auth-Token: \$HOTKEY_TOKEN" "\$BASE_URL/v2/\$PROJECT_ID/instances/\$INSTANCE_ID/hotkey-tasks?offset=14&limit=2"    # two tasks with the same created_at: id breaks the tie
  curl -si -H "X-Auth-Token: \$HOTKEY_TOKEN" "\$BASE_URL/v2/\$PROJECT_ID/instances/\$INSTANCE_ID_NO_LFU/hotkey-tasks"    # 400 DCS.4922: allkeys-lru, cannot be analysed
  curl -si -H "X-Auth-Token: \$HOTKEY_TOKEN" "\$BASE_URL/v2/\$PROJECT_ID/instances/\$INSTANCE_ID/hotkey-tasks?limit=0"    # 400 DCS.4062
  curl -si "\$BASE_URL/v2/\$PROJECT_ID/instances/\$INSTANCE_ID/hotkey-tasks"    # 401 DCS.1003: no token
  $ctl token --key "\$HOTKEY_TOKEN_KEY" --project "\$PROJECT_ID" --sub me --ttl 600    # a token of your own (10 minutes)

Every route with hotkeyctl api (after  . $envq ; AK/SK here, --token "\$HOTKEY_TOKEN" works too):
  k="--url \$BASE_URL --project \$PROJECT_ID --instance \$INSTANCE_ID --ak \$HOTKEY_AK --sk-file $(shq "$sk_file")"
  $ctl api create \$k    # 200: POST hotkey-task, a waiting task the analyzer takes at once (400 DCS.4026 while one is waiting or running)
  $ctl api show \$k --task 7e130da3-e417-4044-855a-803c484106b4    # 200: GET hotkey-task/{id}, a finished task and its hot keys
  $ctl api list \$k --status waiting --limit 5    # 200: GET hotkey-tasks
  $ctl api delete \$k --task 26964596-d720-4e3c-be7f-777879c27a3c    # 204: DELETE hotkey-task/{id} (then 400 DCS.4941; DCS.4957 while waiting or running)
  $ctl api autoscan-get \$k    # 200: GET hotkey/autoscan
  $ctl api autoscan-set \$k --enable true --at 21:00,03:30    # 200: PUT hotkey/autoscan
  $ctl instance list --store 127.0.0.1:$REDIS_PORT    # the registered instances (hotkeyctl instance add|remove, help: $ctl instance --help)

Operators (from this machine only):
  curl -s '$base/metrics'    # Prometheus metrics
  curl -s -X POST '$base/cache/purge?instance_id=$INSTANCE_ID'    # drop the instance's cached answers

Hot key analysis: the analyzer scans the demo target 127.0.0.1:$DEMO_PORT (instance \$INSTANCE_ID,
about 30,000 keys; the hottest: $(printf '%s ' $("$top/scripts/demo-target.sh" --hot))then user:1, user:2, ...)
  create:   curl -s -X POST -H "X-Auth-Token: \$HOTKEY_TOKEN" "\$BASE_URL/v2/\$PROJECT_ID/instances/\$INSTANCE_ID/hotkey-task"
  details:  curl -s -H "X-Auth-Token: \$HOTKEY_TOKEN" "\$BASE_URL/v2/\$PROJECT_ID/instances/\$INSTANCE_ID/hotkey-task/<id>"
  (a create needs a token with the action dcs:instance:analyze; or, without the gateway:
   $(shq "$ANALYZER") --store 127.0.0.1:$REDIS_PORT --create-task <instance_id>)
  metrics:  curl -s http://127.0.0.1:$ANALYZER_PORT/metrics     log: $andir/analyzer.log

Keys and credentials: $adir/ (delete it and run again for new ones)
The store:  redis-cli$([ "$STORE" = cluster ] && printf ' -c') -p $REDIS_PORT      Logs: $ndir/logs/ (access.log: one JSON object per line)
Stop:       make stop   (or RUN_DIR=$RUN_DIR scripts/stop.sh)
EOF
if [ -n "$no_gateway" ]; then
    die "everything but the gateway runs: $no_gateway"
fi
