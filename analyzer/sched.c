/*
 * The schedule of auto tasks: which "HH:MM" (UTC) times of an instance's
 * schedule_at are due now.  Plain C.
 */

#include <string.h>

#include "hka.h"
#include "hotkey_time.h"


#define HKA_DAY_MS  86400000LL


/* "HH:MM" at p: minutes of the day, or -1 */

static int
hka_sched_minute(const char *p, size_t len)
{
    int  h, m;

    if (len != 5 || p[2] != ':' || p[0] < '0' || p[0] > '2'
        || p[1] < '0' || p[1] > '9' || p[3] < '0' || p[3] > '5'
        || p[4] < '0' || p[4] > '9')
    {
        return -1;
    }

    h = (p[0] - '0') * 10 + (p[1] - '0');
    m = (p[3] - '0') * 10 + (p[4] - '0');

    return h < 24 ? h * 60 + m : -1;
}


/*
 * The times of the comma-separated schedule that are due: at most
 * grace_ms ago, and not before the settings were last updated (a time
 * set after it passed waits for the next day).  Writes their fired
 * stamps YYYYMMDDTHHMM into stamps; returns how many (at most max).
 */

int
hka_sched_due(const char *schedule, int64_t updated_ms, int64_t now_ms,
    int64_t grace_ms, char (*stamps)[HKA_STAMP_LEN], int max)
{
    int          min, n;
    char         iso[HOTKEY_TIME_LEN + 1], *st;
    size_t       len;
    int64_t      t;
    const char  *p;

    n = 0;

    for (p = schedule; *p && n < max; p += len + (p[len] == ',')) {
        len = strcspn(p, ",");
        min = hka_sched_minute(p, len);

        if (min < 0) {
            continue;
        }

        t = now_ms - now_ms % HKA_DAY_MS + min * 60000LL;
        if (t > now_ms) {
            t -= HKA_DAY_MS;
        }

        if (now_ms - t >= grace_ms || t < updated_ms) {
            continue;
        }

        hotkey_ms_format(t, iso);
        st = stamps[n++];
        memcpy(st, iso, 4);
        memcpy(st + 4, iso + 5, 2);
        memcpy(st + 6, iso + 8, 2);
        st[8] = 'T';
        memcpy(st + 9, iso + 11, 2);
        memcpy(st + 11, iso + 14, 2);
        st[13] = '\0';
    }

    return n;
}
