/*
 * Redis Cluster in plain C: key slots, redirects and the slot map.
 */

#include <string.h>
#include <stdio.h>

#include "hotkey_cluster.h"


/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial 0, as cluster.c */

static unsigned
hotkey_crc16(const char *p, size_t len)
{
    size_t    i;
    unsigned  crc, b;

    crc = 0;

    for (i = 0; i < len; i++) {
        crc ^= (unsigned) (unsigned char) p[i] << 8;

        for (b = 0; b < 8; b++) {
            crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
        }

        crc &= 0xffff;
    }

    return crc;
}


unsigned
hotkey_cluster_slot(const char *key, size_t len)
{
    size_t  s, e;

    for (s = 0; s < len && key[s] != '{'; s++) { /* void */ }

    if (s < len) {
        for (e = s + 1; e < len && key[e] != '}'; e++) { /* void */ }

        if (e < len && e != s + 1) {
            return hotkey_crc16(key + s + 1, e - s - 1) & 16383;
        }
    }

    return hotkey_crc16(key, len) & 16383;
}


unsigned
hotkey_cluster_instance_slot(const char *iid, size_t len)
{
    return hotkey_crc16(iid, len) & 16383;
}


static int
hotkey_cluster_word(const char *str, size_t len, const char *w)
{
    size_t  n;

    n = strlen(w);

    return len >= n && memcmp(str, w, n) == 0;
}


static int
hotkey_cluster_has(const char *str, size_t len, const char *w)
{
    size_t  i, n;

    n = strlen(w);

    for (i = 0; i + n <= len; i++) {
        if (memcmp(str + i, w, n) == 0) {
            return 1;
        }
    }

    return 0;
}


/* "<slot> <host>:<port>", the host possibly empty or IPv6 */

static int
hotkey_cluster_target(const char *p, const char *end, hotkey_redirect_t *rd)
{
    const char  *colon, *q;
    unsigned     v;

    v = 0;

    for (q = p; q < end && *q >= '0' && *q <= '9' && v < 16384; q++) {
        v = v * 10 + (*q - '0');
    }

    if (q == p || q == end || *q != ' ' || v >= 16384) {
        return -1;
    }

    rd->slot = v;
    p = q + 1;

    for (colon = NULL, q = p; q < end; q++) {
        if (*q == ':') {
            colon = q;
        }
    }

    if (colon == NULL || colon + 1 == end
        || (size_t) (colon - p) >= sizeof(rd->host))
    {
        return -1;
    }

    v = 0;

    for (q = colon + 1; q < end && *q >= '0' && *q <= '9' && v < 65536; q++)
    {
        v = v * 10 + (*q - '0');
    }

    if (q != end || v == 0 || v > 65535) {
        return -1;
    }

    if (colon - p >= 2 && *p == '[' && colon[-1] == ']') {
        p++;
        colon--;
    }

    for (q = p; q < colon; q++) {
        if (*q <= ' ' || *q == '/' || *q == 0x7f) {
            return -1;
        }
    }

    memcpy(rd->host, p, colon - p);
    rd->host[colon - p] = '\0';
    rd->port = v;

    return 0;
}


hotkey_redirect_e
hotkey_cluster_redirect(const char *str, size_t len, hotkey_redirect_t *rd)
{
    const char  *end;

    memset(rd, 0, sizeof(*rd));
    end = str + len;

    if (hotkey_cluster_word(str, len, "MOVED ")) {
        rd->type = HOTKEY_REDIRECT_MOVED;
        str += 6;

    } else if (hotkey_cluster_word(str, len, "ASK ")) {
        rd->type = HOTKEY_REDIRECT_ASK;
        str += 4;

    } else if (hotkey_cluster_word(str, len, "TRYAGAIN")) {
        return rd->type = HOTKEY_REDIRECT_TRYAGAIN;

    } else if (hotkey_cluster_word(str, len, "CLUSTERDOWN")) {
        return rd->type = HOTKEY_REDIRECT_DOWN;

    } else if (hotkey_cluster_has(str, len, "non local key")) {

        /* a script met a key of its slot that is migrating: later */

        return rd->type = HOTKEY_REDIRECT_TRYAGAIN;

    } else {
        return HOTKEY_REDIRECT_NONE;
    }

    if (hotkey_cluster_target(str, end, rd) != 0) {
        rd->type = HOTKEY_REDIRECT_NONE;
    }

    return rd->type;
}


void
hotkey_cluster_map_init(hotkey_cluster_map_t *m)
{
    m->nnodes = 0;
    memset(m->slots, HOTKEY_CLUSTER_NONE, sizeof(m->slots));
}


int
hotkey_cluster_map_node(hotkey_cluster_map_t *m, const char *host,
    size_t host_len, unsigned port)
{
    unsigned  i;

    if (host_len >= HOTKEY_CLUSTER_ADDR_LEN || port == 0 || port > 65535) {
        return -1;
    }

    for (i = 0; i < m->nnodes; i++) {
        if (m->nodes[i].port == port
            && strncmp(m->nodes[i].host, host, host_len) == 0
            && m->nodes[i].host[host_len] == '\0')
        {
            return (int) i;
        }
    }

    if (m->nnodes == HOTKEY_CLUSTER_NODES) {
        return -1;
    }

    memcpy(m->nodes[i].host, host, host_len);
    m->nodes[i].host[host_len] = '\0';
    m->nodes[i].port = port;
    m->nnodes++;

    return (int) i;
}


static int
hotkey_cluster_int(const redisReply *r, long long lo, long long hi)
{
    return r->type == REDIS_REPLY_INTEGER && r->integer >= lo
           && r->integer <= hi;
}


/* [start, end, [host, port, id, ...], replicas ...] */

static int
hotkey_cluster_range(hotkey_cluster_map_t *m, const redisReply *e,
    const char *from)
{
    int                n;
    const char        *host;
    size_t             host_len, s;
    const redisReply  *node;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
        || !hotkey_cluster_int(e->element[0], 0, HOTKEY_CLUSTER_SLOTS - 1)
        || !hotkey_cluster_int(e->element[1], e->element[0]->integer,
                               HOTKEY_CLUSTER_SLOTS - 1))
    {
        return -1;
    }

    node = e->element[2];

    if (node->type != REDIS_REPLY_ARRAY || node->elements < 2
        || node->element[0]->type != REDIS_REPLY_STRING
        || !hotkey_cluster_int(node->element[1], 1, 65535))
    {
        return -1;
    }

    host = node->element[0]->str;
    host_len = node->element[0]->len;

    if (host_len == 0 || (host_len == 1 && host[0] == '?')) {
        host = from;
        host_len = strlen(from);
    }

    n = hotkey_cluster_map_node(m, host, host_len,
                                (unsigned) node->element[1]->integer);
    if (n < 0) {
        return -1;
    }

    for (s = (size_t) e->element[0]->integer;
         s <= (size_t) e->element[1]->integer;
         s++)
    {
        m->slots[s] = (uint8_t) n;
    }

    return 0;
}


int
hotkey_cluster_map_read(hotkey_cluster_map_t *m, const redisReply *r,
    const char *from)
{
    size_t  i;

    hotkey_cluster_map_init(m);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return -1;
    }

    for (i = 0; i < r->elements; i++) {
        if (hotkey_cluster_range(m, r->element[i], from) != 0) {
            return -1;
        }
    }

    return 0;
}


size_t
hotkey_cluster_addr(char *buf, size_t size, const char *host, unsigned port)
{
    int  n;

    n = snprintf(buf, size, strchr(host, ':') ? "[%s]:%u" : "%s:%u",
                 host, port);

    return n < 0 || (size_t) n >= size ? 0 : (size_t) n;
}
