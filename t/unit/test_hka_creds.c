/*
 * The analyzer's credentials file (analyzer/creds.c): passwords and TLS
 * material by instance id, what is refused, and no secret in a message.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "hka.h"


#define IID1  "5560df16-cebf-4473-95c4-d1b573c16e79"
#define IID2  "0b1e4a52-7f0e-4d7c-9d6a-3f1c2b4a5e6f"


static char  path[64];


static int
lookup(const char *text, const char *iid, hka_secret_t *s, char *err)
{
    FILE  *f;

    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
    err[0] = '\0';

    return hka_creds_lookup(path, iid, s, err, 512);
}


static void
test_passwords(void)
{
    char          err[512];
    hka_secret_t  s;

    is_int(lookup("# comment\n" IID1 "  password=s3cret\n"
                  IID2 "\tuser=analyzer password=other\n", IID1, &s, err),
           0, "a password line: found");
    is_str(s.password, "s3cret", "... password");
    is_str(s.user, "", "... no user");
    is_str(s.tls_ca, "", "... no TLS material");
    is_int(s.tls_no_verify, 0, "... verify on");

    is_int(lookup(IID1 " password=s3cret\n" IID2 " user=analyzer"
                  " password=other\r\n", IID2, &s, err), 0,
           "the second line, CRLF: found");
    is_str(s.user, "analyzer", "... user");
    is_str(s.password, "other", "... password");

    is_int(lookup(IID1 " password=x\n", IID2, &s, err), 1,
           "an instance without a line: 1");
    is_str(s.password, "", "... empty");
}


static void
test_tls(void)
{
    char          err[512];
    hka_secret_t  s;

    is_int(lookup(IID1 " tls-ca=/etc/hk/ca.pem tls-cert=/etc/hk/c.pem"
                  " tls-key=/etc/hk/k.pem tls-name=redis.example"
                  " password=p\n", IID1, &s, err), 0,
           "TLS options: found");
    is_str(s.tls_ca, "/etc/hk/ca.pem", "... tls-ca");
    is_str(s.tls_cert, "/etc/hk/c.pem", "... tls-cert");
    is_str(s.tls_key, "/etc/hk/k.pem", "... tls-key");
    is_str(s.tls_name, "redis.example", "... tls-name");
    is_str(s.password, "p", "... with a password");
    is_int(s.tls_no_verify, 0, "... verify on by default");

    is_int(lookup(IID1 " tls-verify=off\n", IID1, &s, err), 0,
           "tls-verify=off alone: found");
    is_int(s.tls_no_verify, 1, "... verify off");
    is_str(s.password, "", "... no password");

    is_int(lookup(IID1 " tls-verify=off tls-verify=on tls-name=10.0.0.7\n",
                  IID1, &s, err), 0, "tls-verify=on after off");
    is_int(s.tls_no_verify, 0, "... verify on: the last one counts");
    is_str(s.tls_name, "10.0.0.7", "... an IP name");
}


static void
bad(const char *text, const char *want, const char *what)
{
    char          err[512], expect[600];
    hka_secret_t  s;

    memset(&s, 'x', sizeof(s));
    is_int(lookup(text, IID1, &s, err), -1, "refused: %s", what);
    snprintf(expect, sizeof(expect), "%s:%s", path, want);
    is_str(err, expect, "... message: %s", what);
    ok(s.password[0] == '\0' && s.tls_ca[0] == '\0' && s.user[0] == '\0',
       "... nothing kept");
    ok(strstr(err, "hunter2") == NULL, "... no secret in the message");
}


static void
test_refused(void)
{
    char         text[8192];
    static char  opts[] = "expected <instance_id> and options: password=,"
                          " user=, tls-ca=, tls-cert=, tls-key=, tls-name=,"
                          " tls-verify=off";
    char         want[256];

    snprintf(want, sizeof(want), "1: %s", opts);

    bad(IID1 " hunter2\n", want, "a bare secret");
    bad(IID1 " password=hunter2 tls-verify=no\n", want, "tls-verify=no");
    bad(IID1 " password=hunter2 tls-verify=\n", want, "tls-verify=");
    bad(IID1 " password=hunter2 tls-ca=\n", want, "an empty tls-ca=");
    bad(IID1 " password=hunter2 tls-pass=x\n", want, "an unknown option");

    snprintf(text, sizeof(text), IID1 " password=hunter2 tls-name=%0300d\n",
             0);
    bad(text, want, "a name of 300 bytes");

    snprintf(text, sizeof(text), IID1 " password=hunter2 tls-ca=/%04200d\n",
             0);
    bad(text, want, "a file of 4201 bytes");

    bad("# x\n" IID1 " password=hunter2 tls-cert=/c.pem\n",
        "2: tls-cert= and tls-key= go together", "a certificate, no key");
    bad(IID1 " tls-key=/k.pem password=hunter2\n",
        "1: tls-cert= and tls-key= go together", "a key, no certificate");
}


int
main(void)
{
    snprintf(path, sizeof(path), "/tmp/hka-creds-%d", (int) getpid());

    test_passwords();
    test_tls();
    test_refused();

    unlink(path);

    return done_testing();
}
