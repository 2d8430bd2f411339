/*
 * The analyzer's own credentials file: the passwords of the analysed
 * instances, keyed by instance id, never in the store.
 *
 *   # <instance_id>                        options
 *   5560df16-cebf-4473-95c4-d1b573c16e79  password=s3cret
 *   0b1e4a52-7f0e-4d7c-9d6a-3f1c2b4a5e6f  user=analyzer password=other
 *
 * Fields are separated by spaces or tabs; '#' starts a comment line.  A
 * password is 1-511 printable characters without spaces; user 1-255.
 * Read when a task starts, so edits apply to the next task.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "hka.h"
#include "hotkey_codec.h"


#define HKA_CREDS_MAX  (1024 * 1024)


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


/* one line: 1 it is the instance's, 0 another's, -1 malformed */

static int
hka_creds_line(char *p, const char *iid, hka_secret_t *s)
{
    int      first, rc;
    size_t   len;

    first = 1;

    for ( ;; ) {
        p += strspn(p, " \t\r");
        len = strcspn(p, " \t\r");

        if (len == 0) {
            return first ? 0 : 1;
        }

        if (first) {
            if (len != HKA_ID_LEN || strncmp(p, iid, len) != 0) {
                return 0;
            }

            first = 0;

        } else {
            rc = hka_creds_field(p, len, "password=", s->password,
                                 sizeof(s->password));
            if (rc == 0) {
                rc = hka_creds_field(p, len, "user=", s->user,
                                     sizeof(s->user));
            }

            if (rc != 1) {
                return -1;
            }
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
            snprintf(err, errlen, "%s:%zu: expected <instance_id> "
                     "password=<secret> [user=<name>]", path, n);
            memset(s, 0, sizeof(hka_secret_t));
            rc = -1;
            break;
        }

        if (rc != 1) {
            break;
        }
    }

    OPENSSL_cleanse(data, len);
    free(data);

    return rc;
}
