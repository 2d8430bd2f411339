#!/bin/sh
# Loads the demo target of `make run`: a Redis instance to analyse, with
# about 30,000 keys of every type and a skewed access pattern, so that an
# analysis finds known hot keys. The target runs with lfu-log-factor 0
# and lfu-decay-time 0 (scripts/run.sh starts it so): one read is one
# step of the LFU counter and nothing decays, so OBJECT FREQ of a key is
# exactly 5 + its reads (at most 255) and the answer stays the same from
# one analysis to the next (each analysis reads the size of the 100 keys
# it keeps, one more step for each of them). Real instances keep Redis's
# defaults.
#
# The hot keys, hottest first (reads):
#   hot:counter      string  250      hot:queue   list    180
#   hot:leaderboard  zset    220      hot:tags    set     160
#   hot:session      hash    200      hot:events  stream  140
# then user:1 .. user:100, user:<i> read 100 / i times (a Zipf tail), then
# every other key at 5 (never read).
#
# Usage: scripts/demo-target.sh <port>        (host 127.0.0.1)
#        scripts/demo-target.sh --hot         print the hot keys, one a line
set -e

if [ "${1:-}" = "--hot" ]; then
    printf '%s\n' hot:counter hot:leaderboard hot:session hot:queue \
        hot:tags hot:events
    exit 0
fi

port=${1:?usage: demo-target.sh <port>}
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }

pipe() {
    out=$(cli --pipe 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
    case $out in
        *"errors: 0,"*) ;;
        *) printf 'demo-target: %s\n' "$out" >&2; exit 1 ;;
    esac
}

# the keys: strings, hashes, lists, sets, sorted sets, streams
awk 'BEGIN {
    for (i = 1; i <= 14000; i++) printf "SET user:%d profile-%d-%s\n", i, i, substr("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1, i % 32)
    for (i = 1; i <= 6000; i++) printf "HSET session:%d user %d ttl %d ip 10.0.%d.%d\n", i, i, i % 3600, i % 256, i % 200
    for (i = 1; i <= 3500; i++) printf "RPUSH queue:%d a b c%s\n", i, (i % 3 ? " d" : "")
    for (i = 1; i <= 3500; i++) printf "SADD tags:%d red green%s\n", i, (i % 2 ? " blue" : "")
    for (i = 1; i <= 2500; i++) printf "ZADD rank:%d 1 a 2 b 3 c\n", i
    for (i = 1; i <= 500; i++) printf "XADD events:%d * kind click n %d\n", i, i
    print "SET hot:counter 42"
    print "ZADD hot:leaderboard 10 alice 20 bob 30 carol 40 dave"
    print "HSET hot:session user alice cart 3 ip 10.0.0.1"
    print "RPUSH hot:queue job1 job2 job3 job4 job5"
    print "SADD hot:tags a b c d e f g"
    print "XADD hot:events * kind login"
}' | pipe

# the reads
awk 'BEGIN {
    for (n = 0; n < 250; n++) print "GET hot:counter"
    for (n = 0; n < 220; n++) print "ZCARD hot:leaderboard"
    for (n = 0; n < 200; n++) print "HLEN hot:session"
    for (n = 0; n < 180; n++) print "LLEN hot:queue"
    for (n = 0; n < 160; n++) print "SCARD hot:tags"
    for (n = 0; n < 140; n++) print "XLEN hot:events"
    for (i = 1; i <= 100; i++) for (n = 0; n < int(100 / i); n++) printf "GET user:%d\n", i
}' | pipe
