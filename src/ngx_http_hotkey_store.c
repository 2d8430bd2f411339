/*
 * The task store: one script per request through nginx's upstream
 * machinery (upstream {} blocks, keepalive, timeouts), the reply read in
 * u->buffer where it arrives (hotkey_resp.c) and turned into the answer by
 * hotkey_reply.c, written after the reply in the same buffer when it fits.
 *
 * The answer is not the store's bytes, so it is handed to the upstream as
 * if it were: process_header puts it in u->buffer with its length, and the
 * non-buffered input filter passes it on.  This keeps nginx's own response
 * path (headers, keepalive, HEAD, output filters) for the answer, as the
 * memcached module does for its value.
 */

#include "ngx_http_hotkey_module.h"


static ngx_int_t ngx_http_hotkey_create_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_hotkey_reinit_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_hotkey_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_hotkey_store_more(ngx_http_request_t *r,
    ngx_buf_t *b);
static ngx_int_t ngx_http_hotkey_reply(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_hotkey_filter_init(void *data);
static ngx_int_t ngx_http_hotkey_filter(void *data, ssize_t bytes);
static void ngx_http_hotkey_abort_request(ngx_http_request_t *r);
static void ngx_http_hotkey_finalize_request(ngx_http_request_t *r,
    ngx_int_t rc);
static void ngx_http_hotkey_store_cleanup(void *data);
static ngx_int_t ngx_http_hotkey_store_retry(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
static ngx_int_t ngx_http_hotkey_store_reset(ngx_http_hotkey_ctx_t *ctx);
static ngx_int_t ngx_http_hotkey_store_resend(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
static void ngx_http_hotkey_store_again(ngx_event_t *ev);
static ngx_int_t ngx_http_hotkey_reply_error(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, hotkey_err_e err);


#define NGX_HTTP_HOTKEY_REPLY_MAX       (4 * 1024 * 1024)
#define NGX_HTTP_HOTKEY_NODES           (64 * 1024)
#define NGX_HTTP_HOTKEY_TRYAGAIN_DELAY  20
#define NGX_HTTP_HOTKEY_TRYAGAIN_MAX    40


static const char  ngx_http_hotkey_asking[] = "*1\r\n$6\r\nASKING\r\n";


/* per worker: operations whose script the store is known to hold */

static ngx_uint_t  ngx_http_hotkey_scripts_loaded;

/* per worker: the tree of the reply being converted, for each in turn */

static void       *ngx_http_hotkey_nodes;


void
ngx_http_hotkey_store_exit_process(void)
{
    if (ngx_http_hotkey_nodes) {
        ngx_free(ngx_http_hotkey_nodes);
        ngx_http_hotkey_nodes = NULL;
    }
}


ngx_int_t
ngx_http_hotkey_store_run(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_http_upstream_t         *u;
    ngx_pool_cleanup_t          *cln;
    ngx_http_hotkey_loc_conf_t  *hlcf;

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u = r->upstream;
    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    ngx_str_set(&u->schema, "redis://");
    u->output.tag = (ngx_buf_tag_t) &ngx_http_hotkey_module;
    u->conf = &hlcf->upstream;
    ngx_http_hotkey_tls_request(u, hlcf->tls);

    u->create_request = ngx_http_hotkey_create_request;
    u->reinit_request = ngx_http_hotkey_reinit_request;
    u->process_header = ngx_http_hotkey_process_header;
    u->abort_request = ngx_http_hotkey_abort_request;
    u->finalize_request = ngx_http_hotkey_finalize_request;
    u->input_filter_init = ngx_http_hotkey_filter_init;
    u->input_filter = ngx_http_hotkey_filter;
    u->input_filter_ctx = ctx;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_hotkey_store_cleanup;
    cln->data = ctx;

    ctx->store.again.handler = ngx_http_hotkey_store_again;
    ctx->store.again.data = ctx;
    ctx->store.again.log = r->connection->log;

    (void) clock_gettime(CLOCK_MONOTONIC, &ctx->store.start);

    r->main->count++;

    ngx_http_upstream_init(r);

    return NGX_DONE;
}


static void
ngx_http_hotkey_store_cleanup(void *data)
{
    ngx_http_hotkey_ctx_t  *ctx = data;

    if (ctx->store.again.timer_set) {
        ngx_del_timer(&ctx->store.again);
    }
}


/*
 * The script's command, after ASKING when a cluster said ASK, and after
 * AUTH on a new connection to a store with a password.
 */

static ngx_int_t
ngx_http_hotkey_store_command(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_str_t *cmd, ngx_str_t *auth)
{
    u_char  *p;

    cmd->data = ngx_pnalloc(r->pool,
                            (auth ? auth->len : 0)
                            + sizeof(ngx_http_hotkey_asking) - 1
                            + hotkey_store_request_size(ctx->op,
                                                  ctx->route.project_len,
                                                  ctx->store.eval));
    if (cmd->data == NULL) {
        return NGX_ERROR;
    }

    p = cmd->data;

    if (auth) {
        p = ngx_cpymem(p, auth->data, auth->len);
    }

    if (ctx->store.asking) {
        p = ngx_cpymem(p, ngx_http_hotkey_asking,
                       sizeof(ngx_http_hotkey_asking) - 1);
    }

    p += hotkey_store_request((char *) p, ctx->op, &ctx->route, &ctx->args,
                              ctx->store.eval);
    cmd->len = p - cmd->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_store_bufs(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_str_t                   cmd, *auth;
    ngx_buf_t                  *b;
    ngx_chain_t                *cl;
    ngx_http_hotkey_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);
    auth = ctx->store.fresh ? hlcf->password : NULL;

    ctx->store.eval = !(ngx_http_hotkey_scripts_loaded & (1 << ctx->op->id));
    ctx->store.skip = ctx->store.asking + (auth != NULL);
    ctx->store.with_auth = auth != NULL;

    if (ngx_http_hotkey_store_command(r, ctx, &cmd, auth) != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);

    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->start = cmd.data;
    b->pos = cmd.data;
    b->last = cmd.data + cmd.len;
    b->end = b->last;
    b->temporary = 1;
    b->flush = 1;                   /* TLS buffers what is not flushed */

    cl->buf = b;
    cl->next = NULL;

    r->upstream->request_bufs = cl;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_create_request(ngx_http_request_t *r)
{
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    ctx->store.asking = 0;
    ctx->store.fresh = 0;

    if (ngx_http_hotkey_store_reset(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_hotkey_store_bufs(r, ctx);
}


/*
 * The balancer chose a connection (new: fresh) to a store with a password:
 * the command is built again, now or in reinit_request on a retry.
 */

ngx_int_t
ngx_http_hotkey_store_fresh(ngx_http_request_t *r, ngx_uint_t fresh)
{
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->store.fresh = fresh;

    /* built already as it must be (a kept connection: without AUTH) */

    if (r->upstream->request_sent || ctx->store.with_auth == fresh) {
        return NGX_OK;
    }

    return ngx_http_hotkey_store_bufs(r, ctx);
}


/* another attempt, after a redirect or a failed node */

static ngx_int_t
ngx_http_hotkey_reinit_request(ngx_http_request_t *r)
{
    ngx_http_hotkey_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    ctx->store.asking = ctx->store.ask;
    ctx->store.ask = 0;

    ngx_http_hotkey_cluster_reinit(r, ctx);

    if (ngx_http_hotkey_store_bufs(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_hotkey_store_reset(ctx);
}


static ngx_int_t
ngx_http_hotkey_store_reset(ngx_http_hotkey_ctx_t *ctx)
{
    if (ctx->store.again.timer_set) {
        ngx_del_timer(&ctx->store.again);
    }

    hotkey_resp_init(&ctx->store.resp);

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_process_header(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_buf_t              *b;
    redisReply             *reply;
    ngx_http_upstream_t    *u;
    ngx_http_hotkey_ctx_t  *ctx;

    u = r->upstream;
    b = &u->buffer;
    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    if (ngx_http_hotkey_nodes == NULL) {
        ngx_http_hotkey_nodes = ngx_alloc(NGX_HTTP_HOTKEY_NODES,
                                          r->connection->log);
    }

    for ( ;; ) {
        switch (hotkey_resp_read(&ctx->store.resp, (char *) b->pos,
                                 b->last - b->pos, ngx_http_hotkey_nodes,
                                 NGX_HTTP_HOTKEY_NODES, &reply))
        {
        case HOTKEY_RESP_AGAIN:
            return ngx_http_hotkey_store_more(r, b);

        case HOTKEY_RESP_ERROR:
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "hotkey store sent an invalid reply: %s",
                          ctx->store.resp.err);
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;

        case HOTKEY_RESP_DONE:

            /* it came in parts, or is larger than the worker's nodes */

            reply = ngx_palloc(r->pool, hotkey_resp_mem(&ctx->store.resp));

            if (reply) {
                reply = hotkey_resp_build(&ctx->store.resp, (char *) b->pos,
                                          reply);
            }

            if (reply == NULL) {
                return NGX_ERROR;
            }

            break;

        default:
            break;
        }

        if (ctx->store.skip == 0) {
            break;
        }

        /*
         * the +OK of AUTH or ASKING; refused, the script pipelined after
         * it ran anyway, or was refused itself (NOAUTH, MOVED): its own
         * reply tells, as failing here would answer 500 to a write done
         */

        ctx->store.skip--;

        if (reply->type != REDIS_REPLY_STATUS) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "hotkey store refused AUTH or ASKING: %*s",
                          ngx_min(reply->len, 200),
                          reply->str ? reply->str : "");
        }

        b->pos += ctx->store.resp.pos;
        hotkey_resp_init(&ctx->store.resp);
    }

    /* a reply followed by more bytes is not one this module asked for */

    if (b->pos + ctx->store.resp.pos != b->last) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey store sent data after the reply");
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    rc = ngx_http_hotkey_reply(r, ctx, reply);

    if (rc == NGX_AGAIN || rc == NGX_BUSY) {

        /* the next reply, on the same connection, into the same buffer */

        b->pos = b->start;
        b->last = b->start;
        hotkey_resp_init(&ctx->store.resp);
    }

    if (rc == NGX_AGAIN) {
        return ngx_http_hotkey_store_retry(r, ctx);
    }

    if (rc == NGX_BUSY) {
        ngx_add_timer(&ctx->store.again, NGX_HTTP_HOTKEY_TRYAGAIN_DELAY);
        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;    /* to the next node */
    }

    ngx_http_hotkey_store_timed(r, ctx, ctx->error_set
                                && ctx->error == HOTKEY_ERR_INTERNAL);

    if (rc != NGX_OK) {
        return rc;
    }

    u->keepalive = 1;

    return NGX_OK;
}


/*
 * A reply not all there yet: the upstream reads the rest after it in
 * u->buffer, which is made larger (twice, up to the reply's limit) when
 * it is full.
 */

static ngx_int_t
ngx_http_hotkey_store_more(ngx_http_request_t *r, ngx_buf_t *b)
{
    size_t   n, size;
    u_char  *p;

    if (b->last < b->end) {
        return NGX_AGAIN;
    }

    n = b->last - b->pos;

    if (n >= NGX_HTTP_HOTKEY_REPLY_MAX) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey store sent a reply over %d bytes",
                      NGX_HTTP_HOTKEY_REPLY_MAX);
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    size = ngx_min(2 * (size_t) (b->end - b->start),
                   NGX_HTTP_HOTKEY_REPLY_MAX);

    p = ngx_palloc(r->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, b->pos, n);
    (void) ngx_pfree(r->pool, b->start);

    b->start = p;
    b->pos = p;
    b->last = p + n;
    b->end = p + size;

    return NGX_AGAIN;
}


/*
 * The store lost the script (restarted, or SCRIPT FLUSH): the whole script
 * goes on the same connection, which is idle and writable now that its
 * reply is read; the next reply is the answer.  Once per request.
 */

static ngx_int_t
ngx_http_hotkey_store_retry(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ngx_http_hotkey_scripts_loaded &= ~(1 << ctx->op->id);

    if (ctx->store.retried) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey store answered NOSCRIPT to EVAL");
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    ctx->store.retried = 1;
    ctx->store.eval = 1;

    return ngx_http_hotkey_store_resend(r, ctx);
}


/* a slot half-migrated (TRYAGAIN): the script again, a little later */

static void
ngx_http_hotkey_store_again(ngx_event_t *ev)
{
    ngx_http_hotkey_ctx_t *ctx = ev->data;

    ngx_connection_t  *c;

    if (ctx->request->upstream == NULL
        || ctx->request->upstream->peer.connection == NULL)
    {
        return;
    }

    if (ngx_http_hotkey_store_resend(ctx->request, ctx) == NGX_AGAIN) {
        return;
    }

    /* the upstream's read handler meets the broken connection */

    c = ctx->request->upstream->peer.connection;
    c->read->ready = 1;
    ngx_post_event(c->read, &ngx_posted_events);
}


static ngx_int_t
ngx_http_hotkey_store_resend(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx)
{
    ssize_t            n;
    ngx_str_t          cmd;
    ngx_connection_t  *c;

    if (ngx_http_hotkey_store_command(r, ctx, &cmd, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    c = r->upstream->peer.connection;
    n = c->send(c, cmd.data, cmd.len);

    if (n != (ssize_t) cmd.len) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey store: could not send the script again");
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    ctx->store.skip += ctx->store.asking;

    return NGX_AGAIN;
}


/*
 * NGX_OK: the answer is set; NGX_AGAIN: the script must be sent again;
 * NGX_BUSY: again a little later; NGX_DECLINED: to another node.
 */

static ngx_int_t
ngx_http_hotkey_reply(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    redisReply *reply)
{
    size_t                  size;
    u_char                 *body;
    ngx_buf_t              *b;
    const char             *why;
    hotkey_err_e            err;
    hotkey_answer_t         ans;
    hotkey_store_result_e   res;

    /* after the reply in its buffer, which lives as long as the request */

    size = hotkey_store_answer_size(ctx->op, reply);
    b = &r->upstream->buffer;

    if ((size_t) (b->end - b->last) >= size) {
        body = b->last;

    } else {
        body = ngx_pnalloc(r->pool, size);
        if (body == NULL) {
            return NGX_ERROR;
        }
    }

    res = hotkey_store_reply(ctx->op, reply, &ctx->route, ctx->args.id,
                             (char *) body, &ans, &why);

    if (res == HOTKEY_STORE_NOSCRIPT) {
        return NGX_AGAIN;
    }

    if (res == HOTKEY_STORE_REDIRECT) {
        switch (ngx_http_hotkey_cluster_redirect(r, ctx, reply->str,
                                                 reply->len))
        {
        case NGX_OK:
            return NGX_DECLINED;

        case NGX_AGAIN:
            if (++ctx->store.tryagain <= NGX_HTTP_HOTKEY_TRYAGAIN_MAX) {
                return NGX_BUSY;
            }

            why = "TRYAGAIN too many times";
            break;

        default:
            break;
        }
    }

    ngx_http_hotkey_scripts_loaded |= 1 << ctx->op->id;

    switch (res) {

    case HOTKEY_STORE_OK:
        if (ctx->op->cache == HOTKEY_CACHE_USE_INVALIDATE) {
            ngx_http_hotkey_cache_invalidate(r, ctx);
        }

        ngx_http_hotkey_cache_update(r, ctx, ans.status,
                                     ans.fleeting ? NULL : body, ans.len);
        ngx_http_hotkey_set_answer(r, ctx, ans.status, body, ans.len);
        return NGX_OK;

    case HOTKEY_STORE_NO_INSTANCE:
        err = HOTKEY_ERR_NO_INSTANCE;
        break;

    case HOTKEY_STORE_NOT_ANALYSABLE:
        err = HOTKEY_ERR_NOT_ANALYSABLE;
        break;

    case HOTKEY_STORE_NO_TASK:
        err = HOTKEY_ERR_NO_TASK;
        break;

    case HOTKEY_STORE_CONFLICT:
        err = ctx->op->conflict;
        break;

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hotkey store sent a bad reply: %s%s%*s",
                      why, reply->type == REDIS_REPLY_ERROR ? ": " : "",
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->type == REDIS_REPLY_ERROR ? reply->str : "");
        err = HOTKEY_ERR_INTERNAL;

        if (ngx_http_hotkey_cache_failed(r, ctx) == NGX_OK) {
            ngx_http_hotkey_set_answer(r, ctx, ctx->status, ctx->body.data,
                                       ctx->body.len);
            return NGX_OK;
        }
    }

    return ngx_http_hotkey_reply_error(r, ctx, err);
}


static ngx_int_t
ngx_http_hotkey_reply_error(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    hotkey_err_e err)
{
    size_t   len;
    u_char  *body;

    body = ngx_pnalloc(r->pool, HOTKEY_ERROR_BODY_MAX);
    if (body == NULL) {
        return NGX_ERROR;
    }

    len = hotkey_error_body(err, NULL, (char *) body);

    ctx->error = err;
    ctx->error_set = 1;

    /* what the store decided is an answer; its failure is not */

    ngx_http_hotkey_cache_update(r, ctx, hotkey_error_status(err),
                                 err == HOTKEY_ERR_INTERNAL ? NULL : body,
                                 len);

    ngx_http_hotkey_set_answer(r, ctx, hotkey_error_status(err), body, len);

    return NGX_OK;
}


void
ngx_http_hotkey_set_answer(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_uint_t status, u_char *body, size_t len)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    ctx->body.data = body;
    ctx->body.len = len;
    ctx->status = status;

    u->headers_in.status_n = status;
    u->headers_in.content_length_n = len;
    u->state->status = status;

    ngx_http_hotkey_set_json_type(r);

    /* the answer, not the store's bytes, is what the filter passes on */

    u->buffer.start = body;
    u->buffer.pos = body;
    u->buffer.last = body + len;
    u->buffer.end = body + len;

    (void) ngx_http_hotkey_cache_headers(r, ctx);
}


static ngx_int_t
ngx_http_hotkey_filter_init(void *data)
{
    ngx_http_hotkey_ctx_t  *ctx = data;

    ctx->request->upstream->length = ctx->body.len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_filter(void *data, ssize_t bytes)
{
    ngx_http_hotkey_ctx_t  *ctx = data;

    ngx_buf_t            *b;
    ngx_chain_t          *cl, **ll;
    ngx_http_upstream_t  *u;

    u = ctx->request->upstream;
    b = &u->buffer;

    for (cl = u->out_bufs, ll = &u->out_bufs; cl; cl = cl->next) {
        ll = &cl->next;
    }

    cl = ngx_chain_get_free_buf(ctx->request->pool, &u->free_bufs);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    *ll = cl;

    cl->buf->flush = 1;
    cl->buf->memory = 1;
    cl->buf->pos = b->last;
    b->last += bytes;
    cl->buf->last = b->last;
    cl->buf->tag = u->output.tag;

    u->length -= bytes;

    return NGX_OK;
}


static void
ngx_http_hotkey_abort_request(ngx_http_request_t *r)
{
    return;
}


static void
ngx_http_hotkey_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_int_t               rv;
    ngx_http_upstream_t    *u;
    ngx_http_hotkey_ctx_t  *ctx;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_hotkey_module);

    ngx_http_hotkey_store_timed(r, ctx, rc != 0);

    if (rc < NGX_HTTP_SPECIAL_RESPONSE || u->header_sent
        || r->connection->error || rc == NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        ngx_http_hotkey_cache_release(r, ctx);
        return;
    }

    /*
     * The store failed (refused, timed out, closed, or sent nonsense):
     * the upstream would now answer 502 or 504 from nginx's own pages,
     * so the answer (a stale copy, or the contract's 500) goes out here
     * and the upstream is told the header is sent; it then only flushes
     * and closes the connection, which the answer says.
     */

    r->keepalive = 0;

    if (ngx_http_hotkey_cache_failed(r, ctx) == NGX_OK) {
        rv = ngx_http_hotkey_cache_headers(r, ctx);

        if (rv == NGX_OK) {
            rv = ngx_http_hotkey_send_json(r, ctx->status, ctx->body.data,
                                           ctx->body.len);
        }

        if (rv != NGX_ERROR && rv <= NGX_OK) {
            u->header_sent = 1;
        }

        return;
    }

    if (ngx_http_hotkey_cache_headers(r, ctx) != NGX_OK) {
        return;
    }

    rv = ngx_http_hotkey_send_error(r, HOTKEY_ERR_INTERNAL, NULL);

    if (rv == NGX_ERROR || rv > NGX_OK) {
        return;
    }

    u->header_sent = 1;
}
