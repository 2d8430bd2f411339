#!/bin/bash
# Regenerates the seed corpora in fuzz/corpus/<target>/ from real inputs:
# queries and paths as the tests send them, Authorization headers made by
# build/hotkeyctl sign, tokens minted by build/hotkeyctl token (for the
# key set built into fuzz_jwt.c, at its fixed time 1700000000), and RESP
# replies of a real redis-server to the module's own list EVAL.
# Usage: fuzz/mkcorpus.sh      (needs make cli, redis-server)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ctl=build/hotkeyctl
[ -x "$ctl" ] || make -s cli
c=fuzz/corpus
mkdir -p $c/args $c/route $c/aksk $c/jwt $c/store

P=0123456789abcdef0123456789abcdef
PU=a4d31cb6-3d72-4fdc-8ec9-6e3a41e47f71
I=5560df16-cebf-4473-95c4-d1b573c16e79
T=858ee14c-2271-4489-8b82-7bda7459ae3e

seed() { printf '%s' "$2" >"$1"; }

# ---- args: raw query strings
n=0
for q in '' 'offset=0&limit=10' 'limit=1000' 'offset=2147483647&limit=1' \
         'status=waiting' 'status=running&limit=5' 'status=success&offset=3' \
         'status=failed' 'limit=%31%30' 'offset=1&offset=2' 'limit=0' \
         'limit=+5' 'limit' 'status=' 'status=%7' 'foo=bar&limit=2&x' \
         'offset=00000000000000000000001' 'limit=1001' 'status=%00waiting' \
         'a=1&&b=2&status=running'; do
    seed $c/args/q$((n++)) "$q"
done

# ---- route: decoded paths
n=0
for p in "/v2/$P/instances/$I/hotkey-tasks" "/v2/$PU/instances/$I/hotkey-tasks" \
         "/v2/$P/instances/$I/hotkey-task" "/v2/$P/instances/$I/hotkey-task/$T" \
         "/v2/$P/instances/$I/hotkey/autoscan" "/v2/$P/instances/$I/hotkey-tasks/" \
         "/v2/$P//instances/$I/hotkey-tasks" "/v2/" "/v2/x/instances/y/hotkey-tasks" \
         "/v3/$P/instances/$I/hotkey-tasks" "/v2/$P/instances/$I/a/b/c/d"; do
    seed $c/route/p$((n++)) "$p"
done

# ---- aksk: Authorization \n method \n path \n ?query \n headers...
# (the layout of fuzz_aksk.c), signed by hotkeyctl like a real client
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

# ---- jwt: tokens for the built-in key set at t=1700000000
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

# ---- store: real replies of redis to the module's EVAL
mkdir -p build-fuzz
cat >build-fuzz/mkreq.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hotkey_store.h"
int main(int argc, char **argv) {
    hotkey_list_args_t a = { atoll(argv[3]), atoll(argv[4]),
                             hotkey_status_parse(argv[5], strlen(argv[5])) };
    char *buf = malloc(hotkey_store_list_request_size(strlen(argv[1])));
    size_t n = hotkey_store_list_request(buf, argv[1], strlen(argv[1]), argv[2], &a);
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
# a broken record: index entry without its hash
rc ZADD "hotkey:{$I}:tasks:failed" $ts 858ee14c-2271-4489-8b82-7bda7459afff
capture() {    # name project instance offset limit status
    local name=$1 chunking=$2
    shift 2
    exec 3<>/dev/tcp/127.0.0.1/$port
    { build-fuzz/mkreq "$@"; printf '*1\r\n$4\r\nQUIT\r\n'; } >&3
    # the first 3 bytes choose the chunking (see fuzz_store.c)
    { printf "$chunking"; cat <&3 | sed '$ d'; } >$c/store/$name
    exec 3<&-
}
capture list1 '\000\000\000' $PU $I 0 10 any
capture list2 '\001\200\000' $PU $I 1 2 any
capture running '\002\100\200' $PU $I 0 10 running
capture empty '\000\000\000' $PU $I 100 10 any
capture broken '\001\010\000' $PU $I 0 10 failed
capture other '\000\000\000' $P $I 0 10 any
capture nolfu '\000\000\000' $PU $I2 0 10 any
capture noinst '\000\000\000' $PU 99999999-1111-4222-8333-444455556666 0 10 any
printf '\000\000\000-ERR fake store says no\r\n' >$c/store/error
printf '\001\100\000*2\r\n*1\r\n:1\r\n$3\r\nfoo\r\n' >$c/store/wrongshape
printf '\000\000\000:42\r\n' >$c/store/integer
echo "corpus: $(find $c -type f | wc -l) files"
