/* the list route's query rules (api.md section 3) */

#include "tap.h"
#include "hotkey_args.h"


static const char *
parse(const char *q, hotkey_list_args_t *a)
{
    return hotkey_list_args_parse(q, strlen(q), a);
}


static void
bad(const char *q, const char *name)
{
    hotkey_list_args_t  a;

    is_str(parse(q, &a), name, "'%.40s' is a bad %s", q, name);
}


int
main(void)
{
    char                big[5000];
    hotkey_list_args_t  a;

    is_str(parse("", &a), NULL, "empty query");
    ok(a.offset == 0 && a.limit == 10 && a.status == HOTKEY_STATUS_ANY,
       "defaults");

    is_str(parse("offset=5&limit=20&status=running", &a), NULL, "all three");
    ok(a.offset == 5 && a.limit == 20 && a.status == HOTKEY_STATUS_RUNNING,
       "values");

    is_str(parse("limit=%35", &a), NULL, "percent-encoded value");
    is_int(a.limit, 5, "decoded");
    is_str(parse("%6cimit=7", &a), NULL, "percent-encoded name");
    is_int(a.limit, 7, "decoded name");
    is_str(parse("limit=0007", &a), NULL, "leading zeros");
    is_int(a.limit, 7, "leading zeros value");
    is_str(parse("limit=1000&offset=2147483647", &a), NULL, "maxima");
    ok(a.limit == 1000 && a.offset == 2147483647, "maxima values");
    is_str(parse("status=%73uccess", &a), NULL, "encoded status");
    is_int(a.status, HOTKEY_STATUS_SUCCESS, "status value");
    is_str(parse("foo=bar&x&&=1&limit=3&y=%zz", &a), NULL,
           "unknown parameters ignored");
    is_int(a.limit, 3, "limit among unknown ones");
    is_str(parse("limits=5&Limit=0", &a), NULL, "names are exact");

    bad("limit=0", "limit");
    bad("limit=1001", "limit");
    bad("limit=", "limit");
    bad("limit", "limit");
    bad("limit=+5", "limit");
    bad("limit=-1", "limit");
    bad("limit=%2B5", "limit");
    bad("limit=5%20", "limit");
    bad("limit=1e2", "limit");
    bad("limit=0x10", "limit");
    bad("limit=1.0", "limit");
    bad("limit=%zz", "limit");
    bad("limit=%3", "limit");
    bad("limit=5%00", "limit");
    bad("limit=5&limit=5", "limit");
    bad("offset=2147483648", "offset");
    bad("offset=99999999999999999999999999", "offset");
    bad("offset=-0", "offset");
    bad("offset=", "offset");
    bad("status=", "status");
    bad("status=Success", "status");
    bad("status=done", "status");
    bad("status=successs", "status");
    bad("status=success%00", "status");
    bad("status=running&status=running", "status");
    bad("offset=1&limit=0&status=x", "limit");
    bad("status=x&limit=0", "status");

    memset(big, '0', sizeof(big) - 2);
    memcpy(big, "limit=", 6);
    big[sizeof(big) - 2] = '9';
    big[sizeof(big) - 1] = '\0';
    is_str(parse(big, &a), NULL, "4990 leading zeros");
    is_int(a.limit, 9, "long zero-padded limit");

    big[10] = '1';
    bad(big, "limit");

    is_str(hotkey_status_name(HOTKEY_STATUS_FAILED), "failed",
           "status name");
    is_str(hotkey_status_name(HOTKEY_STATUS_ANY), NULL, "no status name");

    return done_testing();
}
