/* Consent evidence of a contact: the consent_at column of an upload.
 *
 * AI voices are artificial voices under the TCPA (47 U.S.C. 227(b)), which require the called
 * party's prior express consent (written, for marketing). A workspace that sets requireConsent
 * dials only rows whose consent_at says when that consent was given: an ISO-8601 date
 * (2026-05-01) or date-time with a zone (2026-05-01T10:00:00Z, 2026-05-01T12:00:00+02:00,
 * seconds and a fraction optional, a space instead of T accepted), not in the future. */
#ifndef BC_MODEL_CONSENT_H
#define BC_MODEL_CONSENT_H

#include <stddef.h>
#include <stdint.h>

/* A date-time may be this far ahead of the server's clock (clocks drift). */
#define CONSENT_SKEW_MS (5 * 60 * 1000)
/* A date names a day somewhere: the furthest-ahead zone (UTC+14) reaches it this long before
 * UTC does. */
#define CONSENT_DATE_AHEAD_MS (14 * 3600 * 1000)
#define CONSENT_WHY_MAX       200

/* Reads a consent_at value (surrounding spaces ignored) at now_ms. 0 with *at_ms (a date: its
 * 00:00 UTC), or BC_EINVAL with why: a sentence saying what is wrong and how to write it. An
 * empty value is BC_ENOTFOUND (why set too). */
int consent_parse_at(const char *s, size_t len, int64_t now_ms, int64_t *at_ms, char *why,
                     size_t cap);

enum consent_verdict {
    CONSENT_OK,     /* the row may be called */
    CONSENT_WARN,   /* it may, but its consent_at is present and wrong (consent not required) */
    CONSENT_REFUSE, /* it may not: consent is required and the row has no valid consent_at */
};
/* What a row's consent_at (v, n; has_column 0: the file has no such column) means when the
 * workspace requires consent or not. For WARN and REFUSE, msg says what is wrong and how to fix
 * it, for the row's error or warning. */
enum consent_verdict consent_check_row(const char *v, size_t n, int has_column, int required,
                                       int64_t now_ms, char *msg, size_t cap);

#endif
