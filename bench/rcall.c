/*
 * rcall: a closed-loop Redis load generator for the bench's write
 * baselines, where redis-benchmark cannot say what the module sends.
 *
 *   rcall [-h HOST] [-p PORT | -s SOCKET] [-c CONNS] -n TOTAL -- ARG...
 *
 * Like redis-benchmark without pipelining (-P 1): CONNS connections, each
 * with one command in flight, TOTAL commands in all, one thread, poll().
 * Each command is ARG... as a RESP array, with in every argument:
 *
 *   __n__     the command's number, 0 to TOTAL - 1 (in the order sent),
 *             as 12 lowercase hex digits: one instance or task per command
 *   __uuid__  a new random version 4 UUID, lowercase (a task id)
 *   __now__   milliseconds since the Unix epoch
 *
 * redis-benchmark's __rand_int__ draws each occurrence at random, so it
 * cannot name "instance i and its task i" in one command, nor a task id
 * that the create script takes (it must be new).  Prints one line:
 *
 *   RCALL requests=N duration_us=D rps=R p50_us=A p99_us=B errors=E words=ok:N,...
 *
 * errors: error replies; words: for array replies, the first element that
 * is one of the scripts' words (ok, conflict, notask, no_instance,
 * not_analysable, fired), else "other".  Exit status 1 on a connection
 * failure or a protocol error.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <hiredis/hiredis.h>


#define RCALL_MAX_ARGS   64
#define RCALL_CMD_MAX    65536
#define RCALL_NWORDS     7

typedef struct {
    int           fd;
    redisReader  *rd;
    char         *out;          /* the command being sent */
    size_t        len, sent;
    int64_t       start_us;     /* 0: idle */
} rcall_conn_t;

static const char  *rcall_words[RCALL_NWORDS] = {
    "ok", "conflict", "notask", "no_instance", "not_analysable", "fired",
    "other"
};

static uint64_t  rcall_rng[2];


static int64_t
rcall_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static uint64_t
rcall_random(void)
{
    uint64_t  s1, s0;

    /* xorshift128+ */
    s1 = rcall_rng[0];
    s0 = rcall_rng[1];
    rcall_rng[0] = s0;
    s1 ^= s1 << 23;
    rcall_rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);

    return rcall_rng[1] + s0;
}


static char *
rcall_uuid(char *p)
{
    int             i;
    uint64_t        r[2];
    unsigned char  *b;

    static const char  hex[] = "0123456789abcdef";

    r[0] = rcall_random();
    r[1] = rcall_random();
    b = (unsigned char *) r;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }

        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 0xf];
    }

    return p;
}


/* one argument with its placeholders replaced, into p; returns the end */

static char *
rcall_expand(char *p, const char *arg, uint64_t n, int64_t now_ms)
{
    while (*arg) {
        if (strncmp(arg, "__n__", 5) == 0) {
            p += sprintf(p, "%012llx", (unsigned long long) n);
            arg += 5;

        } else if (strncmp(arg, "__uuid__", 8) == 0) {
            p = rcall_uuid(p);
            arg += 8;

        } else if (strncmp(arg, "__now__", 7) == 0) {
            p += sprintf(p, "%lld", (long long) now_ms);
            arg += 7;

        } else {
            *p++ = *arg++;
        }
    }

    return p;
}


static size_t
rcall_command(char *buf, int argc, char **argv, uint64_t n)
{
    int              i;
    char            *p, *a, arg[8192];
    size_t           len;
    int64_t          now_ms;
    struct timeval   tv;

    gettimeofday(&tv, NULL);
    now_ms = (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;

    p = buf + sprintf(buf, "*%d\r\n", argc);

    for (i = 0; i < argc; i++) {
        a = rcall_expand(arg, argv[i], n, now_ms);
        len = a - arg;
        p += sprintf(p, "$%zu\r\n", len);
        memcpy(p, arg, len);
        p += len;
        *p++ = '\r';
        *p++ = '\n';
    }

    return p - buf;
}


static int
rcall_connect(const char *host, int port, const char *sock)
{
    int                  fd, one;
    struct sockaddr_in   sin;
    struct sockaddr_un   sun;

    if (sock) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);

        if (fd < 0 || connect(fd, (struct sockaddr *) &sun, sizeof(sun)) != 0)
        {
            perror(sock);
            return -1;
        }

    } else {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t) port);

        if (fd < 0 || inet_pton(AF_INET, host, &sin.sin_addr) != 1
            || connect(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0)
        {
            perror(host);
            return -1;
        }

        one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    return fd;
}


static void
rcall_word(const redisReply *r, uint64_t *words, uint64_t *errors)
{
    size_t  i;
    int     w;

    if (r->type == REDIS_REPLY_ERROR) {
        (*errors)++;
        if (*errors <= 3) {
            fprintf(stderr, "rcall: error reply: %.*s\n", (int) r->len,
                    r->str);
        }
        return;
    }

    if (r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < r->elements; i++) {
            if (r->element[i]->type != REDIS_REPLY_STRING) {
                continue;
            }

            for (w = 0; w < RCALL_NWORDS - 1; w++) {
                if (r->element[i]->len == strlen(rcall_words[w])
                    && memcmp(r->element[i]->str, rcall_words[w],
                              r->element[i]->len) == 0)
                {
                    words[w]++;
                    return;
                }
            }
        }
    }

    words[RCALL_NWORDS - 1]++;
}


static int
rcall_cmp(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}


static void
rcall_usage(void)
{
    fprintf(stderr, "usage: rcall [-h HOST] [-p PORT | -s SOCKET] "
            "[-c CONNS] -n TOTAL -- ARG...\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int              i, conns, port, cargc, w, done;
    char            *host, *sock, **cargv, buf[65536];
    ssize_t          k;
    int64_t          t0, t1, now;
    uint32_t        *lat;
    uint64_t         total, sent, got, errors, words[RCALL_NWORDS];
    void            *reply;
    rcall_conn_t    *c;
    struct pollfd   *pfd;

    host = "127.0.0.1";
    sock = NULL;
    port = 6379;
    conns = 50;
    total = 0;
    cargv = NULL;
    cargc = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            cargv = argv + i + 1;
            cargc = argc - i - 1;
            break;
        }

        if (i + 1 >= argc) {
            rcall_usage();
        }

        if (strcmp(argv[i], "-h") == 0) {
            host = argv[++i];
        } else if (strcmp(argv[i], "-p") == 0) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-s") == 0) {
            sock = argv[++i];
        } else if (strcmp(argv[i], "-c") == 0) {
            conns = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-n") == 0) {
            total = strtoull(argv[++i], NULL, 10);
        } else {
            rcall_usage();
        }
    }

    if (cargc < 1 || cargc > RCALL_MAX_ARGS || conns < 1 || total == 0) {
        rcall_usage();
    }

    if ((uint64_t) conns > total) {
        conns = (int) total;
    }

    {
        FILE  *f = fopen("/dev/urandom", "rb");

        if (f == NULL || fread(rcall_rng, sizeof(rcall_rng), 1, f) != 1) {
            perror("/dev/urandom");
            return 1;
        }

        fclose(f);
        rcall_rng[0] |= 1;
    }

    c = calloc(conns, sizeof(rcall_conn_t));
    pfd = calloc(conns, sizeof(struct pollfd));
    lat = malloc(total * sizeof(uint32_t));

    if (c == NULL || pfd == NULL || lat == NULL) {
        perror("rcall");
        return 1;
    }

    for (i = 0; i < conns; i++) {
        c[i].fd = rcall_connect(host, port, sock);
        c[i].rd = redisReaderCreate();
        c[i].out = malloc(RCALL_CMD_MAX);

        if (c[i].fd < 0 || c[i].rd == NULL || c[i].out == NULL) {
            return 1;
        }
    }

    memset(words, 0, sizeof(words));
    sent = got = errors = 0;
    t0 = rcall_now_us();

    while (got < total) {
        for (i = 0; i < conns; i++) {
            if (c[i].start_us == 0 && sent < total) {
                c[i].len = rcall_command(c[i].out, cargc, cargv, sent++);
                c[i].sent = 0;
                c[i].start_us = rcall_now_us();
            }

            pfd[i].fd = c[i].fd;
            pfd[i].events = c[i].start_us == 0 ? 0
                            : (c[i].sent < c[i].len ? POLLOUT : POLLIN);
            pfd[i].revents = 0;
        }

        if (poll(pfd, conns, 10000) <= 0) {
            fprintf(stderr, "rcall: poll: %s\n",
                    errno ? strerror(errno) : "no answer for 10 s");
            return 1;
        }

        for (i = 0; i < conns; i++) {
            if (pfd[i].revents & POLLOUT) {
                k = write(c[i].fd, c[i].out + c[i].sent,
                          c[i].len - c[i].sent);
                if (k < 0 && errno != EAGAIN) {
                    perror("rcall: write");
                    return 1;
                }

                if (k > 0) {
                    c[i].sent += k;
                }
            }

            if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP))) {
                continue;
            }

            k = read(c[i].fd, buf, sizeof(buf));
            if (k == 0 || (k < 0 && errno != EAGAIN)) {
                fprintf(stderr, "rcall: connection %d closed\n", i);
                return 1;
            }

            if (k < 0 || redisReaderFeed(c[i].rd, buf, k) != REDIS_OK) {
                continue;
            }

            for (done = 0; !done; ) {
                reply = NULL;
                if (redisReaderGetReply(c[i].rd, &reply) != REDIS_OK) {
                    fprintf(stderr, "rcall: protocol error\n");
                    return 1;
                }

                if (reply == NULL) {
                    break;
                }

                now = rcall_now_us();
                lat[got++] = (uint32_t) (now - c[i].start_us);
                c[i].start_us = 0;
                rcall_word(reply, words, &errors);
                freeReplyObject(reply);
                done = 1;
            }
        }
    }

    t1 = rcall_now_us();

    qsort(lat, total, sizeof(uint32_t), rcall_cmp);

    printf("RCALL requests=%llu duration_us=%lld rps=%.1f p50_us=%u "
           "p99_us=%u errors=%llu words=",
           (unsigned long long) total, (long long) (t1 - t0),
           total * 1e6 / (double) (t1 - t0 > 0 ? t1 - t0 : 1),
           lat[total / 2], lat[total * 99 / 100],
           (unsigned long long) errors);

    for (w = 0, k = 0; w < RCALL_NWORDS; w++) {
        if (words[w]) {
            printf("%s%s:%llu", k++ ? "," : "", rcall_words[w],
                   (unsigned long long) words[w]);
        }
    }

    printf("\n");

    for (i = 0; i < conns; i++) {
        close(c[i].fd);
        redisReaderFree(c[i].rd);
        free(c[i].out);
    }

    free(c);
    free(pfd);
    free(lat);

    return 0;
}
