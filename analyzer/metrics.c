/*
 * Prometheus metrics of the analyzer on a small HTTP listener of its own
 * (GET /metrics; GET /healthz answers "ok"), served by one thread so
 * that a long scan never delays a scrape.
 */

#define _GNU_SOURCE                 /* pthread_setname_np */

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "hka.h"


static const double  hka_buckets[] = { 1, 5, 15, 60, 300, 900, 3600 };

static hka_metrics_t    hka_m;
static pthread_mutex_t  hka_mutex = PTHREAD_MUTEX_INITIALIZER;
static int              hka_listen_fd = -1;


hka_metrics_t *
hka_metrics_lock(void)
{
    pthread_mutex_lock(&hka_mutex);

    return &hka_m;
}


void
hka_metrics_unlock(void)
{
    pthread_mutex_unlock(&hka_mutex);
}


void
hka_metrics_task(const char *result, uint64_t keys, double seconds,
    const hka_pace_t *pace)
{
    size_t          i;
    hka_metrics_t  *m;

    m = hka_metrics_lock();

    if (strcmp(result, "success") == 0) {
        m->tasks_success++;
    } else if (strcmp(result, "failed") == 0) {
        m->tasks_failed++;
    } else if (strcmp(result, "handed_back") == 0) {
        m->tasks_handed_back++;
    } else {
        m->tasks_lost++;
    }

    m->keys_scanned += keys;
    m->scan_seconds += seconds;

    for (i = 0; i < 7 && seconds > hka_buckets[i]; i++) {
        /* void */
    }

    m->scan_hist[i]++;
    m->pacing_waits += pace->waits;
    m->pacing_seconds += pace->waited;

    hka_metrics_unlock();
}


static size_t
hka_metrics_text(char *buf, size_t n)
{
    size_t          len, i;
    uint64_t        cum, count;
    hka_metrics_t   m;

    m = *hka_metrics_lock();
    hka_metrics_unlock();

    len = snprintf(buf, n,
        "# HELP hotkey_analyzer_tasks_total Tasks this analyzer ended, "
        "by result.\n"
        "# TYPE hotkey_analyzer_tasks_total counter\n"
        "hotkey_analyzer_tasks_total{result=\"success\"} %llu\n"
        "hotkey_analyzer_tasks_total{result=\"failed\"} %llu\n"
        "hotkey_analyzer_tasks_total{result=\"handed_back\"} %llu\n"
        "hotkey_analyzer_tasks_total{result=\"lost\"} %llu\n"
        "# HELP hotkey_analyzer_tasks_recovered_total Other analyzers' "
        "tasks whose lease lapsed, put back or failed by this one.\n"
        "# TYPE hotkey_analyzer_tasks_recovered_total counter\n"
        "hotkey_analyzer_tasks_recovered_total %llu\n"
        "# HELP hotkey_analyzer_auto_tasks_total Scheduled auto tasks "
        "this analyzer created.\n"
        "# TYPE hotkey_analyzer_auto_tasks_total counter\n"
        "hotkey_analyzer_auto_tasks_total %llu\n"
        "# HELP hotkey_analyzer_keys_scanned_total Keys whose OBJECT FREQ "
        "was read.\n"
        "# TYPE hotkey_analyzer_keys_scanned_total counter\n"
        "hotkey_analyzer_keys_scanned_total %llu\n"
        "# HELP hotkey_analyzer_pacing_waits_total Pauses made to hold "
        "the target's CPU share.\n"
        "# TYPE hotkey_analyzer_pacing_waits_total counter\n"
        "hotkey_analyzer_pacing_waits_total %llu\n"
        "# HELP hotkey_analyzer_pacing_wait_seconds_total Time spent in "
        "those pauses.\n"
        "# TYPE hotkey_analyzer_pacing_wait_seconds_total counter\n"
        "hotkey_analyzer_pacing_wait_seconds_total %.3f\n"
        "# HELP hotkey_analyzer_lease_losses_total Tasks this analyzer "
        "was working on when another took them over.\n"
        "# TYPE hotkey_analyzer_lease_losses_total counter\n"
        "hotkey_analyzer_lease_losses_total %llu\n"
        "# HELP hotkey_analyzer_store_errors_total Failed round trips to "
        "the task store.\n"
        "# TYPE hotkey_analyzer_store_errors_total counter\n"
        "hotkey_analyzer_store_errors_total %llu\n"
        "# HELP hotkey_analyzer_running Whether a task is being analysed.\n"
        "# TYPE hotkey_analyzer_running gauge\n"
        "hotkey_analyzer_running %d\n"
        "# HELP hotkey_analyzer_scan_seconds Duration of tasks.\n"
        "# TYPE hotkey_analyzer_scan_seconds histogram\n",
        (unsigned long long) m.tasks_success,
        (unsigned long long) m.tasks_failed,
        (unsigned long long) m.tasks_handed_back,
        (unsigned long long) m.tasks_lost,
        (unsigned long long) m.tasks_recovered,
        (unsigned long long) m.auto_fired,
        (unsigned long long) m.keys_scanned,
        (unsigned long long) m.pacing_waits, m.pacing_seconds,
        (unsigned long long) m.lease_losses,
        (unsigned long long) m.store_errors, m.running);

    cum = 0;

    for (i = 0; i < 7 && len < n; i++) {
        cum += m.scan_hist[i];
        len += snprintf(buf + len, n - len,
                        "hotkey_analyzer_scan_seconds_bucket{le=\"%g\"} "
                        "%llu\n", hka_buckets[i], (unsigned long long) cum);
    }

    count = cum + m.scan_hist[7];

    if (len < n) {
        len += snprintf(buf + len, n - len,
                        "hotkey_analyzer_scan_seconds_bucket{le=\"+Inf\"} "
                        "%llu\nhotkey_analyzer_scan_seconds_sum %.3f\n"
                        "hotkey_analyzer_scan_seconds_count %llu\n",
                        (unsigned long long) count, m.scan_seconds,
                        (unsigned long long) count);
    }

    return len < n ? len : n - 1;
}


static void
hka_metrics_answer(int fd)
{
    char            req[1024], body[8192], head[256];
    size_t          blen;
    ssize_t         got;
    const char     *status, *type;
    struct timeval  tv;

    tv.tv_sec = 2;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    got = recv(fd, req, sizeof(req) - 1, 0);
    if (got <= 0) {
        return;
    }

    req[got] = '\0';
    type = "text/plain; charset=utf-8";

    if (strncmp(req, "GET /metrics ", 13) == 0
        || strncmp(req, "GET /metrics?", 13) == 0)
    {
        status = "200 OK";
        type = "text/plain; version=0.0.4; charset=utf-8";
        blen = hka_metrics_text(body, sizeof(body));

    } else if (strncmp(req, "GET /healthz ", 13) == 0) {
        status = "200 OK";
        blen = snprintf(body, sizeof(body), "ok\n");

    } else {
        status = "404 Not Found";
        blen = snprintf(body, sizeof(body), "not found\n");
    }

    snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             status, type, blen);

    if (send(fd, head, strlen(head), MSG_NOSIGNAL) > 0) {
        send(fd, body, blen, MSG_NOSIGNAL);
    }
}


static void *
hka_metrics_loop(void *arg)
{
    int  fd;

    (void) arg;

    for ( ;; ) {
        fd = accept(hka_listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED) {
                usleep(100000);
            }
            continue;
        }

        hka_metrics_answer(fd);
        close(fd);
    }

    return NULL;
}


int
hka_metrics_start(const char *host, int port, char *err, size_t errlen)
{
    int               fd, on, rc;
    char              service[16];
    pthread_t         tid;
    struct addrinfo   hints, *ai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(service, sizeof(service), "%d", port);

    rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "metrics %s:%d: %s", host, port,
                 gai_strerror(rc));
        return -1;
    }

    fd = socket(ai->ai_family, ai->ai_socktype, 0);
    on = 1;

    if (fd < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0
        || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0
        || listen(fd, 64) != 0)
    {
        snprintf(err, errlen, "metrics %s:%d: %s", host, port,
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }

    freeaddrinfo(ai);
    hka_listen_fd = fd;

    rc = hotkey_thread_nosig(&tid, NULL, hka_metrics_loop, NULL);

    if (rc != 0) {
        snprintf(err, errlen, "metrics: cannot start a thread");
        return -1;
    }

    (void) pthread_setname_np(tid, "hka-metrics");

    pthread_detach(tid);

    return 0;
}
