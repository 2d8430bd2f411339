#!/bin/bash
# Regenerates the seed corpora in fuzz/corpus/<target>/ from real inputs:
# queries and paths as the tests send them, Authorization headers made by
# build/hotkeyctl sign, tokens minted by build/hotkeyctl token (for the
# key set built into fuzz_jwt.c, at its fixed time 1700000000), RESP
# replies of a real redis-server to the module's own command of each
# operation, and PUT bodies.
# Usage: fuzz/mkcorpus.sh [target...]   (needs make cli, redis-server;
#        default: every target; e.g. fuzz/mkcorpus.sh store body)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ctl=build/hotkeyctl
[ -x "$ctl" ] || make -s cli
c=fuzz/corpus
mkdir -p $c/args $c/route $c/aksk $c/jwt $c/store $c/resp
# the targets to regenerate (default: all); the others are left as they are
targets=${*:-args route aksk jwt store resp body}
want() { case " $targets " in *" $1 "*) return 0 ;; esac; return 1; }

P=0123456789abcdef0123456789abcdef
PU=a4d31cb6-3d72-4fdc-8ec9-6e3a41e47f71
I=5560df16-cebf-4473-95c4-d1b573c16e79
T=858ee14c-2271-4489-8b82-7bda7459ae3e

seed() { printf '%s' "$2" >"$1"; }

# ---- args: raw query strings
if want args; then
n=0
for q in '' 'offset=0&limit=10' 'limit=1000' 'offset=2147483647&limit=1' \
         'status=waiting' 'status=running&limit=5' 'status=success&offset=3' \
         'status=failed' 'limit=%31%30' 'offset=1&offset=2' 'limit=0' \
         'limit=+5' 'limit' 'status=' 'status=%7' 'foo=bar&limit=2&x' \
         'offset=00000000000000000000001' 'limit=1001' 'status=%00waiting' \
         'a=1&&b=2&status=running'; do
    seed $c/args/q$((n++)) "$q"
done

fi

# ---- route: decoded paths
if want route; then
n=0
for p in "/v2/$P/instances/$I/hotkey-tasks" "/v2/$PU/instances/$I/hotkey-tasks" \
         "/v2/$P/instances/$I/hotkey-task" "/v2/$P/instances/$I/hotkey-task/$T" \
         "/v2/$P/instances/$I/hotkey/autoscan" "/v2/$P/instances/$I/hotkey-tasks/" \
         "/v2/$P//instances/$I/hotkey-tasks" "/v2/" "/v2/x/instances/y/hotkey-tasks" \
         "/v3/$P/instances/$I/hotkey-tasks" "/v2/$P/instances/$I/a/b/c/d"; do
    seed $c/route/p$((n++)) "$p"
done

fi

# ---- aksk: Authorization \n method \n path \n ?query \n headers...
# (the layout of fuzz_aksk.c), signed by hotkeyctl like a real client
if want aksk; then
aksk() {    # name method path query [header...]
    local name=$1 m=$2 path=$3 q=$4 out hdrs="" url
    shift 4
    url="http://localhost:8080$path${q:+?$q}"
    local args=(--ak AKTEST0123456789 --sk fuzz-secret-key --method "$m"
                --url "$url" --date 20231114T221320Z)
    for h in "$@"; do args+=(--header "$h"); done
    out=$("$ctl" sign "${args[@]}")
    auth=$(printf '%s\n' "$out" | sed -n 's/^Authorization: //p')
    {
        printf '%s\n%s\n%s\n' "$auth" "$m" "$path"
        if [ -n "$q" ]; then printf '?%s\n' "$q"; else printf '\n'; fi
        printf '%s\n' "$out" | grep -v '^Authorization: '
        for h in "$@"; do printf '%s\n' "$h"; done
    } >$c/aksk/$name
}
L="/v2/$P/instances/$I/hotkey-tasks"
aksk plain GET "$L" ''
aksk query GET "$L" 'limit=5&offset=0&status=running'
aksk project GET "$L" 'limit=5' "X-Project-Id: $P"
aksk encoded GET "/v2/$P/instances/$I/hot%6Bey-tasks" 'a=%20b&a=+&z=~._-'
aksk unsigned GET "$L" '' 'X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD'
aksk post POST "/v2/$P/instances/$I/hotkey-task" '' 'Content-Type: application/json'
aksk head HEAD "$L" 'offset=1' 'X-Extra:  spaced value  '
# hand-made malformed ones
printf 'SDK-HMAC-SHA256 Access=AKTEST0123456789, SignedHeaders=host;host, Signature=%064d\nGET\n/\n\nHost: a\n' 0 >$c/aksk/repeated
printf 'SDK-HMAC-SHA256\tAccess=A,SignedHeaders=x-sdk-date,Signature=%064d\nGET\n/v2/%%zz\n?%%\nX-Sdk-Date: 20231114T221320Z\nx-sdk-date: 20231114T221320Z\n' 0 >$c/aksk/badpct
printf 'Bearer abc\nGET\n/\n\n' >$c/aksk/scheme

fi

# ---- jwt: tokens for the built-in key set at t=1700000000
if want jwt; then
tok() { "$ctl" token --now 1700000000 --project $P "$@"; }
printf '%s' "fuzz-test-hs256-secret-0123456789abcdef" >build-fuzz-hs.secret.tmp
tok --key fuzz/keys/ec-test.pem --kid ec1 | tr -d '\n' >$c/jwt/es256
tok --key fuzz/keys/ec-test.pem --kid ec1 --sub alice --rate 10r/m --burst 3 \
    --actions 'dcs:instance:*,dcs:instance:analyze' | tr -d '\n' >$c/jwt/es256-claims
tok --key build-fuzz-hs.secret.tmp --kid hs1 | tr -d '\n' >$c/jwt/hs256
tok --key build-fuzz-hs.secret.tmp --kid hs1 --ttl 10 --nbf-offset 100 | tr -d '\n' >$c/jwt/hs256-nbf
tok --key build-fuzz-hs.secret.tmp --kid hs1 --iat none --rate 7 | tr -d '\n' >$c/jwt/hs256-noiat
tok --key build-fuzz-hs.secret.tmp | tr -d '\n' >$c/jwt/hs256-nokid
rm -f build-fuzz-hs.secret.tmp
printf 'eyJhbGciOiJub25lIn0.eyJwcm9qZWN0X2lkIjoiYSIsImV4cCI6MX0.' >$c/jwt/none
printf 'a.b.c' >$c/jwt/abc
# "SIGN:" inputs: fuzz_jwt.c signs them with the HS256 key (claims fuzzing)
printf 'SIGN:{"alg":"HS256","kid":"hs1","typ":"JWT"}\n{"project_id":"%s","actions":["dcs:instance:listHotKey"],"iat":1700000000,"exp":1700003600}' $P >$c/jwt/sign-basic
printf 'SIGN:{"alg":"HS256","kid":"hs1"}\n{"project_id":"%s","sub":"bob","actions":["dcs:instance:*","x"],"nbf":1699999000,"exp":1700003600,"rate":"10r/m","burst":3}' $P >$c/jwt/sign-claims
printf 'SIGN:{"alg":"HS256","kid":"hs1"}\n{"project_id":"p","exp":1.5e300,"rate":4294967296,"burst":-1}' >$c/jwt/sign-bounds

fi

# ---- store: real replies of redis to the module's own commands, for
# each operation (the first byte of a seed: operation * 3 + chunking - 1,
# see fuzz_store.c)
if want store; then
mkdir -p build-fuzz
cat >build-fuzz/mkreq.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hotkey_store.h"
/* mkreq OP PROJECT INSTANCE [TASK | OFFSET LIMIT STATUS | ENABLE TIMES]:
 * the EVAL the module sends (the script text: a fresh Redis has none) */
int main(int argc, char **argv) {
    static const char *ops[] = { "list", "create", "details", "delete",
                                 "autoscan_get", "autoscan_put" };
    hotkey_args_t a; hotkey_route_t rt; const hotkey_op_t *op = NULL;
    int i;
    for (i = 0; i < HOTKEY_OP_LAST; i++)
        if (strcmp(argv[1], ops[i]) == 0) op = hotkey_op_get(i);
    if (op == NULL) return 2;
    memset(&a, 0, sizeof(a)); memset(&rt, 0, sizeof(rt));
    rt.route = op->route;
    rt.project = argv[2]; rt.project_len = strlen(argv[2]);
    rt.instance = argv[3]; rt.instance_len = strlen(argv[3]);
    a.now = 1700000000123LL;
    if (op->id == HOTKEY_OP_LIST) {
        a.list.offset = atoll(argv[4]); a.list.limit = atoll(argv[5]);
        a.list.status = hotkey_status_parse(argv[6], strlen(argv[6]));
    } else if (op->id == HOTKEY_OP_CREATE) {
        memcpy(a.id, argv[4], 36);
    } else if (op->route == HOTKEY_ROUTE_TASK) {
        rt.task = argv[4]; rt.task_len = strlen(argv[4]);
    } else if (op->id == HOTKEY_OP_AUTOSCAN_PUT) {
        a.autoscan.enable = atoi(argv[4]);
        if (hotkey_times_read(argv[5], strlen(argv[5]), &a.autoscan)) return 2;
    }
    char *buf = malloc(hotkey_store_request_size(op, rt.project_len));
    size_t n = hotkey_store_request(buf, op, &rt, &a, 1);
    fwrite(buf, 1, n, stdout);
    return 0;
}
C
cc -Isrc -o build-fuzz/mkreq build-fuzz/mkreq.c src/hotkey_*.c -lcjson -lhiredis -lcrypto
port=$(( 20000 + RANDOM % 20000 ))
rdir=$(mktemp -d)
redis-server --port $port --bind 127.0.0.1 --save '' --dir "$rdir" --daemonize no \
    >"$rdir/log" 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$rdir"' EXIT
for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
rc() { redis-cli -p $port "$@" >/dev/null; }
rc HSET "hotkey:{$I}:instance" project_id $PU eviction_policy allkeys-lfu
I2=0b9a1c3e-1111-4222-8333-444455556666
rc HSET "hotkey:{$I2}:instance" project_id $PU eviction_policy noeviction
# an instance with finished tasks only: a create succeeds
I3=7d3c1e2a-2222-4333-8444-555566667777
rc HSET "hotkey:{$I3}:instance" project_id $PU eviction_policy volatile-lfu
ts=1592187678669
k=0
for st in success running waiting failed success; do
    id=$(printf '858ee14c-2271-4489-8b82-7bda7459a%03x' $k)
    c_at=$((ts + k * 1000))
    case $st in
        waiting) rc HSET "hotkey:{$I}:task:$id" id $id status $st scan_type auto created_at $c_at ;;
        running) rc HSET "hotkey:{$I}:task:$id" id $id status $st scan_type manual created_at $c_at started_at $((c_at + 10)) ;;
        *) rc HSET "hotkey:{$I}:task:$id" id $id status $st scan_type manual created_at $c_at started_at $((c_at + 10)) finished_at $((c_at + 99)) ;;
    esac
    rc ZADD "hotkey:{$I}:tasks" $c_at $id
    rc ZADD "hotkey:{$I}:tasks:$st" $c_at $id
    k=$((k + 1))
done
# the hot keys of the first (successful) task, names with | and UTF-8
rc RPUSH "hotkey:{$I}:task:858ee14c-2271-4489-8b82-7bda7459a000:keys" \
    '255|0|string|1048576|byte|127.0.0.1:6379|hot:counter' \
    '120|3|zset|42|count|127.0.0.1:6379|a|b|c' \
    "9|15|hash|7|count|10.0.0.1:7001|$(printf 'caf\303\251 "q" \\ \001')"
# a broken record: index entry without its hash
rc ZADD "hotkey:{$I}:tasks:failed" $ts 858ee14c-2271-4489-8b82-7bda7459afff
capture() {    # name first-bytes mkreq-args...
    local name=$1 chunking=$2
    shift 2
    exec 3<>/dev/tcp/127.0.0.1/$port
    { build-fuzz/mkreq "$@"; printf '*1\r\n$4\r\nQUIT\r\n'; } >&3
    # the first 3 bytes choose the operation and the chunking
    { printf "$chunking"; cat <&3 | sed '$ d'; } >$c/store/$name
    exec 3<&-
}
NOI=99999999-1111-4222-8333-444455556666
T0=858ee14c-2271-4489-8b82-7bda7459a000
T1=858ee14c-2271-4489-8b82-7bda7459a001
T3=858ee14c-2271-4489-8b82-7bda7459a003
NOT=858ee14c-2271-4489-8b82-7bda7459abcd
capture list1 '\000\000\000' list $PU $I 0 10 any
capture list2 '\001\200\000' list $PU $I 1 2 any
capture running '\002\100\200' list $PU $I 0 10 running
capture empty '\000\000\000' list $PU $I 100 10 any
capture broken '\001\010\000' list $PU $I 0 10 failed
capture other '\000\000\000' list $P $I 0 10 any
capture nolfu '\000\000\000' list $PU $I2 0 10 any
capture noinst '\000\000\000' list $PU $NOI 0 10 any
# create (3..5)
capture create-ok '\003\000\000' create $PU $I3 6a0cf3c8-43a4-4d6e-9f1e-0c2b1f8e5d11
capture create-conflict '\004\200\000' create $PU $I 6a0cf3c8-43a4-4d6e-9f1e-0c2b1f8e5d12
capture create-nolfu '\003\000\000' create $PU $I2 6a0cf3c8-43a4-4d6e-9f1e-0c2b1f8e5d13
capture create-noinst '\005\100\200' create $PU $NOI 6a0cf3c8-43a4-4d6e-9f1e-0c2b1f8e5d14
# details (6..8)
capture details-keys '\006\000\000' details $PU $I $T0
capture details-keys2 '\010\120\200' details $PU $I $T0
capture details-running '\006\000\000' details $PU $I $T1
capture details-failed '\007\200\000' details $PU $I $T3
capture details-notask '\006\000\000' details $PU $I $NOT
capture details-other '\006\000\000' details $P $I $T0
# delete (9..11): refused, missing, then done
capture delete-conflict '\011\000\000' delete $PU $I $T1
capture delete-notask '\012\100\000' delete $PU $I $NOT
capture delete-ok '\011\000\000' delete $PU $I $T3
capture delete-noinst '\011\000\000' delete $PU $NOI $T3
# autoscan get (12..14) before and after a put (15..17)
capture autoscan-get-unset '\014\000\000' autoscan_get $PU $I
capture autoscan-put '\017\000\000' autoscan_put $PU $I 1 '00:00,03:30,21:00,23:59'
capture autoscan-put-off '\020\200\000' autoscan_put $PU $I 0 ''
capture autoscan-put-nolfu '\017\000\000' autoscan_put $PU $I2 1 '12:00'
capture autoscan-put2 '\017\000\000' autoscan_put $PU $I 1 '01:02,03:04'
capture autoscan-get '\015\100\200' autoscan_get $PU $I
capture autoscan-get-other '\014\000\000' autoscan_get $P $I
printf '\000\000\000-ERR fake store says no\r\n' >$c/store/error
printf '\001\100\000*2\r\n*1\r\n:1\r\n$3\r\nfoo\r\n' >$c/store/wrongshape
printf '\000\000\000:42\r\n' >$c/store/integer
printf '\003\000\000-NOSCRIPT No matching script.\r\n' >$c/store/noscript
printf '\011\000\000-MOVED 3999 127.0.0.1:6381\r\n' >$c/store/moved
printf '\014\000\000*6\r\n$36\r\n%s\r\n$11\r\nallkeys-lfu\r\n$2\r\nok\r\n$1\r\n1\r\n$11\r\n00:00,00:00\r\n:5\r\n' $PU >$c/store/autoscan-unsorted
fi

# ---- resp: the same replies (the first three bytes cut them the same way)
if want resp; then
    rm -f $c/resp/*
    cp $c/store/* $c/resp/
fi

# ---- body: PUT hotkey/autoscan bodies (fuzz_body.c): valid, each field
# wrong, JSON that cJSON alone would take, and the stored times form
if want body; then
mkdir -p $c/body
n=0
for b in '{"enable_auto_scan":true,"schedule_at":["21:00","03:30"]}' \
         '{"enable_auto_scan":false,"schedule_at":[]}' \
         '{ "schedule_at" : [ "00:00" ] , "enable_auto_scan" : true , "x" : {"y":[1,2.5e3,null]} }' \
         '{"enable_auto_scan":true,"schedule_at":[]}' \
         '{"enable_auto_scan":"true","schedule_at":["01:00"]}' \
         '{"enable_auto_scan":true,"schedule_at":["24:00"]}' \
         '{"enable_auto_scan":true,"schedule_at":["01:00","01:00"]}' \
         '{"enable_auto_scan":true,"enable_auto_scan":false,"schedule_at":["01:00"]}' \
         '{"enable_auto_scan":true,"schedule_at":["1:00"]}' \
         '{"enable_auto_scan":true,"schedule_at":["01:00\u0000"]}' \
         '{"enable_auto_scan":true,"schedule_at":"01:00"}' \
         '{"enable_auto_scan":01,"schedule_at":[]}' \
         '{"enable_auto_scan":true,"schedule_at":["\ud800"]}' \
         '[{"enable_auto_scan":true}]' '{}' '' ' ' 'null' '{"a":1}x' \
         '00:00,03:30,21:00' '23:59' '01:00,00:00' '00:00,' \
         "{\"enable_auto_scan\":true,\"schedule_at\":[$(for h in $(seq -w 0 23); do printf '"%s:00",' $h; done | sed 's/,$//')]}" \
         "{\"enable_auto_scan\":true,\"schedule_at\":[$(for h in $(seq -w 0 23); do printf '"%s:00",' $h; done)\"23:30\"]}"; do
    seed $c/body/b$((n++)) "$b"
done
printf '{"enable_auto_scan":true,"schedule_at":["01:00"],"n":"\377"}' >$c/body/badutf8
printf '{"enable_auto_scan":true,"schedule_at":["01:00"],"n":"\001"}' >$c/body/ctrl
fi

echo "corpus: $(find $c -type f | wc -l) files"
