/*
 * A blocking client of the task store for the tools (hotkeyctl and the
 * analyzer): one Redis, or a Redis Cluster reached from any of its nodes.
 * A command goes to the master of its key's slot (a map read with
 * CLUSTER SLOTS, read again after a MOVED or a failure); MOVED and ASK
 * are followed, TRYAGAIN waited for, at most HOTKEY_SC_REDIRECTS times.
 * A standalone Redis answers CLUSTER SLOTS with an error: every command
 * then goes to it, as before.  With hotkey_sc_tls, every connection is
 * TLS (hotkey_tls.c).
 */

#ifndef HOTKEY_STORE_CLIENT_H
#define HOTKEY_STORE_CLIENT_H

#include <stdarg.h>
#include <sys/time.h>
#include <hiredis/hiredis.h>

#include "hotkey_cluster.h"
#include "hotkey_tls.h"


#define HOTKEY_SC_NODES      64         /* addresses known */
#define HOTKEY_SC_ADDR_LEN   256        /* "host:port" or "unix:path" */
#define HOTKEY_SC_REDIRECTS  5
#define HOTKEY_SC_RETRY      0.5        /* s without connecting again */


typedef struct {
    char                  addr[HOTKEY_SC_ADDR_LEN];
    redisContext         *c;
    double                retry_at;    /* after a failed connect */
} hotkey_sc_node_t;

typedef struct {
    hotkey_sc_node_t      nodes[HOTKEY_SC_NODES];  /* seeds first */
    unsigned              nnodes;
    unsigned              last;        /* answered last: keyless commands */
    int                   cluster;     /* -1 not known yet, 0 no, 1 yes */
    int                   stale;       /* read the map before going on */
    hotkey_cluster_map_t  map;
    struct timeval        connect_tv;
    struct timeval        io_tv;
    hotkey_tls_t         *tls;         /* NULL: plain TCP */
    char                  user[256];
    char                  password[512];
    char                  err[512];
    unsigned long         redirects;   /* MOVED and ASK followed */
} hotkey_sc_t;


/*
 * seeds: "host:port" (IPv6 hosts in brackets) or "unix:path", several
 * separated by commas.  0, or -1 with the reason in sc->err.
 */
int hotkey_sc_init(hotkey_sc_t *sc, const char *seeds, unsigned connect_ms,
    unsigned io_ms);

/* AUTH [user] password on every connection (user may be NULL) */
int hotkey_sc_auth(hotkey_sc_t *sc, const char *user, const char *password);

/* TLS to every node (no unix: address then): 0, or -1 (err) */
int hotkey_sc_tls(hotkey_sc_t *sc, const hotkey_tls_conf_t *conf);

/* reaches a node and learns whether it is a cluster: 0, or -1 (err) */
int hotkey_sc_open(hotkey_sc_t *sc);

/*
 * A command to the master of key's slot (key NULL: the node used last).
 * The reply, an error reply too; NULL when no node could answer
 * (refused, closed, timed out, CLUSTERDOWN, too many redirects), the
 * reason in sc->err.
 */
redisReply *hotkey_sc_command(hotkey_sc_t *sc, const char *key,
    const char *fmt, ...);
redisReply *hotkey_sc_vcommand(hotkey_sc_t *sc, const char *key,
    const char *fmt, va_list ap);
redisReply *hotkey_sc_argv(hotkey_sc_t *sc, const char *key, int argc,
    const char **argv, const size_t *lens);

/* the masters (1 for a standalone Redis), and a command to one of them */
unsigned hotkey_sc_masters(hotkey_sc_t *sc);
redisReply *hotkey_sc_command_at(hotkey_sc_t *sc, unsigned master,
    const char *fmt, ...);

/*
 * A new connection of its own (for SUBSCRIBE) to the first known node
 * from *next on that answers; *next moves past it, so that the next call
 * tries another node first.  NULL when none answers.  Freed with
 * hotkey_redis_free.
 */
redisContext *hotkey_sc_connect_any(hotkey_sc_t *sc, unsigned *next);

/* the address of a node (for logs) */
const char *hotkey_sc_addr(hotkey_sc_t *sc, unsigned node);

void hotkey_sc_close(hotkey_sc_t *sc);

#endif
