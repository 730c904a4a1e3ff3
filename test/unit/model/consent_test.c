/* consent_at values (src/model/consent.c): every accepted shape with the instant it names, every
 * malformed shape with the words of its message, the future limits, and no read past the value. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/consent.h"
#include "util/err.h"

/* 2026-06-15T12:00:00Z */
#define NOW 1781524800000LL

static void test_accepted(void)
{
    static const struct {
        const char *in;
        long long at;
    } cases[] = {
        {"2026-05-01", 1777593600000LL},
        {"  2026-05-01\t", 1777593600000LL},
        {"2026-05-01T10:00:00Z", 1777629600000LL},
        {"2026-05-01t10:00:00z", 1777629600000LL},
        {"2026-05-01 10:00:00Z", 1777629600000LL},
        {"2026-05-01T10:00Z", 1777629600000LL},
        {"2026-05-01T12:00:00+02:00", 1777629600000LL},
        {"2026-05-01T12:00:00+0200", 1777629600000LL},
        {"2026-05-01T05:30:00-04:30", 1777629600000LL},
        {"2026-05-01T10:00:00.123Z", 1777629600000LL},
        {"2026-05-01T10:00:00,5Z", 1777629600000LL},
        {"2024-02-29", 1709164800000LL},
        {"2000-02-29", 951782400000LL},
        {"1970-01-01", 0},
        {"1969-12-31T23:59:59Z", -1000},
        {"1900-01-01", -2208988800000LL},
        {"2026-06-15T12:04:59Z", 1781525099000LL}, /* within the clock skew */
        {"2026-06-16", 1781568000000LL},           /* tomorrow in UTC, today at UTC+14 */
        {"2026-06-15T23:59:00+14:00", 1781517540000LL},
        {"2026-06-15T01:00:00-11:00", 1781524800000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t at = 42;
        char why[CONSENT_WHY_MAX] = "";
        int rc = consent_parse_at(cases[i].in, strlen(cases[i].in), NOW, &at, why, sizeof why);
        CHECK_REPORT(rc == 0 && at == cases[i].at, "%s: rc %d at %lld (want %lld) %s", cases[i].in,
                     rc, (long long)at, cases[i].at, why);
    }
}

static void test_refused(void)
{
    static const struct {
        const char *in;
        int rc;
        const char *words;
    } cases[] = {
        {"", BC_ENOTFOUND, "consent_at is empty"},
        {"   ", BC_ENOTFOUND, "consent_at is empty"},
        {"yes", BC_EINVAL, "is not an ISO-8601 date"},
        {"2026", BC_EINVAL, "is not an ISO-8601 date"},
        {"2026-05", BC_EINVAL, "is not an ISO-8601 date"},
        {"2026-5-1", BC_EINVAL, "is not an ISO-8601 date"},
        {"2026/05/01", BC_EINVAL, "is not an ISO-8601 date"},
        {"01/05/2026", BC_EINVAL, "is not an ISO-8601 date"},
        {"26-05-01xxxx", BC_EINVAL, "is not an ISO-8601 date"},
        {"2026-05-0a", BC_EINVAL, "is not an ISO-8601 date"},
        {"+2026-05-01", BC_EINVAL, "is not an ISO-8601 date"},
        {"0026-05-01", BC_EINVAL, "too early"},
        {"2026-00-01", BC_EINVAL, "months run from 01 to 12"},
        {"2026-13-01", BC_EINVAL, "months run from 01 to 12"},
        {"2026-04-31", BC_EINVAL, "that month has 30 days"},
        {"2026-02-29", BC_EINVAL, "that month has 28 days"},
        {"1900-02-29", BC_EINVAL, "that month has 28 days"},
        {"2026-05-00", BC_EINVAL, "that month has 31 days"},
        {"2026-05-01X10:00:00Z", BC_EINVAL, "a time follows the date after a T"},
        {"2026-05-01T", BC_EINVAL, "the time must be HH:MM"},
        {"2026-05-01T1:00:00Z", BC_EINVAL, "the time must be HH:MM"},
        {"2026-05-01T10", BC_EINVAL, "the time must be HH:MM"},
        {"2026-05-01T10-00Z", BC_EINVAL, "the time must be HH:MM"},
        {"2026-05-01T10:0", BC_EINVAL, "the time must be HH:MM"},
        {"2026-05-01T10:00:0Z", BC_EINVAL, "seconds must be two digits"},
        {"2026-05-01T10:00:00.Z", BC_EINVAL, "needs digits after the point"},
        {"2026-05-01T24:00:00Z", BC_EINVAL, "hours run from 00 to 23"},
        {"2026-05-01T10:60:00Z", BC_EINVAL, "hours run from 00 to 23"},
        {"2026-05-01T10:00:60Z", BC_EINVAL, "hours run from 00 to 23"},
        {"2026-05-01T10:00:00", BC_EINVAL, "has no time zone"},
        {"2026-05-01 10:00", BC_EINVAL, "has no time zone"},
        {"2026-05-01T10:00:00ZZ", BC_EINVAL, "the time zone must be Z"},
        {"2026-05-01T10:00:00UTC", BC_EINVAL, "the time zone must be Z"},
        {"2026-05-01T10:00:00+2", BC_EINVAL, "the time zone must be Z"},
        {"2026-05-01T10:00:00+02", BC_EINVAL, "the time zone must be Z"},
        {"2026-05-01T10:00:00+15:00", BC_EINVAL, "the time zone must be Z"},
        {"2026-05-01T10:00:00+02:60", BC_EINVAL, "the time zone must be Z"},
        {"2026-05-01T10:00:00+02:00 x", BC_EINVAL, "the time zone must be Z"},
        {"2026-05-01T10:00:00 +02:00", BC_EINVAL, "the time zone must be Z"},
        {"2026-06-15T12:05:01Z", BC_EINVAL, "is in the future"},
        {"2026-06-17", BC_EINVAL, "is in the future"},
        {"2099-01-01", BC_EINVAL, "is in the future"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t at = 42;
        char why[CONSENT_WHY_MAX] = "";
        int rc = consent_parse_at(cases[i].in, strlen(cases[i].in), NOW, &at, why, sizeof why);
        CHECK_REPORT(rc == cases[i].rc, "%s: rc %d want %d", cases[i].in, rc, cases[i].rc);
        CHECK_REPORT(strstr(why, cases[i].words) != NULL, "%s: \"%s\" lacks \"%s\"", cases[i].in,
                     why, cases[i].words);
        CHECK_REPORT(at == 42, "%s: at changed on a refusal", cases[i].in);
        /* The message quotes the value so a user can find the cell. */
        if (cases[i].rc == BC_EINVAL && strlen(cases[i].in) > 0 && strlen(cases[i].in) < 40)
            CHECK_REPORT(strstr(why, "consent_at \"") != NULL, "%s: %s", cases[i].in, why);
    }
}

/* Every prefix of valid values, each in a buffer of exactly its length (ASan sees a read past
 * it): the parser looks only at the bytes it is given. */
static void test_prefixes_read_nothing_beyond(void)
{
    static const char *const full[] = {"2026-05-01T12:00:00.250+02:00", "2026-05-01 10:00Z"};
    for (size_t k = 0; k < 2; k++) {
        size_t n = strlen(full[k]);
        for (size_t len = 0; len <= n; len++) {
            char *copy = malloc(len ? len : 1);
            memcpy(copy, full[k], len);
            int64_t at;
            char why[CONSENT_WHY_MAX];
            int rc = consent_parse_at(copy, len, NOW, &at, why, sizeof why);
            /* A prefix is valid only as the date alone (a trailing space is trimmed) or once
             * the zone is complete. */
            int want_ok = len == 10 || len == n || (k == 1 && len == 11);
            CHECK_REPORT((rc == 0) == want_ok, "%.*s: rc %d %s", (int)len, full[k], rc, why);
            free(copy);
        }
    }
}

static void test_short_buffer_message_is_cut(void)
{
    char why[16];
    int64_t at;
    int rc = consent_parse_at("nonsense", 8, NOW, &at, why, sizeof why);
    CHECK_INT(rc, BC_EINVAL);
    CHECK_INT((int)strlen(why), 15);
}

/* What a row's value means with requireConsent on and off. */
static void test_row_verdicts(void)
{
    static const struct {
        const char *v;
        int has_column, required;
        enum consent_verdict want;
        const char *words;
    } cases[] = {
        {"2026-05-01", 1, 1, CONSENT_OK, ""},
        {"2026-05-01", 1, 0, CONSENT_OK, ""},
        {"", 1, 0, CONSENT_OK, ""},
        {"", 0, 0, CONSENT_OK, ""},
        {"soon", 1, 0, CONSENT_WARN, "called all the same"},
        {"2099-01-01", 1, 0, CONSENT_WARN, "is in the future"},
        {"", 0, 1, CONSENT_REFUSE, "the file has no consent_at column"},
        {"", 1, 1, CONSENT_REFUSE, "consent_at is empty"},
        {"  ", 1, 1, CONSENT_REFUSE, "consent_at is empty"},
        {"soon", 1, 1, CONSENT_REFUSE, "requireConsent) and consent_at \"soon\" is not"},
        {"2099-01-01", 1, 1, CONSENT_REFUSE, "is in the future"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[300] = "";
        enum consent_verdict v =
            consent_check_row(cases[i].v, strlen(cases[i].v), cases[i].has_column,
                              cases[i].required, NOW, msg, sizeof msg);
        CHECK_REPORT(v == cases[i].want, "\"%s\" column %d required %d: %d", cases[i].v,
                     cases[i].has_column, cases[i].required, (int)v);
        CHECK_REPORT(strstr(msg, cases[i].words) != NULL, "\"%s\": \"%s\" lacks \"%s\"", cases[i].v,
                     msg, cases[i].words);
        if (v == CONSENT_REFUSE)
            CHECK_REPORT(strncmp(msg, "No consent: ", 12) == 0, "%s", msg);
    }
}

CHECK_MAIN(CHECK_CASE(test_accepted), CHECK_CASE(test_refused), CHECK_CASE(test_row_verdicts),
           CHECK_CASE(test_prefixes_read_nothing_beyond),
           CHECK_CASE(test_short_buffer_message_is_cut))
