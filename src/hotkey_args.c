/*
 * The list route's query string: each known parameter percent-decoded,
 * then checked as api.md section 3 decides.
 */

#include <string.h>
#include <sys/types.h>

#include "hotkey_args.h"
#include "hotkey_codec.h"


#define HOTKEY_NAME_MAX    8
#define HOTKEY_STATUS_MAX  8

#define HOTKEY_ARG_OFFSET  0x01
#define HOTKEY_ARG_LIMIT   0x02
#define HOTKEY_ARG_STATUS  0x04


static int hotkey_parse_int(const char *p, const char *end, int64_t min,
    int64_t max, int64_t *out);


static const char  *hotkey_status_names[] = {
    NULL, "waiting", "running", "success", "failed"
};


/* decimal digits only, leading zeros allowed, any length */

static int
hotkey_parse_int(const char *p, const char *end, int64_t min, int64_t max,
    int64_t *out)
{
    int      c;
    int64_t  v;

    if (p == end) {
        return -1;
    }

    v = 0;

    while (p < end) {
        c = hotkey_codec_pct_next(&p, end, 0);

        if (c < '0' || c > '9') {
            return -1;
        }

        if (v <= max) {
            v = v * 10 + (c - '0');
        }
    }

    if (v < min || v > max) {
        return -1;
    }

    *out = v;

    return 0;
}


hotkey_status_e
hotkey_status_parse(const char *p, size_t len)
{
    int  i;

    for (i = HOTKEY_STATUS_WAITING; i <= HOTKEY_STATUS_FAILED; i++) {
        if (strlen(hotkey_status_names[i]) == len
            && memcmp(hotkey_status_names[i], p, len) == 0)
        {
            return (hotkey_status_e) i;
        }
    }

    return HOTKEY_STATUS_ANY;
}


const char *
hotkey_status_name(hotkey_status_e s)
{
    if (s < HOTKEY_STATUS_ANY || s > HOTKEY_STATUS_FAILED) {
        return NULL;
    }

    return hotkey_status_names[s];
}


const char *
hotkey_list_args_parse(const char *args, size_t len, hotkey_list_args_t *a)
{
    char         name[HOTKEY_NAME_MAX], val[HOTKEY_STATUS_MAX];
    ssize_t      n;
    unsigned     seen, bit;
    const char  *p, *end, *amp, *eq, *vstart, *which;

    a->offset = 0;
    a->limit = HOTKEY_LIMIT_DEFAULT;
    a->status = HOTKEY_STATUS_ANY;

    seen = 0;
    p = args;
    end = args + len;

    while (p < end) {

        amp = memchr(p, '&', end - p);
        if (amp == NULL) {
            amp = end;
        }

        eq = memchr(p, '=', amp - p);
        vstart = (eq == NULL) ? amp : eq + 1;

        n = hotkey_codec_pct_decode(p, (eq == NULL) ? amp : eq, name,
                                    sizeof(name));

        if (n == 6 && memcmp(name, "offset", 6) == 0) {
            bit = HOTKEY_ARG_OFFSET;
            which = "offset";

        } else if (n == 5 && memcmp(name, "limit", 5) == 0) {
            bit = HOTKEY_ARG_LIMIT;
            which = "limit";

        } else if (n == 6 && memcmp(name, "status", 6) == 0) {
            bit = HOTKEY_ARG_STATUS;
            which = "status";

        } else {
            p = amp + 1;
            continue;
        }

        if (seen & bit) {
            return which;
        }

        seen |= bit;

        if (bit == HOTKEY_ARG_OFFSET) {
            if (hotkey_parse_int(vstart, amp, 0, HOTKEY_OFFSET_MAX,
                                 &a->offset)
                != 0)
            {
                return which;
            }

        } else if (bit == HOTKEY_ARG_LIMIT) {
            if (hotkey_parse_int(vstart, amp, 1, HOTKEY_LIMIT_MAX,
                                 &a->limit)
                != 0)
            {
                return which;
            }

        } else {
            n = hotkey_codec_pct_decode(vstart, amp, val, sizeof(val));
            a->status = (n <= 0) ? HOTKEY_STATUS_ANY
                                 : hotkey_status_parse(val, (size_t) n);

            if (a->status == HOTKEY_STATUS_ANY) {
                return which;
            }
        }

        p = amp + 1;
    }

    return NULL;
}
