/*
 * TLS to the store: "hotkey_store_tls [trusted=file] [certificate=file
 * key=file] [name=name] [verify=on|off]" in its upstream {}.
 *
 * Requests go through nginx's upstream SSL (u->ssl); the module's own
 * connections (the subscriptions, the slot map) hand-shake here.  The
 * store's certificate is checked by OpenSSL inside the handshake
 * (SSL_VERIFY_PEER, the name in the context's parameters), not after it:
 * a store that fails the check never sees a command, AUTH included.
 */

#include "ngx_http_hotkey_module.h"


#if (NGX_HTTP_SSL)

static char *ngx_http_hotkey_tls_verify(ngx_conf_t *cf,
    ngx_http_hotkey_tls_t *tls, ngx_str_t *trusted, ngx_flag_t verify);


char *
ngx_http_hotkey_store_tls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                     *value, trusted, cert, key;
    ngx_uint_t                     i;
    ngx_flag_t                     verify;
    ngx_pool_cleanup_t            *cln;
    ngx_http_hotkey_tls_t         *tls;
    ngx_http_upstream_srv_conf_t  *uscf;
    ngx_http_hotkey_main_conf_t   *hmcf;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);
    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hotkey_module);

    if (ngx_http_hotkey_tls_find(hmcf, uscf)) {
        return "is duplicate";
    }

    tls = ngx_array_push(&hmcf->tls);
    if (tls == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(tls, sizeof(ngx_http_hotkey_tls_t));
    ngx_str_null(&trusted);
    ngx_str_null(&cert);
    ngx_str_null(&key);
    verify = 1;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "trusted=", 8) == 0) {
            trusted.data = value[i].data + 8;
            trusted.len = value[i].len - 8;

        } else if (ngx_strncmp(value[i].data, "certificate=", 12) == 0) {
            cert.data = value[i].data + 12;
            cert.len = value[i].len - 12;

        } else if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            key.data = value[i].data + 4;
            key.len = value[i].len - 4;

        } else if (ngx_strncmp(value[i].data, "name=", 5) == 0) {
            tls->name.data = value[i].data + 5;
            tls->name.len = value[i].len - 5;

            if (tls->name.len == 0) {
                goto invalid;
            }

        } else if (ngx_strcmp(value[i].data, "verify=on") == 0) {
            verify = 1;

        } else if (ngx_strcmp(value[i].data, "verify=off") == 0) {
            verify = 0;

        } else {
            goto invalid;
        }
    }

    if ((cert.len == 0) != (key.len == 0)) {
        return "needs both certificate= and key=, or neither";
    }

    tls->uscf = uscf;

    tls->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (tls->ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    tls->ssl->log = cf->log;

    if (ngx_ssl_create(tls->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(tls->ssl);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = tls->ssl;

    if (cert.len
        && ngx_ssl_certificate(cf, tls->ssl, &cert, &key, NULL) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_http_hotkey_tls_verify(cf, tls, &trusted, verify);

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_hotkey_tls_verify(ngx_conf_t *cf, ngx_http_hotkey_tls_t *tls,
    ngx_str_t *trusted, ngx_flag_t verify)
{
    int                  ok;
    SSL_CTX             *ctx;
    ngx_uint_t           ip;
    X509_VERIFY_PARAM   *param;

    ctx = tls->ssl->ctx;
    ip = tls->name.len
         && (ngx_inet_addr(tls->name.data, tls->name.len) != INADDR_NONE
             || ngx_strlchr(tls->name.data,
                            tls->name.data + tls->name.len, ':'));

    /* RFC 6066: no address as a server name */

    tls->sni = tls->name.len && !ip;

    /* SSL_set_tlsext_host_name() would refuse it on every connection */

    if (tls->sni && tls->name.len > TLSEXT_MAXLEN_host_name) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hotkey_store_tls\": the name is longer than "
                           "%d bytes", TLSEXT_MAXLEN_host_name);
        return NGX_CONF_ERROR;
    }

    if (!verify) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"hotkey_store_tls\" with verify=off: "
                           "the store's certificate is not checked");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return NGX_CONF_OK;
    }

    if (trusted->len) {
        if (ngx_conf_full_name(cf->cycle, trusted, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ok = SSL_CTX_load_verify_locations(ctx, (char *) trusted->data,
                                           NULL);

    } else {
        ok = SSL_CTX_set_default_verify_paths(ctx);
    }

    if (ok == 0) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"hotkey_store_tls\": cannot load the trusted "
                      "certificates \"%s\"",
                      trusted->len ? trusted->data : (u_char *) "(system)");
        return NGX_CONF_ERROR;
    }

    param = SSL_CTX_get0_param(ctx);

    if (tls->name.len) {
        ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param,
                                                (char *) tls->name.data)
                : X509_VERIFY_PARAM_set1_host(param,
                                              (char *) tls->name.data,
                                              tls->name.len);
        if (ok == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hotkey_store_tls\": invalid name \"%V\"",
                               &tls->name);
            return NGX_CONF_ERROR;
        }

        X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }

    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

    return NGX_CONF_OK;
}


/* a request's upstream speaks TLS to a store that says so */

void
ngx_http_hotkey_tls_request(ngx_http_upstream_t *u,
    ngx_http_hotkey_tls_t *tls)
{
    if (tls) {
        u->ssl = 1;
        u->ssl_name = tls->name;
    }
}


/* merge: the location's upstream settings from its store's TLS */

void
ngx_http_hotkey_tls_merge(ngx_http_upstream_conf_t *conf,
    ngx_http_hotkey_tls_t *tls)
{
    conf->ssl = tls ? tls->ssl : NULL;
    conf->ssl_session_reuse = 0;
    conf->ssl_name = NULL;
    conf->ssl_server_name = tls && tls->sni;
    conf->ssl_verify = 0;                   /* done in the handshake */
    conf->ssl_certificate = NULL;
    conf->ssl_certificate_key = NULL;
    conf->ssl_passwords = NULL;
}


/*
 * A connection of the module's own, connected: NGX_OK when the handshake
 * is over, NGX_AGAIN when done(c) will be called, whatever the outcome
 * (c->ssl->handshaked says which), NGX_ERROR.
 */

ngx_int_t
ngx_http_hotkey_tls_start(ngx_connection_t *c, ngx_http_hotkey_tls_t *tls,
    ngx_connection_handler_pt done)
{
    ngx_int_t  rc;

    if (c->pool == NULL) {
        c->pool = ngx_create_pool(256, c->log);
        if (c->pool == NULL) {
            return NGX_ERROR;
        }
    }

    if (ngx_ssl_create_connection(tls->ssl, c, NGX_SSL_CLIENT) != NGX_OK) {
        return NGX_ERROR;
    }

    if (tls->sni
        && SSL_set_tlsext_host_name(c->ssl->connection,
                                    (char *) tls->name.data)
           == 0)
    {
        ngx_ssl_error(NGX_LOG_ERR, c->log, 0,
                      "SSL_set_tlsext_host_name(\"%V\") failed", &tls->name);
        return NGX_ERROR;
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = done;
    }

    return rc;
}


/* closes a connection of the module's own, TLS or not */

void
ngx_http_hotkey_tls_close(ngx_connection_t *c)
{
    ngx_pool_t  *pool;

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }

    pool = c->pool;
    ngx_close_connection(c);

    if (pool) {
        ngx_destroy_pool(pool);
    }
}

#else

char *
ngx_http_hotkey_store_tls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return "needs nginx built with SSL";
}


void
ngx_http_hotkey_tls_request(ngx_http_upstream_t *u,
    ngx_http_hotkey_tls_t *tls)
{
}


void
ngx_http_hotkey_tls_merge(ngx_http_upstream_conf_t *conf,
    ngx_http_hotkey_tls_t *tls)
{
}


ngx_int_t
ngx_http_hotkey_tls_start(ngx_connection_t *c, ngx_http_hotkey_tls_t *tls,
    ngx_connection_handler_pt done)
{
    return NGX_ERROR;
}


void
ngx_http_hotkey_tls_close(ngx_connection_t *c)
{
    ngx_close_connection(c);
}

#endif


ngx_http_hotkey_tls_t *
ngx_http_hotkey_tls_find(ngx_http_hotkey_main_conf_t *hmcf,
    ngx_http_upstream_srv_conf_t *uscf)
{
    return hmcf ? ngx_http_hotkey_upstream_find(&hmcf->tls, uscf) : NULL;
}
