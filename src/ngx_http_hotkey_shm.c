/*
 * What the cache and the rate-limit zones have in common: "name:size"
 * parsing, and a slab pool holding an rbtree and an LRU queue that is
 * kept across reloads.
 */

#include "ngx_http_hotkey_module.h"


ngx_shm_zone_t *
ngx_http_hotkey_shm_add(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_http_hotkey_shm_zone_t *zone, const char **err)
{
    ssize_t          size;
    u_char          *colon;
    ngx_str_t        name, s;
    ngx_shm_zone_t  *shm_zone;

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

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_hotkey_module);
    if (shm_zone == NULL) {
        *err = NGX_CONF_ERROR;
        return NULL;
    }

    if (shm_zone->data) {
        *err = "names a zone that is already defined";
        return NULL;
    }

    shm_zone->data = zone;

    return shm_zone;
}


/* a zone used by name; its size comes from the directive defining it */

ngx_shm_zone_t *
ngx_http_hotkey_shm_ref(ngx_conf_t *cf, ngx_str_t *name)
{
    return ngx_shared_memory_add(cf, name, 0, &ngx_http_hotkey_module);
}


ngx_int_t
ngx_http_hotkey_shm_init(ngx_shm_zone_t *shm_zone, void *data, size_t size,
    ngx_rbtree_insert_pt insert, const char *what)
{
    ngx_http_hotkey_shm_zone_t  *ozone = data;

    size_t                       len;
    ngx_http_hotkey_shm_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_calloc(zone->shpool, size);
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel, insert);
    ngx_queue_init(&zone->sh->queue);

    len = sizeof(" in  zone \"\"") + ngx_strlen(what)
          + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in %s zone \"%V\"%Z", what,
                &shm_zone->shm.name);

    /* a full zone evicts; running out of room is no news */

    zone->shpool->log_nomem = 0;

    return NGX_OK;
}
