/*
 * One task under its lease: the lease is renewed between batches of the
 * scan (and other instances looked after meanwhile); the result goes to
 * the store with finish.lua, retried until the store takes it; SIGTERM
 * hands the task back; one log line says how it went.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hka_jobs.h"


#define HKA_ELEMENT_MAX  (3 * 20 + 32 + HKA_ADDR_LEN + HKA_NAME_MAX)
#define HKA_BUSY_PASS_S  5.0           /* other instances, while busy */


static int
hka_task_renew(hka_ctx_t *x, double now)
{
    int          rc;
    char         ikey[64], lease[16];
    const char  *argv[4];
    redisReply  *r;

    snprintf(ikey, sizeof(ikey), "hotkey:{%s}:instance", x->iid);
    snprintf(lease, sizeof(lease), "%u", x->conf.lease_ms);
    argv[0] = ikey;
    argv[1] = x->me;
    argv[2] = x->tid;
    argv[3] = lease;

    r = hka_store_eval(&x->store, HKA_LUA_RENEW, 1, 4, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        /* the store is away: keep working, try again soon */
        freeReplyObject(r);
        x->next_renew = now + 1;
        return 0;
    }

    rc = (int) r->integer;
    freeReplyObject(r);

    if (rc == 0) {
        x->lost = 1;
        hka_metrics_lock()->lease_losses++;
        hka_metrics_unlock();
        return -1;
    }

    if (rc == 2) {
        hka_log("warn", "task %s instance %s: the lease was gone from the "
                "store (restarted?); set again", x->tid, x->iid);
    }

    x->next_renew = now + x->conf.renew_ms / 1000.0;

    return 0;
}


static int
hka_task_tick(void *data)
{
    double      now;
    hka_ctx_t  *x;

    x = data;

    if (hka_stop || x->lost) {
        return -1;
    }

    now = hka_now();

    if (now >= x->next_renew && hka_task_renew(x, now) != 0) {
        return -1;
    }

    if (now >= x->next_pass) {
        x->next_pass = now + HKA_BUSY_PASS_S;
        hka_pass_all(x, 0);
    }

    return 0;
}


static char **
hka_elements(const hka_result_t *res, size_t *lens)
{
    char    **el;
    size_t    i;

    el = calloc(res->top.n + 1, sizeof(char *));
    if (el == NULL) {
        return NULL;
    }

    for (i = 0; i < res->top.n; i++) {
        el[i] = malloc(HKA_ELEMENT_MAX);
        if (el[i] == NULL) {
            while (i-- > 0) {
                free(el[i]);
            }
            free(el);
            return NULL;
        }

        lens[i] = hka_key_element(&res->top.k[i],
                                  res->nodes[res->top.k[i].node], el[i]);
    }

    return el;
}


/* finish.lua: 1 done, 0 not ours any more, -1 store error */

static int
hka_task_finish(hka_ctx_t *x, const char *status, const hka_result_t *res)
{
    int           rc;
    char          ikey[64], now[24], num[24], **el;
    size_t        i, n, lens[HKA_EVAL_ARGS];
    const char   *argv[HKA_EVAL_ARGS];
    redisReply   *r;

    n = strcmp(status, "success") == 0 ? res->top.n : 0;
    el = hka_elements(res, lens + 7);

    if (el == NULL) {
        return -1;
    }

    snprintf(ikey, sizeof(ikey), "hotkey:{%s}:instance", x->iid);
    snprintf(now, sizeof(now), "%lld", (long long) hka_now_ms());
    snprintf(num, sizeof(num), "%zu", n);
    argv[0] = ikey;
    argv[1] = x->me;
    argv[2] = x->tid;
    argv[3] = status;
    argv[4] = now;
    argv[5] = res->policy;
    argv[6] = num;

    for (i = 0; i < 7; i++) {
        lens[i] = strlen(argv[i]);
    }

    for (i = 0; i < n; i++) {
        argv[7 + i] = el[i];
    }

    r = hka_store_eval(&x->store, HKA_LUA_FINISH, 1, 7 + n, argv, lens);

    for (i = 0; i < res->top.n; i++) {
        free(el[i]);
    }
    free(el);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return -1;
    }

    rc = (int) r->integer;
    freeReplyObject(r);

    return rc;
}


/* the store may be down: the result waits for it (at shutdown, a while) */

static int
hka_task_finish_retry(hka_ctx_t *x, const char *status,
    const hka_result_t *res)
{
    int  rc, tries;

    for (tries = 0; ; tries++) {
        rc = hka_task_finish(x, status, res);

        if (rc >= 0) {
            return rc;
        }

        if (hka_stop && tries >= 10) {
            hka_log("warn", "task %s instance %s: the store is unreachable "
                    "at shutdown; the lease will lapse and the task be "
                    "tried again", x->tid, x->iid);
            return -1;
        }

        hka_nap(1, NULL, NULL);
    }
}


static const char *
hka_task_result(hka_ctx_t *x, int rc, hka_result_t *res)
{
    int          done;
    const char  *status, *result;

    if (x->lost) {
        return "lost";
    }

    /*
     * Told to stop: handed back, whatever the scan ended on (a read the
     * signal interrupted, or one of a stopped target that timed out)
     */

    if (rc != 0 && hka_stop) {
        status = "waiting";
        result = "handed_back";

    } else {
        status = rc == 0 ? "success" : "failed";
        result = status;
    }

    done = hka_task_finish_retry(x, status, res);

    if (done == 0) {
        x->lost = 1;
        hka_metrics_lock()->lease_losses++;
        hka_metrics_unlock();
        return "lost";
    }

    return done < 0 ? "unsaved" : result;
}


static void
hka_task_log(hka_ctx_t *x, const char *iid, const hka_job_t *job,
    const char *result, const hka_result_t *res, double secs)
{
    char    cause[HKA_CAUSE_LEN];
    size_t  i;

    snprintf(cause, sizeof(cause), "%s",
             x->lost ? "another analyzer took the task over (lease lost)"
             : strcmp(result, "success") == 0 ? "" : res->cause);

    for (i = 0; cause[i]; i++) {
        if (cause[i] == '"' || cause[i] == '\n' || cause[i] == '\r') {
            cause[i] = '\'';
        }
    }

    hka_log(strcmp(result, "success") == 0 ? "info" : "warn",
            "task %s instance %s scan_type=%s attempt=%ld result=%s "
            "keys_scanned=%llu hot_keys=%zu shards=%zu duration=%.3fs "
            "pacing_waits=%llu pacing_wait=%.3fs cause=\"%s\"",
            job->tid, iid, job->scan_type, job->attempt, result,
            (unsigned long long) res->scanned,
            strcmp(result, "success") == 0 ? res->top.n : 0, res->nnodes,
            secs, (unsigned long long) res->pace.waits, res->pace.waited,
            cause);
}


static int
hka_task_secret(hka_ctx_t *x, const char *iid, hka_secret_t *secret,
    hka_result_t *res)
{
    char  err[HKA_CAUSE_LEN];

    if (hka_creds_lookup(x->conf.creds_path, iid, secret, err,
                         sizeof(err)) < 0)
    {
        snprintf(res->cause, sizeof(res->cause), "credentials: %.480s", err);
        return -1;
    }

    return 0;
}


void
hka_task_run(hka_ctx_t *x, const char *iid, const hka_job_t *job)
{
    int            rc;
    double         t0;
    const char    *result;
    hka_secret_t   secret;
    hka_target_t   tg;
    hka_result_t  *res;

    res = calloc(1, sizeof(hka_result_t));
    if (res == NULL) {
        hka_log("error", "out of memory for task %s", job->tid);
        return;
    }

    memcpy(x->iid, iid, sizeof(x->iid));
    memcpy(x->tid, job->tid, sizeof(x->tid));
    x->lost = 0;
    t0 = hka_now();
    x->next_renew = t0 + x->conf.renew_ms / 1000.0;
    x->next_pass = t0 + HKA_BUSY_PASS_S;
    hka_pace_init(&res->pace, x->conf.cpu_share);
    hka_metrics_lock()->running = 1;
    hka_metrics_unlock();

    tg.conf = &x->conf;
    tg.secret = &secret;
    tg.addr = job->addr;
    tg.cluster = strcmp(job->mode, "cluster") == 0;
    tg.tls = job->tls;
    tg.tick = hka_task_tick;
    tg.data = x;

    if (job->addr[0] == '\0') {
        snprintf(res->cause, sizeof(res->cause), "the instance has no addr "
                 "in the store (register it with its host:port)");
        rc = -1;

    } else if (hka_task_secret(x, iid, &secret, res) != 0) {
        rc = -1;

    } else {
        rc = hka_scan(&tg, res);
    }

    explicit_bzero(&secret, sizeof(secret));

    result = hka_task_result(x, rc, res);
    hka_task_log(x, iid, job, result, res, hka_now() - t0);
    hka_metrics_task(result, res->scanned, hka_now() - t0, &res->pace);
    hka_metrics_lock()->running = 0;
    hka_metrics_unlock();

    hka_result_free(res);
    free(res);
    x->tid[0] = '\0';
}
