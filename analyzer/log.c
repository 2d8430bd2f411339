/*
 * The analyzer's log: one line per event, "<UTC time> [<level>] <text>",
 * on stderr (journald, docker logs) or appended to a file.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "hka.h"
#include "hotkey_time.h"


static FILE  *hka_log_file;


int
hka_log_open(const char *path)
{
    FILE  *f;

    if (path == NULL || path[0] == '\0') {
        return 0;
    }

    f = fopen(path, "a");
    if (f == NULL) {
        return -1;
    }

    setvbuf(f, NULL, _IOLBF, 0);
    hka_log_file = f;

    return 0;
}


void
hka_log(const char *level, const char *fmt, ...)
{
    FILE            *f;
    char             now[HOTKEY_TIME_LEN + 1], line[2048];
    va_list          ap;
    struct timeval   tv;

    gettimeofday(&tv, NULL);
    hotkey_ms_format((int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000, now);

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    f = hka_log_file ? hka_log_file : stderr;
    fprintf(f, "%s [%s] %s\n", now, level, line);
    fflush(f);
}
