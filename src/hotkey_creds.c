/*
 * The AK/SK credentials file: parsed once, sorted, searched per request.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hotkey_action.h"
#include "hotkey_creds.h"
#include "hotkey_codec.h"


#define HOTKEY_CREDS_FIELDS    16
#define HOTKEY_CREDS_FILE_MAX  (16 * 1024 * 1024)


typedef struct {
    const char  *p;
    size_t       len;
} hotkey_creds_field_t;

typedef unsigned (*hotkey_creds_item_pt)(const char *p, size_t len);

typedef struct {
    const char  *file;
    size_t       line;
    char        *err;
    size_t       errlen;
} hotkey_creds_ctx_t;


static int hotkey_creds_error(hotkey_creds_ctx_t *ctx, const char *fmt,
    ...);
static size_t hotkey_creds_split(const char *p, size_t len,
    hotkey_creds_field_t *f, size_t max);
static int hotkey_creds_line(hotkey_creds_ctx_t *ctx,
    hotkey_creds_field_t *f, size_t n, hotkey_cred_t *c);
static int hotkey_creds_option(hotkey_creds_ctx_t *ctx,
    hotkey_creds_field_t *f, hotkey_cred_t *c, unsigned *seen);
static int hotkey_creds_projects(hotkey_creds_ctx_t *ctx, const char *p,
    size_t len, hotkey_cred_t *c);
static int hotkey_creds_bits(hotkey_creds_ctx_t *ctx, const char *p,
    size_t len, hotkey_creds_item_pt item, const char *what, unsigned *out);
static unsigned hotkey_creds_scheme_bit(const char *p, size_t len);
static int hotkey_creds_scope(hotkey_creds_ctx_t *ctx, const char *what,
    const char *p, size_t len, char *out);
static int hotkey_creds_only(const char *p, size_t len, const char *set);
static int hotkey_creds_number(const char *p, size_t len, unsigned max,
    unsigned *n);
static int hotkey_creds_cmp(const void *a, const void *b);
static int hotkey_creds_keycmp(const char *a, size_t alen, const char *b,
    size_t blen);


static int
hotkey_creds_error(hotkey_creds_ctx_t *ctx, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    if (ctx->errlen == 0) {
        return -1;
    }

    if (ctx->line) {
        n = snprintf(ctx->err, ctx->errlen, "%s:%zu: ", ctx->file,
                     ctx->line);
    } else {
        n = snprintf(ctx->err, ctx->errlen, "%s: ", ctx->file);
    }

    if (n >= 0 && (size_t) n < ctx->errlen) {
        va_start(ap, fmt);
        vsnprintf(ctx->err + n, ctx->errlen - n, fmt, ap);
        va_end(ap);
    }

    return -1;
}


hotkey_creds_t *
hotkey_creds_load(const char *path, char *err, size_t errlen)
{
    char                *data;
    size_t               n;
    const char          *why;
    hotkey_creds_t      *cs;
    hotkey_creds_ctx_t   ctx = { path, 0, err, errlen };

    data = hotkey_read_file(path, HOTKEY_CREDS_FILE_MAX, &n, &why);
    if (data == NULL) {
        hotkey_creds_error(&ctx, "cannot open or read: %s", why);
        return NULL;
    }

    cs = hotkey_creds_parse(data, n, path, err, errlen);

    OPENSSL_cleanse(data, n);
    free(data);

    return cs;
}


hotkey_creds_t *
hotkey_creds_parse(const char *data, size_t len, const char *name,
    char *err, size_t errlen)
{
    size_t                 i, n, llen, cap;
    const char            *p, *end, *nl, *hash;
    hotkey_cred_t         *c;
    hotkey_creds_t        *cs;
    hotkey_creds_ctx_t     ctx = { name, 0, err, errlen };
    hotkey_creds_field_t   f[HOTKEY_CREDS_FIELDS + 1];

    cs = calloc(1, sizeof(hotkey_creds_t));
    if (cs == NULL) {
        hotkey_creds_error(&ctx, "out of memory");
        return NULL;
    }

    cap = 0;
    p = data;
    end = data + len;

    while (p < end) {
        ctx.line++;

        nl = memchr(p, '\n', end - p);
        llen = (nl ? nl : end) - p;

        hash = memchr(p, '#', llen);
        n = hotkey_creds_split(p, hash ? (size_t) (hash - p) : llen, f,
                               HOTKEY_CREDS_FIELDS + 1);
        p += llen + 1;

        if (n == 0) {
            continue;
        }

        if (cs->n == cap) {
            cap = cap ? cap * 2 : 16;
            c = realloc(cs->creds, cap * sizeof(hotkey_cred_t));
            if (c == NULL) {
                hotkey_creds_error(&ctx, "out of memory");
                goto failed;
            }

            cs->creds = c;
        }

        c = &cs->creds[cs->n];
        memset(c, 0, sizeof(hotkey_cred_t));
        cs->n++;

        if (hotkey_creds_line(&ctx, f, n, c) != 0) {
            goto failed;
        }

        /* checked here, not after sorting, to name the line */

        for (i = 0; i + 1 < cs->n; i++) {
            if (hotkey_creds_cmp(&cs->creds[i], c) == 0) {
                hotkey_creds_error(&ctx, "duplicate access key \"%s\"",
                                   c->ak);
                goto failed;
            }
        }
    }

    if (cs->n > 1) {
        qsort(cs->creds, cs->n, sizeof(hotkey_cred_t), hotkey_creds_cmp);
    }

    return cs;

failed:

    hotkey_creds_free(cs);
    return NULL;
}


static size_t
hotkey_creds_split(const char *p, size_t len, hotkey_creds_field_t *f,
    size_t max)
{
    size_t       n;
    const char  *end, *start;

    n = 0;
    end = p + len;

    while (p < end && n < max) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) {
            p++;
        }

        if (p == end) {
            break;
        }

        start = p;

        while (p < end && *p != ' ' && *p != '\t' && *p != '\r') {
            p++;
        }

        f[n].p = start;
        f[n].len = p - start;
        n++;
    }

    return n;
}


static int
hotkey_creds_line(hotkey_creds_ctx_t *ctx, hotkey_creds_field_t *f,
    size_t n, hotkey_cred_t *c)
{
    size_t    i;
    unsigned  seen;

    if (n > HOTKEY_CREDS_FIELDS) {
        return hotkey_creds_error(ctx, "too many fields");
    }

    if (n < 4) {
        return hotkey_creds_error(ctx, "expected \"<access_key> <secret_key>"
                                  " projects=... actions=...\"");
    }

    if (f[0].len == 0 || f[0].len > HOTKEY_CREDS_AK_MAX
        || !hotkey_creds_only(f[0].p, f[0].len,
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz0123456789-_."))
    {
        return hotkey_creds_error(ctx, "invalid access key (1 to 128 of"
                                  " A-Z a-z 0-9 - _ .)");
    }

    for (i = 0; i < f[1].len; i++) {
        if (f[1].p[i] < 0x21 || f[1].p[i] > 0x7e) {
            break;
        }
    }

    if (f[1].len > HOTKEY_CREDS_SK_MAX || i < f[1].len) {
        return hotkey_creds_error(ctx, "invalid secret key (1 to 256"
                                  " printable ASCII characters)");
    }

    memcpy(c->ak, f[0].p, f[0].len);
    c->ak_len = f[0].len;
    memcpy(c->sk, f[1].p, f[1].len);
    c->sk_len = f[1].len;
    c->schemes = HOTKEY_AKSK_SCHEMES_ALL;

    seen = 0;

    for (i = 2; i < n; i++) {
        if (hotkey_creds_option(ctx, &f[i], c, &seen) != 0) {
            return -1;
        }
    }

    if ((seen & 3) != 3) {
        return hotkey_creds_error(ctx, "\"projects=\" and \"actions=\" are"
                                  " required");
    }

    if (hotkey_akkeys_init(&c->keys, c->schemes, c->ak, c->ak_len, c->sk,
                           c->sk_len) != 0)
    {
        return hotkey_creds_error(ctx, "cannot derive the keys of this"
                                  " access key (out of memory?)");
    }

    if (c->name[0] == '\0') {
        memcpy(c->name, c->ak, c->ak_len + 1);
    }

    return 0;
}


static int
hotkey_creds_option(hotkey_creds_ctx_t *ctx, hotkey_creds_field_t *f,
    hotkey_cred_t *c, unsigned *seen)
{
    size_t                 i, klen;
    const char            *eq, *v;
    static const char *const  keys[] = {
        "projects", "actions", "name", "rate", "burst", "schemes",
        "region", "service", NULL
    };

    eq = memchr(f->p, '=', f->len);
    if (eq == NULL) {
        return hotkey_creds_error(ctx, "unexpected \"%.*s\"", (int) f->len,
                                  f->p);
    }

    klen = eq - f->p;
    v = eq + 1;

    for (i = 0; keys[i]; i++) {
        if (strlen(keys[i]) == klen && memcmp(keys[i], f->p, klen) == 0) {
            break;
        }
    }

    if (keys[i] == NULL) {
        return hotkey_creds_error(ctx, "unknown field \"%.*s\"", (int) klen,
                                  f->p);
    }

    if (*seen & (1u << i)) {
        return hotkey_creds_error(ctx, "duplicate \"%s=\"", keys[i]);
    }

    *seen |= 1u << i;
    f->len -= klen + 1;

    switch (i) {

    case 0:
        return hotkey_creds_projects(ctx, v, f->len, c);

    case 1:
        return hotkey_creds_bits(ctx, v, f->len, hotkey_action_parse,
                                 "action", &c->actions);

    case 2:
        if (f->len == 0 || f->len > HOTKEY_CREDS_NAME_MAX) {
            return hotkey_creds_error(ctx, "invalid name (1 to 128"
                                      " characters)");
        }

        memcpy(c->name, v, f->len);
        c->name[f->len] = '\0';
        return 0;

    case 3:
        if (hotkey_rate_parse(v, f->len, &c->rate, &c->rate_period) != 0) {
            return hotkey_creds_error(ctx, "invalid rate (\"<N>r/s\" or"
                                      " \"<N>r/m\", N from 1 to %d)",
                                      HOTKEY_CREDS_RATE_MAX);
        }

        return 0;

    case 5:
        if (f->len == 1 && *v == '*') {
            return 0;
        }

        c->schemes = 0;

        return hotkey_creds_bits(ctx, v, f->len, hotkey_creds_scheme_bit,
                                 "signing scheme", &c->schemes);

    case 6:
        return hotkey_creds_scope(ctx, "region", v, f->len, c->region);

    case 7:
        return hotkey_creds_scope(ctx, "service", v, f->len, c->service);

    default:
        if (hotkey_creds_number(v, f->len, HOTKEY_CREDS_RATE_MAX, &c->burst)
            != 0)
        {
            return hotkey_creds_error(ctx, "invalid burst (0 to %d)",
                                      HOTKEY_CREDS_RATE_MAX);
        }

        return 0;
    }
}


static int
hotkey_creds_projects(hotkey_creds_ctx_t *ctx, const char *p, size_t len,
    hotkey_cred_t *c)
{
    size_t       n, plen;
    const char  *end, *comma;

    if (len == 1 && *p == '*') {
        c->any_project = 1;
        return 0;
    }

    n = 1;
    for (end = p; end < p + len; end++) {
        n += (*end == ',');
    }

    c->projects = calloc(n, sizeof(*c->projects));
    if (c->projects == NULL) {
        return hotkey_creds_error(ctx, "out of memory");
    }

    end = p + len;

    for ( ;; ) {
        comma = memchr(p, ',', end - p);
        plen = (comma ? comma : end) - p;

        if (plen == 0 || plen > HOTKEY_CREDS_PROJECT_MAX
            || !hotkey_creds_only(p, plen, "0123456789abcdef-"))
        {
            return hotkey_creds_error(ctx, "invalid project id \"%.*s\""
                                      " (lowercase hex digits and dashes,"
                                      " or a single \"*\")", (int) plen, p);
        }

        memcpy(c->projects[c->nprojects++], p, plen);

        if (comma == NULL) {
            return 0;
        }

        p = comma + 1;
    }
}


/* a comma-separated list of names, each giving bits (0: unknown) */

static int
hotkey_creds_bits(hotkey_creds_ctx_t *ctx, const char *p, size_t len,
    hotkey_creds_item_pt item, const char *what, unsigned *out)
{
    size_t       n;
    unsigned     bits;
    const char  *end, *comma;

    end = p + len;

    for ( ;; ) {
        comma = memchr(p, ',', end - p);
        n = (comma ? comma : end) - p;

        bits = item(p, n);
        if (bits == 0) {
            return hotkey_creds_error(ctx, "unknown %s \"%.*s\"", what,
                                      (int) n, p);
        }

        *out |= bits;

        if (comma == NULL) {
            return 0;
        }

        p = comma + 1;
    }
}


static unsigned
hotkey_creds_scheme_bit(const char *p, size_t len)
{
    int  s;

    s = hotkey_akscheme_parse(p, len);

    return s < 0 ? 0 : 1u << s;
}


static int
hotkey_creds_scope(hotkey_creds_ctx_t *ctx, const char *what, const char *p,
    size_t len, char *out)
{
    if (len == 0 || len > HOTKEY_CREDS_SCOPE_MAX
        || !hotkey_creds_only(p, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz0123456789-_."))
    {
        return hotkey_creds_error(ctx, "invalid %s (1 to 64 of A-Z a-z 0-9"
                                  " - _ .)", what);
    }

    memcpy(out, p, len);
    out[len] = '\0';

    return 0;
}


static int
hotkey_creds_only(const char *p, size_t len, const char *set)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] == '\0' || strchr(set, p[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}


static int
hotkey_creds_number(const char *p, size_t len, unsigned max, unsigned *n)
{
    uint64_t  v;

    if (hotkey_parse_uint(p, len, 9, max, &v) != 0) {
        return -1;
    }

    *n = (unsigned) v;
    return 0;
}


int
hotkey_rate_parse(const char *p, size_t len, unsigned *rate,
    unsigned *period)
{
    if (len < 4 || p[len - 3] != 'r' || p[len - 2] != '/') {
        return -1;
    }

    if (p[len - 1] == 's') {
        *period = 1;

    } else if (p[len - 1] == 'm') {
        *period = 60;

    } else {
        return -1;
    }

    if (hotkey_creds_number(p, len - 3, HOTKEY_CREDS_RATE_MAX, rate) != 0
        || *rate == 0)
    {
        return -1;
    }

    return 0;
}


void
hotkey_creds_free(hotkey_creds_t *cs)
{
    size_t  i;

    if (cs == NULL) {
        return;
    }

    for (i = 0; i < cs->n; i++) {
        free(cs->creds[i].projects);
        hotkey_akkeys_free(&cs->creds[i].keys);
    }

    if (cs->creds) {
        OPENSSL_cleanse(cs->creds, cs->n * sizeof(hotkey_cred_t));
    }

    free(cs->creds);
    free(cs);
}


static int
hotkey_creds_keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int  rc;

    rc = memcmp(a, b, alen < blen ? alen : blen);

    if (rc == 0 && alen != blen) {
        rc = alen < blen ? -1 : 1;
    }

    return rc;
}


static int
hotkey_creds_cmp(const void *a, const void *b)
{
    const hotkey_cred_t  *x = a, *y = b;

    return hotkey_creds_keycmp(x->ak, x->ak_len, y->ak, y->ak_len);
}


const hotkey_cred_t *
hotkey_creds_find(const hotkey_creds_t *cs, const char *ak, size_t len)
{
    int                   rc;
    size_t                lo, hi, mid;
    const hotkey_cred_t  *c;

    if (cs == NULL) {
        return NULL;
    }

    lo = 0;
    hi = cs->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = &cs->creds[mid];

        rc = hotkey_creds_keycmp(ak, len, c->ak, c->ak_len);
        if (rc == 0) {
            return c;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


int
hotkey_cred_project_allowed(const hotkey_cred_t *c, const char *p,
    size_t len)
{
    size_t  i;

    if (c->any_project) {
        return 1;
    }

    for (i = 0; i < c->nprojects; i++) {
        if (strlen(c->projects[i]) == len
            && memcmp(c->projects[i], p, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}
