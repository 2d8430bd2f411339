/*
 * The hottest keys of a scan: a bounded min-heap in the details order
 * (freq descending, then db, then name bytewise), and the store's form
 * of a kept key.  Plain C.
 */

#include <stdlib.h>
#include <string.h>

#include "hka.h"
#include "hotkey_json.h"
#include "hotkey_num.h"


static void hka_top_up(hka_top_t *t, size_t i);
static void hka_top_down(hka_top_t *t, size_t i);
static int hka_top_worse(const hka_top_t *t, size_t a, size_t b);
static int hka_key_qcmp(const void *a, const void *b);


int
hka_top_init(hka_top_t *t, size_t max)
{
    t->n = 0;
    t->max = max;
    t->k = calloc(max ? max : 1, sizeof(hka_key_t));

    return t->k ? 0 : -1;
}


/* < 0 when a comes before b in the details order */

int
hka_key_cmp(const hka_key_t *a, const hka_key_t *b)
{
    size_t  n;
    int     rc;

    if (a->freq != b->freq) {
        return a->freq > b->freq ? -1 : 1;
    }

    if (a->db != b->db) {
        return a->db < b->db ? -1 : 1;
    }

    n = a->len < b->len ? a->len : b->len;
    rc = memcmp(a->name, b->name, n);

    if (rc != 0 || a->len == b->len) {
        return rc;
    }

    return a->len < b->len ? -1 : 1;
}


static int
hka_top_worse(const hka_top_t *t, size_t a, size_t b)
{
    return hka_key_cmp(&t->k[a], &t->k[b]) > 0;
}


static void
hka_top_up(hka_top_t *t, size_t i)
{
    hka_key_t  tmp;

    while (i > 0 && hka_top_worse(t, i, (i - 1) / 2)) {
        tmp = t->k[i];
        t->k[i] = t->k[(i - 1) / 2];
        t->k[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}


static void
hka_top_down(hka_top_t *t, size_t i)
{
    size_t     l, w;
    hka_key_t  tmp;

    for ( ;; ) {
        w = i;
        l = 2 * i + 1;

        if (l < t->n && hka_top_worse(t, l, w)) {
            w = l;
        }

        if (l + 1 < t->n && hka_top_worse(t, l + 1, w)) {
            w = l + 1;
        }

        if (w == i) {
            return;
        }

        tmp = t->k[i];
        t->k[i] = t->k[w];
        t->k[w] = tmp;
        i = w;
    }
}


/*
 * Keeps the key if it is among the hottest; the name is copied.  Returns
 * 1 kept, 0 not hot enough, -1 out of memory.
 */

int
hka_top_offer(hka_top_t *t, unsigned freq, unsigned db, unsigned node,
    const char *name, size_t len)
{
    char       *copy;
    hka_key_t   k;

    if (freq == 0 || t->max == 0) {
        return 0;
    }

    k.name = (char *) name;
    k.len = len;
    k.freq = freq;
    k.db = db;
    k.node = node;
    k.type[0] = '\0';
    k.size = 0;

    if (t->n == t->max) {
        if (freq < t->k[0].freq || hka_key_cmp(&k, &t->k[0]) >= 0) {
            return 0;
        }

        free(t->k[0].name);
        t->k[0] = t->k[--t->n];
        hka_top_down(t, 0);
    }

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        return -1;
    }

    memcpy(copy, name, len);
    k.name = copy;

    t->k[t->n] = k;
    hka_top_up(t, t->n++);

    return 1;
}


static int
hka_key_qcmp(const void *a, const void *b)
{
    return hka_key_cmp(a, b);
}


/* the heap becomes a sorted array (no more offers after this) */

void
hka_top_sort(hka_top_t *t)
{
    qsort(t->k, t->n, sizeof(hka_key_t), hka_key_qcmp);
}


/* removes entry i of a sorted array, keeping the order */

void
hka_top_drop(hka_top_t *t, size_t i)
{
    free(t->k[i].name);
    memmove(&t->k[i], &t->k[i + 1], (t->n - i - 1) * sizeof(hka_key_t));
    t->n--;
}


void
hka_top_free(hka_top_t *t)
{
    size_t  i;

    for (i = 0; i < t->n; i++) {
        free(t->k[i].name);
    }

    free(t->k);
    t->k = NULL;
    t->n = 0;
}


/*
 * How many bytes of a name the store keeps: all of a short one; of a
 * long one HKA_NAME_MAX, or less to end on a character boundary when
 * the name is UTF-8 that far.
 */

size_t
hka_name_cut(const char *name, size_t len)
{
    size_t                i, n;
    const unsigned char  *p;

    if (len <= HKA_NAME_MAX) {
        return len;
    }

    p = (const unsigned char *) name;

    for (i = 0; i < HKA_NAME_MAX; i += n) {
        n = hotkey_utf8_seq(p + i, len - i);

        if (n == 0) {
            return HKA_NAME_MAX;
        }

        if (i + n > HKA_NAME_MAX) {
            return i;
        }
    }

    return HKA_NAME_MAX;
}


/*
 * <freq>|<db>|<type>|<size>|<unit>|<shard>|<name>: buf needs
 * 3 * 20 + 16 + 8 + HKA_ADDR_LEN + HKA_NAME_MAX bytes.
 */

size_t
hka_key_element(const hka_key_t *k, const char *shard, char *buf)
{
    char        *p;
    size_t       n;
    const char  *unit;

    p = hotkey_uint_write(buf, k->freq);
    *p++ = '|';
    p = hotkey_uint_write(p, k->db);
    *p++ = '|';
    n = strlen(k->type);
    memcpy(p, k->type, n);
    p += n;
    *p++ = '|';
    p = hotkey_uint_write(p, k->size);
    *p++ = '|';

    unit = strcmp(k->type, "string") == 0 ? "byte" : "count";
    if (strcmp(k->type, "string") != 0 && strcmp(k->type, "list") != 0
        && strcmp(k->type, "set") != 0 && strcmp(k->type, "zset") != 0
        && strcmp(k->type, "hash") != 0 && strcmp(k->type, "stream") != 0)
    {
        unit = "byte";
    }

    n = strlen(unit);
    memcpy(p, unit, n);
    p += n;
    *p++ = '|';
    n = strlen(shard);
    memcpy(p, shard, n);
    p += n;
    *p++ = '|';
    n = hka_name_cut(k->name, k->len);
    memcpy(p, k->name, n);

    return p + n - buf;
}
