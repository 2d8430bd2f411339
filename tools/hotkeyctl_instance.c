/*
 * hotkeyctl instance add|list|remove: the instances to analyse, in the
 * store's schema (README, "The store schema"): the hash
 * hotkey:{<iid>}:instance (project_id, eviction_policy, addr, mode, tls,
 * created_at) and the set hotkey:registry.  add reads the target's
 * maxmemory-policy itself.  A password of the target is only sent to the
 * target (AUTH); it is never written to the store nor printed.
 */

#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

#include "hotkey_route.h"
#include "hotkey_store_client.h"
#include "hotkey_time.h"
#include "hotkey_tls.h"
#include "hotkeyctl.h"


#define HKI_CMD        "instance"
#define HKI_REGISTRY   "hotkey:registry"
#define HKI_CHANNEL    "hotkey:changes"
#define HKI_PASS_MAX   1024
#define HKI_POLICY_MAX 64


typedef struct {
    const char         *store, *store_pass, *project, *instance, *addr;
    const char         *mode, *pass, *user, *policy;
    int                 tls, force, json, store_tls;
    int                 tls_opts, store_tls_opts;   /* --[store-]tls-* */
    long long           timeout;
    hotkey_tls_conf_t   store_tc;
    hotkey_tls_conf_t   tc;                         /* the target's */
} hki_opts_t;

enum {
    HKI_STORE_TLS = 256,
    HKI_STORE_TLS_CA,
    HKI_STORE_TLS_CERT,
    HKI_STORE_TLS_KEY,
    HKI_STORE_TLS_NAME,
    HKI_STORE_TLS_NO_VERIFY,
    HKI_TLS_CA,
    HKI_TLS_CERT,
    HKI_TLS_KEY,
    HKI_TLS_NAME,
    HKI_TLS_NO_VERIFY
};


const char  hotkeyctl_instance_usage[] =
"usage: hotkeyctl instance add --project P --instance IID --addr HOST:PORT\n"
"                              [options]\n"
"       hotkeyctl instance list [--json] [options]\n"
"       hotkeyctl instance remove --instance IID [--force] [options]\n"
"\n"
"Registers the Redis instances that hot key analysis reads, in the store\n"
"the gateway and the analyzers share (the instance hash and\n"
"hotkey:registry of the README's store schema).\n"
"\n"
"add connects to the instance to analyse (--addr), reads its\n"
"maxmemory-policy (CONFIG GET, else INFO memory) and writes project_id,\n"
"eviction_policy, addr, mode, tls and created_at (kept when the instance\n"
"is added again).  An instance whose policy is not allkeys-lfu or\n"
"volatile-lfu is recorded all the same: the API answers DCS.4922 for it.\n"
"An instance already registered to another project needs --force.\n"
"list prints every registered instance (and instance hashes written by\n"
"hand, registered=no), with its number of task records.\n"
"remove deletes the instance hash and its registry entry; it refuses\n"
"while the instance has task records, unless --force, which deletes\n"
"every key of the instance (tasks, hot keys, queue, settings) too.\n"
"Each change is published on hotkey:changes, so gateways drop the\n"
"instance's cached answers.\n"
"\n"
"  --store HOST:PORT     the store (default 127.0.0.1:6379; unix:PATH)\n"
"  --store-password-file F  AUTH to the store with the file's first line\n"
"  --store-tls           TLS to the store (every node of a cluster)\n"
"  --store-tls-ca FILE   its trusted CAs, PEM (default: the system's)\n"
"  --store-tls-cert FILE a client certificate (PEM) for the store, with\n"
"  --store-tls-key FILE  its key (Redis's tls-auth-clients yes)\n"
"  --store-tls-name NAME the name to verify in the store's certificate,\n"
"                        and its SNI (an IP: checked against IP SANs);\n"
"                        without it only the chain is verified\n"
"  --store-tls-no-verify do not verify the store (maintenance only)\n"
"  --project P           the owning project (32 hex digits or a UUID)\n"
"  --instance IID        the instance id (a lowercase UUID)\n"
"  --addr HOST:PORT      the Redis to analyse: standalone, or one node of\n"
"                        its cluster (unix:PATH too)\n"
"  --mode M              standalone (default) or cluster\n"
"  --tls                 the instance speaks TLS: recorded, and its\n"
"                        policy is read over TLS\n"
"  --tls-ca, --tls-cert, --tls-key, --tls-name, --tls-no-verify\n"
"                        as the --store-tls-* ones, for the instance\n"
"                        (the analyzer reads its own: its credentials\n"
"                        file)\n"
"  --password-file F     the instance's password (first line), to read\n"
"                        its policy; never stored, never printed\n"
"  --user U              the ACL user for --password-file\n"
"  --policy P            record P and do not connect to the instance\n"
"  --force               see add and remove above\n"
"  --json                list as a JSON array\n"
"  --timeout S           connect and command timeout (default 5)\n"
"\n"
"exit status: 0 done, 1 refused or failed (reason on stderr), 2 usage\n"
"\n"
"example:\n"
"  hotkeyctl instance add --store 127.0.0.1:6390 \\\n"
"      --project 0123456789abcdef0123456789abcdef \\\n"
"      --instance 5560df16-cebf-4473-95c4-d1b573c16e79 \\\n"
"      --addr 10.0.0.7:6379 --password-file /etc/hotkey/redis-pass\n";


/* KEYS[1] the instance hash; ARGV project policy addr mode tls now force */
static const char  hki_add_lua[] =
"local p = redis.call('HGET', KEYS[1], 'project_id')\n"
"if p and p ~= ARGV[1] and ARGV[7] ~= '1' then\n"
"  return redis.error_reply('PROJECT ' .. p)\n"
"end\n"
"redis.call('HSET', KEYS[1], 'project_id', ARGV[1], 'eviction_policy',\n"
"  ARGV[2], 'addr', ARGV[3], 'mode', ARGV[4])\n"
"if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'tls', '1')\n"
"else redis.call('HDEL', KEYS[1], 'tls') end\n"
"return redis.call('HSETNX', KEYS[1], 'created_at', ARGV[6])\n";

/* KEYS[1] the instance hash, KEYS[2] its task index; ARGV[1] force */
static const char  hki_remove_lua[] =
"local n = redis.call('ZCARD', KEYS[2])\n"
"if n > 0 and ARGV[1] ~= '1' then\n"
"  return redis.error_reply('TASKS ' .. n)\n"
"end\n"
"return redis.call('DEL', KEYS[1])\n";


static int
hki_err(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "hotkeyctl instance: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 1;
}


/* the instance over TLS; c->err set and errstr said when it fails */
static redisContext *
hki_connect_tls(hki_opts_t *o, const char *host, int port,
    struct timeval tv, char *why, size_t size)
{
    redisContext  *c;
    hotkey_tls_t  *tls;

    tls = hotkey_tls_new(&o->tc, why, size);
    c = tls ? hotkey_tls_connect(tls, host, port, tv, why, size) : NULL;
    hotkey_tls_free(tls);

    return c;
}


static redisContext *
hki_connect(hki_opts_t *o, const char *what, const char *hostport)
{
    char            host[256], why[256];
    const char     *colon;
    long long       port;
    redisContext   *c;
    struct timeval  tv = { (time_t) o->timeout, 0 };

    snprintf(why, sizeof(why), "out of memory");

    if (strncmp(hostport, "unix:", 5) == 0) {
        c = o->tls ? NULL : redisConnectUnixWithTimeout(hostport + 5, tv);
        if (o->tls) {
            snprintf(why, sizeof(why), "no TLS on a unix socket");
        }

    } else {
        colon = strrchr(hostport, ':');

        if (colon == NULL || colon == hostport
            || (size_t) (colon - hostport) >= sizeof(host)
            || hotkeyctl_number(colon + 1, &port) != 0
            || port < 1 || port > 65535)
        {
            hki_err("%s: \"%s\" is not HOST:PORT", what, hostport);
            return NULL;
        }

        memcpy(host, hostport, colon - hostport);
        host[colon - hostport] = '\0';

        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host) - 2);
            host[strlen(host) - 2] = '\0';
        }

        c = o->tls ? hki_connect_tls(o, host, (int) port, tv, why,
                                     sizeof(why))
                   : redisConnectWithTimeout(host, (int) port, tv);
    }

    if (c == NULL || c->err) {
        fprintf(stderr, "hotkeyctl instance: cannot connect to the %s at"
                " %s: %s\n", what, hostport,
                c ? hotkey_redis_why(c, why) : why);
        hotkey_redis_free(c);
        return NULL;
    }

    redisSetTimeout(c, tv);

    return c;
}


/* the first line of a password file, into buf */
static int
hki_password(const char *path, char *buf, size_t size)
{
    char    *data;
    size_t   n, i;

    if (hotkeyctl_read(path, &data, &n, size - 1) != 0) {
        return hki_err("cannot read the password file %s%s", path, "");
    }

    for (i = 0; i < n && data[i] != '\n' && data[i] != '\r'; i++) {
        buf[i] = data[i];
    }

    buf[i] = '\0';
    OPENSSL_cleanse(data, size - 1);
    free(data);

    return 0;
}


/* AUTH with the password file's first line (user optional): 0 or 1 */
static int
hki_auth(redisContext *c, const char *what, const char *file,
    const char *user)
{
    int          rc;
    char         pass[HKI_PASS_MAX];
    redisReply  *r;

    if (file == NULL) {
        return 0;
    }

    if (hki_password(file, pass, sizeof(pass)) != 0) {
        return 1;
    }

    r = user ? redisCommand(c, "AUTH %s %s", user, pass)
             : redisCommand(c, "AUTH %s", pass);
    OPENSSL_cleanse(pass, sizeof(pass));

    rc = 0;

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        rc = hki_err("the %s refused AUTH: %s", what,
                     r ? r->str : hotkey_redis_why(c, "no reply"));
    }

    freeReplyObject(r);

    return rc;
}


static void
hki_store_free(hotkey_sc_t *sc)
{
    hotkey_sc_close(sc);
    free(sc);
}


/* the store: one Redis, or any node of a cluster (hotkey_store_client) */

static hotkey_sc_t *
hki_store(hki_opts_t *o)
{
    int           rc;
    char          pass[HKI_PASS_MAX];
    hotkey_sc_t  *sc;

    sc = malloc(sizeof(hotkey_sc_t));
    if (sc == NULL) {
        hki_err("out of memory%s%s", "", "");
        return NULL;
    }

    rc = hotkey_sc_init(sc, o->store, o->timeout * 1000, o->timeout * 1000);

    if (rc == 0 && o->store_tls) {
        rc = hotkey_sc_tls(sc, &o->store_tc);
    }

    if (rc == 0 && o->store_pass) {
        rc = hki_password(o->store_pass, pass, sizeof(pass));
        rc = rc ? rc : hotkey_sc_auth(sc, NULL, pass);
        OPENSSL_cleanse(pass, sizeof(pass));
    }

    if (rc == 0 && hotkey_sc_open(sc) != 0) {
        hki_err("cannot connect to the store at %s: %s", o->store, sc->err);
        rc = 1;

    } else if (rc < 0) {
        hki_err("%s%s", sc->err, "");
    }

    if (rc != 0) {
        hki_store_free(sc);
        return NULL;
    }

    return sc;
}


/* "maxmemory_policy:<p>\r\n" in an INFO reply */
static int
hki_info_policy(redisContext *c, char *policy, size_t size, char *why,
    size_t why_size)
{
    int          rc;
    char        *p;
    size_t       n;
    redisReply  *r;

    r = redisCommand(c, "INFO memory");
    rc = -1;

    if (r && r->type == REDIS_REPLY_STRING
        && (p = strstr(r->str, "maxmemory_policy:")) != NULL)
    {
        p += sizeof("maxmemory_policy:") - 1;
        n = strcspn(p, "\r\n");

        if (n > 0 && n < size) {
            memcpy(policy, p, n);
            policy[n] = '\0';
            rc = 0;
        }
    }

    snprintf(why, why_size, "%s", r == NULL ? hotkey_redis_why(c, "no reply")
             : r->type == REDIS_REPLY_ERROR ? r->str : "no maxmemory_policy");
    freeReplyObject(r);

    return rc;
}


/* CONFIG GET maxmemory-policy, else INFO memory: 0 or 1 (reported) */
static int
hki_read_policy(redisContext *c, const char *addr, char *policy,
    size_t size)
{
    char         why[256], why2[256];
    redisReply  *r;

    r = redisCommand(c, "CONFIG GET maxmemory-policy");

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[1]->type == REDIS_REPLY_STRING
        && r->element[1]->len > 0 && r->element[1]->len < size)
    {
        memcpy(policy, r->element[1]->str, r->element[1]->len + 1);
        freeReplyObject(r);
        return 0;
    }

    snprintf(why, sizeof(why), "%s",
             r == NULL ? hotkey_redis_why(c, "no reply")
             : r->type == REDIS_REPLY_ERROR ? r->str : "no value");
    freeReplyObject(r);

    if (c->err == 0
        && hki_info_policy(c, policy, size, why2, sizeof(why2)) == 0)
    {
        fprintf(stderr, "hotkeyctl instance: CONFIG GET refused (%s);"
                " maxmemory-policy read from INFO\n", why);
        return 0;
    }

    fprintf(stderr, "hotkeyctl instance: cannot read the maxmemory-policy"
            " of %s: CONFIG GET: %s; INFO memory: %s (give --password-file,"
            " or record it with --policy)\n", addr, why,
            c->err ? hotkey_redis_why(c, why2) : why2);

    return 1;
}


static int
hki_target_policy(hki_opts_t *o, char *policy, size_t size)
{
    int            rc;
    redisContext  *c;

    if (o->policy) {
        snprintf(policy, size, "%s", o->policy);
        return 0;
    }

    c = hki_connect(o, "instance", o->addr);
    if (c == NULL) {
        return 1;
    }

    rc = hki_auth(c, "instance", o->pass, o->user);

    if (rc == 0) {
        rc = hki_read_policy(c, o->addr, policy, size);
    }

    hotkey_redis_free(c);

    return rc;
}


static int
hki_policy_valid(const char *p)
{
    size_t  n;

    n = strlen(p);

    return n > 0 && n < HKI_POLICY_MAX
           && strspn(p, "abcdefghijklmnopqrstuvwxyz-") == n;
}


static int
hki_analysable(const char *p)
{
    return p && (strcmp(p, "allkeys-lfu") == 0
                 || strcmp(p, "volatile-lfu") == 0);
}


static int64_t
hki_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
hki_publish(hotkey_sc_t *sc, const char *iid)
{
    freeReplyObject(hotkey_sc_command(sc, NULL, "PUBLISH %s %s", HKI_CHANNEL,
                                      iid));
}


/* the add script, SADD, PUBLISH: 0 or 1 */
static int
hki_write(hotkey_sc_t *sc, hki_opts_t *o, const char *policy)
{
    int          rc;
    char         key[128], now[32];
    redisReply  *r;

    snprintf(key, sizeof(key), "hotkey:{%s}:instance", o->instance);
    snprintf(now, sizeof(now), "%lld", (long long) hki_now_ms());

    r = hotkey_sc_command(sc, key, "EVAL %s 1 %s %s %s %s %s %s %s %s",
                          hki_add_lua, key, o->project, policy, o->addr,
                          o->mode, o->tls ? "1" : "0", now,
                          o->force ? "1" : "0");

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (r && strncmp(r->str, "PROJECT ", 8) == 0) {
            rc = hki_err("%s is registered to project %s; --force moves"
                         " it", o->instance, r->str + 8);

        } else {
            rc = hki_err("the store failed: %s%s", r ? r->str : sc->err,
                         "");
        }

        freeReplyObject(r);
        return rc;
    }

    rc = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);

    r = hotkey_sc_command(sc, HKI_REGISTRY, "SADD %s %s", HKI_REGISTRY,
                          o->instance);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        hki_err("the store failed: %s%s", r ? r->str : sc->err, "");
        freeReplyObject(r);
        return 1;
    }

    freeReplyObject(r);
    hki_publish(sc, o->instance);

    printf("instance %s of project %s: %s (%s%s), maxmemory-policy %s: %s\n",
           o->instance, o->project, o->addr, o->mode, o->tls ? ", tls" : "",
           policy, rc ? "updated" : "registered");

    if (!hki_analysable(policy)) {
        printf("note: hot key analysis needs allkeys-lfu or volatile-lfu;"
               " the API answers DCS.4922 for this instance\n");
    }

    return 0;
}


static int
hki_add(hki_opts_t *o)
{
    int            rc;
    char           policy[HKI_POLICY_MAX];
    hotkey_sc_t   *sc;

    if (o->project == NULL || o->instance == NULL || o->addr == NULL) {
        return hotkeyctl_fail(HKI_CMD, "%s", "add needs --project,"
                              " --instance and --addr");
    }

    if (!hotkey_project_id_valid(o->project, strlen(o->project))) {
        return hotkeyctl_fail(HKI_CMD, "bad --project \"%s\"", o->project);
    }

    if (strcmp(o->mode, "standalone") != 0 && strcmp(o->mode, "cluster"))
    {
        return hotkeyctl_fail(HKI_CMD, "bad --mode \"%s\"", o->mode);
    }

    if (o->policy && !hki_policy_valid(o->policy)) {
        return hotkeyctl_fail(HKI_CMD, "bad --policy \"%s\"", o->policy);
    }

    if (hki_target_policy(o, policy, sizeof(policy)) != 0) {
        return 1;
    }

    if (!hki_policy_valid(policy)) {
        return hki_err("%s answered an odd maxmemory-policy \"%s\"",
                       o->addr, policy);
    }

    sc = hki_store(o);
    if (sc == NULL) {
        return 1;
    }

    rc = hki_write(sc, o, policy);
    hki_store_free(sc);

    return rc;
}


/* ---------------------------------------------------------------- list */


static int
hki_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* the value of field f in an HGETALL reply, or NULL */
static const char *
hki_field(redisReply *h, const char *f)
{
    size_t  i;

    for (i = 0; h && i + 1 < h->elements; i += 2) {
        if (h->element[i]->type == REDIS_REPLY_STRING
            && strcmp(h->element[i]->str, f) == 0
            && h->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return h->element[i + 1]->str;
        }
    }

    return NULL;
}


static cJSON *
hki_entry(hotkey_sc_t *sc, const char *iid, int registered)
{
    char         key[160], iso[HOTKEY_TIME_LEN + 1];
    cJSON       *e;
    int64_t      ms;
    const char  *v;
    redisReply  *h, *n;

    snprintf(key, sizeof(key), "hotkey:{%s}:instance", iid);
    h = hotkey_sc_command(sc, key, "HGETALL %s", key);
    snprintf(key, sizeof(key), "hotkey:{%s}:tasks", iid);
    n = hotkey_sc_command(sc, key, "ZCARD %s", key);

    e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "instance_id", iid);

    v = hki_field(h, "project_id");
    cJSON_AddItemToObject(e, "project_id",
                          v ? cJSON_CreateString(v) : cJSON_CreateNull());
    v = hki_field(h, "eviction_policy");
    cJSON_AddItemToObject(e, "eviction_policy",
                          v ? cJSON_CreateString(v) : cJSON_CreateNull());
    cJSON_AddBoolToObject(e, "analysable", hki_analysable(v));
    v = hki_field(h, "addr");
    cJSON_AddItemToObject(e, "addr",
                          v ? cJSON_CreateString(v) : cJSON_CreateNull());
    v = hki_field(h, "mode");
    cJSON_AddItemToObject(e, "mode",
                          v ? cJSON_CreateString(v) : cJSON_CreateNull());
    v = hki_field(h, "tls");
    cJSON_AddBoolToObject(e, "tls", v && strcmp(v, "1") == 0);

    v = hki_field(h, "created_at");
    if (v && hotkey_ms_parse(v, strlen(v), &ms) == 0) {
        hotkey_ms_format(ms, iso);
        cJSON_AddStringToObject(e, "created_at", iso);

    } else {
        cJSON_AddNullToObject(e, "created_at");
    }

    cJSON_AddBoolToObject(e, "registered", registered);
    cJSON_AddBoolToObject(e, "exists", h && h->elements > 0);
    cJSON_AddNumberToObject(e, "tasks", n && n->type == REDIS_REPLY_INTEGER
                                        ? (double) n->integer : 0);

    freeReplyObject(h);
    freeReplyObject(n);

    return e;
}


static void
hki_print_entry(cJSON *e)
{
    static const char  *f[] = { "project_id", "addr", "mode", "tls",
                                "eviction_policy", "analysable",
                                "created_at", "tasks", "registered",
                                "exists", NULL };
    size_t              i;
    cJSON              *v;

    printf("%s", cJSON_GetObjectItem(e, "instance_id")->valuestring);

    for (i = 0; f[i]; i++) {
        v = cJSON_GetObjectItem(e, f[i]);

        if (cJSON_IsString(v)) {
            printf(" %s=%s", f[i], v->valuestring);

        } else if (cJSON_IsBool(v)) {
            printf(" %s=%s", f[i], cJSON_IsTrue(v) ? "yes" : "no");

        } else if (cJSON_IsNumber(v)) {
            printf(" %s=%.0f", f[i], v->valuedouble);

        } else if (strcmp(f[i], "exists") != 0) {
            printf(" %s=-", f[i]);
        }
    }

    printf("\n");
}


/* is iid in the registry? */
static int
hki_registered(redisReply *reg, const char *iid)
{
    size_t  j;

    for (j = 0; j < reg->elements; j++) {
        if (strcmp(reg->element[j]->str, iid) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * ids of instance hashes not in the registry (written by hand), on one
 * master of the store
 */
static void
hki_unregistered_on(hotkey_sc_t *sc, unsigned m, redisReply *reg,
    cJSON *out)
{
    char         cursor[32] = "0", iid[64];
    size_t       i, n;
    redisReply  *r, *keys;

    do {
        r = hotkey_sc_command_at(sc, m, "SCAN %s MATCH hotkey:{*}:instance"
                                 " COUNT 1000", cursor);

        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return;
        }

        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        keys = r->element[1];

        for (i = 0; i < keys->elements; i++) {
            n = keys->element[i]->len;
            if (n <= 18 || n - 18 >= sizeof(iid)) {
                continue;
            }

            memcpy(iid, keys->element[i]->str + 8, n - 18);
            iid[n - 18] = '\0';

            if (!hki_registered(reg, iid)) {
                cJSON_AddItemToArray(out, hki_entry(sc, iid, 0));
            }
        }

        freeReplyObject(r);

    } while (strcmp(cursor, "0") != 0);
}


static void
hki_unregistered(hotkey_sc_t *sc, redisReply *reg, cJSON *out)
{
    unsigned  m, n;

    n = hotkey_sc_masters(sc);

    for (m = 0; m < n; m++) {
        hki_unregistered_on(sc, m, reg, out);
    }
}


static int
hki_list(hki_opts_t *o)
{
    char          **ids, *s;
    cJSON          *out, *e;
    size_t          i;
    redisReply     *reg;
    hotkey_sc_t    *sc;

    sc = hki_store(o);
    if (sc == NULL) {
        return 1;
    }

    reg = hotkey_sc_command(sc, HKI_REGISTRY, "SMEMBERS %s", HKI_REGISTRY);
    if (reg == NULL || reg->type != REDIS_REPLY_ARRAY) {
        hki_err("the store failed: %s%s", reg ? reg->str : sc->err, "");
        freeReplyObject(reg);
        hki_store_free(sc);
        return 1;
    }

    ids = calloc(reg->elements + 1, sizeof(char *));
    for (i = 0; i < reg->elements; i++) {
        ids[i] = reg->element[i]->str;
    }

    qsort(ids, reg->elements, sizeof(char *), hki_strcmp);

    out = cJSON_CreateArray();
    for (i = 0; i < reg->elements; i++) {
        cJSON_AddItemToArray(out, hki_entry(sc, ids[i], 1));
    }

    hki_unregistered(sc, reg, out);
    free(ids);
    freeReplyObject(reg);
    hki_store_free(sc);

    if (o->json) {
        s = cJSON_Print(out);
        printf("%s\n", s);
        cJSON_free(s);

    } else {
        cJSON_ArrayForEach(e, out) {
            hki_print_entry(e);
        }
    }

    cJSON_Delete(out);

    return 0;
}


/* ---------------------------------------------------------------- remove */


/*
 * every key of the instance, after the hash went (--force); they share
 * the instance's slot, so they are all on the master of its hash
 */
static long long
hki_purge(hotkey_sc_t *sc, const char *iid)
{
    char         cursor[32] = "0", match[96], key[96];
    size_t       i;
    long long    n;
    redisReply  *r, *d;

    snprintf(match, sizeof(match), "hotkey:{%s}:*", iid);
    snprintf(key, sizeof(key), "hotkey:{%s}:instance", iid);
    n = 0;

    do {
        r = hotkey_sc_command(sc, key, "SCAN %s MATCH %s COUNT 1000", cursor,
                              match);

        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return -1;
        }

        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);

        for (i = 0; i < r->element[1]->elements; i++) {
            d = hotkey_sc_command(sc, key, "DEL %b",
                                  r->element[1]->element[i]->str,
                                  r->element[1]->element[i]->len);
            n += d && d->type == REDIS_REPLY_INTEGER ? d->integer : 0;
            freeReplyObject(d);
        }

        freeReplyObject(r);

    } while (strcmp(cursor, "0") != 0);

    return n;
}


static int
hki_remove_keys(hotkey_sc_t *sc, hki_opts_t *o, long long *hash)
{
    int          rc;
    char         key[128], idx[128];
    redisReply  *r;

    snprintf(key, sizeof(key), "hotkey:{%s}:instance", o->instance);
    snprintf(idx, sizeof(idx), "hotkey:{%s}:tasks", o->instance);

    r = hotkey_sc_command(sc, key, "EVAL %s 2 %s %s %s", hki_remove_lua, key,
                          idx, o->force ? "1" : "0");
    rc = 0;

    if (r && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "TASKS ", 6) == 0)
    {
        rc = hki_err("instance %s has %s task records: delete them first"
                     " (hotkeyctl api delete), or give --force to delete"
                     " them with the instance", o->instance, r->str + 6);

    } else if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        rc = hki_err("the store failed: %s%s", r ? r->str : sc->err, "");

    } else {
        *hash = r->integer;
    }

    freeReplyObject(r);

    return rc;
}


static int
hki_remove(hki_opts_t *o)
{
    long long      hash = 0, reg, other;
    redisReply    *r;
    hotkey_sc_t   *sc;

    sc = hki_store(o);
    if (sc == NULL) {
        return 1;
    }

    if (hki_remove_keys(sc, o, &hash) != 0) {
        hki_store_free(sc);
        return 1;
    }

    r = hotkey_sc_command(sc, HKI_REGISTRY, "SREM %s %s", HKI_REGISTRY,
                          o->instance);
    reg = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);

    other = o->force ? hki_purge(sc, o->instance) : 0;
    hki_publish(sc, o->instance);
    hki_store_free(sc);

    if (hash == 0 && reg == 0 && other <= 0) {
        return hki_err("no instance %s in the store%s", o->instance, "");
    }

    printf("instance %s removed", o->instance);

    if (other > 0) {
        printf(" with %lld more keys (its tasks and settings)", other);
    }

    printf("\n");

    return 0;
}


/* ---------------------------------------------------------------- args */


static void
hki_tls_arg(hki_opts_t *o, int c)
{
    hotkey_tls_conf_t  *tc;

    if (c == HKI_STORE_TLS) {
        o->store_tls = 1;
        return;
    }

    if (c < HKI_TLS_CA) {
        tc = &o->store_tc;
        o->store_tls_opts = 1;
        c += HKI_TLS_CA - HKI_STORE_TLS_CA;

    } else {
        tc = &o->tc;
        o->tls_opts = 1;
    }

    switch (c) {
    case HKI_TLS_CA: tc->ca = optarg; break;
    case HKI_TLS_CERT: tc->cert = optarg; break;
    case HKI_TLS_KEY: tc->key = optarg; break;
    case HKI_TLS_NAME: tc->name = optarg; break;
    default: tc->no_verify = 1;
    }
}


static int
hki_tls_check(hki_opts_t *o)
{
    if (o->store_tls_opts && !o->store_tls) {
        return hotkeyctl_fail(HKI_CMD, "%s", "the --store-tls-* options go"
                              " with --store-tls");
    }

    if (o->tls_opts && !o->tls) {
        return hotkeyctl_fail(HKI_CMD, "%s", "the --tls-* options go with"
                              " --tls");
    }

    if ((o->store_tc.cert == NULL) != (o->store_tc.key == NULL)
        || (o->tc.cert == NULL) != (o->tc.key == NULL))
    {
        return hotkeyctl_fail(HKI_CMD, "%s", "a client certificate"
                              " (--[store-]tls-cert) needs its key"
                              " (--[store-]tls-key), and a key its"
                              " certificate");
    }

    return -1;
}


static int
hki_args(int argc, char **argv, hki_opts_t *o)
{
    int                          c;
    static const struct option   opts[] = {
        { "store", required_argument, NULL, 's' },
        { "store-password-file", required_argument, NULL, 'S' },
        { "project", required_argument, NULL, 'p' },
        { "instance", required_argument, NULL, 'i' },
        { "addr", required_argument, NULL, 'a' },
        { "mode", required_argument, NULL, 'm' },
        { "tls", no_argument, NULL, 't' },
        { "password-file", required_argument, NULL, 'P' },
        { "user", required_argument, NULL, 'u' },
        { "policy", required_argument, NULL, 'y' },
        { "force", no_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 'T' },
        { "store-tls", no_argument, NULL, HKI_STORE_TLS },
        { "store-tls-ca", required_argument, NULL, HKI_STORE_TLS_CA },
        { "store-tls-cert", required_argument, NULL, HKI_STORE_TLS_CERT },
        { "store-tls-key", required_argument, NULL, HKI_STORE_TLS_KEY },
        { "store-tls-name", required_argument, NULL, HKI_STORE_TLS_NAME },
        { "store-tls-no-verify", no_argument, NULL,
          HKI_STORE_TLS_NO_VERIFY },
        { "tls-ca", required_argument, NULL, HKI_TLS_CA },
        { "tls-cert", required_argument, NULL, HKI_TLS_CERT },
        { "tls-key", required_argument, NULL, HKI_TLS_KEY },
        { "tls-name", required_argument, NULL, HKI_TLS_NAME },
        { "tls-no-verify", no_argument, NULL, HKI_TLS_NO_VERIFY },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c >= HKI_STORE_TLS) {
            hki_tls_arg(o, c);
            continue;
        }

        switch (c) {
        case 's': o->store = optarg; break;
        case 'S': o->store_pass = optarg; break;
        case 'p': o->project = optarg; break;
        case 'i': o->instance = optarg; break;
        case 'a': o->addr = optarg; break;
        case 'm': o->mode = optarg; break;
        case 't': o->tls = 1; break;
        case 'P': o->pass = optarg; break;
        case 'u': o->user = optarg; break;
        case 'y': o->policy = optarg; break;
        case 'f': o->force = 1; break;
        case 'j': o->json = 1; break;
        case 'h':
            fputs(hotkeyctl_instance_usage, stdout);
            return 0;

        case 'T':
            if (hotkeyctl_number(optarg, &o->timeout) != 0
                || o->timeout < 1 || o->timeout > 3600)
            {
                return hotkeyctl_fail(HKI_CMD, "bad --timeout \"%s\"",
                                      optarg);
            }
            break;

        default:
            return hotkeyctl_fail(HKI_CMD, "%s", "unknown option");
        }
    }

    if (optind < argc) {
        return hotkeyctl_fail(HKI_CMD, "unexpected \"%s\"", argv[optind]);
    }

    return hki_tls_check(o);
}


int
hotkeyctl_instance(int argc, char **argv)
{
    int          rc;
    const char  *verb;
    hki_opts_t   o;

    memset(&o, 0, sizeof(o));
    signal(SIGPIPE, SIG_IGN);
    o.store = "127.0.0.1:6379";
    o.mode = "standalone";
    o.timeout = 5;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0
                      || strcmp(argv[1], "-h") == 0))
    {
        fputs(hotkeyctl_instance_usage, stdout);
        return 0;
    }

    if (argc < 2 || argv[1][0] == '-') {
        return hotkeyctl_fail(HKI_CMD, "%s", "add, list or remove?");
    }

    verb = argv[1];

    rc = hki_args(argc - 1, argv + 1, &o);
    if (rc >= 0) {
        return rc;
    }

    if (o.instance && !hotkey_uuid_valid(o.instance, strlen(o.instance))) {
        return hotkeyctl_fail(HKI_CMD, "bad --instance \"%s\" (a lowercase"
                              " UUID)", o.instance);
    }

    if (strcmp(verb, "add") == 0) {
        return hki_add(&o);
    }

    if (strcmp(verb, "list") == 0) {
        return hki_list(&o);
    }

    if (strcmp(verb, "remove") == 0) {
        return o.instance ? hki_remove(&o)
               : hotkeyctl_fail(HKI_CMD, "%s", "remove needs --instance");
    }

    return hotkeyctl_fail(HKI_CMD, "unknown \"%s\": add, list or remove",
                          verb);
}
