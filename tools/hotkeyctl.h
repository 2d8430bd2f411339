/*
 * What the hotkeyctl commands share: error reporting, file reading and
 * the AK/SK request signer (hotkeyctl sign, hotkeyctl api).
 */

#ifndef HOTKEYCTL_H
#define HOTKEYCTL_H

#include <stddef.h>

#include "hotkey_aksk.h"
#include "hotkey_creds.h"


#define HOTKEYCTL_HEADERS_MAX  (HOTKEY_AKSK_SIGNED_MAX - 2)
#define HOTKEYCTL_BODY_MAX     (64 * 1024 * 1024)


/* a request to sign: the options, then what hotkeyctl_sign_inputs reads */
typedef struct {
    const char            *cmd;            /* for messages */
    const char            *ak, *sk, *sk_file, *method, *url, *data, *date;
    const char            *signed_headers, *region, *service;
    int                    curl, canonical, scheme;
    hotkey_aksk_header_t   h[HOTKEYCTL_HEADERS_MAX + 2];
    size_t                 nh;
    char                  *body;
    size_t                 body_len;
    char                   sk_buf[HOTKEY_CREDS_SK_MAX + 2];
    char                   date_buf[HOTKEY_AKSK_DATE_LEN + 1];
    char                   host[256];
    const char            *path, *query;
    size_t                 path_len, query_len;
} hotkeyctl_sign_t;


/* "hotkeyctl CMD: <fmt with arg>" and a hint on stderr; returns 2 */
int hotkeyctl_fail(const char *cmd, const char *fmt, const char *arg);

/* a decimal integer, the whole string: 0 or -1 */
int hotkeyctl_number(const char *s, long long *v);

/* a whole file of at most max bytes, malloc'ed (NUL not added): 0 or -1 */
int hotkeyctl_read(const char *path, char **data, size_t *len, size_t max);

/* one more "Name: value" header to send and sign: -1, or an exit code */
int hotkeyctl_header(hotkeyctl_sign_t *s, const char *arg);

/*
 * Reads the SK file, the body (--data, @FILE), the date (default now)
 * and splits the URL into host, path and query: -1, or an exit code.
 */
int hotkeyctl_sign_inputs(hotkeyctl_sign_t *s);

/* adds a header unless one of that name is there */
void hotkeyctl_add(hotkeyctl_sign_t *s, const char *name, const char *value);

/* the Authorization value into auth: 0, or an exit code (reported) */
int hotkeyctl_sign_auth(hotkeyctl_sign_t *s, char *auth, size_t size);

/* the subcommands in their own files */
int hotkeyctl_instance(int argc, char **argv);
int hotkeyctl_api(int argc, char **argv);

extern const char  hotkeyctl_instance_usage[];
extern const char  hotkeyctl_api_usage[];

#endif
