/*
 * The pipeline of the scan: SCAN, and OBJECT FREQ of each key it
 * returned, written and read on the connection's socket directly.  The
 * replies are parsed where they lie (one buffer, reused): no reply
 * object per key, no name copied but into the batch that sends it back.
 * Unpaced, two batches are in flight, so that the instance works on the
 * next one while the replies of the last are read; paced, one, so that
 * the pause (and its INFO cpu) comes when nothing is in flight.  The
 * connection is handed back to hiredis with nothing pending, unless it
 * broke.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hka.h"
#include "hotkey_num.h"


#define HKA_PIPE_IN      65536         /* read buffer; longest line */
#define HKA_CURSOR_LEN   32


/* the keys of one batch, their names one after the other */
typedef struct {
    char        *names;
    size_t       size;
    size_t       cap;
    size_t      *lens;
    size_t       n;
    size_t       max;
    char         cursor[HKA_CURSOR_LEN];
} hka_names_t;

typedef struct {
    hka_walk_t  *w;
    const char  *what;                 /* the replies being read */
    int          fd;
    size_t       pos;
    size_t       end;
    char        *out;
    size_t       olen;
    size_t       ocap;
    hka_names_t  b[2];
    char         in[HKA_PIPE_IN];
} hka_pipe_t;


static int hka_pipe_io(hka_pipe_t *p, const char *why);
static int hka_pipe_fill(hka_pipe_t *p);
static int hka_pipe_line(hka_pipe_t *p, char **line, size_t *len);
static int hka_line_num(const char *s, size_t len, char type,
    long long *v);
static int hka_pipe_num(hka_pipe_t *p, char type, long long *v);
static int hka_pipe_bulk(hka_pipe_t *p, char *dst, size_t len);
static int hka_pipe_put(hka_pipe_t *p, const char *s, size_t n);
static int hka_pipe_flush(hka_pipe_t *p);
static int hka_pipe_scan_cmd(hka_pipe_t *p, const char *cursor);
static int hka_names_room(hka_pipe_t *p, hka_names_t *b, size_t n,
    size_t size);
static int hka_pipe_freq_cmds(hka_pipe_t *p, const hka_names_t *b);
static int hka_pipe_scan_reply(hka_pipe_t *p, hka_names_t *b);
static int hka_pipe_freqs(hka_pipe_t *p, const hka_names_t *b, int keep);
static int hka_pipe_stopped(hka_pipe_t *p);
static int hka_pipe_drain(hka_pipe_t *p, int scan, hka_names_t *spare,
    const hka_names_t *b);
static int hka_pipe_ahead(hka_pipe_t *p, hka_names_t **prev,
    hka_names_t *cur, hka_names_t *next, int more);
static int hka_pipe_paced(hka_pipe_t *p, hka_names_t *cur,
    hka_names_t *next, int more, double t0);
static int hka_pipe_run(hka_pipe_t *p);


/* the connection broke: hiredis is told too, so that it sends no more */

static int
hka_pipe_io(hka_pipe_t *p, const char *why)
{
    redisContext  *c;

    c = p->w->c;
    c->err = REDIS_ERR_IO;
    snprintf(c->errstr, sizeof(c->errstr), "%s", why);

    return hka_fail(p->w->res, "%s: %s: %s", p->w->addr, p->what, why);
}


static int
hka_pipe_fill(hka_pipe_t *p)
{
    ssize_t  n;

    if (p->pos > 0) {
        memmove(p->in, p->in + p->pos, p->end - p->pos);
        p->end -= p->pos;
        p->pos = 0;
    }

    if (p->end == sizeof(p->in)) {
        return hka_pipe_io(p, "reply line too long");
    }

    do {
        n = read(p->fd, p->in + p->end, sizeof(p->in) - p->end);
    } while (n < 0 && errno == EINTR && !hka_stop);

    if (n <= 0) {
        return hka_pipe_io(p, n == 0 ? "connection closed"
                           : errno == EAGAIN || errno == EWOULDBLOCK
                           ? "timeout" : strerror(errno));
    }

    p->end += n;

    return 0;
}


/* the next line of the replies, without its CRLF */

static int
hka_pipe_line(hka_pipe_t *p, char **line, size_t *len)
{
    char  *cr;

    for ( ;; ) {
        cr = memchr(p->in + p->pos, '\r', p->end - p->pos);

        if (cr && cr + 1 < p->in + p->end) {
            if (cr[1] != '\n') {
                return hka_pipe_io(p, "protocol error");
            }

            *line = p->in + p->pos;
            *len = cr - *line;
            p->pos = cr + 2 - p->in;
            return 0;
        }

        if (hka_pipe_fill(p) != 0) {
            return -1;
        }
    }
}


/* a line <type><decimal>: "*2", "$10", ":5"; -2 another line */

static int
hka_line_num(const char *s, size_t len, char type, long long *v)
{
    size_t  i;

    if (len < 2 || len > 19 || s[0] != type) {
        return -2;
    }

    *v = 0;

    for (i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -2;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}


static int
hka_pipe_num(hka_pipe_t *p, char type, long long *v)
{
    char    *s;
    size_t   len;

    if (hka_pipe_line(p, &s, &len) != 0) {
        return -1;
    }

    if (hka_line_num(s, len, type, v) != 0) {
        return hka_pipe_io(p, "unexpected reply");
    }

    return 0;
}


/* len bytes and their CRLF; a long name is read past the buffer */

static int
hka_pipe_bulk(hka_pipe_t *p, char *dst, size_t len)
{
    char     *crlf;
    size_t    n;
    ssize_t   r;

    n = p->end - p->pos < len ? p->end - p->pos : len;
    memcpy(dst, p->in + p->pos, n);
    p->pos += n;

    while (n < len) {
        r = read(p->fd, dst + n, len - n);

        if (r <= 0 && !(r < 0 && errno == EINTR && !hka_stop)) {
            return hka_pipe_io(p, r == 0 ? "connection closed"
                               : errno == EAGAIN ? "timeout"
                               : strerror(errno));
        }

        n += r > 0 ? (size_t) r : 0;
    }

    if (hka_pipe_line(p, &crlf, &n) != 0) {
        return -1;
    }

    return n == 0 ? 0 : hka_pipe_io(p, "protocol error");
}


static int
hka_pipe_put(hka_pipe_t *p, const char *s, size_t n)
{
    char    *out;
    size_t   cap;

    if (p->olen + n > p->ocap) {
        cap = p->ocap ? p->ocap : 65536;

        while (cap < p->olen + n) {
            cap *= 2;
        }

        out = realloc(p->out, cap);
        if (out == NULL) {
            return hka_fail(p->w->res, "out of memory");
        }

        p->out = out;
        p->ocap = cap;
    }

    memcpy(p->out + p->olen, s, n);
    p->olen += n;

    return 0;
}


static int
hka_pipe_flush(hka_pipe_t *p)
{
    size_t   off;
    ssize_t  n;

    for (off = 0; off < p->olen; off += n) {
        n = write(p->fd, p->out + off, p->olen - off);

        if (n < 0 && errno == EINTR && !hka_stop) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            return hka_pipe_io(p, n == 0 ? "connection closed"
                               : errno == EAGAIN ? "timeout"
                               : strerror(errno));
        }
    }

    p->olen = 0;

    return 0;
}


static int
hka_pipe_scan_cmd(hka_pipe_t *p, const char *cursor)
{
    char    buf[128], count[HOTKEY_UINT_LEN], *e;
    size_t  n, cl;

    e = hotkey_uint_write(count, p->w->tg->conf->scan_count);
    cl = strlen(cursor);

    n = snprintf(buf, sizeof(buf), "*4\r\n$4\r\nSCAN\r\n$%zu\r\n%s\r\n"
                 "$5\r\nCOUNT\r\n$%zu\r\n%.*s\r\n", cl, cursor,
                 (size_t) (e - count), (int) (e - count), count);

    return hka_pipe_put(p, buf, n);
}


static int
hka_pipe_freq_cmds(hka_pipe_t *p, const hka_names_t *b)
{
    static const char  cmd[] = "*3\r\n$6\r\nOBJECT\r\n$4\r\nFREQ\r\n$";
    char               num[HOTKEY_UINT_LEN + 2], *e;
    size_t             i, off;

    for (i = 0, off = 0; i < b->n; off += b->lens[i++]) {
        e = hotkey_uint_write(num, b->lens[i]);
        *e++ = '\r';
        *e++ = '\n';

        if (hka_pipe_put(p, cmd, sizeof(cmd) - 1) != 0
            || hka_pipe_put(p, num, e - num) != 0
            || hka_pipe_put(p, b->names + off, b->lens[i]) != 0
            || hka_pipe_put(p, "\r\n", 2) != 0)
        {
            return -1;
        }
    }

    return 0;
}


static int
hka_names_room(hka_pipe_t *p, hka_names_t *b, size_t n, size_t size)
{
    void  *a;

    if (n > b->max) {
        a = realloc(b->lens, n * sizeof(size_t));
        if (a == NULL) {
            return hka_fail(p->w->res, "out of memory");
        }

        b->lens = a;
        b->max = n;
    }

    if (size > b->cap) {
        a = realloc(b->names, size > 2 * b->cap ? size : 2 * b->cap);
        if (a == NULL) {
            return hka_fail(p->w->res, "out of memory");
        }

        b->names = a;
        b->cap = size > 2 * b->cap ? size : 2 * b->cap;
    }

    return 0;
}


/* *2 $cursor *n $name...: an error reply (-...) is the cause */

static int
hka_pipe_scan_reply(hka_pipe_t *p, hka_names_t *b)
{
    char       *s;
    size_t      i, len;
    long long   v;

    p->what = "SCAN";

    if (hka_pipe_line(p, &s, &len) != 0) {
        return -1;
    }

    if (len > 0 && s[0] == '-') {
        return hka_fail(p->w->res, "%s: SCAN: %.*s", p->w->addr,
                        (int) (len < 256 ? len - 1 : 255), s + 1);
    }

    if (hka_line_num(s, len, '*', &v) != 0 || v != 2
        || hka_pipe_num(p, '$', &v) != 0 || v >= HKA_CURSOR_LEN
        || hka_pipe_bulk(p, b->cursor, v) != 0)
    {
        return hka_pipe_io(p, "unexpected reply");
    }

    b->cursor[v] = '\0';

    if (hka_pipe_num(p, '*', &v) != 0) {
        return -1;
    }

    len = v;
    b->n = 0;
    b->size = 0;

    if (hka_names_room(p, b, len ? len : 1, 0) != 0) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (hka_pipe_num(p, '$', &v) != 0
            || hka_names_room(p, b, len, b->size + v + 1) != 0
            || hka_pipe_bulk(p, b->names + b->size, v) != 0)
        {
            return -1;
        }

        b->lens[b->n++] = v;
        b->size += v;
    }

    return 0;
}


/*
 * The OBJECT FREQ replies of a batch, into the top when keep.  Returns
 * 0; -1 the connection broke; -2 Redis answered an error (the first one
 * is the cause; all the batch's replies are read) or out of memory.
 */

static int
hka_pipe_freqs(hka_pipe_t *p, const hka_names_t *b, int keep)
{
    int          rc;
    char        *s;
    size_t       i, len, off;
    long long    v;
    hka_walk_t  *w;

    w = p->w;
    p->what = "OBJECT FREQ";
    rc = 0;

    for (i = 0, off = 0; i < b->n; off += b->lens[i++]) {
        if (hka_pipe_line(p, &s, &len) != 0) {
            return -1;
        }

        if (hka_line_num(s, len, ':', &v) == 0) {
            if (keep && rc == 0 && v <= 255
                && hka_top_offer(&w->res->top, (unsigned) v, w->db, w->node,
                                 b->names + off, b->lens[i]) < 0)
            {
                hka_fail(w->res, "out of memory");
                rc = -2;
            }

        } else if (len > 0 && s[0] == '-') {
            if (rc == 0 && !(len >= 6 && memcmp(s, "-MOVED", 6) == 0)
                && !(len >= 4 && memcmp(s, "-ASK", 4) == 0))
            {
                hka_fail(w->res, "%s: OBJECT FREQ: %.*s", w->addr,
                         (int) (len < 256 ? len - 1 : 255), s + 1);
                rc = -2;
            }

        } else if (!(len == 3 && memcmp(s, "$-1", 3) == 0)) {
            return hka_pipe_io(p, "unexpected reply");
        }
    }

    if (keep) {
        w->res->scanned += b->n;
    }

    return rc;
}


static int
hka_pipe_stopped(hka_pipe_t *p)
{
    const hka_target_t  *tg;

    tg = p->w->tg;

    if (tg->tick == NULL || tg->tick(tg->data) == 0) {
        return 0;
    }

    p->w->res->cause[0] = '\0';

    return hka_fail(p->w->res, "stopped");
}


/* after an error of the last batch: what is still in flight is read */

static int
hka_pipe_drain(hka_pipe_t *p, int scan, hka_names_t *spare,
    const hka_names_t *b)
{
    if ((scan && hka_pipe_scan_reply(p, spare) == -1 && p->w->c->err)
        || hka_pipe_freqs(p, b, 0) == -1)
    {
        return -1;
    }

    return -2;
}


/*
 * Unpaced, after SCAN(next) and OBJECT FREQ(cur) were sent: the replies
 * of the batch before, then SCAN(next).  Returns 1 to go on, else the
 * scan's result.
 */

static int
hka_pipe_ahead(hka_pipe_t *p, hka_names_t **prev, hka_names_t *cur,
    hka_names_t *next, int more)
{
    int  rc;

    rc = *prev ? hka_pipe_freqs(p, *prev, 1) : 0;

    if (rc == -2) {
        return hka_pipe_drain(p, more, next, cur);
    }

    if (rc != 0) {
        return rc;
    }

    if (!more) {
        return hka_pipe_freqs(p, cur, 1);
    }

    *prev = cur;

    if (hka_pipe_scan_reply(p, next) != 0 || hka_pipe_stopped(p) != 0) {
        return -1;
    }

    return 1;
}


/* paced: SCAN(next) and the batch's replies, then the pause */

static int
hka_pipe_paced(hka_pipe_t *p, hka_names_t *cur, hka_names_t *next,
    int more, double t0)
{
    int          rc;
    hka_walk_t  *w;

    w = p->w;

    if (more && hka_pipe_scan_reply(p, next) != 0) {
        return -1;
    }

    rc = hka_pipe_freqs(p, cur, 1);

    if (rc != 0 || !more) {
        return rc;
    }

    if (hka_pace_batch(&w->res->pace, w->c, hka_now() - t0, w->tg->tick,
                       w->tg->data) == 0)
    {
        return 1;
    }

    return hka_pipe_stopped(p) ? -1
           : hka_reply_fail(w->res, w->addr, w->c, NULL, "INFO cpu");
}


/* each round sends SCAN(next) and the OBJECT FREQ of the current batch */

static int
hka_pipe_run(hka_pipe_t *p)
{
    int           rc, more, ahead;
    double        t0;
    hka_names_t  *cur, *next, *prev;

    ahead = p->w->res->pace.share <= 0;
    cur = &p->b[0];
    prev = NULL;

    if (hka_pipe_scan_cmd(p, "0") != 0 || hka_pipe_flush(p) != 0
        || hka_pipe_scan_reply(p, cur) != 0)
    {
        return -1;
    }

    for ( ;; ) {
        t0 = hka_now();
        more = strcmp(cur->cursor, "0") != 0;
        next = cur == &p->b[0] ? &p->b[1] : &p->b[0];

        if ((more && hka_pipe_scan_cmd(p, cur->cursor) != 0)
            || hka_pipe_freq_cmds(p, cur) != 0 || hka_pipe_flush(p) != 0)
        {
            return -1;
        }

        rc = ahead ? hka_pipe_ahead(p, &prev, cur, next, more)
                   : hka_pipe_paced(p, cur, next, more, t0);

        if (rc != 1) {
            return rc;
        }

        cur = next;
    }
}


/*
 * Scans the database SELECTed on w->c.  Returns 0; -1 failed (the cause
 * is set); -2 OBJECT FREQ answered an error (the cause is set, the
 * connection is usable: the caller looks at the policy).
 */

int
hka_pipe_scan(hka_walk_t *w)
{
    int          rc;
    hka_pipe_t  *p;

    /* nothing may be pending in hiredis: the socket is ours now */

    if (w->c->err || sdslen(w->c->obuf) != 0
        || w->c->reader->pos != w->c->reader->len)
    {
        return hka_fail(w->res, "%s: the connection is not idle", w->addr);
    }

    p = calloc(1, sizeof(hka_pipe_t));
    if (p == NULL) {
        return hka_fail(w->res, "out of memory");
    }

    p->w = w;
    p->what = "SCAN";
    p->fd = w->c->fd;

    rc = hka_pipe_run(p);

    free(p->out);
    free(p->b[0].names);
    free(p->b[0].lens);
    free(p->b[1].names);
    free(p->b[1].lens);
    free(p);

    return rc;
}
