/*
 * The tools' blocking store client: one connection per node (TCP, unix
 * or TLS), the slot map of a cluster, MOVED and ASK followed.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "hotkey_store_client.h"


static int hotkey_sc_node(hotkey_sc_t *sc, const char *addr, size_t len);


static void
hotkey_sc_ms(struct timeval *tv, unsigned ms)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}


int
hotkey_sc_init(hotkey_sc_t *sc, const char *seeds, unsigned connect_ms,
    unsigned io_ms)
{
    size_t       n;
    const char  *p;

    memset(sc, 0, sizeof(hotkey_sc_t));
    sc->cluster = -1;
    hotkey_cluster_map_init(&sc->map);
    hotkey_sc_ms(&sc->connect_tv, connect_ms);
    hotkey_sc_ms(&sc->io_tv, io_ms);

    for (p = seeds; *p; p += n + (p[n] == ',')) {
        n = strcspn(p, ",");

        if (n == 0 || hotkey_sc_node(sc, p, n) < 0) {
            snprintf(sc->err, sizeof(sc->err), "bad store address \"%s\"",
                     seeds);
            return -1;
        }
    }

    if (sc->nnodes == 0) {
        snprintf(sc->err, sizeof(sc->err), "no store address");
        return -1;
    }

    return 0;
}


int
hotkey_sc_auth(hotkey_sc_t *sc, const char *user, const char *password)
{
    if ((user && strlen(user) >= sizeof(sc->user))
        || strlen(password) >= sizeof(sc->password))
    {
        snprintf(sc->err, sizeof(sc->err), "store user or password too long");
        return -1;
    }

    snprintf(sc->user, sizeof(sc->user), "%s", user ? user : "");
    snprintf(sc->password, sizeof(sc->password), "%s", password);

    return 0;
}


/* "host:port", "[v6]:port" into host and port; 1 for "unix:path" */

static int
hotkey_sc_split(const char *addr, char *host, size_t size, int *port)
{
    long         p;
    char        *end;
    size_t       n;
    const char  *colon;

    if (strncmp(addr, "unix:", 5) == 0) {
        return addr[5] ? 1 : -1;
    }

    colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr) {
        return -1;
    }

    p = strtol(colon + 1, &end, 10);
    n = colon - addr;

    if (*end != '\0' || end == colon + 1 || p < 1 || p > 65535
        || n >= size)
    {
        return -1;
    }

    if (n > 2 && addr[0] == '[' && addr[n - 1] == ']') {
        addr++;
        n -= 2;
    }

    memcpy(host, addr, n);
    host[n] = '\0';
    *port = (int) p;

    return 0;
}


/* the index of a known address, added when new; -1 bad or full */

static int
hotkey_sc_node(hotkey_sc_t *sc, const char *addr, size_t len)
{
    int       port;
    char      host[HOTKEY_SC_ADDR_LEN];
    unsigned  i;

    for (i = 0; i < sc->nnodes; i++) {
        if (strncmp(sc->nodes[i].addr, addr, len) == 0
            && sc->nodes[i].addr[len] == '\0')
        {
            return (int) i;
        }
    }

    if (i == HOTKEY_SC_NODES || len >= HOTKEY_SC_ADDR_LEN) {
        return -1;
    }

    memcpy(sc->nodes[i].addr, addr, len);
    sc->nodes[i].addr[len] = '\0';

    if (hotkey_sc_split(sc->nodes[i].addr, host, sizeof(host), &port) < 0) {
        return -1;
    }

    sc->nnodes++;

    return (int) i;
}


static int
hotkey_sc_node_hp(hotkey_sc_t *sc, const char *host, unsigned port)
{
    char    addr[HOTKEY_SC_ADDR_LEN];
    size_t  n;

    n = hotkey_cluster_addr(addr, sizeof(addr), host, port);

    return n ? hotkey_sc_node(sc, addr, n) : -1;
}


static int
hotkey_sc_fail(hotkey_sc_t *sc, const char *addr, const char *why)
{
    snprintf(sc->err, sizeof(sc->err), "%s: %s", addr, why);
    return -1;
}


static int
hotkey_sc_login(hotkey_sc_t *sc, redisContext *c, const char *addr)
{
    int          rc;
    redisReply  *r;

    if (sc->password[0] == '\0') {
        return 0;
    }

    r = sc->user[0] ? redisCommand(c, "AUTH %s %s", sc->user, sc->password)
                    : redisCommand(c, "AUTH %s", sc->password);
    rc = 0;

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        rc = hotkey_sc_fail(sc, addr, r ? r->str
                                        : hotkey_redis_why(c, "no reply"));
    }

    freeReplyObject(r);

    return rc;
}


int
hotkey_sc_tls(hotkey_sc_t *sc, const hotkey_tls_conf_t *conf)
{
    unsigned  i;

    for (i = 0; i < sc->nnodes; i++) {
        if (strncmp(sc->nodes[i].addr, "unix:", 5) == 0) {
            return hotkey_sc_fail(sc, sc->nodes[i].addr, "no TLS on a unix"
                                  " socket");
        }
    }

    hotkey_tls_free(sc->tls);
    sc->tls = hotkey_tls_new(conf, sc->err, sizeof(sc->err));

    return sc->tls ? 0 : -1;
}


static redisContext *
hotkey_sc_connect(hotkey_sc_t *sc, const char *addr)
{
    int            port;
    char           host[HOTKEY_SC_ADDR_LEN], why[256];
    redisContext  *c;

    if (hotkey_sc_split(addr, host, sizeof(host), &port) == 1) {
        c = sc->tls ? NULL
                    : redisConnectUnixWithTimeout(addr + 5, sc->connect_tv);
        snprintf(why, sizeof(why), "%s", sc->tls ? "no TLS on a unix socket"
                                                 : "out of memory");

    } else if (sc->tls) {
        c = hotkey_tls_connect(sc->tls, host, port, sc->connect_tv, why,
                               sizeof(why));

    } else {
        c = redisConnectWithTimeout(host, port, sc->connect_tv);
        snprintf(why, sizeof(why), "out of memory");
    }

    if (c == NULL || c->err) {
        hotkey_sc_fail(sc, addr, c ? hotkey_redis_why(c, why) : why);
        hotkey_redis_free(c);
        return NULL;
    }

    return c;
}


/* a new connection to an address, logged in; NULL (sc->err) */

static redisContext *
hotkey_sc_dial(hotkey_sc_t *sc, const char *addr)
{
    redisContext  *c;

    c = hotkey_sc_connect(sc, addr);
    if (c == NULL) {
        return NULL;
    }

    redisSetTimeout(c, sc->io_tv);

    if (hotkey_sc_login(sc, c, addr) != 0) {
        hotkey_redis_free(c);
        return NULL;
    }

    return c;
}


static double
hotkey_sc_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/*
 * A new connection to node i; a node that refused a moment ago is not
 * tried again for HOTKEY_SC_RETRY (a dead master costs one connect, not
 * one per command, until its replica takes over).
 */

static redisContext *
hotkey_sc_dial_node(hotkey_sc_t *sc, unsigned i)
{
    redisContext  *c;

    if (hotkey_sc_now() < sc->nodes[i].retry_at) {
        hotkey_sc_fail(sc, sc->nodes[i].addr, "unreachable a moment ago");
        return NULL;
    }

    c = hotkey_sc_dial(sc, sc->nodes[i].addr);

    if (c == NULL) {
        sc->nodes[i].retry_at = hotkey_sc_now() + HOTKEY_SC_RETRY;
    }

    return c;
}


static redisContext *
hotkey_sc_conn(hotkey_sc_t *sc, unsigned i)
{
    if (sc->nodes[i].c == NULL) {
        sc->nodes[i].c = hotkey_sc_dial_node(sc, i);
    }

    return sc->nodes[i].c;
}


/* a connection that failed: closed; the map is read again before use */

static void
hotkey_sc_drop(hotkey_sc_t *sc, unsigned i)
{
    redisContext  *c;

    c = sc->nodes[i].c;

    if (c) {
        hotkey_sc_fail(sc, sc->nodes[i].addr,
                       hotkey_redis_why(c, "connection lost"));
        hotkey_redis_free(c);
        sc->nodes[i].c = NULL;
    }

    sc->stale = 1;
}


/* every node a CLUSTER SLOTS reply names, replicas too: known */

static void
hotkey_sc_learn(hotkey_sc_t *sc, const redisReply *r)
{
    size_t             i, j;
    const redisReply  *e, *n;

    for (i = 0; i < r->elements; i++) {
        e = r->element[i];

        for (j = 2; e->type == REDIS_REPLY_ARRAY && j < e->elements; j++) {
            n = e->element[j];

            if (n->type == REDIS_REPLY_ARRAY && n->elements >= 2
                && n->element[0]->type == REDIS_REPLY_STRING
                && n->element[0]->len > 0
                && n->element[1]->type == REDIS_REPLY_INTEGER)
            {
                hotkey_sc_node_hp(sc, n->element[0]->str,
                                  (unsigned) n->element[1]->integer);
            }
        }
    }
}


/* CLUSTER SLOTS of node i: 0 read (a map, or not a cluster), -1 */

static int
hotkey_sc_read_map(hotkey_sc_t *sc, unsigned i)
{
    int            port, rc;
    char           host[HOTKEY_SC_ADDR_LEN];
    redisReply    *r;
    redisContext  *c;

    c = hotkey_sc_conn(sc, i);
    if (c == NULL) {
        return -1;
    }

    r = redisCommand(c, "CLUSTER SLOTS");
    if (r == NULL) {
        hotkey_sc_drop(sc, i);
        return -1;
    }

    rc = 0;

    if (r->type == REDIS_REPLY_ERROR) {
        /* cluster support disabled (or the command refused): one node */
        sc->cluster = 0;
        hotkey_cluster_map_init(&sc->map);

    } else if (hotkey_sc_split(sc->nodes[i].addr, host, sizeof(host),
                               &port) == 0
               && hotkey_cluster_map_read(&sc->map, r, host) == 0)
    {
        sc->cluster = 1;
        hotkey_sc_learn(sc, r);

    } else {
        hotkey_cluster_map_init(&sc->map);
        rc = hotkey_sc_fail(sc, sc->nodes[i].addr, "bad CLUSTER SLOTS reply");
    }

    freeReplyObject(r);

    return rc;
}


int
hotkey_sc_open(hotkey_sc_t *sc)
{
    unsigned  k, i, n;

    if (sc->cluster >= 0 && !sc->stale) {
        return 0;
    }

    n = sc->nnodes;

    for (k = 0; k < n; k++) {
        i = (sc->last + k) % n;

        if (hotkey_sc_read_map(sc, i) == 0) {
            sc->last = i;
            sc->stale = 0;
            return 0;
        }
    }

    return -1;
}


/* the node of a key's slot; the node used last when the map has none */

static unsigned
hotkey_sc_route(hotkey_sc_t *sc, const char *key)
{
    int       n;
    unsigned  m;

    if (key == NULL || sc->cluster != 1) {
        return sc->last;
    }

    m = sc->map.slots[hotkey_cluster_slot(key, strlen(key))];

    if (m == HOTKEY_CLUSTER_NONE) {
        return sc->last;
    }

    n = hotkey_sc_node_hp(sc, sc->map.nodes[m].host, sc->map.nodes[m].port);

    return n < 0 ? sc->last : (unsigned) n;
}


/* one formatted command to node i, after ASKING with ask */

static redisReply *
hotkey_sc_exec(hotkey_sc_t *sc, unsigned i, int ask, const char *cmd,
    size_t len)
{
    void          *r, *a;
    redisContext  *c;

    c = hotkey_sc_conn(sc, i);
    if (c == NULL) {
        sc->stale = 1;
        return NULL;
    }

    a = NULL;
    r = NULL;

    if ((ask && redisAppendCommand(c, "ASKING") != REDIS_OK)
        || redisAppendFormattedCommand(c, cmd, len) != REDIS_OK
        || (ask && redisGetReply(c, &a) != REDIS_OK)
        || redisGetReply(c, &r) != REDIS_OK)
    {
        freeReplyObject(a);
        hotkey_sc_drop(sc, i);
        return NULL;
    }

    freeReplyObject(a);
    sc->last = i;

    return r;
}


/* where a MOVED or ASK sends the command; -1 when it cannot go there */

static int
hotkey_sc_redirect(hotkey_sc_t *sc, unsigned from, hotkey_redirect_t *rd)
{
    int          port, m;
    char         from_host[HOTKEY_SC_ADDR_LEN];
    const char  *host;

    host = rd->host;

    if (host[0] == '\0') {
        /* "MOVED 3999 :6380": the host of the node that answered */
        if (hotkey_sc_split(sc->nodes[from].addr, from_host,
                            sizeof(from_host), &port) != 0)
        {
            return -1;
        }

        host = from_host;
    }

    sc->redirects++;

    if (rd->type == HOTKEY_REDIRECT_MOVED) {
        /* the slot lives there now; the rest of the map is read again */
        m = hotkey_cluster_map_node(&sc->map, host, strlen(host), rd->port);
        if (m >= 0) {
            sc->map.slots[rd->slot] = (uint8_t) m;
        }

        sc->cluster = 1;
        sc->stale = 1;
    }

    return hotkey_sc_node_hp(sc, host, rd->port);
}


static void
hotkey_sc_pause(void)
{
    struct timespec  ts = { 0, 50 * 1000 * 1000 };

    nanosleep(&ts, NULL);
}


/* a reply that says to go elsewhere or later: the next node, or -1 */

static int
hotkey_sc_next(hotkey_sc_t *sc, redisReply *r, unsigned i, const char *key,
    int *ask)
{
    hotkey_redirect_t  rd;

    *ask = 0;

    switch (hotkey_cluster_redirect(r->str, r->len, &rd)) {

    case HOTKEY_REDIRECT_MOVED:
        return hotkey_sc_redirect(sc, i, &rd);

    case HOTKEY_REDIRECT_ASK:
        *ask = 1;
        return hotkey_sc_redirect(sc, i, &rd);

    case HOTKEY_REDIRECT_TRYAGAIN:
        hotkey_sc_pause();
        return (int) hotkey_sc_route(sc, key);

    case HOTKEY_REDIRECT_DOWN:
        sc->stale = 1;
        return -1;

    default:
        return -2;
    }
}


static redisReply *
hotkey_sc_send(hotkey_sc_t *sc, const char *key, const char *cmd, size_t len)
{
    int          n, ask, hops;
    redisReply  *r;

    if (hotkey_sc_open(sc) != 0) {
        return NULL;
    }

    n = (int) hotkey_sc_route(sc, key);
    ask = 0;

    for (hops = 0; ; hops++) {
        r = hotkey_sc_exec(sc, (unsigned) n, ask, cmd, len);

        if (r == NULL || r->type != REDIS_REPLY_ERROR) {
            return r;
        }

        n = hotkey_sc_next(sc, r, (unsigned) n, key, &ask);

        if (n == -2) {
            return r;                   /* an error of the command */
        }

        if (n < 0 || hops == HOTKEY_SC_REDIRECTS) {
            hotkey_sc_fail(sc, sc->nodes[sc->last].addr,
                           n < 0 ? r->str : "too many redirects");
            freeReplyObject(r);
            return NULL;
        }

        freeReplyObject(r);
    }
}


/* a command hiredis formatted (len < 0: it could not), sent and freed */

static redisReply *
hotkey_sc_formatted(hotkey_sc_t *sc, const char *key, char *cmd, int len)
{
    redisReply  *r;

    if (len < 0) {
        snprintf(sc->err, sizeof(sc->err), "out of memory");
        return NULL;
    }

    r = hotkey_sc_send(sc, key, cmd, (size_t) len);
    free(cmd);

    return r;
}


redisReply *
hotkey_sc_vcommand(hotkey_sc_t *sc, const char *key, const char *fmt,
    va_list ap)
{
    int    len;
    char  *cmd;

    cmd = NULL;
    len = redisvFormatCommand(&cmd, fmt, ap);

    return hotkey_sc_formatted(sc, key, cmd, len);
}


redisReply *
hotkey_sc_command(hotkey_sc_t *sc, const char *key, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = hotkey_sc_vcommand(sc, key, fmt, ap);
    va_end(ap);

    return r;
}


redisReply *
hotkey_sc_argv(hotkey_sc_t *sc, const char *key, int argc,
    const char **argv, const size_t *lens)
{
    int    len;
    char  *cmd;

    cmd = NULL;
    len = redisFormatCommandArgv(&cmd, argc, argv, lens);

    return hotkey_sc_formatted(sc, key, cmd, len);
}


unsigned
hotkey_sc_masters(hotkey_sc_t *sc)
{
    if (hotkey_sc_open(sc) != 0) {
        return 0;
    }

    return sc->cluster == 1 ? sc->map.nnodes : 1;
}


redisReply *
hotkey_sc_command_at(hotkey_sc_t *sc, unsigned master, const char *fmt,
    ...)
{
    int          n, len;
    char        *cmd;
    va_list      ap;
    redisReply  *r;

    n = (int) sc->last;

    if (sc->cluster == 1) {
        if (master >= sc->map.nnodes) {
            return NULL;
        }

        n = hotkey_sc_node_hp(sc, sc->map.nodes[master].host,
                              sc->map.nodes[master].port);
        if (n < 0) {
            snprintf(sc->err, sizeof(sc->err), "too many nodes");
            return NULL;
        }
    }

    va_start(ap, fmt);
    cmd = NULL;
    len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);

    if (len < 0) {
        return NULL;
    }

    r = hotkey_sc_exec(sc, (unsigned) n, 0, cmd, (size_t) len);
    free(cmd);

    return r;
}


redisContext *
hotkey_sc_connect_any(hotkey_sc_t *sc, unsigned *next)
{
    unsigned       k, i;
    redisContext  *c;

    for (k = 0; k < sc->nnodes; k++) {
        i = (*next + k) % sc->nnodes;
        c = hotkey_sc_dial_node(sc, i);

        if (c) {
            *next = i + 1;
            return c;
        }
    }

    return NULL;
}


const char *
hotkey_sc_addr(hotkey_sc_t *sc, unsigned node)
{
    return node < sc->nnodes ? sc->nodes[node].addr : "-";
}


void
hotkey_sc_close(hotkey_sc_t *sc)
{
    unsigned  i;

    for (i = 0; i < sc->nnodes; i++) {
        hotkey_redis_free(sc->nodes[i].c);
        sc->nodes[i].c = NULL;
    }

    hotkey_tls_free(sc->tls);
    sc->tls = NULL;

    OPENSSL_cleanse(sc->password, sizeof(sc->password));
}
