/*
 * TLS connections for hiredis 0.14: the handshake in the caller, then a
 * relay thread per connection between a socketpair and the TLS session.
 * Every socket of the relay is non-blocking and the thread waits in one
 * poll() for whichever side can move; it ends when hiredis closes its
 * end.  When the server closes or the session fails, what the server sent
 * last is passed on, then an end of file: the server's side is closed and
 * the thread only throws away what hiredis still sends (closing our end
 * with it unread would make hiredis read a reset instead).
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "hotkey_tls.h"


#define HOTKEY_TLS_BUF    32768        /* each way: two TLS records */
#define HOTKEY_TLS_STACK  (256 * 1024)
#define HOTKEY_TLS_SETTLE  0.1         /* s for a TLS 1.3 session ticket */


struct hotkey_tls_s {
    SSL_CTX             *ctx;
    char                 name[HOTKEY_TLS_NAME_LEN];
    int                  ip;
};

typedef struct hotkey_tls_relay_s  hotkey_tls_relay_t;

struct hotkey_tls_relay_s {
    SSL                 *ssl;
    int                  fd;           /* TCP, to the server */
    int                  app;          /* our end of the socketpair */
    short                rd_want;      /* what SSL_read waits for */
    short                wr_want;      /* what SSL_write waits for */
    int                  eof;          /* nothing more from the server */
    int                  fatal;        /* the session failed */
    redisContext        *c;
    pthread_t            tid;
    hotkey_tls_relay_t  *next;
    size_t               up_pos;
    size_t               up_len;
    size_t               down_pos;
    size_t               down_len;
    unsigned char        up[HOTKEY_TLS_BUF];      /* to the server */
    unsigned char        down[HOTKEY_TLS_BUF];    /* to hiredis */
};

typedef enum {
    HOTKEY_TLS_HANDSHAKE = 0,
    HOTKEY_TLS_WRITE,
    HOTKEY_TLS_READ
} hotkey_tls_op_e;


static pthread_mutex_t      hotkey_tls_lock = PTHREAD_MUTEX_INITIALIZER;
static hotkey_tls_relay_t  *hotkey_tls_relays;


/* what went wrong with a file: the system's error when there is one */

static void
hotkey_tls_ssl_err(char *err, size_t errlen, const char *what,
    const char *file)
{
    unsigned long  e, last;
    const char    *why;

    why = NULL;
    last = 0;

    while ((e = ERR_get_error()) != 0) {
        if (ERR_SYSTEM_ERROR(e) && why == NULL) {
            why = strerror(ERR_GET_REASON(e));
        }

        last = e;
    }

    if (why == NULL) {
        why = ERR_reason_error_string(last);
    }

    snprintf(err, errlen, "%s%s%s: %s", what, file ? " " : "",
             file ? file : "", why ? why : "error");
}


int
hotkey_tls_is_ip(const char *name)
{
    unsigned char  a[16];

    return inet_pton(AF_INET, name, a) == 1
           || inet_pton(AF_INET6, name, a) == 1;
}


/* keys with a passphrase are refused, not asked for on a terminal */

static int
hotkey_tls_no_pass(char *buf, int size, int rw, void *data)
{
    (void) buf;
    (void) size;
    (void) rw;
    (void) data;

    return 0;
}


static int
hotkey_tls_ctx(hotkey_tls_t *tls, const hotkey_tls_conf_t *conf, char *err,
    size_t errlen)
{
    SSL_CTX  *ctx;

    ctx = tls->ctx;

    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                          | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(ctx, hotkey_tls_no_pass);

    if (conf->cert
        && SSL_CTX_use_certificate_chain_file(ctx, conf->cert) != 1)
    {
        hotkey_tls_ssl_err(err, errlen, "cannot read the certificate",
                           conf->cert);
        return -1;
    }

    if (conf->key
        && (SSL_CTX_use_PrivateKey_file(ctx, conf->key, SSL_FILETYPE_PEM)
            != 1
            || SSL_CTX_check_private_key(ctx) != 1))
    {
        hotkey_tls_ssl_err(err, errlen, "cannot use the key", conf->key);
        return -1;
    }

    if (conf->no_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }

    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

    if (conf->ca ? SSL_CTX_load_verify_locations(ctx, conf->ca, NULL) != 1
                 : SSL_CTX_set_default_verify_paths(ctx) != 1)
    {
        hotkey_tls_ssl_err(err, errlen, "cannot read the trusted CAs",
                           conf->ca);
        return -1;
    }

    return 0;
}


hotkey_tls_t *
hotkey_tls_new(const hotkey_tls_conf_t *conf, char *err, size_t errlen)
{
    size_t         n;
    hotkey_tls_t  *tls;

    if ((conf->cert == NULL) != (conf->key == NULL)) {
        snprintf(err, errlen, "a client certificate and its key go"
                 " together");
        return NULL;
    }

    n = conf->name ? strlen(conf->name) : 0;

    if (conf->name && (n == 0 || n >= HOTKEY_TLS_NAME_LEN)) {
        snprintf(err, errlen, "bad TLS name \"%s\"", conf->name);
        return NULL;
    }

    tls = calloc(1, sizeof(hotkey_tls_t));
    if (tls == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    if (conf->name) {
        memcpy(tls->name, conf->name, n + 1);
        tls->ip = hotkey_tls_is_ip(conf->name);
    }

    ERR_clear_error();
    tls->ctx = SSL_CTX_new(TLS_client_method());

    if (tls->ctx == NULL) {
        hotkey_tls_ssl_err(err, errlen, "SSL_CTX_new", NULL);
        free(tls);
        return NULL;
    }

    if (hotkey_tls_ctx(tls, conf, err, errlen) != 0) {
        hotkey_tls_free(tls);
        return NULL;
    }

    return tls;
}


void
hotkey_tls_free(hotkey_tls_t *tls)
{
    if (tls) {
        SSL_CTX_free(tls->ctx);
        free(tls);
    }
}


static double
hotkey_tls_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* waits for events on fd until deadline: 0, or ETIMEDOUT */

static int
hotkey_tls_wait(int fd, short events, double deadline)
{
    int            n;
    double         left;
    struct pollfd  p;

    for ( ;; ) {
        left = deadline - hotkey_tls_now();
        if (left <= 0) {
            return ETIMEDOUT;
        }

        p.fd = fd;
        p.events = events;

        n = poll(&p, 1, (int) (left * 1000) + 1);

        if (n > 0) {
            return 0;
        }

        if (n < 0 && errno != EINTR) {
            return errno;
        }
    }
}


static int
hotkey_tls_dial(const struct addrinfo *ai, double deadline, char *err,
    size_t errlen)
{
    int        fd, e, on;
    socklen_t  len;

    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }

    e = 0;

    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        e = errno;
        len = sizeof(e);

        if (e == EINPROGRESS) {
            e = hotkey_tls_wait(fd, POLLOUT, deadline);

            if (e == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len)) {
                e = errno;
            }
        }
    }

    if (e != 0) {
        snprintf(err, errlen, "%s", strerror(e));
        close(fd);
        return -1;
    }

    on = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));

    return fd;
}


/* a connected non-blocking TCP socket: the first address that answers */

static int
hotkey_tls_tcp(const char *host, int port, double deadline, char *err,
    size_t errlen)
{
    int               fd, rc;
    char              serv[16];
    struct addrinfo   hints, *res, *ai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(serv, sizeof(serv), "%d", port);

    rc = getaddrinfo(host, serv, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -1;
    }

    fd = -1;

    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = hotkey_tls_dial(ai, deadline, err, errlen);
    }

    freeaddrinfo(res);

    return fd;
}


static void
hotkey_tls_fail(SSL *ssl, int n, char *err, size_t errlen)
{
    int            e;
    long           v;
    unsigned long  code;
    const char    *why;

    e = SSL_get_error(ssl, n);
    code = ERR_peek_last_error();
    v = SSL_get_verify_result(ssl);

    if (v != X509_V_OK
        && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED)
    {
        snprintf(err, errlen, "TLS handshake: certificate verify failed: %s",
                 X509_verify_cert_error_string(v));

    } else if (code) {
        why = ERR_reason_error_string(code);
        snprintf(err, errlen, "TLS handshake: %s", why ? why : "error");

    } else if (e == SSL_ERROR_SYSCALL && errno != 0) {
        snprintf(err, errlen, "TLS handshake: %s", strerror(errno));

    } else {
        snprintf(err, errlen, "TLS handshake: connection closed");
    }

    ERR_clear_error();
}


/* one SSL_connect, SSL_write or SSL_read done by deadline: n, or -1 */

static int
hotkey_tls_io(SSL *ssl, int fd, hotkey_tls_op_e op, void *buf, int len,
    double deadline, char *err, size_t errlen)
{
    int    n, e;
    short  events;

    for ( ;; ) {
        ERR_clear_error();
        errno = 0;

        n = op == HOTKEY_TLS_HANDSHAKE ? SSL_connect(ssl)
            : op == HOTKEY_TLS_WRITE ? SSL_write(ssl, buf, len)
            : SSL_read(ssl, buf, len);

        if (n > 0) {
            return n;
        }

        e = SSL_get_error(ssl, n);

        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            hotkey_tls_fail(ssl, n, err, errlen);
            return -1;
        }

        events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;

        if (hotkey_tls_wait(fd, events, deadline) != 0) {
            snprintf(err, errlen, "%s", op == HOTKEY_TLS_HANDSHAKE
                     ? "TLS handshake timed out (is it a TLS port?)"
                     : "TLS: no answer to PING after the handshake (timed"
                       " out)");
            return -1;
        }
    }
}


/*
 * A TLS 1.3 server checks the client's certificate after the client has
 * finished: it then sends session tickets, or an alert.  Waiting for
 * either before writing keeps the alert from being lost to the reset of
 * a server that closes with our PING unread.  A server that sends no
 * ticket is given HOTKEY_TLS_SETTLE.
 */

static int
hotkey_tls_settle(SSL *ssl, int fd, double deadline, char *err,
    size_t errlen)
{
    int     n;
    char    c;
    double  until;

    until = hotkey_tls_now() + HOTKEY_TLS_SETTLE;
    until = until < deadline ? until : deadline;

    while (SSL_version(ssl) == TLS1_3_VERSION
           && !SSL_SESSION_is_resumable(SSL_get_session(ssl)))
    {
        ERR_clear_error();
        errno = 0;
        n = SSL_peek(ssl, &c, 1);

        if (n > 0) {
            break;
        }

        if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ) {
            hotkey_tls_fail(ssl, n, err, errlen);
            return -1;
        }

        if (hotkey_tls_wait(fd, POLLIN, until) != 0) {
            break;
        }
    }

    return 0;
}


/*
 * PING and its answer, whatever it is (+PONG, -NOAUTH): the server has
 * taken the session (and the client's certificate).
 */

static int
hotkey_tls_probe(SSL *ssl, int fd, double deadline, char *err,
    size_t errlen)
{
    int     n;
    char    line[512];
    size_t  got;

    if (hotkey_tls_settle(ssl, fd, deadline, err, errlen) != 0) {
        return -1;
    }

    if (hotkey_tls_io(ssl, fd, HOTKEY_TLS_WRITE, "PING\r\n", 6, deadline,
                      err, errlen) != 6)
    {
        return -1;
    }

    for (got = 0; got == 0 || line[got - 1] != '\n'; got += n) {
        if (got == sizeof(line)) {
            snprintf(err, errlen, "TLS: no Redis answer to PING");
            return -1;
        }

        n = hotkey_tls_io(ssl, fd, HOTKEY_TLS_READ, line + got,
                          (int) (sizeof(line) - got), deadline, err, errlen);
        if (n < 0) {
            return -1;
        }
    }

    return 0;
}


static SSL *
hotkey_tls_handshake(hotkey_tls_t *tls, int fd, double deadline, char *err,
    size_t errlen)
{
    SSL                 *ssl;
    X509_VERIFY_PARAM   *param;

    ERR_clear_error();
    ssl = SSL_new(tls->ctx);

    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        hotkey_tls_ssl_err(err, errlen, "SSL_new", NULL);
        SSL_free(ssl);
        return NULL;
    }

    if (tls->name[0]) {
        param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param,
                                        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);

        if ((tls->ip ? X509_VERIFY_PARAM_set1_ip_asc(param, tls->name)
                     : X509_VERIFY_PARAM_set1_host(param, tls->name, 0)) != 1
            || (!tls->ip && SSL_set_tlsext_host_name(ssl, tls->name) != 1))
        {
            hotkey_tls_ssl_err(err, errlen, "TLS name", tls->name);
            SSL_free(ssl);
            return NULL;
        }
    }

    SSL_set_connect_state(ssl);

    if (hotkey_tls_io(ssl, fd, HOTKEY_TLS_HANDSHAKE, NULL, 0, deadline, err,
                      errlen) < 0
        || hotkey_tls_probe(ssl, fd, deadline, err, errlen) != 0)
    {
        SSL_free(ssl);
        return NULL;
    }

    return ssl;
}


/* ---------------------------------------------------------------- relay */


/* after an SSL_read or SSL_write that did not move: what it waits for */

static void
hotkey_tls_want(hotkey_tls_relay_t *r, int n, short *want)
{
    switch (SSL_get_error(r->ssl, n)) {

    case SSL_ERROR_WANT_READ:
        *want = POLLIN;
        break;

    case SSL_ERROR_WANT_WRITE:
        *want = POLLOUT;
        break;

    case SSL_ERROR_ZERO_RETURN:
        r->eof = 1;
        break;

    default:
        r->eof = 1;
        r->fatal = 1;
        ERR_clear_error();
    }
}


/* the server's side closed; hiredis reads an end of file */

static void
hotkey_tls_close(hotkey_tls_relay_t *r)
{
    if (!r->fatal) {
        (void) SSL_shutdown(r->ssl);   /* close_notify, if it fits */
    }

    close(r->fd);
    SSL_free(r->ssl);
    ERR_clear_error();

    r->fd = -1;
    r->ssl = NULL;

    (void) shutdown(r->app, SHUT_WR);
}


/* the server to hiredis: -1 when hiredis is gone */

static int
hotkey_tls_down(hotkey_tls_relay_t *r)
{
    int      n;
    ssize_t  w;

    for ( ;; ) {
        while (!r->eof && r->down_len < sizeof(r->down)) {
            ERR_clear_error();
            n = SSL_read(r->ssl, r->down + r->down_len,
                         (int) (sizeof(r->down) - r->down_len));

            if (n <= 0) {
                hotkey_tls_want(r, n, &r->rd_want);
                break;
            }

            r->down_len += n;
        }

        if (r->down_pos == r->down_len) {
            if (r->eof && r->ssl) {
                hotkey_tls_close(r);
            }

            return 0;
        }

        w = send(r->app, r->down + r->down_pos, r->down_len - r->down_pos,
                 MSG_NOSIGNAL | MSG_DONTWAIT);

        if (w < 0) {
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        }

        r->down_pos += w;

        if (r->down_pos < r->down_len) {
            return 0;
        }

        r->down_pos = 0;
        r->down_len = 0;
    }
}


/* hiredis to the server: -1 when hiredis closed its end */

static int
hotkey_tls_up(hotkey_tls_relay_t *r)
{
    int      n;
    ssize_t  got;

    for ( ;; ) {
        if (r->up_pos == r->up_len) {
            got = recv(r->app, r->up, sizeof(r->up), MSG_DONTWAIT);

            if (got <= 0) {
                return got < 0 && (errno == EAGAIN || errno == EINTR)
                       ? 0 : -1;
            }

            r->up_pos = 0;
            r->up_len = got;
        }

        if (r->eof) {
            r->up_pos = r->up_len;     /* nobody to send it to */
            continue;
        }

        ERR_clear_error();
        n = SSL_write(r->ssl, r->up + r->up_pos,
                      (int) (r->up_len - r->up_pos));

        if (n <= 0) {
            hotkey_tls_want(r, n, &r->wr_want);
            return 0;
        }

        r->up_pos += n;
    }
}


/* waits until a side can move: -1 when hiredis is gone */

static int
hotkey_tls_poll(hotkey_tls_relay_t *r)
{
    int            n;
    struct pollfd  p[2];

    p[0].fd = r->app;
    p[0].events = (r->up_pos == r->up_len ? POLLIN : 0)
                  | (r->down_pos < r->down_len ? POLLOUT : 0);

    p[1].fd = r->fd;
    p[1].events = (r->down_len < sizeof(r->down) ? r->rd_want : 0)
                  | (r->up_pos < r->up_len ? r->wr_want : 0);

    if (r->eof || p[1].events == 0) {
        p[1].fd = -1;                  /* no spinning on its HUP */
    }

    do {
        n = poll(p, 2, -1);
    } while (n < 0 && errno == EINTR);

    return n < 0 || (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) ? -1 : 0;
}


static void *
hotkey_tls_relay(void *data)
{
    hotkey_tls_relay_t  *r;

    r = data;

    while (hotkey_tls_down(r) == 0
           && hotkey_tls_up(r) == 0
           && hotkey_tls_poll(r) == 0)
    {
        /* void */
    }

    if (r->ssl) {
        hotkey_tls_close(r);
    }

    close(r->app);
    r->app = -1;

    return NULL;
}


static void
hotkey_tls_relay_free(hotkey_tls_relay_t *r)
{
    if (r->app >= 0) {
        close(r->app);
    }

    if (r->fd >= 0) {
        close(r->fd);
    }

    SSL_free(r->ssl);
    free(r);
}


/* the thread, with every signal blocked: they are the main thread's */

/*
 * A thread that takes no signal: they are the main thread's, whose
 * blocking reads a stop must interrupt.
 */

int
hotkey_thread_nosig(pthread_t *tid, const pthread_attr_t *attr,
    void *(*run)(void *), void *arg)
{
    int       rc;
    sigset_t  all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(tid, attr, run, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    return rc;
}


static int
hotkey_tls_start(hotkey_tls_relay_t *r)
{
    int             rc;
    pthread_attr_t  attr;

    if (pthread_attr_init(&attr) != 0) {
        return -1;
    }

    (void) pthread_attr_setstacksize(&attr, HOTKEY_TLS_STACK);

    rc = hotkey_thread_nosig(&r->tid, &attr, hotkey_tls_relay, r);
    pthread_attr_destroy(&attr);

    if (rc != 0) {
        return -1;
    }

    pthread_mutex_lock(&hotkey_tls_lock);
    r->next = hotkey_tls_relays;
    hotkey_tls_relays = r;
    pthread_mutex_unlock(&hotkey_tls_lock);

    return 0;
}


/* the socketpair, hiredis on one end, the relay on the other */

static redisContext *
hotkey_tls_pair(hotkey_tls_relay_t *r, char *err, size_t errlen)
{
    int            sv[2];
    redisContext  *c;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return NULL;
    }

    r->app = sv[1];

    c = fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0 ? redisConnectFd(sv[0])
                                               : NULL;
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        close(sv[0]);
        return NULL;
    }

    r->c = c;

    if (hotkey_tls_start(r) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        redisFree(c);
        return NULL;
    }

    return c;
}


redisContext *
hotkey_tls_connect(hotkey_tls_t *tls, const char *host, int port,
    struct timeval timeout, char *err, size_t errlen)
{
    double               deadline;
    redisContext        *c;
    hotkey_tls_relay_t  *r;

    r = calloc(1, sizeof(hotkey_tls_relay_t));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    r->app = -1;
    r->rd_want = POLLIN;
    r->wr_want = POLLOUT;

    deadline = hotkey_tls_now() + timeout.tv_sec + timeout.tv_usec / 1e6;

    r->fd = hotkey_tls_tcp(host, port, deadline, err, errlen);

    if (r->fd >= 0) {
        r->ssl = hotkey_tls_handshake(tls, r->fd, deadline, err, errlen);
    }

    c = r->ssl ? hotkey_tls_pair(r, err, errlen) : NULL;

    if (c == NULL) {
        hotkey_tls_relay_free(r);
    }

    return c;
}


/* hiredis words an io timeout as EAGAIN's strerror() */

const char *
hotkey_redis_why(const redisContext *c, const char *none)
{
    if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0) {
        return "timed out";
    }

    return c->errstr[0] ? c->errstr : none;
}


void
hotkey_redis_free(redisContext *c)
{
    hotkey_tls_relay_t  *r, **p;

    if (c == NULL) {
        return;
    }

    pthread_mutex_lock(&hotkey_tls_lock);

    for (p = &hotkey_tls_relays; *p && (*p)->c != c; p = &(*p)->next) {
        /* void */
    }

    r = *p;

    if (r) {
        *p = r->next;
    }

    pthread_mutex_unlock(&hotkey_tls_lock);

    redisFree(c);

    if (r) {
        pthread_join(r->tid, NULL);
        free(r);
    }
}
