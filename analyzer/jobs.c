/*
 * Jobs: each pass over an instance is one take.lua (lapsed tasks put
 * back or failed, then the next job taken when this analyzer is free),
 * and the schedule's auto tasks created with the create script.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include "hka_jobs.h"
#include "hotkey_codec.h"


#define HKA_SCHED_GRACE_MS  (5 * 60 * 1000)


int64_t
hka_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* a lowercase dashed UUID */

int
hka_valid_id(const char *s, size_t len)
{
    size_t  i;

    if (len != HKA_ID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (!((s[i] >= '0' && s[i] <= '9')
                     || (s[i] >= 'a' && s[i] <= 'f')))
        {
            return 0;
        }
    }

    return 1;
}


static int
hka_uuid(char *out)
{
    char           hex[33];
    unsigned char  b[16];

    if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
        return -1;
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    hotkey_codec_hex(b, sizeof(b), hex);
    snprintf(out, HKA_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
             hex + 12, hex + 16, hex + 20);

    return 0;
}


static void
hka_copy(char *dst, size_t n, const redisReply *r)
{
    size_t  len;

    len = 0;

    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        len = (size_t) r->len < n ? (size_t) r->len : n - 1;
        memcpy(dst, r->str, len);
    }

    dst[len] = '\0';
}


/*
 * the create script for an instance; fired: the stamp of a scheduled time
 * (the auto task) or NULL.  Returns 1 created (tid filled), 0 not (said
 * in the log), -1 store error.
 */

int
hka_create_task(hka_ctx_t *x, const char *iid, const char *project,
    const char *scan_type, const char *fired, char *tid)
{
    int          n, rc;
    char         ikey[64], fkey[96], now[24];
    const char  *argv[6];
    redisReply  *r;

    if (hka_uuid(tid) != 0) {
        hka_log("error", "no random bytes for a task id");
        return -1;
    }

    snprintf(ikey, sizeof(ikey), "hotkey:{%s}:instance", iid);
    snprintf(now, sizeof(now), "%lld", (long long) hka_now_ms());
    n = 0;
    argv[n++] = ikey;

    if (fired) {
        snprintf(fkey, sizeof(fkey), "hotkey:{%s}:fired:%s", iid, fired);
        argv[n++] = fkey;
    }

    argv[n++] = project;
    argv[n++] = tid;
    argv[n++] = scan_type;
    argv[n++] = now;

    r = hka_store_eval(&x->store, HKA_LUA_CREATE, fired ? 2 : 1, n, argv,
                       NULL);
    if (r == NULL) {
        return -1;
    }

    rc = 0;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        hka_log("error", "instance %s: create-task: unexpected reply", iid);

    } else if (strcmp(r->element[0]->str, "ok") == 0) {
        rc = 1;

    } else if (strcmp(r->element[0]->str, "fired") != 0) {
        hka_log("info", "instance %s: %s task %s not created: %s%s%s", iid,
                scan_type, fired ? fired : "", r->element[0]->str,
                r->elements > 1 ? " " : "",
                r->elements > 1 && r->element[1]->type == REDIS_REPLY_STRING
                ? r->element[1]->str : "");
    }

    freeReplyObject(r);

    return rc;
}


static void
hka_recovered(const char *iid, const redisReply *rec)
{
    size_t          i;
    hka_metrics_t  *m;

    for (i = 0; i + 1 < rec->elements; i += 2) {
        hka_log("warn", "task %s instance %s: its analyzer stopped renewing "
                "the lease; %s", rec->element[i]->str, iid,
                strcmp(rec->element[i + 1]->str, "failed") == 0
                ? "failed (no attempts left)"
                : "back to waiting, to be tried again");

        m = hka_metrics_lock();
        m->tasks_recovered++;
        hka_metrics_unlock();
    }
}


static void
hka_schedule(hka_ctx_t *x, const char *iid, const char *project,
    const redisReply *a)
{
    int             i, n;
    char            stamps[HKA_SCHED_MAX][HKA_STAMP_LEN];
    char            tid[HKA_ID_LEN + 1];
    int64_t         updated;
    uint64_t        v;
    hka_metrics_t  *m;

    if (strcmp(a->element[0]->str, "1") != 0) {
        return;
    }

    updated = 0;
    if (hotkey_parse_uint(a->element[2]->str, a->element[2]->len, 15,
                          UINT64_MAX, &v) == 0)
    {
        updated = (int64_t) v;
    }

    n = hka_sched_due(a->element[1]->str, updated, hka_now_ms(),
                      HKA_SCHED_GRACE_MS, stamps, HKA_SCHED_MAX);

    for (i = 0; i < n; i++) {
        if (hka_create_task(x, iid, project, "auto", stamps[i], tid) != 1) {
            continue;
        }

        hka_log("info", "task %s instance %s: auto task created for the "
                "scheduled time %s", tid, iid, stamps[i]);
        m = hka_metrics_lock();
        m->auto_fired++;
        hka_metrics_unlock();
    }
}


static int
hka_take_reply_ok(const redisReply *r)
{
    size_t  i, j;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        return 0;
    }

    for (i = 0; i < 4; i++) {
        if (r->element[i]->type != REDIS_REPLY_ARRAY) {
            return 0;
        }

        for (j = 0; j < r->element[i]->elements; j++) {
            if (r->element[i]->element[j]->type != REDIS_REPLY_STRING
                && !(i == 1 && j == 2
                     && r->element[i]->element[j]->type
                        == REDIS_REPLY_INTEGER))
            {
                return 0;
            }
        }
    }

    return (r->element[1]->elements == 0 || r->element[1]->elements == 3)
           && r->element[2]->elements == 5 && r->element[3]->elements == 3;
}


/* 1 a job was taken into *job, 0 none, -1 store error */

int
hka_instance_pass(hka_ctx_t *x, const char *iid, int take, hka_job_t *job)
{
    int                rc;
    char               ikey[64], now[24], lease[16], max[16];
    const char        *argv[6];
    redisReply        *r;
    const redisReply  *t, *in;

    snprintf(ikey, sizeof(ikey), "hotkey:{%s}:instance", iid);
    snprintf(now, sizeof(now), "%lld", (long long) hka_now_ms());
    snprintf(lease, sizeof(lease), "%u", x->conf.lease_ms);
    snprintf(max, sizeof(max), "%u", x->conf.max_attempts);
    argv[0] = ikey;
    argv[1] = x->me;
    argv[2] = now;
    argv[3] = lease;
    argv[4] = max;
    argv[5] = take ? "1" : "0";

    r = hka_store_eval(&x->store, HKA_LUA_TAKE, 1, 6, argv, NULL);
    if (r == NULL) {
        return -1;
    }

    if (!hka_take_reply_ok(r)) {
        if (r->type != REDIS_REPLY_ERROR) {
            hka_log("error", "instance %s: take: unexpected reply", iid);
        }
        freeReplyObject(r);
        return -1;
    }

    hka_recovered(iid, r->element[0]);

    t = r->element[1];
    in = r->element[2];
    rc = 0;

    if (t->elements == 3) {
        hka_copy(job->tid, sizeof(job->tid), t->element[0]);
        hka_copy(job->scan_type, sizeof(job->scan_type), t->element[1]);
        job->attempt = (long) t->element[2]->integer;
        hka_copy(job->project, sizeof(job->project), in->element[0]);
        hka_copy(job->addr, sizeof(job->addr), in->element[1]);
        hka_copy(job->mode, sizeof(job->mode), in->element[2]);
        job->tls = strcmp(in->element[3]->str, "1") == 0;
        rc = 1;
    }

    if (in->element[0]->len) {
        hka_schedule(x, iid, in->element[0]->str, r->element[3]);
    }

    freeReplyObject(r);

    return rc;
}


/*
 * Every registered instance once; with take, runs each job taken.
 * Returns how many tasks ran, -1 when the store failed.
 */

int
hka_pass_all(hka_ctx_t *x, int take)
{
    int          n, rc;
    char         iid[HKA_ID_LEN + 1];
    size_t       i;
    hka_job_t    job;
    redisReply  *r;

    r = hka_store_command(&x->store, "hotkey:registry",
                          "SMEMBERS hotkey:registry");
    if (r == NULL) {
        return -1;
    }

    n = 0;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (hka_stop || r->element[i]->type != REDIS_REPLY_STRING
            || !hka_valid_id(r->element[i]->str, r->element[i]->len))
        {
            continue;
        }

        memcpy(iid, r->element[i]->str, sizeof(iid));
        rc = 0;

        while (!hka_stop
               && (rc = hka_instance_pass(x, iid, take, &job)) == 1)
        {
            hka_task_run(x, iid, &job);
            n++;
        }

        /*
         * one Redis away: so is every instance; a cluster's dead master
         * holds back only the instances it serves
         */
        if (rc < 0 && x->store.sc.cluster != 1 && x->store.down) {
            n = -1;
            break;
        }
    }

    freeReplyObject(r);

    return n;
}
