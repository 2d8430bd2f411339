/*
 * Per-caller rate limits: a token bucket per principal, a kind of the
 * shared-memory table, counted after authentication, exact across workers
 * because every decision is made under the zone's mutex.  Every answer to
 * a limited caller carries the state in the RateLimit-Policy and RateLimit
 * fields (IETF draft 10).
 */

#include "ngx_http_hotkey_module.h"


#define NGX_HTTP_HOTKEY_PRINCIPAL_MAX  256
#define NGX_HTTP_HOTKEY_REQ            1000000     /* a request, in parts */
#define NGX_HTTP_HOTKEY_IDLE_MAX       86400000    /* ms: a full bucket */
#define NGX_HTTP_HOTKEY_BURST_MAX      1000000
#define NGX_HTTP_HOTKEY_LIMIT_MAGIC    0x484b4c31  /* "HKL1" */


typedef struct {
    ngx_msec_t                  last;
    ngx_uint_t                  excess;     /* parts of requests */
    ngx_uint_t                  rate;       /* its own: overrides count */
    ngx_uint_t                  period;
} ngx_http_hotkey_limit_node_t;


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


static ngx_int_t ngx_http_hotkey_limit_idle(ngx_http_hotkey_tnode_t *tn,
    ngx_msec_t now);
static void ngx_http_hotkey_limit_decide(ngx_http_hotkey_limit_node_t *ln,
    ngx_http_hotkey_limit_state_t *st);
static ngx_int_t ngx_http_hotkey_limit_headers(ngx_http_request_t *r,
    ngx_http_hotkey_limit_state_t *st, ngx_flag_t fields);
static ngx_int_t ngx_http_hotkey_limit_header(ngx_http_request_t *r,
    char *name, u_char *value, size_t len);


static ngx_http_hotkey_table_kind_t  ngx_http_hotkey_limit_kind = {
    "hotkey_rate_limit",
    NGX_HTTP_HOTKEY_LIMIT_MAGIC,
    sizeof(ngx_http_hotkey_limit_node_t),
    NULL,
    ngx_http_hotkey_limit_idle,
    NULL
};


char *
ngx_http_hotkey_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    const char  *err;
    ngx_str_t   *value;

    value = cf->args->elts;

    if (ngx_http_hotkey_table_add(cf, &value[1], &ngx_http_hotkey_limit_kind,
                                  &err)
        == NULL)
    {
        return (char *) err;
    }

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

    lim->zone = ngx_http_hotkey_table_ref(cf, &value[1],
                                          &ngx_http_hotkey_limit_kind);
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
            if (n <= 0 || n > NGX_HTTP_HOTKEY_BURST_MAX) {
                return "has an invalid burst (1 to 1000000)";
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


/* a caller whose bucket has refilled is as good as new */

static ngx_int_t
ngx_http_hotkey_limit_idle(ngx_http_hotkey_tnode_t *tn, ngx_msec_t now)
{
    ngx_http_hotkey_limit_node_t  *ln = ngx_http_hotkey_tnode_data(tn);

    return ln->excess
           <= ngx_http_hotkey_limit_drained(ln->last, ln->rate, ln->period);
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
    ngx_msec_t                      now;
    ngx_http_hotkey_limit_t        *lim;
    ngx_http_hotkey_table_t        *t;
    ngx_http_hotkey_tnode_t        *tn;
    ngx_http_hotkey_loc_conf_t     *hlcf;
    ngx_http_hotkey_limit_node_t   *ln;
    ngx_http_hotkey_limit_state_t   st;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);
    lim = hlcf->limit;

    if (lim == NULL || ctx->auth.principal.len == 0) {
        return NGX_OK;
    }

    principal = ctx->auth.principal;
    if (principal.len > NGX_HTTP_HOTKEY_PRINCIPAL_MAX) {
        principal.len = NGX_HTTP_HOTKEY_PRINCIPAL_MAX;
    }

    if (ctx->auth.rate) {
        st.rate = ctx->auth.rate;
        st.period = (ngx_uint_t) ctx->auth.rate_period * 1000;

    } else {
        st.rate = lim->rate;
        st.period = lim->period;
    }

    st.burst = ctx->auth.burst
               ? ngx_min(ctx->auth.burst, NGX_HTTP_HOTKEY_BURST_MAX)
               : lim->burst;

    hash = ngx_murmur_hash2(principal.data, principal.len);
    t = lim->zone->data;
    now = ngx_current_msec;

    ngx_shmtx_lock(&t->shpool->mutex);

    tn = ngx_http_hotkey_table_find(t, hash, principal.data, principal.len);

    if (tn == NULL) {
        tn = ngx_http_hotkey_table_insert(t, hash, principal.data,
                                          principal.len, now);
        if (tn) {
            ln = ngx_http_hotkey_tnode_data(tn);
            ln->rate = 1;
            ln->period = 1000;
            ln->last = now;
        }

    } else {
        ngx_http_hotkey_table_touch(t, tn);
    }

    if (tn) {
        ngx_http_hotkey_limit_decide(ngx_http_hotkey_tnode_data(tn), &st);
    }

    ngx_shmtx_unlock(&t->shpool->mutex);

    if (tn == NULL) {
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

    /* a bucket filled under a larger burst (another location, a reload) */

    remaining = (st->excess < st->burst * NGX_HTTP_HOTKEY_REQ)
                ? (st->burst * NGX_HTTP_HOTKEY_REQ - st->excess)
                  / NGX_HTTP_HOTKEY_REQ
                : 0;
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
