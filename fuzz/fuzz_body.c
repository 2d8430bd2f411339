/*
 * Fuzz target: the PUT hotkey/autoscan body (hotkey_body.c, over the
 * strict JSON validator of hotkey_json.c and cJSON), and the stored form
 * of its times ("HH:MM,HH:MM", hotkey_times_read/write) that the
 * autoscan replies are read back from.
 *
 * The whole input is the body.  Checked on every input:
 *   - a body the strict validator refuses is DCS.4005 (or DCS.4004 when
 *     empty), whatever cJSON would make of it;
 *   - an accepted body has at most 24 distinct times, sorted, each a
 *     minute of the day, and at least one when enabled; written out and
 *     read back they are the same times;
 *   - a refused one names the field the contract checks first;
 *   - the store command an accepted body becomes (EVALSHA and EVAL of
 *     the autoscan put script) fits hotkey_store_request_size() and is
 *     one RESP array of the script's arguments, the times as written;
 *   - the input read as the stored form either fails or is exactly the
 *     canonical form (writing it back gives the same bytes).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotkey_body.h"
#include "hotkey_json.h"
#include "hotkey_op.h"
#include "hotkey_store.h"
#include "fuzz_request.h"


#define FUZZ_P  "a4d31cb6-3d72-4fdc-8ec9-6e3a41e47f71"
#define FUZZ_I  "5560df16-cebf-4473-95c4-d1b573c16e79"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_check_times(const hotkey_autoscan_t *a)
{
    unsigned  i;

    if (a->ntimes > HOTKEY_TIMES_MAX) {
        abort();
    }

    for (i = 0; i < a->ntimes; i++) {
        if (a->times[i] >= 24 * 60 || (i && a->times[i] <= a->times[i - 1]))
        {
            abort();
        }
    }
}


/* the PUT's store command: EVALSHA sha 2 instance autoscan project enable
 * times now iid, with the body's times as written */

typedef struct {
    const hotkey_autoscan_t  *as;
    const char               *times;
    size_t                    n;
} fuzz_put_t;


static void
fuzz_put_check(const char *buf, size_t len, const redisReply *r,
    const void *data)
{
    const fuzz_put_t  *put = data;

    (void) buf;
    (void) len;

    if (r->elements != 10
        || r->element[7]->len != put->n
        || memcmp(r->element[7]->str, put->times, put->n) != 0
        || r->element[6]->len != 1
        || r->element[6]->str[0] != (put->as->enable ? '1' : '0'))
    {
        abort();
    }
}


static void
fuzz_check_request(const hotkey_autoscan_t *as, const char *times, size_t n)
{
    fuzz_put_t          put;
    hotkey_args_t       a;
    hotkey_route_t      rt;
    const hotkey_op_t  *op;

    op = hotkey_op_find(HOTKEY_ROUTE_AUTOSCAN, HOTKEY_M_PUT);
    if (op == NULL || op->id != HOTKEY_OP_AUTOSCAN_PUT) {
        abort();
    }

    memset(&rt, 0, sizeof(rt));
    rt.route = HOTKEY_ROUTE_AUTOSCAN;
    rt.project = FUZZ_P;
    rt.project_len = sizeof(FUZZ_P) - 1;
    rt.instance = FUZZ_I;
    rt.instance_len = sizeof(FUZZ_I) - 1;

    memset(&a, 0, sizeof(a));
    a.autoscan = *as;
    a.now = 1700000000123LL;

    put.as = as;
    put.times = times;
    put.n = n;

    fuzz_request(op, &rt, &a, fuzz_put_check, &put);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char               buf[HOTKEY_TIMES_MAX * 6];
    size_t             n;
    const char        *p, *field;
    hotkey_body_e      rc;
    hotkey_autoscan_t  a, b;

    p = (const char *) data;
    field = NULL;
    memset(&a, 0, sizeof(a));

    rc = hotkey_autoscan_parse(p, size, &a, &field);

    switch (rc) {

    case HOTKEY_BODY_OK:
        if (size == 0 || size > HOTKEY_BODY_MAX || !hotkey_json_valid(p, size)
            || field != NULL || (a.enable && a.ntimes == 0))
        {
            abort();
        }

        fuzz_check_times(&a);

        n = hotkey_times_write(buf, &a);
        if (n > sizeof(buf) || hotkey_times_read(buf, n, &b) != 0
            || b.ntimes != a.ntimes
            || memcmp(a.times, b.times, a.ntimes * sizeof(a.times[0])) != 0)
        {
            abort();
        }

        fuzz_check_request(&a, buf, n);

        break;

    case HOTKEY_BODY_EMPTY:
        if (size != 0) {
            abort();
        }

        break;

    case HOTKEY_BODY_INVALID:
        if (size == 0) {
            abort();
        }

        break;

    case HOTKEY_BODY_FIELD:
        if (field == NULL || !hotkey_json_valid(p, size)
            || (strcmp(field, "enable_auto_scan") != 0
                && strcmp(field, "schedule_at") != 0))
        {
            abort();
        }

        break;

    default:
        abort();
    }

    if (size > 0 && size <= HOTKEY_BODY_MAX && !hotkey_json_valid(p, size)
        && rc != HOTKEY_BODY_INVALID)
    {
        abort();
    }

    /* the stored form: canonical or refused */

    if (hotkey_times_read(p, size, &b) == 0) {
        fuzz_check_times(&b);

        n = hotkey_times_write(buf, &b);
        if (n != size || memcmp(buf, p, n) != 0) {
            abort();
        }
    }

    return 0;
}
