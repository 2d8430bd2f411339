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


typedef struct {
    ngx_flag_t                  enable;
    ngx_flag_t                  auth;
    ngx_http_upstream_conf_t    upstream;
} ngx_http_hotkey_loc_conf_t;


typedef struct {
    ngx_http_request_t         *request;
    hotkey_route_t              route;
    hotkey_list_args_t          args;
    redisReader                *reader;
    ngx_str_t                   body;
    ngx_uint_t                  status;
    hotkey_err_e                error;
    size_t                      received;
} ngx_http_hotkey_ctx_t;


extern ngx_module_t  ngx_http_hotkey_module;


ngx_int_t ngx_http_hotkey_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_hotkey_send_error(ngx_http_request_t *r,
    hotkey_err_e err, const char *arg);
ngx_int_t ngx_http_hotkey_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);
ngx_int_t ngx_http_hotkey_store_list(ngx_http_request_t *r,
    ngx_http_hotkey_ctx_t *ctx);

#endif
