/* millisecond times to the API's UTC format */

#include "tap.h"
#include "hotkey_time.h"


static const char *
fmt(int64_t ms)
{
    static char  buf[HOTKEY_TIME_LEN + 1];

    hotkey_ms_format(ms, buf);

    return buf;
}


/* the civil-date arithmetic in 64 bits and a digit at a time, as it was */

static void
ref_format(int64_t ms, char *buf)
{
    int      i;
    int64_t  days, secs, z, era, doe, yoe, doy, mp, y, m, d, v[7];
    static const int  w[7] = { 4, 2, 2, 2, 2, 2, 3 };
    static const char sep[7] = { '-', '-', 'T', ':', ':', '.', 'Z' };

    days = ms / 86400000;
    secs = (ms / 1000) % 86400;
    z = days + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = yoe + era * 400 + (m <= 2);

    v[0] = y; v[1] = m; v[2] = d; v[3] = secs / 3600;
    v[4] = secs / 60 % 60; v[5] = secs % 60; v[6] = ms % 1000;

    for (i = 0; i < 7; i++) {
        snprintf(buf, 6, "%0*lld", w[i], (long long) v[i]);
        buf += w[i];
        *buf++ = sep[i];
    }

    *buf = '\0';
}


int
main(void)
{
    int64_t  ms;

    is_str(fmt(0), "1970-01-01T00:00:00.000Z", "epoch");
    is_str(fmt(1592187678669LL), "2020-06-15T02:21:18.669Z", "seed example");
    is_str(fmt(951782400000LL), "2000-02-29T00:00:00.000Z", "leap day 2000");
    is_str(fmt(4107542399999LL), "2100-02-28T23:59:59.999Z",
           "2100 is not a leap year");
    is_str(fmt(HOTKEY_TIME_MS_MAX), "9999-12-31T23:59:59.999Z", "maximum");

    {
        char      want[HOTKEY_TIME_LEN + 1];
        int64_t   day, bad;
        uint64_t  x;

        bad = -1;
        x = 88172645463325252ULL;

        /* every day to 9999-12-31, at a time of day drawn for each */

        for (day = 0; day <= HOTKEY_TIME_MS_MAX / 86400000 && bad < 0; day++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ms = day * 86400000 + (int64_t) (x % 86400000);
            ref_format(ms, want);

            if (strcmp(fmt(ms), want) != 0) {
                bad = ms;
            }
        }

        is_int(bad, -1, "every day to 9999 formats as the 64-bit "
               "arithmetic did");
        ref_format(HOTKEY_TIME_MS_MAX, want);
        is_str(fmt(HOTKEY_TIME_MS_MAX), want, "the reference agrees");
    }

    ok(hotkey_ms_parse("1592187678669", 13, &ms) == 0
       && ms == 1592187678669LL, "parse");
    ok(hotkey_ms_parse("", 0, &ms) != 0, "empty");
    ok(hotkey_ms_parse("-1", 2, &ms) != 0, "negative");
    ok(hotkey_ms_parse("12a", 3, &ms) != 0, "letters");
    ok(hotkey_ms_parse("1.5", 3, &ms) != 0, "fraction");
    ok(hotkey_ms_parse("253402300800000", 15, &ms) != 0, "past 9999");
    ok(hotkey_ms_parse("1234567890123456", 16, &ms) != 0, "16 digits");

    return done_testing();
}
