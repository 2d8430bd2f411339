/*
 * Requests waiting for another request's store round trip on the same
 * cache key.
 *
 * Each worker groups its waiters by key (a process-local rbtree).  The
 * cache entry records which workers wait (a bit each); whoever settles the
 * key wakes them: its own worker through a posted event, the others
 * through one eventfd per worker, made by the master before the fork and
 * read only by worker processes; the zone keeps, per worker, the tickets
 * that settled for it.  A woken worker first takes the groups of those
 * tickets off its trees, then resumes their waiters: a waiter that has to
 * wait again joins a new group, never the list being walked, and the
 * other groups are not even looked at.  A timer per waiter, set to the
 * end of the holder's lock, covers a holder that died.
 */

#include "ngx_http_hotkey_module.h"

#include <sys/eventfd.h>


typedef struct {
    ngx_http_hotkey_tnode_t     tn;         /* first: by table and key */
    ngx_http_hotkey_tnode_t     tk;         /* by table and ticket */
    ngx_queue_t                 waiters;
    ngx_http_hotkey_table_t    *table;
    ngx_atomic_uint_t           ticket;
    u_char                      tkey[sizeof(void *)
                                     + sizeof(ngx_atomic_uint_t)];
    u_char                      key[sizeof(void *)
                                    + NGX_HTTP_HOTKEY_KEY_MAX];
} ngx_http_hotkey_wgroup_t;


#define ngx_http_hotkey_wgroup_of_tk(n)                                      \
    ((ngx_http_hotkey_wgroup_t *)                                            \
         ((u_char *) (n) - offsetof(ngx_http_hotkey_wgroup_t, tk)))


static ngx_http_hotkey_wgroup_t *ngx_http_hotkey_wgroup_get(
    ngx_http_hotkey_cache_ctx_t *cc);
static void ngx_http_hotkey_wgroup_free(ngx_http_hotkey_wgroup_t *g);
static void ngx_http_hotkey_wgroup_ticket(ngx_http_hotkey_wgroup_t *g,
    ngx_atomic_uint_t ticket);
static ngx_http_hotkey_wgroup_t *ngx_http_hotkey_wgroup_by_ticket(
    ngx_http_hotkey_table_t *t, ngx_atomic_uint_t ticket);
static void ngx_http_hotkey_wgroup_ready(ngx_http_hotkey_wgroup_t *g,
    ngx_queue_t *ready);
static void ngx_http_hotkey_cache_told(ngx_http_hotkey_table_t *t,
    ngx_queue_t *ready);
static void ngx_http_hotkey_cache_unwait(ngx_http_hotkey_ctx_t *ctx);
static void ngx_http_hotkey_cache_wait_cleanup(void *data);
static void ngx_http_hotkey_cache_wait_timeout(ngx_event_t *ev);
static void ngx_http_hotkey_cache_resume(ngx_http_hotkey_ctx_t *ctx);
static void ngx_http_hotkey_cache_settle(ngx_http_hotkey_table_t *t,
    ngx_queue_t *ready);
static void ngx_http_hotkey_cache_ready_all(ngx_queue_t *ready);
static void ngx_http_hotkey_cache_set_gen(ngx_http_hotkey_main_conf_t *hmcf);
static void ngx_http_hotkey_cache_wake_handler(ngx_event_t *ev);
static void ngx_http_hotkey_cache_close_fds(void *data);


static ngx_rbtree_t        ngx_http_hotkey_groups;
static ngx_rbtree_node_t   ngx_http_hotkey_groups_sentinel;
static ngx_rbtree_t        ngx_http_hotkey_tickets;
static ngx_rbtree_node_t   ngx_http_hotkey_tickets_sentinel;
static ngx_event_t         ngx_http_hotkey_wake_event;
static int                *ngx_http_hotkey_wake_fds;
static ngx_uint_t          ngx_http_hotkey_nwake;
static ngx_uint_t          ngx_http_hotkey_wakeable;


/*
 * 1 when this process can be woken: a worker with its own eventfd, not
 * retired by a reload.  A retiring worker's slot is the new worker's: a
 * request of another worker cannot wake it, so a wait there would last
 * the holder's whole lock; it asks the store itself.
 */

ngx_int_t
ngx_http_hotkey_can_wait(void)
{
    return ngx_http_hotkey_wakeable && !ngx_exiting && !ngx_terminate;
}


ngx_int_t
ngx_http_hotkey_cache_wait(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_hotkey_wgroup_t     *g;
    ngx_http_hotkey_cache_ctx_t  *cc;

    cc = &ctx->cache;

    if (!cc->wait_cleanup) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_hotkey_cache_wait_cleanup;
        cln->data = ctx;
        cc->wait_cleanup = 1;

        cc->timer.handler = ngx_http_hotkey_cache_wait_timeout;
        cc->timer.data = ctx;
        cc->timer.log = r->connection->log;
    }

    g = ngx_http_hotkey_wgroup_get(cc);
    if (g == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&g->waiters, &cc->wait);
    cc->group = g;
    cc->waiting = 1;
    cc->waited = 1;

    ngx_add_timer(&cc->timer, cc->lock_left + 1);

    r->main->count++;

    return NGX_DONE;
}


static ngx_http_hotkey_wgroup_t *
ngx_http_hotkey_wgroup_get(ngx_http_hotkey_cache_ctx_t *cc)
{
    size_t                     len;
    u_char                     key[sizeof(void *) + NGX_HTTP_HOTKEY_KEY_MAX];
    ngx_http_hotkey_tnode_t   *tn;
    ngx_http_hotkey_wgroup_t  *g;

    /* the table is part of the key: two zones may hold one key */

    ngx_memcpy(key, &cc->table, sizeof(void *));
    ngx_memcpy(key + sizeof(void *), cc->key, cc->key_len);
    len = sizeof(void *) + cc->key_len;

    tn = ngx_http_hotkey_rbtree_find(&ngx_http_hotkey_groups, cc->hash, key,
                                     len);
    if (tn) {
        g = (ngx_http_hotkey_wgroup_t *) tn;

        /* the lock changed hands: all of the group waits on the new one */

        if (g->ticket != cc->ticket) {
            ngx_rbtree_delete(&ngx_http_hotkey_tickets, &g->tk.node);
            ngx_http_hotkey_wgroup_ticket(g, cc->ticket);
        }

        return g;
    }

    g = ngx_alloc(sizeof(ngx_http_hotkey_wgroup_t), ngx_cycle->log);
    if (g == NULL) {
        return NULL;
    }

    ngx_memcpy(g->key, key, len);
    g->tn.node.key = cc->hash;
    g->tn.key = g->key;
    g->tn.key_len = (uint32_t) len;
    g->table = cc->table;
    ngx_queue_init(&g->waiters);

    ngx_rbtree_insert(&ngx_http_hotkey_groups, &g->tn.node);
    ngx_http_hotkey_wgroup_ticket(g, cc->ticket);

    return g;
}


/* the ticket tree's key: the table and the ticket, hashed by the ticket */

static void
ngx_http_hotkey_wgroup_ticket(ngx_http_hotkey_wgroup_t *g,
    ngx_atomic_uint_t ticket)
{
    g->ticket = ticket;
    ngx_memcpy(g->tkey, &g->table, sizeof(void *));
    ngx_memcpy(g->tkey + sizeof(void *), &ticket, sizeof(ticket));

    g->tk.node.key = (uint32_t) ticket;
    g->tk.key = g->tkey;
    g->tk.key_len = sizeof(g->tkey);

    ngx_rbtree_insert(&ngx_http_hotkey_tickets, &g->tk.node);
}


static ngx_http_hotkey_wgroup_t *
ngx_http_hotkey_wgroup_by_ticket(ngx_http_hotkey_table_t *t,
    ngx_atomic_uint_t ticket)
{
    u_char                    key[sizeof(void *) + sizeof(ticket)];
    ngx_http_hotkey_tnode_t  *tn;

    ngx_memcpy(key, &t, sizeof(void *));
    ngx_memcpy(key + sizeof(void *), &ticket, sizeof(ticket));

    tn = ngx_http_hotkey_rbtree_find(&ngx_http_hotkey_tickets,
                                     (uint32_t) ticket, key, sizeof(key));

    return tn ? ngx_http_hotkey_wgroup_of_tk(tn) : NULL;
}


static void
ngx_http_hotkey_wgroup_free(ngx_http_hotkey_wgroup_t *g)
{
    ngx_rbtree_delete(&ngx_http_hotkey_groups, &g->tn.node);
    ngx_rbtree_delete(&ngx_http_hotkey_tickets, &g->tk.node);
    ngx_free(g);
}


/* the group's waiters to "ready", and the group gone */

static void
ngx_http_hotkey_wgroup_ready(ngx_http_hotkey_wgroup_t *g, ngx_queue_t *ready)
{
    ngx_queue_t                  *q;
    ngx_http_hotkey_cache_ctx_t  *cc;

    for (q = ngx_queue_head(&g->waiters);
         q != ngx_queue_sentinel(&g->waiters);
         q = ngx_queue_next(q))
    {
        cc = ngx_queue_data(q, ngx_http_hotkey_cache_ctx_t, wait);
        cc->group = NULL;
    }

    ngx_queue_add(ready, &g->waiters);
    ngx_http_hotkey_wgroup_free(g);
}


/* off its group (or the list of woken waiters), and no timer */

static void
ngx_http_hotkey_cache_unwait(ngx_http_hotkey_ctx_t *ctx)
{
    ngx_http_hotkey_wgroup_t     *g;
    ngx_http_hotkey_cache_ctx_t  *cc;

    cc = &ctx->cache;

    if (cc->waiting) {
        ngx_queue_remove(&cc->wait);
        cc->waiting = 0;

        g = cc->group;
        cc->group = NULL;

        if (g && ngx_queue_empty(&g->waiters)) {
            ngx_http_hotkey_wgroup_free(g);
        }
    }

    if (cc->timer.timer_set) {
        ngx_del_timer(&cc->timer);
    }
}


static void
ngx_http_hotkey_cache_wait_cleanup(void *data)
{
    ngx_http_hotkey_cache_unwait(data);
}


static void
ngx_http_hotkey_cache_wait_timeout(ngx_event_t *ev)
{
    ngx_http_hotkey_ctx_t  *ctx = ev->data;

    /* the holder's lock ran out: ask again, and lead if it is free */

    ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                  "hotkey cache wait timed out, fetching");

    ngx_http_hotkey_cache_unwait(ctx);
    ngx_http_hotkey_cache_resume(ctx);
}


static void
ngx_http_hotkey_cache_resume(ngx_http_hotkey_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    rc = ngx_http_hotkey_serve(r, ctx);

    if (rc == NGX_DONE && ctx->cache.waiting) {

        /* waiting again: drop the count the new wait added */

        r->main->count--;
        return;
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


void
ngx_http_hotkey_wake(uint64_t bits)
{
    uint64_t    one;
    ngx_uint_t  i;

    for (i = 0; bits && i < ngx_http_hotkey_nwake; i++) {

        if (!(bits & ((uint64_t) 1 << i))) {
            continue;
        }

        bits &= ~((uint64_t) 1 << i);

        if (i == ngx_worker && ngx_http_hotkey_wakeable) {
            ngx_post_event(&ngx_http_hotkey_wake_event, &ngx_posted_events);
            continue;
        }

        /* a full counter already wakes the worker: nothing to do */

        one = 1;
        if (write(ngx_http_hotkey_wake_fds[i], &one, sizeof(one)) == -1) {
            continue;
        }
    }
}


/*
 * What the zone's ring says settled for this worker: those groups only.
 * When more settled than the ring held, every group of the zone is
 * looked at.
 */

static void
ngx_http_hotkey_cache_told(ngx_http_hotkey_table_t *t, ngx_queue_t *ready)
{
    ngx_uint_t                 i, n, overflow;
    ngx_atomic_uint_t          tickets[32];
    ngx_http_hotkey_wgroup_t  *g;

    ngx_shmtx_lock(&t->shpool->mutex);

    n = ngx_http_hotkey_cache_settled_tickets(t, tickets, 32, &overflow);

    ngx_shmtx_unlock(&t->shpool->mutex);

    for (i = 0; i < n; i++) {
        g = ngx_http_hotkey_wgroup_by_ticket(t, tickets[i]);

        if (g) {
            ngx_http_hotkey_wgroup_ready(g, ready);
        }
    }

    if (overflow) {
        ngx_http_hotkey_cache_settle(t, ready);
    }
}


/* every group of the zone whose key settled: its waiters to "ready" */

static void
ngx_http_hotkey_cache_settle(ngx_http_hotkey_table_t *t, ngx_queue_t *ready)
{
    ngx_int_t                  settled;
    ngx_rbtree_node_t         *node, *next, *root, *sentinel;
    ngx_http_hotkey_wgroup_t  *g;

    root = ngx_http_hotkey_groups.root;
    sentinel = ngx_http_hotkey_groups.sentinel;

    if (root == sentinel) {
        return;
    }

    ngx_shmtx_lock(&t->shpool->mutex);

    for (node = ngx_rbtree_min(root, sentinel); node; node = next) {
        next = ngx_rbtree_next(&ngx_http_hotkey_groups, node);
        g = (ngx_http_hotkey_wgroup_t *) node;

        if (g->table != t) {
            continue;
        }

        settled = ngx_http_hotkey_cache_settled(t, (uint32_t) node->key,
                                                g->key + sizeof(void *),
                                                g->tn.key_len
                                                - sizeof(void *),
                                                g->ticket);
        if (settled) {
            ngx_http_hotkey_wgroup_ready(g, ready);
        }
    }

    ngx_shmtx_unlock(&t->shpool->mutex);
}


/* every group of this worker: its waiters to "ready" */

static void
ngx_http_hotkey_cache_ready_all(ngx_queue_t *ready)
{
    ngx_rbtree_node_t  *node, *next, *root, *sentinel;

    root = ngx_http_hotkey_groups.root;
    sentinel = ngx_http_hotkey_groups.sentinel;

    if (root == sentinel) {
        return;
    }

    for (node = ngx_rbtree_min(root, sentinel); node; node = next) {
        next = ngx_rbtree_next(&ngx_http_hotkey_groups, node);
        ngx_http_hotkey_wgroup_ready((ngx_http_hotkey_wgroup_t *) node,
                                     ready);
    }
}


static void
ngx_http_hotkey_cache_wake_handler(ngx_event_t *ev)
{
    uint64_t                      n;
    ngx_uint_t                    i;
    ngx_queue_t                   ready, *q;
    ngx_shm_zone_t              **zones;
    ngx_connection_t             *c;
    ngx_http_hotkey_ctx_t        *ctx;
    ngx_http_hotkey_main_conf_t  *hmcf;
    ngx_http_hotkey_cache_ctx_t  *cc;

    if (ev != &ngx_http_hotkey_wake_event) {
        c = ev->data;

        while (read(c->fd, &n, sizeof(n)) > 0) {
            /* void */
        }
    }

    ngx_queue_init(&ready);

    if (ngx_exiting) {

        /*
         * retiring (its idle connection closed, or a wake-up): every
         * waiter left asks the store itself (it can wait no more), and its
         * side of the rings is left to the cycle after next
         */

        ngx_http_hotkey_cache_ready_all(&ready);

    } else {
        hmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_hotkey_module);
        zones = hmcf->zones.elts;

        for (i = 0; i < hmcf->zones.nelts; i++) {
            ngx_http_hotkey_cache_told(zones[i]->data, &ready);
        }
    }

    /*
     * A waiter's request may end while others are resumed (a connection
     * of several streams closed): its cleanup takes it off "ready".
     */

    while (!ngx_queue_empty(&ready)) {
        q = ngx_queue_head(&ready);
        cc = ngx_queue_data(q, ngx_http_hotkey_cache_ctx_t, wait);
        ctx = (ngx_http_hotkey_ctx_t *)
                  ((u_char *) cc - offsetof(ngx_http_hotkey_ctx_t, cache));

        ngx_http_hotkey_cache_unwait(ctx);
        ngx_http_hotkey_cache_resume(ctx);
    }
}


ngx_int_t
ngx_http_hotkey_cache_init_module(ngx_cycle_t *cycle)
{
    int                           fd;
    ngx_uint_t                    i, n;
    ngx_core_conf_t              *ccf;
    ngx_pool_cleanup_t           *cln;
    ngx_http_hotkey_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hotkey_module);

    if (hmcf == NULL || hmcf->zones.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_hotkey_cache_set_gen(hmcf);

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);
    n = ngx_min((ngx_uint_t) ccf->worker_processes, NGX_HTTP_HOTKEY_MAX_SLOTS);

    hmcf->wake_fds = ngx_pcalloc(cycle->pool, n * sizeof(int));
    if (hmcf->wake_fds == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_hotkey_cache_close_fds;
    cln->data = hmcf;

    for (i = 0; i < n; i++) {
        fd = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);
        if (fd == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "hotkey cache: eventfd() failed");
            return NGX_ERROR;
        }

        hmcf->wake_fds[i] = fd;
        hmcf->nwake = i + 1;
    }

    return NGX_OK;
}


/*
 * In the master, once per cycle: a number no other cycle had in each
 * zone.  A leader's entry carries it, and only workers of its cycle wait
 * for it: they are the ones it can wake, through their side of the rings.
 */

static void
ngx_http_hotkey_cache_set_gen(ngx_http_hotkey_main_conf_t *hmcf)
{
    ngx_uint_t                i;
    ngx_shm_zone_t          **zones;
    ngx_http_hotkey_table_t  *t;

    zones = hmcf->zones.elts;

    for (i = 0; i < hmcf->zones.nelts; i++) {
        t = zones[i]->data;

        ngx_shmtx_lock(&t->shpool->mutex);
        ngx_http_hotkey_cache_new_cycle(t);
        ngx_shmtx_unlock(&t->shpool->mutex);
    }
}


static void
ngx_http_hotkey_cache_close_fds(void *data)
{
    ngx_http_hotkey_main_conf_t  *hmcf = data;

    ngx_uint_t  i;

    for (i = 0; i < hmcf->nwake; i++) {
        (void) close(hmcf->wake_fds[i]);
    }

    hmcf->nwake = 0;
}


/*
 * Only a worker reads its eventfd: a cache manager or loader would eat
 * worker 0's wake-ups.  A worker past the last slot cannot be woken, so
 * it never waits (ngx_http_hotkey_can_wait()).
 */

ngx_int_t
ngx_http_hotkey_cache_init_process(ngx_cycle_t *cycle)
{
    ngx_connection_t             *c;
    ngx_http_hotkey_main_conf_t  *hmcf;

    ngx_rbtree_init(&ngx_http_hotkey_groups, &ngx_http_hotkey_groups_sentinel,
                    ngx_http_hotkey_rbtree_insert);
    ngx_rbtree_init(&ngx_http_hotkey_tickets,
                    &ngx_http_hotkey_tickets_sentinel,
                    ngx_http_hotkey_rbtree_insert);

    ngx_http_hotkey_wake_event.handler = ngx_http_hotkey_cache_wake_handler;
    ngx_http_hotkey_wake_event.log = cycle->log;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hotkey_module);

    if (hmcf == NULL || hmcf->nwake == 0) {
        return NGX_OK;
    }

    ngx_http_hotkey_wake_fds = hmcf->wake_fds;
    ngx_http_hotkey_nwake = hmcf->nwake;

    if ((ngx_process != NGX_PROCESS_WORKER
         && ngx_process != NGX_PROCESS_SINGLE)
        || ngx_worker >= hmcf->nwake)
    {
        return NGX_OK;
    }

    c = ngx_get_connection(hmcf->wake_fds[ngx_worker], cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->recv = ngx_recv;
    c->read->handler = ngx_http_hotkey_cache_wake_handler;
    c->read->log = cycle->log;
    c->read->channel = 1;
    c->log = cycle->log;

    /* a graceful shutdown calls the handler: the waiters are resumed */

    c->idle = 1;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_hotkey_wakeable = 1;

    return NGX_OK;
}
