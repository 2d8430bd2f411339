/*
 * Pacing: the analysis may take at most a share of the target's CPU.
 * The target's CPU time (INFO cpu: used_cpu_sys + used_cpu_user) is read
 * before the scan, for its own rate, and then every window of batches;
 * what it burns beyond its own rate is put down to the scan, and the
 * pause after each batch is set so that this stays under the share.
 * Any other load that comes up meanwhile is put down to the scan too:
 * the error is on the safe side.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hka.h"


#define HKA_PACE_BASE_S    0.3         /* measuring the target alone */
#define HKA_PACE_WINDOW_S  0.5
#define HKA_PACE_NAP_S     0.1         /* longest sleep between ticks */


double
hka_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* sleeps, calling tick every HKA_PACE_NAP_S; -1 when tick says stop */

int
hka_nap(double seconds, hka_tick_pt tick, void *data)
{
    double           end, left;
    struct timespec  ts;

    end = hka_now() + seconds;

    for ( ;; ) {
        if (tick && tick(data) != 0) {
            return -1;
        }

        left = end - hka_now();
        if (left <= 0) {
            return 0;
        }

        if (left > HKA_PACE_NAP_S) {
            left = HKA_PACE_NAP_S;
        }

        ts.tv_sec = (time_t) left;
        ts.tv_nsec = (long) ((left - ts.tv_sec) * 1e9);

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !hka_stop) {
            /* void */
        }
    }
}


static double
hka_info_field(const char *info, const char *name)
{
    const char  *p;

    p = strstr(info, name);
    if (p == NULL) {
        return -1;
    }

    return strtod(p + strlen(name), NULL);
}


int
hka_info_cpu(redisContext *c, double *cpu)
{
    double       sys, user;
    redisReply  *r;

    r = redisCommand(c, "INFO cpu");
    if (r == NULL) {
        return -1;
    }

    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -1;
    }

    sys = hka_info_field(r->str, "used_cpu_sys:");
    user = hka_info_field(r->str, "used_cpu_user:");
    freeReplyObject(r);

    if (sys < 0 || user < 0) {
        return -1;
    }

    *cpu = sys + user;

    return 0;
}


void
hka_pace_init(hka_pace_t *p, double share)
{
    memset(p, 0, sizeof(hka_pace_t));
    p->share = share;

    /* until measured: as if the target worked all the time we do */
    p->ratio = share > 0 ? 1 / share - 1 : 0;
}


/* the target's own rate, measured while we do nothing */

int
hka_pace_start(hka_pace_t *p, redisContext *c, hka_tick_pt tick,
    void *data)
{
    double  c0, c1, t0, t1;

    if (p->share <= 0) {
        return 0;
    }

    if (hka_info_cpu(c, &c0) != 0) {
        return -1;
    }

    t0 = hka_now();

    if (hka_nap(HKA_PACE_BASE_S, tick, data) != 0) {
        return -1;
    }

    if (hka_info_cpu(c, &c1) != 0) {
        return -1;
    }

    t1 = hka_now();
    p->base = (c1 - c0) / (t1 - t0);
    p->cpu0 = c1;
    p->wall0 = t1;
    p->active = 0;
    p->slept = 0;

    return 0;
}


static int
hka_pace_window(hka_pace_t *p, redisContext *c)
{
    double  cpu, now, wall, ours, k, want;

    if (hka_info_cpu(c, &cpu) != 0) {
        return -1;
    }

    now = hka_now();
    wall = now - p->wall0;
    ours = (cpu - p->cpu0) - p->base * wall;

    /* the target's CPU per second of our work; noise kept in bounds */
    k = p->active > 0 ? ours / p->active : 1;
    k = k < 0.05 ? 0.05 : (k > 1.5 ? 1.5 : k);

    want = k / p->share - 1;
    want = want < 0 ? 0 : want * 1.1;
    p->ratio = (p->ratio + want) / 2;

    p->cpu0 = cpu;
    p->wall0 = now;
    p->active = 0;
    p->slept = 0;

    return 0;
}


/*
 * After a batch that kept the target busy for at most `busy` seconds:
 * pauses as the share requires.  -1 when tick says stop or the target
 * failed.
 */

int
hka_pace_batch(hka_pace_t *p, redisContext *c, double busy,
    hka_tick_pt tick, void *data)
{
    double  pause;

    if (p->share <= 0) {
        return tick && tick(data) != 0 ? -1 : 0;
    }

    p->active += busy;

    if (hka_now() - p->wall0 >= HKA_PACE_WINDOW_S
        && hka_pace_window(p, c) != 0)
    {
        return -1;
    }

    pause = busy * p->ratio;

    if (pause <= 0) {
        return tick && tick(data) != 0 ? -1 : 0;
    }

    p->waits++;
    p->waited += pause;
    p->slept += pause;

    return hka_nap(pause, tick, data);
}
