/* A tiny assertion library for the unit tests: each *_test.c includes this header once, defines
 * test functions and lists them in CHECK_MAIN. A failing check reports file:line and the test
 * continues, so one run shows every failure; the program exits non-zero if any check failed. */
#ifndef BC_TEST_CHECK_H
#define BC_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failed_count;
static int check_passed_count;

#define CHECK_REPORT(ok, ...)                                                                      \
    do {                                                                                           \
        if (ok) {                                                                                  \
            check_passed_count++;                                                                  \
        } else {                                                                                   \
            check_failed_count++;                                                                  \
            fprintf(stderr, "%s:%d: check failed: ", __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK(cond) CHECK_REPORT((cond), "%s", #cond)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        CHECK_REPORT(check_a_ == check_b_, "%s == %s (%lld != %lld)", #a, #b, check_a_, check_b_); \
    } while (0)

/* Compares a (ptr, len) slice with a NUL-terminated expectation. */
#define CHECK_MEM(ptr, len, str)                                                                   \
    do {                                                                                           \
        const char *check_p_ = (const char *)(ptr);                                                \
        size_t check_n_ = (size_t)(len);                                                           \
        const char *check_s_ = (str);                                                              \
        CHECK_REPORT(check_n_ == strlen(check_s_) && memcmp(check_p_, check_s_, check_n_) == 0,    \
                     "%s == \"%s\" (got \"%.*s\")", #ptr, check_s_, (int)check_n_, check_p_);      \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        CHECK_REPORT(check_a_ != NULL && check_b_ != NULL && strcmp(check_a_, check_b_) == 0,      \
                     "%s == %s (\"%s\" != \"%s\")", #a, #b, check_a_ ? check_a_ : "(null)",        \
                     check_b_ ? check_b_ : "(null)");                                              \
    } while (0)

typedef void (*check_fn)(void);
struct check_case {
    const char *name;
    check_fn fn;
};
#define CHECK_CASE(fn)                                                                             \
    {                                                                                              \
#fn, fn                                                                                    \
    }

#define CHECK_MAIN(...)                                                                            \
    int main(void)                                                                                 \
    {                                                                                              \
        static const struct check_case cases[] = {__VA_ARGS__};                                    \
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {                              \
            int before = check_failed_count;                                                       \
            cases[i].fn();                                                                         \
            fprintf(stderr, "%s %s\n", check_failed_count == before ? "ok  " : "FAIL",             \
                    cases[i].name);                                                                \
        }                                                                                          \
        printf("%d passed, %d failed\n", check_passed_count, check_failed_count);                  \
        return check_failed_count ? 1 : 0;                                                         \
    }

#endif
