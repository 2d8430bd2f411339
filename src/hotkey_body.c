/*
 * The PUT body: a JSON object with both fields, checked in the contract's
 * order (enable_auto_scan, then schedule_at); unknown fields ignored, a
 * known field given twice is invalid.  The body must be JSON as RFC 8259
 * writes it (hotkey_json_valid()) before cJSON reads it: cJSON alone lets
 * through invalid UTF-8, control characters and leading zeros.
 */

#include <string.h>
#include <stdlib.h>
#include <cjson/cJSON.h>

#include "hotkey_body.h"
#include "hotkey_json.h"


static char *hotkey_body_no_nul(const char *p, size_t len);
static int hotkey_body_blank(const char *p, const char *last);
static cJSON *hotkey_body_field(cJSON *obj, const char *name, int *twice);
static int hotkey_time_parse(const char *p, size_t len, uint16_t *t);
static int hotkey_times_sort(hotkey_autoscan_t *a);


/*
 * A copy of the body in which each "\u0000" escape reads "\u0001": cJSON
 * would cut its strings at a NUL, so a name or a time holding one would
 * pass for its prefix; as U+0001 it is what it is, an unknown field or an
 * invalid value.  The body is valid JSON: a backslash starts an escape.
 */

static char *
hotkey_body_no_nul(const char *p, size_t len)
{
    char    *c;
    size_t   i;

    c = malloc(len);
    if (c == NULL) {
        return NULL;
    }

    memcpy(c, p, len);

    for (i = 0; i + 1 < len; i++) {
        if (c[i] != '\\') {
            continue;
        }

        if (c[i + 1] == 'u' && i + 6 <= len
            && memcmp(c + i + 2, "0000", 4) == 0)
        {
            c[i + 5] = '1';
        }

        i++;
    }

    return c;
}


/* 1 when only JSON whitespace is left after the document */

static int
hotkey_body_blank(const char *p, const char *last)
{
    for ( /* void */ ; p < last; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            return 0;
        }
    }

    return 1;
}


static cJSON *
hotkey_body_field(cJSON *obj, const char *name, int *twice)
{
    cJSON  *it, *found;

    found = NULL;
    *twice = 0;

    cJSON_ArrayForEach(it, obj) {
        if (it->string == NULL || strcmp(it->string, name) != 0) {
            continue;
        }

        if (found) {
            *twice = 1;
        }

        found = it;
    }

    return found;
}


static int
hotkey_time_parse(const char *p, size_t len, uint16_t *t)
{
    int  h, m;

    if (len != 5 || p[2] != ':') {
        return -1;
    }

    if (p[0] < '0' || p[0] > '2' || p[1] < '0' || p[1] > '9'
        || p[3] < '0' || p[3] > '5' || p[4] < '0' || p[4] > '9')
    {
        return -1;
    }

    h = (p[0] - '0') * 10 + (p[1] - '0');
    m = (p[3] - '0') * 10 + (p[4] - '0');

    if (h > 23) {
        return -1;
    }

    *t = (uint16_t) (h * 60 + m);

    return 0;
}


/* insertion sort of at most 24; -1 on a time given twice */

static int
hotkey_times_sort(hotkey_autoscan_t *a)
{
    unsigned  i, j;
    uint16_t  t;

    for (i = 1; i < a->ntimes; i++) {
        t = a->times[i];

        for (j = i; j > 0 && a->times[j - 1] > t; j--) {
            a->times[j] = a->times[j - 1];
        }

        a->times[j] = t;
    }

    for (i = 1; i < a->ntimes; i++) {
        if (a->times[i] == a->times[i - 1]) {
            return -1;
        }
    }

    return 0;
}


static int
hotkey_body_times(cJSON *arr, hotkey_autoscan_t *a)
{
    cJSON  *it;

    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > HOTKEY_TIMES_MAX) {
        return -1;
    }

    a->ntimes = 0;

    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it)
            || hotkey_time_parse(it->valuestring, strlen(it->valuestring),
                                 &a->times[a->ntimes])
               != 0)
        {
            return -1;
        }

        a->ntimes++;
    }

    return hotkey_times_sort(a);
}


hotkey_body_e
hotkey_autoscan_parse(const char *p, size_t len, hotkey_autoscan_t *a,
    const char **field)
{
    int             twice;
    char           *copy;
    cJSON          *doc, *en, *at;
    const char     *end;
    hotkey_body_e   rc;

    if (len == 0) {
        return HOTKEY_BODY_EMPTY;
    }

    if (len > HOTKEY_BODY_MAX || !hotkey_json_valid(p, len)) {
        return HOTKEY_BODY_INVALID;
    }

    copy = hotkey_body_no_nul(p, len);
    if (copy == NULL) {
        return HOTKEY_BODY_INVALID;
    }

    doc = cJSON_ParseWithLengthOpts(copy, len, &end, 0);

    if (doc == NULL || !cJSON_IsObject(doc)
        || !hotkey_body_blank(end, copy + len))
    {
        cJSON_Delete(doc);
        free(copy);
        return HOTKEY_BODY_INVALID;
    }

    free(copy);

    rc = HOTKEY_BODY_FIELD;
    *field = "enable_auto_scan";

    en = hotkey_body_field(doc, "enable_auto_scan", &twice);
    if (en == NULL || twice || !cJSON_IsBool(en)) {
        goto done;
    }

    a->enable = cJSON_IsTrue(en);
    *field = "schedule_at";

    at = hotkey_body_field(doc, "schedule_at", &twice);
    if (at == NULL || twice || hotkey_body_times(at, a) != 0
        || (a->enable && a->ntimes == 0))
    {
        goto done;
    }

    rc = HOTKEY_BODY_OK;
    *field = NULL;

done:

    cJSON_Delete(doc);

    return rc;
}


char *
hotkey_hhmm_write(char *p, unsigned minutes)
{
    unsigned  h, m;

    h = minutes / 60;
    m = minutes % 60;
    *p++ = (char) ('0' + h / 10);
    *p++ = (char) ('0' + h % 10);
    *p++ = ':';
    *p++ = (char) ('0' + m / 10);
    *p++ = (char) ('0' + m % 10);

    return p;
}


size_t
hotkey_times_write(char *buf, const hotkey_autoscan_t *a)
{
    char      *p;
    unsigned   i;

    p = buf;

    for (i = 0; i < a->ntimes; i++) {
        if (i) {
            *p++ = ',';
        }

        p = hotkey_hhmm_write(p, a->times[i]);
    }

    return p - buf;
}


int
hotkey_times_read(const char *p, size_t len, hotkey_autoscan_t *a)
{
    size_t  i;

    a->ntimes = 0;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i += 6) {
        if (a->ntimes == HOTKEY_TIMES_MAX || len - i < 5
            || (len - i > 5 && (p[i + 5] != ',' || len - i < 11))
            || hotkey_time_parse(p + i, 5, &a->times[a->ntimes]) != 0)
        {
            return -1;
        }

        if (a->ntimes && a->times[a->ntimes] <= a->times[a->ntimes - 1]) {
            return -1;
        }

        a->ntimes++;
    }

    return 0;
}
