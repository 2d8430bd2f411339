/*
 * A store that wants a password: "hotkey_store_password [user] password"
 * in its upstream {}.  Every new connection to it, and only a new one,
 * says AUTH first: the request's (pipelined before the script, its +OK
 * skipped), the subscriptions' and the slot map's.
 *
 * Whether a request's connection is new is known only once the upstream's
 * balancer (keepalive included) chose it, after the command was built: so
 * the balancer of such an upstream is wrapped, and the command is built
 * again with AUTH in front when the connection is a new one.
 */

#include "ngx_http_hotkey_module.h"


typedef struct {
    ngx_http_request_t             *request;
    ngx_event_get_peer_pt           get;
    ngx_event_free_peer_pt          free;
    void                           *data;
} ngx_http_hotkey_password_peer_t;


static ngx_int_t ngx_http_hotkey_password_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_hotkey_password_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_hotkey_password_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);


char *
ngx_http_hotkey_store_password(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char                        *p;
    ngx_str_t                     *value;
    ngx_uint_t                     i, n;
    ngx_http_hotkey_password_t    *pw;
    ngx_http_upstream_srv_conf_t  *uscf;
    ngx_http_hotkey_main_conf_t   *hmcf;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);
    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hotkey_module);

    if (ngx_http_hotkey_password_cmd(hmcf, uscf)) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = cf->args->nelts;

    for (i = 1; i < n; i++) {
        if (value[i].len == 0) {
            return "has an empty argument";
        }
    }

    pw = ngx_array_push(&hmcf->passwords);
    if (pw == NULL) {
        return NGX_CONF_ERROR;
    }

    pw->uscf = uscf;
    pw->init = NULL;
    pw->cmd.len = sizeof("*3\r\n$4\r\nAUTH\r\n") - 1;

    for (i = 1; i < n; i++) {
        pw->cmd.len += 1 + NGX_SIZE_T_LEN + 2 + value[i].len + 2;
    }

    pw->cmd.data = ngx_pnalloc(cf->pool, pw->cmd.len);
    if (pw->cmd.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(pw->cmd.data, "*%ui\r\n$4\r\nAUTH\r\n", n);

    for (i = 1; i < n; i++) {
        p = ngx_sprintf(p, "$%uz\r\n%V\r\n", value[i].len, &value[i]);
    }

    pw->cmd.len = p - pw->cmd.data;

    return NGX_CONF_OK;
}


/* the AUTH command of a store, NULL when it has no password */

ngx_str_t *
ngx_http_hotkey_password_cmd(ngx_http_hotkey_main_conf_t *hmcf,
    ngx_http_upstream_srv_conf_t *uscf)
{
    ngx_http_hotkey_password_t  *pw;

    pw = hmcf ? ngx_http_hotkey_upstream_find(&hmcf->passwords, uscf) : NULL;

    return pw ? &pw->cmd : NULL;
}


/*
 * The entry of an upstream in an array of per-upstream settings, NULL
 * when it has none: each entry begins with its upstream's uscf.
 */

void *
ngx_http_hotkey_upstream_find(ngx_array_t *a,
    ngx_http_upstream_srv_conf_t *uscf)
{
    u_char      *p;
    ngx_uint_t   i;

    if (uscf == NULL) {
        return NULL;
    }

    p = a->elts;

    for (i = 0; i < a->nelts; i++, p += a->size) {
        if (*(ngx_http_upstream_srv_conf_t **) p == uscf) {
            return p;
        }
    }

    return NULL;
}


/* "[AUTH] cmd" into out, for a connection of the module's own */

ngx_int_t
ngx_http_hotkey_password_prefix(ngx_pool_t *pool, ngx_str_t *auth,
    const char *cmd, size_t len, ngx_str_t *out)
{
    u_char  *p;

    out->len = (auth ? auth->len : 0) + len;
    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = auth ? ngx_cpymem(out->data, auth->data, auth->len) : out->data;
    ngx_memcpy(p, cmd, len);

    return NGX_OK;
}


/* postconfiguration: the balancers are final, and are wrapped */

ngx_int_t
ngx_http_hotkey_password_init(ngx_conf_t *cf)
{
    ngx_uint_t                    i;
    ngx_http_hotkey_password_t   *pw;
    ngx_http_hotkey_main_conf_t  *hmcf;

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hotkey_module);
    pw = hmcf->passwords.elts;

    for (i = 0; i < hmcf->passwords.nelts; i++) {
        if (pw[i].uscf->peer.init == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"hotkey_store_password\" in upstream \"%V\", "
                          "which has no balancer", &pw[i].uscf->host);
            return NGX_ERROR;
        }

        pw[i].init = pw[i].uscf->peer.init;
        pw[i].uscf->peer.init = ngx_http_hotkey_password_init_peer;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_password_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_t              *u;
    ngx_http_hotkey_password_t       *pw;
    ngx_http_hotkey_main_conf_t      *hmcf;
    ngx_http_hotkey_password_peer_t  *w;

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hotkey_module);
    pw = ngx_http_hotkey_upstream_find(&hmcf->passwords, us);

    if (pw == NULL || pw->init(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    w = ngx_palloc(r->pool, sizeof(ngx_http_hotkey_password_peer_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    u = r->upstream;

    w->request = r;
    w->get = u->peer.get;
    w->free = u->peer.free;
    w->data = u->peer.data;

    u->peer.get = ngx_http_hotkey_password_get_peer;
    u->peer.free = ngx_http_hotkey_password_free_peer;
    u->peer.data = w;

    return NGX_OK;
}


static ngx_int_t
ngx_http_hotkey_password_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_hotkey_password_peer_t *w = data;

    ngx_int_t  rc;

    rc = w->get(pc, w->data);

    /* NGX_DONE: a kept connection, which said AUTH when it was new */

    if (rc == NGX_OK || rc == NGX_DONE) {
        if (ngx_http_hotkey_store_fresh(w->request, rc == NGX_OK)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return rc;
}


static void
ngx_http_hotkey_password_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_hotkey_password_peer_t *w = data;

    w->free(pc, w->data, state);
}
