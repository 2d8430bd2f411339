/*
 * The cache of finished answers, a kind of the shared-memory table, kept
 * across reloads.  One request per key (the leader) asks the store; the
 * others wait for it (ngx_http_hotkey_wait.c).  The leader holds the key
 * with a ticket: only the holder of the current ticket stores or gives the
 * lock back, so a lock taken over after a timeout, a purge or a leader
 * that went away can never be released or overwritten by a stale holder.
 */

#include "ngx_http_hotkey_module.h"


#define NGX_HTTP_HOTKEY_FAIL_HOLD  1000
#define NGX_HTTP_HOTKEY_CACHE_MAGIC  0x484b4331     /* "HKC1" */


/*
 * Per worker slot, the tickets settled since the worker last looked: a
 * woken worker resumes the groups of those tickets only.  When more
 * settle than fit, "overflow" makes it look at all of its groups.  Two
 * sides, one per cycle in turn: through a reload the old and the new
 * worker of a slot run together, and neither may take the other's.
 */

#define NGX_HTTP_HOTKEY_RING  32

struct ngx_http_hotkey_ring_s {
    ngx_uint_t                  n;
    ngx_uint_t                  overflow;
    ngx_atomic_uint_t           tickets[NGX_HTTP_HOTKEY_RING];
};


typedef struct {
    ngx_http_hotkey_ring_t     *rings[2][NGX_HTTP_HOTKEY_MAX_SLOTS];
    ngx_uint_t                  cycles;
} ngx_http_hotkey_cache_sh_t;


typedef struct {
    u_char                     *body;
    uint32_t                    body_len;
    uint16_t                    status;
    ngx_msec_t                  stored;
    ngx_msec_t                  expires;
    ngx_msec_t                  drop;
    ngx_msec_t                  lock_until;
    ngx_msec_t                  failed_until;
    ngx_msec_t                  alone_until;    /* answer not kept */
    ngx_atomic_uint_t           ticket;     /* an instance's: its generation */
    ngx_atomic_uint_t           igen;       /* the instance's, when stored */
    ngx_atomic_uint_t           gen;        /* the holder's cycle */
    uint64_t                    waiters;    /* a bit per worker slot */
    u_char                      instance[36];
} ngx_http_hotkey_centry_t;


/*
 * Each instance with answers in the zone has a node of its own, keyed by
 * "\1" and its id, whose generation a write bumps: an answer stored under
 * another generation is gone.  A write costs one lookup, not a walk.
 */

#define NGX_HTTP_HOTKEY_INODE_KEY  37


static ngx_int_t ngx_http_hotkey_centry_busy(ngx_http_hotkey_tnode_t *tn,
    ngx_msec_t now);
static ngx_int_t ngx_http_hotkey_centry_idle(ngx_http_hotkey_tnode_t *tn,
    ngx_msec_t now);
static void ngx_http_hotkey_centry_release(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *tn);
static ngx_int_t ngx_http_hotkey_cache_hit(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_http_hotkey_tnode_t *tn,
    ngx_msec_t now);
static ngx_int_t ngx_http_hotkey_cache_copy(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_http_hotkey_centry_t *e);
static ngx_int_t ngx_http_hotkey_cache_held(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_http_hotkey_tnode_t *tn,
    ngx_msec_t now);
static void ngx_http_hotkey_cache_lead(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_http_hotkey_tnode_t *tn,
    ngx_msec_t now);
static ngx_int_t ngx_http_hotkey_cache_store(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *tn, ngx_uint_t status, ngx_msec_t valid,
    ngx_http_hotkey_loc_conf_t *hlcf, u_char *body, size_t len);
static uint64_t ngx_http_hotkey_cache_give_back(ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_tnode_t *tn, ngx_uint_t failed);
static void ngx_http_hotkey_cache_keep(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_http_hotkey_tnode_t *tn, ngx_uint_t status,
    ngx_msec_t valid, u_char *body, size_t len);
static ngx_http_hotkey_ring_t *ngx_http_hotkey_cache_ring(
    ngx_http_hotkey_table_t *t);
static ngx_int_t ngx_http_hotkey_cache_foreign(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_centry_t *e);
static uint64_t ngx_http_hotkey_cache_settle(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_centry_t *e);
static void ngx_http_hotkey_cache_lead_cleanup(void *data);
static ngx_http_hotkey_centry_t *ngx_http_hotkey_cache_inode(
    ngx_http_hotkey_table_t *t, u_char *id, ngx_uint_t create);
static ngx_atomic_uint_t ngx_http_hotkey_cache_igen(
    ngx_http_hotkey_table_t *t, u_char *id, ngx_uint_t create);
static void ngx_http_hotkey_cache_bump(ngx_http_hotkey_table_t *t,
    u_char *id);
static ngx_int_t ngx_http_hotkey_cache_fresh(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_ctx_t *ctx);
static void ngx_http_hotkey_cache_make_key(ngx_http_hotkey_ctx_t *ctx);
static ngx_int_t ngx_http_hotkey_cache_bypass(ngx_http_request_t *r);
static ngx_int_t ngx_http_hotkey_purge_handler(ngx_http_request_t *r);


ngx_http_hotkey_table_kind_t  ngx_http_hotkey_cache_kind = {
    "hotkey_cache",
    NGX_HTTP_HOTKEY_CACHE_MAGIC,
    sizeof(ngx_http_hotkey_centry_t),
    ngx_http_hotkey_centry_busy,
    ngx_http_hotkey_centry_idle,
    ngx_http_hotkey_centry_release,
    sizeof(ngx_http_hotkey_cache_sh_t)
};


/* the one table of status names: X-Cache-Status, and metric labels */

static struct {
    ngx_str_t                   header;
    const char                 *label;
} ngx_http_hotkey_cache_status_names[] = {
    { ngx_null_string, "none" },
    { ngx_string("MISS"), "miss" },
    { ngx_string("BYPASS"), "bypass" },
    { ngx_string("EXPIRED"), "expired" },
    { ngx_string("STALE"), "stale" },
    { ngx_string("UPDATING"), "updating" },
    { ngx_string("HIT"), "hit" }
};


const char *
ngx_http_hotkey_cache_status_label(ngx_uint_t status)
{
    return ngx_http_hotkey_cache_status_names[status].label;
}


char *
ngx_http_hotkey_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    const char                   *err;
    ngx_str_t                    *value;
    ngx_shm_zone_t               *shm_zone, **pz;
    ngx_http_hotkey_main_conf_t  *hmcf;

    value = cf->args->elts;

    shm_zone = ngx_http_hotkey_table_add(cf, &value[1],
                                         &ngx_http_hotkey_cache_kind, &err);
    if (shm_zone == NULL) {
        return (char *) err;
    }

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hotkey_module);

    pz = ngx_array_push(&hmcf->zones);
    if (pz == NULL) {
        return NGX_CONF_ERROR;
    }

    *pz = shm_zone;

    return NGX_CONF_OK;
}


char *
ngx_http_hotkey_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hotkey_loc_conf_t  *hlcf = conf;

    ngx_str_t  *value;

    if (hlcf->cache != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        hlcf->cache = NULL;
        return NGX_CONF_OK;
    }

    hlcf->cache = ngx_http_hotkey_table_ref(cf, &value[1],
                                            &ngx_http_hotkey_cache_kind);

    return hlcf->cache ? NGX_CONF_OK : NGX_CONF_ERROR;
}


char *
ngx_http_hotkey_cache_purge(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hotkey_loc_conf_t  *hlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;

    hlcf->purge = ngx_http_hotkey_table_ref(cf, &value[1],
                                            &ngx_http_hotkey_cache_kind);
    if (hlcf->purge == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_hotkey_purge_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_hotkey_centry_busy(ngx_http_hotkey_tnode_t *tn, ngx_msec_t now)
{
    ngx_http_hotkey_centry_t  *e = ngx_http_hotkey_tnode_data(tn);

    return e->waiters || (ngx_msec_int_t) (e->lock_until - now) > 0;
}


static ngx_int_t
ngx_http_hotkey_centry_idle(ngx_http_hotkey_tnode_t *tn, ngx_msec_t now)
{
    ngx_http_hotkey_centry_t  *e = ngx_http_hotkey_tnode_data(tn);

    return (ngx_msec_int_t) (e->drop - now) <= 0;
}


static void
ngx_http_hotkey_centry_release(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *tn)
{
    ngx_http_hotkey_centry_t  *e = ngx_http_hotkey_tnode_data(tn);

    if (e->body) {
        ngx_slab_free_locked(t->shpool, e->body);
        e->body = NULL;
    }
}


/* under the lock: the instance's node, made when "create" */

static ngx_http_hotkey_centry_t *
ngx_http_hotkey_cache_inode(ngx_http_hotkey_table_t *t, u_char *id,
    ngx_uint_t create)
{
    u_char                    key[NGX_HTTP_HOTKEY_INODE_KEY];
    uint32_t                  hash;
    ngx_http_hotkey_tnode_t  *tn;
    ngx_http_hotkey_centry_t *e;

    key[0] = '\1';
    ngx_memcpy(key + 1, id, 36);
    hash = ngx_murmur_hash2(key, sizeof(key));

    tn = ngx_http_hotkey_table_find(t, hash, key, sizeof(key));

    if (tn == NULL && create) {
        tn = ngx_http_hotkey_table_insert(t, hash, key, sizeof(key),
                                          ngx_current_msec);
        if (tn) {

            /* a generation no node had: nothing older can match it */

            e = ngx_http_hotkey_tnode_data(tn);
            ngx_memcpy(e->instance, id, 36);
            e->ticket = ++t->sh->seq;
        }
    }

    if (tn == NULL) {
        return NULL;
    }

    ngx_http_hotkey_table_touch(t, tn);

    e = ngx_http_hotkey_tnode_data(tn);
    e->drop = ngx_current_msec + 86400000;

    return e;
}


/* under the lock: the instance's generation now (0: none, no room) */

static ngx_atomic_uint_t
ngx_http_hotkey_cache_igen(ngx_http_hotkey_table_t *t, u_char *id,
    ngx_uint_t create)
{
    ngx_http_hotkey_centry_t  *ie;

    ie = ngx_http_hotkey_cache_inode(t, id, create);

    return ie ? ie->ticket : 0;
}


/*
 * A write: the instance's answers in this zone are gone.  With no node
 * there is nothing to drop: an answer is only stored, or asked for by a
 * leader, under a node of its instance.
 */

static void
ngx_http_hotkey_cache_bump(ngx_http_hotkey_table_t *t, u_char *id)
{
    ngx_http_hotkey_centry_t  *ie;

    ie = ngx_http_hotkey_cache_inode(t, id, 0);

    if (ie) {
        ie->ticket = ++t->sh->seq;
    }
}


static ngx_int_t
ngx_http_hotkey_cache_copy(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_centry_t *e)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, e->body_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, e->body, e->body_len);

    ctx->body.data = p;
    ctx->body.len = e->body_len;
    ctx->status = e->status;
    ctx->cache.age = (time_t) ((ngx_current_msec - e->stored) / 1000);

    return NGX_OK;
}


ngx_msec_t
ngx_http_hotkey_cache_lock_time(ngx_http_hotkey_loc_conf_t *hlcf)
{
    return hlcf->upstream.connect_timeout + hlcf->upstream.send_timeout
           + hlcf->upstream.read_timeout + 500;
}


/*
 * project|instance|offset|limit|status for a list, project|instance|T|id
 * for a task's details, project|instance|A for the settings: the ids are
 * valid, so it fits.
 */

static void
ngx_http_hotkey_cache_make_key(ngx_http_hotkey_ctx_t *ctx)
{
    u_char                       *p;
    ngx_http_hotkey_cache_ctx_t  *cc;

    cc = &ctx->cache;

    p = ngx_cpymem(cc->key, ctx->route.project, ctx->route.project_len);
    *p++ = '|';
    p = ngx_cpymem(p, ctx->route.instance, ctx->route.instance_len);
    *p++ = '|';

    switch (ctx->op->id) {

    case HOTKEY_OP_DETAILS:
        *p++ = 'T';
        *p++ = '|';
        p = ngx_cpymem(p, ctx->route.task, ctx->route.task_len);
        break;

    case HOTKEY_OP_AUTOSCAN_GET:
        *p++ = 'A';
        break;

    default:
        p = (u_char *) hotkey_uint_write((char *) p,
                                         (uint64_t) ctx->args.list.offset);
        *p++ = '|';
        p = (u_char *) hotkey_uint_write((char *) p,
                                         (uint64_t) ctx->args.list.limit);
        *p++ = '|';
        *p++ = (u_char) ('0' + ctx->args.list.status);
    }

    cc->key_len = p - cc->key;
    cc->hash = ngx_murmur_hash2(cc->key, cc->key_len);
}


static ngx_int_t
ngx_http_hotkey_cache_bypass(ngx_http_request_t *r)
{
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;
    ngx_uint_t        i;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if ((h[i].key.len == 13
             && ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                                13) == 0)
            || (h[i].key.len == 6
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Pragma", 6)
                   == 0))
        {
            if (ngx_strlcasestrn(h[i].value.data,
                                 h[i].value.data + h[i].value.len,
                                 (u_char *) "no-cache", 8 - 1)
                != NULL)
            {
                return 1;
            }
        }
    }
}


/*
 * Returns NGX_OK with ctx->body set (serve it; a STALE answer with
 * ctx->cache.leader set also wants a background refresh), NGX_DECLINED to
 * ask the store (ctx->cache.leader set when the answer goes into the
 * cache), NGX_AGAIN to wait for the leader, NGX_ERROR.
 */

ngx_int_t
ngx_http_hotkey_cache_lookup(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_msec_t                    now;
    ngx_http_hotkey_table_t      *t;
    ngx_http_hotkey_tnode_t      *tn;
    ngx_http_hotkey_loc_conf_t   *hlcf;
    ngx_http_hotkey_cache_ctx_t  *cc;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);
    cc = &ctx->cache;

    if (hlcf->cache == NULL || ctx->op->cache != HOTKEY_CACHE_USE_READ) {
        return NGX_DECLINED;
    }

    t = hlcf->cache->data;
    cc->table = t;

    if (cc->key_len == 0) {
        ngx_http_hotkey_cache_make_key(ctx);
    }

    if (hlcf->cache_bypass && ngx_http_hotkey_cache_bypass(r)) {
        cc->status = NGX_HTTP_HOTKEY_CACHE_BYPASS;
        cc->bypass = 1;

        ngx_shmtx_lock(&t->shpool->mutex);
        cc->igen = ngx_http_hotkey_cache_igen(t,
                                              (u_char *) ctx->route.instance,
                                              1);
        ngx_shmtx_unlock(&t->shpool->mutex);

        return NGX_DECLINED;
    }

    now = ngx_current_msec;

    ngx_shmtx_lock(&t->shpool->mutex);

    tn = ngx_http_hotkey_table_find(t, cc->hash, cc->key, cc->key_len);

    if (tn == NULL) {
        tn = ngx_http_hotkey_table_insert(t, cc->hash, cc->key, cc->key_len,
                                          now);
        cc->status = NGX_HTTP_HOTKEY_CACHE_MISS;
        ngx_http_hotkey_cache_lead(r, ctx, tn, now);
        rc = NGX_DECLINED;

    } else {
        ngx_http_hotkey_table_touch(t, tn);
        rc = ngx_http_hotkey_cache_hit(r, ctx, tn, now);
    }

    ngx_shmtx_unlock(&t->shpool->mutex);

    if (cc->leader && !cc->lead_cleanup) {
        return ngx_http_hotkey_cache_lead_guard(r, ctx) == NGX_OK
               ? rc : NGX_ERROR;
    }

    return rc;
}


/* an entry exists: serve it, wait for its leader, or lead */

static ngx_int_t
ngx_http_hotkey_cache_hit(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_tnode_t *tn, ngx_msec_t now)
{
    ngx_msec_t                    stale;
    ngx_http_hotkey_centry_t     *e;
    ngx_http_hotkey_loc_conf_t   *hlcf;
    ngx_http_hotkey_cache_ctx_t  *cc;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);
    e = ngx_http_hotkey_tnode_data(tn);
    cc = &ctx->cache;

    /* written since it was stored: as good as absent */

    if (e->body
        && e->igen != ngx_http_hotkey_cache_igen(cc->table,
                                                 (u_char *) ctx->route.instance,
                                                 0))
    {
        ngx_http_hotkey_centry_release(cc->table, tn);
    }

    if (e->body && (ngx_msec_int_t) (e->expires - now) > 0) {
        cc->status = NGX_HTTP_HOTKEY_CACHE_HIT;
        return ngx_http_hotkey_cache_copy(r, ctx, e);
    }

    /* stale copies only while every write reaches this node */

    stale = ngx_http_hotkey_sub_ok() ? hlcf->cache_stale_revalidate : 0;

    if (e->body && (ngx_msec_int_t) (e->expires + stale - now) > 0) {
        if ((ngx_msec_int_t) (e->lock_until - now) > 0) {
            cc->status = NGX_HTTP_HOTKEY_CACHE_UPDATING;

        } else {
            cc->status = NGX_HTTP_HOTKEY_CACHE_STALE;
            ngx_http_hotkey_cache_lead(r, ctx, tn, now);
        }

        return ngx_http_hotkey_cache_copy(r, ctx, e);
    }

    if (cc->waited && (ngx_msec_int_t) (e->alone_until - now) > 0) {

        /*
         * the answer we waited for was not kept (never cached, or no
         * room): every waiter asks the store at once, none queues again
         */

        cc->status = NGX_HTTP_HOTKEY_CACHE_MISS;
        return NGX_DECLINED;
    }

    if ((ngx_msec_int_t) (e->lock_until - now) > 0) {
        return ngx_http_hotkey_cache_held(r, ctx, tn, now);
    }

    if (cc->waited && (ngx_msec_int_t) (e->failed_until - now) > 0) {

        /* the store failed the request we waited for: share its fate */

        if (e->body
            && ngx_http_hotkey_sub_ok()
            && (ngx_msec_int_t) (e->expires + hlcf->cache_stale_error - now)
               > 0)
        {
            cc->status = NGX_HTTP_HOTKEY_CACHE_STALE;
            return ngx_http_hotkey_cache_copy(r, ctx, e);
        }

        cc->status = NGX_HTTP_HOTKEY_CACHE_EXPIRED;
        cc->failed = 1;
        return NGX_OK;
    }

    cc->status = e->body ? NGX_HTTP_HOTKEY_CACHE_EXPIRED
                         : NGX_HTTP_HOTKEY_CACHE_MISS;

    ngx_http_hotkey_cache_lead(r, ctx, tn, now);

    return NGX_DECLINED;
}


/*
 * Under the lock: the key is held.  A holder wakes its own cycle's
 * workers only (a reload runs two cycles for a moment): this request
 * waits for a holder of its cycle, takes the key over from one of an
 * older cycle (the rest of this cycle then wait for it), and asks the
 * store itself when the holder is newer or this worker cannot be woken.
 */

static ngx_int_t
ngx_http_hotkey_cache_held(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_tnode_t *tn, ngx_msec_t now)
{
    ngx_atomic_int_t              age;
    ngx_http_hotkey_centry_t     *e;
    ngx_http_hotkey_cache_ctx_t  *cc;

    cc = &ctx->cache;
    e = ngx_http_hotkey_tnode_data(tn);
    age = (ngx_atomic_int_t) (e->gen - cc->table->gen);

    if (age < 0) {
        cc->status = e->body ? NGX_HTTP_HOTKEY_CACHE_EXPIRED
                             : NGX_HTTP_HOTKEY_CACHE_MISS;
        ngx_http_hotkey_cache_lead(r, ctx, tn, now);
        return NGX_DECLINED;
    }

    if (age > 0
        || !ngx_http_hotkey_can_wait()
        || ngx_http_hotkey_cache_ring(cc->table) == NULL)
    {
        cc->status = NGX_HTTP_HOTKEY_CACHE_MISS;
        return NGX_DECLINED;
    }

    e->waiters |= (uint64_t) 1 << ngx_worker;
    cc->ticket = e->ticket;
    cc->lock_left = e->lock_until - now;

    return NGX_AGAIN;
}


/* under the lock: this request takes the key with a new ticket */

static void
ngx_http_hotkey_cache_lead(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_tnode_t *tn, ngx_msec_t now)
{
    ngx_http_hotkey_centry_t     *e;
    ngx_http_hotkey_loc_conf_t   *hlcf;
    ngx_http_hotkey_cache_ctx_t  *cc;

    if (tn == NULL) {

        /* no room for the entry: answered, not stored, not coalesced */

        return;
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);
    cc = &ctx->cache;
    e = ngx_http_hotkey_tnode_data(tn);

    if (e->instance[0] == '\0') {
        ngx_memcpy(e->instance, ctx->route.instance, 36);
    }

    e->lock_until = now + ngx_http_hotkey_cache_lock_time(hlcf);
    e->ticket = ++cc->table->sh->seq;
    e->gen = cc->table->gen;

    cc->ticket = e->ticket;
    cc->igen = ngx_http_hotkey_cache_igen(cc->table,
                                          (u_char *) ctx->route.instance, 1);
    cc->leader = 1;
}


/*
 * Whatever way the request ends, a lock it still holds is given back:
 * the pool cleanup is the backstop of every early exit.
 */

ngx_int_t
ngx_http_hotkey_cache_lead_guard(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_hotkey_cache_release(r, ctx);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_hotkey_cache_lead_cleanup;
    cln->data = ctx;
    ctx->cache.lead_cleanup = 1;

    return NGX_OK;
}


static void
ngx_http_hotkey_cache_lead_cleanup(void *data)
{
    ngx_http_hotkey_ctx_t  *ctx = data;

    uint64_t                  bits;
    ngx_http_hotkey_table_t  *t;
    ngx_http_hotkey_tnode_t  *tn;

    if (!ctx->cache.leader) {
        return;
    }

    ctx->cache.leader = 0;
    t = ctx->cache.table;

    ngx_shmtx_lock(&t->shpool->mutex);

    tn = ngx_http_hotkey_table_find(t, ctx->cache.hash, ctx->cache.key,
                                    ctx->cache.key_len);
    bits = ngx_http_hotkey_cache_give_back(ctx, tn, 0);

    ngx_shmtx_unlock(&t->shpool->mutex);

    ngx_http_hotkey_wake(bits);
}


/* under the lock: the lock is given back if this request still holds it */

static uint64_t
ngx_http_hotkey_cache_give_back(ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_tnode_t *tn, ngx_uint_t failed)
{
    ngx_http_hotkey_centry_t  *e;

    if (tn == NULL) {
        return 0;
    }

    e = ngx_http_hotkey_tnode_data(tn);

    if (e->ticket != ctx->cache.ticket || e->lock_until == 0) {
        return 0;
    }

    e->lock_until = 0;

    if (failed) {
        e->failed_until = ngx_current_msec + NGX_HTTP_HOTKEY_FAIL_HOLD;
        e->alone_until = 0;
    }

    return ngx_http_hotkey_cache_settle(ctx->cache.table, e);
}


/* this worker's ring in the zone, made the first time it waits there */

static ngx_http_hotkey_ring_t *
ngx_http_hotkey_cache_ring(ngx_http_hotkey_table_t *t)
{
    ngx_http_hotkey_ring_t     **ring;
    ngx_http_hotkey_cache_sh_t  *csh;

    csh = t->sh->data;
    ring = &csh->rings[t->side][ngx_worker];

    if (*ring == NULL) {
        *ring = ngx_slab_calloc_locked(t->shpool,
                                       sizeof(ngx_http_hotkey_ring_t));
    }

    return *ring;
}


/*
 * In the master, once per cycle, under the lock: the cycle's number (no
 * other cycle's leader has it) and its side of the rings.
 */

void
ngx_http_hotkey_cache_new_cycle(ngx_http_hotkey_table_t *t)
{
    ngx_http_hotkey_cache_sh_t  *csh;

    csh = t->sh->data;

    t->gen = ++t->sh->seq;
    t->side = csh->cycles++ & 1;
}


/*
 * Under the lock: 1 when the entry's waiters are another cycle's (a
 * reload runs both for a moment): they read the other side of the rings
 * and this process has not their eventfds, so only their leader, still
 * holding the key, can wake them.
 */

static ngx_int_t
ngx_http_hotkey_cache_foreign(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_centry_t *e)
{
    return e->gen != t->gen && e->waiters
           && (ngx_msec_int_t) (e->lock_until - ngx_current_msec) > 0;
}


/*
 * Under the lock: the entry's key is settled; each worker waiting on it
 * is told its ticket.  Returns the workers to wake.
 */

static uint64_t
ngx_http_hotkey_cache_settle(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_centry_t *e)
{
    uint64_t                     bits;
    ngx_uint_t                   i;
    ngx_http_hotkey_ring_t      *ring;
    ngx_http_hotkey_cache_sh_t  *csh;

    if (ngx_http_hotkey_cache_foreign(t, e)) {
        return 0;
    }

    bits = e->waiters;
    e->waiters = 0;
    csh = t->sh->data;

    for (i = 0; i < NGX_HTTP_HOTKEY_MAX_SLOTS; i++) {
        ring = csh->rings[t->side][i];

        if (!(bits & ((uint64_t) 1 << i)) || ring == NULL) {
            continue;
        }

        if (ring->n < NGX_HTTP_HOTKEY_RING) {
            ring->tickets[ring->n++] = e->ticket;

        } else {
            ring->overflow = 1;
        }
    }

    return bits;
}


/*
 * For a woken worker, under the lock: the tickets settled for it since it
 * last looked (at most "max"); *overflow when some did not fit.
 */

ngx_uint_t
ngx_http_hotkey_cache_settled_tickets(ngx_http_hotkey_table_t *t,
    ngx_atomic_uint_t *tickets, ngx_uint_t max, ngx_uint_t *overflow)
{
    ngx_uint_t                   n;
    ngx_http_hotkey_ring_t      *ring;
    ngx_http_hotkey_cache_sh_t  *csh;

    csh = t->sh->data;
    ring = csh->rings[t->side][ngx_worker];
    *overflow = 0;

    if (ring == NULL) {
        return 0;
    }

    n = ngx_min(ring->n, max);
    ngx_memcpy(tickets, ring->tickets, n * sizeof(ngx_atomic_uint_t));

    *overflow = ring->overflow || ring->n > max;
    ring->n = 0;
    ring->overflow = 0;

    return n;
}


static ngx_int_t
ngx_http_hotkey_cache_store(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *tn, ngx_uint_t status, ngx_msec_t valid,
    ngx_http_hotkey_loc_conf_t *hlcf, u_char *body, size_t len)
{
    u_char                    *p;
    ngx_msec_t                 now;
    ngx_http_hotkey_centry_t  *e;

    now = ngx_current_msec;

    p = ngx_http_hotkey_table_alloc(t, len ? len : 1, tn, now);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    e = ngx_http_hotkey_tnode_data(tn);

    if (e->body) {
        ngx_slab_free_locked(t->shpool, e->body);
    }

    ngx_memcpy(p, body, len);

    e->body = p;
    e->body_len = (uint32_t) len;
    e->status = (uint16_t) status;
    e->stored = now;
    e->expires = now + valid;
    e->drop = e->expires + ngx_max(hlcf->cache_stale_revalidate,
                                   hlcf->cache_stale_error);
    e->failed_until = 0;
    e->alone_until = 0;

    return NGX_OK;
}


/* under the lock: no write of the instance since the answer was asked */

static ngx_int_t
ngx_http_hotkey_cache_fresh(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_ctx_t *ctx)
{
    ngx_http_hotkey_centry_t  *ie;

    ie = ngx_http_hotkey_cache_inode(t, (u_char *) ctx->route.instance, 0);

    return ie && ctx->cache.igen && ie->ticket == ctx->cache.igen;
}


/* the leader's (or a bypass's) answer goes in; store failures do not */

void
ngx_http_hotkey_cache_update(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_uint_t status, u_char *body, size_t len)
{
    uint64_t                      bits;
    ngx_msec_t                    valid;
    ngx_http_hotkey_table_t      *t;
    ngx_http_hotkey_tnode_t      *tn;
    ngx_http_hotkey_centry_t     *e;
    ngx_http_hotkey_loc_conf_t   *hlcf;
    ngx_http_hotkey_cache_ctx_t  *cc;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);
    cc = &ctx->cache;

    if (!cc->leader && !cc->bypass) {
        return;
    }

    /* no body: an answer that may change any moment, not kept */

    valid = (body == NULL) ? 0
            : (status == NGX_HTTP_OK) ? hlcf->cache_valid
            : (status == NGX_HTTP_NOT_FOUND || status == NGX_HTTP_BAD_REQUEST)
              ? hlcf->cache_errors_valid : 0;

    t = cc->table;
    bits = 0;

    ngx_shmtx_lock(&t->shpool->mutex);

    tn = ngx_http_hotkey_table_find(t, cc->hash, cc->key, cc->key_len);

    if (cc->leader) {
        ngx_http_hotkey_cache_keep(r, ctx, tn, status, valid, body, len);
        bits = ngx_http_hotkey_cache_give_back(ctx, tn, 0);

    } else if (valid && ngx_http_hotkey_cache_fresh(t, ctx)) {
        if (tn == NULL) {
            tn = ngx_http_hotkey_table_insert(t, cc->hash, cc->key,
                                              cc->key_len, ngx_current_msec);
        }

        if (tn && ngx_http_hotkey_cache_store(t, tn, status, valid, hlcf,
                                              body, len)
                  == NGX_OK)
        {
            e = ngx_http_hotkey_tnode_data(tn);
            ngx_memcpy(e->instance, ctx->route.instance, 36);
            e->igen = cc->igen;
            bits = ngx_http_hotkey_cache_settle(t, e);
        }
    }

    ngx_shmtx_unlock(&t->shpool->mutex);

    cc->leader = 0;
    cc->bypass = 0;

    ngx_http_hotkey_wake(bits);
}


/*
 * Under the lock: the leader's answer goes in if it is still the holder
 * and no write came since (else the answer may be older, and its waiters
 * ask again, one of them leading).  An answer that is not kept, never
 * cached or with no room for it, would be asked for again by each waiter
 * in turn: they ask the store themselves, at once.
 */

static void
ngx_http_hotkey_cache_keep(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_tnode_t *tn, ngx_uint_t status, ngx_msec_t valid,
    u_char *body, size_t len)
{
    ngx_http_hotkey_table_t      *t;
    ngx_http_hotkey_centry_t     *e;
    ngx_http_hotkey_loc_conf_t   *hlcf;
    ngx_http_hotkey_cache_ctx_t  *cc;

    cc = &ctx->cache;
    t = cc->table;
    e = tn ? ngx_http_hotkey_tnode_data(tn) : NULL;

    if (e == NULL || e->ticket != cc->ticket || e->lock_until == 0
        || !ngx_http_hotkey_cache_fresh(t, ctx))
    {
        return;
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    if (valid
        && ngx_http_hotkey_cache_store(t, tn, status, valid, hlcf, body, len)
           == NGX_OK)
    {
        e->igen = cc->igen;
        return;
    }

    e->alone_until = ngx_current_msec + NGX_HTTP_HOTKEY_FAIL_HOLD;
    e->failed_until = 0;
}


/*
 * The leader gives its lock back without an answer: aborted, or (failed)
 * the store failed.  Then NGX_OK means a stale copy is in ctx, as
 * stale-if-error allows; NGX_DECLINED, none.
 */

static ngx_int_t
ngx_http_hotkey_cache_unlock(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_uint_t failed)
{
    uint64_t                      bits;
    ngx_int_t                     rc;
    ngx_http_hotkey_table_t      *t;
    ngx_http_hotkey_tnode_t      *tn;
    ngx_http_hotkey_centry_t     *e;
    ngx_http_hotkey_loc_conf_t   *hlcf;
    ngx_http_hotkey_cache_ctx_t  *cc;

    cc = &ctx->cache;
    cc->bypass = 0;

    if (!cc->leader) {
        return NGX_DECLINED;
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);
    cc->leader = 0;
    rc = NGX_DECLINED;
    t = cc->table;

    ngx_shmtx_lock(&t->shpool->mutex);

    tn = ngx_http_hotkey_table_find(t, cc->hash, cc->key, cc->key_len);
    bits = ngx_http_hotkey_cache_give_back(ctx, tn, failed);

    if (tn && failed && !ctx->background) {
        e = ngx_http_hotkey_tnode_data(tn);

        if (e->body
            && ngx_http_hotkey_sub_ok()
            && (ngx_msec_int_t) (e->expires + hlcf->cache_stale_error
                                 - ngx_current_msec)
               > 0)
        {
            cc->status = NGX_HTTP_HOTKEY_CACHE_STALE;
            rc = ngx_http_hotkey_cache_copy(r, ctx, e);
        }
    }

    ngx_shmtx_unlock(&t->shpool->mutex);

    ngx_http_hotkey_wake(bits);

    return rc;
}


ngx_int_t
ngx_http_hotkey_cache_failed(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx)
{
    return ngx_http_hotkey_cache_unlock(r, ctx, 1);
}


void
ngx_http_hotkey_cache_release(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx)
{
    (void) ngx_http_hotkey_cache_unlock(r, ctx, 0);
}


/*
 * For a waiter being woken, under the zone's lock: 1 when the key it
 * waits on is no longer held by the ticket it waited for.
 */

ngx_int_t
ngx_http_hotkey_cache_settled(ngx_http_hotkey_table_t *t, uint32_t hash,
    u_char *key, size_t len, ngx_atomic_uint_t ticket)
{
    ngx_msec_t                 now;
    ngx_http_hotkey_tnode_t   *tn;
    ngx_http_hotkey_centry_t  *e;

    tn = ngx_http_hotkey_table_find(t, hash, key, len);
    if (tn == NULL) {
        return 1;
    }

    e = ngx_http_hotkey_tnode_data(tn);
    now = ngx_current_msec;

    if (e->ticket != ticket || (ngx_msec_int_t) (e->lock_until - now) <= 0
        || (e->body && (ngx_msec_int_t) (e->expires - now) > 0))
    {
        return 1;
    }

    e->waiters |= (uint64_t) 1 << ngx_worker;

    return 0;
}


ngx_int_t
ngx_http_hotkey_cache_headers(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    if (ctx->cache.status == NGX_HTTP_HOTKEY_CACHE_NONE || ctx->cache.headers)
    {
        return NGX_OK;
    }

    ctx->cache.headers = 1;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Cache-Status");
    h->value = ngx_http_hotkey_cache_status_names[ctx->cache.status].header;

    if (ctx->cache.status < NGX_HTTP_HOTKEY_CACHE_STALE) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Age");
    h->value.data = p;
    h->value.len = (u_char *) hotkey_uint_write((char *) p,
                                                (uint64_t) ctx->cache.age)
                   - p;

    return NGX_OK;
}


ngx_int_t
ngx_http_hotkey_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    if (ctx == NULL || ctx->cache.status == NGX_HTTP_HOTKEY_CACHE_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ngx_http_hotkey_cache_status_names[ctx->cache.status]
              .header.data;
    v->len = ngx_http_hotkey_cache_status_names[ctx->cache.status]
             .header.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * Drops every entry of an instance (NULL: of all).  An entry with a leader
 * in flight
 * goes too: its leader's answer then finds another ticket (or none) and
 * is not stored, and its waiters are woken to ask again.
 */

ngx_uint_t
ngx_http_hotkey_cache_drop_instance(ngx_http_hotkey_table_t *t, u_char *id)
{
    uint64_t                   bits;
    ngx_uint_t                 n;
    ngx_queue_t               *q, *next;
    ngx_http_hotkey_tnode_t   *tn;
    ngx_http_hotkey_centry_t  *e;

    n = 0;
    bits = 0;

    ngx_shmtx_lock(&t->shpool->mutex);

    for (q = ngx_queue_head(&t->sh->queue);
         q != ngx_queue_sentinel(&t->sh->queue);
         q = next)
    {
        next = ngx_queue_next(q);
        tn = ngx_queue_data(q, ngx_http_hotkey_tnode_t, queue);
        e = ngx_http_hotkey_tnode_data(tn);

        if (id && ngx_memcmp(e->instance, id, 36) != 0) {
            continue;
        }

        if (tn->key[0] != '\1') {
            n++;                        /* answers, not instance nodes */
        }

        if (ngx_http_hotkey_cache_foreign(t, e)) {

            /* left to its leader, who wakes its waiters: no answer */

            ngx_http_hotkey_centry_release(t, tn);
            continue;
        }

        bits |= ngx_http_hotkey_cache_settle(t, e);
        ngx_http_hotkey_table_delete(t, tn);
    }

    ngx_shmtx_unlock(&t->shpool->mutex);

    ngx_http_hotkey_wake(bits);

    return n;
}


/* a write went through: this node's answers of the instance go at once */

void
ngx_http_hotkey_cache_invalidate(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx)
{
    ngx_http_hotkey_cache_drop_all((ngx_cycle_t *) ngx_cycle,
                                   (u_char *) ctx->route.instance);
}


/* the instance's entries in every cache zone; NULL: every entry */

void
ngx_http_hotkey_cache_drop_all(ngx_cycle_t *cycle, u_char *id)
{
    ngx_uint_t                    i;
    ngx_http_hotkey_table_t      *t;
    ngx_shm_zone_t              **zones;
    ngx_http_hotkey_main_conf_t  *hmcf;

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hotkey_module);

    if (hmcf == NULL) {
        return;
    }

    zones = hmcf->zones.elts;

    for (i = 0; i < hmcf->zones.nelts; i++) {
        t = zones[i]->data;

        if (id == NULL) {
            (void) ngx_http_hotkey_cache_drop_instance(t, NULL);
            continue;
        }

        ngx_shmtx_lock(&t->shpool->mutex);
        ngx_http_hotkey_cache_bump(t, id);
        ngx_shmtx_unlock(&t->shpool->mutex);
    }
}


static ngx_int_t
ngx_http_hotkey_purge_handler(ngx_http_request_t *r)
{
    u_char                      *p, *body;
    ngx_int_t                    rc;
    ngx_str_t                    id;
    ngx_uint_t                   n;
    ngx_http_hotkey_loc_conf_t  *hlcf;

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE))) {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_METHOD, NULL);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "instance_id", 11, &id) != NGX_OK
        || !hotkey_uuid_valid((char *) id.data, id.len))
    {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_INSTANCE_ID, NULL);
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    n = ngx_http_hotkey_cache_drop_instance(hlcf->purge->data, id.data);

    body = ngx_pnalloc(r->pool, sizeof("{\"purged\":}") + NGX_INT_T_LEN);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"purged\":", 10);
    p = (u_char *) hotkey_uint_write((char *) p, n);
    *p++ = '}';

    return ngx_http_hotkey_send_json(r, NGX_HTTP_OK, body, p - body);
}
