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
