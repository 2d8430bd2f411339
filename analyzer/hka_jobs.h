/*
 * Jobs: one analyzer's look at an instance (recover lapsed tasks, fire
 * the schedule, take a job) and the run of a taken task under its lease.
 */

#ifndef HKA_JOBS_H
#define HKA_JOBS_H

#include "hka.h"
#include "hka_store.h"


typedef struct {
    char   tid[HKA_ID_LEN + 1];
    char   scan_type[16];
    long   attempt;
    char   project[128];
    char   addr[HKA_ADDR_LEN];
    char   mode[32];
    int    tls;
} hka_job_t;

typedef struct {
    hka_conf_t    conf;
    hka_store_t   store;
    char          me[HKA_ME_LEN];
    char          iid[HKA_ID_LEN + 1];      /* the task in hand */
    char          tid[HKA_ID_LEN + 1];
    double        next_renew;
    double        next_pass;
    int           lost;
} hka_ctx_t;


int hka_instance_pass(hka_ctx_t *x, const char *iid, int take,
    hka_job_t *job);
int hka_pass_all(hka_ctx_t *x, int take);
void hka_task_run(hka_ctx_t *x, const char *iid, const hka_job_t *job);
int hka_create_task(hka_ctx_t *x, const char *iid, const char *project,
    const char *scan_type, const char *fired, char *tid);
int64_t hka_now_ms(void);
int hka_valid_id(const char *s, size_t len);

#endif
