/*
 * Authentication and permission: an X-Auth-Token JWT, verified with the
 * keys of hotkey_auth_token_keys (and remembered per worker), or an
 * AK/SK signature (any scheme of hotkey_akscheme.h) checked against the
 * credentials of hotkey_auth_credentials (verified requests remembered
 * per worker and credentials file, see hotkey_aksk_verify).  Key and
 * credential files are read at configuration time; the checks
 * themselves are in hotkey_jwt.c and hotkey_aksk.c.
 */

#include "ngx_http_hotkey_module.h"

#include "hotkey_aksk.h"
#include "hotkey_digest.h"
#include "hotkey_action.h"
#include "hotkey_creds.h"
#include "hotkey_jwt.h"
#include "hotkey_tokcache.h"


#define NGX_HTTP_HOTKEY_AUTH_HEADERS  64
#define NGX_HTTP_HOTKEY_BODY_MAX      (1024 * 1024)


struct ngx_http_hotkey_keys_s {
    hotkey_keyset_t            *keyset;
    hotkey_tokcache_t          *cache;      /* per worker, made on use */
    ngx_uint_t                  cache_size;
};


struct ngx_http_hotkey_creds_s {
    hotkey_creds_t             *creds;
    hotkey_vcache_t            *cache;      /* per worker, made on use */
};


typedef struct {
    ngx_table_elt_t            *token;
    ngx_table_elt_t            *project;
    hotkey_aksk_header_t       *headers;
    size_t                      nheaders;
    int                         scheme;     /* AK/SK: its scheme, or -1 */
} ngx_http_hotkey_auth_in_t;


static void ngx_http_hotkey_auth_check_mode(ngx_conf_t *cf, ngx_str_t *path);
static void ngx_http_hotkey_keys_cleanup(void *data);
static void ngx_http_hotkey_creds_cleanup(void *data);
static ngx_int_t ngx_http_hotkey_auth_headers(ngx_http_request_t *r,
    ngx_http_hotkey_auth_in_t *in, ngx_uint_t aksk);
static ngx_int_t ngx_http_hotkey_auth_token(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_http_hotkey_loc_conf_t *hlcf,
    ngx_str_t *token);
static ngx_int_t ngx_http_hotkey_auth_aksk(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_http_hotkey_loc_conf_t *hlcf,
    ngx_http_hotkey_auth_in_t *in);
static ngx_int_t ngx_http_hotkey_auth_fail(ngx_http_hotkey_ctx_t *ctx,
    hotkey_err_e err, const char *arg, ngx_http_hotkey_auth_reason_e why);
static ngx_int_t ngx_http_hotkey_auth_permit(ngx_http_hotkey_ctx_t *ctx,
    unsigned actions);
static ngx_int_t ngx_http_hotkey_body_hash_buf(EVP_MD_CTX *c,
    ngx_buf_t *b);
static ngx_int_t ngx_http_hotkey_body_hash(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, hotkey_md_e md);


char *
ngx_http_hotkey_auth_token_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_hotkey_loc_conf_t  *hlcf = conf;

    char                     err[512];
    ngx_str_t               *value, path;
    ngx_pool_cleanup_t      *cln;
    ngx_http_hotkey_keys_t  *keys;

    if (hlcf->keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    keys = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_keys_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (keys == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    keys->keyset = hotkey_keyset_load((char *) path.data, err, sizeof(err));
    if (keys->keyset == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
        return NGX_CONF_ERROR;
    }

    keys->cache_size = HOTKEY_TOKCACHE_DEFAULT;

    cln->handler = ngx_http_hotkey_keys_cleanup;
    cln->data = keys;

    hlcf->keys = keys;

    return NGX_CONF_OK;
}


char *
ngx_http_hotkey_auth_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_hotkey_loc_conf_t  *hlcf = conf;

    char                      err[512];
    ngx_str_t                *value, path;
    ngx_pool_cleanup_t       *cln;
    ngx_http_hotkey_creds_t  *creds;

    if (hlcf->creds != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    creds = ngx_pcalloc(cf->pool, sizeof(ngx_http_hotkey_creds_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (creds == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    creds->creds = hotkey_creds_load((char *) path.data, err, sizeof(err));
    if (creds->creds == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
        return NGX_CONF_ERROR;
    }

    ngx_http_hotkey_auth_check_mode(cf, &path);

    cln->handler = ngx_http_hotkey_creds_cleanup;
    cln->data = creds;

    hlcf->creds = creds;

    return NGX_CONF_OK;
}


/* secrets others can read are worth a word in the log, not a refusal */

static void
ngx_http_hotkey_auth_check_mode(ngx_conf_t *cf, ngx_str_t *path)
{
    ngx_file_info_t  fi;

    if (ngx_file_info(path->data, &fi) == NGX_FILE_ERROR) {
        return;
    }

    if (ngx_file_access(&fi) & 0077) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\" holds secret keys and can be read by "
                           "others than its owner; keep it at mode 0600",
                           path);
    }
}


static void
ngx_http_hotkey_keys_cleanup(void *data)
{
    ngx_http_hotkey_keys_t  *keys = data;

    hotkey_keyset_free(keys->keyset);

    if (keys->cache) {
        hotkey_tokcache_free(keys->cache);
    }
}


static void
ngx_http_hotkey_creds_cleanup(void *data)
{
    ngx_http_hotkey_creds_t  *creds = data;

    hotkey_vcache_free(creds->cache);
    hotkey_creds_free(creds->creds);
}


/*
 * NGX_OK: the caller may list; ctx->auth.principal is set.  NGX_DECLINED:
 * ctx->error (and ctx->error_arg) say what to answer.  NGX_AGAIN: the
 * body of a signed request is being read.
 */

ngx_int_t
ngx_http_hotkey_authenticate(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx)
{
    int                          scheme;
    ngx_str_t                    token;
    ngx_uint_t                   aksk, i;
    ngx_table_elt_t             *auth;
    ngx_http_hotkey_auth_in_t    in;
    ngx_http_hotkey_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hotkey_module);

    if (!hlcf->auth) {
        return NGX_OK;
    }

    auth = r->headers_in.authorization;
    scheme = (auth && hlcf->creds)
             ? hotkey_aksk_scheme((char *) auth->value.data, auth->value.len)
             : -1;
    aksk = scheme >= 0;

    if (ngx_http_hotkey_auth_headers(r, &in, aksk) != NGX_OK) {
        return NGX_ERROR;
    }

    in.scheme = scheme;

    if (in.token && hlcf->keys) {
        token = in.token->value;
        return ngx_http_hotkey_auth_token(r, ctx, hlcf, &token);
    }

    if (aksk) {
        return ngx_http_hotkey_auth_aksk(r, ctx, hlcf, &in);
    }

    if (in.token) {
        return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_TOKEN_INVALID, NULL,
                                   NGX_HTTP_HOTKEY_AUTH_TOKEN_INVALID);
    }

    /* a signature all the same, in a scheme not verified here */

    for (i = 0; auth && i < auth->value.len; i++) {
        if (auth->value.data[i] != ' ' && auth->value.data[i] != '\t') {
            return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_AKSK,
                             hotkey_aksk_reason(HOTKEY_AKSK_UNSUPPORTED),
                             NGX_HTTP_HOTKEY_AUTH_AKSK_MALFORMED);
        }
    }

    return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_NO_TOKEN, NULL,
                                     NGX_HTTP_HOTKEY_AUTH_NO_CREDENTIALS);
}


static ngx_int_t
ngx_http_hotkey_auth_headers(ngx_http_request_t *r,
    ngx_http_hotkey_auth_in_t *in, ngx_uint_t aksk)
{
    size_t            n;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_memzero(in, sizeof(ngx_http_hotkey_auth_in_t));

    if (aksk) {
        n = 0;

        for (part = &r->headers_in.headers.part; part; part = part->next) {
            n += part->nelts;
        }

        in->headers = ngx_palloc(r->pool, n * sizeof(hotkey_aksk_header_t)
                                          + 1);
        if (in->headers == NULL) {
            return NGX_ERROR;
        }
    }

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {

            if (h[i].key.len == 12
                && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Auth-Token",
                                   12) == 0
                && in->token == NULL)
            {
                in->token = &h[i];

            } else if (h[i].key.len == 12
                       && ngx_strncasecmp(h[i].key.data,
                                          (u_char *) "X-Project-Id", 12)
                          == 0)
            {
                in->project = &h[i];
            }

            if (aksk) {
                in->headers[in->nheaders].name = (char *) h[i].key.data;
                in->headers[in->nheaders].name_len = h[i].key.len;
                in->headers[in->nheaders].value = (char *) h[i].value.data;
                in->headers[in->nheaders].value_len = h[i].value.len;
                in->nheaders++;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_auth_token(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_loc_conf_t *hlcf, ngx_str_t *token)
{
    time_t                   now;
    const char              *why;
    hotkey_jwt_rc_e          rc;
    hotkey_jwt_claims_t     *cl;
    ngx_http_hotkey_keys_t  *keys;

    keys = hlcf->keys;
    now = ngx_time();

    cl = ngx_palloc(r->pool, sizeof(hotkey_jwt_claims_t));
    if (cl == NULL) {
        return NGX_ERROR;
    }

    if (token->len > HOTKEY_JWT_TOKEN_MAX) {
        return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_TOKEN_INVALID, NULL,
                                   NGX_HTTP_HOTKEY_AUTH_TOKEN_INVALID);
    }

    if (keys->cache == NULL && keys->cache_size) {
        keys->cache = hotkey_tokcache_create(keys->cache_size);
    }

    if (keys->cache == NULL
        || !hotkey_tokcache_get(keys->cache, (char *) token->data,
                                token->len, now, cl))
    {
        rc = hotkey_jwt_verify((char *) token->data, token->len,
                               keys->keyset, now, hlcf->token_leeway, cl,
                               &why);

        if (rc != HOTKEY_JWT_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "hotkey token refused: %s", why ? why : "");
        }

        switch (rc) {
        case HOTKEY_JWT_OK:
            break;

        case HOTKEY_JWT_EXPIRED:
        case HOTKEY_JWT_NOT_YET_VALID:
            return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_TOKEN_EXPIRED,
                                   NULL, NGX_HTTP_HOTKEY_AUTH_TOKEN_EXPIRED);

        case HOTKEY_JWT_INVALID:
            return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_TOKEN_INVALID,
                                   NULL, NGX_HTTP_HOTKEY_AUTH_TOKEN_INVALID);

        default:
            return NGX_ERROR;
        }

        if (keys->cache) {
            hotkey_tokcache_put(keys->cache, (char *) token->data,
                                token->len, now, cl);
        }
    }

    if (ngx_strlen(cl->project_id) != ctx->route.project_len
        || ngx_memcmp(cl->project_id, ctx->route.project,
                      ctx->route.project_len) != 0)
    {
        return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_TOKEN_PROJECT, NULL,
                                   NGX_HTTP_HOTKEY_AUTH_TOKEN_PROJECT);
    }

    if (cl->sub[0]) {
        ctx->auth.principal.data = (u_char *) cl->sub;
        ctx->auth.principal.len = ngx_strlen(cl->sub);

    } else {
        ctx->auth.principal.data = (u_char *) cl->project_id;
        ctx->auth.principal.len = ngx_strlen(cl->project_id);
    }

    ctx->auth.rate = cl->rate;
    ctx->auth.rate_period = cl->rate_period;
    ctx->auth.burst = cl->burst;

    return ngx_http_hotkey_auth_permit(ctx, cl->actions);
}


static ngx_int_t
ngx_http_hotkey_auth_aksk(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    ngx_http_hotkey_loc_conf_t *hlcf, ngx_http_hotkey_auth_in_t *in)
{
    ngx_int_t                     rc;
    ngx_table_elt_t              *auth;
    hotkey_aksk_rc_e              arc;
    const hotkey_cred_t          *cred;
    hotkey_aksk_request_t         req;
    ngx_http_hotkey_creds_t      *creds;
    ngx_http_hotkey_auth_reason_e  why;

    ngx_memzero(&req, sizeof(hotkey_aksk_request_t));

    req.method = (char *) r->method_name.data;
    req.method_len = r->method_name.len;
    req.path = (char *) r->unparsed_uri.data;
    req.path_len = r->args_start ? (size_t) (r->args_start - 1
                                             - r->unparsed_uri.data)
                                 : r->unparsed_uri.len;
    req.query = r->args.len ? (char *) r->args.data : NULL;
    req.query_len = r->args.len;
    req.headers = in->headers;
    req.nheaders = in->nheaders;

    auth = r->headers_in.authorization;

    rc = ngx_http_hotkey_body_hash(r, ctx, hotkey_akscheme_md(in->scheme));
    if (rc != NGX_OK) {
        return rc;
    }

    req.body_hash = ctx->auth.body_sha256[0] ? ctx->auth.body_sha256 : NULL;

    creds = hlcf->creds;

    if (creds->cache == NULL) {
        creds->cache = hotkey_aksk_cache_create(0);
    }

    arc = hotkey_aksk_verify(&req, (char *) auth->value.data,
                             auth->value.len, creds->creds, ngx_time(),
                             (time_t) (hlcf->date_skew / 1000), creds->cache,
                             &cred);

    if (arc != HOTKEY_AKSK_OK) {
        why = (arc == HOTKEY_AKSK_MISMATCH)
              ? NGX_HTTP_HOTKEY_AUTH_AKSK_SIGNATURE
              : (arc == HOTKEY_AKSK_EXPIRED)
                ? NGX_HTTP_HOTKEY_AUTH_AKSK_EXPIRED
                : (arc == HOTKEY_AKSK_UNKNOWN_AK)
                  ? NGX_HTTP_HOTKEY_AUTH_AKSK_UNKNOWN_KEY
                  : NGX_HTTP_HOTKEY_AUTH_AKSK_MALFORMED;

        return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_AKSK,
                                         hotkey_aksk_reason(arc), why);
    }

    if (in->project
        && (in->project->value.len != ctx->route.project_len
            || ngx_memcmp(in->project->value.data, ctx->route.project,
                          ctx->route.project_len) != 0))
    {
        return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_AKSK,
                                   "x-project-id does not match the uri",
                                   NGX_HTTP_HOTKEY_AUTH_AKSK_MALFORMED);
    }

    ctx->auth.principal.data = (u_char *) cred->name;
    ctx->auth.principal.len = ngx_strlen(cred->name);
    ctx->auth.rate = cred->rate;
    ctx->auth.rate_period = cred->rate_period;
    ctx->auth.burst = cred->burst;

    if (!hotkey_cred_project_allowed(cred, ctx->route.project,
                                     ctx->route.project_len))
    {
        return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_FORBIDDEN,
                             hotkey_action_name(ctx->op->action),
                             NGX_HTTP_HOTKEY_AUTH_FORBIDDEN);
    }

    return ngx_http_hotkey_auth_permit(ctx, cred->actions);
}


static ngx_int_t
ngx_http_hotkey_auth_permit(ngx_http_hotkey_ctx_t *ctx, unsigned actions)
{
    /* the operation's own action, as its row in the table says */

    if (actions & ctx->op->action) {
        return NGX_OK;
    }

    return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_FORBIDDEN,
                             hotkey_action_name(ctx->op->action),
                             NGX_HTTP_HOTKEY_AUTH_FORBIDDEN);
}


static ngx_int_t
ngx_http_hotkey_auth_fail(ngx_http_hotkey_ctx_t *ctx, hotkey_err_e err,
    const char *arg, ngx_http_hotkey_auth_reason_e why)
{
    ctx->error = err;
    ctx->error_set = 1;
    ctx->error_arg = arg;
    ctx->auth.reason = why;

    return NGX_DECLINED;
}


/*
 * The body was read before authentication (see handler), into memory or,
 * past client_body_buffer_size, into nginx's temporary file.  Its hex
 * digest, in the hash of the request's scheme, goes into
 * ctx->auth.body_sha256 (SHA-256 and SM3 hex alike are 64 digits).
 */

static ngx_int_t
ngx_http_hotkey_body_hash(ngx_http_request_t *r, ngx_http_hotkey_ctx_t *ctx,
    hotkey_md_e md)
{
    u_char        out[HOTKEY_MD_LEN];
    EVP_MD_CTX   *c;
    ngx_chain_t  *cl;

    ctx->auth.body_sha256[0] = '\0';

    if (ctx->body_too_large) {
        return ngx_http_hotkey_auth_fail(ctx, HOTKEY_ERR_AKSK,
                                         "request too large to verify",
                                         NGX_HTTP_HOTKEY_AUTH_AKSK_MALFORMED);
    }

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    c = hotkey_digest_begin(md);
    if (c == NULL) {
        return NGX_ERROR;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (ngx_http_hotkey_body_hash_buf(c, cl->buf) != NGX_OK) {
            EVP_MD_CTX_free(c);
            return NGX_ERROR;
        }
    }

    if (hotkey_digest_end(c, out) != 0) {
        return NGX_ERROR;
    }

    *ngx_hex_dump((u_char *) ctx->auth.body_sha256, out, sizeof(out)) = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_body_hash_buf(EVP_MD_CTX *c, ngx_buf_t *b)
{
    u_char   buf[4096];
    off_t    pos;
    ssize_t  n;

    if (!b->in_file) {
        return hotkey_digest_update(c, b->pos, b->last - b->pos) == 0
               ? NGX_OK : NGX_ERROR;
    }

    for (pos = b->file_pos; pos < b->file_last; pos += n) {
        n = ngx_read_file(b->file, buf,
                          (size_t) ngx_min(b->file_last - pos,
                                           (off_t) sizeof(buf)),
                          pos);
        if (n <= 0 || hotkey_digest_update(c, buf, n) != 0) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
