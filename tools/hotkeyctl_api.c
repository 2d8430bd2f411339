/*
 * hotkeyctl api: one call of the hot key API over plain HTTP, with a
 * token or signed with AK/SK as hotkeyctl sign signs (and as the SDKs
 * send: Content-Type and X-Project-Id signed too); prints the status
 * line and the body.
 */

#define _GNU_SOURCE                 /* strcasestr */

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hotkeyctl.h"


#define HKA_CMD       "api"
#define HKA_RESP_MAX  (64 * 1024 * 1024)
#define HKA_TOKEN_MAX (64 * 1024)


typedef struct {
    const char        *op, *base, *project, *instance, *task, *token;
    const char        *token_file, *enable, *at, *offset, *limit, *status;
    int                include;
    long long          timeout;
    hotkeyctl_sign_t   s;
    char              *url, *token_buf;
} hka_opts_t;


typedef struct {
    char    *data;
    size_t   len, size;
} hka_buf_t;


const char  hotkeyctl_api_usage[] =
"usage: hotkeyctl api OPERATION --url BASE --project P --instance IID\n"
"                     (--token T | --token-file F | --ak AK (--sk SK |\n"
"                      --sk-file F)) [options]\n"
"\n"
"Calls the hot key API over HTTP and prints the answer's status line\n"
"and body (with --include, its header fields too).  AK/SK requests are\n"
"signed as hotkeyctl sign signs, with the headers the official SDKs\n"
"send (Content-Type, X-Project-Id) signed too.\n"
"\n"
"operations:\n"
"  create          POST   .../hotkey-task\n"
"  show            GET    .../hotkey-task/TID          (--task)\n"
"  delete          DELETE .../hotkey-task/TID          (--task)\n"
"  list            GET    .../hotkey-tasks  (--offset, --limit, --status)\n"
"  autoscan-get    GET    .../hotkey/autoscan\n"
"  autoscan-set    PUT    .../hotkey/autoscan  (--enable, --at)\n"
"\n"
"  --url BASE          http://host[:port] of the gateway\n"
"  --project P         the project id\n"
"  --instance IID      the instance id\n"
"  --task TID          the task id (show, delete)\n"
"  --enable B          autoscan-set: true or false\n"
"  --at HH:MM,...      autoscan-set: the daily times, UTC ('' for none)\n"
"  --offset N, --limit N, --status S    list: the query parameters\n"
"  --token T           send X-Auth-Token T (visible to ps)\n"
"  --token-file F      the token from a file (first line)\n"
"  --ak AK, --sk SK, --sk-file F, --scheme S, --region R, --service S\n"
"                      sign with AK/SK, as hotkeyctl sign does\n"
"  --header 'N: V'     one more header (signed; repeatable)\n"
"  --include, -i       print the answer's header fields too\n"
"  --timeout S         connect and read timeout (default 10)\n"
"\n"
"exit status: 0 on a 2xx answer, 1 on another answer, 2 usage, 3 when\n"
"no answer came (connection refused, timeout)\n"
"\n"
"example:\n"
"  hotkeyctl api create --url http://127.0.0.1:8080 --project P \\\n"
"      --instance IID --ak AK --sk-file sk.txt\n";


static int
hka_err(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "hotkeyctl api: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 3;
}


static void
hka_append(hka_buf_t *b, const char *p, size_t n)
{
    char  *d;

    if (b->len + n + 1 > b->size) {
        b->size = (b->len + n + 1) * 2;
        d = realloc(b->data, b->size);
        if (d == NULL) {
            abort();
        }
        b->data = d;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}


static void
hka_appends(hka_buf_t *b, const char *s)
{
    hka_append(b, s, strlen(s));
}


/* a path segment percent-encoded (unreserved bytes kept) */
static void
hka_segment(hka_buf_t *b, const char *s)
{
    char  hex[4];

    for ( /* void */ ; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
            || (*s >= '0' && *s <= '9') || strchr("-_.~", *s))
        {
            hka_append(b, s, 1);

        } else {
            snprintf(hex, sizeof(hex), "%%%02X", (unsigned char) *s);
            hka_append(b, hex, 3);
        }
    }
}


static void
hka_query(hka_buf_t *b, const char *name, const char *v, int *first)
{
    if (v == NULL) {
        return;
    }

    hka_appends(b, *first ? "?" : "&");
    hka_appends(b, name);
    hka_appends(b, "=");
    hka_segment(b, v);
    *first = 0;
}


/* ---------------------------------------------------------------- request */


typedef struct {
    const char  *name, *method, *route;
    int          task, body;
} hka_op_t;


static const hka_op_t  hka_ops[] = {
    { "create", "POST", "hotkey-task", 0, 0 },
    { "show", "GET", "hotkey-task", 1, 0 },
    { "delete", "DELETE", "hotkey-task", 1, 0 },
    { "list", "GET", "hotkey-tasks", 0, 0 },
    { "autoscan-get", "GET", "hotkey/autoscan", 0, 0 },
    { "autoscan-set", "PUT", "hotkey/autoscan", 0, 1 },
    { NULL, NULL, NULL, 0, 0 }
};


static char *
hka_url(hka_opts_t *o, const hka_op_t *op)
{
    int        first;
    size_t     n;
    hka_buf_t  b = { NULL, 0, 0 };

    n = strlen(o->base);
    while (n && o->base[n - 1] == '/') {
        n--;
    }

    hka_append(&b, o->base, n);
    hka_appends(&b, "/v2/");
    hka_segment(&b, o->project);
    hka_appends(&b, "/instances/");
    hka_segment(&b, o->instance);
    hka_appends(&b, "/");
    hka_appends(&b, op->route);

    if (op->task) {
        hka_appends(&b, "/");
        hka_segment(&b, o->task);
    }

    first = 1;
    hka_query(&b, "offset", o->offset, &first);
    hka_query(&b, "limit", o->limit, &first);
    hka_query(&b, "status", o->status, &first);

    return b.data;
}


/* {"enable_auto_scan":B,"schedule_at":[...]}, malloc'ed, or NULL */
static char *
hka_autoscan_body(hka_opts_t *o)
{
    char   *list, *t, *save, *json;
    cJSON  *root, *arr;

    if (o->enable == NULL || o->at == NULL
        || (strcmp(o->enable, "true") != 0 && strcmp(o->enable, "false")))
    {
        hotkeyctl_fail(HKA_CMD, "%s", "autoscan-set needs --enable true|false"
                       " and --at HH:MM,... ('' for none)");
        return NULL;
    }

    root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "enable_auto_scan",
                          strcmp(o->enable, "true") == 0);
    arr = cJSON_AddArrayToObject(root, "schedule_at");

    list = strdup(o->at);
    for (t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        cJSON_AddItemToArray(arr, cJSON_CreateString(t));
    }

    free(list);
    json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    return json;
}


/* the token from --token or the first line of --token-file */
static int
hka_token(hka_opts_t *o)
{
    char    *data;
    size_t   n, i;

    if (o->token_file == NULL) {
        return 0;
    }

    if (hotkeyctl_read(o->token_file, &data, &n, HKA_TOKEN_MAX) != 0) {
        return hotkeyctl_fail(HKA_CMD, "cannot read --token-file %s",
                              o->token_file);
    }

    for (i = 0; i < n && data[i] != '\n' && data[i] != '\r'; i++) {
        /* void */
    }

    data[i] = '\0';
    o->token = o->token_buf = data;

    return 0;
}


/* the request's header block (without the request line) */
static int
hka_headers(hka_opts_t *o, hka_buf_t *h)
{
    int     rc;
    char    auth[2048], len[32];
    size_t  i;

    if (o->token == NULL) {
        rc = hotkeyctl_sign_auth(&o->s, auth, sizeof(auth));
        if (rc != 0) {
            return rc;
        }
    }

    hotkeyctl_add(&o->s, "Host", o->s.host);

    for (i = 0; i < o->s.nh; i++) {
        hka_append(h, o->s.h[i].name, o->s.h[i].name_len);
        hka_appends(h, ": ");
        hka_append(h, o->s.h[i].value, o->s.h[i].value_len);
        hka_appends(h, "\r\n");
    }

    if (o->token) {
        hka_appends(h, "X-Auth-Token: ");
        hka_appends(h, o->token);
        hka_appends(h, "\r\n");

    } else {
        hka_appends(h, "Authorization: ");
        hka_appends(h, auth);
        hka_appends(h, "\r\n");
    }

    if (o->s.body_len || strcmp(o->s.method, "POST") == 0
        || strcmp(o->s.method, "PUT") == 0)
    {
        snprintf(len, sizeof(len), "%zu", o->s.body_len);
        hka_appends(h, "Content-Length: ");
        hka_appends(h, len);
        hka_appends(h, "\r\n");
    }

    hka_appends(h, "User-Agent: hotkeyctl\r\nConnection: close\r\n\r\n");

    return 0;
}


/* ---------------------------------------------------------------- socket */


static int
hka_connect(hka_opts_t *o)
{
    int               fd, rc;
    char              host[256], *port;
    struct timeval    tv = { (time_t) o->timeout, 0 };
    struct addrinfo   hints, *res, *ai;

    snprintf(host, sizeof(host), "%s", o->s.host);
    port = strrchr(host, ':');

    if (port && strchr(host, ']') && port < strchr(host, ']')) {
        port = NULL;
    }

    if (port) {
        *port++ = '\0';
    }

    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(host, port ? port : "80", &hints, &res);
    if (rc != 0) {
        hka_err("%s: %s", host, gai_strerror(rc));
        return -1;
    }

    fd = -1;

    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }

        close(fd);
        fd = -1;
    }

    freeaddrinfo(res);

    if (fd < 0) {
        hka_err("cannot connect to %s: %s", o->s.host, strerror(errno));
    }

    return fd;
}


static int
hka_send(int fd, const char *p, size_t n)
{
    ssize_t  w;

    while (n) {
        w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return hka_err("send: %s%s", strerror(errno), "");
        }

        p += w;
        n -= w;
    }

    return 0;
}


static int
hka_recv(int fd, hka_buf_t *b)
{
    char     buf[16384];
    ssize_t  r;

    for ( ;; ) {
        r = recv(fd, buf, sizeof(buf), 0);

        if (r == 0) {
            return 0;
        }

        if (r < 0) {
            return hka_err("no complete answer: %s%s",
                           errno == EAGAIN ? "timed out" : strerror(errno),
                           "");
        }

        if (b->len + r > HKA_RESP_MAX) {
            return hka_err("the answer is over 64 MiB%s%s", "", "");
        }

        hka_append(b, buf, r);
    }
}


/* ---------------------------------------------------------------- answer */


/* a chunked body decoded in place: its length */
static size_t
hka_unchunk(char *p, size_t n)
{
    char    *in, *end, *last, *out;
    size_t   len;

    in = p;
    out = p;
    last = p + n;

    while (in < last) {
        len = strtoul(in, &end, 16);

        if (end == in || (end = strstr(end, "\r\n")) == NULL) {
            break;
        }

        end += 2;

        if (len == 0 || len > (size_t) (last - end)) {
            break;
        }

        memmove(out, end, len);
        out += len;
        in = end + len + 2;
    }

    return out - p;
}


/* the status line and header fields, one per line, and a blank line */
static void
hka_print_head(const char *p)
{
    size_t  n;

    while (*p) {
        n = strcspn(p, "\r\n");
        printf("%.*s\n", (int) n, p);
        p += n;
        p += *p == '\r' && p[1] == '\n' ? 2 : *p ? 1 : 0;
    }

    printf("\n");
}


static int
hka_print(hka_opts_t *o, hka_buf_t *b)
{
    int     status;
    char   *hend, *body, *line_end;
    size_t  blen;

    hend = b->data ? strstr(b->data, "\r\n\r\n") : NULL;

    if (hend == NULL || sscanf(b->data, "HTTP/%*d.%*d %d", &status) != 1) {
        return hka_err("not an HTTP answer%s%s", "", "");
    }

    *hend = '\0';
    body = hend + 4;
    blen = b->len - (body - b->data);
    line_end = strstr(b->data, "\r\n");

    if (strcasestr(b->data, "\r\ntransfer-encoding: chunked")) {
        blen = hka_unchunk(body, blen);
    }

    if (o->include) {
        hka_print_head(b->data);

    } else {
        printf("%.*s\n", (int) (line_end ? line_end - b->data
                                          : (long) strlen(b->data)), b->data);
    }

    fwrite(body, 1, blen, stdout);

    if (blen && body[blen - 1] != '\n') {
        printf("\n");
    }

    return status >= 200 && status < 300 ? 0 : 1;
}


/* ---------------------------------------------------------------- main */


static int
hka_args(int argc, char **argv, hka_opts_t *o)
{
    int                          c, rc;
    static const struct option   opts[] = {
        { "url", required_argument, NULL, 'u' },
        { "project", required_argument, NULL, 'p' },
        { "instance", required_argument, NULL, 'I' },
        { "task", required_argument, NULL, 't' },
        { "enable", required_argument, NULL, 'e' },
        { "at", required_argument, NULL, '@' },
        { "offset", required_argument, NULL, 'o' },
        { "limit", required_argument, NULL, 'l' },
        { "status", required_argument, NULL, 'x' },
        { "token", required_argument, NULL, 'k' },
        { "token-file", required_argument, NULL, 'K' },
        { "ak", required_argument, NULL, 'a' },
        { "sk", required_argument, NULL, 's' },
        { "sk-file", required_argument, NULL, 'S' },
        { "scheme", required_argument, NULL, 'A' },
        { "region", required_argument, NULL, 'R' },
        { "service", required_argument, NULL, 'V' },
        { "header", required_argument, NULL, 'H' },
        { "include", no_argument, NULL, 'i' },
        { "timeout", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    while ((c = getopt_long(argc, argv, "hiH:", opts, NULL)) != -1) {
        switch (c) {
        case 'u': o->base = optarg; break;
        case 'p': o->project = optarg; break;
        case 'I': o->instance = optarg; break;
        case 't': o->task = optarg; break;
        case 'e': o->enable = optarg; break;
        case '@': o->at = optarg; break;
        case 'o': o->offset = optarg; break;
        case 'l': o->limit = optarg; break;
        case 'x': o->status = optarg; break;
        case 'k': o->token = optarg; break;
        case 'K': o->token_file = optarg; break;
        case 'a': o->s.ak = optarg; break;
        case 's': o->s.sk = optarg; break;
        case 'S': o->s.sk_file = optarg; break;
        case 'R': o->s.region = optarg; break;
        case 'V': o->s.service = optarg; break;
        case 'i': o->include = 1; break;
        case 'h':
            fputs(hotkeyctl_api_usage, stdout);
            return 0;

        case 'A':
            o->s.scheme = hotkey_akscheme_parse(optarg, strlen(optarg));
            if (o->s.scheme < 0) {
                return hotkeyctl_fail(HKA_CMD, "unknown --scheme \"%s\"",
                                      optarg);
            }
            break;

        case 'H':
            rc = hotkeyctl_header(&o->s, optarg);
            if (rc >= 0) {
                return rc;
            }
            break;

        case 'T':
            if (hotkeyctl_number(optarg, &o->timeout) != 0
                || o->timeout < 1 || o->timeout > 3600)
            {
                return hotkeyctl_fail(HKA_CMD, "bad --timeout \"%s\"",
                                      optarg);
            }
            break;

        default:
            return hotkeyctl_fail(HKA_CMD, "%s", "unknown option");
        }
    }

    if (optind < argc) {
        return hotkeyctl_fail(HKA_CMD, "unexpected \"%s\"", argv[optind]);
    }

    return -1;
}


static int
hka_check(hka_opts_t *o, const hka_op_t *op)
{
    int  creds;

    if (o->base == NULL || o->project == NULL || o->instance == NULL) {
        return hotkeyctl_fail(HKA_CMD, "%s", "--url, --project and"
                              " --instance are required");
    }

    if (strncmp(o->base, "http://", 7) != 0) {
        return hotkeyctl_fail(HKA_CMD, "--url \"%s\": only http:// (for"
                              " https, hotkeyctl sign --curl)", o->base);
    }

    if (op->task != (o->task != NULL)) {
        return hotkeyctl_fail(HKA_CMD, "--task goes with show and delete,"
                              " which need it%s", "");
    }

    creds = (o->token != NULL) + (o->token_file != NULL)
            + (o->s.ak != NULL);

    if (creds != 1 || (o->s.ak && (o->s.sk == NULL) == !o->s.sk_file)) {
        return hotkeyctl_fail(HKA_CMD, "%s", "give one of --token,"
                              " --token-file, --ak with --sk or --sk-file");
    }

    if ((o->s.scheme == HOTKEY_AKSK_V11_HMAC_SHA256)
        != (o->s.region != NULL && o->s.service != NULL))
    {
        return hotkeyctl_fail(HKA_CMD, "%s", "--region and --service go"
                              " with --scheme V11-HMAC-SHA256, and it"
                              " needs both");
    }

    return -1;
}


/* the request in o->s, ready to send: -1, or an exit code */
static int
hka_prepare(hka_opts_t *o, const hka_op_t *op, char **body)
{
    int  rc;

    *body = NULL;

    if (op->body) {
        *body = hka_autoscan_body(o);
        if (*body == NULL) {
            return 2;
        }
    }

    rc = hka_token(o);
    if (rc != 0) {
        return rc;
    }

    o->url = hka_url(o, op);
    o->s.cmd = HKA_CMD;
    o->s.url = o->url;
    o->s.method = op->method;
    o->s.data = *body;
    o->s.sk = o->s.ak ? o->s.sk : "";

    hotkeyctl_add(&o->s, "Content-Type", "application/json");

    if (o->s.ak) {
        hotkeyctl_add(&o->s, "X-Project-Id", o->project);
    }

    return hotkeyctl_sign_inputs(&o->s);
}


static int
hka_call(hka_opts_t *o)
{
    int         fd, rc;
    hka_buf_t   req = { NULL, 0, 0 }, resp = { NULL, 0, 0 };

    hka_appends(&req, o->s.method);
    hka_appends(&req, " ");
    hka_append(&req, o->s.path, strcspn(o->s.path, "#"));
    hka_appends(&req, " HTTP/1.1\r\n");

    rc = hka_headers(o, &req);

    if (rc == 0) {
        hka_append(&req, o->s.body ? o->s.body : "", o->s.body_len);
        fd = hka_connect(o);
        rc = fd < 0 ? 3 : 0;

        if (fd >= 0) {
            rc = hka_send(fd, req.data, req.len);
            rc = rc ? rc : hka_recv(fd, &resp);
            close(fd);
        }

        rc = rc ? rc : hka_print(o, &resp);
    }

    free(req.data);
    free(resp.data);

    return rc;
}


int
hotkeyctl_api(int argc, char **argv)
{
    int              rc;
    char            *body;
    hka_opts_t       o;
    const hka_op_t  *op;

    memset(&o, 0, sizeof(o));
    o.timeout = 10;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0
                          || strcmp(argv[1], "-h") == 0))
        {
            fputs(hotkeyctl_api_usage, stdout);
            return 0;
        }

        return hotkeyctl_fail(HKA_CMD, "%s", "which operation?");
    }

    for (op = hka_ops; op->name; op++) {
        if (strcmp(op->name, argv[1]) == 0) {
            break;
        }
    }

    if (op->name == NULL) {
        return hotkeyctl_fail(HKA_CMD, "unknown operation \"%s\"", argv[1]);
    }

    rc = hka_args(argc - 1, argv + 1, &o);
    if (rc < 0) {
        rc = hka_check(&o, op);
    }

    if (rc >= 0) {
        return rc;
    }

    body = NULL;
    rc = hka_prepare(&o, op, &body);

    if (rc < 0) {
        rc = hka_call(&o);
    }

    free(body);
    free(o.s.body);
    free(o.url);
    free(o.token_buf);

    return rc;
}
