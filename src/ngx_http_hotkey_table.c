/*
 * The shared-memory table behind the cache and the rate limiter.
 *
 * Nodes are ordered by hash, then key length, then key bytes: a total
 * order, so a lookup finds a key wherever rotations moved its equal-hash
 * neighbours.  Each kind has its own shm tag and a magic in the zone
 * header, so nginx never hands one kind's zone to another across a reload
 * (it refuses the name at "nginx -t" or makes a new zone), and a zone made
 * by another layout is refused.  Eviction frees a few unheld entries from
 * the LRU end and then gives up: an item that does not fit is not stored.
 */

#include "ngx_http_hotkey_module.h"


#define NGX_HTTP_HOTKEY_EVICT_MAX  8        /* entries freed per alloc */
#define NGX_HTTP_HOTKEY_SCAN_MAX   16       /* LRU entries looked at */


static ngx_int_t ngx_http_hotkey_table_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_hotkey_table_create(ngx_shm_zone_t *shm_zone,
    ngx_http_hotkey_table_t *t);
static ngx_http_hotkey_tnode_t *ngx_http_hotkey_table_victim(
    ngx_http_hotkey_table_t *t, ngx_http_hotkey_tnode_t *keep,
    ngx_msec_t now);


ngx_shm_zone_t *
ngx_http_hotkey_table_add(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_http_hotkey_table_kind_t *kind, const char **err)
{
    ssize_t                   size;
    u_char                   *colon;
    ngx_str_t                 name, s;
    ngx_shm_zone_t           *shm_zone;
    ngx_http_hotkey_table_t  *t;

    colon = (u_char *) ngx_strchr(arg->data, ':');
    if (colon == NULL || colon == arg->data) {
        *err = "takes \"name:size\"";
        return NULL;
    }

    name.data = arg->data;
    name.len = colon - arg->data;
    s.data = colon + 1;
    s.len = arg->len - name.len - 1;

    size = ngx_parse_size(&s);
    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        *err = "has an invalid size (at least 8 pages, e.g. 64k)";
        return NULL;
    }

    t = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_table_t));
    if (t == NULL) {
        *err = NGX_CONF_ERROR;
        return NULL;
    }

    /* the kind is the tag: another kind's zone of this name is refused */

    shm_zone = ngx_shared_memory_add(cf, &name, size, kind);
    if (shm_zone == NULL) {
        *err = NGX_CONF_ERROR;
        return NULL;
    }

    if (shm_zone->data) {
        *err = "names a zone that is already defined";
        return NULL;
    }

    t->kind = kind;
    t->shm_zone = shm_zone;
    shm_zone->data = t;
    shm_zone->init = ngx_http_hotkey_table_init_zone;

    return shm_zone;
}


/* a zone used by name; its size comes from the directive defining it */

ngx_shm_zone_t *
ngx_http_hotkey_table_ref(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_hotkey_table_kind_t *kind)
{
    return ngx_shared_memory_add(cf, name, 0, kind);
}


static ngx_int_t
ngx_http_hotkey_table_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_hotkey_table_t  *t;

    t = shm_zone->data;
    t->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    t->max_item = shm_zone->shm.size / 8;

    if (data == NULL && !shm_zone->shm.exists) {
        return ngx_http_hotkey_table_create(shm_zone, t);
    }

    /* kept across a reload: only if the same kind and layout made it */

    t->sh = t->shpool->data;

    if (t->sh == NULL || t->sh->magic != t->kind->magic
        || t->sh->version != NGX_HTTP_HOTKEY_TABLE_VERSION)
    {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "%s zone \"%V\" was made by another version of the "
                      "module: rename or resize it, or restart nginx",
                      t->kind->name, &shm_zone->shm.name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_table_create(ngx_shm_zone_t *shm_zone,
    ngx_http_hotkey_table_t *t)
{
    size_t  len;

    t->sh = ngx_slab_calloc(t->shpool, sizeof(ngx_http_hotkey_table_sh_t));
    if (t->sh == NULL) {
        return NGX_ERROR;
    }

    t->sh->magic = t->kind->magic;
    t->sh->version = NGX_HTTP_HOTKEY_TABLE_VERSION;
    ngx_rbtree_init(&t->sh->rbtree, &t->sh->sentinel,
                    ngx_http_hotkey_rbtree_insert);
    ngx_queue_init(&t->sh->queue);

    len = sizeof(" in  zone \"\"") + ngx_strlen(t->kind->name)
          + shm_zone->shm.name.len;

    t->shpool->log_ctx = ngx_slab_alloc(t->shpool, len);
    if (t->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(t->shpool->log_ctx, " in %s zone \"%V\"%Z", t->kind->name,
                &shm_zone->shm.name);

    /* a full zone evicts or does without; running out is no news */

    t->shpool->log_nomem = 0;
    t->shpool->data = t->sh;

    return NGX_OK;
}


ngx_int_t
ngx_http_hotkey_tnode_cmp(ngx_http_hotkey_tnode_t *tn, uint32_t hash,
    u_char *key, size_t len)
{
    if ((ngx_rbtree_key_t) hash != tn->node.key) {
        return ((ngx_rbtree_key_t) hash < tn->node.key) ? -1 : 1;
    }

    if (len != tn->key_len) {
        return (len < tn->key_len) ? -1 : 1;
    }

    return ngx_memcmp(key, tn->key, len);
}


void
ngx_http_hotkey_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t        **p;
    ngx_http_hotkey_tnode_t   *tn;

    tn = (ngx_http_hotkey_tnode_t *) node;

    for ( ;; ) {
        p = (ngx_http_hotkey_tnode_cmp((ngx_http_hotkey_tnode_t *) temp,
                                       (uint32_t) node->key, tn->key,
                                       tn->key_len)
             < 0)
            ? &temp->left : &temp->right;

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


ngx_http_hotkey_tnode_t *
ngx_http_hotkey_rbtree_find(ngx_rbtree_t *tree, uint32_t hash, u_char *key,
    size_t len)
{
    ngx_int_t           rc;
    ngx_rbtree_node_t  *node, *sentinel;

    node = tree->root;
    sentinel = tree->sentinel;

    while (node != sentinel) {
        rc = ngx_http_hotkey_tnode_cmp((ngx_http_hotkey_tnode_t *) node,
                                       hash, key, len);
        if (rc == 0) {
            return (ngx_http_hotkey_tnode_t *) node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_http_hotkey_tnode_t *
ngx_http_hotkey_table_find(ngx_http_hotkey_table_t *t, uint32_t hash,
    u_char *key, size_t len)
{
    return ngx_http_hotkey_rbtree_find(&t->sh->rbtree, hash, key, len);
}


ngx_http_hotkey_tnode_t *
ngx_http_hotkey_table_insert(ngx_http_hotkey_table_t *t, uint32_t hash,
    u_char *key, size_t len, ngx_msec_t now)
{
    size_t                    size, head;
    ngx_http_hotkey_tnode_t  *tn;

    ngx_http_hotkey_table_expire(t, 2, now);

    head = sizeof(ngx_http_hotkey_tnode_t) + t->kind->payload;
    size = head + len;

    tn = ngx_http_hotkey_table_alloc(t, size, NULL, now);
    if (tn == NULL) {
        return NULL;
    }

    ngx_memzero(tn, head);

    tn->node.key = hash;
    tn->key = (u_char *) tn + head;
    tn->key_len = (uint32_t) len;
    tn->size = (uint32_t) size;
    ngx_memcpy(tn->key, key, len);

    ngx_rbtree_insert(&t->sh->rbtree, &tn->node);
    ngx_queue_insert_head(&t->sh->queue, &tn->queue);
    t->sh->nodes++;

    return tn;
}


/*
 * Under the zone's lock.  Frees at most EVICT_MAX entries, never one that
 * is held, waited on or "keep", and gives up rather than emptying the
 * zone; an item over an eighth of the zone is not even tried.
 */

void *
ngx_http_hotkey_table_alloc(ngx_http_hotkey_table_t *t, size_t size,
    ngx_http_hotkey_tnode_t *keep, ngx_msec_t now)
{
    void                     *p;
    ngx_uint_t                n;
    ngx_http_hotkey_tnode_t  *tn;

    if (size > t->max_item) {
        return NULL;
    }

    for (n = 0; /* void */; n++) {

        p = ngx_slab_alloc_locked(t->shpool, size);
        if (p || n == NGX_HTTP_HOTKEY_EVICT_MAX) {
            return p;
        }

        tn = ngx_http_hotkey_table_victim(t, keep, now);
        if (tn == NULL) {
            return NULL;
        }

        ngx_http_hotkey_table_delete(t, tn);
    }
}


static ngx_http_hotkey_tnode_t *
ngx_http_hotkey_table_victim(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *keep, ngx_msec_t now)
{
    ngx_uint_t                n;
    ngx_queue_t              *q;
    ngx_http_hotkey_tnode_t  *tn;

    q = ngx_queue_last(&t->sh->queue);

    for (n = 0; n < NGX_HTTP_HOTKEY_SCAN_MAX; n++) {

        if (q == ngx_queue_sentinel(&t->sh->queue)) {
            return NULL;
        }

        tn = ngx_queue_data(q, ngx_http_hotkey_tnode_t, queue);

        if (tn != keep
            && (t->kind->busy == NULL || !t->kind->busy(tn, now)))
        {
            return tn;
        }

        q = ngx_queue_prev(q);
    }

    return NULL;
}


void
ngx_http_hotkey_table_touch(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *tn)
{
    ngx_queue_remove(&tn->queue);
    ngx_queue_insert_head(&t->sh->queue, &tn->queue);
}


void
ngx_http_hotkey_table_delete(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *tn)
{
    if (t->kind->release) {
        t->kind->release(t, tn);
    }

    ngx_queue_remove(&tn->queue);
    ngx_rbtree_delete(&t->sh->rbtree, &tn->node);
    ngx_slab_free_locked(t->shpool, tn);
    t->sh->nodes--;
}


/* drops up to n idle entries from the LRU end, stopping at a live one */

void
ngx_http_hotkey_table_expire(ngx_http_hotkey_table_t *t, ngx_uint_t n,
    ngx_msec_t now)
{
    ngx_queue_t              *q;
    ngx_http_hotkey_tnode_t  *tn;

    while (n-- && !ngx_queue_empty(&t->sh->queue)) {
        q = ngx_queue_last(&t->sh->queue);
        tn = ngx_queue_data(q, ngx_http_hotkey_tnode_t, queue);

        if (!t->kind->idle(tn, now)
            || (t->kind->busy && t->kind->busy(tn, now)))
        {
            return;
        }

        ngx_http_hotkey_table_delete(t, tn);
    }
}
