/*
 * TLS to Redis for the tools (hotkeyctl, the analyzer), with OpenSSL, for
 * a hiredis without TLS (Debian 12's 0.14): the connection and handshake
 * are made here, and hiredis gets a plain blocking redisContext on one end
 * of a socketpair, while a thread relays between the other end and the
 * TLS connection.  hiredis, and code that reads and writes c->fd itself,
 * work as on TCP; redisSetTimeout applies to the socketpair.  A context
 * made here must be freed with hotkey_redis_free, which ends the relay.
 */

#ifndef HOTKEY_TLS_H
#define HOTKEY_TLS_H

#include <pthread.h>
#include <stddef.h>
#include <sys/time.h>
#include <hiredis/hiredis.h>


#define HOTKEY_TLS_NAME_LEN  256


typedef struct {
    const char  *ca;          /* trusted CAs (PEM); NULL: the system's */
    const char  *cert;        /* a client certificate (PEM, a chain) */
    const char  *key;         /* its key (PEM, not encrypted) */
    const char  *name;        /* checked in the server's certificate and
                                 sent as SNI (an IP literal: checked
                                 against IP SANs, no SNI); NULL: only
                                 the chain is verified */
    int          no_verify;   /* the server is not verified at all */
} hotkey_tls_conf_t;

typedef struct hotkey_tls_s  hotkey_tls_t;


/* the conf's files read: NULL, the reason in err */
hotkey_tls_t *hotkey_tls_new(const hotkey_tls_conf_t *conf, char *err,
    size_t errlen);

/* connections made keep what they need: tls may go before them */
void hotkey_tls_free(hotkey_tls_t *tls);

/*
 * A TLS connection to host:port, connected, its handshake done and
 * answered (a PING: a client certificate refused after a TLS 1.3
 * handshake shows here) within timeout: a blocking redisContext.  NULL,
 * the reason in err.
 */
redisContext *hotkey_tls_connect(hotkey_tls_t *tls, const char *host,
    int port, struct timeval timeout, char *err, size_t errlen);

/* redisFree; for a TLS connection, its relay ended and joined too */
void hotkey_redis_free(redisContext *c);

/* why a context failed, in words ("timed out" for an io timeout) */
const char *hotkey_redis_why(const redisContext *c, const char *none);

/* pthread_create, the thread with every signal blocked */
int hotkey_thread_nosig(pthread_t *tid, const pthread_attr_t *attr,
    void *(*run)(void *), void *arg);

/* "127.0.0.1", "::1": 1; a DNS name: 0 */
int hotkey_tls_is_ip(const char *name);

#endif
