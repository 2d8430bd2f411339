/*
 * The hot key analysis API module: directives and configuration.
 */

#include "ngx_http_hotkey_module.h"

#include <openssl/rand.h>


static ngx_int_t ngx_http_hotkey_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_hotkey_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_hotkey_init_process(ngx_cycle_t *cycle);
static void ngx_http_hotkey_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_hotkey_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_hotkey_instance_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void *ngx_http_hotkey_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_hotkey_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_hotkey_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_hotkey_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_hotkey_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_hotkey_header_filter(ngx_http_request_t *r);
static ngx_http_variable_value_t *ngx_http_hotkey_request_id(
    ngx_http_request_t *r, ngx_int_t index);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_str_t  ngx_http_hotkey_request_id_name = ngx_string("request_id");


static ngx_conf_bitmask_t  ngx_http_hotkey_next_upstream_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("off"), NGX_HTTP_UPSTREAM_FT_OFF },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_hotkey_commands[] = {

    { ngx_string("hotkey_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_hotkey_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, enable),
      NULL },

    { ngx_string("hotkey_store"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hotkey_store,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hotkey_store_cluster"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_hotkey_store_cluster,
      0,
      0,
      NULL },

    { ngx_string("hotkey_store_password"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE12,
      ngx_http_hotkey_store_password,
      0,
      0,
      NULL },

    { ngx_string("hotkey_store_tls"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_hotkey_store_tls,
      0,
      0,
      NULL },

    { ngx_string("hotkey_store_subscribe"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, subscribe),
      NULL },

    { ngx_string("hotkey_store_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, upstream.connect_timeout),
      NULL },

    { ngx_string("hotkey_store_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, upstream.send_timeout),
      NULL },

    { ngx_string("hotkey_store_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, upstream.read_timeout),
      NULL },

    { ngx_string("hotkey_store_buffer_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, upstream.buffer_size),
      NULL },

    { ngx_string("hotkey_store_next_upstream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, upstream.next_upstream),
      &ngx_http_hotkey_next_upstream_masks },

    { ngx_string("hotkey_store_next_upstream_tries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, upstream.next_upstream_tries),
      NULL },

    { ngx_string("hotkey_request_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, request_id),
      NULL },

    { ngx_string("hotkey_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, auth),
      NULL },

    { ngx_string("hotkey_auth_token_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hotkey_auth_token_keys,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hotkey_auth_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hotkey_auth_credentials,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hotkey_auth_token_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, token_leeway),
      NULL },

    { ngx_string("hotkey_auth_date_skew"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, date_skew),
      NULL },

    { ngx_string("hotkey_rate_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_hotkey_limit_zone,
      0,
      0,
      NULL },

    { ngx_string("hotkey_rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_hotkey_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hotkey_rate_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, limit_headers),
      NULL },

    { ngx_string("hotkey_cache_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_hotkey_cache_zone,
      0,
      0,
      NULL },

    { ngx_string("hotkey_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hotkey_cache,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hotkey_cache_valid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, cache_valid),
      NULL },

    { ngx_string("hotkey_cache_errors_valid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, cache_errors_valid),
      NULL },

    { ngx_string("hotkey_cache_stale_while_revalidate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, cache_stale_revalidate),
      NULL },

    { ngx_string("hotkey_cache_stale_if_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, cache_stale_error),
      NULL },

    { ngx_string("hotkey_cache_bypass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hotkey_loc_conf_t, cache_bypass),
      NULL },

    { ngx_string("hotkey_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_hotkey_metrics_directive,
      0,
      0,
      NULL },

    { ngx_string("hotkey_cache_purge"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hotkey_cache_purge,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_hotkey_module_ctx = {
    ngx_http_hotkey_add_variables,         /* preconfiguration */
    ngx_http_hotkey_init,                  /* postconfiguration */

    ngx_http_hotkey_create_main_conf,      /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_hotkey_create_loc_conf,       /* create location configuration */
    ngx_http_hotkey_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_hotkey_module = {
    NGX_MODULE_V1,
    &ngx_http_hotkey_module_ctx,           /* module context */
    ngx_http_hotkey_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_hotkey_cache_init_module,     /* init module */
    ngx_http_hotkey_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_hotkey_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_hotkey_vars[] = {

    { ngx_string("hotkey_cache_status"), NULL,
      ngx_http_hotkey_cache_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("hotkey_error_code"), NULL, ngx_http_hotkey_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("hotkey_principal"), NULL, ngx_http_hotkey_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("hotkey_store_time"), NULL, ngx_http_hotkey_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("hotkey_operation"), NULL, ngx_http_hotkey_variable,
      3, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("hotkey_instance_id"), NULL,
      ngx_http_hotkey_instance_variable, 0, 0, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_hotkey_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_hotkey_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                 *p;
    const char             *code;
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);
    v->not_found = 1;

    if (ctx == NULL) {
        return NGX_OK;
    }

    switch (data) {

    case 0:
        if (!ctx->error_set) {
            return NGX_OK;
        }

        code = hotkey_error_code(ctx->error);
        v->data = (u_char *) code;
        v->len = ngx_strlen(code);
        break;

    case 1:
        if (ctx->auth.principal.len == 0) {
            return NGX_OK;
        }

        v->data = ctx->auth.principal.data;
        v->len = ctx->auth.principal.len;
        break;

    case 3:
        if (ctx->op == NULL) {
            return NGX_OK;
        }

        v->data = (u_char *) ctx->op->name;
        v->len = ngx_strlen(ctx->op->name);
        break;

    default:
        if (!ctx->store.done) {
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 8);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%T.%06M",
                             (time_t) (ctx->store.usec / 1000000),
                             (ngx_msec_t) (ctx->store.usec % 1000000))
                 - p;
    }

    v->valid = 1;
    v->not_found = 0;
    v->no_cacheable = 0;

    return NGX_OK;
}


/* the path's instance id, once valid: for "hash ... consistent" */

static ngx_int_t
ngx_http_hotkey_instance_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    hotkey_route_t  rt;

    if (hotkey_route_match((char *) r->uri.data, r->uri.len, &rt)
        == HOTKEY_ROUTE_NONE
        || !hotkey_uuid_valid(rt.instance, rt.instance_len))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) rt.instance;
    v->len = rt.instance_len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt          *h;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_hotkey_main_conf_t  *hmcf;

    if (ngx_http_hotkey_metrics_zone(cf) != NGX_OK
        || ngx_http_hotkey_password_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hotkey_module);

    hmcf->request_id =
        ngx_http_get_variable_index(cf, &ngx_http_hotkey_request_id_name);
    if (hmcf->request_id == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_hotkey_header_filter;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_hotkey_log_handler;

    return NGX_OK;
}


/*
 * $request_id, made here when nothing asked for it yet: a random prefix
 * per worker and a counter, mixed, instead of 16 bytes of RAND_bytes() per
 * request (a few microseconds under OpenSSL 3).  It is stored as the
 * variable's value, so the access log shows the same id.
 */

static ngx_http_variable_value_t *
ngx_http_hotkey_request_id(ngx_http_request_t *r, ngx_int_t index)
{
    u_char                      *p;
    uint64_t                     x;
    ngx_http_variable_value_t   *v;

    static uint64_t   seed, count;

    v = &r->variables[index];

    if (v->valid || v->not_found) {
        return v;
    }

    if (seed == 0 && RAND_bytes((u_char *) &seed, sizeof(seed)) != 1) {
        return ngx_http_get_indexed_variable(r, index);
    }

    p = ngx_pnalloc(r->pool, 32);
    if (p == NULL) {
        return NULL;
    }

    /* splitmix64 of the counter: distinct ids, none guessable at a look */

    x = seed + ++count * 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;

    ngx_hex_dump(p, (u_char *) &seed, 8);
    ngx_hex_dump(p + 16, (u_char *) &x, 8);

    v->data = p;
    v->len = 32;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return v;
}


/*
 * X-Request-Id on every answer of an API location, and of the error
 * locations of json-errors.conf: $request_id, so the access log has it.
 */

static ngx_int_t
ngx_http_hotkey_header_filter(ngx_http_request_t *r)
{
    ngx_table_elt_t               *h;
    ngx_http_variable_value_t     *v;
    ngx_http_hotkey_loc_conf_t    *hlcf;
    ngx_http_hotkey_main_conf_t   *hmcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    if (r != r->main
        || !(hlcf->request_id == NGX_CONF_UNSET ? hlcf->enable
                                                : hlcf->request_id))
    {
        return ngx_http_next_header_filter(r);
    }

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hotkey_module);

    v = ngx_http_hotkey_request_id(r, hmcf->request_id);

    if (v && !v->not_found) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "X-Request-Id");
        h->value.data = v->data;
        h->value.len = v->len;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_hotkey_init_process(ngx_cycle_t *cycle)
{
    if (ngx_http_hotkey_cache_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_hotkey_cluster_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_hotkey_sub_init_process(cycle);
}


static void
ngx_http_hotkey_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_hotkey_sub_exit_process(cycle);
    ngx_http_hotkey_cluster_exit_process(cycle);

    ngx_http_hotkey_store_exit_process();
}


static void *
ngx_http_hotkey_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_hotkey_main_conf_t  *hmcf;

    hmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_main_conf_t));
    if (hmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&hmcf->zones, cf->pool, 2, sizeof(ngx_shm_zone_t *))
        != NGX_OK
        || ngx_array_init(&hmcf->stores, cf->pool, 2,
                          sizeof(ngx_http_upstream_srv_conf_t *))
           != NGX_OK
        || ngx_array_init(&hmcf->clusters, cf->pool, 1,
                          sizeof(ngx_http_hotkey_cluster_t *))
           != NGX_OK
        || ngx_array_init(&hmcf->passwords, cf->pool, 1,
                          sizeof(ngx_http_hotkey_password_t))
           != NGX_OK
        || ngx_array_init(&hmcf->tls, cf->pool, 1,
                          sizeof(ngx_http_hotkey_tls_t))
           != NGX_OK)
    {
        return NULL;
    }

    return hmcf;
}


static void *
ngx_http_hotkey_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_hotkey_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->upstream.upstream = NULL;
     *     conf->upstream.next_upstream = 0;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->request_id = NGX_CONF_UNSET;
    conf->subscribe = NGX_CONF_UNSET;
    conf->auth = NGX_CONF_UNSET;

    conf->keys = NGX_CONF_UNSET_PTR;
    conf->creds = NGX_CONF_UNSET_PTR;
    conf->token_leeway = NGX_CONF_UNSET;
    conf->date_skew = NGX_CONF_UNSET_MSEC;

    conf->limit = NGX_CONF_UNSET_PTR;
    conf->limit_headers = NGX_CONF_UNSET;

    conf->cache = NGX_CONF_UNSET_PTR;
    conf->cache_valid = NGX_CONF_UNSET_MSEC;
    conf->cache_errors_valid = NGX_CONF_UNSET_MSEC;
    conf->cache_stale_revalidate = NGX_CONF_UNSET_MSEC;
    conf->cache_stale_error = NGX_CONF_UNSET_MSEC;
    conf->cache_bypass = NGX_CONF_UNSET;

    conf->upstream.local = NGX_CONF_UNSET_PTR;
    conf->upstream.socket_keepalive = NGX_CONF_UNSET;
    conf->upstream.next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.next_upstream_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;

    /* the store speaks RESP: none of HTTP's buffering or interception */

    conf->upstream.cyclic_temp_file = 0;
    conf->upstream.buffering = 0;
    conf->upstream.ignore_client_abort = 0;
    conf->upstream.send_lowat = 0;
    conf->upstream.bufs.num = 0;
    conf->upstream.busy_buffers_size = 0;
    conf->upstream.max_temp_file_size = 0;
    conf->upstream.temp_file_write_size = 0;
    conf->upstream.intercept_errors = 0;
    conf->upstream.intercept_404 = 0;
    conf->upstream.pass_request_headers = 0;
    conf->upstream.pass_request_body = 0;
    conf->upstream.force_ranges = 0;

    return conf;
}


static char *
ngx_http_hotkey_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_hotkey_loc_conf_t *prev = parent;
    ngx_http_hotkey_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    /* unset stays unset: it then follows this location's hotkey_api */

    if (conf->request_id == NGX_CONF_UNSET) {
        conf->request_id = prev->request_id;
    }
    ngx_conf_merge_value(conf->auth, prev->auth, 1);
    ngx_conf_merge_value(conf->subscribe, prev->subscribe, 1);

    ngx_conf_merge_ptr_value(conf->upstream.local, prev->upstream.local,
                             NULL);
    ngx_conf_merge_value(conf->upstream.socket_keepalive,
                         prev->upstream.socket_keepalive, 0);
    ngx_conf_merge_uint_value(conf->upstream.next_upstream_tries,
                              prev->upstream.next_upstream_tries, 0);
    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 1000);
    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 1000);
    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 1000);
    ngx_conf_merge_msec_value(conf->upstream.next_upstream_timeout,
                              prev->upstream.next_upstream_timeout, 0);
    ngx_conf_merge_size_value(conf->upstream.buffer_size,
                              prev->upstream.buffer_size,
                              (size_t) ngx_pagesize * 4);
    ngx_conf_merge_bitmask_value(conf->upstream.next_upstream,
                              prev->upstream.next_upstream,
                              (NGX_CONF_BITMASK_SET
                               |NGX_HTTP_UPSTREAM_FT_ERROR
                               |NGX_HTTP_UPSTREAM_FT_TIMEOUT));

    if (conf->upstream.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        conf->upstream.next_upstream = NGX_CONF_BITMASK_SET
                                       |NGX_HTTP_UPSTREAM_FT_OFF;
    }

    if (conf->upstream.upstream == NULL) {
        conf->upstream.upstream = prev->upstream.upstream;
    }

    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_ptr_value(conf->creds, prev->creds, NULL);
    ngx_conf_merge_sec_value(conf->token_leeway, prev->token_leeway, 30);
    ngx_conf_merge_msec_value(conf->date_skew, prev->date_skew,
                              15 * 60 * 1000);

    ngx_conf_merge_ptr_value(conf->limit, prev->limit, NULL);
    ngx_conf_merge_value(conf->limit_headers, prev->limit_headers, 1);

    ngx_conf_merge_ptr_value(conf->cache, prev->cache, NULL);
    ngx_conf_merge_msec_value(conf->cache_valid, prev->cache_valid, 5000);
    ngx_conf_merge_msec_value(conf->cache_errors_valid,
                              prev->cache_errors_valid, 1000);
    ngx_conf_merge_msec_value(conf->cache_stale_revalidate,
                              prev->cache_stale_revalidate, 0);
    ngx_conf_merge_msec_value(conf->cache_stale_error,
                              prev->cache_stale_error, 0);
    ngx_conf_merge_value(conf->cache_bypass, prev->cache_bypass, 0);

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->upstream.upstream == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hotkey_api\" is on but no \"hotkey_store\" "
                           "is set for this location");
        return NGX_CONF_ERROR;
    }

    conf->password = ngx_http_hotkey_password_cmd(
                         ngx_http_conf_get_module_main_conf(cf,
                                                     ngx_http_hotkey_module),
                         conf->upstream.upstream);

    conf->tls = ngx_http_hotkey_tls_find(
                    ngx_http_conf_get_module_main_conf(cf,
                                                ngx_http_hotkey_module),
                    conf->upstream.upstream);

    ngx_http_hotkey_tls_merge(&conf->upstream, conf->tls);

    if (conf->cache && conf->subscribe
        && ngx_http_hotkey_sub_add_store(cf, conf->upstream.upstream)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->auth && conf->keys == NULL && conf->creds == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hotkey_api\" is on with \"hotkey_auth on\" "
                           "but neither \"hotkey_auth_token_keys\" nor "
                           "\"hotkey_auth_credentials\" is set; say "
                           "\"hotkey_auth off\" to serve the API without "
                           "authentication");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_hotkey_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                        *rv;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_hotkey_loc_conf_t  *hlcf = conf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (hlcf->enable) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->handler = ngx_http_hotkey_handler;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_hotkey_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hotkey_loc_conf_t  *hlcf = conf;

    ngx_url_t   u;
    ngx_str_t  *value;

    if (hlcf->upstream.upstream) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.no_resolve = 1;

    hlcf->upstream.upstream = ngx_http_upstream_add(cf, &u, 0);
    if (hlcf->upstream.upstream == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
