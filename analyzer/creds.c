/*
 * The analyzer's own credentials file: the passwords and TLS material of
 * the analysed instances, keyed by instance id, never in the store.
 *
 *   # <instance_id>                        options
 *   5560df16-cebf-4473-95c4-d1b573c16e79  password=s3cret
 *   0b1e4a52-7f0e-4d7c-9d6a-3f1c2b4a5e6f  user=analyzer password=other
 *   7d4c1e2a-0f3b-4a5c-8d6e-9f0a1b2c3d4e  tls-ca=ca.pem tls-name=r.example
 *
 * Fields are separated by spaces or tabs; '#' starts a comment line.  A
 * password is 1-511 printable characters without spaces; user 1-255; a
 * file 1-4095, a name 1-255; tls-verify=off (or on, the default).  The
 * TLS options apply to instances registered with tls 1.  Read when a
 * task starts, so edits apply to the next task.
 */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "hka.h"
#include "hotkey_codec.h"


#define HKA_CREDS_MAX  (1024 * 1024)

#define HKA_CREDS_OPT(name, field)                                          \
    { name, offsetof(hka_secret_t, field),                                  \
      sizeof(((hka_secret_t *) 0)->field) }


typedef struct {
    const char  *name;
    size_t       off;
    size_t       size;
} hka_creds_opt_t;


static const hka_creds_opt_t  hka_creds_opts[] = {
    HKA_CREDS_OPT("password=", password),
    HKA_CREDS_OPT("user=", user),
    HKA_CREDS_OPT("tls-ca=", tls_ca),
    HKA_CREDS_OPT("tls-cert=", tls_cert),
    HKA_CREDS_OPT("tls-key=", tls_key),
    HKA_CREDS_OPT("tls-name=", tls_name),
};


/*
 * 0 usable; 1 usable but others can read it (a warning); -1 refused:
 * missing, not a regular file, or others can write it.
 */

int
hka_creds_check(const char *path, char *err, size_t errlen)
{
    struct stat  st;

    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }

    if (st.st_mode & 022) {
        snprintf(err, errlen, "%s holds passwords and others than its "
                 "owner can write it: refused; chmod 600 it", path);
        return -1;
    }

    if (st.st_mode & 044) {
        snprintf(err, errlen, "%s holds passwords and can be read by "
                 "others than its owner; keep it at mode 0600", path);
        return 1;
    }

    return 0;
}


static int
hka_creds_field(const char *f, size_t len, const char *name, char *out,
    size_t max)
{
    size_t  n, i;

    n = strlen(name);

    if (len <= n || memcmp(f, name, n) != 0) {
        return 0;
    }

    if (len - n >= max) {
        return -1;
    }

    for (i = n; i < len; i++) {
        if (f[i] < '!' || f[i] > '~') {
            return -1;
        }
    }

    memcpy(out, f + n, len - n);
    out[len - n] = '\0';

    return 1;
}


/* one option of a line: 1 read, -1 malformed */

static int
hka_creds_option(const char *p, size_t len, hka_secret_t *s)
{
    int     rc;
    size_t  i;

    if (len > 11 && memcmp(p, "tls-verify=", 11) == 0) {
        s->tls_no_verify = len == 14 && memcmp(p + 11, "off", 3) == 0;

        return s->tls_no_verify
               || (len == 13 && memcmp(p + 11, "on", 2) == 0) ? 1 : -1;
    }

    for (i = 0; i < sizeof(hka_creds_opts) / sizeof(hka_creds_opts[0]);
         i++)
    {
        rc = hka_creds_field(p, len, hka_creds_opts[i].name,
                             (char *) s + hka_creds_opts[i].off,
                             hka_creds_opts[i].size);
        if (rc != 0) {
            return rc;
        }
    }

    return -1;
}


/*
 * One line: 1 it is the instance's, 0 another's, -1 malformed, -2 a
 * client certificate without its key or the reverse.
 */

static int
hka_creds_line(char *p, const char *iid, hka_secret_t *s)
{
    int      first;
    size_t   len;

    first = 1;

    for ( ;; ) {
        p += strspn(p, " \t\r");
        len = strcspn(p, " \t\r");

        if (len == 0 && first) {
            return 0;
        }

        if (len == 0) {
            return (s->tls_cert[0] == '\0') != (s->tls_key[0] == '\0')
                   ? -2 : 1;
        }

        if (first) {
            if (len != HKA_ID_LEN || strncmp(p, iid, len) != 0) {
                return 0;
            }

            first = 0;

        } else if (hka_creds_option(p, len, s) != 1) {
            return -1;
        }

        p += len;
    }
}


/* 0 found (s filled), 1 not in the file (s empty), -1 error in err */

int
hka_creds_lookup(const char *path, const char *iid, hka_secret_t *s,
    char *err, size_t errlen)
{
    int          rc;
    char        *data, *line, *next;
    size_t       len, n;
    const char  *why;

    memset(s, 0, sizeof(hka_secret_t));

    if (path == NULL || path[0] == '\0') {
        return 1;
    }

    if (hka_creds_check(path, err, errlen) < 0) {
        return -1;
    }

    data = hotkey_read_file(path, HKA_CREDS_MAX, &len, &why);
    if (data == NULL) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }

    rc = 1;
    n = 0;

    for (line = data; line && line < data + len; line = next) {
        next = memchr(line, '\n', data + len - line);
        if (next) {
            *next++ = '\0';
        }

        n++;

        if (line[strspn(line, " \t\r")] == '#') {
            continue;
        }

        switch (hka_creds_line(line, iid, s)) {
        case 1:
            rc = 0;
            break;
        case -1:
            snprintf(err, errlen, "%s:%zu: expected <instance_id> and "
                     "options: password=, user=, tls-ca=, tls-cert=, "
                     "tls-key=, tls-name=, tls-verify=off", path, n);
            rc = -1;
            break;
        case -2:
            snprintf(err, errlen, "%s:%zu: tls-cert= and tls-key= go "
                     "together", path, n);
            rc = -1;
            break;
        }

        if (rc == -1) {
            OPENSSL_cleanse(s, sizeof(hka_secret_t));
        }

        if (rc != 1) {
            break;
        }
    }

    OPENSSL_cleanse(data, len);
    free(data);

    return rc;
}
