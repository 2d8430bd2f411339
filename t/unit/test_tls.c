/*
 * tools/hotkey_tls.c against a TLS server in this process (a self-signed
 * certificate made here): the configuration's refusals, the handshake
 * and its failures (name, timeouts, refused), with and without TLS 1.3
 * session tickets, 4 MB each way through the relay while both sides
 * write (also with a KeyUpdate asked of the client before each record of
 * the server), hiredis on the socketpair, the io timeout, the server
 * closing (an end of file for hiredis); every relay ended on free: no
 * thread nor descriptor left.
 */

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tap.h"
#include "hotkey_store_client.h"
#include "hotkey_tls.h"


#define BIG  (4 * 1024 * 1024)


typedef enum {
    ECHO = 0,
    SILENT,
    CLOSE,
    MUTE,                               /* no answer to the PING */
    UPDATE                              /* ECHO, a TLS 1.3 KeyUpdate
                                           (the peer's too) each write */
} mode_e;

typedef struct {
    int          lfd;
    int          port;
    mode_e       mode;
    SSL_CTX     *ctx;
    pthread_t    tid;
} server_t;


static char      ca_path[64];
static EVP_PKEY  *pkey;
static X509      *cert;


static void
make_cert(void)
{
    FILE             *f;
    X509_NAME        *name;
    X509_EXTENSION   *ext;

    pkey = EVP_EC_gen("P-256");
    cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, pkey);

    name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *) "unit.test", -1, -1,
                               0);
    X509_set_issuer_name(cert, name);

    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
                              "DNS:unit.test,IP:127.0.0.1");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(cert, pkey, EVP_sha256());

    f = fopen(ca_path, "w");
    PEM_write_X509(f, cert);
    fclose(f);
}


static int
read_full(SSL *ssl, char *buf, int len)
{
    int  n, got;

    for (got = 0; got < len; got += n) {
        n = SSL_read(ssl, buf + got, len - got);
        if (n <= 0) {
            return -1;
        }
    }

    return 0;
}


/* one connection: the handshake, the PING of the client, then the mode */

static void *
serve(void *data)
{
    int        fd, n;
    SSL       *ssl;
    char       buf[16384];
    server_t  *s;

    s = data;
    fd = accept(s->lfd, NULL, NULL);
    ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, fd);

    if (SSL_accept(ssl) == 1 && read_full(ssl, buf, 6) == 0
        && (s->mode == MUTE || SSL_write(ssl, "+PONG\r\n", 7) == 7))
    {
        while (s->mode != CLOSE
               && (n = SSL_read(ssl, buf, sizeof(buf))) > 0)
        {
            if (s->mode == UPDATE
                && SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1)
            {
                break;
            }

            if ((s->mode == ECHO || s->mode == UPDATE)
                && SSL_write(ssl, buf, n) != n)
            {
                break;
            }
        }

        SSL_shutdown(ssl);
    }

    SSL_free(ssl);
    close(fd);

    return NULL;
}


static int
listener(int *port)
{
    int                 fd;
    socklen_t           len;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sin);

    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, 4) != 0
        || getsockname(fd, (struct sockaddr *) &sin, &len) != 0)
    {
        return -1;
    }

    *port = ntohs(sin.sin_port);

    return fd;
}


static void
server_start(server_t *s, mode_e mode)
{
    memset(s, 0, sizeof(server_t));
    s->mode = mode;
    s->lfd = listener(&s->port);
    s->ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(s->ctx, cert);
    SSL_CTX_use_PrivateKey(s->ctx, pkey);

    if (mode == SILENT) {
        SSL_CTX_set_num_tickets(s->ctx, 0);     /* the client waits a bit */
    }

    pthread_create(&s->tid, NULL, serve, s);
}


static void
server_stop(server_t *s)
{
    pthread_join(s->tid, NULL);
    SSL_CTX_free(s->ctx);
    close(s->lfd);
}


static int
count_dir(const char *path)
{
    int             n;
    DIR            *d;
    struct dirent  *e;

    n = 0;
    d = opendir(path);

    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }

    closedir(d);

    return n;
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static redisContext *
dial(hotkey_tls_t *tls, int port, unsigned ms, char *err)
{
    struct timeval  tv = { ms / 1000, (ms % 1000) * 1000 };

    err[0] = '\0';

    return hotkey_tls_connect(tls, "127.0.0.1", port, tv, err, 256);
}


static hotkey_tls_t *
tls_for(const char *name)
{
    char               err[256];
    hotkey_tls_conf_t  tc = { ca_path, NULL, NULL, name, 0 };

    return hotkey_tls_new(&tc, err, sizeof(err));
}


static void
test_conf(void)
{
    char               err[256], name[300];
    hotkey_sc_t        sc;
    hotkey_tls_t      *tls;
    hotkey_tls_conf_t  tc;

    ok(hotkey_tls_is_ip("127.0.0.1") && hotkey_tls_is_ip("::1")
       && hotkey_tls_is_ip("fe80::1"), "IP literals");
    ok(!hotkey_tls_is_ip("redis.test") && !hotkey_tls_is_ip("1.2.3")
       && !hotkey_tls_is_ip("[::1]"), "... and not");

    memset(&tc, 0, sizeof(tc));
    tc.cert = "/c.pem";
    ok(hotkey_tls_new(&tc, err, sizeof(err)) == NULL,
       "a certificate without its key: refused");
    is_str(err, "a client certificate and its key go together",
           "... message");

    memset(&tc, 0, sizeof(tc));
    tc.name = "";
    ok(hotkey_tls_new(&tc, err, sizeof(err)) == NULL, "an empty name");
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    tc.name = name;
    ok(hotkey_tls_new(&tc, err, sizeof(err)) == NULL, "a 299-byte name");

    memset(&tc, 0, sizeof(tc));
    tc.ca = "/nonexistent/ca.pem";
    ok(hotkey_tls_new(&tc, err, sizeof(err)) == NULL, "a missing CA file");
    is_str(err, "cannot read the trusted CAs /nonexistent/ca.pem: No such"
           " file or directory", "... message");

    tc.ca = NULL;
    tc.cert = "/nonexistent/c.pem";
    tc.key = "/nonexistent/k.pem";
    ok(hotkey_tls_new(&tc, err, sizeof(err)) == NULL, "a missing cert");
    is_str(err, "cannot read the certificate /nonexistent/c.pem: No such"
           " file or directory", "... message");

    memset(&tc, 0, sizeof(tc));
    tc.no_verify = 1;
    tls = hotkey_tls_new(&tc, err, sizeof(err));
    ok(tls != NULL, "no verification, no files: made");
    hotkey_tls_free(tls);

    hotkey_sc_init(&sc, "127.0.0.1:1,unix:/tmp/x.sock", 100, 100);
    ok(hotkey_sc_tls(&sc, &tc) == -1, "a store with a unix: node: no TLS");
    is_str(sc.err, "unix:/tmp/x.sock: no TLS on a unix socket",
           "... message");
    hotkey_sc_close(&sc);
}


static void *
writer(void *data)
{
    int      fd;
    char     buf[8192];
    size_t   off, i, n;
    ssize_t  w;

    fd = *(int *) data;

    for (off = 0; off < BIG; off += n) {
        n = sizeof(buf);

        for (i = 0; i < n; i++) {
            buf[i] = (char) ((off + i) * 7 % 251);
        }

        for (i = 0; i < n; i += w) {
            w = write(fd, buf + i, n - i);
            if (w <= 0) {
                return NULL;
            }
        }
    }

    return NULL;
}


/* 4 MB written by one thread on c->fd and read back by this one */

static int
echo_big(redisContext *c)
{
    char       buf[65536];
    size_t     got, i;
    ssize_t    n;
    pthread_t  tid;

    pthread_create(&tid, NULL, writer, &c->fd);

    for (got = 0; got < BIG; got += n) {
        n = read(c->fd, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }

        for (i = 0; i < (size_t) n; i++) {
            if (buf[i] != (char) ((got + i) * 7 % 251)) {
                n = -1;
                break;
            }
        }

        if (n < 0) {
            break;
        }
    }

    pthread_join(tid, NULL);

    return got == BIG ? 0 : -1;
}


static void
test_echo(void)
{
    char            err[256];
    server_t        s;
    redisReply     *r;
    hotkey_tls_t   *tls;
    redisContext   *c;

    server_start(&s, ECHO);
    tls = tls_for("unit.test");
    c = dial(tls, s.port, 2000, err);
    hotkey_tls_free(tls);
    ok(c != NULL, "a TLS connection, its name verified");

    if (c == NULL) {
        printf("# %s\n", err);
        server_stop(&s);
        return;
    }

    r = redisCommand(c, "ECHO %s", "hello");
    ok(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2
       && strcmp(r->element[1]->str, "hello") == 0,
       "hiredis on the socketpair (the server echoes the command)");
    freeReplyObject(r);

    ok(echo_big(c) == 0, "4 MB each way, both sides writing at once");

    r = redisCommand(c, "ECHO %s", "after");
    ok(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2,
       "... and hiredis again after");
    freeReplyObject(r);

    hotkey_redis_free(c);
    server_stop(&s);

    server_start(&s, UPDATE);
    tls = tls_for("unit.test");
    c = dial(tls, s.port, 2000, err);
    hotkey_tls_free(tls);
    ok(c && echo_big(c) == 0, "4 MB each way, a KeyUpdate asked of the"
       " client before each record of the server");
    hotkey_redis_free(c);
    server_stop(&s);
}


static void
test_ends(void)
{
    char            err[256];
    double          t0;
    server_t        s;
    redisReply     *r;
    hotkey_tls_t   *tls;
    redisContext   *c;
    struct timeval  tv = { 0, 200 * 1000 };

    tls = tls_for("127.0.0.1");

    server_start(&s, SILENT);
    c = dial(tls, s.port, 2000, err);
    ok(c != NULL, "an IP name in an IP SAN, a server without tickets");
    redisSetTimeout(c, tv);
    t0 = now();
    r = redisCommand(c, "PING");
    ok(r == NULL && c->err == REDIS_ERR_IO && now() - t0 < 1.5,
       "a silent server: the io timeout of the socketpair");
    hotkey_redis_free(c);
    server_stop(&s);

    server_start(&s, MUTE);
    t0 = now();
    c = dial(tls, s.port, 300, err);
    ok(c == NULL && now() - t0 < 1.5, "a server silent after the handshake:"
       " refused by the connect timeout");
    is_str(err, "TLS: no answer to PING after the handshake (timed out)",
           "... message");
    server_stop(&s);

    server_start(&s, CLOSE);
    c = dial(tls, s.port, 2000, err);
    ok(c != NULL, "a server that closes after the handshake");
    r = c ? redisCommand(c, "PING") : NULL;
    ok(r == NULL && c && c->err == REDIS_ERR_EOF, "... hiredis reads end of"
       " file: %s", c ? c->errstr : "-");
    hotkey_redis_free(c);
    server_stop(&s);

    hotkey_tls_free(tls);
    tls = tls_for("other.test");
    server_start(&s, ECHO);
    c = dial(tls, s.port, 2000, err);
    ok(c == NULL, "a name the certificate does not hold: refused");
    is_str(err, "TLS handshake: certificate verify failed: hostname"
           " mismatch", "... message");
    server_stop(&s);
    hotkey_tls_free(tls);
}


static void
test_connect(void)
{
    int            lfd, port;
    char           err[256];
    double         t0;
    hotkey_tls_t  *tls;
    redisContext  *c;

    tls = tls_for(NULL);

    lfd = listener(&port);
    t0 = now();
    c = dial(tls, port, 300, err);
    ok(c == NULL && now() - t0 < 1.5, "nobody answers the handshake:"
       " refused by the connect timeout");
    is_str(err, "TLS handshake timed out (is it a TLS port?)",
           "... message");
    close(lfd);

    c = dial(tls, port, 300, err);
    ok(c == NULL, "a closed port");
    is_str(err, "Connection refused", "... message");

    hotkey_tls_free(tls);
}


int
main(void)
{
    int  fds, tasks;

    signal(SIGPIPE, SIG_IGN);
    snprintf(ca_path, sizeof(ca_path), "/tmp/hk-tls-unit-%d.pem",
             (int) getpid());
    make_cert();

    fds = count_dir("/proc/self/fd");
    tasks = count_dir("/proc/self/task");

    test_conf();
    test_echo();
    test_ends();
    test_connect();

    is_int(count_dir("/proc/self/fd"), fds, "no descriptor left");
    is_int(count_dir("/proc/self/task"), tasks, "no thread left");

    unlink(ca_path);
    X509_free(cert);
    EVP_PKEY_free(pkey);

    return done_testing();
}
