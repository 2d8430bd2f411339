/*
 * A RESP2 reply scanned in place and laid out as hiredis 0.14's reader
 * builds it: the same types, the same strict numbers (no "+", no leading
 * zero, no "-0", no overflow), the same nesting limit, a bulk string's
 * two closing bytes skipped unread; a string or an array over the store's
 * limits is refused as hotkey_store.c's readers refuse it.  A line that
 * cannot become valid is refused without waiting for its end, where
 * hiredis would wait and then refuse it.
 */

#include <limits.h>
#include <string.h>

#include "hotkey_resp.h"
#include "hotkey_store.h"


void
hotkey_resp_init(hotkey_resp_t *s)
{
    s->pos = 0;
    s->nodes = 0;
    s->depth = 0;
    s->err = NULL;
}


static hotkey_resp_rc_e
hotkey_resp_fail(hotkey_resp_t *s, const char *err)
{
    s->err = err;
    return HOTKEY_RESP_ERROR;
}


/* the first "\r\n" in [p, last), or NULL */

static const char *
hotkey_resp_crlf(const char *p, const char *last)
{
    while (last - p >= 2) {
        p = memchr(p, '\r', last - p - 1);

        if (p == NULL) {
            return NULL;
        }

        if (p[1] == '\n') {
            return p;
        }

        p++;
    }

    return NULL;
}


/* the number on the line of an element at p, and the line's end */

static hotkey_resp_rc_e
hotkey_resp_num(hotkey_resp_t *s, const char *p, const char *last,
    const char **eol, long long *v)
{
    int                  neg;
    const char          *q, *d;
    unsigned long long   u;

    q = p + 1;
    neg = (q < last && *q == '-');
    q += neg;
    d = q;
    u = 0;

    while (q < last && *q >= '0' && *q <= '9') {
        if (q - d == 19) {
            return hotkey_resp_fail(s, "a number too long");
        }

        u = u * 10 + (unsigned long long) (*q++ - '0');
    }

    if (last - q < 2) {
        return (q < last && *q != '\r') ? hotkey_resp_fail(s, "bad number")
                                        : HOTKEY_RESP_AGAIN;
    }

    if (q[0] != '\r' || q[1] != '\n' || q == d
        || (*d == '0' && (q - d > 1 || neg))
        || u > (unsigned long long) LLONG_MAX + neg)
    {
        return hotkey_resp_fail(s, "bad number");
    }

    *eol = q;
    *v = neg ? (long long) (0 - u) : (long long) u;

    return HOTKEY_RESP_DONE;
}


/* the string of a status or an error at p, within the strings' limit */

static hotkey_resp_rc_e
hotkey_resp_status(hotkey_resp_t *s, const char *p, const char *last,
    const char **eol)
{
    if ((size_t) (last - p) > HOTKEY_STORE_MAX_STRING + 3) {
        last = p + HOTKEY_STORE_MAX_STRING + 3;
    }

    *eol = hotkey_resp_crlf(p + 1, last);

    if (*eol != NULL) {
        return HOTKEY_RESP_DONE;
    }

    return ((size_t) (last - p) == HOTKEY_STORE_MAX_STRING + 3)
           ? hotkey_resp_fail(s, "a string over the limit")
           : HOTKEY_RESP_AGAIN;
}


/* the tree being laid out while scanning, when there is room for it */

typedef struct {
    redisReply   *node;             /* the next node */
    redisReply   *nodes_end;
    redisReply  **slot;             /* the next array's first slot */
    redisReply  **slots_end;
    redisReply   *open[HOTKEY_RESP_DEPTH];
} hotkey_resp_tree_t;


/* an element at p, its line's end eol and number v, as a node */

static void
hotkey_resp_node(hotkey_resp_t *s, size_t depth, hotkey_resp_tree_t *t,
    const char *p, const char *eol, long long v)
{
    redisReply  *r, *parent;

    r = t->node++;
    memset(r, 0, sizeof(redisReply));

    if (depth > 0) {
        parent = t->open[depth - 1];
        parent->element[parent->elements - s->left[depth - 1]] = r;
    }

    switch (*p) {

    case '+':
    case '-':
        r->type = (*p == '+') ? REDIS_REPLY_STATUS : REDIS_REPLY_ERROR;
        r->str = (char *) p + 1;
        r->len = eol - p - 1;
        return;

    case ':':
        r->type = REDIS_REPLY_INTEGER;
        r->integer = v;
        return;

    default:
        break;
    }

    if (v == -1) {
        r->type = REDIS_REPLY_NIL;

    } else if (*p == '$') {
        r->type = REDIS_REPLY_STRING;
        r->str = (char *) eol + 2;
        r->len = (size_t) v;

    } else {
        r->type = REDIS_REPLY_ARRAY;
        r->elements = (size_t) v;

        if (v > 0) {
            r->element = t->slot;
            t->slot += v;
            t->open[depth] = r;
        }
    }
}


/*
 * Scans on from s->pos; with t, lays the elements out as it goes.  The
 * place is kept at the start of an element not all there yet.
 */

static hotkey_resp_rc_e
hotkey_resp_walk(hotkey_resp_t *s, const char *buf, size_t len,
    hotkey_resp_tree_t *t)
{
    int               type;
    size_t            nodes, depth;
    long long         v;
    const char       *p, *eol, *next, *last;
    hotkey_resp_rc_e  rc;

    p = buf + s->pos;
    last = buf + len;
    nodes = s->nodes;
    depth = s->depth;
    rc = HOTKEY_RESP_AGAIN;

    while (p < last) {
        type = *p;
        v = 0;

        if (type == '$' || type == ':'
            || (type == '*' && depth < HOTKEY_RESP_DEPTH))
        {
            rc = hotkey_resp_num(s, p, last, &eol, &v);

        } else if (type == '+' || type == '-') {
            rc = hotkey_resp_status(s, p, last, &eol);

        } else {
            rc = hotkey_resp_fail(s, type == '*' ? "arrays nested too deep"
                                                 : "bad reply type byte");
        }

        if (rc != HOTKEY_RESP_DONE) {
            break;
        }

        next = eol + 2;
        rc = HOTKEY_RESP_AGAIN;

        if ((type == '$' || type == '*') && v < -1) {
            rc = hotkey_resp_fail(s, "bad length");
            break;
        }

        if (type == '$' && v >= 0) {
            if (v > HOTKEY_STORE_MAX_STRING) {
                rc = hotkey_resp_fail(s, "a string over the limit");
                break;
            }

            if (last - next < v + 2) {
                break;
            }

            next += v + 2;

        } else if (type == '*' && v > HOTKEY_STORE_MAX_ELEMENTS) {
            rc = hotkey_resp_fail(s, "an array over the limit");
            break;
        }

        if (++nodes > HOTKEY_RESP_MAX_NODES) {
            rc = hotkey_resp_fail(s, "too many elements");
            break;
        }

        if (t && (t->node == t->nodes_end
                  || (type == '*' && v > t->slots_end - t->slot)))
        {
            t = NULL;           /* no room: scanned only */
        }

        if (t) {
            hotkey_resp_node(s, depth, t, p, eol, v);
        }

        p = next;

        if (type == '*' && v > 0) {
            s->left[depth++] = (size_t) v;
            continue;
        }

        /* the element is whole: so are the arrays it completes */

        while (depth > 0 && --s->left[depth - 1] == 0) {
            depth--;
        }

        if (depth == 0) {
            rc = (t == NULL) ? HOTKEY_RESP_DONE : HOTKEY_RESP_BUILT;
            break;
        }
    }

    s->pos = p - buf;
    s->nodes = nodes;
    s->depth = depth;

    return rc;
}


hotkey_resp_rc_e
hotkey_resp_scan(hotkey_resp_t *s, const char *buf, size_t len)
{
    return hotkey_resp_walk(s, buf, len, NULL);
}


hotkey_resp_rc_e
hotkey_resp_read(hotkey_resp_t *s, char *buf, size_t len, void *mem,
    size_t size, redisReply **root)
{
    size_t               n;
    redisReply          *r;
    hotkey_resp_rc_e     rc;
    hotkey_resp_tree_t   t;

    if (s->pos != 0 || mem == NULL) {
        return hotkey_resp_walk(s, buf, len, NULL);
    }

    /* a node and at most a slot in an array for each element */

    n = size / (sizeof(redisReply) + sizeof(redisReply *));

    t.node = mem;
    t.nodes_end = t.node + n;
    t.slot = (redisReply **) t.nodes_end;
    t.slots_end = t.slot + n;

    rc = hotkey_resp_walk(s, buf, len, &t);

    if (rc != HOTKEY_RESP_BUILT) {
        return rc;
    }

    /* strings end with a NUL as hiredis's do, where their "\r" was */

    for (r = mem; r < t.node; r++) {
        if (r->str) {
            r->str[r->len] = '\0';
        }
    }

    *root = mem;

    return HOTKEY_RESP_BUILT;
}


size_t
hotkey_resp_mem(const hotkey_resp_t *s)
{
    return s->nodes * (sizeof(redisReply) + sizeof(redisReply *));
}


redisReply *
hotkey_resp_build(const hotkey_resp_t *s, char *buf, void *mem)
{
    redisReply     *root;
    hotkey_resp_t   again;

    hotkey_resp_init(&again);

    if (hotkey_resp_read(&again, buf, s->pos, mem, hotkey_resp_mem(s), &root)
        != HOTKEY_RESP_BUILT)
    {
        return NULL;
    }

    return root;
}
