/*
 * The shared-memory cache of finished answers: an rbtree by key hash and
 * an LRU queue in a slab pool, shared by all workers and kept across
 * reloads.  One request per key fetches from the store; the others wait
 * for it (ngx_http_hotkey_wait.c) and are woken when the answer is in.
 */

#include "ngx_http_hotkey_module.h"


#define NGX_HTTP_HOTKEY_FAIL_HOLD  1000


typedef struct {
    ngx_rbtree_node_t           node;
    ngx_queue_t                 queue;
    u_char                     *body;
    uint32_t                    body_len;
    uint16_t                    status;
    uint16_t                    key_len;
    uint64_t                    waiters;
    ngx_msec_t                  stored;
    ngx_msec_t                  expires;
    ngx_msec_t                  drop;
    ngx_msec_t                  lock_until;
    ngx_msec_t                  failed_until;
    u_char                      instance[36];
    u_char                      key[1];
} ngx_http_hotkey_cache_node_t;


typedef struct {
    ngx_http_hotkey_shm_t       head;       /* first: the shared part */
    ngx_atomic_uint_t           purges;
} ngx_http_hotkey_cache_sh_t;


typedef struct {
    ngx_http_hotkey_cache_sh_t *sh;
    ngx_slab_pool_t            *shpool;
} ngx_http_hotkey_cache_zone_t;


static ngx_int_t ngx_http_hotkey_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_hotkey_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_hotkey_cache_node_t *ngx_http_hotkey_cache_find(
    ngx_http_hotkey_cache_zone_t *cz, ngx_http_hotkey_ctx_t *ctx);
static ngx_http_hotkey_cache_node_t *ngx_http_hotkey_cache_create(
    ngx_http_hotkey_cache_zone_t *cz, ngx_http_hotkey_ctx_t *ctx);
static void *ngx_http_hotkey_cache_alloc(ngx_http_hotkey_cache_zone_t *cz,
    size_t size, ngx_http_hotkey_cache_node_t *keep);
static void ngx_http_hotkey_cache_delete(ngx_http_hotkey_cache_zone_t *cz,
    ngx_http_hotkey_cache_node_t *node);
static void ngx_http_hotkey_cache_expire(ngx_http_hotkey_cache_zone_t *cz);
static ngx_int_t ngx_http_hotkey_cache_copy(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_http_hotkey_cache_node_t *node);
static void ngx_http_hotkey_cache_wake(ngx_http_hotkey_cache_node_t *node);
static ngx_int_t ngx_http_hotkey_purge_handler(ngx_http_request_t *r);
static void ngx_http_hotkey_cache_make_key(ngx_http_hotkey_ctx_t *ctx);
static ngx_int_t ngx_http_hotkey_cache_bypass(ngx_http_request_t *r);


static ngx_str_t  ngx_http_hotkey_cache_status_names[] = {
    ngx_null_string,
    ngx_string("MISS"),
    ngx_string("BYPASS"),
    ngx_string("EXPIRED"),
    ngx_string("STALE"),
    ngx_string("UPDATING"),
    ngx_string("HIT")
};


char *
ngx_http_hotkey_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    const char                    *err;
    ngx_str_t                     *value;
    ngx_shm_zone_t                *shm_zone, **pz;
    ngx_http_hotkey_main_conf_t   *hmcf;
    ngx_http_hotkey_cache_zone_t  *cz;

    value = cf->args->elts;

    cz = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_cache_zone_t));
    if (cz == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_http_hotkey_shm_add(cf, &value[1],
                                       (ngx_http_hotkey_shm_zone_t *) cz,
                                       &err);
    if (shm_zone == NULL) {
        return (char *) err;
    }

    shm_zone->init = ngx_http_hotkey_cache_init_zone;

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

    hlcf->cache = ngx_http_hotkey_shm_ref(cf, &value[1]);

    return hlcf->cache ? NGX_CONF_OK : NGX_CONF_ERROR;
}


char *
ngx_http_hotkey_cache_purge(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hotkey_loc_conf_t  *hlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;

    hlcf->purge = ngx_http_hotkey_shm_ref(cf, &value[1]);
    if (hlcf->purge == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_hotkey_purge_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_hotkey_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    return ngx_http_hotkey_shm_init(shm_zone, data,
                                    sizeof(ngx_http_hotkey_cache_sh_t),
                                    ngx_http_hotkey_cache_rbtree_insert,
                                    "hotkey_cache");
}


static void
ngx_http_hotkey_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {
        p = (node->key < temp->key) ? &temp->left : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_hotkey_cache_node_t *
ngx_http_hotkey_cache_find(ngx_http_hotkey_cache_zone_t *cz,
    ngx_http_hotkey_ctx_t *ctx)
{
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_hotkey_cache_node_t  *cn;

    node = cz->sh->head.rbtree.root;
    sentinel = cz->sh->head.rbtree.sentinel;

    /* equal hashes go right on insert, so keep looking both ways */

    while (node != sentinel) {

        if (ctx->hash < node->key) {
            node = node->left;
            continue;
        }

        if (ctx->hash > node->key) {
            node = node->right;
            continue;
        }

        cn = (ngx_http_hotkey_cache_node_t *) node;

        if (cn->key_len == ctx->key_len
            && ngx_memcmp(cn->key, ctx->key, ctx->key_len) == 0)
        {
            return cn;
        }

        node = node->right;
    }

    return NULL;
}


static void *
ngx_http_hotkey_cache_alloc(ngx_http_hotkey_cache_zone_t *cz, size_t size,
    ngx_http_hotkey_cache_node_t *keep)
{
    void                          *p;
    ngx_uint_t                     i;
    ngx_queue_t                   *q;
    ngx_http_hotkey_cache_node_t  *cn;

    for (i = 0; i < 64; i++) {

        p = ngx_slab_alloc_locked(cz->shpool, size);
        if (p) {
            return p;
        }

        if (ngx_queue_empty(&cz->sh->head.queue)) {
            return NULL;
        }

        /* evict the least recently used entry, never the one in hand */

        q = ngx_queue_last(&cz->sh->head.queue);
        cn = ngx_queue_data(q, ngx_http_hotkey_cache_node_t, queue);

        if (cn == keep) {
            q = ngx_queue_prev(q);
            if (q == ngx_queue_sentinel(&cz->sh->head.queue)) {
                return NULL;
            }

            cn = ngx_queue_data(q, ngx_http_hotkey_cache_node_t, queue);
        }

        ngx_http_hotkey_cache_wake(cn);
        ngx_http_hotkey_cache_delete(cz, cn);
    }

    return NULL;
}


static void
ngx_http_hotkey_cache_delete(ngx_http_hotkey_cache_zone_t *cz,
    ngx_http_hotkey_cache_node_t *cn)
{
    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&cz->sh->head.rbtree, &cn->node);

    if (cn->body) {
        ngx_slab_free_locked(cz->shpool, cn->body);
    }

    ngx_slab_free_locked(cz->shpool, cn);
}


static void
ngx_http_hotkey_cache_expire(ngx_http_hotkey_cache_zone_t *cz)
{
    ngx_uint_t                     n;
    ngx_queue_t                   *q;
    ngx_http_hotkey_cache_node_t  *cn;

    for (n = 0; n < 2 && !ngx_queue_empty(&cz->sh->head.queue); n++) {
        q = ngx_queue_last(&cz->sh->head.queue);
        cn = ngx_queue_data(q, ngx_http_hotkey_cache_node_t, queue);

        if (cn->drop > ngx_current_msec || cn->lock_until > ngx_current_msec
            || cn->waiters)
        {
            return;
        }

        ngx_http_hotkey_cache_delete(cz, cn);
    }
}


static ngx_http_hotkey_cache_node_t *
ngx_http_hotkey_cache_create(ngx_http_hotkey_cache_zone_t *cz,
    ngx_http_hotkey_ctx_t *ctx)
{
    size_t                         size;
    ngx_http_hotkey_cache_node_t  *cn;

    ngx_http_hotkey_cache_expire(cz);

    size = offsetof(ngx_http_hotkey_cache_node_t, key) + ctx->key_len;

    cn = ngx_http_hotkey_cache_alloc(cz, size, NULL);
    if (cn == NULL) {
        return NULL;
    }

    ngx_memzero(cn, offsetof(ngx_http_hotkey_cache_node_t, key));

    cn->node.key = ctx->hash;
    cn->key_len = (uint16_t) ctx->key_len;
    ngx_memcpy(cn->key, ctx->key, ctx->key_len);
    ngx_memcpy(cn->instance, ctx->route.instance, 36);

    ngx_rbtree_insert(&cz->sh->head.rbtree, &cn->node);
    ngx_queue_insert_head(&cz->sh->head.queue, &cn->queue);

    return cn;
}


static ngx_int_t
ngx_http_hotkey_cache_copy(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_cache_node_t *cn)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, cn->body_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, cn->body, cn->body_len);

    ctx->body.data = p;
    ctx->body.len = cn->body_len;
    ctx->status = cn->status;
    ctx->age = (time_t) ((ngx_current_msec - cn->stored) / 1000);

    return NGX_OK;
}


ngx_msec_t
ngx_http_hotkey_cache_lock_time(ngx_http_hotkey_loc_conf_t *hlcf)
{
    return hlcf->upstream.connect_timeout + hlcf->upstream.send_timeout
           + hlcf->upstream.read_timeout + 500;
}


static u_char *
ngx_http_hotkey_cache_put_uint(u_char *p, uint64_t v)
{
    u_char   buf[NGX_INT64_LEN];
    size_t   n;

    n = sizeof(buf);

    do {
        buf[--n] = (u_char) ('0' + v % 10);
        v /= 10;
    } while (v);

    return ngx_cpymem(p, buf + n, sizeof(buf) - n);
}


/* project|instance|offset|limit|status: ids are valid, so it fits */

static void
ngx_http_hotkey_cache_make_key(ngx_http_hotkey_ctx_t *ctx)
{
    u_char  *p;

    p = ngx_cpymem(ctx->key, ctx->route.project, ctx->route.project_len);
    *p++ = '|';
    p = ngx_cpymem(p, ctx->route.instance, ctx->route.instance_len);
    *p++ = '|';
    p = ngx_http_hotkey_cache_put_uint(p, (uint64_t) ctx->args.offset);
    *p++ = '|';
    p = ngx_http_hotkey_cache_put_uint(p, (uint64_t) ctx->args.limit);
    *p++ = '|';
    *p++ = (u_char) ('0' + ctx->args.status);

    ctx->key_len = p - ctx->key;
    ctx->hash = ngx_murmur_hash2(ctx->key, ctx->key_len);
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
 * ctx->leader set also wants a background refresh), NGX_DECLINED to ask
 * the store (ctx->leader set when the answer goes into the cache),
 * NGX_AGAIN to wait for another request's answer, NGX_ERROR.
 */

ngx_int_t
ngx_http_hotkey_cache_lookup(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_msec_t                     now, stale;
    ngx_http_hotkey_loc_conf_t    *hlcf;
    ngx_http_hotkey_cache_zone_t  *cz;
    ngx_http_hotkey_cache_node_t  *cn;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    if (hlcf->cache == NULL) {
        return NGX_DECLINED;
    }

    if (ctx->key_len == 0) {
        ngx_http_hotkey_cache_make_key(ctx);
    }

    if (hlcf->cache_bypass && ngx_http_hotkey_cache_bypass(r)) {
        ctx->cache_status = NGX_HTTP_HOTKEY_CACHE_BYPASS;
        ctx->leader = 1;
        return NGX_DECLINED;
    }

    cz = hlcf->cache->data;
    now = ngx_current_msec;
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&cz->shpool->mutex);

    ctx->purges = cz->sh->purges;
    cn = ngx_http_hotkey_cache_find(cz, ctx);

    if (cn == NULL) {
        cn = ngx_http_hotkey_cache_create(cz, ctx);
        ctx->cache_status = NGX_HTTP_HOTKEY_CACHE_MISS;
        goto lead;
    }

    ngx_queue_remove(&cn->queue);
    ngx_queue_insert_head(&cz->sh->head.queue, &cn->queue);

    if (cn->body && now < cn->expires) {
        ctx->cache_status = NGX_HTTP_HOTKEY_CACHE_HIT;
        rc = ngx_http_hotkey_cache_copy(r, ctx, cn);
        goto done;
    }

    stale = hlcf->cache_stale_revalidate;

    if (cn->body && now < cn->expires + stale) {
        rc = ngx_http_hotkey_cache_copy(r, ctx, cn);

        if (cn->lock_until > now) {
            ctx->cache_status = NGX_HTTP_HOTKEY_CACHE_UPDATING;
            goto done;
        }

        ctx->cache_status = NGX_HTTP_HOTKEY_CACHE_STALE;
        ctx->leader = 1;
        cn->lock_until = now + ngx_http_hotkey_cache_lock_time(hlcf);
        goto done;
    }

    if (cn->lock_until > now && !ctx->takeover) {
        if (ngx_worker < NGX_HTTP_HOTKEY_MAX_SLOTS) {
            cn->waiters |= (uint64_t) 1 << ngx_worker;
        }

        rc = NGX_AGAIN;
        goto done;
    }

    if (cn->failed_until > now && ctx->waited) {

        /* the store failed the request we waited for: share its fate */

        if (cn->body && now < cn->expires + hlcf->cache_stale_error) {
            ctx->cache_status = NGX_HTTP_HOTKEY_CACHE_STALE;
            rc = ngx_http_hotkey_cache_copy(r, ctx, cn);
            goto done;
        }

        ctx->cache_status = NGX_HTTP_HOTKEY_CACHE_EXPIRED;
        ctx->failed = 1;
        rc = NGX_OK;
        goto done;
    }

    ctx->cache_status = cn->body ? NGX_HTTP_HOTKEY_CACHE_EXPIRED
                                 : NGX_HTTP_HOTKEY_CACHE_MISS;

lead:

    ctx->leader = 1;

    if (cn) {
        cn->lock_until = now + ngx_http_hotkey_cache_lock_time(hlcf);
    }

done:

    ngx_shmtx_unlock(&cz->shpool->mutex);

    return rc;
}


/* the leader's answer goes in; errors the store did not answer do not */

void
ngx_http_hotkey_cache_update(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_uint_t status, u_char *body, size_t len)
{
    u_char                        *p;
    ngx_msec_t                     valid, now;
    ngx_http_hotkey_loc_conf_t    *hlcf;
    ngx_http_hotkey_cache_zone_t  *cz;
    ngx_http_hotkey_cache_node_t  *cn;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    if (!ctx->leader || hlcf->cache == NULL) {
        return;
    }

    ctx->leader = 0;

    valid = (status == NGX_HTTP_OK) ? hlcf->cache_valid
            : (status == NGX_HTTP_NOT_FOUND || status == NGX_HTTP_BAD_REQUEST)
              ? hlcf->cache_errors_valid : 0;

    cz = hlcf->cache->data;
    now = ngx_current_msec;

    ngx_shmtx_lock(&cz->shpool->mutex);

    cn = ngx_http_hotkey_cache_find(cz, ctx);

    if (valid == 0 || cz->sh->purges != ctx->purges) {
        goto unlock;
    }

    if (cn == NULL) {
        cn = ngx_http_hotkey_cache_create(cz, ctx);
        if (cn == NULL) {
            goto done;
        }
    }

    p = ngx_http_hotkey_cache_alloc(cz, len ? len : 1, cn);
    if (p == NULL) {
        goto unlock;
    }

    if (cn->body) {
        ngx_slab_free_locked(cz->shpool, cn->body);
    }

    ngx_memcpy(p, body, len);

    cn->body = p;
    cn->body_len = (uint32_t) len;
    cn->status = (uint16_t) status;
    cn->stored = now;
    cn->expires = now + valid;
    cn->drop = cn->expires + ngx_max(hlcf->cache_stale_revalidate,
                                     hlcf->cache_stale_error);
    cn->failed_until = 0;

unlock:

    if (cn) {
        cn->lock_until = 0;
        ngx_http_hotkey_cache_wake(cn);
    }

done:

    ngx_shmtx_unlock(&cz->shpool->mutex);
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
    ngx_int_t                      rc;
    ngx_http_hotkey_loc_conf_t    *hlcf;
    ngx_http_hotkey_cache_zone_t  *cz;
    ngx_http_hotkey_cache_node_t  *cn;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    if (!ctx->leader || hlcf->cache == NULL) {
        return NGX_DECLINED;
    }

    ctx->leader = 0;
    rc = NGX_DECLINED;
    cz = hlcf->cache->data;

    ngx_shmtx_lock(&cz->shpool->mutex);

    cn = ngx_http_hotkey_cache_find(cz, ctx);

    if (cn) {
        cn->lock_until = 0;

        if (failed) {
            cn->failed_until = ngx_current_msec + NGX_HTTP_HOTKEY_FAIL_HOLD;

            if (cn->body && !ctx->background
                && ngx_current_msec < cn->expires + hlcf->cache_stale_error)
            {
                ctx->cache_status = NGX_HTTP_HOTKEY_CACHE_STALE;
                rc = ngx_http_hotkey_cache_copy(r, ctx, cn);
            }
        }

        ngx_http_hotkey_cache_wake(cn);
    }

    ngx_shmtx_unlock(&cz->shpool->mutex);

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


ngx_int_t
ngx_http_hotkey_cache_headers(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    if (ctx->cache_status == NGX_HTTP_HOTKEY_CACHE_NONE) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Cache-Status");
    h->value = ngx_http_hotkey_cache_status_names[ctx->cache_status];

    if (ctx->cache_status < NGX_HTTP_HOTKEY_CACHE_STALE) {
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
    h->value.len = ngx_sprintf(p, "%T", ctx->age) - p;

    return NGX_OK;
}


ngx_int_t
ngx_http_hotkey_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    if (ctx == NULL || ctx->cache_status == NGX_HTTP_HOTKEY_CACHE_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ngx_http_hotkey_cache_status_names[ctx->cache_status].data;
    v->len = ngx_http_hotkey_cache_status_names[ctx->cache_status].len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* under the zone's lock: the requests waiting for this entry move on */

static void
ngx_http_hotkey_cache_wake(ngx_http_hotkey_cache_node_t *cn)
{
    uint64_t  bits;

    bits = cn->waiters;
    cn->waiters = 0;

    ngx_http_hotkey_wake(bits);
}


static ngx_int_t
ngx_http_hotkey_purge_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      id;
    ngx_uint_t                     n;
    ngx_queue_t                   *q, *next;
    u_char                        *body;
    ngx_http_hotkey_loc_conf_t    *hlcf;
    ngx_http_hotkey_cache_zone_t  *cz;
    ngx_http_hotkey_cache_node_t  *cn;

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
    cz = hlcf->purge->data;
    n = 0;

    ngx_shmtx_lock(&cz->shpool->mutex);

    cz->sh->purges++;

    for (q = ngx_queue_head(&cz->sh->head.queue);
         q != ngx_queue_sentinel(&cz->sh->head.queue);
         q = next)
    {
        next = ngx_queue_next(q);
        cn = ngx_queue_data(q, ngx_http_hotkey_cache_node_t, queue);

        if (ngx_memcmp(cn->instance, id.data, 36) != 0) {
            continue;
        }

        ngx_http_hotkey_cache_wake(cn);
        ngx_http_hotkey_cache_delete(cz, cn);
        n++;
    }

    ngx_shmtx_unlock(&cz->shpool->mutex);

    body = ngx_pnalloc(r->pool, sizeof("{\"purged\":}") + NGX_INT_T_LEN);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_hotkey_send_json(r, NGX_HTTP_OK, body,
                                     ngx_sprintf(body, "{\"purged\":%ui}", n)
                                     - body);
}
