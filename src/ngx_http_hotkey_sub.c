/*
 * Caches follow writes on every node: each worker keeps one subscription
 * to "hotkey:changes" on every server of every store its cached locations
 * use, and drops an instance's cached answers when a write names it.  A
 * lost subscription is retried with backoff; when it is back, the node
 * drops every cached answer (it cannot know what it missed), and while it
 * is down no answer is served past its freshness (no stale copies).
 * A PING every few seconds notices a store that went silent.  A Redis
 * Cluster sends every PUBLISH to every node: one subscription of its
 * nodes that holds is enough.
 */

#include "ngx_http_hotkey_module.h"


#define NGX_HTTP_HOTKEY_SUB_BUF       4096
#define NGX_HTTP_HOTKEY_SUB_PING      5000
#define NGX_HTTP_HOTKEY_SUB_RETRY     100
#define NGX_HTTP_HOTKEY_SUB_RETRY_MAX 5000


/* the nodes of one Redis Cluster: any one of them hears every write */

typedef struct {
    void                       *cluster;
    ngx_uint_t                  subs;
    ngx_uint_t                  up;
    unsigned                    ever:1;
} ngx_http_hotkey_sub_group_t;


typedef struct {
    ngx_peer_connection_t       pc;
    ngx_http_hotkey_sub_group_t  *group;
    ngx_event_t                 retry;
    ngx_event_t                 ping;
    ngx_msec_t                  backoff;
    redisReader                *reader;
    u_char                     *buf;
    ngx_uint_t                  sent;       /* bytes of "out" sent */
    ngx_str_t                   out;
    ngx_str_t                   hello;      /* [AUTH] SUBSCRIBE */
    ngx_http_hotkey_tls_t      *tls;
    unsigned                    up:1;
    unsigned                    auth:1;     /* AUTH first */
    unsigned                    skip:1;     /* AUTH's +OK to come */
    unsigned                    ever:1;
    unsigned                    pinged:1;
} ngx_http_hotkey_sub_t;


static void ngx_http_hotkey_sub_connect(ngx_http_hotkey_sub_t *sub);
static void ngx_http_hotkey_sub_write(ngx_event_t *wev);
static void ngx_http_hotkey_sub_tls(ngx_event_t *ev);
static void ngx_http_hotkey_sub_handshake(ngx_connection_t *c);
static void ngx_http_hotkey_sub_read(ngx_event_t *rev);
static ngx_int_t ngx_http_hotkey_sub_reply(ngx_http_hotkey_sub_t *sub,
    redisReply *r);
static void ngx_http_hotkey_sub_lost(ngx_http_hotkey_sub_t *sub,
    const char *why);
static void ngx_http_hotkey_sub_retry(ngx_event_t *ev);
static void ngx_http_hotkey_sub_ping(ngx_event_t *ev);
static void ngx_http_hotkey_sub_back(ngx_http_hotkey_sub_t *sub,
    ngx_uint_t lost);
static void ngx_http_hotkey_sub_group_up(ngx_http_hotkey_sub_t *sub);
static ngx_int_t ngx_http_hotkey_sub_send(ngx_http_hotkey_sub_t *sub,
    const char *cmd, size_t len);


static ngx_array_t  ngx_http_hotkey_subs;       /* ngx_http_hotkey_sub_t */
static ngx_array_t  ngx_http_hotkey_sub_groups;
static ngx_uint_t   ngx_http_hotkey_subs_down;  /* plain subs, groups */

static const char  ngx_http_hotkey_sub_cmd[] =
    "*2\r\n$9\r\nSUBSCRIBE\r\n$14\r\nhotkey:changes\r\n";
static const char  ngx_http_hotkey_ping_cmd[] = "*1\r\n$4\r\nPING\r\n";


/* 1 when this worker learns of every write: stale copies may be served */

ngx_int_t
ngx_http_hotkey_sub_ok(void)
{
    return ngx_http_hotkey_subs_down == 0;
}


/* a store used by a cached location: its servers will be followed */

ngx_int_t
ngx_http_hotkey_sub_add_store(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf)
{
    ngx_uint_t                     i;
    ngx_http_upstream_srv_conf_t **u;
    ngx_http_hotkey_main_conf_t   *hmcf;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hotkey_module);
    u = hmcf->stores.elts;

    for (i = 0; i < hmcf->stores.nelts; i++) {
        if (u[i] == uscf) {
            return NGX_OK;
        }
    }

    u = ngx_array_push(&hmcf->stores);
    if (u == NULL) {
        return NGX_ERROR;
    }

    *u = uscf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_sub_peer(ngx_cycle_t *cycle, ngx_http_upstream_rr_peer_t *p,
    ngx_http_hotkey_sub_group_t *group, ngx_str_t *auth,
    ngx_http_hotkey_tls_t *tls)
{
    size_t                  n;
    ngx_uint_t              i;
    ngx_http_hotkey_sub_t  *sub;

    /*
     * one subscription per address, AUTH and TLS, however many stores
     * name them: a store without a password (or with another one) naming
     * the address first must not leave a password store's writes unheard
     */

    n = (auth ? auth->len : 0) + sizeof(ngx_http_hotkey_sub_cmd) - 1;
    sub = ngx_http_hotkey_subs.elts;

    for (i = 0; i < ngx_http_hotkey_subs.nelts; i++) {
        if (ngx_cmp_sockaddr(sub[i].pc.sockaddr, sub[i].pc.socklen,
                             p->sockaddr, p->socklen, 1)
            == NGX_OK
            && sub[i].hello.len == n
            && sub[i].tls == tls
            && (auth == NULL
                || ngx_memcmp(sub[i].hello.data, auth->data, auth->len)
                   == 0))
        {
            return NGX_OK;
        }
    }

    sub = ngx_array_push(&ngx_http_hotkey_subs);
    if (sub == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sub, sizeof(ngx_http_hotkey_sub_t));

    sub->buf = ngx_palloc(cycle->pool, NGX_HTTP_HOTKEY_SUB_BUF);
    if (sub->buf == NULL) {
        return NGX_ERROR;
    }

    sub->pc.sockaddr = p->sockaddr;
    sub->pc.socklen = p->socklen;
    sub->pc.name = &p->name;
    sub->pc.get = ngx_event_get_peer;
    sub->pc.log = cycle->log;
    sub->pc.log_error = NGX_ERROR_ERR;
    sub->pc.so_keepalive = 1;
    sub->backoff = NGX_HTTP_HOTKEY_SUB_RETRY;
    sub->group = group;

    sub->auth = auth != NULL;
    sub->tls = tls;

    if (ngx_http_hotkey_password_prefix(cycle->pool, auth,
                                        ngx_http_hotkey_sub_cmd,
                                        sizeof(ngx_http_hotkey_sub_cmd) - 1,
                                        &sub->hello)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (group == NULL) {
        ngx_http_hotkey_subs_down++;

    } else {
        group->subs++;
    }

    return NGX_OK;
}


/* in a worker: one subscription per server of every followed store */

ngx_int_t
ngx_http_hotkey_sub_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_hotkey_sub_t          *sub;
    ngx_http_hotkey_sub_group_t    *group;
    ngx_http_upstream_rr_peer_t    *p;
    ngx_http_upstream_rr_peers_t   *peers;
    ngx_http_upstream_srv_conf_t  **u;
    ngx_http_hotkey_main_conf_t    *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hotkey_module);

    if (hmcf == NULL || hmcf->stores.nelts == 0
        || (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE))
    {
        return NGX_OK;
    }

    if (ngx_array_init(&ngx_http_hotkey_subs, cycle->pool, 4,
                       sizeof(ngx_http_hotkey_sub_t))
        != NGX_OK
        || ngx_array_init(&ngx_http_hotkey_sub_groups, cycle->pool,
                          hmcf->stores.nelts,
                          sizeof(ngx_http_hotkey_sub_group_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    u = hmcf->stores.elts;
    ngx_http_hotkey_subs_down = 0;

    for (i = 0; i < hmcf->stores.nelts; i++) {
        group = NULL;

        if (ngx_http_hotkey_cluster_find(cycle, u[i])) {

            /* stores fewer than the array's first allocation: no move */

            group = ngx_array_push(&ngx_http_hotkey_sub_groups);
            if (group == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(group, sizeof(ngx_http_hotkey_sub_group_t));
            group->cluster = u[i];
            ngx_http_hotkey_subs_down++;
        }

        /* every balancer of nginx keeps the round robin's peers here */

        for (peers = u[i]->peer.data; peers; peers = peers->next) {
            for (p = peers->peer; p; p = p->next) {
                if (ngx_http_hotkey_sub_peer(cycle, p, group,
                        ngx_http_hotkey_password_cmd(hmcf, u[i]),
                        ngx_http_hotkey_tls_find(hmcf, u[i]))
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
        }

        /* its nodes all followed for another store already */

        if (group && group->subs == 0) {
            ngx_http_hotkey_subs_down--;
        }
    }

    sub = ngx_http_hotkey_subs.elts;

    for (i = 0; i < ngx_http_hotkey_subs.nelts; i++) {
        sub[i].retry.handler = ngx_http_hotkey_sub_retry;
        sub[i].retry.data = &sub[i];
        sub[i].retry.log = cycle->log;
        sub[i].retry.cancelable = 1;
        sub[i].ping.handler = ngx_http_hotkey_sub_ping;
        sub[i].ping.data = &sub[i];
        sub[i].ping.log = cycle->log;
        sub[i].ping.cancelable = 1;

        ngx_http_hotkey_sub_connect(&sub[i]);
    }

    return NGX_OK;
}


static void
ngx_http_hotkey_sub_connect(ngx_http_hotkey_sub_t *sub)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    sub->reader = hotkey_store_reader_create();
    if (sub->reader == NULL) {
        ngx_http_hotkey_sub_lost(sub, "no memory");
        return;
    }

    rc = ngx_event_connect_peer(&sub->pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_hotkey_sub_lost(sub, "cannot connect");
        return;
    }

    c = sub->pc.connection;
    c->data = sub;
    c->log_error = NGX_ERROR_INFO;      /* the loss is logged once, below */
    c->idle = 1;

    /* a TLS store: whatever event comes first starts the handshake */

    c->read->handler = sub->tls ? ngx_http_hotkey_sub_tls
                                : ngx_http_hotkey_sub_read;
    c->write->handler = sub->tls ? ngx_http_hotkey_sub_tls
                                 : ngx_http_hotkey_sub_write;

    sub->out = sub->hello;
    sub->sent = 0;
    sub->skip = sub->auth;

    ngx_add_timer(c->write, NGX_HTTP_HOTKEY_SUB_PING);

    if (rc == NGX_OK) {
        c->write->handler(c->write);
    }
}


static void
ngx_http_hotkey_sub_write(ngx_event_t *wev)
{
    ssize_t                 n;
    ngx_connection_t       *c;
    ngx_http_hotkey_sub_t  *sub;

    c = wev->data;
    sub = c->data;

    if (wev->timedout) {
        ngx_http_hotkey_sub_lost(sub, "timed out");
        return;
    }

    while (sub->sent < sub->out.len) {
        n = c->send(c, sub->out.data + sub->sent, sub->out.len - sub->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_hotkey_sub_lost(sub, "write event");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_hotkey_sub_lost(sub, "send failed");
            return;
        }

        sub->sent += n;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }
}


/*
 * connected to a TLS store: the handshake, then the subscription; bytes
 * the store sends before it are the handshake's, never a reply
 */

static void
ngx_http_hotkey_sub_tls(ngx_event_t *ev)
{
    ngx_int_t               rc;
    ngx_connection_t       *c;
    ngx_http_hotkey_sub_t  *sub;

    c = ev->data;
    sub = c->data;

    if (ev->timedout) {
        ngx_http_hotkey_sub_lost(sub, "timed out");
        return;
    }

    rc = ngx_http_hotkey_tls_start(c, sub->tls,
                                   ngx_http_hotkey_sub_handshake);

    if (rc == NGX_ERROR) {
        ngx_http_hotkey_sub_lost(sub, "TLS handshake failed");
        return;
    }

    if (rc == NGX_OK) {
        ngx_http_hotkey_sub_handshake(c);
    }
}


static void
ngx_http_hotkey_sub_handshake(ngx_connection_t *c)
{
    ngx_http_hotkey_sub_t  *sub;

    sub = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_hotkey_sub_lost(sub, c->write->timedout
                                      ? "timed out"
                                      : "TLS handshake failed");
        return;
    }

    c->read->handler = ngx_http_hotkey_sub_read;
    c->write->handler = ngx_http_hotkey_sub_write;

    ngx_http_hotkey_sub_write(c->write);
}


static ngx_int_t
ngx_http_hotkey_sub_send(ngx_http_hotkey_sub_t *sub, const char *cmd,
    size_t len)
{
    if (sub->sent < sub->out.len) {
        return NGX_OK;
    }

    sub->out.data = (u_char *) cmd;
    sub->out.len = len;
    sub->sent = 0;

    ngx_http_hotkey_sub_write(sub->pc.connection->write);

    return NGX_OK;
}


static void
ngx_http_hotkey_sub_read(ngx_event_t *rev)
{
    void                   *reply;
    ssize_t                 n;
    ngx_connection_t       *c;
    ngx_http_hotkey_sub_t  *sub;

    c = rev->data;
    sub = c->data;

    if (c->close) {
        ngx_http_hotkey_sub_lost(sub, NULL);
        return;
    }

    for ( ;; ) {
        n = c->recv(c, sub->buf, NGX_HTTP_HOTKEY_SUB_BUF);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_hotkey_sub_lost(sub, "connection closed");
            return;
        }

        if (redisReaderFeed(sub->reader, (char *) sub->buf, n) != REDIS_OK) {
            ngx_http_hotkey_sub_lost(sub, "invalid reply");
            return;
        }

        for ( ;; ) {
            if (redisReaderGetReply(sub->reader, &reply) != REDIS_OK) {
                ngx_http_hotkey_sub_lost(sub, "invalid reply");
                return;
            }

            if (reply == NULL) {
                break;
            }

            if (ngx_http_hotkey_sub_reply(sub, reply) != NGX_OK) {
                freeReplyObject(reply);
                ngx_http_hotkey_sub_lost(sub, "unexpected reply");
                return;
            }

            freeReplyObject(reply);
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_hotkey_sub_lost(sub, "read event");
    }
}


static ngx_int_t
ngx_http_hotkey_sub_word(redisReply *e, const char *s)
{
    size_t  n;

    n = ngx_strlen(s);

    return e->type == REDIS_REPLY_STRING && (size_t) e->len == n
           && ngx_strncmp(e->str, s, n) == 0;
}


/* ["subscribe", ch, 1], ["message", ch, instance], ["pong", ""] */

static ngx_int_t
ngx_http_hotkey_sub_reply(ngx_http_hotkey_sub_t *sub, redisReply *r)
{
    if (sub->skip) {
        sub->skip = 0;

        /* refused: SUBSCRIBE's own reply tells whether it needed AUTH */

        if (r->type != REDIS_REPLY_STATUS) {
            ngx_log_error(NGX_LOG_ERR, sub->pc.log, 0,
                          "hotkey: %V refused AUTH: %*s", sub->pc.name,
                          ngx_min(r->len, 200), r->str ? r->str : "");
        }

        return NGX_OK;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        return NGX_ERROR;
    }

    if (ngx_http_hotkey_sub_word(r->element[0], "pong")) {

        /* a link that answers a PING has held: back to quick retries */

        sub->pinged = 0;
        sub->backoff = NGX_HTTP_HOTKEY_SUB_RETRY;
        return NGX_OK;
    }

    if (r->elements != 3) {
        return NGX_ERROR;
    }

    if (ngx_http_hotkey_sub_word(r->element[0], "message")) {
        if (r->element[2]->type == REDIS_REPLY_STRING
            && hotkey_uuid_valid(r->element[2]->str, r->element[2]->len))
        {
            ngx_http_hotkey_cache_drop_all((ngx_cycle_t *) ngx_cycle,
                                           (u_char *) r->element[2]->str);
        }

        return NGX_OK;
    }

    if (!ngx_http_hotkey_sub_word(r->element[0], "subscribe") || sub->up) {
        return NGX_ERROR;
    }

    sub->up = 1;

    if (sub->group) {
        ngx_http_hotkey_sub_group_up(sub);

    } else {
        ngx_http_hotkey_sub_back(sub, sub->ever);
        ngx_http_hotkey_subs_down--;
    }

    sub->ever = 1;

    ngx_add_timer(&sub->ping, NGX_HTTP_HOTKEY_SUB_PING);

    return NGX_OK;
}


/* back after a loss: whatever changed meanwhile is unknown */

static void
ngx_http_hotkey_sub_back(ngx_http_hotkey_sub_t *sub, ngx_uint_t lost)
{
    if (!lost) {
        return;
    }

    ngx_http_hotkey_cache_drop_all((ngx_cycle_t *) ngx_cycle, NULL);
    ngx_log_error(NGX_LOG_NOTICE, sub->pc.log, 0,
                  "hotkey: following %V again, cached answers dropped",
                  sub->pc.name);
}


/* a cluster's writes were missed only while none of its nodes was heard */

static void
ngx_http_hotkey_sub_group_up(ngx_http_hotkey_sub_t *sub)
{
    ngx_http_hotkey_sub_group_t  *group;

    group = sub->group;

    if (group->up++ == 0) {
        ngx_http_hotkey_sub_back(sub, group->ever);
        ngx_http_hotkey_subs_down--;
        group->ever = 1;
    }
}


static void
ngx_http_hotkey_sub_ping(ngx_event_t *ev)
{
    ngx_http_hotkey_sub_t  *sub = ev->data;

    if (sub->pinged) {
        ngx_http_hotkey_sub_lost(sub, "no answer to PING");
        return;
    }

    sub->pinged = 1;

    (void) ngx_http_hotkey_sub_send(sub, ngx_http_hotkey_ping_cmd,
                                    sizeof(ngx_http_hotkey_ping_cmd) - 1);

    if (sub->pc.connection) {
        ngx_add_timer(&sub->ping, NGX_HTTP_HOTKEY_SUB_PING);
    }
}


static void
ngx_http_hotkey_sub_lost(ngx_http_hotkey_sub_t *sub, const char *why)
{
    if (sub->pc.connection) {
        ngx_http_hotkey_tls_close(sub->pc.connection);
        sub->pc.connection = NULL;
    }

    if (sub->reader) {
        redisReaderFree(sub->reader);
        sub->reader = NULL;
    }

    if (sub->ping.timer_set) {
        ngx_del_timer(&sub->ping);
    }

    if (sub->up) {
        sub->up = 0;

        if (sub->group == NULL || --sub->group->up == 0) {
            ngx_http_hotkey_subs_down++;
        }
    }

    sub->pinged = 0;

    if (why == NULL || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, sub->pc.log, 0,
                  "hotkey: the subscription to %V is lost (%s), "
                  "retrying in %M ms", sub->pc.name, why, sub->backoff);

    ngx_add_timer(&sub->retry, sub->backoff);

    sub->backoff = ngx_min(sub->backoff * 2, NGX_HTTP_HOTKEY_SUB_RETRY_MAX);
}


static void
ngx_http_hotkey_sub_retry(ngx_event_t *ev)
{
    ngx_http_hotkey_sub_connect(ev->data);
}


void
ngx_http_hotkey_sub_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t              i;
    ngx_http_hotkey_sub_t  *sub;

    if (ngx_http_hotkey_subs.elts == NULL) {
        return;
    }

    sub = ngx_http_hotkey_subs.elts;

    for (i = 0; i < ngx_http_hotkey_subs.nelts; i++) {
        if (sub[i].reader) {
            redisReaderFree(sub[i].reader);
            sub[i].reader = NULL;
        }
    }
}
