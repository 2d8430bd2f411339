/*
 * Counters shared by all workers (atomics in one small shared-memory
 * zone), counted once per request in the log phase, and served in
 * Prometheus text format by a location with "hotkey_metrics".
 */

#include "ngx_http_hotkey_module.h"


#define NGX_HTTP_HOTKEY_METRICS_SIZE  (64 * 1024)
#define NGX_HTTP_HOTKEY_NBUCKETS      12


typedef struct {
    ngx_atomic_t    requests[HOTKEY_ERR_LAST + 1];     /* last: success */
    ngx_atomic_t    cache[NGX_HTTP_HOTKEY_CACHE_HIT + 1];
    ngx_atomic_t    store[2];                          /* ok, error */
    ngx_atomic_t    store_buckets[NGX_HTTP_HOTKEY_NBUCKETS + 1];
    ngx_atomic_t    store_usec;
    ngx_atomic_t    auth_failures[NGX_HTTP_HOTKEY_AUTH_REASONS];
    ngx_atomic_t    throttled;
    ngx_atomic_t    ops[HOTKEY_OP_LAST][2];                /* ok, error */
} ngx_http_hotkey_metrics_t;


static ngx_int_t ngx_http_hotkey_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_hotkey_metrics_handler(ngx_http_request_t *r);
static u_char *ngx_http_hotkey_metrics_requests(u_char *p,
    ngx_http_hotkey_metrics_t *m);
static u_char *ngx_http_hotkey_metrics_store(u_char *p,
    ngx_http_hotkey_metrics_t *m);
static u_char *ngx_http_hotkey_metrics_auth(u_char *p,
    ngx_http_hotkey_metrics_t *m);


static ngx_http_hotkey_metrics_t  *ngx_http_hotkey_metrics;


/* upper bounds in microseconds; the last bucket is +Inf */

static ngx_uint_t  ngx_http_hotkey_buckets[NGX_HTTP_HOTKEY_NBUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000
};

static const char  *ngx_http_hotkey_bucket_names[NGX_HTTP_HOTKEY_NBUCKETS] = {
    "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05", "0.1", "0.25", "0.5", "1"
};

static const char  *ngx_http_hotkey_auth_reasons[] = {
    "", "no_credentials", "token_invalid", "token_expired",
    "token_project", "aksk_signature", "aksk_expired", "aksk_unknown_key",
    "aksk_malformed", "forbidden"
};


const char *
ngx_http_hotkey_auth_reason_name(ngx_uint_t reason)
{
    return reason < NGX_HTTP_HOTKEY_AUTH_REASONS
           ? ngx_http_hotkey_auth_reasons[reason] : "";
}


ngx_int_t
ngx_http_hotkey_metrics_zone(ngx_conf_t *cf)
{
    ngx_str_t        name = ngx_string("hotkey:metrics");
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_HOTKEY_METRICS_SIZE,
                                     &ngx_http_hotkey_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_hotkey_metrics_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        shm_zone->data = data;
        ngx_http_hotkey_metrics = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_http_hotkey_metrics = shpool->data;
        return NGX_OK;
    }

    ngx_http_hotkey_metrics = ngx_slab_calloc(shpool,
                                        sizeof(ngx_http_hotkey_metrics_t));
    if (ngx_http_hotkey_metrics == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ngx_http_hotkey_metrics;
    shm_zone->data = ngx_http_hotkey_metrics;

    return NGX_OK;
}


char *
ngx_http_hotkey_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_hotkey_metrics_handler;

    return NGX_CONF_OK;
}


/* the log phase: every answer of the API counted once */

ngx_int_t
ngx_http_hotkey_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                  i;
    ngx_http_hotkey_ctx_t      *ctx;
    ngx_http_hotkey_metrics_t  *m;

    m = ngx_http_hotkey_metrics;
    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    if (m == NULL || ctx == NULL || ctx->background || r != r->main) {
        return NGX_OK;
    }

    i = ctx->error_set ? (ngx_uint_t) ctx->error : HOTKEY_ERR_LAST;
    ngx_atomic_fetch_add(&m->requests[i], 1);

    if (ctx->op) {
        ngx_atomic_fetch_add(&m->ops[ctx->op->id][ctx->error_set ? 1 : 0], 1);
    }

    if (ctx->cache.status != NGX_HTTP_HOTKEY_CACHE_NONE) {
        ngx_atomic_fetch_add(&m->cache[ctx->cache.status], 1);
    }

    if (ctx->auth.reason) {
        ngx_atomic_fetch_add(&m->auth_failures[ctx->auth.reason], 1);
    }

    if (ctx->error_set && ctx->error == HOTKEY_ERR_THROTTLED) {
        ngx_atomic_fetch_add(&m->throttled, 1);
    }

    return NGX_OK;
}


/* a store round trip ended, ok or not: timed once */

void
ngx_http_hotkey_store_timed(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_uint_t failed)
{
    ngx_uint_t                  i, usec;
    struct timespec             ts;
    ngx_http_hotkey_metrics_t  *m;

    if (ctx->store.done || ctx->store.start.tv_sec == 0) {
        return;
    }

    ctx->store.done = 1;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    ctx->store.usec = (ts.tv_sec - ctx->store.start.tv_sec) * 1000000
                      + (ts.tv_nsec - ctx->store.start.tv_nsec) / 1000;

    if (ctx->store.usec < 0) {
        ctx->store.usec = 0;
    }

    usec = (ngx_uint_t) ctx->store.usec;
    m = ngx_http_hotkey_metrics;

    if (m == NULL) {
        return;
    }

    ngx_atomic_fetch_add(&m->store[failed ? 1 : 0], 1);
    ngx_atomic_fetch_add(&m->store_usec, usec);

    for (i = 0; i < NGX_HTTP_HOTKEY_NBUCKETS; i++) {
        if (usec <= ngx_http_hotkey_buckets[i]) {
            break;
        }
    }

    ngx_atomic_fetch_add(&m->store_buckets[i], 1);
}


static ngx_int_t
ngx_http_hotkey_metrics_handler(ngx_http_request_t *r)
{
    u_char       *p, *start;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_hotkey_metrics == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    start = ngx_pnalloc(r->pool, 16384);
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_hotkey_metrics_requests(start, ngx_http_hotkey_metrics);
    p = ngx_http_hotkey_metrics_store(p, ngx_http_hotkey_metrics);
    p = ngx_http_hotkey_metrics_auth(p, ngx_http_hotkey_metrics);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = p - start;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = start;
    b->last = p;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static u_char *
ngx_http_hotkey_metrics_requests(u_char *p, ngx_http_hotkey_metrics_t *m)
{
    ngx_uint_t  i;

    p = ngx_sprintf(p, "# HELP hotkey_requests_total Answers of the hot key "
                    "API by HTTP status and error code.\n"
                    "# TYPE hotkey_requests_total counter\n");

    p = ngx_sprintf(p, "hotkey_requests_total{status=\"200\","
                    "error_code=\"\"} %uA\n", m->requests[HOTKEY_ERR_LAST]);

    for (i = 0; i < HOTKEY_ERR_LAST; i++) {
        p = ngx_sprintf(p, "hotkey_requests_total{status=\"%d\","
                        "error_code=\"%s\"} %uA\n",
                        hotkey_error_status((hotkey_err_e) i),
                        hotkey_error_code((hotkey_err_e) i), m->requests[i]);
    }

    p = ngx_sprintf(p, "# HELP hotkey_operation_requests_total Answers by "
                    "operation (as the SDKs name it) and result.\n"
                    "# TYPE hotkey_operation_requests_total counter\n");

    for (i = 0; i < HOTKEY_OP_LAST; i++) {
        p = ngx_sprintf(p, "hotkey_operation_requests_total{operation=\"%s\","
                        "result=\"ok\"} %uA\n"
                        "hotkey_operation_requests_total{operation=\"%s\","
                        "result=\"error\"} %uA\n",
                        hotkey_op_get(i)->name, m->ops[i][0],
                        hotkey_op_get(i)->name, m->ops[i][1]);
    }

    p = ngx_sprintf(p, "# HELP hotkey_cache_results_total Cache lookups "
                    "by result.\n"
                    "# TYPE hotkey_cache_results_total counter\n");

    for (i = NGX_HTTP_HOTKEY_CACHE_MISS; i <= NGX_HTTP_HOTKEY_CACHE_HIT; i++) {
        p = ngx_sprintf(p, "hotkey_cache_results_total{result=\"%s\"} %uA\n",
                        ngx_http_hotkey_cache_status_label(i), m->cache[i]);
    }

    p = ngx_sprintf(p, "# HELP hotkey_rate_limited_total Requests refused "
                    "by the per-caller rate limit.\n"
                    "# TYPE hotkey_rate_limited_total counter\n"
                    "hotkey_rate_limited_total %uA\n", m->throttled);

    return p;
}


static u_char *
ngx_http_hotkey_metrics_store(u_char *p, ngx_http_hotkey_metrics_t *m)
{
    ngx_uint_t    i;
    ngx_atomic_t  sum;

    p = ngx_sprintf(p, "# HELP hotkey_store_requests_total Round trips to "
                    "the task store by result.\n"
                    "# TYPE hotkey_store_requests_total counter\n"
                    "hotkey_store_requests_total{result=\"ok\"} %uA\n"
                    "hotkey_store_requests_total{result=\"error\"} %uA\n",
                    m->store[0], m->store[1]);

    p = ngx_sprintf(p, "# HELP hotkey_store_request_duration_seconds "
                    "Time of one round trip to the task store.\n"
                    "# TYPE hotkey_store_request_duration_seconds "
                    "histogram\n");

    sum = 0;

    for (i = 0; i < NGX_HTTP_HOTKEY_NBUCKETS; i++) {
        sum += m->store_buckets[i];
        p = ngx_sprintf(p, "hotkey_store_request_duration_seconds_bucket"
                        "{le=\"%s\"} %uA\n",
                        ngx_http_hotkey_bucket_names[i], sum);
    }

    sum += m->store_buckets[NGX_HTTP_HOTKEY_NBUCKETS];

    p = ngx_sprintf(p, "hotkey_store_request_duration_seconds_bucket"
                    "{le=\"+Inf\"} %uA\n"
                    "hotkey_store_request_duration_seconds_sum %uA.%06uA\n"
                    "hotkey_store_request_duration_seconds_count %uA\n",
                    sum, m->store_usec / 1000000, m->store_usec % 1000000,
                    sum);

    return p;
}


static u_char *
ngx_http_hotkey_metrics_auth(u_char *p, ngx_http_hotkey_metrics_t *m)
{
    ngx_uint_t  i;

    p = ngx_sprintf(p, "# HELP hotkey_auth_failures_total Requests refused "
                    "by authentication or permission, by reason.\n"
                    "# TYPE hotkey_auth_failures_total counter\n");

    for (i = 1; i < NGX_HTTP_HOTKEY_AUTH_REASONS; i++) {
        p = ngx_sprintf(p, "hotkey_auth_failures_total{reason=\"%s\"} %uA\n",
                        ngx_http_hotkey_auth_reason_name(i),
                        m->auth_failures[i]);
    }

    return p;
}
