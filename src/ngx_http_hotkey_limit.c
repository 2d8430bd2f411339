/*
 * Per-caller rate limits: a token bucket per principal in a shared-memory
 * zone (rbtree + LRU queue, as limit_req keeps it), counted after
 * authentication, exact across workers because every decision is made
 * under the zone's mutex.  Every answer to a limited caller carries the
 * state in the RateLimit-Policy and RateLimit fields (IETF draft 10).
 */

#include "ngx_http_hotkey_module.h"


#define NGX_HTTP_HOTKEY_PRINCIPAL_MAX  256
#define NGX_HTTP_HOTKEY_REQ            1000000     /* a request, in parts */
#define NGX_HTTP_HOTKEY_IDLE_MAX       86400000    /* ms: a full bucket */


typedef struct {
    ngx_rbtree_node_t           node;
    ngx_queue_t                 queue;
    ngx_msec_t                  last;
    ngx_uint_t                  excess;     /* parts of requests */
    ngx_uint_t                  rate;       /* its own: overrides count */
    ngx_uint_t                  period;
    u_short                     len;
    u_char                      principal[1];
} ngx_http_hotkey_limit_node_t;


typedef ngx_http_hotkey_shm_zone_t  ngx_http_hotkey_limit_zone_t;


struct ngx_http_hotkey_limit_s {
    ngx_shm_zone_t             *zone;
    ngx_uint_t                  rate;       /* requests per period */
    ngx_uint_t                  period;     /* ms */
    ngx_uint_t                  burst;      /* requests */
};


typedef struct {
    ngx_uint_t                  rate;
    ngx_uint_t                  period;
    ngx_uint_t                  burst;
    ngx_uint_t                  excess;
    ngx_uint_t                  pass;
} ngx_http_hotkey_limit_state_t;


static ngx_int_t ngx_http_hotkey_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_hotkey_limit_node_t *ngx_http_hotkey_limit_find(
    ngx_http_hotkey_limit_zone_t *lz, ngx_str_t *principal, uint32_t hash);
static ngx_http_hotkey_limit_node_t *ngx_http_hotkey_limit_create(
    ngx_http_hotkey_limit_zone_t *lz, ngx_str_t *principal, uint32_t hash);
static void ngx_http_hotkey_limit_expire(ngx_http_hotkey_limit_zone_t *lz,
    ngx_uint_t n);
static void ngx_http_hotkey_limit_decide(ngx_http_hotkey_limit_node_t *ln,
    ngx_http_hotkey_limit_state_t *st);
static ngx_int_t ngx_http_hotkey_limit_headers(ngx_http_request_t *r,
    ngx_http_hotkey_limit_state_t *st, ngx_flag_t fields);
static ngx_int_t ngx_http_hotkey_limit_header(ngx_http_request_t *r,
    char *name, u_char *value, size_t len);


char *
ngx_http_hotkey_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    const char                    *err;
    ngx_str_t                     *value;
    ngx_shm_zone_t                *shm_zone;
    ngx_http_hotkey_limit_zone_t  *lz;

    value = cf->args->elts;

    lz = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_limit_zone_t));
    if (lz == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_http_hotkey_shm_add(cf, &value[1], lz, &err);
    if (shm_zone == NULL) {
        return (char *) err;
    }

    shm_zone->init = ngx_http_hotkey_limit_init_zone;

    return NGX_CONF_OK;
}


/* hotkey_rate_limit zone rate=10r/s [burst=20] | off */

char *
ngx_http_hotkey_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hotkey_loc_conf_t  *hlcf = conf;

    unsigned                 rate, period;
    ngx_int_t                n;
    ngx_str_t               *value;
    ngx_uint_t               i;
    ngx_http_hotkey_limit_t  *lim;

    if (hlcf->limit != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        hlcf->limit = NULL;
        return NGX_CONF_OK;
    }

    lim = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_limit_t));
    if (lim == NULL) {
        return NGX_CONF_ERROR;
    }

    lim->zone = ngx_http_hotkey_shm_ref(cf, &value[1]);
    if (lim->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            if (hotkey_rate_parse((char *) value[i].data + 5,
                                  value[i].len - 5, &rate, &period)
                != 0)
            {
                return "has an invalid rate (e.g. rate=10r/s or 600r/m)";
            }

            lim->rate = rate;
            lim->period = (ngx_uint_t) period * 1000;
            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n <= 0) {
                return "has an invalid burst";
            }

            lim->burst = n;
            continue;
        }

        return "takes \"zone rate=N r/s|r/m [burst=N]\"";
    }

    if (lim->rate == 0) {
        return "needs a rate=";
    }

    if (lim->burst == 0) {
        lim->burst = 1;
    }

    hlcf->limit = lim;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_hotkey_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    return ngx_http_hotkey_shm_init(shm_zone, data,
                                    sizeof(ngx_http_hotkey_shm_t),
                                    ngx_rbtree_insert_value,
                                    "hotkey_rate_limit");
}


static ngx_http_hotkey_limit_node_t *
ngx_http_hotkey_limit_find(ngx_http_hotkey_limit_zone_t *lz,
    ngx_str_t *principal, uint32_t hash)
{
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_hotkey_limit_node_t  *ln;

    node = lz->sh->rbtree.root;
    sentinel = lz->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        ln = (ngx_http_hotkey_limit_node_t *) node;

        if (ln->len == principal->len
            && ngx_memcmp(ln->principal, principal->data, ln->len) == 0)
        {
            return ln;
        }

        node = node->right;
    }

    return NULL;
}


static ngx_http_hotkey_limit_node_t *
ngx_http_hotkey_limit_create(ngx_http_hotkey_limit_zone_t *lz,
    ngx_str_t *principal, uint32_t hash)
{
    size_t                         size;
    ngx_uint_t                     i;
    ngx_queue_t                   *q;
    ngx_http_hotkey_limit_node_t  *ln;

    size = offsetof(ngx_http_hotkey_limit_node_t, principal)
           + principal->len;

    for (i = 0; i < 16; i++) {
        ln = ngx_slab_alloc_locked(lz->shpool, size);
        if (ln) {
            break;
        }

        if (ngx_queue_empty(&lz->sh->queue)) {
            return NULL;
        }

        /* full: forget the caller seen least recently */

        q = ngx_queue_last(&lz->sh->queue);
        ln = ngx_queue_data(q, ngx_http_hotkey_limit_node_t, queue);
        ngx_queue_remove(q);
        ngx_rbtree_delete(&lz->sh->rbtree, &ln->node);
        ngx_slab_free_locked(lz->shpool, ln);
        ln = NULL;
    }

    if (ln == NULL) {
        return NULL;
    }

    ln->node.key = hash;
    ln->len = (u_short) principal->len;
    ln->excess = 0;
    ln->rate = 1;
    ln->period = 1000;
    ln->last = ngx_current_msec;
    ngx_memcpy(ln->principal, principal->data, principal->len);

    ngx_rbtree_insert(&lz->sh->rbtree, &ln->node);
    ngx_queue_insert_head(&lz->sh->queue, &ln->queue);

    return ln;
}


/* what a bucket refilled since "last", in parts of requests */

static ngx_uint_t
ngx_http_hotkey_limit_drained(ngx_msec_t last, ngx_uint_t rate,
    ngx_uint_t period)
{
    ngx_msec_int_t  ms;

    /* another worker's clock may be a millisecond behind ours */

    ms = (ngx_msec_int_t) (ngx_current_msec - last);

    if (ms <= 0) {
        return 0;
    }

    if (ms > NGX_HTTP_HOTKEY_IDLE_MAX) {
        ms = NGX_HTTP_HOTKEY_IDLE_MAX;
    }

    return rate * ms / period * NGX_HTTP_HOTKEY_REQ
           + rate * ms % period * NGX_HTTP_HOTKEY_REQ / period;
}


/* drops callers whose bucket has refilled: they are as good as new */

static void
ngx_http_hotkey_limit_expire(ngx_http_hotkey_limit_zone_t *lz, ngx_uint_t n)
{
    ngx_queue_t                   *q;
    ngx_http_hotkey_limit_node_t  *ln;

    while (n-- && !ngx_queue_empty(&lz->sh->queue)) {
        q = ngx_queue_last(&lz->sh->queue);
        ln = ngx_queue_data(q, ngx_http_hotkey_limit_node_t, queue);

        if (ln->excess
            > ngx_http_hotkey_limit_drained(ln->last, ln->rate, ln->period))
        {
            return;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&lz->sh->rbtree, &ln->node);
        ngx_slab_free_locked(lz->shpool, ln);
    }
}


static void
ngx_http_hotkey_limit_decide(ngx_http_hotkey_limit_node_t *ln,
    ngx_http_hotkey_limit_state_t *st)
{
    ngx_uint_t  drained;

    drained = ngx_http_hotkey_limit_drained(ln->last, st->rate, st->period);

    st->excess = (ln->excess > drained) ? ln->excess - drained : 0;

    /* at most burst + rate * time requests pass */

    if (st->excess + NGX_HTTP_HOTKEY_REQ > st->burst * NGX_HTTP_HOTKEY_REQ) {
        st->pass = 0;
        return;
    }

    st->pass = 1;
    st->excess += NGX_HTTP_HOTKEY_REQ;

    ln->excess = st->excess;
    ln->rate = st->rate;
    ln->period = st->period;

    if ((ngx_msec_int_t) (ngx_current_msec - ln->last) > 0) {
        ln->last = ngx_current_msec;
    }
}


/* NGX_OK: go on; NGX_DECLINED: answer 429; NGX_ERROR */

ngx_int_t
ngx_http_hotkey_rate_limit(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    uint32_t                        hash;
    ngx_str_t                       principal;
    ngx_http_hotkey_limit_t        *lim;
    ngx_http_hotkey_loc_conf_t     *hlcf;
    ngx_http_hotkey_limit_zone_t   *lz;
    ngx_http_hotkey_limit_node_t   *ln;
    ngx_http_hotkey_limit_state_t   st;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);
    lim = hlcf->limit;

    if (lim == NULL || ctx->principal.len == 0) {
        return NGX_OK;
    }

    principal = ctx->principal;
    if (principal.len > NGX_HTTP_HOTKEY_PRINCIPAL_MAX) {
        principal.len = NGX_HTTP_HOTKEY_PRINCIPAL_MAX;
    }

    if (ctx->rate) {
        st.rate = ctx->rate;
        st.period = (ngx_uint_t) ctx->rate_period * 1000;

    } else {
        st.rate = lim->rate;
        st.period = lim->period;
    }

    st.burst = ctx->burst ? ctx->burst : lim->burst;

    hash = ngx_murmur_hash2(principal.data, principal.len);
    lz = lim->zone->data;

    ngx_shmtx_lock(&lz->shpool->mutex);

    ln = ngx_http_hotkey_limit_find(lz, &principal, hash);

    if (ln == NULL) {
        ngx_http_hotkey_limit_expire(lz, 2);
        ln = ngx_http_hotkey_limit_create(lz, &principal, hash);

    } else {
        ngx_queue_remove(&ln->queue);
        ngx_queue_insert_head(&lz->sh->queue, &ln->queue);
    }

    if (ln) {
        ngx_http_hotkey_limit_decide(ln, &st);
    }

    ngx_shmtx_unlock(&lz->shpool->mutex);

    if (ln == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey rate limit zone \"%V\" is full",
                      &lim->zone->shm.name);
        return NGX_ERROR;
    }

    if (ngx_http_hotkey_limit_headers(r, &st, hlcf->limit_headers)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return st.pass ? NGX_OK : NGX_DECLINED;
}


/* whole seconds the bucket takes to refill "parts", rounded up */

static ngx_uint_t
ngx_http_hotkey_limit_secs(ngx_http_hotkey_limit_state_t *st,
    ngx_uint_t parts)
{
    ngx_uint_t  d;

    /* parts refill at rate * REQ per period ms */

    d = st->rate * NGX_HTTP_HOTKEY_REQ * 1000;

    return (parts * st->period + d - 1) / d;
}


static ngx_int_t
ngx_http_hotkey_limit_headers(ngx_http_request_t *r,
    ngx_http_hotkey_limit_state_t *st, ngx_flag_t fields)
{
    u_char      *p, *last;
    ngx_uint_t   window, remaining, reset, retry;

    p = ngx_pnalloc(r->pool, 3 * 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = p;

    if (!fields) {
        goto retry;
    }

    /* the policy: burst requests per the time the bucket takes to fill */

    window = ngx_http_hotkey_limit_secs(st, st->burst * NGX_HTTP_HOTKEY_REQ);
    remaining = (st->burst * NGX_HTTP_HOTKEY_REQ - st->excess)
                / NGX_HTTP_HOTKEY_REQ;
    reset = ngx_http_hotkey_limit_secs(st, st->excess);

    last = ngx_sprintf(p, "\"caller\";q=%ui;w=%ui", st->burst,
                       ngx_max(window, 1));

    if (ngx_http_hotkey_limit_header(r, "RateLimit-Policy", p, last - p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = last;
    last = ngx_sprintf(p, "\"caller\";r=%ui;t=%ui", remaining, reset);

    if (ngx_http_hotkey_limit_header(r, "RateLimit", p, last - p) != NGX_OK) {
        return NGX_ERROR;
    }

retry:

    if (st->pass) {
        return NGX_OK;
    }

    retry = ngx_http_hotkey_limit_secs(st, st->excess + NGX_HTTP_HOTKEY_REQ
                                           - st->burst * NGX_HTTP_HOTKEY_REQ);

    p = last;
    last = ngx_sprintf(p, "%ui", ngx_max(retry, 1));

    return ngx_http_hotkey_limit_header(r, "Retry-After", p, last - p);
}


static ngx_int_t
ngx_http_hotkey_limit_header(ngx_http_request_t *r, char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}
