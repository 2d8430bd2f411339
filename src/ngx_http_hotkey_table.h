/*
 * The one shared-memory table of the module: an rbtree ordered by hash and
 * then by key, an LRU queue and a slab pool, with bounded eviction.  The
 * cache and the rate limiter are two kinds of it, each with its payload.
 */

#ifndef NGX_HTTP_HOTKEY_TABLE_H
#define NGX_HTTP_HOTKEY_TABLE_H

#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_HOTKEY_TABLE_VERSION  3


typedef struct ngx_http_hotkey_table_s  ngx_http_hotkey_table_t;


/* node.key holds the hash; the payload follows, then the key bytes */

typedef struct {
    ngx_rbtree_node_t           node;
    ngx_queue_t                 queue;
    u_char                     *key;
    uint32_t                    key_len;
    uint32_t                    size;
} ngx_http_hotkey_tnode_t;


typedef struct {
    const char                 *name;       /* "hotkey_cache", ... */
    uint32_t                    magic;
    size_t                      payload;    /* bytes after the node head */

    /* 1: the node is held or waited on and must not be evicted */
    ngx_int_t                 (*busy)(ngx_http_hotkey_tnode_t *tn,
                                      ngx_msec_t now);

    /* 1: the node holds nothing worth keeping */
    ngx_int_t                 (*idle)(ngx_http_hotkey_tnode_t *tn,
                                      ngx_msec_t now);

    /* frees what the payload holds beside the node, if anything */
    void                      (*release)(ngx_http_hotkey_table_t *t,
                                         ngx_http_hotkey_tnode_t *tn);

    /* bytes of the kind's own shared state, zeroed at creation */
    size_t                      shared;
} ngx_http_hotkey_table_kind_t;


typedef struct {
    uint32_t                    magic;
    uint32_t                    version;
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;
    ngx_uint_t                  nodes;
    ngx_atomic_uint_t           seq;        /* the last ticket given */
    void                       *data;       /* the kind's shared state */
} ngx_http_hotkey_table_sh_t;


struct ngx_http_hotkey_table_s {
    ngx_http_hotkey_table_sh_t    *sh;
    ngx_slab_pool_t               *shpool;
    ngx_http_hotkey_table_kind_t  *kind;
    size_t                         max_item;
    ngx_shm_zone_t                *shm_zone;
    ngx_atomic_uint_t              gen;     /* this cycle's, from seq */
    ngx_uint_t                     side;    /* of the cache's rings */
};


#define ngx_http_hotkey_tnode_data(tn)  ((void *) ((tn) + 1))


ngx_shm_zone_t *ngx_http_hotkey_table_add(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_http_hotkey_table_kind_t *kind, const char **err);
ngx_shm_zone_t *ngx_http_hotkey_table_ref(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_hotkey_table_kind_t *kind);

ngx_http_hotkey_tnode_t *ngx_http_hotkey_table_find(
    ngx_http_hotkey_table_t *t, uint32_t hash, u_char *key, size_t len);
ngx_http_hotkey_tnode_t *ngx_http_hotkey_table_insert(
    ngx_http_hotkey_table_t *t, uint32_t hash, u_char *key, size_t len,
    ngx_msec_t now);
void *ngx_http_hotkey_table_alloc(ngx_http_hotkey_table_t *t, size_t size,
    ngx_http_hotkey_tnode_t *keep, ngx_msec_t now);
void ngx_http_hotkey_table_touch(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *tn);
void ngx_http_hotkey_table_delete(ngx_http_hotkey_table_t *t,
    ngx_http_hotkey_tnode_t *tn);
void ngx_http_hotkey_table_expire(ngx_http_hotkey_table_t *t, ngx_uint_t n,
    ngx_msec_t now);

void ngx_http_hotkey_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
ngx_int_t ngx_http_hotkey_tnode_cmp(ngx_http_hotkey_tnode_t *tn,
    uint32_t hash, u_char *key, size_t len);
ngx_http_hotkey_tnode_t *ngx_http_hotkey_rbtree_find(ngx_rbtree_t *tree,
    uint32_t hash, u_char *key, size_t len);

#endif
