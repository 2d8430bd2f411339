/*
 * A minimal TAP producer for the plain-C unit tests; t/000-unit.t runs
 * every binary and hands its lines to prove.
 */

#ifndef HOTKEY_TAP_H
#define HOTKEY_TAP_H

#include <stdio.h>
#include <string.h>

static int  tap_n;
static int  tap_failed;

#define ok(cond, ...)                                                       \
    do {                                                                    \
        int okc_ = (cond) ? 1 : 0;                                            \
        printf("%sok %d - ", okc_ ? "" : "not ", ++tap_n);                    \
        printf(__VA_ARGS__);                                                \
        printf("\n");                                                       \
        if (!okc_) {                                                        \
            tap_failed++;                                                   \
            printf("#   failed at %s line %d\n", __FILE__, __LINE__);       \
        }                                                                   \
    } while (0)

#define is_str(got, want, ...)                                              \
    do {                                                                    \
        const char *g_ = (got), *w_ = (want);                               \
        int c_ = (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0)          \
                 || (g_ == NULL && w_ == NULL);                             \
        ok(c_, __VA_ARGS__);                                                \
        if (!c_) {                                                          \
            printf("#   got:  '%s'\n#   want: '%s'\n",                      \
                   g_ ? g_ : "(null)", w_ ? w_ : "(null)");                 \
        }                                                                   \
    } while (0)

#define is_int(got, want, ...)                                              \
    do {                                                                    \
        long long g_ = (long long) (got), w_ = (long long) (want);          \
        ok(g_ == w_, __VA_ARGS__);                                          \
        if (g_ != w_) {                                                     \
            printf("#   got:  %lld\n#   want: %lld\n", g_, w_);             \
        }                                                                   \
    } while (0)

#define done_testing()                                                      \
    (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

#endif
