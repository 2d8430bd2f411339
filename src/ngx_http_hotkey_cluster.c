/*
 * A Redis Cluster as the task store: "hotkey_store_cluster" in an
 * upstream {} of seed nodes makes it a balancer that sends each request
 * to the master of its instance's slot.
 *
 * The slot map lives in shared memory, one per cluster: a worker copies
 * it into its own view when its version moves, so that the request path
 * reads it without a lock.  It is loaded with CLUSTER SLOTS by one worker
 * at a time (a lease in the zone), at start, every "refresh", and soon
 * after a MOVED or a node that failed; a MOVED also corrects its one slot
 * at once.  Each request may follow a bounded number of redirects: the
 * upstream's next-upstream path connects again (keepalive per node), and
 * ASK sends ASKING before the script.  A node that failed in a request is
 * not tried again by it: another node is asked, and its MOVED says where
 * the slot went (or that it has no master yet: 500).
 */

#include "ngx_http_hotkey_module.h"
#include "hotkey_cluster.h"


#define NGX_HTTP_HOTKEY_CLUSTER_ZONE      (128 * 1024)
#define NGX_HTTP_HOTKEY_CLUSTER_TICK      1000
#define NGX_HTTP_HOTKEY_CLUSTER_LEASE     3000
#define NGX_HTTP_HOTKEY_CLUSTER_SOON      100
#define NGX_HTTP_HOTKEY_CLUSTER_BUF       4096
#define NGX_HTTP_HOTKEY_CLUSTER_MAX_REPLY (1024 * 1024)
#define NGX_HTTP_HOTKEY_CLUSTER_TRIES     17        /* redirects=16, + 1 */


typedef struct {
    ngx_atomic_t                version;
    ngx_uint_t                  gen;        /* the seeds' configuration */
    ngx_msec_t                  due;        /* next refresh */
    ngx_msec_t                  lease;      /* a worker refreshes until */
    hotkey_cluster_map_t        map;
} ngx_http_hotkey_cluster_sh_t;


typedef struct {
    ngx_sockaddr_t              sockaddr;
    socklen_t                   socklen;
    ngx_str_t                   name;
    u_char                      text[HOTKEY_CLUSTER_ADDR_LEN + 2];
} ngx_http_hotkey_cluster_node_t;


typedef struct {
    ngx_peer_connection_t       pc;
    ngx_event_t                 tick;
    redisReader                *reader;
    u_char                     *buf;
    hotkey_cluster_map_t       *map;        /* read into, then published */
    ngx_uint_t                  next;       /* the node asked next */
    ngx_uint_t                  left;       /* nodes left this round */
    u_char                      host[NGX_SOCKADDR_STRLEN + 1];
    ngx_str_t                   cmd;        /* [AUTH] CLUSTER SLOTS */
    ngx_http_hotkey_tls_t      *tls;
    size_t                      sent;
    size_t                      received;
    unsigned                    auth:1;     /* AUTH first */
    unsigned                    skip:1;
    unsigned                    busy:1;
} ngx_http_hotkey_cluster_refresh_t;


typedef struct {
    ngx_sockaddr_t                   sockaddr;
    socklen_t                        socklen;
} ngx_http_hotkey_cluster_addr_t;


struct ngx_http_hotkey_cluster_peer_s {
    ngx_http_hotkey_cluster_t       *cl;
    ngx_pool_t                      *pool;
    ngx_uint_t                       slot;
    ngx_int_t                        node;      /* -1 a seed, -2 "to" */
    ngx_http_hotkey_cluster_addr_t  *failed;    /* the nodes that failed */
    ngx_uint_t                       nfailed;
    ngx_http_hotkey_cluster_node_t   to;        /* a MOVED's or ASK's */
    ngx_sockaddr_t                   sockaddr;
    socklen_t                        socklen;
    ngx_str_t                        name;
    u_char                           text[HOTKEY_CLUSTER_ADDR_LEN + 2];

    /* the location's, and its copy that retries a redirect whatever */
    ngx_http_upstream_conf_t        *conf;
    ngx_http_upstream_conf_t        *redirect_conf;

    unsigned                         go:1;      /* the next try to "to" */
    unsigned                         redirected:1;
};


struct ngx_http_hotkey_cluster_s {
    ngx_http_upstream_srv_conf_t    *uscf;
    ngx_shm_zone_t                  *zone;
    ngx_slab_pool_t                 *shpool;
    ngx_http_hotkey_cluster_sh_t    *sh;
    ngx_uint_t                       gen;       /* sh->gen when started */
    ngx_msec_t                       refresh;
    ngx_uint_t                       redirects;

    ngx_http_hotkey_cluster_node_t  *seeds;
    ngx_uint_t                       nseeds;

    /* this worker's view of the map */
    ngx_atomic_uint_t                version;
    ngx_http_hotkey_cluster_node_t  *nodes;
    ngx_uint_t                       nnodes;
    uint8_t                         *slots;
    ngx_uint_t                       probe;

    ngx_http_hotkey_cluster_refresh_t  *rf;
};


static ngx_int_t ngx_http_hotkey_cluster_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_hotkey_cluster_same_seeds(
    ngx_http_hotkey_cluster_t *cl, ngx_http_hotkey_cluster_t *ocl);
static ngx_int_t ngx_http_hotkey_cluster_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_hotkey_cluster_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_hotkey_cluster_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_hotkey_cluster_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static void ngx_http_hotkey_cluster_sync(ngx_http_hotkey_cluster_t *cl);
static ngx_int_t ngx_http_hotkey_cluster_node(
    ngx_http_hotkey_cluster_node_t *n, const char *host, unsigned port);
static void ngx_http_hotkey_cluster_soon(ngx_http_hotkey_cluster_t *cl);
static void ngx_http_hotkey_cluster_check(ngx_http_hotkey_cluster_t *cl);
static void ngx_http_hotkey_cluster_tick(ngx_event_t *ev);
static void ngx_http_hotkey_cluster_ask_next(ngx_http_hotkey_cluster_t *cl);
static void ngx_http_hotkey_cluster_write(ngx_event_t *wev);
static void ngx_http_hotkey_cluster_tls(ngx_event_t *ev);
static void ngx_http_hotkey_cluster_handshake(ngx_connection_t *c);
static void ngx_http_hotkey_cluster_read(ngx_event_t *rev);
static void ngx_http_hotkey_cluster_done(ngx_http_hotkey_cluster_t *cl,
    ngx_int_t ok, const char *why);


static ngx_str_t  ngx_http_hotkey_cluster_zone_prefix =
    ngx_string("hotkey_cluster:");

static const char  ngx_http_hotkey_cluster_cmd[] =
    "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";


/* hotkey_store_cluster [refresh=time] [redirects=n], in an upstream {} */

char *
ngx_http_hotkey_store_cluster(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                     *value, name;
    ngx_int_t                      n;
    ngx_uint_t                     i;
    ngx_http_hotkey_cluster_t     *cl, **clp;
    ngx_http_upstream_srv_conf_t  *uscf;
    ngx_http_hotkey_main_conf_t   *hmcf;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);
    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hotkey_module);

    if (uscf->peer.init_upstream) {
        return "is after another balancer in this upstream: a cluster "
               "chooses its nodes itself";
    }

    cl = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_cluster_t));
    if (cl == NULL) {
        return NGX_CONF_ERROR;
    }

    cl->uscf = uscf;
    cl->refresh = 10000;
    cl->redirects = 5;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "refresh=", 8) == 0) {
            name.data = value[i].data + 8;
            name.len = value[i].len - 8;
            n = ngx_parse_time(&name, 0);

            if (n == NGX_ERROR || n < 1000) {
                return "has an invalid \"refresh\": at least 1s";
            }

            cl->refresh = (ngx_msec_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "redirects=", 10) == 0) {
            n = ngx_atoi(value[i].data + 10, value[i].len - 10);

            if (n == NGX_ERROR || n < 1 || n > 16) {
                return "has an invalid \"redirects\": 1 to 16";
            }

            cl->redirects = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    name.len = ngx_http_hotkey_cluster_zone_prefix.len + uscf->host.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "%V%V", &ngx_http_hotkey_cluster_zone_prefix,
                &uscf->host);

    cl->zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_HOTKEY_CLUSTER_ZONE,
                                     &ngx_http_hotkey_cluster_zone_prefix);
    if (cl->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cl->zone->data) {
        return "is duplicate";
    }

    cl->zone->init = ngx_http_hotkey_cluster_init_zone;
    cl->zone->data = cl;

    clp = ngx_array_push(&hmcf->clusters);
    if (clp == NULL) {
        return NGX_CONF_ERROR;
    }

    *clp = cl;

    uscf->peer.init_upstream = ngx_http_hotkey_cluster_init_upstream;
    uscf->flags = NGX_HTTP_UPSTREAM_CREATE;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_hotkey_cluster_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_hotkey_cluster_t  *ocl = data;

    ngx_http_hotkey_cluster_t  *cl;

    cl = zone->data;
    cl->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (ocl || zone->shm.exists) {
        cl->sh = ocl ? ocl->sh : cl->shpool->data;

        /*
         * Other seeds may be another cluster: the map of the old ones
         * goes, and the old workers no longer write it (their MOVED or
         * refresh would bring the old cluster back).
         */

        if (ocl && ngx_http_hotkey_cluster_same_seeds(cl, ocl)) {
            cl->gen = cl->sh->gen;
            return NGX_OK;
        }

        ngx_shmtx_lock(&cl->shpool->mutex);

        hotkey_cluster_map_init(&cl->sh->map);
        cl->sh->gen++;
        cl->sh->version++;
        cl->sh->due = ngx_current_msec;
        cl->gen = cl->sh->gen;

        ngx_shmtx_unlock(&cl->shpool->mutex);

        return NGX_OK;
    }

    cl->sh = ngx_slab_alloc(cl->shpool, sizeof(ngx_http_hotkey_cluster_sh_t));
    if (cl->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(cl->sh, sizeof(ngx_http_hotkey_cluster_sh_t));
    hotkey_cluster_map_init(&cl->sh->map);
    cl->shpool->data = cl->sh;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_cluster_same_seeds(ngx_http_hotkey_cluster_t *cl,
    ngx_http_hotkey_cluster_t *ocl)
{
    ngx_uint_t  i;

    if (cl->nseeds != ocl->nseeds) {
        return 0;
    }

    for (i = 0; i < cl->nseeds; i++) {
        if (ngx_cmp_sockaddr(&cl->seeds[i].sockaddr.sockaddr,
                             cl->seeds[i].socklen,
                             &ocl->seeds[i].sockaddr.sockaddr,
                             ocl->seeds[i].socklen, 1)
            != NGX_OK)
        {
            return 0;
        }
    }

    return 1;
}


/* the seeds: the upstream's servers, which must be IP addresses */

static ngx_int_t
ngx_http_hotkey_cluster_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                       i;
    ngx_http_upstream_rr_peer_t     *p;
    ngx_http_upstream_rr_peers_t    *peers;
    ngx_http_hotkey_cluster_t       *cl;
    ngx_http_hotkey_cluster_node_t  *s;

    cl = ngx_http_hotkey_cluster_find(cf->cycle, us);

    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_hotkey_cluster_init_peer;
    peers = us->peer.data;

    cl->seeds = ngx_pcalloc(cf->pool, peers->number
                                      * sizeof(ngx_http_hotkey_cluster_node_t));
    cl->nodes = ngx_pcalloc(cf->pool, HOTKEY_CLUSTER_NODES
                                      * sizeof(ngx_http_hotkey_cluster_node_t));
    cl->slots = ngx_pnalloc(cf->pool, HOTKEY_CLUSTER_SLOTS);

    if (cl->seeds == NULL || cl->nodes == NULL || cl->slots == NULL) {
        return NGX_ERROR;
    }

    ngx_memset(cl->slots, HOTKEY_CLUSTER_NONE, HOTKEY_CLUSTER_SLOTS);

    for (p = peers->peer, i = 0; p; p = p->next, i++) {
        if (p->sockaddr->sa_family != AF_INET
#if (NGX_HAVE_INET6)
            && p->sockaddr->sa_family != AF_INET6
#endif
           )
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "cluster store \"%V\": server \"%V\" is not an IP "
                          "address and port", &us->host, &p->name);
            return NGX_ERROR;
        }

        s = &cl->seeds[i];
        ngx_memcpy(&s->sockaddr, p->sockaddr, p->socklen);
        s->socklen = p->socklen;
        s->name = p->name;
    }

    cl->nseeds = i;

    return NGX_OK;
}


ngx_http_hotkey_cluster_t *
ngx_http_hotkey_cluster_find(ngx_cycle_t *cycle,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                    i;
    ngx_http_hotkey_cluster_t   **cl;
    ngx_http_hotkey_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hotkey_module);
    if (hmcf == NULL) {
        return NULL;
    }

    cl = hmcf->clusters.elts;

    for (i = 0; i < hmcf->clusters.nelts; i++) {
        if (cl[i]->uscf == us) {
            return cl[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_hotkey_cluster_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_t             *u;
    ngx_http_hotkey_ctx_t           *ctx;
    ngx_http_hotkey_cluster_peer_t  *p;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);
    u = r->upstream;

    if (ctx == NULL || ctx->route.instance == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pcalloc(r->pool, sizeof(ngx_http_hotkey_cluster_peer_t));
    if (p == NULL) {
        return NGX_ERROR;
    }

    p->cl = ngx_http_hotkey_cluster_find((ngx_cycle_t *) ngx_cycle, us);
    if (p->cl == NULL) {
        return NGX_ERROR;
    }

    p->slot = hotkey_cluster_instance_slot(ctx->route.instance,
                                           ctx->route.instance_len);
    p->node = -1;
    p->pool = r->pool;

    ctx->store.cluster = p;

    u->peer.data = p;
    u->peer.get = ngx_http_hotkey_cluster_get_peer;
    u->peer.free = ngx_http_hotkey_cluster_free_peer;
    u->peer.tries = p->cl->redirects + 1;

    return NGX_OK;
}


static void
ngx_http_hotkey_cluster_use(ngx_peer_connection_t *pc,
    ngx_http_hotkey_cluster_peer_t *p, ngx_http_hotkey_cluster_node_t *n)
{
    ngx_memcpy(&p->sockaddr, &n->sockaddr, n->socklen);
    p->socklen = n->socklen;
    p->name.len = ngx_min(n->name.len, sizeof(p->text));
    p->name.data = p->text;
    ngx_memcpy(p->text, n->name.data, p->name.len);

    pc->sockaddr = &p->sockaddr.sockaddr;
    pc->socklen = n->socklen;
    pc->name = &p->name;
    pc->cached = 0;
    pc->connection = NULL;
}


/* a node that failed in this request is not asked again by it */

static ngx_uint_t
ngx_http_hotkey_cluster_failed(ngx_http_hotkey_cluster_peer_t *p,
    ngx_http_hotkey_cluster_node_t *n)
{
    ngx_uint_t  i;

    for (i = 0; i < p->nfailed; i++) {
        if (ngx_cmp_sockaddr(&p->failed[i].sockaddr.sockaddr,
                             p->failed[i].socklen,
                             &n->sockaddr.sockaddr, n->socklen, 1)
            == NGX_OK)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_hotkey_cluster_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_hotkey_cluster_peer_t *p = data;

    ngx_uint_t                       i, n;
    ngx_http_hotkey_cluster_t       *cl;
    ngx_http_hotkey_cluster_node_t  *s;

    cl = p->cl;
    ngx_http_hotkey_cluster_sync(cl);

    if (p->go) {
        p->go = 0;
        p->node = -2;
        ngx_http_hotkey_cluster_use(pc, p, &p->to);
        return NGX_OK;
    }

    n = cl->slots[p->slot];

    if (n != HOTKEY_CLUSTER_NONE && n < cl->nnodes
        && !ngx_http_hotkey_cluster_failed(p, &cl->nodes[n]))
    {
        p->node = n;
        ngx_http_hotkey_cluster_use(pc, p, &cl->nodes[n]);
        return NGX_OK;
    }

    /* no master known, or it failed: another node says where it went */

    for (i = 0; i < cl->nnodes; i++) {
        n = cl->probe++ % cl->nnodes;

        if (!ngx_http_hotkey_cluster_failed(p, &cl->nodes[n])) {
            p->node = n;
            ngx_http_hotkey_cluster_use(pc, p, &cl->nodes[n]);
            return NGX_OK;
        }
    }

    for (i = 0; i < cl->nseeds; i++) {
        s = &cl->seeds[cl->probe++ % cl->nseeds];

        if (!ngx_http_hotkey_cluster_failed(p, s)) {
            p->node = -1;
            ngx_http_hotkey_cluster_use(pc, p, s);
            return NGX_OK;
        }
    }

    /* every node this request could ask failed: 500 */

    pc->name = &p->cl->uscf->host;

    return NGX_BUSY;
}


static void
ngx_http_hotkey_cluster_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_hotkey_cluster_peer_t *p = data;

    ngx_http_hotkey_cluster_addr_t  *a;

    if ((state & NGX_PEER_FAILED) && !p->redirected) {
        if (p->failed == NULL) {
            p->failed = ngx_palloc(p->pool, NGX_HTTP_HOTKEY_CLUSTER_TRIES
                                   * sizeof(ngx_http_hotkey_cluster_addr_t));
        }

        if (p->failed && p->nfailed < NGX_HTTP_HOTKEY_CLUSTER_TRIES) {
            a = &p->failed[p->nfailed++];
            ngx_memcpy(&a->sockaddr, &p->sockaddr, p->socklen);
            a->socklen = p->socklen;
        }

        ngx_http_hotkey_cluster_soon(p->cl);
    }

    p->redirected = 0;

    if (pc->tries) {
        pc->tries--;
    }
}


/*
 * A MOVED, ASK or TRYAGAIN: NGX_OK when the request goes on (another
 * node, or the same later), NGX_DECLINED when it cannot: the slot's
 * master is the node that failed, the redirects are spent, or this store
 * is no cluster.
 */

ngx_int_t
ngx_http_hotkey_cluster_redirect(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, const char *str, size_t len)
{
    int                              idx;
    hotkey_redirect_t                rd;
    ngx_http_upstream_t             *u;
    ngx_http_upstream_conf_t        *conf;
    ngx_http_hotkey_cluster_t       *cl;
    ngx_http_hotkey_cluster_peer_t  *p;
    ngx_http_hotkey_cluster_node_t   node;

    p = ctx->store.cluster;
    idx = -1;
    u = r->upstream;

    if (p == NULL) {
        return NGX_DECLINED;
    }

    cl = p->cl;

    switch (hotkey_cluster_redirect(str, len, &rd)) {

    case HOTKEY_REDIRECT_TRYAGAIN:
        return NGX_AGAIN;

    case HOTKEY_REDIRECT_MOVED:
    case HOTKEY_REDIRECT_ASK:
        break;

    default:
        ngx_http_hotkey_cluster_soon(cl);
        return NGX_DECLINED;
    }

    if (rd.host[0] == '\0') {
        if (ngx_sock_ntop(u->peer.sockaddr, u->peer.socklen,
                          (u_char *) rd.host, sizeof(rd.host) - 1, 0)
            == 0)
        {
            return NGX_DECLINED;
        }
    }

    if (ngx_http_hotkey_cluster_node(&node, rd.host, rd.port) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey store: redirect to \"%s\", not an IP address",
                      rd.host);
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "hotkey store: %s %ui to %V",
                  rd.type == HOTKEY_REDIRECT_ASK ? "ASK" : "MOVED",
                  (ngx_uint_t) rd.slot, &node.name);

    /*
     * The scripts use the keys of one slot, the instance's: a redirect
     * for another is not followed, nor one to a node that failed in this
     * request (it would only say where the slot went, or run a write
     * again).
     */

    if (rd.slot != p->slot || ngx_http_hotkey_cluster_failed(p, &node)) {
        ngx_http_hotkey_cluster_soon(cl);
        return NGX_DECLINED;
    }

    if (rd.type == HOTKEY_REDIRECT_ASK) {
        ctx->store.ask = 1;

    } else {
        ngx_shmtx_lock(&cl->shpool->mutex);

        /* a worker of an older configuration does not write the map */

        if (cl->gen == cl->sh->gen) {
            idx = hotkey_cluster_map_node(&cl->sh->map, rd.host,
                                          strlen(rd.host), rd.port);
            if (idx >= 0 && cl->sh->map.slots[rd.slot] != idx) {
                cl->sh->map.slots[rd.slot] = (uint8_t) idx;
                cl->sh->version++;
            }
        }

        ngx_shmtx_unlock(&cl->shpool->mutex);

        ngx_http_hotkey_cluster_soon(cl);
        ngx_http_hotkey_cluster_sync(cl);
    }

    /* the next attempt goes where the redirect said, whatever the map */

    p->to = node;
    p->to.name.data = p->to.text;
    p->go = 1;

    if (u->peer.tries <= 1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey store: too many redirects");
        return NGX_DECLINED;
    }

    /*
     * A redirect is retried whatever the method: the script did not run.
     * Only the redirect: the next attempt goes back to the location's
     * conf (ngx_http_hotkey_cluster_reinit), so that a write that timed
     * out or failed there is not run again.
     */

    if (p->redirect_conf == NULL) {
        conf = ngx_palloc(r->pool, sizeof(ngx_http_upstream_conf_t));
        if (conf == NULL) {
            return NGX_DECLINED;
        }

        ngx_memcpy(conf, u->conf, sizeof(ngx_http_upstream_conf_t));
        conf->next_upstream |= NGX_HTTP_UPSTREAM_FT_INVALID_HEADER
                               |NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT;
        p->conf = u->conf;
        p->redirect_conf = conf;
    }

    u->conf = p->redirect_conf;
    p->redirected = 1;

    return NGX_OK;
}


/* another attempt starts (its connection is there): the location's conf */

void
ngx_http_hotkey_cluster_reinit(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx)
{
    ngx_http_hotkey_cluster_peer_t  *p;

    p = ctx->store.cluster;

    if (p && p->conf) {
        r->upstream->conf = p->conf;
    }
}


/* the worker's view follows the zone's map when its version moved */

static void
ngx_http_hotkey_cluster_sync(ngx_http_hotkey_cluster_t *cl)
{
    ngx_uint_t                     i;
    hotkey_cluster_map_t          *m;
    ngx_http_hotkey_cluster_sh_t  *sh;

    sh = cl->sh;

    if (cl->version == sh->version) {
        return;
    }

    m = &sh->map;

    ngx_shmtx_lock(&cl->shpool->mutex);

    cl->version = sh->version;
    ngx_memcpy(cl->slots, m->slots, HOTKEY_CLUSTER_SLOTS);

    for (i = 0; i < m->nnodes; i++) {
        if (ngx_http_hotkey_cluster_node(&cl->nodes[i], m->nodes[i].host,
                                         m->nodes[i].port)
            != NGX_OK)
        {
            /* a host name: its slots go to other nodes, which redirect */
            cl->nodes[i] = cl->seeds[i % cl->nseeds];
        }
    }

    cl->nnodes = m->nnodes;

    ngx_shmtx_unlock(&cl->shpool->mutex);
}


static ngx_int_t
ngx_http_hotkey_cluster_node(ngx_http_hotkey_cluster_node_t *n,
    const char *host, unsigned port)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ngx_memzero(&n->sockaddr, sizeof(ngx_sockaddr_t));

    sin = &n->sockaddr.sockaddr_in;

    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((in_port_t) port);
        n->socklen = sizeof(struct sockaddr_in);

#if (NGX_HAVE_INET6)
    } else if (inet_pton(AF_INET6, host,
                         &n->sockaddr.sockaddr_in6.sin6_addr) == 1)
    {
        sin6 = &n->sockaddr.sockaddr_in6;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((in_port_t) port);
        n->socklen = sizeof(struct sockaddr_in6);
#endif

    } else {
        return NGX_ERROR;
    }

    n->name.data = n->text;
    n->name.len = hotkey_cluster_addr((char *) n->text, sizeof(n->text),
                                      host, port);

    return NGX_OK;
}


/* a refresh soon: after a MOVED, or a node that failed */

static void
ngx_http_hotkey_cluster_soon(ngx_http_hotkey_cluster_t *cl)
{
    ngx_msec_t  due;

    due = ngx_current_msec + NGX_HTTP_HOTKEY_CLUSTER_SOON;

    ngx_shmtx_lock(&cl->shpool->mutex);

    if ((ngx_msec_int_t) (cl->sh->due - due) > 0) {
        cl->sh->due = due;
    }

    ngx_shmtx_unlock(&cl->shpool->mutex);

    if (cl->rf && !cl->rf->busy && cl->rf->tick.timer_set) {
        ngx_add_timer(&cl->rf->tick, NGX_HTTP_HOTKEY_CLUSTER_SOON);
    }
}


ngx_int_t
ngx_http_hotkey_cluster_init_process(ngx_cycle_t *cycle)
{
    ngx_str_t                          *auth;
    ngx_uint_t                          i;
    ngx_http_hotkey_cluster_t         **cl;
    ngx_http_hotkey_main_conf_t        *hmcf;
    ngx_http_hotkey_cluster_refresh_t  *rf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hotkey_module);

    if (hmcf == NULL
        || (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE))
    {
        return NGX_OK;
    }

    cl = hmcf->clusters.elts;

    for (i = 0; i < hmcf->clusters.nelts; i++) {
        rf = ngx_pcalloc(cycle->pool,
                         sizeof(ngx_http_hotkey_cluster_refresh_t));
        if (rf == NULL) {
            return NGX_ERROR;
        }

        rf->buf = ngx_palloc(cycle->pool, NGX_HTTP_HOTKEY_CLUSTER_BUF);
        rf->map = ngx_palloc(cycle->pool, sizeof(hotkey_cluster_map_t));
        if (rf->buf == NULL || rf->map == NULL) {
            return NGX_ERROR;
        }

        auth = ngx_http_hotkey_password_cmd(hmcf, cl[i]->uscf);

        rf->auth = auth != NULL;
        rf->tls = ngx_http_hotkey_tls_find(hmcf, cl[i]->uscf);

        if (ngx_http_hotkey_password_prefix(cycle->pool, auth,
                                   ngx_http_hotkey_cluster_cmd,
                                   sizeof(ngx_http_hotkey_cluster_cmd) - 1,
                                   &rf->cmd)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        rf->pc.log = cycle->log;
        rf->pc.log_error = NGX_ERROR_ERR;
        rf->pc.get = ngx_event_get_peer;
        rf->next = ngx_random();

        rf->tick.handler = ngx_http_hotkey_cluster_tick;
        rf->tick.data = cl[i];
        rf->tick.log = cycle->log;
        rf->tick.cancelable = 1;

        cl[i]->rf = rf;

        ngx_http_hotkey_cluster_sync(cl[i]);
        ngx_http_hotkey_cluster_check(cl[i]);
    }

    return NGX_OK;
}


static void
ngx_http_hotkey_cluster_tick(ngx_event_t *ev)
{
    ngx_http_hotkey_cluster_check(ev->data);
}


/* this worker refreshes when one is due and no other worker does */

static void
ngx_http_hotkey_cluster_check(ngx_http_hotkey_cluster_t *cl)
{
    ngx_uint_t                          take;
    ngx_msec_t                          now;
    ngx_http_hotkey_cluster_sh_t       *sh;
    ngx_http_hotkey_cluster_refresh_t  *rf;

    rf = cl->rf;

    if (rf->busy || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    sh = cl->sh;
    now = ngx_current_msec;
    take = 0;

    ngx_shmtx_lock(&cl->shpool->mutex);

    if ((ngx_msec_int_t) (now - sh->due) >= 0
        && (ngx_msec_int_t) (now - sh->lease) >= 0)
    {
        sh->lease = now + NGX_HTTP_HOTKEY_CLUSTER_LEASE;
        take = 1;
    }

    ngx_shmtx_unlock(&cl->shpool->mutex);

    if (!take) {
        ngx_add_timer(&rf->tick, NGX_HTTP_HOTKEY_CLUSTER_TICK);
        return;
    }

    rf->busy = 1;
    rf->left = cl->nnodes + cl->nseeds;

    if (rf->tick.timer_set) {
        ngx_del_timer(&rf->tick);
    }

    ngx_http_hotkey_cluster_ask_next(cl);
}


/* CLUSTER SLOTS to the next node, the known masters and the seeds */

static void
ngx_http_hotkey_cluster_ask_next(ngx_http_hotkey_cluster_t *cl)
{
    ngx_int_t                           rc;
    ngx_uint_t                          n;
    ngx_connection_t                   *c;
    ngx_http_hotkey_cluster_node_t     *node;
    ngx_http_hotkey_cluster_refresh_t  *rf;

    rf = cl->rf;

    if (rf->left == 0) {
        ngx_http_hotkey_cluster_done(cl, 0, NULL);
        return;
    }

    rf->left--;
    n = rf->next++ % (cl->nnodes + cl->nseeds);
    node = n < cl->nnodes ? &cl->nodes[n] : &cl->seeds[n - cl->nnodes];

    ngx_memzero(rf->host, sizeof(rf->host));
    (void) ngx_sock_ntop(&node->sockaddr.sockaddr, node->socklen, rf->host,
                         NGX_SOCKADDR_STRLEN, 0);

    rf->pc.sockaddr = &node->sockaddr.sockaddr;
    rf->pc.socklen = node->socklen;
    rf->pc.name = &node->name;
    rf->pc.connection = NULL;

    rf->reader = hotkey_store_reader_create();
    if (rf->reader == NULL) {
        ngx_http_hotkey_cluster_done(cl, 0, "no memory");
        return;
    }

    rf->sent = 0;
    rf->received = 0;
    rf->skip = rf->auth;

    rc = ngx_event_connect_peer(&rf->pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_hotkey_cluster_done(cl, -1, "cannot connect");
        return;
    }

    c = rf->pc.connection;
    c->data = cl;
    c->log_error = NGX_ERROR_INFO;
    c->idle = 1;

    /* a TLS store: whatever event comes first starts the handshake */

    c->read->handler = rf->tls ? ngx_http_hotkey_cluster_tls
                               : ngx_http_hotkey_cluster_read;
    c->write->handler = rf->tls ? ngx_http_hotkey_cluster_tls
                                : ngx_http_hotkey_cluster_write;

    ngx_add_timer(c->read, NGX_HTTP_HOTKEY_CLUSTER_TICK);

    if (rc == NGX_OK) {
        c->write->handler(c->write);
    }
}


static void
ngx_http_hotkey_cluster_write(ngx_event_t *wev)
{
    ssize_t                             n;
    ngx_connection_t                   *c;
    ngx_http_hotkey_cluster_t          *cl;
    ngx_http_hotkey_cluster_refresh_t  *rf;

    c = wev->data;
    cl = c->data;
    rf = cl->rf;

    while (rf->sent < rf->cmd.len) {
        n = c->send(c, rf->cmd.data + rf->sent, rf->cmd.len - rf->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_hotkey_cluster_done(cl, -1, "write event");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_hotkey_cluster_done(cl, -1, "send failed");
            return;
        }

        rf->sent += n;
    }
}


/*
 * connected to a node of a TLS store: the handshake, then the command;
 * bytes the node sends before it are the handshake's, never a slot map
 */

static void
ngx_http_hotkey_cluster_tls(ngx_event_t *ev)
{
    ngx_int_t                   rc;
    ngx_connection_t           *c;
    ngx_http_hotkey_cluster_t  *cl;

    c = ev->data;
    cl = c->data;

    if (ev->timedout) {
        ngx_http_hotkey_cluster_done(cl, -1, "timed out");
        return;
    }

    rc = ngx_http_hotkey_tls_start(c, cl->rf->tls,
                                   ngx_http_hotkey_cluster_handshake);

    if (rc == NGX_ERROR) {
        ngx_http_hotkey_cluster_done(cl, -1, "TLS handshake failed");
        return;
    }

    if (rc == NGX_OK) {
        ngx_http_hotkey_cluster_handshake(c);
    }
}


static void
ngx_http_hotkey_cluster_handshake(ngx_connection_t *c)
{
    ngx_http_hotkey_cluster_t  *cl;

    cl = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_hotkey_cluster_done(cl, -1, c->read->timedout
                                             ? "timed out"
                                             : "TLS handshake failed");
        return;
    }

    c->read->handler = ngx_http_hotkey_cluster_read;
    c->write->handler = ngx_http_hotkey_cluster_write;

    ngx_http_hotkey_cluster_write(c->write);
}


static void
ngx_http_hotkey_cluster_read(ngx_event_t *rev)
{
    void                               *reply;
    ssize_t                             n;
    ngx_int_t                           rc;
    ngx_connection_t                   *c;
    ngx_http_hotkey_cluster_t          *cl;
    ngx_http_hotkey_cluster_refresh_t  *rf;

    c = rev->data;
    cl = c->data;
    rf = cl->rf;

    if (rev->timedout) {
        ngx_http_hotkey_cluster_done(cl, -1, "timed out");
        return;
    }

    for ( ;; ) {
        n = c->recv(c, rf->buf, NGX_HTTP_HOTKEY_CLUSTER_BUF);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_hotkey_cluster_done(cl, -1, "read event");
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_hotkey_cluster_done(cl, -1, "closed");
            return;
        }

        rf->received += n;

        if (rf->received > NGX_HTTP_HOTKEY_CLUSTER_MAX_REPLY
            || redisReaderFeed(rf->reader, (char *) rf->buf, n) != REDIS_OK
            || redisReaderGetReply(rf->reader, &reply) != REDIS_OK)
        {
            ngx_http_hotkey_cluster_done(cl, -1, "invalid reply");
            return;
        }

        if (reply && rf->skip) {

            /* AUTH's answer, then the map's in the same bytes or later */

            rf->skip = 0;
            rc = ((redisReply *) reply)->type == REDIS_REPLY_STATUS;
            freeReplyObject(reply);

            if (!rc || redisReaderGetReply(rf->reader, &reply) != REDIS_OK) {
                ngx_http_hotkey_cluster_done(cl, -1, "AUTH refused");
                return;
            }
        }

        if (reply) {
            break;
        }
    }

    rc = hotkey_cluster_map_read(rf->map, reply, (char *) rf->host) == 0
         ? 1 : -1;

    freeReplyObject(reply);

    ngx_http_hotkey_cluster_done(cl, rc, rc == 1 ? NULL : "not a slot map");
}


/*
 * ok 1: the map read is published; -1: this node failed, the next one is
 * asked; 0: no node answered, a refresh is due again in a second.
 */

static void
ngx_http_hotkey_cluster_done(ngx_http_hotkey_cluster_t *cl, ngx_int_t ok,
    const char *why)
{
    ngx_msec_t                          now;
    ngx_http_hotkey_cluster_sh_t       *sh;
    ngx_http_hotkey_cluster_refresh_t  *rf;

    rf = cl->rf;

    if (rf->pc.connection) {
        ngx_http_hotkey_tls_close(rf->pc.connection);
        rf->pc.connection = NULL;
    }

    if (rf->reader) {
        redisReaderFree(rf->reader);
        rf->reader = NULL;
    }

    if (why) {
        ngx_log_error(NGX_LOG_WARN, rf->pc.log, 0,
                      "hotkey cluster \"%V\": slot map from %V: %s",
                      &cl->uscf->host, rf->pc.name, why);
    }

    if (ok == -1 && !ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_http_hotkey_cluster_ask_next(cl);
        return;
    }

    sh = cl->sh;
    now = ngx_current_msec;

    ngx_shmtx_lock(&cl->shpool->mutex);

    if (ok == 1 && cl->gen == sh->gen) {
        ngx_memcpy(&sh->map, rf->map, sizeof(hotkey_cluster_map_t));
        sh->version++;
    }

    sh->due = now + (ok == 1 ? cl->refresh : NGX_HTTP_HOTKEY_CLUSTER_TICK);
    sh->lease = now;

    ngx_shmtx_unlock(&cl->shpool->mutex);

    rf->busy = 0;

    ngx_http_hotkey_cluster_sync(cl);

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(&rf->tick, NGX_HTTP_HOTKEY_CLUSTER_TICK);
    }
}


void
ngx_http_hotkey_cluster_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_http_hotkey_cluster_t   **cl;
    ngx_http_hotkey_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hotkey_module);

    if (hmcf == NULL) {
        return;
    }

    cl = hmcf->clusters.elts;

    for (i = 0; i < hmcf->clusters.nelts; i++) {
        if (cl[i]->rf == NULL) {
            continue;
        }

        if (cl[i]->rf->pc.connection) {
            ngx_http_hotkey_tls_close(cl[i]->rf->pc.connection);
            cl[i]->rf->pc.connection = NULL;
        }

        /* a refresh under way at exit: its reader too */

        if (cl[i]->rf->reader) {
            redisReaderFree(cl[i]->rf->reader);
            cl[i]->rf->reader = NULL;
        }
    }
}
