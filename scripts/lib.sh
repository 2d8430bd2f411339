# scripts/lib.sh: helpers shared by bench/run.sh and scripts/*.sh, sourced
# (`. "$top/scripts/lib.sh"`). Plain POSIX sh functions (run.sh and stop.sh
# are /bin/sh scripts); `local` is used, which dash and bash both have.

# ------------------------------------------------------------ processes

# alive <pidfile> <process name>: the pid file names a live process of
# that name (not a stale file left by a crash, not a recycled pid); sets $pid
alive() {
    [ -f "$1" ] || return 1
    pid=$(tr -d ' \n' <"$1" 2>/dev/null) || return 1
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/status" ]; then
        # a killed process stays a zombie until its parent reaps it
        case $(sed -n 's/^State:[[:space:]]*//p' "/proc/$pid/status") in
            Z*|X*) return 1 ;;
        esac
        case $(cat "/proc/$pid/comm") in "$2"*) ;; *) return 1 ;; esac
    fi
    return 0
}

# gone <pid>: the process has exited (a zombie counts as gone)
gone() {
    kill -0 "$1" 2>/dev/null || return 0
    [ -r "/proc/$1/status" ] || return 1
    case $(sed -n 's/^State:[[:space:]]*//p' "/proc/$1/status") in
        Z*|X*|'') return 0 ;;
    esac
    return 1
}

# wait_gone <pid> <tenths of a second>
wait_gone() {
    wait_until $(($2 + 1)) 0.1 gone "$1"
}

# stop_pid <pid> [signal]: signals a child of ours (TERM by default), gives
# it 5 s, then KILLs it, and reaps it; nothing when the pid is empty or gone
stop_pid() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    kill -"${2:-TERM}" "$1" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# stop_nginx_tree <master pid>: stop_pid on an nginx master of ours, then
# KILL whatever of its workers is left (a master killed hard leaves them)
stop_nginx_tree() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    local workers w
    workers=$(ps -o pid= --ppid "$1" 2>/dev/null)
    stop_pid "$1"
    for w in $workers; do kill -KILL "$w" 2>/dev/null; done
}

# ------------------------------------------------------------ waiting

# wait_until <tries> <seconds between> <command...>: runs the command until
# it succeeds (0), at most <tries> times (1 when it never did)
wait_until() {
    local tries=$1 pause=$2 i=0
    shift 2
    until "$@"; do
        i=$((i + 1))
        [ "$i" -lt "$tries" ] || return 1
        sleep "$pause"
    done
    return 0
}

# free_port: a free TCP port on 127.0.0.1 (bound by perl, then released)
free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0, Proto => "tcp") or die;
        print $s->sockport, "\n";'
}

# http_up <url> [pid]: the url answers (any status); 2 when the pid is given
# and that process has exited (so that wait_until can stop early: see wait_http)
http_up() {
    curl -s -o /dev/null "$1" && return 0
    [ -z "${2:-}" ] || kill -0 "$2" 2>/dev/null || return 2
    return 1
}

# wait_http <url> [pid] [tries]: polls the url every 0.05 s, at most <tries>
# times (default 100); 0 once it answers, 1 when it never did, 2 as soon as
# the pid (when given) has exited
wait_http() {
    local i=0 rc
    while :; do
        http_up "$1" "${2:-}"
        rc=$?
        [ "$rc" = 1 ] || return "$rc"
        i=$((i + 1))
        [ "$i" -lt "${3:-100}" ] || return 1
        sleep 0.05
    done
}

# ------------------------------------------------------------ redis

# redis_ping <port>: a redis-server answers PING on 127.0.0.1:<port>
redis_ping() {
    [ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ]
}

# start_temp_redis <dir> <port> [command...]: a throwaway redis-server (the
# command, default redis-server, e.g. `taskset -c 0 /usr/bin/redis-server`)
# in the background, a child of this shell: no saves but an explicit SAVE
# (to <dir>/dump.rdb), no AOF, log in <dir>/redis.log; sets REDIS_PID and
# waits up to 5 s for PING: 1 when it did not answer (or exited)
start_temp_redis() {
    local dir=$1 port=$2 i
    shift 2
    [ $# -gt 0 ] || set -- redis-server
    "$@" --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --dbfilename dump.rdb --save '' --appendonly no --daemonize no \
        --protected-mode no --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
    REDIS_PID=$!
    for i in $(seq 500); do
        redis_ping "$port" && return 0
        kill -0 "$REDIS_PID" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}

# random_hex32, random_uuid: a random project id, a random instance id
random_hex32() { head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
random_uuid() { cat /proc/sys/kernel/random/uuid; }

# small_instance_cmds <key prefix hotkey:{iid}> <project>: the redis-cli
# commands of an instance (allkeys-lfu) with 25 tasks of random ids, the
# statuses cycling waiting, running, success, failed, one a minute
small_instance_cmds() {
    local k=$1 i id st c f
    echo "HSET $k:instance project_id $2 eviction_policy allkeys-lfu"
    i=0
    while [ "$i" -le 24 ]; do
        id=$(random_uuid)
        case $((i % 4)) in 0) st=waiting ;; 1) st=running ;; 2) st=success ;; 3) st=failed ;; esac
        c=$((1592187678669 + i * 60000 + i))
        f="id $id status $st scan_type $([ $((i % 3)) = 0 ] && echo auto || echo manual) created_at $c"
        [ "$st" != waiting ] && f="$f started_at $((c + 4865))"
        { [ "$st" = success ] || [ "$st" = failed ]; } && f="$f finished_at $((c + 6919))"
        echo "HSET $k:task:$id $f"
        echo "ZADD $k:tasks $c $id"
        echo "ZADD $k:tasks:$st $c $id"
        i=$((i + 1))
    done
}

# load_fixed_tasks <port> <iid> <n>: n successful manual tasks with fixed
# ids (858ee14c-...-7bda7459a000, ...001, ...) a second apart into the
# instance <iid> (which must exist)
load_fixed_tasks() {
    local k="hotkey:{$2}" n=0 id c
    while [ "$n" -lt "$3" ]; do
        id=$(printf '858ee14c-2271-4489-8b82-7bda7459a%03x' "$n")
        c=$((1592187678669 + n * 1000))
        echo "HSET $k:task:$id id $id status success scan_type manual created_at $c started_at $((c + 5)) finished_at $((c + 9))"
        echo "ZADD $k:tasks $c $id"
        echo "ZADD $k:tasks:success $c $id"
        n=$((n + 1))
    done | redis-cli -h 127.0.0.1 -p "$1" >/dev/null
}

# ------------------------------------------------------------ nginx

# nginx_conf_head <dir> <error_log level>: the first lines of the config of
# an nginx in the temp dir <dir>: the module (a private copy there), "user
# root;" when run as root (workers that can use the dir whoever owns it),
# pid and error log in <dir>/logs
nginx_conf_head() {
    echo "load_module $1/ngx_http_hotkey_module.so;"
    [ "$(id -u)" != 0 ] || echo "user root;"
    echo "pid $1/logs/nginx.pid;"
    echo "error_log $1/logs/error.log $2;"
}

# nginx_temp_paths <dir>: the http{} lines that keep nginx's temp files in
# <dir>/tmp (indented for a config at the usual 4 spaces)
nginx_temp_paths() {
    printf '    %s_temp_path %s/tmp/%s;\n' \
        client_body "$1" client_body proxy "$1" proxy fastcgi "$1" fastcgi \
        uwsgi "$1" uwsgi scgi "$1" scgi
}

# ------------------------------------------------------------ writes

# finish_waiting_lua: prints a Lua script, for
#   EVAL <script> 0 <now_ms> <instance_id>...
# that ends every waiting task of the instances named as an analyzer
# would (finish.lua): status success, started_at and finished_at now,
# num 2 and a keys list of two entries, out of the waiting index into the
# success one, the queue emptied, hotkey:changes published.  It answers
# the number of tasks it finished.  Its keys are not declared: for a
# standalone test Redis only (make valgrind, make faults, make bench), so
# that creates on those instances keep succeeding.
finish_waiting_lua() {
    cat <<'LUA'
local now, n = ARGV[1], 0
for a = 2, #ARGV do
    local iid = ARGV[a]
    local p = 'hotkey:{' .. iid .. '}:'
    local ids = redis.call('ZRANGE', p .. 'tasks:waiting', 0, -1)
    for _, id in ipairs(ids) do
        local t = p .. 'task:' .. id
        local c = redis.call('HGET', t, 'created_at') or now
        redis.call('HSET', t, 'status', 'success', 'started_at', now,
                   'finished_at', now, 'num', 2)
        redis.call('ZREM', p .. 'tasks:waiting', id)
        redis.call('ZADD', p .. 'tasks:success', c, id)
        redis.call('DEL', t .. ':keys')
        redis.call('RPUSH', t .. ':keys', '9|0|string|5|byte|127.0.0.1:6379|k:1',
                   '3|1|hash|2|count|127.0.0.1:6379|k|2')
    end
    redis.call('DEL', p .. 'queue')
    if #ids > 0 then
        redis.call('PUBLISH', 'hotkey:changes', iid)
    end
    n = n + #ids
end
return n
LUA
}

# wrk_round_robin_lua [first n]: prints the request() of a wrk script
# that sends the rows of a Lua table `reqs` ({ method, path, headers,
# body }) round robin; "{n}" in a path is this thread's n-th such request
# (from first n, default 0) in 12 hex digits, e.g. the task a delete takes
wrk_round_robin_lua() {
    cat <<LUA
local i, n = 0, ${1:-0}
request = function()
    i = i % #reqs + 1
    local q = reqs[i]
    local path = q[2]
    if path:find("{n}", 1, true) then
        path = path:gsub("{n}", string.format("%012x", n))
        n = n + 1
    end
    return wrk.format(q[1], path, q[3], q[4])
end
LUA
}

# load_deletable_tasks <port> <iid> <n> [first]: n successful tasks with
# ids d0000000-0000-4000-8000-<12 hex digits of first, first+1, ...>, each
# with a keys list, into the instance <iid> (which must exist), through
# redis-cli --pipe: for deletes (the route's 204) to consume
deletable_id() { printf 'd0000000-0000-4000-8000-%012x' "$1"; }
load_deletable_tasks() {
    perl -e '
        my ($k, $n, $first) = @ARGV;
        sub cmd { my $s = "*" . scalar(@_) . "\r\n";
                  $s .= "\$" . length($_) . "\r\n$_\r\n" for @_; $s }
        for my $i ($first .. $first + $n - 1) {
            my $id = sprintf("d0000000-0000-4000-8000-%012x", $i);
            my $c = 1592187678669 + $i;
            print cmd("HSET", "$k:task:$id", "id", $id, "status", "success",
                      "scan_type", "manual", "created_at", $c,
                      "started_at", $c + 5, "finished_at", $c + 9, "num", 1);
            print cmd("RPUSH", "$k:task:$id:keys", "7|0|list|3|count|127.0.0.1:6379|q");
            print cmd("ZADD", "$k:tasks", $c, $id);
            print cmd("ZADD", "$k:tasks:success", $c, $id);
        }' "hotkey:{$2}" "$3" "${4:-0}" \
    | redis-cli -h 127.0.0.1 -p "$1" --pipe >/dev/null
}
