/*
 * hotkey-analyzer: takes hot key analysis jobs from the task store,
 * analyses the registered Redis instances (SCAN + OBJECT FREQ, paced),
 * and writes the results the gateway serves.  The store schema is in
 * README.md ("The store schema").
 */

#ifndef HKA_H
#define HKA_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>

#include <hiredis/hiredis.h>

#include "hotkey_tls.h"


#define HKA_TOP_MAX        100         /* keys kept per task */
#define HKA_NAME_MAX       1024        /* bytes of a name in the store */
#define HKA_NODES_MAX      1024        /* masters of one cluster */
#define HKA_ADDR_LEN       300         /* "host:port" */
#define HKA_ID_LEN         36          /* a dashed UUID */
#define HKA_CAUSE_LEN      512
#define HKA_ME_LEN         128
#define HKA_STAMP_LEN      16          /* YYYYMMDDTHHMM */
#define HKA_SCHED_MAX      24          /* times a day */
#define HKA_PATH_LEN       4096


typedef struct {
    char               store[1024];    /* host:port[,host:port...] */
    char               creds_path[4096];
    char               metrics_host[256];
    int                metrics_port;   /* 0: no listener */
    char               log_path[4096]; /* empty: stderr */
    double             cpu_share;      /* 0: pacing off */
    unsigned           scan_count;
    unsigned           lease_ms;
    unsigned           renew_ms;
    unsigned           pass_ms;        /* walk of the registry */
    unsigned           max_attempts;
    unsigned           connect_ms;     /* to analysed instances */
    unsigned           io_ms;
    int                once;           /* exit when idle (tests) */
    int                store_tls;
    int                store_tls_opts; /* --store-tls-* given */
    hotkey_tls_conf_t  store_tc;
    const char        *store_pass_path;
} hka_conf_t;


/* one kept key: raw name bytes, then its type and size */
typedef struct {
    char        *name;
    size_t       len;
    unsigned     freq;
    unsigned     db;
    unsigned     node;
    char         type[16];
    uint64_t     size;
} hka_key_t;

/* the hottest keys so far: a min-heap, the coldest at the root */
typedef struct {
    hka_key_t   *k;
    size_t       n;
    size_t       max;
} hka_top_t;


typedef struct {
    double       share;                /* of one core; 0: off */
    double       base;                 /* the target's own CPU rate */
    double       ratio;                /* sleep per second of work */
    double       cpu0;
    double       wall0;
    double       active;               /* our work in the window */
    double       slept;
    uint64_t     waits;
    double       waited;
} hka_pace_t;


/* an analysed instance's line of the credentials file */
typedef struct {
    char         user[256];
    char         password[512];
    char         tls_ca[HKA_PATH_LEN];     /* empty: the system's */
    char         tls_cert[HKA_PATH_LEN];
    char         tls_key[HKA_PATH_LEN];
    char         tls_name[HOTKEY_TLS_NAME_LEN];
    int          tls_no_verify;            /* tls-verify=off */
} hka_secret_t;


/* the result of one analysis */
typedef struct {
    hka_top_t    top;
    char         nodes[HKA_NODES_MAX][HKA_ADDR_LEN];
    size_t       nnodes;
    uint64_t     scanned;
    char         policy[64];           /* not LFU: record it */
    char         cause[HKA_CAUSE_LEN];
    hka_pace_t   pace;
} hka_result_t;

/* called between batches: 0 go on, -1 stop (lease lost, SIGTERM) */
typedef int (*hka_tick_pt)(void *data);

typedef struct {
    const hka_conf_t    *conf;
    const hka_secret_t  *secret;
    const char          *addr;
    int                  cluster;
    int                  tls;
    hka_tick_pt          tick;
    void                *data;
} hka_target_t;

/* the scan of one database of one node, SELECTed on c */
typedef struct {
    const hka_target_t  *tg;
    hka_result_t        *res;
    redisContext        *c;
    const char          *addr;
    unsigned             node;
    unsigned             db;
} hka_walk_t;


typedef struct {
    uint64_t     tasks_success;
    uint64_t     tasks_failed;
    uint64_t     tasks_handed_back;
    uint64_t     tasks_lost;
    uint64_t     tasks_recovered;      /* others' lapsed tasks */
    uint64_t     auto_fired;
    uint64_t     keys_scanned;
    double       scan_seconds;
    uint64_t     scan_hist[8];
    uint64_t     pacing_waits;
    double       pacing_seconds;
    uint64_t     lease_losses;
    uint64_t     store_errors;
    int          running;
} hka_metrics_t;


extern volatile sig_atomic_t  hka_stop;


/* top.c */
int hka_top_init(hka_top_t *t, size_t max);
int hka_top_offer(hka_top_t *t, unsigned freq, unsigned db, unsigned node,
    const char *name, size_t len);
void hka_top_sort(hka_top_t *t);
void hka_top_drop(hka_top_t *t, size_t i);
void hka_top_free(hka_top_t *t);
int hka_key_cmp(const hka_key_t *a, const hka_key_t *b);
size_t hka_name_cut(const char *name, size_t len);
size_t hka_key_element(const hka_key_t *k, const char *shard, char *buf);

/* scan.c */
int hka_scan(const hka_target_t *tg, hka_result_t *res);
void hka_result_free(hka_result_t *res);
int hka_fail(hka_result_t *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int hka_reply_fail(hka_result_t *res, const char *addr, redisContext *c,
    redisReply *r, const char *what);

/* pipe.c */
int hka_pipe_scan(hka_walk_t *w);

/* pace.c */
void hka_pace_init(hka_pace_t *p, double share);
int hka_pace_start(hka_pace_t *p, redisContext *c, hka_tick_pt tick,
    void *data);
int hka_pace_batch(hka_pace_t *p, redisContext *c, double busy,
    hka_tick_pt tick, void *data);
int hka_info_cpu(redisContext *c, double *cpu);
int hka_nap(double seconds, hka_tick_pt tick, void *data);
double hka_now(void);

/* creds.c */
int hka_creds_lookup(const char *path, const char *iid, hka_secret_t *s,
    char *err, size_t errlen);
int hka_creds_check(const char *path, char *err, size_t errlen);

/* sched.c */
int hka_sched_due(const char *schedule, int64_t updated_ms, int64_t now_ms,
    int64_t grace_ms, char (*stamps)[HKA_STAMP_LEN], int max);

/* metrics.c */
int hka_metrics_start(const char *host, int port, char *err, size_t errlen);
hka_metrics_t *hka_metrics_lock(void);
void hka_metrics_unlock(void);
void hka_metrics_task(const char *result, uint64_t keys, double seconds,
    const hka_pace_t *pace);

/* log.c */
int hka_log_open(const char *path);
void hka_log(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
