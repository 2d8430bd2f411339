/*
 * The AK/SK credentials file, read at configuration time.
 *
 * One credential per line; '#' starts a comment, blank lines are
 * ignored, fields are separated by spaces or tabs:
 *
 *   <access_key> <secret_key> projects=<p1>,<p2>|* actions=<a1>,<a2>|*
 *       [name=<principal>] [rate=<N>r/s|<N>r/m] [burst=<N>]
 *       [schemes=<s1>,<s2>|*] [region=<r>] [service=<s>]
 *
 * schemes: the signing schemes the key may use (hotkey_akscheme.h
 * names, e.g. SDK-HMAC-SHA256,SDK-SM2-SM3; default all); region and
 * service: what a V11-HMAC-SHA256 signature's scope must name (default:
 * any).  The derived public keys of the asymmetric schemes it may use
 * are computed here, once.
 *
 * access_key: 1-128 of A-Z a-z 0-9 - _ . ; secret_key: 1-256 printable
 * ASCII characters other than '#'; project IDs: lowercase hex digits and
 * dashes, at most 64; actions: see hotkey_action.h (unknown names are an
 * error).  Duplicate access keys or fields are an error.
 */

#ifndef HOTKEY_CREDS_H
#define HOTKEY_CREDS_H

#include <stddef.h>

#include "hotkey_akscheme.h"

#define HOTKEY_CREDS_AK_MAX       128
#define HOTKEY_CREDS_SK_MAX       256
#define HOTKEY_CREDS_NAME_MAX     128
#define HOTKEY_CREDS_PROJECT_MAX  64
#define HOTKEY_CREDS_RATE_MAX     1000000
#define HOTKEY_CREDS_SCOPE_MAX    64      /* region, service */

typedef struct {
    char            ak[HOTKEY_CREDS_AK_MAX + 1];
    size_t          ak_len;
    char            sk[HOTKEY_CREDS_SK_MAX + 1];
    size_t          sk_len;
    hotkey_akkeys_t keys;               /* made from the AK/SK once */
    unsigned        schemes;            /* 1 << hotkey_aksk_scheme_e */
    char            region[HOTKEY_CREDS_SCOPE_MAX + 1];     /* "": any */
    char            service[HOTKEY_CREDS_SCOPE_MAX + 1];    /* "": any */
    char            name[HOTKEY_CREDS_NAME_MAX + 1];  /* the AK if unset */
    unsigned        actions;            /* HOTKEY_ACTION_* bits */
    int             any_project;        /* projects=* */
    char          (*projects)[HOTKEY_CREDS_PROJECT_MAX + 1];
    size_t          nprojects;
    unsigned        rate;               /* per rate_period; 0: not set */
    unsigned        rate_period;        /* seconds: 1 (r/s) or 60 (r/m) */
    unsigned        burst;              /* 0: not set */
} hotkey_cred_t;

typedef struct {
    hotkey_cred_t  *creds;              /* sorted by access key */
    size_t          n;
} hotkey_creds_t;

/*
 * Reads the file (malloc'ed; free with hotkey_creds_free).  On failure
 * returns NULL with "path:line: message" (or "path: message") in err.
 * An empty file gives an empty set, not an error.
 */
hotkey_creds_t *hotkey_creds_load(const char *path, char *err,
    size_t errlen);

/* the same from memory; name is used in the messages */
hotkey_creds_t *hotkey_creds_parse(const char *data, size_t len,
    const char *name, char *err, size_t errlen);

/* wipes the secrets and frees; NULL is fine */
void hotkey_creds_free(hotkey_creds_t *cs);

/*
 * Binary search by access key.  The access key is public; the secret
 * key is never compared, only used as the HMAC key.
 */
const hotkey_cred_t *hotkey_creds_find(const hotkey_creds_t *cs,
    const char *ak, size_t len);

/* 1 if the credential may act on this project */
int hotkey_cred_project_allowed(const hotkey_cred_t *c, const char *p,
    size_t len);

/*
 * "<N>r/s" or "<N>r/m", 1 <= N <= HOTKEY_CREDS_RATE_MAX: sets *rate and
 * *period (1 or 60).  Returns 0 or -1.  Shared with the JWT claims.
 */
int hotkey_rate_parse(const char *p, size_t len, unsigned *rate,
    unsigned *period);

#endif
