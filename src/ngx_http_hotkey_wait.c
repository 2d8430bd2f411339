/*
 * Requests waiting for another request's store round trip on the same
 * cache key.  Each worker keeps its waiters in a queue; the entry records
 * which workers wait (a bit each), and whoever finishes the round trip
 * wakes them: its own worker through a posted event, the others through
 * one eventfd per worker, made by the master before the fork.  No
 * polling; a timer takes over if the round trip never ends.
 */

#include "ngx_http_hotkey_module.h"

#include <sys/eventfd.h>


static void ngx_http_hotkey_cache_unwait(ngx_http_hotkey_ctx_t *ctx);
static void ngx_http_hotkey_cache_wait_cleanup(void *data);
static void ngx_http_hotkey_cache_wait_timeout(ngx_event_t *ev);
static void ngx_http_hotkey_cache_resume(ngx_http_hotkey_ctx_t *ctx);
static void ngx_http_hotkey_cache_wake_handler(ngx_event_t *ev);
static void ngx_http_hotkey_cache_close_fds(void *data);


static ngx_queue_t   ngx_http_hotkey_waiters;
static ngx_event_t   ngx_http_hotkey_wake_event;
static int          *ngx_http_hotkey_wake_fds;
static ngx_uint_t    ngx_http_hotkey_nwake;


ngx_int_t
ngx_http_hotkey_cache_wait(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_hotkey_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    if (!ctx->wait_cleanup) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_hotkey_cache_wait_cleanup;
        cln->data = ctx;
        ctx->wait_cleanup = 1;

        ctx->wait_timer.handler = ngx_http_hotkey_cache_wait_timeout;
        ctx->wait_timer.data = ctx;
        ctx->wait_timer.log = r->connection->log;

        if (ngx_http_hotkey_waiters.next == NULL) {
            ngx_queue_init(&ngx_http_hotkey_waiters);
        }
    }

    if (!ctx->waiting) {
        ngx_queue_insert_tail(&ngx_http_hotkey_waiters, &ctx->wait);
        ctx->waiting = 1;
        ctx->waited = 1;
        ngx_add_timer(&ctx->wait_timer,
                      ngx_http_hotkey_cache_lock_time(hlcf));
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_hotkey_cache_unwait(ngx_http_hotkey_ctx_t *ctx)
{
    if (ctx->waiting) {
        ngx_queue_remove(&ctx->wait);
        ctx->waiting = 0;
    }

    if (ctx->wait_timer.timer_set) {
        ngx_del_timer(&ctx->wait_timer);
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

    /* the request we waited for is gone: fetch it ourselves */

    ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                  "hotkey cache wait timed out, fetching");

    ctx->takeover = 1;
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

    if (rc == NGX_DONE && ctx->waiting) {

        /* still waiting: drop the count the new wait added */

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

    for (i = 0; bits && i < NGX_HTTP_HOTKEY_MAX_SLOTS; i++) {

        if (!(bits & ((uint64_t) 1 << i))) {
            continue;
        }

        bits &= ~((uint64_t) 1 << i);

        if (i == ngx_worker) {
            ngx_post_event(&ngx_http_hotkey_wake_event, &ngx_posted_events);
            continue;
        }

        if (i < ngx_http_hotkey_nwake) {
            one = 1;
            (void) write(ngx_http_hotkey_wake_fds[i], &one, sizeof(one));
        }
    }
}


static void
ngx_http_hotkey_cache_wake_handler(ngx_event_t *ev)
{
    uint64_t                n;
    ngx_queue_t            *q, *next;
    ngx_connection_t       *c;
    ngx_http_hotkey_ctx_t  *ctx;

    if (ev != &ngx_http_hotkey_wake_event) {
        c = ev->data;

        while (read(c->fd, &n, sizeof(n)) > 0) {
            /* void */
        }
    }

    if (ngx_http_hotkey_waiters.next == NULL) {
        return;
    }

    q = ngx_queue_head(&ngx_http_hotkey_waiters);

    while (q != ngx_queue_sentinel(&ngx_http_hotkey_waiters)) {
        next = ngx_queue_next(q);
        ctx = ngx_queue_data(q, ngx_http_hotkey_ctx_t, wait);

        ngx_queue_remove(q);
        ctx->waiting = 0;

        if (ctx->wait_timer.timer_set) {
            ngx_del_timer(&ctx->wait_timer);
        }

        ngx_http_hotkey_cache_resume(ctx);

        q = next;
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


ngx_int_t
ngx_http_hotkey_cache_init_process(ngx_cycle_t *cycle)
{
    ngx_connection_t             *c;
    ngx_http_hotkey_main_conf_t  *hmcf;

    ngx_queue_init(&ngx_http_hotkey_waiters);

    ngx_http_hotkey_wake_event.handler = ngx_http_hotkey_cache_wake_handler;
    ngx_http_hotkey_wake_event.log = cycle->log;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hotkey_module);

    if (hmcf == NULL || hmcf->nwake == 0 || ngx_worker >= hmcf->nwake) {
        return NGX_OK;
    }

    ngx_http_hotkey_wake_fds = hmcf->wake_fds;
    ngx_http_hotkey_nwake = hmcf->nwake;

    c = ngx_get_connection(hmcf->wake_fds[ngx_worker], cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->recv = ngx_recv;
    c->read->handler = ngx_http_hotkey_cache_wake_handler;
    c->read->log = cycle->log;
    c->read->channel = 1;
    c->log = cycle->log;

    return ngx_handle_read_event(c->read, 0);
}


