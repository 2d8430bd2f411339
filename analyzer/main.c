/*
 * hotkey-analyzer: options, signals, and the idle loop: walk the
 * registry every pass, and take a job at once when hotkey:jobs names an
 * instance.
 */

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hka_jobs.h"
#include "hotkey_codec.h"


volatile sig_atomic_t  hka_stop;


static const char  hka_usage[] =
    "usage: hotkey-analyzer [options]\n"
    "       hotkey-analyzer --create-task <instance_id> [options]\n"
    "\n"
    "  --store host:port[,...]   the task store (default 127.0.0.1:6379):\n"
    "                            one Redis, or nodes of a Redis Cluster\n"
    "  --store-tls               TLS to the store\n"
    "  --store-tls-ca file       its trusted CAs, PEM (default: the\n"
    "                            system's)\n"
    "  --store-tls-cert file     a client certificate (PEM) for the store,\n"
    "  --store-tls-key file      and its key\n"
    "  --store-tls-name name     the name to verify in the store's\n"
    "                            certificate, and its SNI (an IP: checked\n"
    "                            against IP SANs); without it only the\n"
    "                            chain is verified\n"
    "  --store-tls-no-verify     do not verify the store (maintenance)\n"
    "  --store-password-file f   AUTH to the store with the file's first\n"
    "                            line\n"
    "  --credentials file        passwords and TLS material of the\n"
    "                            analysed instances, by instance id\n"
    "                            (mode 0600)\n"
    "  --metrics host:port       Prometheus metrics on GET /metrics\n"
    "                            (default: none)\n"
    "  --log file                append the log here (default: stderr)\n"
    "  --cpu-share f             share of the target's CPU the analysis\n"
    "                            may take (default 0.10)\n"
    "  --no-pacing               no limit (maintenance windows)\n"
    "  --scan-count n            SCAN COUNT per batch (default 1000)\n"
    "  --lease-ms n              lease of a running task (default 15000)\n"
    "  --renew-ms n              its renewal period (default 3000)\n"
    "  --pass-ms n               walk of the registry (default 2000)\n"
    "  --max-attempts n          takes of a task whose analyzer died\n"
    "                            before it is failed (default 2)\n"
    "  --connect-timeout-ms n    to analysed instances (default 2000)\n"
    "  --io-timeout-ms n         to analysed instances (default 5000)\n"
    "  --create-task iid         create a manual task of a registered\n"
    "                            instance, as the API's create does;\n"
    "                            prints its id\n";


static void
hka_on_signal(int sig)
{
    (void) sig;
    hka_stop = 1;
}


static int
hka_addr_opt(const char *v, char *host, size_t n, int *port)
{
    char        *end;
    long         p;
    const char  *colon;

    colon = strrchr(v, ':');
    if (colon == NULL || colon == v || (size_t) (colon - v) >= n) {
        return -1;
    }

    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
        return -1;
    }

    memcpy(host, v, colon - v);
    host[colon - v] = '\0';
    *port = (int) p;

    return 0;
}


static int
hka_num_opt(const char *v, unsigned min, unsigned max, unsigned *out)
{
    char           *end;
    unsigned long   n;

    errno = 0;
    n = strtoul(v, &end, 10);

    if (errno || *end != '\0' || end == v || n < min || n > max) {
        return -1;
    }

    *out = (unsigned) n;

    return 0;
}


enum {
    HKA_OPT_STORE_TLS = 256,
    HKA_OPT_STORE_TLS_CA,
    HKA_OPT_STORE_TLS_CERT,
    HKA_OPT_STORE_TLS_KEY,
    HKA_OPT_STORE_TLS_NAME,
    HKA_OPT_STORE_TLS_NO_VERIFY
};


static void
hka_tls_opt(int c, hka_conf_t *cf)
{
    hotkey_tls_conf_t  *tc;

    tc = &cf->store_tc;
    cf->store_tls_opts |= c != HKA_OPT_STORE_TLS;

    switch (c) {
    case HKA_OPT_STORE_TLS: cf->store_tls = 1; break;
    case HKA_OPT_STORE_TLS_CA: tc->ca = optarg; break;
    case HKA_OPT_STORE_TLS_CERT: tc->cert = optarg; break;
    case HKA_OPT_STORE_TLS_KEY: tc->key = optarg; break;
    case HKA_OPT_STORE_TLS_NAME: tc->name = optarg; break;
    default: tc->no_verify = 1;
    }
}


/* what the options say together: NULL, or what is wrong */

static const char *
hka_options_check(hka_conf_t *cf)
{
    if (cf->renew_ms >= cf->lease_ms) {
        return "--renew-ms must be below --lease-ms";
    }

    if (cf->store_tls_opts && !cf->store_tls) {
        return "the --store-tls-* options go with --store-tls";
    }

    if ((cf->store_tc.cert == NULL) != (cf->store_tc.key == NULL)) {
        return "--store-tls-cert and --store-tls-key go together";
    }

    return NULL;
}


static int
hka_options(int argc, char **argv, hka_conf_t *cf, const char **create)
{
    int           c, bad, idx;
    char         *end;
    const char   *why;
    static const struct option  opts[] = {
        { "store", required_argument, NULL, 's' },
        { "store-tls", no_argument, NULL, HKA_OPT_STORE_TLS },
        { "store-tls-ca", required_argument, NULL, HKA_OPT_STORE_TLS_CA },
        { "store-tls-cert", required_argument, NULL,
          HKA_OPT_STORE_TLS_CERT },
        { "store-tls-key", required_argument, NULL, HKA_OPT_STORE_TLS_KEY },
        { "store-tls-name", required_argument, NULL,
          HKA_OPT_STORE_TLS_NAME },
        { "store-tls-no-verify", no_argument, NULL,
          HKA_OPT_STORE_TLS_NO_VERIFY },
        { "store-password-file", required_argument, NULL, 'W' },
        { "credentials", required_argument, NULL, 'c' },
        { "metrics", required_argument, NULL, 'm' },
        { "log", required_argument, NULL, 'l' },
        { "cpu-share", required_argument, NULL, 'u' },
        { "no-pacing", no_argument, NULL, 'P' },
        { "scan-count", required_argument, NULL, 'n' },
        { "lease-ms", required_argument, NULL, 'L' },
        { "renew-ms", required_argument, NULL, 'R' },
        { "pass-ms", required_argument, NULL, 'p' },
        { "max-attempts", required_argument, NULL, 'a' },
        { "connect-timeout-ms", required_argument, NULL, 'C' },
        { "io-timeout-ms", required_argument, NULL, 'I' },
        { "create-task", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    for ( ;; ) {
        idx = -1;
        c = getopt_long(argc, argv, "h", opts, &idx);

        if (c == -1) {
            break;
        }

        bad = 0;

        if (c >= HKA_OPT_STORE_TLS) {
            hka_tls_opt(c, cf);
            continue;
        }

        switch (c) {
        case 's':
            bad = snprintf(cf->store, sizeof(cf->store), "%s", optarg)
                  >= (int) sizeof(cf->store);
            break;
        case 'c':
            bad = snprintf(cf->creds_path, sizeof(cf->creds_path), "%s",
                           optarg) >= (int) sizeof(cf->creds_path);
            break;
        case 'W':
            cf->store_pass_path = optarg;
            break;
        case 'm':
            bad = hka_addr_opt(optarg, cf->metrics_host,
                               sizeof(cf->metrics_host), &cf->metrics_port);
            break;
        case 'l':
            bad = snprintf(cf->log_path, sizeof(cf->log_path), "%s",
                           optarg) >= (int) sizeof(cf->log_path);
            break;
        case 'u':
            cf->cpu_share = strtod(optarg, &end);
            bad = *end != '\0' || !(cf->cpu_share > 0)
                  || cf->cpu_share > 1;
            break;
        case 'P':
            cf->cpu_share = 0;
            break;
        case 'n':
            bad = hka_num_opt(optarg, 10, 100000, &cf->scan_count);
            break;
        case 'L':
            bad = hka_num_opt(optarg, 1000, 3600000, &cf->lease_ms);
            break;
        case 'R':
            bad = hka_num_opt(optarg, 100, 3600000, &cf->renew_ms);
            break;
        case 'p':
            bad = hka_num_opt(optarg, 100, 3600000, &cf->pass_ms);
            break;
        case 'a':
            bad = hka_num_opt(optarg, 1, 100, &cf->max_attempts);
            break;
        case 'C':
            bad = hka_num_opt(optarg, 10, 600000, &cf->connect_ms);
            break;
        case 'I':
            bad = hka_num_opt(optarg, 10, 600000, &cf->io_ms);
            break;
        case 'T':
            *create = optarg;
            break;
        case 'h':
            fputs(hka_usage, stdout);
            exit(0);
        default:
            bad = 1;
        }

        if (bad) {
            fprintf(stderr, "hotkey-analyzer: bad option or value%s%s\n%s",
                    idx >= 0 ? ": --" : "", idx >= 0 ? opts[idx].name : "",
                    hka_usage);
            return -1;
        }
    }

    why = optind != argc ? "unexpected argument" : hka_options_check(cf);

    if (why) {
        fprintf(stderr, "hotkey-analyzer: %s\n%s", why, hka_usage);
        return -1;
    }

    return 0;
}


static void
hka_defaults(hka_conf_t *cf)
{
    memset(cf, 0, sizeof(hka_conf_t));
    strcpy(cf->store, "127.0.0.1:6379");
    cf->cpu_share = 0.10;
    cf->scan_count = 1000;
    cf->lease_ms = 15000;
    cf->renew_ms = 3000;
    cf->pass_ms = 2000;
    cf->max_attempts = 2;
    cf->connect_ms = 2000;
    cf->io_ms = 5000;
}


/* AUTH to the store with the first line of a file: 0, or -1 (err) */

static int
hka_store_password(hka_store_t *st, const char *path)
{
    int          rc;
    char        *data;
    size_t       len, n;
    const char  *why;

    data = hotkey_read_file(path, sizeof(st->sc.password), &len, &why);
    if (data == NULL) {
        snprintf(st->sc.err, sizeof(st->sc.err), "%s: %s", path, why);
        return -1;
    }

    for (n = 0; n < len && data[n] != '\n' && data[n] != '\r'; n++) {
        /* void */
    }

    data[n] = '\0';
    rc = hotkey_sc_auth(&st->sc, NULL, data);
    OPENSSL_cleanse(data, len);
    free(data);

    return rc;
}


/* the id under which this analyzer holds leases */

static void
hka_me(hka_ctx_t *x)
{
    char           host[64];
    unsigned char  r[4];

    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "analyzer");
    }

    host[sizeof(host) - 1] = '\0';

    if (getentropy(r, sizeof(r)) != 0) {
        memset(r, 0, sizeof(r));
    }

    snprintf(x->me, sizeof(x->me), "%s:%d:%02x%02x%02x%02x", host,
             (int) getpid(), r[0], r[1], r[2], r[3]);
}


static int
hka_create_cmd(hka_ctx_t *x, const char *iid)
{
    char         tid[HKA_ID_LEN + 1], key[64];
    redisReply  *r;

    if (!hka_valid_id(iid, strlen(iid))) {
        fprintf(stderr, "hotkey-analyzer: the instance id must be a "
                "lowercase dashed UUID\n");
        return 1;
    }

    snprintf(key, sizeof(key), "hotkey:{%s}:instance", iid);
    r = hotkey_sc_command(&x->store.sc, key, "HGET %s project_id", key);

    if (r == NULL) {
        fprintf(stderr, "hotkey-analyzer: the task store is unreachable: "
                "%s\n", x->store.sc.err);
        return 1;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "hotkey-analyzer: the task store refused: %s\n",
                r->str);
        freeReplyObject(r);
        return 1;
    }

    if (r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "hotkey-analyzer: instance %s is not registered\n",
                iid);
        freeReplyObject(r);
        return 1;
    }

    if (hka_create_task(x, iid, r->str, "manual", NULL, tid) != 1) {
        freeReplyObject(r);
        return 1;
    }

    freeReplyObject(r);
    printf("%s\n", tid);

    return 0;
}


/*
 * Waits up to ms for a message on hotkey:jobs; copies the instance id
 * it names.  1 message, 0 none, -1 the subscription broke.
 */

static int
hka_wait_job(redisContext *sub, int ms, char *iid)
{
    int             rc;
    void           *v;
    redisReply     *r;
    struct pollfd   pfd;

    for ( ;; ) {
        if (redisGetReplyFromReader(sub, &v) != REDIS_OK) {
            return -1;
        }

        r = v;

        if (r) {
            rc = r->type == REDIS_REPLY_ARRAY && r->elements == 3
                 && r->element[2]->type == REDIS_REPLY_STRING
                 && hka_valid_id(r->element[2]->str, r->element[2]->len);
            if (rc) {
                memcpy(iid, r->element[2]->str, HKA_ID_LEN);
                iid[HKA_ID_LEN] = '\0';
            }

            freeReplyObject(r);

            if (rc) {
                return 1;
            }

            continue;
        }

        pfd.fd = sub->fd;
        pfd.events = POLLIN;

        rc = poll(&pfd, 1, ms);
        if (rc == 0 || (rc < 0 && errno == EINTR)) {
            return 0;
        }

        if (rc < 0 || redisBufferRead(sub) != REDIS_OK) {
            return -1;
        }

        ms = 0;
    }
}


static void
hka_loop(hka_ctx_t *x)
{
    int            rc, ms;
    char           iid[HKA_ID_LEN + 1];
    double         now, next_pass;
    hka_job_t      job;
    redisContext  *sub;

    sub = NULL;
    next_pass = 0;

    while (!hka_stop) {
        now = hka_now();

        if (sub == NULL) {
            sub = hka_store_subscribe(&x->store, "hotkey:jobs");
        }

        if (now >= next_pass) {
            next_pass = now + x->conf.pass_ms / 1000.0;
            if (hka_pass_all(x, 1) > 0) {
                continue;
            }
        }

        ms = (int) ((next_pass - hka_now()) * 1000);
        ms = ms < 0 ? 0 : ms;

        if (sub == NULL) {
            hka_nap(ms / 1000.0, NULL, NULL);
            continue;
        }

        rc = hka_wait_job(sub, ms, iid);

        if (rc < 0) {
            hotkey_redis_free(sub);
            sub = NULL;
            continue;
        }

        while (rc == 1 && !hka_stop
               && hka_instance_pass(x, iid, 1, &job) == 1)
        {
            hka_task_run(x, iid, &job);
        }
    }

    hotkey_redis_free(sub);
}


int
main(int argc, char **argv)
{
    int                rc;
    char               err[HKA_CAUSE_LEN];
    const char        *create;
    hka_ctx_t         *x;
    struct sigaction   sa;

    x = calloc(1, sizeof(hka_ctx_t));
    if (x == NULL) {
        return 1;
    }

    hka_defaults(&x->conf);
    create = NULL;

    if (hka_options(argc, argv, &x->conf, &create) != 0) {
        return 2;
    }

    if (hka_store_init(&x->store, x->conf.store,
                       x->conf.pass_ms / 1000.0 + 1) != 0
        || (x->conf.store_tls
            && hotkey_sc_tls(&x->store.sc, &x->conf.store_tc) != 0)
        || (x->conf.store_pass_path
            && hka_store_password(&x->store, x->conf.store_pass_path) != 0))
    {
        fprintf(stderr, "hotkey-analyzer: --store: %s\n%s", x->store.sc.err,
                hka_usage);
        return 2;
    }

    hka_me(x);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (create) {
        rc = hka_create_cmd(x, create);
        hotkey_sc_close(&x->store.sc);
        free(x);
        return rc;
    }

    if (hka_log_open(x->conf.log_path) != 0) {
        fprintf(stderr, "hotkey-analyzer: %s: %s\n", x->conf.log_path,
                strerror(errno));
        return 1;
    }

    if (x->conf.creds_path[0]) {
        rc = hka_creds_check(x->conf.creds_path, err, sizeof(err));
        if (rc < 0) {
            hka_log("error", "%s", err);
            return 1;
        }
        if (rc > 0) {
            hka_log("warn", "%s", err);
        }
    }

    if (x->conf.metrics_port
        && hka_metrics_start(x->conf.metrics_host, x->conf.metrics_port,
                             err, sizeof(err)) != 0)
    {
        hka_log("error", "%s", err);
        return 1;
    }

    sa.sa_handler = hka_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    hka_log("info", "hotkey-analyzer %s started: store %s%s, pacing %s, "
            "lease %u ms", x->me, x->conf.store,
            x->conf.store_tls ? " (TLS)" : "",
            x->conf.cpu_share > 0 ? "on" : "off", x->conf.lease_ms);

    hka_loop(x);

    hka_log("info", "hotkey-analyzer %s stopped", x->me);
    hotkey_sc_close(&x->store.sc);
    free(x);

    return 0;
}
