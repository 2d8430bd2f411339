/*
 * The credentials file loader.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "hotkey_action.h"
#include "hotkey_creds.h"



static hotkey_creds_t *
parse(const char *text, char *err)
{
    err[0] = '\0';
    return hotkey_creds_parse(text, strlen(text), "creds", err, 256);
}


static void
bad(const char *text, const char *want)
{
    char             err[256];
    hotkey_creds_t  *cs;

    cs = parse(text, err);
    ok(cs == NULL, "rejected: %s", want);
    is_str(err, want, "message: %s", want);
    hotkey_creds_free(cs);
}


static void
test_good(void)
{
    char                  err[256];
    hotkey_creds_t       *cs;
    const hotkey_cred_t  *c;

    cs = parse("# operators\n"
               "\n"
               "ZZKEY  zsecret\tprojects=* actions=*   # all\n"
               "AccessKey SecretKey projects=0123456789abcdef0123456789abcdef"
               ",11111111-2222-3333-4444-555555555555 "
               "actions=dcs:instance:listHotKey,dcs:instance:analyze "
               "name=alice rate=20r/s burst=40\r\n"
               "MKEY m projects=abc actions=dcs:instance:* rate=600r/m",
               err);
    ok(cs != NULL, "parsed: %s", err);
    if (cs == NULL) {
        return;
    }

    is_int(cs->n, 3, "three credentials");
    is_str(cs->creds[0].ak, "AccessKey", "sorted by access key");

    c = hotkey_creds_find(cs, "AccessKey", 9);
    ok(c != NULL, "found AccessKey");
    is_str(c->sk, "SecretKey", "secret key");
    is_int(c->sk_len, 9, "secret key length");
    is_str(c->name, "alice", "name");
    is_int(c->actions, HOTKEY_ACTION_LIST_HOTKEY | HOTKEY_ACTION_ANALYZE,
           "actions");
    is_int(c->rate, 20, "rate");
    is_int(c->rate_period, 1, "r/s");
    is_int(c->burst, 40, "burst");
    is_int(c->nprojects, 2, "two projects");
    ok(hotkey_cred_project_allowed(c, "0123456789abcdef0123456789abcdef",
                                   32), "project 1 allowed");
    ok(hotkey_cred_project_allowed(c,
           "11111111-2222-3333-4444-555555555555", 36), "project 2 allowed");
    ok(!hotkey_cred_project_allowed(c, "0123456789abcdef", 16),
       "prefix of a project refused");
    ok(!hotkey_cred_project_allowed(c, "ffff", 4), "other project refused");

    c = hotkey_creds_find(cs, "ZZKEY", 5);
    ok(c && c->any_project && c->actions == HOTKEY_ACTION_ALL,
       "wildcards");
    ok(c && hotkey_cred_project_allowed(c, "ffff", 4), "any project");
    is_str(c ? c->name : NULL, "ZZKEY", "name defaults to the access key");
    is_int(c ? c->rate : 1, 0, "rate not set");

    c = hotkey_creds_find(cs, "MKEY", 4);
    ok(c && c->rate == 600 && c->rate_period == 60, "r/m");
    ok(c && c->actions == HOTKEY_ACTION_ALL, "dcs:instance:*");

    ok(hotkey_creds_find(cs, "Access", 6) == NULL, "prefix not found");
    ok(hotkey_creds_find(cs, "AccessKeyX", 10) == NULL, "longer not found");
    ok(hotkey_creds_find(cs, "AAA", 3) == NULL, "lower not found");
    ok(hotkey_creds_find(cs, "zzz", 3) == NULL, "higher not found");

    hotkey_creds_free(cs);

    cs = parse("# nothing\n\n", err);
    ok(cs != NULL && cs->n == 0, "empty set");
    ok(hotkey_creds_find(cs, "a", 1) == NULL, "nothing found");
    hotkey_creds_free(cs);
}


static void
test_bad(void)
{
    bad("ak sk projects=*\n", "creds:1: expected \"<access_key> <secret_key>"
        " projects=... actions=...\"");
    bad("\nak sk projects=* name=x\n",
        "creds:2: \"projects=\" and \"actions=\" are required");
    bad("ak sk projects=* actions=dcs:instance:list\n",
        "creds:1: unknown action \"dcs:instance:list\"");
    bad("ak sk projects=ABC actions=*\n",
        "creds:1: invalid project id \"ABC\" (lowercase hex digits and"
        " dashes, or a single \"*\")");
    bad("ak sk projects=a,,b actions=*\n",
        "creds:1: invalid project id \"\" (lowercase hex digits and"
        " dashes, or a single \"*\")");
    bad("ak sk projects=*,a actions=*\n",
        "creds:1: invalid project id \"*\" (lowercase hex digits and"
        " dashes, or a single \"*\")");
    bad("ak sk projects=* actions=* foo=1\n",
        "creds:1: unknown field \"foo\"");
    bad("ak sk projects=* actions=* stray\n",
        "creds:1: unexpected \"stray\"");
    bad("ak sk projects=* actions=* actions=*\n",
        "creds:1: duplicate \"actions=\"");
    bad("ak sk projects=* actions=* rate=10r/h\n",
        "creds:1: invalid rate (\"<N>r/s\" or \"<N>r/m\", N from 1 to"
        " 1000000)");
    bad("ak sk projects=* actions=* rate=0r/s\n",
        "creds:1: invalid rate (\"<N>r/s\" or \"<N>r/m\", N from 1 to"
        " 1000000)");
    bad("ak sk projects=* actions=* burst=-1\n",
        "creds:1: invalid burst (0 to 1000000)");
    bad("a,k sk projects=* actions=*\n",
        "creds:1: invalid access key (1 to 128 of A-Z a-z 0-9 - _ .)");
    bad("ak sk projects=* actions=*\nak sk2 projects=* actions=*\n",
        "creds:2: duplicate access key \"ak\"");
}


static void
test_file(void)
{
    int              fd;
    char             path[] = "/tmp/test_creds_XXXXXX", err[256];
    hotkey_creds_t  *cs;
    const char      *text = "AK SK projects=* actions=*\nbad line\n";

    fd = mkstemp(path);
    ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t) strlen(text),
       "temp file written");
    close(fd);

    cs = hotkey_creds_load(path, err, sizeof(err));
    ok(cs == NULL, "file with a bad line rejected");
    ok(strncmp(err, path, strlen(path)) == 0
       && strstr(err, ":2: expected") != NULL, "file:line in %s", err);
    unlink(path);

    cs = hotkey_creds_load("/nonexistent/creds", err, sizeof(err));
    ok(cs == NULL, "missing file");
    ok(strstr(err, "/nonexistent/creds: cannot open") == err, "%s", err);
}


int
main(void)
{
    unsigned  r, p;

    test_good();
    test_bad();
    test_file();

    ok(hotkey_rate_parse("5r/s", 4, &r, &p) == 0 && r == 5 && p == 1,
       "5r/s");
    ok(hotkey_rate_parse("r/s", 3, &r, &p) != 0, "no number");
    ok(hotkey_action_parse("DCS:INSTANCE:LISTHOTKEY", 23)
       == HOTKEY_ACTION_LIST_HOTKEY, "actions case-insensitive");
    is_str(hotkey_action_name(HOTKEY_ACTION_ANALYZE), "dcs:instance:analyze",
           "action name");

    return done_testing();
}
