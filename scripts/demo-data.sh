#!/bin/sh
# Loads the demo data set into the task store, following the Redis schema
# the module reads (see the README and scripts/put-task.lua):
#
#   project   e46ec5a1-4d32-4072-a89d-aae309ef775f
#   instance  5560df16-cebf-4473-95c4-d1b573c16e79  allkeys-lfu, 26 tasks:
#             23 success, 3 failed; manual and auto (auto ones at 02:00
#             UTC daily), over the last ~18 days; two of them share one
#             created_at (the list breaks the tie by id, descending); no
#             task is waiting or running, so a create works at once (make
#             run points it at the demo target, which the analyzer scans)
#   instance  2c1f6a0e-5b3d-4e8a-9f7c-1d2e3f4a5b6c  allkeys-lfu, 2 tasks:
#             1 waiting, 1 running (an analysis under way: a create
#             there answers 400 DCS.4026)
#   instance  f1703a4f-14c0-4e5f-8d15-5ba35ae62361  allkeys-lru, 2 tasks:
#             the API answers 400 DCS.4922 (cannot be analysed)
#
# The instances are registered with `hotkeyctl instance add` (the instance
# hash and hotkey:registry), with their policy given (--policy: the demo
# has no Redis of its own to analyse; --addr names the store's Redis, or
# DEMO_ADDR). Where no hotkeyctl is found (the docker compose demo-data
# service runs in the redis image) the same fields are written with
# redis-cli. Every task goes through scripts/put-task.lua (redis-cli
# --eval), so the hash, the index zset and the status zsets stay
# consistent.
#
# Idempotent: the IDs are fixed, and the times are fixed offsets from the
# start of the current UTC day (or from DEMO_ANCHOR_MS), so running it again
# the same day writes the very same records. It adds and overwrites; it
# deletes nothing, so other tasks of these instances are kept.
#
# Usage: scripts/demo-data.sh          load (into REDIS_HOST:REDIS_PORT)
#        scripts/demo-data.sh --env    print the demo IDs as shell
#                                      assignments, touch nothing
# Environment:
#   REDIS_HOST      default 127.0.0.1
#   REDIS_PORT      default 6390 (the port `make run` uses)
#   REDIS_CLUSTER   1: REDIS_HOST:REDIS_PORT is a node of a Redis Cluster
#                   (redis-cli -c follows its MOVED; hotkeyctl does by
#                   itself)
#   DEMO_ANCHOR_MS  "now" for the demo, ms since the epoch (default: the
#                   start of the current UTC day)
#   DEMO_ADDR       the instances' addr (default REDIS_HOST:REDIS_PORT)
#   HOTKEYCTL       the hotkeyctl to register them with (default: the
#                   checkout's build/hotkeyctl, else hotkeyctl on PATH)
set -e

PROJECT_ID=e46ec5a1-4d32-4072-a89d-aae309ef775f
INSTANCE_ID=5560df16-cebf-4473-95c4-d1b573c16e79
INSTANCE_ID_NO_LFU=f1703a4f-14c0-4e5f-8d15-5ba35ae62361
INSTANCE_ID_BUSY=2c1f6a0e-5b3d-4e8a-9f7c-1d2e3f4a5b6c

if [ "${1:-}" = "--env" ]; then
    printf 'PROJECT_ID=%s\nINSTANCE_ID=%s\nINSTANCE_ID_NO_LFU=%s\n' \
        "$PROJECT_ID" "$INSTANCE_ID" "$INSTANCE_ID_NO_LFU"
    printf 'INSTANCE_ID_BUSY=%s\n' "$INSTANCE_ID_BUSY"
    exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
lua="$here/put-task.lua"
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6390}
DEMO_ADDR=${DEMO_ADDR:-$REDIS_HOST:$REDIS_PORT}
if [ -z "${HOTKEYCTL:-}" ]; then
    if [ -x "$here/../build/hotkeyctl" ]; then
        HOTKEYCTL=$here/../build/hotkeyctl
    else
        HOTKEYCTL=$(command -v hotkeyctl || true)
    fi
fi

rcli() {
    if [ "${REDIS_CLUSTER:-}" = 1 ]; then
        redis-cli -c -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"
    else
        redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"
    fi
}

if [ "$(rcli PING 2>/dev/null)" != "PONG" ]; then
    echo "demo-data: no Redis answers on $REDIS_HOST:$REDIS_PORT" >&2
    exit 1
fi

if [ -n "${DEMO_ANCHOR_MS:-}" ]; then
    anchor=$DEMO_ANCHOR_MS
else
    now=$(date -u +%s)
    anchor=$(( (now - now % 86400) * 1000 ))
fi

# instance <instance_id> <eviction_policy>
instance() {
    if [ -n "$HOTKEYCTL" ]; then
        "$HOTKEYCTL" instance add --store "$REDIS_HOST:$REDIS_PORT" \
            --project "$PROJECT_ID" --instance "$1" --addr "$DEMO_ADDR" \
            --policy "$2" >/dev/null \
            || { echo "demo-data: hotkeyctl instance add $1 failed" >&2; exit 1; }
        return
    fi
    # no hotkeyctl: the fields it writes (README, "The store schema")
    out=$(rcli HSET "hotkey:{$1}:instance" \
              project_id "$PROJECT_ID" eviction_policy "$2" \
              addr "$DEMO_ADDR" mode standalone)
    case $out in
        *ERR*|*WRONGTYPE*) echo "demo-data: $1: $out" >&2; exit 1 ;;
    esac
    rcli HSETNX "hotkey:{$1}:instance" created_at "$(( $(date +%s) * 1000 ))" >/dev/null
    rcli SADD hotkey:registry "$1" >/dev/null
}

# task <instance_id> <task_id> <status> <scan_type> <created> <started> <finished>
#   created: ms relative to the anchor (negative: before it);
#   started, finished: ms after created, or - when it has not happened yet.
task() {
    iid=$1 tid=$2
    created=$(( anchor + $5 ))
    started="" finished=""
    [ "$6" = - ] || started=$(( created + $6 ))
    [ "$7" = - ] || finished=$(( created + $7 ))
    p="hotkey:{$iid}"
    out=$(rcli --eval "$lua" "$p:task:$tid" "$p:tasks" \
              "$p:tasks:waiting" "$p:tasks:running" \
              "$p:tasks:success" "$p:tasks:failed" , \
              "$tid" "$3" "$4" "$created" "$started" "$finished")
    case $out in
        *ERR*) echo "demo-data: task $tid: $out" >&2; exit 1 ;;
    esac
}

instance "$INSTANCE_ID" allkeys-lfu

#    instance       task id                              status  scan    created     started finished
task "$INSTANCE_ID" 7e130da3-e417-4044-855a-803c484106b4 success manual   -52181503  2371  36134
task "$INSTANCE_ID" cdbdc0b5-b63f-48af-8bc0-c9aadde70ea0 success auto     -79197902  3620  80980
task "$INSTANCE_ID" d687030d-bf70-46a8-a7db-82ee386e4344 success auto    -165598875  4973  47429
task "$INSTANCE_ID" 26964596-d720-4e3c-be7f-777879c27a3c success manual  -204459453  5037   8181
task "$INSTANCE_ID" 85a7332e-53ba-41cd-bbc1-9d537a06e8d1 success auto    -251999023  5059  75718
task "$INSTANCE_ID" b05ba102-c377-45ea-81f1-94c5f9f1cbfe failed  auto    -338398302  2128   3884
task "$INSTANCE_ID" f93375b7-7ea7-46d2-9edd-ea20a5bc54d0 success auto    -424798149  3885  79297
task "$INSTANCE_ID" 3e31d979-b154-44d7-80cf-434d67b8cad2 success manual  -482035752  3201  33810
task "$INSTANCE_ID" a0df3b83-c907-480e-b30d-24d2a1175db9 success auto    -511197759  4256  11683
task "$INSTANCE_ID" 3632c90a-e8ae-4e30-9adb-3f6233d19dcc success auto    -597599325  3549  20926
task "$INSTANCE_ID" 079313dc-36be-4cf4-8789-835da9e2ffbb success manual  -631055223  4897  67160
task "$INSTANCE_ID" 02a99254-c0b8-4fa2-9038-11b15314c15b success auto    -683997741  4035  81776
# the tie: same created_at, so e8210c06-... is listed before 60fe6694-...
task "$INSTANCE_ID" e8210c06-35ba-471e-a958-d838b9793631 success manual  -728370814  3367  74760
task "$INSTANCE_ID" 60fe6694-1a6f-4553-9fbd-ae33b8d86800 failed  manual  -728370814  3516   7033
task "$INSTANCE_ID" 87e512d2-7a0e-47db-b30e-17cd78d41cb8 success auto    -770397031  2119  88593
task "$INSTANCE_ID" c99c42fb-5bc3-4760-a2e0-b5a731f8615c success auto    -856797184  4527  39383
task "$INSTANCE_ID" e3a46282-f7f3-4e82-8eef-e740309aeb75 failed  auto    -943199662  4886   7564
task "$INSTANCE_ID" 2030e0f9-55ff-4eed-ae84-c155532d0142 success auto   -1029597543  3215  64580
task "$INSTANCE_ID" 029489b7-5ee6-4f0b-926a-03b24c54c755 success manual -1082475019  5890  32432
task "$INSTANCE_ID" c009d407-0fee-4d30-afb8-40a14b0cf781 success auto   -1115999644  5403  40669
task "$INSTANCE_ID" 2b9a46f5-dba9-4d59-8434-09aa3ddf31b4 success auto   -1202398597  3179  15494
task "$INSTANCE_ID" f1b20cbb-cfd3-4980-8035-d40ae0dc62e7 success auto   -1288798762  2624  32887
task "$INSTANCE_ID" ff891f13-103e-497a-9d9d-daaa9aa9be48 success auto   -1375197242  4300  58236
task "$INSTANCE_ID" 5b9f88ea-ef94-4b1b-9bd0-5a24de6f6219 success manual -1415139125  2261  58972
task "$INSTANCE_ID" baf2aba7-5a58-4e01-a689-e740b2a20fd5 success auto   -1461599627  4900  89410
task "$INSTANCE_ID" 59385c11-ff8d-4e00-9473-0e1ea1443417 success auto   -1547998659  2696  86535

instance "$INSTANCE_ID_BUSY" allkeys-lfu

task "$INSTANCE_ID_BUSY" 5f05c0c4-b24b-4daa-8ae6-44db29b95b20 waiting manual     -412267     -      -
task "$INSTANCE_ID_BUSY" ac894b69-94ce-49cf-9e8d-8c97e0dd4cf1 running manual    -1290152  4942      -

instance "$INSTANCE_ID_NO_LFU" allkeys-lru

task "$INSTANCE_ID_NO_LFU" d0e63c68-5642-43e0-8282-ad825fe0d7da success manual -951233871  3004  41877
task "$INSTANCE_ID_NO_LFU" e2470a76-1515-4cfb-af5b-fcac19ee0e22 failed  auto   -1288794410  2518   5120

echo "demo-data: loaded project $PROJECT_ID, instances $INSTANCE_ID (allkeys-lfu, 26 tasks), $INSTANCE_ID_BUSY (allkeys-lfu, a waiting and a running task) and $INSTANCE_ID_NO_LFU (allkeys-lru, 2 tasks) into $REDIS_HOST:$REDIS_PORT"
