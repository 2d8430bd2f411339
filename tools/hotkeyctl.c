/*
 * hotkeyctl: the operator's tool for the hot key gateway's
 * authentication: mint JWTs, sign AK/SK requests, print JWKS documents.
 */

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "hotkey_action.h"
#include "hotkey_aksign.h"
#include "hotkey_aksk.h"
#include "hotkey_codec.h"
#include "hotkey_creds.h"
#include "hotkey_jwk.h"
#include "hotkey_jwt.h"
#include "hotkey_jwtsign.h"


#define HOTKEYCTL_HEADERS_MAX  (HOTKEY_AKSK_SIGNED_MAX - 2)
#define HOTKEYCTL_BODY_MAX     (64 * 1024 * 1024)


typedef struct {
    const char  *name;
    int        (*run)(int argc, char **argv);
    const char  *summary;
    const char  *usage;
} hotkeyctl_cmd_t;


static int hotkeyctl_token(int argc, char **argv);
static int hotkeyctl_sign(int argc, char **argv);

static int hotkeyctl_jwks(int argc, char **argv);
static int hotkeyctl_help(int argc, char **argv);


static const char  hotkeyctl_token_usage[] =
"usage: hotkeyctl token --key FILE --project ID [options]\n"
"\n"
"Prints a signed JWT for the X-Auth-Token header.\n"
"\n"
"  --key FILE          a PEM private key (RSA >= 2048 bits, EC P-256,\n"
"                      Ed25519) or an HS256 secret file (raw bytes, at\n"
"                      least 32, one trailing newline ignored)\n"
"  --alg ALG           RS256, ES256, EdDSA or HS256; must be the key's\n"
"                      algorithm (default: the key's)\n"
"  --project ID        the project_id claim (required)\n"
"  --actions A,B       the actions claim, from dcs:instance:listHotKey,\n"
"                      dcs:instance:analyze,\n"
"                      dcs:instance:getHotKeyAutoScanConfig,\n"
"                      dcs:instance:updateHotKeyAutoScanConfig,\n"
"                      dcs:instance:*, dcs:*:*, *\n"
"                      (default: dcs:instance:listHotKey)\n"
"  --ttl SECONDS       exp = now + SECONDS (default 3600)\n"
"  --kid ID            the kid header; needed when the gateway's key set\n"
"                      has several keys (hotkeyctl jwks prints each kid)\n"
"  --sub NAME          the sub claim\n"
"  --nbf-offset S      add nbf = now + S (S may be negative)\n"
"  --iat now|none|T    the iat claim: now (default), none, or epoch T\n"
"  --rate R            a rate limit override: N (r/s), Nr/s or Nr/m\n"
"  --burst N           a burst override\n"
"  --now T             take epoch T as the current time (for tests)\n"
"\n"
"example:\n"
"  hotkeyctl token --key es256.pem \\\n"
"      --project 0123456789abcdef0123456789abcdef \\\n"
"      --actions dcs:instance:listHotKey --ttl 600\n";

static const char  hotkeyctl_sign_usage[] =
"usage: hotkeyctl sign --ak AK (--sk SK | --sk-file FILE) --url URL "
"[options]\n"
"\n"
"Signs a request with AK/SK, as the Huawei Cloud SDKs do, and prints\n"
"the headers to send (X-Sdk-Date, Authorization, Host), one per line.\n"
"Host, X-Sdk-Date and every --header are signed.\n"
"\n"
"  --scheme S          SDK-HMAC-SHA256 (default), SDK-HMAC-SM3,\n"
"                      V11-HMAC-SHA256, SDK-ECDSA-P256-SHA256 or\n"
"                      SDK-SM2-SM3\n"
"  --region R          V11-HMAC-SHA256: the region of the scope\n"
"  --service S         V11-HMAC-SHA256: the service of the scope\n"
"  --ak AK             the access key\n"
"  --sk SK             the secret key (visible to ps: prefer --sk-file)\n"
"  --sk-file FILE      a file holding the secret key (one line)\n"
"  --method M          the HTTP method (default GET)\n"
"  --url URL           http[s]://host[:port]/path[?query], the path and\n"
"                      query as they will be sent (percent-encoded)\n"
"  --header 'N: V'     one more header to send and sign (repeatable)\n"
"  --data BODY|@FILE   the request body (default: empty)\n"
"  --date D            X-Sdk-Date as YYYYMMDDTHHMMSSZ (default: now)\n"
"  --signed-headers L  sign only these headers, e.g. host;x-sdk-date\n"
"                      (default: all the headers sent)\n"
"  --canonical         also print the canonical request to stderr\n"
"  --curl [-- ARGS]    run curl with these headers (and any ARGS after\n"
"                      --) instead of printing them\n"
"\n"
"example:\n"
"  hotkeyctl sign --ak AK --sk-file sk.txt --curl \\\n"
"      --url 'http://127.0.0.1:8080/v2/PROJECT/instances/ID/hotkey-tasks'"
"\n";

static const char  hotkeyctl_jwks_usage[] =
"usage: hotkeyctl jwks --key FILE [--key FILE]... [--kid ID]\n"
"\n"
"Prints a JWKS document ({\"keys\":[...]}) with the public part of each\n"
"key (PEM, public or private: RSA, EC P-256, Ed25519), for the gateway's\n"
"key file.\n"
"\n"
"  --key FILE          a PEM key (repeatable)\n"
"  --kid ID            the kid, with a single --key (default: the key's\n"
"                      RFC 7638 thumbprint, the kid the gateway gives a\n"
"                      PEM key)\n";

static const hotkeyctl_cmd_t  hotkeyctl_cmds[] = {
    { "token", hotkeyctl_token, "mint a signed JWT", hotkeyctl_token_usage },
    { "sign", hotkeyctl_sign, "sign a request with AK/SK (any SDK scheme)",
      hotkeyctl_sign_usage },
    { "jwks", hotkeyctl_jwks, "print a JWKS document for public keys",
      hotkeyctl_jwks_usage },
    { "help", hotkeyctl_help, "help on a command", NULL },
    { NULL, NULL, NULL, NULL }
};


static void
hotkeyctl_usage(FILE *out)
{
    const hotkeyctl_cmd_t  *c;

    fprintf(out, "usage: hotkeyctl COMMAND [options]\n"
            "       hotkeyctl COMMAND --help\n\n"
            "The hot key gateway's authentication tool.\n\ncommands:\n");

    for (c = hotkeyctl_cmds; c->name; c++) {
        fprintf(out, "  %-8s%s\n", c->name, c->summary);
    }
}


static int
hotkeyctl_fail(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "hotkeyctl %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(hotkeyctl %s --help for help)\n", cmd);
    return 2;
}


static int
hotkeyctl_number(const char *s, long long *v)
{
    char  *end;

    *v = strtoll(s, &end, 10);
    return *s == '\0' || *end != '\0' ? -1 : 0;
}


typedef struct {
    const char  *key, *alg, *project, *actions, *kid, *sub, *iat, *rate;
    long long    ttl, nbf_offset, burst, now;
    int          has_nbf, has_burst;
} hotkeyctl_token_opts_t;


static int
hotkeyctl_token_args(int argc, char **argv, hotkeyctl_token_opts_t *o)
{
    int                          c;
    static const struct option   opts[] = {
        { "key", required_argument, NULL, 'k' },
        { "alg", required_argument, NULL, 'a' },
        { "project", required_argument, NULL, 'p' },
        { "actions", required_argument, NULL, 'A' },
        { "ttl", required_argument, NULL, 't' },
        { "kid", required_argument, NULL, 'i' },
        { "sub", required_argument, NULL, 's' },
        { "nbf-offset", required_argument, NULL, 'n' },
        { "iat", required_argument, NULL, 'I' },
        { "rate", required_argument, NULL, 'r' },
        { "burst", required_argument, NULL, 'b' },
        { "now", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(o, 0, sizeof(*o));
    o->actions = "dcs:instance:listHotKey";
    o->iat = "now";
    o->ttl = 3600;
    o->now = time(NULL);

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': o->key = optarg; break;
        case 'a': o->alg = optarg; break;
        case 'p': o->project = optarg; break;
        case 'A': o->actions = optarg; break;
        case 'i': o->kid = optarg; break;
        case 's': o->sub = optarg; break;
        case 'I': o->iat = optarg; break;
        case 'r': o->rate = optarg; break;
        case 'h':
            fputs(hotkeyctl_token_usage, stdout);
            return 0;

        case 't':
            if (hotkeyctl_number(optarg, &o->ttl) != 0 || o->ttl <= 0) {
                return hotkeyctl_fail("token", "bad --ttl \"%s\"", optarg);
            }
            break;

        case 'n':
            o->has_nbf = 1;
            if (hotkeyctl_number(optarg, &o->nbf_offset) != 0) {
                return hotkeyctl_fail("token", "bad --nbf-offset \"%s\"",
                                      optarg);
            }
            break;

        case 'b':
            o->has_burst = 1;
            if (hotkeyctl_number(optarg, &o->burst) != 0 || o->burst < 0) {
                return hotkeyctl_fail("token", "bad --burst \"%s\"", optarg);
            }
            break;

        case 'N':
            if (hotkeyctl_number(optarg, &o->now) != 0 || o->now < 0) {
                return hotkeyctl_fail("token", "bad --now \"%s\"", optarg);
            }
            break;

        default:
            return hotkeyctl_fail("token", "%s", "unknown option");
        }
    }

    if (optind < argc) {
        return hotkeyctl_fail("token", "unexpected \"%s\"", argv[optind]);
    }

    if (o->key == NULL || o->project == NULL) {
        return hotkeyctl_fail("token", "%s", "--key and --project are"
                              " required");
    }

    return -1;
}


static int
hotkeyctl_token_claims(hotkeyctl_token_opts_t *o, cJSON *p)
{
    char        *list, *a, *save;
    cJSON       *arr;
    unsigned     rate, period;
    long long    iat;

    cJSON_AddStringToObject(p, "project_id", o->project);

    if (o->sub) {
        cJSON_AddStringToObject(p, "sub", o->sub);
    }

    arr = cJSON_AddArrayToObject(p, "actions");
    list = strdup(o->actions);

    for (a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        if (hotkey_action_parse(a, strlen(a)) == 0) {
            hotkeyctl_fail("token", "unknown action \"%s\"", a);
            free(list);
            return -1;
        }

        cJSON_AddItemToArray(arr, cJSON_CreateString(a));
    }

    free(list);

    if (strcmp(o->iat, "now") == 0) {
        cJSON_AddNumberToObject(p, "iat", (double) o->now);

    } else if (strcmp(o->iat, "none") != 0) {
        if (hotkeyctl_number(o->iat, &iat) != 0 || iat < 0) {
            hotkeyctl_fail("token", "bad --iat \"%s\"", o->iat);
            return -1;
        }

        cJSON_AddNumberToObject(p, "iat", (double) iat);
    }

    if (o->has_nbf) {
        cJSON_AddNumberToObject(p, "nbf", (double) (o->now + o->nbf_offset));
    }

    cJSON_AddNumberToObject(p, "exp", (double) (o->now + o->ttl));

    if (o->rate) {
        if (hotkey_rate_parse(o->rate, strlen(o->rate), &rate, &period) == 0)
        {
            cJSON_AddStringToObject(p, "rate", o->rate);

        } else if (hotkeyctl_number(o->rate, &iat) == 0 && iat > 0
                   && iat <= HOTKEY_CREDS_RATE_MAX)
        {
            cJSON_AddNumberToObject(p, "rate", (double) iat);

        } else {
            hotkeyctl_fail("token", "bad --rate \"%s\"", o->rate);
            return -1;
        }
    }

    if (o->has_burst) {
        cJSON_AddNumberToObject(p, "burst", (double) o->burst);
    }

    return 0;
}


static int
hotkeyctl_token(int argc, char **argv)
{
    int                      rc;
    char                     err[512], *json, *token;
    cJSON                   *payload;
    hotkey_signkey_t        *key;
    hotkeyctl_token_opts_t   o;

    rc = hotkeyctl_token_args(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }

    key = hotkey_signkey_load(o.key, err, sizeof(err));
    if (key == NULL) {
        return hotkeyctl_fail("token", "%s", err);
    }

    if (o.alg && strcmp(o.alg, hotkey_signkey_alg(key)) != 0) {
        hotkey_signkey_free(key);
        return hotkeyctl_fail("token", "--alg %s does not fit the key",
                              o.alg);
    }

    payload = cJSON_CreateObject();
    token = NULL;
    rc = 2;

    if (hotkeyctl_token_claims(&o, payload) == 0) {
        rc = 1;
        json = cJSON_PrintUnformatted(payload);
        token = json ? hotkey_jwt_sign(key, o.kid, json) : NULL;
        cJSON_free(json);

        if (token == NULL) {
            fprintf(stderr, "hotkeyctl token: signing failed\n");
        }
    }

    cJSON_Delete(payload);
    hotkey_signkey_free(key);

    if (token == NULL) {
        return rc;
    }

    printf("%s\n", token);
    free(token);

    return 0;
}


typedef struct {
    const char            *ak, *sk, *sk_file, *method, *url, *data, *date;
    const char            *signed_headers, *region, *service;
    int                    curl, canonical, scheme;
    hotkey_aksk_header_t   h[HOTKEYCTL_HEADERS_MAX + 2];
    size_t                 nh;
    char                  *body;
    size_t                 body_len;
    char                   sk_buf[HOTKEY_CREDS_SK_MAX + 2];
    char                   date_buf[HOTKEY_AKSK_DATE_LEN + 1];
    char                   host[256];
    const char            *path, *query;
    size_t                 path_len, query_len;
} hotkeyctl_sign_t;


static int
hotkeyctl_header(hotkeyctl_sign_t *s, const char *arg)
{
    const char  *colon, *v;

    colon = strchr(arg, ':');

    if (colon == NULL || colon == arg || s->nh == HOTKEYCTL_HEADERS_MAX) {
        return hotkeyctl_fail("sign", "bad or too many --header \"%s\"", arg);
    }

    for (v = colon + 1; *v == ' ' || *v == '\t'; v++) { /* void */ }

    s->h[s->nh].name = arg;
    s->h[s->nh].name_len = colon - arg;
    s->h[s->nh].value = v;
    s->h[s->nh].value_len = strlen(v);
    s->nh++;

    return -1;
}


static int
hotkeyctl_sign_args(int argc, char **argv, hotkeyctl_sign_t *s)
{
    int                          c, rc;
    static const struct option   opts[] = {
        { "ak", required_argument, NULL, 'a' },
        { "sk", required_argument, NULL, 's' },
        { "sk-file", required_argument, NULL, 'S' },
        { "method", required_argument, NULL, 'm' },
        { "url", required_argument, NULL, 'u' },
        { "header", required_argument, NULL, 'H' },
        { "data", required_argument, NULL, 'd' },
        { "date", required_argument, NULL, 'D' },
        { "signed-headers", required_argument, NULL, 'L' },
        { "scheme", required_argument, NULL, 'A' },
        { "region", required_argument, NULL, 'R' },
        { "service", required_argument, NULL, 'V' },
        { "canonical", no_argument, NULL, 'c' },
        { "curl", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    s->method = "GET";

    while ((c = getopt_long(argc, argv, "hH:", opts, NULL)) != -1) {
        switch (c) {
        case 'a': s->ak = optarg; break;
        case 's': s->sk = optarg; break;
        case 'S': s->sk_file = optarg; break;
        case 'm': s->method = optarg; break;
        case 'u': s->url = optarg; break;
        case 'd': s->data = optarg; break;
        case 'D': s->date = optarg; break;
        case 'L': s->signed_headers = optarg; break;
        case 'R': s->region = optarg; break;
        case 'V': s->service = optarg; break;
        case 'A':
            s->scheme = hotkey_akscheme_parse(optarg, strlen(optarg));
            if (s->scheme < 0) {
                return hotkeyctl_fail("sign", "unknown --scheme \"%s\"",
                                      optarg);
            }
            break;
        case 'c': s->canonical = 1; break;
        case 'C': s->curl = 1; break;
        case 'h':
            fputs(hotkeyctl_sign_usage, stdout);
            return 0;

        case 'H':
            rc = hotkeyctl_header(s, optarg);
            if (rc >= 0) {
                return rc;
            }
            break;

        default:
            return hotkeyctl_fail("sign", "%s", "unknown option");
        }
    }

    if (optind < argc && !s->curl) {
        return hotkeyctl_fail("sign", "unexpected \"%s\"", argv[optind]);
    }

    if (s->ak == NULL || s->url == NULL || (s->sk == NULL) == !s->sk_file) {
        return hotkeyctl_fail("sign", "%s", "--ak, --url and one of --sk,"
                              " --sk-file are required");
    }

    if ((s->scheme == HOTKEY_AKSK_V11_HMAC_SHA256)
        != (s->region != NULL && s->service != NULL))
    {
        return hotkeyctl_fail("sign", "%s", "--region and --service go with"
                              " --scheme V11-HMAC-SHA256, and it needs"
                              " both");
    }

    return -1;
}


static int
hotkeyctl_read(const char *path, char **data, size_t *len, size_t max)
{
    FILE    *f;
    size_t   n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }

    *data = malloc(max + 1);
    n = *data ? fread(*data, 1, max + 1, f) : max + 1;
    fclose(f);

    if (n > max) {
        free(*data);
        *data = NULL;
        return -1;
    }

    *len = n;
    return 0;
}


static int
hotkeyctl_sign_inputs(hotkeyctl_sign_t *s)
{
    char        *sk;
    size_t       n;
    const char  *p, *auth, *end;
    time_t       t;

    if (s->sk_file) {
        if (hotkeyctl_read(s->sk_file, &sk, &n, HOTKEY_CREDS_SK_MAX + 1) != 0)
        {
            return hotkeyctl_fail("sign", "cannot read --sk-file %s",
                                  s->sk_file);
        }

        while (n && (sk[n - 1] == '\n' || sk[n - 1] == '\r')) {
            n--;
        }

        memcpy(s->sk_buf, sk, n);
        s->sk_buf[n] = '\0';
        s->sk = s->sk_buf;
        free(sk);
    }

    if (s->data && s->data[0] == '@') {
        if (hotkeyctl_read(s->data + 1, &s->body, &s->body_len,
                           HOTKEYCTL_BODY_MAX) != 0)
        {
            return hotkeyctl_fail("sign", "cannot read --data %s", s->data);
        }

    } else if (s->data) {
        s->body = strdup(s->data);
        s->body_len = strlen(s->data);
    }

    if (s->date) {
        if (hotkey_aksk_parse_date(s->date, strlen(s->date), &t) != 0) {
            return hotkeyctl_fail("sign", "bad --date \"%s\"", s->date);
        }

    } else {
        hotkey_aksk_format_date(time(NULL), s->date_buf);
        s->date = s->date_buf;
    }

    if (strncasecmp(s->url, "http://", 7) == 0) {
        auth = s->url + 7;

    } else if (strncasecmp(s->url, "https://", 8) == 0) {
        auth = s->url + 8;

    } else {
        return hotkeyctl_fail("sign", "the --url \"%s\" is not http[s]://",
                              s->url);
    }

    end = auth + strcspn(auth, "/?#");
    p = memchr(auth, '@', end - auth);
    auth = p ? p + 1 : auth;

    if (end == auth || (size_t) (end - auth) >= sizeof(s->host)) {
        return hotkeyctl_fail("sign", "no host in --url \"%s\"", s->url);
    }

    memcpy(s->host, auth, end - auth);
    s->host[end - auth] = '\0';

    s->path = *end == '/' ? end : "/";
    s->path_len = *end == '/' ? strcspn(end, "?#") : 1;
    p = strchr(end, '?');
    p = p && (size_t) (p - end) < strcspn(end, "#") ? p : NULL;
    s->query = p ? p + 1 : NULL;
    s->query_len = p ? strcspn(p + 1, "#") : 0;

    return -1;
}


static int
hotkeyctl_namecmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* "a;b;c": the lowercase names of all the headers, sorted */

static int
hotkeyctl_signed_list(hotkeyctl_sign_t *s, char *out, size_t size)
{
    char    names[HOTKEYCTL_HEADERS_MAX + 2][128], *sorted[HOTKEYCTL_HEADERS_MAX
                                                          + 2];
    size_t  i, j;

    out[0] = '\0';

    for (i = 0; i < s->nh; i++) {
        if (s->h[i].name_len >= sizeof(names[0])) {
            return -1;
        }

        for (j = 0; j < s->h[i].name_len; j++) {
            names[i][j] = (char) tolower((unsigned char) s->h[i].name[j]);
        }

        names[i][j] = '\0';
        sorted[i] = names[i];
    }

    qsort(sorted, s->nh, sizeof(char *), hotkeyctl_namecmp);

    for (i = 0; i < s->nh; i++) {
        if ((i && strcmp(sorted[i - 1], sorted[i]) == 0)
            || strlen(out) + strlen(sorted[i]) + 2 > size)
        {
            return -1;
        }

        if (i) {
            strcat(out, ";");
        }

        strcat(out, sorted[i]);
    }

    return 0;
}


static void
hotkeyctl_add(hotkeyctl_sign_t *s, const char *name, const char *value)
{
    size_t  i;

    for (i = 0; i < s->nh; i++) {
        if (strlen(name) == s->h[i].name_len
            && strncasecmp(s->h[i].name, name, s->h[i].name_len) == 0)
        {
            return;
        }
    }

    s->h[s->nh].name = name;
    s->h[s->nh].name_len = strlen(name);
    s->h[s->nh].value = value;
    s->h[s->nh].value_len = strlen(value);
    s->nh++;
}


static int
hotkeyctl_curl(hotkeyctl_sign_t *s, const char *auth, int argc, char **argv)
{
    int           i;
    size_t        n;
    char        **av, *line;

    av = calloc(2 * s->nh + argc + 16, sizeof(char *));
    n = 0;
    av[n++] = "curl";
    av[n++] = "-sS";
    av[n++] = "--path-as-is";
    av[n++] = "-g";
    av[n++] = "-X";
    av[n++] = (char *) s->method;

    for (i = 0; i < (int) s->nh; i++) {
        line = malloc(s->h[i].name_len + s->h[i].value_len + 3);
        sprintf(line, "%.*s: %.*s", (int) s->h[i].name_len, s->h[i].name,
                (int) s->h[i].value_len, s->h[i].value);
        av[n++] = "-H";
        av[n++] = line;
    }

    av[n++] = "-H";
    av[n++] = (char *) auth;

    if (s->data) {
        av[n++] = "--data-binary";
        av[n++] = (char *) s->data;
    }

    for (i = optind; i < argc; i++) {
        av[n++] = argv[i];
    }

    av[n++] = (char *) s->url;
    av[n] = NULL;

    fflush(stdout);
    execvp("curl", av);
    perror("hotkeyctl sign: curl");

    return 1;
}


/* the canonical request, malloc'ed, or NULL */

static char *
hotkeyctl_canonical(hotkeyctl_sign_t *s, const char *list, size_t *len)
{
    char                   *canon, hash[2 * HOTKEY_MD_LEN + 1];
    hotkey_md_e             md;
    unsigned char           out[HOTKEY_MD_LEN];
    hotkey_aksk_request_t   r;

    md = hotkey_akscheme_md(s->scheme);

    if (hotkey_digest(md, s->body ? s->body : "", s->body_len, out) != 0) {
        return NULL;
    }

    hotkey_codec_hex(out, sizeof(out), hash);

    memset(&r, 0, sizeof(r));
    r.method = s->method;
    r.method_len = strlen(s->method);
    r.path = s->path;
    r.path_len = s->path_len;
    r.query = s->query;
    r.query_len = s->query_len;
    r.headers = s->h;
    r.nheaders = s->nh;
    r.body_hash = hash;

    hotkey_aksk_canonical_request(&r, md, list, strlen(list), NULL, 0, len);
    canon = malloc(*len + 1);

    if (canon
        && hotkey_aksk_canonical_request(&r, md, list, strlen(list), canon,
                                         *len, len) != HOTKEY_AKSK_OK)
    {
        free(canon);
        canon = NULL;
    }

    return canon;
}


static int
hotkeyctl_sign(int argc, char **argv)
{
    int                     rc;
    char                    list[1024], sig[HOTKEY_AKSIGN_MAX], *canon;
    char                    auth[2048], scope[HOTKEY_AKSK_SCOPE_MAX + 1];
    char                    access[HOTKEY_CREDS_AK_MAX + 16];
    size_t                  len, i;
    hotkeyctl_sign_t        s;

    memset(&s, 0, sizeof(s));

    rc = hotkeyctl_sign_args(argc, argv, &s);
    if (rc < 0) {
        rc = hotkeyctl_sign_inputs(&s);
    }

    if (rc >= 0) {
        free(s.body);
        return rc;
    }

    for (i = 0; i < s.nh; i++) {
        if (s.h[i].name_len == 10
            && strncasecmp(s.h[i].name, "x-sdk-date", 10) == 0)
        {
            return hotkeyctl_fail("sign", "%s", "give the date with --date");
        }
    }

    hotkeyctl_add(&s, "Host", s.host);
    hotkeyctl_add(&s, "X-Sdk-Date", s.date);

    if (s.signed_headers) {
        snprintf(list, sizeof(list), "%s", s.signed_headers);

    } else if (hotkeyctl_signed_list(&s, list, sizeof(list)) != 0) {
        return hotkeyctl_fail("sign", "%s", "a header name is repeated or"
                              " too long");
    }

    scope[0] = '\0';

    if (s.region) {
        snprintf(scope, sizeof(scope), "%.8s/%s/%s", s.date, s.region,
                 s.service);
    }

    canon = hotkeyctl_canonical(&s, list, &len);

    if (canon == NULL
        || hotkey_aksign(s.scheme, s.ak, strlen(s.ak), s.sk, strlen(s.sk),
                         s.date, strlen(s.date), scope, strlen(scope), canon,
                         len, 0, sig) != 0)
    {
        free(canon);
        free(s.body);
        return hotkeyctl_fail("sign", "%s", "cannot sign this request (bad"
                              " percent-encoding in the URL?)");
    }

    if (s.canonical) {
        fprintf(stderr, "%.*s\n", (int) len, canon);
    }

    free(canon);
    free(s.body);

    if (s.region) {
        snprintf(access, sizeof(access), "Credential=%s/", s.ak);

    } else {
        snprintf(access, sizeof(access), "Access=%s", s.ak);
    }

    snprintf(auth, sizeof(auth), "Authorization: %s %s%s, SignedHeaders=%s,"
             " Signature=%s", hotkey_akscheme_name(s.scheme), access, scope,
             list, sig);

    if (s.curl) {
        return hotkeyctl_curl(&s, auth, argc, argv);
    }

    printf("X-Sdk-Date: %s\n%s\n", s.date, auth);

    for (i = 0; i < s.nh; i++) {
        if (s.h[i].name_len == 4 && strncasecmp(s.h[i].name, "host", 4) == 0)
        {
            printf("Host: %.*s\n", (int) s.h[i].value_len, s.h[i].value);
        }
    }

    return 0;
}


static EVP_PKEY *
hotkeyctl_pem_key(const char *path)
{
    BIO       *bio;
    EVP_PKEY  *pkey;

    bio = BIO_new_file(path, "r");
    if (bio == NULL) {
        return NULL;
    }

    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

    if (pkey == NULL) {
        (void) BIO_reset(bio);
        pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    }

    BIO_free(bio);

    return pkey;
}


static int
hotkeyctl_jwks(int argc, char **argv)
{
    int                          c, n;
    char                        *out, tp[HOTKEY_JWK_THUMBPRINT_LEN + 1];
    cJSON                       *root, *keys, *jwk;
    EVP_PKEY                    *pkey;
    const char                  *files[32], *kid;
    static const struct option   opts[] = {
        { "key", required_argument, NULL, 'k' },
        { "kid", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    n = 0;
    kid = NULL;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {

        case 'k':
            if (n == 32) {
                return hotkeyctl_fail("jwks", "%s", "too many --key");
            }

            files[n++] = optarg;
            break;

        case 'i':
            kid = optarg;
            break;

        case 'h':
            fputs(hotkeyctl_jwks_usage, stdout);
            return 0;

        default:
            return hotkeyctl_fail("jwks", "%s", "unknown option");
        }
    }

    if (n == 0 || optind < argc || (kid && n > 1)) {
        return hotkeyctl_fail("jwks", "%s", "give one or more --key, and"
                              " --kid only with one");
    }

    root = cJSON_CreateObject();
    keys = cJSON_AddArrayToObject(root, "keys");

    for (c = 0; c < n; c++) {
        pkey = hotkeyctl_pem_key(files[c]);
        jwk = pkey ? hotkey_jwk_from_pkey(pkey) : NULL;

        if (jwk == NULL || hotkey_jwk_thumbprint(pkey, tp) != 0) {
            EVP_PKEY_free(pkey);
            cJSON_Delete(jwk);
            cJSON_Delete(root);
            return hotkeyctl_fail("jwks", "%s: not an RSA, EC P-256 or"
                                  " Ed25519 PEM key", files[c]);
        }

        EVP_PKEY_free(pkey);
        cJSON_AddStringToObject(jwk, "kid", kid ? kid : tp);
        cJSON_AddItemToArray(keys, jwk);
    }

    out = cJSON_Print(root);
    cJSON_Delete(root);

    if (out == NULL) {
        return 1;
    }

    printf("%s\n", out);
    cJSON_free(out);

    return 0;
}


static int
hotkeyctl_help(int argc, char **argv)
{
    const hotkeyctl_cmd_t  *c;

    if (argc < 2) {
        hotkeyctl_usage(stdout);
        return 0;
    }

    for (c = hotkeyctl_cmds; c->name; c++) {
        if (strcmp(c->name, argv[1]) == 0 && c->usage) {
            fputs(c->usage, stdout);
            return 0;
        }
    }

    fprintf(stderr, "hotkeyctl: no command \"%s\"\n", argv[1]);
    return 2;
}


int
main(int argc, char **argv)
{
    const hotkeyctl_cmd_t  *c;

    if (argc < 2) {
        hotkeyctl_usage(stderr);
        return 2;
    }

    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        hotkeyctl_usage(stdout);
        return 0;
    }

    for (c = hotkeyctl_cmds; c->name; c++) {
        if (strcmp(c->name, argv[1]) == 0) {
            return c->run(argc - 1, argv + 1);
        }
    }

    fprintf(stderr, "hotkeyctl: unknown command \"%s\"\n\n", argv[1]);
    hotkeyctl_usage(stderr);

    return 2;
}
