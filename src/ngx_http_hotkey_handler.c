/*
 * The content handler: the operation (route and method), authentication,
 * rate limit, identifiers and parameters, in the contract's order; then
 * the cache and the store, as the operation's row says.
 */

#include "ngx_http_hotkey_module.h"

#include <openssl/rand.h>


static ngx_int_t ngx_http_hotkey_operation(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
static ngx_int_t ngx_http_hotkey_allow(ngx_http_request_t *r,
    hotkey_route_e route);
static void ngx_http_hotkey_refresh(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
static ngx_int_t ngx_http_hotkey_discard_and_fail(ngx_http_request_t *r,
    hotkey_err_e err);
static void ngx_http_hotkey_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_hotkey_checked(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
static ngx_int_t ngx_http_hotkey_body_args(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
static ngx_int_t ngx_http_hotkey_write_args(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);


static ngx_str_t  ngx_http_hotkey_json_type = ngx_string("application/json");


ngx_int_t
ngx_http_hotkey_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    if (ctx && ctx->background) {
        return ngx_http_hotkey_store_run(r, ctx);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_hotkey_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ngx_http_set_ctx(r, ctx, ngx_http_hotkey_module);

    rc = ngx_http_hotkey_operation(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_hotkey_discard_and_fail(r, ctx->error);
    }

    /* a signed request's body is part of its signature */

    if ((r->headers_in.authorization || ctx->op->body)
        && (r->headers_in.content_length_n > 0 || r->headers_in.chunked))
    {
        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r, ngx_http_hotkey_body_read);

        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {

            /* past client_max_body_size: the checks say what it gets */

            ctx->body_too_large = 1;
            r->keepalive = 0;

            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_hotkey_checked(r, ctx);
        }

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_hotkey_checked(r, ctx);
}


static ngx_int_t
ngx_http_hotkey_discard_and_fail(ngx_http_request_t *r, hotkey_err_e err)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_hotkey_send_error(r, err, NULL);
}


static void
ngx_http_hotkey_body_read(ngx_http_request_t *r)
{
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    ngx_http_finalize_request(r, ngx_http_hotkey_checked(r, ctx));
}


/* the route and method are right: the caller, then the request itself */

static ngx_int_t
ngx_http_hotkey_checked(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_int_t    rc;
    const char  *bad;

    rc = ngx_http_hotkey_authenticate(r, ctx);

    if (rc == NGX_DECLINED) {
        return ngx_http_hotkey_send_error(r, ctx->error, ctx->error_arg);
    }

    if (rc != NGX_OK) {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_INTERNAL, NULL);
    }

    rc = ngx_http_hotkey_rate_limit(r, ctx);

    if (rc == NGX_DECLINED) {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_THROTTLED, NULL);
    }

    if (rc != NGX_OK) {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_INTERNAL, NULL);
    }

    if (!hotkey_project_id_valid(ctx->route.project,
                                 ctx->route.project_len))
    {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_PROJECT_ID, NULL);
    }

    if (!hotkey_uuid_valid(ctx->route.instance, ctx->route.instance_len)) {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_INSTANCE_ID, NULL);
    }

    if (ctx->route.task
        && !hotkey_uuid_valid(ctx->route.task, ctx->route.task_len))
    {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_TASK_ID, NULL);
    }

    if (ctx->op->parse) {
        bad = ctx->op->parse((char *) r->args.data, r->args.len,
                             &ctx->args);
        if (bad) {
            return ngx_http_hotkey_send_error(r, HOTKEY_ERR_PARAM, bad);
        }
    }

    if (ctx->op->body) {
        rc = ngx_http_hotkey_body_args(r, ctx);

        if (rc == NGX_DECLINED) {
            return ngx_http_hotkey_send_error(r, ctx->error, ctx->error_arg);
        }

        if (rc != NGX_OK) {
            return ngx_http_hotkey_send_error(r, HOTKEY_ERR_INTERNAL, NULL);
        }
    }

    if (ngx_http_hotkey_write_args(r, ctx) != NGX_OK) {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_INTERNAL, NULL);
    }

    return ngx_http_hotkey_serve(r, ctx);
}


/* the PUT body, parsed: NGX_OK; NGX_DECLINED: ctx->error says; NGX_ERROR */

static ngx_int_t
ngx_http_hotkey_body_args(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_int_t       rc;
    ngx_str_t       body;
    const char     *field;

    rc = ctx->body_too_large
         ? NGX_DECLINED : ngx_http_hotkey_request_body(r, &body,
                                                        HOTKEY_BODY_MAX);

    if (rc == NGX_DECLINED) {
        ctx->error = HOTKEY_ERR_BAD_BODY;
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    switch (hotkey_autoscan_parse((char *) body.data, body.len,
                                  &ctx->args.autoscan, &field))
    {
    case HOTKEY_BODY_OK:
        return NGX_OK;

    case HOTKEY_BODY_EMPTY:
        ctx->error = HOTKEY_ERR_EMPTY_BODY;
        break;

    case HOTKEY_BODY_INVALID:
        ctx->error = HOTKEY_ERR_BAD_BODY;
        break;

    default:
        ctx->error = HOTKEY_ERR_BODY_PARAM;
        ctx->error_arg = field;
    }

    return NGX_DECLINED;
}


/* a write's time, and a new task's id (a random, version 4 UUID) */

static ngx_int_t
ngx_http_hotkey_write_args(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    u_char      rnd[16], *p;
    ngx_uint_t  i;
    ngx_time_t  *tp;

    static u_char  hex[] = "0123456789abcdef";

    tp = ngx_timeofday();
    ctx->args.now = (int64_t) tp->sec * 1000 + tp->msec;

    if (ctx->op->id != HOTKEY_OP_CREATE) {
        return NGX_OK;
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey: RAND_bytes() failed");
        return NGX_ERROR;
    }

    rnd[6] = (rnd[6] & 0x0f) | 0x40;
    rnd[8] = (rnd[8] & 0x3f) | 0x80;

    p = (u_char *) ctx->args.id;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }

        *p++ = hex[rnd[i] >> 4];
        *p++ = hex[rnd[i] & 0xf];
    }

    *p = '\0';

    return NGX_OK;
}


/*
 * The request body in one piece of memory, from nginx's buffers or its
 * temporary file.  NGX_DECLINED when it is longer than max.
 */

ngx_int_t
ngx_http_hotkey_request_body(ngx_http_request_t *r, ngx_str_t *body,
    size_t max)
{
    off_t         len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    if (len > (off_t) max) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, (size_t) len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            if (b->last != b->pos) {        /* an empty buffer: no pos */
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }

            continue;
        }

        n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                          b->file_pos);
        if (n != b->file_last - b->file_pos) {
            return NGX_ERROR;
        }

        p += n;
    }

    body->len = p - body->data;

    return NGX_OK;
}


/* a valid request of an allowed caller: from the cache or the store */

ngx_int_t
ngx_http_hotkey_serve(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_hotkey_cache_lookup(r, ctx);

    switch (rc) {

    case NGX_DECLINED:
        return ngx_http_hotkey_store_run(r, ctx);

    case NGX_AGAIN:
        return ngx_http_hotkey_cache_wait(r, ctx);

    case NGX_OK:
        break;

    default:
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_INTERNAL, NULL);
    }

    if (ngx_http_hotkey_cache_headers(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->cache.failed) {
        return ngx_http_hotkey_send_error(r, HOTKEY_ERR_INTERNAL, NULL);
    }

    rc = ngx_http_hotkey_send_json(r, ctx->status, ctx->body.data,
                                   ctx->body.len);

    if (ctx->cache.leader) {
        if (rc == NGX_ERROR) {
            ngx_http_hotkey_cache_release(r, ctx);

        } else {
            ngx_http_hotkey_refresh(r, ctx);
        }
    }

    return rc;
}


/* stale-while-revalidate: the store is asked by a background subrequest */

static void
ngx_http_hotkey_refresh(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_http_request_t     *sr;
    ngx_http_hotkey_ctx_t  *bctx;

    bctx = ngx_palloc(r->pool, sizeof(ngx_http_hotkey_ctx_t));

    if (bctx == NULL
        || ngx_http_subrequest(r, &r->uri, &r->args, &sr, NULL,
                               NGX_HTTP_SUBREQUEST_BACKGROUND)
           != NGX_OK)
    {
        ngx_http_hotkey_cache_release(r, ctx);
        return;
    }

    /* the lock goes with the refresh, and its guard with it */

    *bctx = *ctx;
    bctx->request = sr;
    bctx->background = 1;
    ngx_memzero(&bctx->store, sizeof(ngx_http_hotkey_store_ctx_t));
    bctx->cache.waiting = 0;
    bctx->cache.wait_cleanup = 0;
    bctx->cache.lead_cleanup = 0;
    ngx_memzero(&bctx->cache.timer, sizeof(ngx_event_t));

    ctx->cache.leader = 0;

    sr->header_only = 1;
    ngx_http_set_ctx(sr, bctx, ngx_http_hotkey_module);

    (void) ngx_http_hotkey_cache_lead_guard(sr, bctx);
}


/* the operation of this path and method; NGX_DECLINED: ctx->error says */

static ngx_int_t
ngx_http_hotkey_operation(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    unsigned        m;
    hotkey_route_e  route;

    route = hotkey_route_match((char *) r->uri.data, r->uri.len,
                               &ctx->route);

    if (hotkey_op_methods(route) == 0) {
        ctx->error = HOTKEY_ERR_NO_ROUTE;
        return NGX_DECLINED;
    }

    switch (r->method) {
    case NGX_HTTP_GET:
        m = HOTKEY_M_GET;
        break;
    case NGX_HTTP_HEAD:
        m = HOTKEY_M_HEAD;
        break;
    case NGX_HTTP_POST:
        m = HOTKEY_M_POST;
        break;
    case NGX_HTTP_PUT:
        m = HOTKEY_M_PUT;
        break;
    case NGX_HTTP_DELETE:
        m = HOTKEY_M_DELETE;
        break;
    default:
        m = 0;
    }

    ctx->op = hotkey_op_find(route, m);

    if (ctx->op) {
        return NGX_OK;
    }

    ctx->error = HOTKEY_ERR_METHOD;

    return ngx_http_hotkey_allow(r, route) == NGX_OK ? NGX_DECLINED
                                                     : NGX_ERROR;
}


static ngx_int_t
ngx_http_hotkey_allow(ngx_http_request_t *r, hotkey_route_e route)
{
    const char       *allow;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    allow = hotkey_op_allow(route);

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    return NGX_OK;
}


ngx_int_t
ngx_http_hotkey_send_error(ngx_http_request_t *r, hotkey_err_e err,
    const char *arg)
{
    size_t                  len;
    u_char                 *body;
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    if (ctx) {
        ctx->error = err;
        ctx->error_set = 1;
    }

    body = ngx_pnalloc(r->pool, HOTKEY_ERROR_BODY_MAX);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = hotkey_error_body(err, arg, (char *) body);

    return ngx_http_hotkey_send_json(r, hotkey_error_status(err), body, len);
}


void
ngx_http_hotkey_set_json_type(ngx_http_request_t *r)
{
    r->headers_out.content_type = ngx_http_hotkey_json_type;
    r->headers_out.content_type_len = ngx_http_hotkey_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
}


ngx_int_t
ngx_http_hotkey_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_http_hotkey_set_json_type(r);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
