/*
 * The hot key analysis API module: shared types of the nginx glue.
 */

#ifndef NGX_HTTP_HOTKEY_MODULE_H
#define NGX_HTTP_HOTKEY_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "hotkey_route.h"
#include "hotkey_args.h"
#include "hotkey_error.h"
#include "hotkey_store.h"
#include "hotkey_resp.h"
#include "hotkey_op.h"
#include "hotkey_num.h"
#include "hotkey_creds.h"
#include "ngx_http_hotkey_table.h"


#define NGX_HTTP_HOTKEY_KEY_MAX    160
#define NGX_HTTP_HOTKEY_MAX_SLOTS  64       /* workers that can be woken */


typedef enum {
    NGX_HTTP_HOTKEY_CACHE_NONE = 0,
    NGX_HTTP_HOTKEY_CACHE_MISS,
    NGX_HTTP_HOTKEY_CACHE_BYPASS,
    NGX_HTTP_HOTKEY_CACHE_EXPIRED,
    NGX_HTTP_HOTKEY_CACHE_STALE,
    NGX_HTTP_HOTKEY_CACHE_UPDATING,
    NGX_HTTP_HOTKEY_CACHE_HIT
} ngx_http_hotkey_cache_status_e;


typedef enum {
    NGX_HTTP_HOTKEY_AUTH_OK = 0,
    NGX_HTTP_HOTKEY_AUTH_NO_CREDENTIALS,
    NGX_HTTP_HOTKEY_AUTH_TOKEN_INVALID,
    NGX_HTTP_HOTKEY_AUTH_TOKEN_EXPIRED,
    NGX_HTTP_HOTKEY_AUTH_TOKEN_PROJECT,
    NGX_HTTP_HOTKEY_AUTH_AKSK_SIGNATURE,
    NGX_HTTP_HOTKEY_AUTH_AKSK_EXPIRED,
    NGX_HTTP_HOTKEY_AUTH_AKSK_UNKNOWN_KEY,
    NGX_HTTP_HOTKEY_AUTH_AKSK_MALFORMED,
    NGX_HTTP_HOTKEY_AUTH_FORBIDDEN,
    NGX_HTTP_HOTKEY_AUTH_REASONS
} ngx_http_hotkey_auth_reason_e;


typedef struct ngx_http_hotkey_keys_s   ngx_http_hotkey_keys_t;
typedef struct ngx_http_hotkey_ring_s   ngx_http_hotkey_ring_t;
typedef struct ngx_http_hotkey_creds_s  ngx_http_hotkey_creds_t;
typedef struct ngx_http_hotkey_limit_s  ngx_http_hotkey_limit_t;
typedef struct ngx_http_hotkey_cluster_s  ngx_http_hotkey_cluster_t;
typedef struct ngx_http_hotkey_tls_s  ngx_http_hotkey_tls_t;
typedef struct ngx_http_hotkey_cluster_peer_s
    ngx_http_hotkey_cluster_peer_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_flag_t                  request_id;
    ngx_flag_t                  subscribe;
    ngx_flag_t                  auth;
    ngx_http_upstream_conf_t    upstream;
    ngx_str_t                  *password;   /* the store's AUTH */
    ngx_http_hotkey_tls_t      *tls;        /* the store's TLS, or NULL */

    ngx_http_hotkey_keys_t     *keys;
    ngx_http_hotkey_creds_t    *creds;
    time_t                      token_leeway;
    ngx_msec_t                  date_skew;

    ngx_http_hotkey_limit_t    *limit;
    ngx_flag_t                  limit_headers;

    ngx_shm_zone_t             *cache;
    ngx_msec_t                  cache_valid;
    ngx_msec_t                  cache_errors_valid;
    ngx_msec_t                  cache_stale_revalidate;
    ngx_msec_t                  cache_stale_error;
    ngx_flag_t                  cache_bypass;
    ngx_shm_zone_t             *purge;
} ngx_http_hotkey_loc_conf_t;


typedef struct {
    ngx_array_t                 zones;      /* ngx_shm_zone_t *, caches */
    ngx_array_t                 stores;     /* upstreams cached locations
                                               use, followed for writes */
    ngx_array_t                 clusters;   /* ngx_http_hotkey_cluster_t * */
    ngx_array_t                 passwords;  /* stores' AUTH commands */
    ngx_array_t                 tls;        /* ngx_http_hotkey_tls_t */
    int                        *wake_fds;
    ngx_uint_t                  nwake;
    ngx_int_t                   request_id; /* $request_id's index */
} ngx_http_hotkey_main_conf_t;


/* a store's TLS: its context, and the name checked and sent */

struct ngx_http_hotkey_tls_s {
    ngx_http_upstream_srv_conf_t   *uscf;
#if (NGX_HTTP_SSL)
    ngx_ssl_t                      *ssl;
#endif
    ngx_str_t                       name;
    unsigned                        sni:1;
};


/* a store's password: its AUTH command, and its balancer it wraps */

typedef struct {
    ngx_http_upstream_srv_conf_t   *uscf;
    ngx_str_t                       cmd;
    ngx_http_upstream_init_peer_pt  init;
} ngx_http_hotkey_password_t;


/* the caller, once authenticated, and why it was not */

typedef struct {
    ngx_http_hotkey_auth_reason_e  reason;
    ngx_str_t                   principal;
    unsigned                    rate;
    unsigned                    rate_period;
    unsigned                    burst;
    char                        body_sha256[65];
} ngx_http_hotkey_auth_ctx_t;


/* what the cache knows of one request */

typedef struct {
    ngx_http_hotkey_table_t    *table;
    uint32_t                    hash;
    size_t                      key_len;
    u_char                      key[NGX_HTTP_HOTKEY_KEY_MAX];
    ngx_http_hotkey_cache_status_e  status;
    time_t                      age;
    ngx_atomic_uint_t           igen;       /* the instance's generation */
    ngx_atomic_uint_t           ticket;     /* the lock held or awaited */
    ngx_msec_t                  lock_left;
    ngx_queue_t                 wait;       /* in its group of waiters */
    void                       *group;
    ngx_event_t                 timer;

    unsigned                    leader:1;
    unsigned                    bypass:1;
    unsigned                    waiting:1;
    unsigned                    waited:1;
    unsigned                    wait_cleanup:1;
    unsigned                    lead_cleanup:1;
    unsigned                    failed:1;
    unsigned                    headers:1;
} ngx_http_hotkey_cache_ctx_t;


/* what the store path knows of one request */

typedef struct {
    hotkey_resp_t               resp;       /* the reply, scanned so far */
    struct timespec             start;
    ngx_msec_int_t              usec;
    ngx_http_hotkey_cluster_peer_t  *cluster;
    ngx_event_t                 again;      /* the script sent once more */
    ngx_uint_t                  tryagain;   /* TRYAGAIN answers so far */
    ngx_uint_t                  skip;       /* ASKING's +OK to read */
    unsigned                    done:1;
    unsigned                    retried:1;  /* EVAL after NOSCRIPT */
    unsigned                    ask:1;      /* the next attempt asks */
    unsigned                    asking:1;   /* this attempt asks */
    unsigned                    eval:1;     /* this attempt sends EVAL */
    unsigned                    fresh:1;    /* on a new connection */
    unsigned                    with_auth:1; /* the command says AUTH */
} ngx_http_hotkey_store_ctx_t;


typedef struct ngx_http_hotkey_ctx_s  ngx_http_hotkey_ctx_t;

struct ngx_http_hotkey_ctx_s {
    ngx_http_request_t         *request;
    const hotkey_op_t          *op;
    hotkey_route_t              route;
    hotkey_args_t               args;

    /* the answer */
    ngx_str_t                   body;
    ngx_uint_t                  status;
    hotkey_err_e                error;
    const char                 *error_arg;

    ngx_http_hotkey_auth_ctx_t   auth;
    ngx_http_hotkey_cache_ctx_t  cache;
    ngx_http_hotkey_store_ctx_t  store;

    unsigned                    error_set:1;
    unsigned                    background:1;
    unsigned                    body_too_large:1;
};


extern ngx_module_t  ngx_http_hotkey_module;


ngx_int_t ngx_http_hotkey_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_hotkey_serve(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
ngx_int_t ngx_http_hotkey_request_body(ngx_http_request_t *r,
    ngx_str_t *body, size_t max);
ngx_int_t ngx_http_hotkey_send_error(ngx_http_request_t *r,
    hotkey_err_e err, const char *arg);
void ngx_http_hotkey_set_json_type(ngx_http_request_t *r);
ngx_int_t ngx_http_hotkey_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);
void ngx_http_hotkey_store_exit_process(void);
ngx_int_t ngx_http_hotkey_store_run(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
void ngx_http_hotkey_set_answer(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_uint_t status, u_char *body, size_t len);

char *ngx_http_hotkey_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_hotkey_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_hotkey_cache_purge(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_hotkey_cache_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_http_hotkey_cache_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_hotkey_cache_lookup(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
void ngx_http_hotkey_cache_update(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_uint_t status, u_char *body, size_t len);
ngx_int_t ngx_http_hotkey_cache_failed(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
void ngx_http_hotkey_cache_release(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
ngx_int_t ngx_http_hotkey_cache_wait(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
ngx_msec_t ngx_http_hotkey_cache_lock_time(ngx_http_hotkey_loc_conf_t *hlcf);
ngx_int_t ngx_http_hotkey_cache_lead_guard(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
ngx_int_t ngx_http_hotkey_cache_settled(ngx_http_hotkey_table_t *t,
    uint32_t hash, u_char *key, size_t len, ngx_atomic_uint_t ticket);
ngx_uint_t ngx_http_hotkey_cache_settled_tickets(ngx_http_hotkey_table_t *t,
    ngx_atomic_uint_t *tickets, ngx_uint_t max, ngx_uint_t *overflow);
void ngx_http_hotkey_cache_new_cycle(ngx_http_hotkey_table_t *t);
ngx_uint_t ngx_http_hotkey_cache_drop_instance(ngx_http_hotkey_table_t *t,
    u_char *id);
const char *ngx_http_hotkey_cache_status_label(ngx_uint_t status);
void ngx_http_hotkey_cache_invalidate(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
void ngx_http_hotkey_cache_drop_all(ngx_cycle_t *cycle, u_char *id);
ngx_int_t ngx_http_hotkey_can_wait(void);
char *ngx_http_hotkey_store_cluster(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_hotkey_cluster_t *ngx_http_hotkey_cluster_find(ngx_cycle_t *cycle,
    ngx_http_upstream_srv_conf_t *us);
ngx_int_t ngx_http_hotkey_cluster_redirect(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, const char *str, size_t len);
void ngx_http_hotkey_cluster_reinit(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
ngx_int_t ngx_http_hotkey_cluster_init_process(ngx_cycle_t *cycle);
void ngx_http_hotkey_cluster_exit_process(ngx_cycle_t *cycle);

char *ngx_http_hotkey_store_password(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_str_t *ngx_http_hotkey_password_cmd(ngx_http_hotkey_main_conf_t *hmcf,
    ngx_http_upstream_srv_conf_t *uscf);
ngx_int_t ngx_http_hotkey_password_prefix(ngx_pool_t *pool, ngx_str_t *auth,
    const char *cmd, size_t len, ngx_str_t *out);
ngx_int_t ngx_http_hotkey_password_init(ngx_conf_t *cf);
void *ngx_http_hotkey_upstream_find(ngx_array_t *a,
    ngx_http_upstream_srv_conf_t *uscf);

char *ngx_http_hotkey_store_tls(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_hotkey_tls_t *ngx_http_hotkey_tls_find(
    ngx_http_hotkey_main_conf_t *hmcf, ngx_http_upstream_srv_conf_t *uscf);
void ngx_http_hotkey_tls_request(ngx_http_upstream_t *u,
    ngx_http_hotkey_tls_t *tls);
void ngx_http_hotkey_tls_merge(ngx_http_upstream_conf_t *conf,
    ngx_http_hotkey_tls_t *tls);
ngx_int_t ngx_http_hotkey_tls_start(ngx_connection_t *c,
    ngx_http_hotkey_tls_t *tls, ngx_connection_handler_pt done);
void ngx_http_hotkey_tls_close(ngx_connection_t *c);
ngx_int_t ngx_http_hotkey_store_fresh(ngx_http_request_t *r,
    ngx_uint_t fresh);

ngx_int_t ngx_http_hotkey_sub_ok(void);
ngx_int_t ngx_http_hotkey_sub_add_store(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *uscf);
ngx_int_t ngx_http_hotkey_sub_init_process(ngx_cycle_t *cycle);
void ngx_http_hotkey_sub_exit_process(ngx_cycle_t *cycle);
void ngx_http_hotkey_wake(uint64_t bits);
ngx_int_t ngx_http_hotkey_cache_headers(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);
char *ngx_http_hotkey_auth_token_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_hotkey_auth_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_hotkey_authenticate(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);

char *ngx_http_hotkey_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_hotkey_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_hotkey_rate_limit(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);

ngx_int_t ngx_http_hotkey_metrics_zone(ngx_conf_t *cf);
char *ngx_http_hotkey_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_hotkey_log_handler(ngx_http_request_t *r);
void ngx_http_hotkey_store_timed(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx, ngx_uint_t failed);
const char *ngx_http_hotkey_auth_reason_name(ngx_uint_t reason);

ngx_int_t ngx_http_hotkey_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

#endif
