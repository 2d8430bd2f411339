/*
 * One analysis of one instance: find its masters (every shard of a Redis
 * Cluster), check each (a master, on an LFU policy), SCAN every database
 * that holds keys with a pipeline of OBJECT FREQ per batch into the top
 * keys, paced; then read each kept key's type and size.  Any failure
 * ends the analysis with its cause in res->cause (never a secret).  An
 * instance with tls 1 is reached over TLS (tools/hotkey_tls.c) with the
 * material of its credentials line.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hka.h"


#define HKA_SCAN_TRIES  3             /* topology changes tolerated */


typedef struct {
    int          master;
    char         master_of[HKA_ADDR_LEN];
    char         policy[64];
    int          cluster;
    unsigned     dbs[64];
    size_t       ndbs;
} hka_info_t;

typedef struct {
    const hka_target_t  *tg;
    hka_result_t        *res;
    hotkey_tls_t        *tls;          /* NULL: plain TCP */
    redisContext        *conns[HKA_NODES_MAX];
    char                 sig[65536];
} hka_scan_t;


static redisContext *hka_connect(hka_scan_t *s, const char *addr);
static int hka_info(redisContext *c, const char *addr, hka_info_t *in,
    hka_result_t *res);
static int hka_check(const char *addr, const hka_info_t *in,
    hka_result_t *res);
static int hka_topology(hka_scan_t *s, redisContext *c, const char *addr,
    char *sig, size_t siglen);
static int hka_scan_all(hka_scan_t *s);
static int hka_told_to_stop(hka_scan_t *s);
static int hka_stopped(hka_scan_t *s);
static int hka_scan_db(hka_scan_t *s, unsigned node, unsigned db);
static int hka_freq_failed(hka_scan_t *s, unsigned node);
static int hka_sizes(hka_scan_t *s, unsigned node);
static const char *hka_size_cmd(const char *type);
static void hka_close_all(hka_scan_t *s);


int
hka_fail(hka_result_t *res, const char *fmt, ...)
{
    va_list  ap;

    if (res->cause[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(res->cause, sizeof(res->cause), fmt, ap);
        va_end(ap);
    }

    return -1;
}


int
hka_reply_fail(hka_result_t *res, const char *addr, redisContext *c,
    redisReply *r, const char *what)
{
    if (r == NULL) {
        return hka_fail(res, "%s: %s: %s", addr, what,
                        hotkey_redis_why(c, "no reply"));
    }

    if (r->type == REDIS_REPLY_ERROR) {
        return hka_fail(res, "%s: %s: %.*s", addr, what,
                        (int) r->len, r->str);
    }

    return hka_fail(res, "%s: %s: unexpected reply", addr, what);
}


static int
hka_split_addr(const char *addr, char *host, size_t n, int *port)
{
    const char  *colon;
    char        *end;
    long         v;

    colon = strrchr(addr, ':');
    if (colon == NULL || (size_t) (colon - addr) >= n || colon == addr) {
        return -1;
    }

    v = strtol(colon + 1, &end, 10);
    if (*end != '\0' || v < 1 || v > 65535) {
        return -1;
    }

    memcpy(host, addr, colon - addr);
    host[colon - addr] = '\0';

    /* [::1]:6379 */
    if (host[0] == '[' && host[colon - addr - 1] == ']') {
        memmove(host, host + 1, colon - addr - 2);
        host[colon - addr - 2] = '\0';
    }

    *port = (int) v;

    return 0;
}


/* AUTH with the instance's credentials line, if it has a password */

static int
hka_auth(const hka_target_t *tg, redisContext *c, const char *addr,
    hka_result_t *res)
{
    redisReply  *r;

    if (tg->secret->password[0] == '\0') {
        return 0;
    }

    if (tg->secret->user[0]) {
        r = redisCommand(c, "AUTH %s %s", tg->secret->user,
                         tg->secret->password);
    } else {
        r = redisCommand(c, "AUTH %s", tg->secret->password);
    }

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        hka_reply_fail(res, addr, c, r, "authentication failed");
        freeReplyObject(r);
        return -1;
    }

    freeReplyObject(r);

    return 0;
}


static redisContext *
hka_connect(hka_scan_t *s, const char *addr)
{
    int              port;
    char             host[256], why[256];
    redisContext    *c;
    hka_result_t    *res;
    struct timeval   tv;

    res = s->res;

    if (hka_split_addr(addr, host, sizeof(host), &port) != 0) {
        hka_fail(res, "bad address \"%s\" (host:port)", addr);
        return NULL;
    }

    tv.tv_sec = s->tg->conf->connect_ms / 1000;
    tv.tv_usec = (s->tg->conf->connect_ms % 1000) * 1000;
    snprintf(why, sizeof(why), "out of memory");

    c = s->tls ? hotkey_tls_connect(s->tls, host, port, tv, why, sizeof(why))
               : redisConnectWithTimeout(host, port, tv);

    if (c == NULL || c->err) {
        hka_fail(res, "%s: cannot connect: %s", addr,
                 c ? hotkey_redis_why(c, why) : why);
        hotkey_redis_free(c);
        return NULL;
    }

    tv.tv_sec = s->tg->conf->io_ms / 1000;
    tv.tv_usec = (s->tg->conf->io_ms % 1000) * 1000;
    redisSetTimeout(c, tv);

    if (hka_auth(s->tg, c, addr, res) != 0) {
        hotkey_redis_free(c);
        return NULL;
    }

    return c;
}


/* the TLS material of the instance's credentials line */

static int
hka_tls(hka_scan_t *s)
{
    char                 err[HKA_CAUSE_LEN - 8];
    hotkey_tls_conf_t    tc;
    const hka_secret_t  *sec;

    sec = s->tg->secret;

    tc.ca = sec->tls_ca[0] ? sec->tls_ca : NULL;
    tc.cert = sec->tls_cert[0] ? sec->tls_cert : NULL;
    tc.key = sec->tls_key[0] ? sec->tls_key : NULL;
    tc.name = sec->tls_name[0] ? sec->tls_name : NULL;
    tc.no_verify = sec->tls_no_verify;

    s->tls = hotkey_tls_new(&tc, err, sizeof(err));

    return s->tls ? 0 : hka_fail(s->res, "TLS: %s", err);
}


static const char *
hka_info_line(const char *info, const char *name, char *val, size_t n)
{
    size_t       len;
    const char  *p, *e;

    len = strlen(name);

    for (p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, len) == 0 && p[len] == ':') {
            p += len + 1;
            e = p + strcspn(p, "\r\n");
            len = (size_t) (e - p) < n ? (size_t) (e - p) : n - 1;
            memcpy(val, p, len);
            val[len] = '\0';
            return val;
        }
    }

    return NULL;
}


static int
hka_info(redisContext *c, const char *addr, hka_info_t *in,
    hka_result_t *res)
{
    char         val[HKA_ADDR_LEN], port[16];
    unsigned     db;
    const char  *p;
    redisReply  *r;

    memset(in, 0, sizeof(hka_info_t));

    r = redisCommand(c, "INFO");
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        hka_reply_fail(res, addr, c, r, "INFO");
        freeReplyObject(r);
        return -1;
    }

    in->master = hka_info_line(r->str, "role", val, sizeof(val)) != NULL
                 && strcmp(val, "master") == 0;

    if (!in->master && hka_info_line(r->str, "master_host", val, 256)
        && hka_info_line(r->str, "master_port", port, sizeof(port)))
    {
        snprintf(in->master_of, sizeof(in->master_of), "%.255s:%.15s",
                 val, port);
    }

    if (hka_info_line(r->str, "maxmemory_policy", in->policy,
                      sizeof(in->policy)) == NULL)
    {
        strcpy(in->policy, "unknown");
    }

    in->cluster = hka_info_line(r->str, "cluster_enabled", val, sizeof(val))
                  && strcmp(val, "1") == 0;

    for (p = strstr(r->str, "\ndb"); p; p = strstr(p + 1, "\ndb")) {
        if (sscanf(p + 3, "%u:keys=", &db) == 1 && in->ndbs < 64) {
            in->dbs[in->ndbs++] = db;
        }
    }

    freeReplyObject(r);

    return 0;
}


static int
hka_check(const char *addr, const hka_info_t *in, hka_result_t *res)
{
    if (!in->master) {
        return hka_fail(res, "%s is a replica%s%s, not a master", addr,
                        in->master_of[0] ? " of " : "", in->master_of);
    }

    if (strcmp(in->policy, "allkeys-lfu") != 0
        && strcmp(in->policy, "volatile-lfu") != 0)
    {
        snprintf(res->policy, sizeof(res->policy), "%s", in->policy);
        return hka_fail(res, "%s: maxmemory-policy is %s, not an LFU "
                        "policy: the instance cannot be analysed", addr,
                        in->policy);
    }

    return 0;
}


/* one "id@addr slots" per shard */

static int
hka_shard_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


static const redisReply *
hka_map_get(const redisReply *m, const char *key)
{
    size_t  i;

    if (m->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }

    for (i = 0; i + 1 < m->elements; i += 2) {
        if (m->element[i]->type == REDIS_REPLY_STRING
            && strcmp(m->element[i]->str, key) == 0)
        {
            return m->element[i + 1];
        }
    }

    return NULL;
}


static int
hka_shard_line(const redisReply *shard, int tls, char *line, size_t n)
{
    size_t             i, j, len;
    const char        *host;
    const redisReply  *slots, *nodes, *nd, *v;

    slots = hka_map_get(shard, "slots");
    nodes = hka_map_get(shard, "nodes");

    if (slots == NULL || nodes == NULL || nodes->type != REDIS_REPLY_ARRAY
        || slots->type != REDIS_REPLY_ARRAY || slots->elements == 0)
    {
        return 0;
    }

    for (i = 0; i < nodes->elements; i++) {
        nd = nodes->element[i];
        v = hka_map_get(nd, "role");

        if (v == NULL || v->type != REDIS_REPLY_STRING
            || strcmp(v->str, "master") != 0)
        {
            continue;
        }

        v = hka_map_get(nd, "health");
        if (v && v->type == REDIS_REPLY_STRING
            && strcmp(v->str, "online") != 0)
        {
            continue;
        }

        v = hka_map_get(nd, "ip");
        host = v && v->type == REDIS_REPLY_STRING ? v->str : "?";
        v = tls ? hka_map_get(nd, "tls-port") : NULL;
        v = v ? v : hka_map_get(nd, "port");

        len = snprintf(line, n, "%s:%lld", host,
                       v && v->type == REDIS_REPLY_INTEGER ? v->integer : 0);
        v = hka_map_get(nd, "id");
        len += snprintf(line + len, n - len, "@%s",
                        v && v->type == REDIS_REPLY_STRING ? v->str : "");

        for (j = 0; j < slots->elements && len < n; j++) {
            len += snprintf(line + len, n - len, " %lld",
                            slots->element[j]->integer);
        }

        return len < n ? 1 : -1;
    }

    return -1;
}


/*
 * The masters that own slots, from CLUSTER SHARDS, into res->nodes (in a
 * stable order) and a signature of the topology into sig.
 */

static int
hka_topology(hka_scan_t *s, redisContext *c, const char *addr, char *sig,
    size_t siglen)
{
    int           rc;
    char         *lines[HKA_NODES_MAX], *at;
    size_t        i, n, len;
    redisReply   *r;
    hka_result_t *res;

    res = s->res;
    r = redisCommand(c, "CLUSTER SHARDS");

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        hka_reply_fail(res, addr, c, r, "CLUSTER SHARDS");
        freeReplyObject(r);
        return -1;
    }

    n = 0;
    rc = 0;

    for (i = 0; i < r->elements && n < HKA_NODES_MAX; i++) {
        lines[n] = malloc(4096);
        if (lines[n] == NULL) {
            rc = hka_fail(res, "out of memory");
            break;
        }

        switch (hka_shard_line(r->element[i], s->tls != NULL, lines[n],
                               4096))
        {
        case 1:
            n++;
            break;
        case 0:
            free(lines[n]);
            break;
        default:
            free(lines[n]);
            rc = hka_fail(res, "%s: a shard has no healthy master", addr);
        }

        if (rc) {
            break;
        }
    }

    freeReplyObject(r);

    qsort(lines, n, sizeof(char *), hka_shard_cmp);
    len = 0;
    sig[0] = '\0';

    for (i = 0; i < n; i++) {
        len += snprintf(sig + len, len < siglen ? siglen - len : 0, "%s;",
                        lines[i]);
        at = strchr(lines[i], '@');
        *at = '\0';
        snprintf(res->nodes[i], HKA_ADDR_LEN, "%s", lines[i]);
        free(lines[i]);
    }

    res->nnodes = n;

    if (rc == 0 && n == 0) {
        rc = hka_fail(res, "%s: the cluster has no master with slots", addr);
    }

    return rc;
}


int
hka_scan(const hka_target_t *tg, hka_result_t *res)
{
    int           rc, try;
    char         *sig2;
    size_t        i;
    hka_info_t    in;
    hka_scan_t   *s;
    redisContext *seed;

    s = calloc(1, sizeof(hka_scan_t));
    sig2 = malloc(sizeof(s->sig));

    if (s == NULL || sig2 == NULL || hka_top_init(&res->top, HKA_TOP_MAX)) {
        free(s);
        free(sig2);
        return hka_fail(res, "out of memory");
    }

    s->tg = tg;
    s->res = res;
    rc = -1;
    seed = NULL;

    if (tg->tls && hka_tls(s) != 0) {
        goto done;
    }

    seed = hka_connect(s, tg->addr);
    if (seed == NULL || hka_info(seed, tg->addr, &in, res) != 0) {
        goto done;
    }

    if (!tg->cluster && !in.cluster) {
        snprintf(res->nodes[0], HKA_ADDR_LEN, "%s", tg->addr);
        res->nnodes = 1;
        s->conns[0] = seed;
        seed = NULL;
        rc = hka_scan_all(s);
        goto done;
    }

    for (try = 0; try < HKA_SCAN_TRIES; try++) {
        if (hka_topology(s, seed, tg->addr, s->sig, sizeof(s->sig)) != 0
            || hka_scan_all(s) != 0
            || hka_topology(s, seed, tg->addr, sig2, sizeof(s->sig)) != 0)
        {
            goto done;
        }

        if (strcmp(s->sig, sig2) == 0) {
            rc = 0;
            goto done;
        }

        hka_log("info", "instance at %s: the cluster changed during the "
                "scan, scanning again", tg->addr);
        hka_close_all(s);
        hka_top_free(&res->top);

        if (hka_top_init(&res->top, HKA_TOP_MAX) != 0) {
            hka_fail(res, "out of memory");
            goto done;
        }

        res->scanned = 0;
    }

    hka_fail(res, "the cluster kept changing during %d scans", try);

done:

    if (rc == 0) {
        hka_top_sort(&res->top);

        for (i = 0; i < res->nnodes && rc == 0; i++) {
            rc = hka_sizes(s, i);
        }
    }

    hka_close_all(s);
    hotkey_redis_free(seed);
    hotkey_tls_free(s->tls);
    free(sig2);
    free(s);

    return rc;
}


static void
hka_close_all(hka_scan_t *s)
{
    size_t  i;

    for (i = 0; i < HKA_NODES_MAX; i++) {
        if (s->conns[i]) {
            hotkey_redis_free(s->conns[i]);
            s->conns[i] = NULL;
        }
    }
}


static int
hka_scan_all(hka_scan_t *s)
{
    size_t         i, d;
    hka_info_t     in;
    hka_result_t  *res;
    const char    *addr;

    res = s->res;

    for (i = 0; i < res->nnodes; i++) {
        addr = res->nodes[i];

        if (s->conns[i] == NULL) {
            s->conns[i] = hka_connect(s, addr);
            if (s->conns[i] == NULL) {
                return -1;
            }
        }

        if (hka_info(s->conns[i], addr, &in, res) != 0
            || hka_check(addr, &in, res) != 0)
        {
            return -1;
        }

        if (in.ndbs && hka_pace_start(&res->pace, s->conns[i], s->tg->tick,
                                      s->tg->data) != 0)
        {
            return hka_told_to_stop(s) ? hka_stopped(s)
                   : hka_reply_fail(res, addr, s->conns[i], NULL, "INFO cpu");
        }

        for (d = 0; d < in.ndbs; d++) {
            if (hka_scan_db(s, i, in.dbs[d]) != 0) {
                return -1;
            }
        }

        /* a master that was failed over during its scan is a replica now */

        if (hka_info(s->conns[i], addr, &in, res) != 0
            || hka_check(addr, &in, res) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* the tick says stop (SIGTERM, lease lost): asking again is harmless */

static int
hka_told_to_stop(hka_scan_t *s)
{
    return s->tg->tick && s->tg->tick(s->tg->data) != 0;
}


static int
hka_stopped(hka_scan_t *s)
{
    s->res->cause[0] = '\0';

    return hka_fail(s->res, "stopped");
}


/* SELECT, then the pipeline of SCAN and OBJECT FREQ (pipe.c) */

static int
hka_scan_db(hka_scan_t *s, unsigned node, unsigned db)
{
    int          rc;
    hka_walk_t   w;
    redisReply  *r;

    w.tg = s->tg;
    w.res = s->res;
    w.c = s->conns[node];
    w.addr = s->res->nodes[node];
    w.node = node;
    w.db = db;

    r = redisCommand(w.c, "SELECT %u", db);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        hka_reply_fail(s->res, w.addr, w.c, r, "SELECT");
        freeReplyObject(r);
        return -1;
    }

    freeReplyObject(r);

    rc = hka_pipe_scan(&w);

    return rc == -2 ? hka_freq_failed(s, node) : rc;
}


/* an error from OBJECT FREQ: most likely the policy changed under us */

static int
hka_freq_failed(hka_scan_t *s, unsigned node)
{
    char           cause[HKA_CAUSE_LEN];
    hka_info_t     in;
    hka_result_t  *res;

    res = s->res;
    memcpy(cause, res->cause, sizeof(cause));
    res->cause[0] = '\0';

    if (hka_info(s->conns[node], res->nodes[node], &in, res) == 0
        && hka_check(res->nodes[node], &in, res) == 0)
    {
        memcpy(res->cause, cause, sizeof(cause));
    }

    return -1;
}


static const char *
hka_size_cmd(const char *type)
{
    static const char *const  cmds[][2] = {
        { "string", "STRLEN" }, { "list", "LLEN" }, { "set", "SCARD" },
        { "zset", "ZCARD" }, { "hash", "HLEN" }, { "stream", "XLEN" },
    };
    size_t  i;

    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(type, cmds[i][0]) == 0) {
            return cmds[i][1];
        }
    }

    return NULL;
}


static void
hka_append_key(redisContext *c, const char *cmd, const hka_key_t *k)
{
    const char  *argv[3];
    size_t       lens[3];
    int          n;

    n = 0;

    if (strcmp(cmd, "MEMORY") == 0) {
        argv[n] = "MEMORY";
        lens[n++] = 6;
        cmd = "USAGE";
    }

    argv[n] = cmd;
    lens[n++] = strlen(cmd);
    argv[n] = k->name;
    lens[n++] = k->len;

    redisAppendCommandArgv(c, n, argv, lens);
}


/* SELECT where the db changes, then cmd, for each kept key of the node */

static size_t
hka_append_all(hka_scan_t *s, unsigned node, int sized, unsigned char *sel)
{
    size_t          i, n;
    long            db;
    const char     *cmd;
    hka_key_t      *k;
    redisContext   *c;

    c = s->conns[node];
    db = -1;
    n = 0;

    for (i = 0; i < s->res->top.n; i++) {
        k = &s->res->top.k[i];
        sel[i] = 0;

        if (k->node != node || (sized && k->type[0] == '\0')) {
            continue;
        }

        if ((long) k->db != db) {
            redisAppendCommand(c, "SELECT %u", k->db);
            db = k->db;
            sel[i] = 1;
        }

        if (sized) {
            cmd = hka_size_cmd(k->type);
            hka_append_key(c, cmd ? cmd : "MEMORY", k);
        }

        hka_append_key(c, "TYPE", k);
        n++;
    }

    return n;
}


static int
hka_size_reply(hka_key_t *k, redisReply *size, redisReply *type)
{
    if (type->type != REDIS_REPLY_STATUS || strcmp(type->str, k->type) != 0
        || size->type != REDIS_REPLY_INTEGER || size->integer < 0)
    {
        k->type[0] = '\0';
        return 0;
    }

    k->size = (uint64_t) size->integer;

    return 0;
}


/* two pipelines per node: TYPE of every kept key, then its size */

static int
hka_sizes(hka_scan_t *s, unsigned node)
{
    int             pass, rc;
    size_t          i;
    hka_key_t      *k;
    redisReply     *r, *sz;
    redisContext   *c;
    unsigned char   sel[HKA_TOP_MAX];

    c = s->conns[node];
    rc = 0;

    for (pass = 0; pass < 2; pass++) {
        if (hka_append_all(s, node, pass, sel) == 0) {
            break;
        }

        for (i = 0; i < s->res->top.n; i++) {
            k = &s->res->top.k[i];

            if (k->node != node || (pass && k->type[0] == '\0')) {
                continue;
            }

            sz = NULL;
            r = NULL;

            if (sel[i]) {
                if (redisGetReply(c, (void **) &r) != REDIS_OK) {
                    return hka_reply_fail(s->res, s->res->nodes[node], c,
                                          NULL, "SELECT");
                }

                freeReplyObject(r);
                r = NULL;
            }

            if ((pass && redisGetReply(c, (void **) &sz) != REDIS_OK)
                || redisGetReply(c, (void **) &r) != REDIS_OK)
            {
                freeReplyObject(sz);
                return hka_reply_fail(s->res, s->res->nodes[node], c, NULL,
                                      "TYPE");
            }

            if (pass) {
                rc = hka_size_reply(k, sz, r);

            } else if (r->type == REDIS_REPLY_STATUS
                       && strcmp(r->str, "none") != 0
                       && r->len < sizeof(k->type))
            {
                memcpy(k->type, r->str, r->len + 1);
            }

            freeReplyObject(sz);
            freeReplyObject(r);
        }
    }

    /* the keys that vanished meanwhile */

    for (i = s->res->top.n; i-- > 0; ) {
        if (s->res->top.k[i].node == node
            && s->res->top.k[i].type[0] == '\0')
        {
            hka_top_drop(&s->res->top, i);
        }
    }

    return rc;
}


void
hka_result_free(hka_result_t *res)
{
    hka_top_free(&res->top);
}
