/*
 * Store times (integer milliseconds) to the API's ISO 8601 UTC form and
 * back, by civil-date arithmetic: no time zone, no locale.
 */

#include "hotkey_time.h"
#include "hotkey_codec.h"


static const char  hotkey_two_digits[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";


static void
hotkey_put_digits(char *p, int64_t v, int n)
{
    while (n-- > 0) {
        p[n] = (char) ('0' + v % 10);
        v /= 10;
    }
}


static void
hotkey_put2(char *p, uint32_t v)
{
    p[0] = hotkey_two_digits[2 * v];
    p[1] = hotkey_two_digits[2 * v + 1];
}


int
hotkey_ms_parse(const char *p, size_t len, int64_t *ms)
{
    uint64_t  v;

    if (hotkey_parse_uint(p, len, 15, HOTKEY_TIME_MS_MAX, &v) != 0) {
        return -1;
    }

    *ms = (int64_t) v;

    return 0;
}


/*
 * A store time, 1970 to 9999: 32-bit arithmetic and two digits at a time
 * (the module formats three per task of a page)
 */

static void
hotkey_ms_format_fast(uint64_t ms, char *buf)
{
    uint32_t  days, rem, z, era, doe, yoe, doy, mp, y, m, d, secs;

    days = (uint32_t) (ms / 86400000);
    rem = (uint32_t) (ms % 86400000);

    z = days + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = yoe + era * 400 + (m <= 2);

    secs = rem / 1000;

    hotkey_put2(buf, y / 100);
    hotkey_put2(buf + 2, y % 100);
    buf[4] = '-';
    hotkey_put2(buf + 5, m);
    buf[7] = '-';
    hotkey_put2(buf + 8, d);
    buf[10] = 'T';
    hotkey_put2(buf + 11, secs / 3600);
    buf[13] = ':';
    hotkey_put2(buf + 14, secs / 60 % 60);
    buf[16] = ':';
    hotkey_put2(buf + 17, secs % 60);
    buf[19] = '.';
    buf[20] = (char) ('0' + rem % 1000 / 100);
    hotkey_put2(buf + 21, rem % 100);
    buf[23] = 'Z';
    buf[24] = '\0';
}


void
hotkey_ms_format(int64_t ms, char *buf)
{
    int64_t  days, secs, z, era, doe, yoe, doy, mp, y, m, d;

    if (ms >= 0 && ms <= HOTKEY_TIME_MS_MAX) {
        hotkey_ms_format_fast((uint64_t) ms, buf);
        return;
    }

    days = ms / 86400000;
    secs = (ms / 1000) % 86400;

    /* civil date from days since 1970-01-01, proleptic Gregorian */

    z = days + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = yoe + era * 400 + (m <= 2);

    hotkey_put_digits(buf, y, 4);
    buf[4] = '-';
    hotkey_put_digits(buf + 5, m, 2);
    buf[7] = '-';
    hotkey_put_digits(buf + 8, d, 2);
    buf[10] = 'T';
    hotkey_put_digits(buf + 11, secs / 3600, 2);
    buf[13] = ':';
    hotkey_put_digits(buf + 14, secs / 60 % 60, 2);
    buf[16] = ':';
    hotkey_put_digits(buf + 17, secs % 60, 2);
    buf[19] = '.';
    hotkey_put_digits(buf + 20, ms % 1000, 3);
    buf[23] = 'Z';
    buf[24] = '\0';
}
