/* Phone number normalisation: turns what people type into spreadsheets ("(415) 555-2671",
 * "0044 20 7946 0958", "07700 900123" with a default country) into E.164 ("+14155552671"), or
 * rejects it with a message a non-technical user understands and that names the broken rule.
 *
 * What is checked: the characters, the country calling code (ITU-T E.164 assignments), the length
 * of the national significant number (NSN, the digits after the calling code) against the
 * country's numbering plan, and for +1 the North American area and exchange code rules. Whether a
 * number is actually in service is not knowable here; the carrier tells us when we dial.
 *
 * Decisions worth knowing:
 * - Formatting is dropped anywhere: spaces, tabs, '-', '.', '(', ')', '/', no-break spaces
 *   (U+00A0, U+2007, U+202F) and typographic dashes (U+2010 to U+2015, U+2212), because
 *   spreadsheets and word processors produce them. A '+' may come once, before the first digit.
 * - "00" before the digits is the international prefix and means '+' (with or without a default
 *   country, and errors are then reported as for a '+' number); with a NANP default country
 *   (US, CA, ...) "011" means '+' as well.
 * - Trunk prefix after the country code ("+44 (0)20 7946 0958"): in countries whose trunk prefix
 *   begins with 0 (GB, DE, FR, ...), no national significant number starts with 0, so the 0 can
 *   only be the trunk prefix written by mistake. It is stripped silently (normalized = 1) when the
 *   rest is valid; otherwise, and for any other NSN starting with 0 in those countries,
 *   PHONE_E_TRUNK. Countries without a trunk prefix keep their 0: Italy's +39 06... is correct.
 * - Without '+' and without a default country the '+' is restored only when the digits, exactly
 *   as written, form a valid international number (spreadsheets drop the '+'). A 10-digit number
 *   that is also a valid US/Canada national number (646 555 0123 could be +64 6 555 0123 in New
 *   Zealand) is ambiguous and refused with PHONE_E_NEEDS_COUNTRY: national numbers need
 *   defaultCountry.
 * - With a default country the digits are read, first valid reading wins, as: trunk prefix +
 *   national number ("07700 900123"), then the country code already present ("4915112345678"
 *   with DE), then a national number whose trunk prefix was dropped ("7700900123", as
 *   spreadsheets drop leading zeros; and how NANP numbers are normally written). For countries
 *   without a trunk prefix (IT, ES, ...) the national reading comes before the country-code one.
 * - Lengths are those of geographic and mobile numbers, what a contact list holds; some service
 *   numbers (short freephone, premium) of other lengths are refused.
 * - Shared calling codes are one plan. The country field comes from the number where the plan
 *   says so (NANP area codes, +7 for Kazakhstan, ...), otherwise it is the code's main country:
 *   +44 reports GB also for Guernsey, Jersey and the Isle of Man. Global services (+800, +870,
 *   +881, ...) are accepted and report "".
 * - Not handled, refused as too long: Argentina's domestic mobile form "011 15 2345 6789"
 *   (write +54 9 11 2345 6789) and Mexico's pre-2019 mobile "1" ("+52 1 55 ...").
 * - Messages are lowercase clauses without a final full stop so callers can prefix them
 *   ("Invalid phone number: too short for +44: needs 9 to 10 digits, got 7"). */
#ifndef BC_INGEST_PHONE_H
#define BC_INGEST_PHONE_H

#include <stddef.h>

#define PHONE_E164_MAX 16 /* '+' and up to 15 digits */

enum phone_error {
    PHONE_E_EMPTY = -1,           /* nothing, only whitespace, or no digits at all */
    PHONE_E_BAD_CHAR = -2,        /* a letter or other character that is not formatting */
    PHONE_E_EXTENSION = -3,       /* "x123", "ext. 5", "#12": extensions cannot be dialled */
    PHONE_E_NEEDS_COUNTRY = -4,   /* a national number and no usable default country */
    PHONE_E_UNKNOWN_CODE = -5,    /* no such country calling code */
    PHONE_E_TOO_SHORT = -6,       /* fewer digits than the country's plan allows */
    PHONE_E_TOO_LONG = -7,        /* more digits than the plan (or E.164's 15) allows */
    PHONE_E_NANP = -8,            /* +1 area or exchange code starting with 0 or 1 */
    PHONE_E_TRUNK = -9,           /* a 0 after the country code that cannot be stripped */
    PHONE_E_DEFAULT_COUNTRY = -10 /* default_country is not a country we know */
};

struct phone_number {
    char e164[PHONE_E164_MAX + 1]; /* NUL-terminated result */
    size_t len;
    int normalized;  /* 1 when e164 differs from the input with surrounding whitespace trimmed
                        (formatting removed, 00 -> +, national -> international, '+' restored) */
    char country[3]; /* ISO 3166 alpha-2 of the number's country when known, or "" */
};

/* in[0..len) need not be NUL-terminated (in may be NULL when len is 0). default_country: ISO
 * 3166-1 alpha-2 (case-insensitive) or NULL/0-length. Returns 0 and fills out, or a negative
 * enum phone_error and writes a message into msg (always NUL-terminated, truncated to msgcap;
 * msg may be NULL when msgcap is 0). On success msg is "". */
int phone_parse(const char *in, size_t len, const char *default_country, size_t dc_len,
                struct phone_number *out, char *msg, size_t msgcap);

/* 1 if iso2 is a country we know (for validating a defaultCountry form field), else 0. */
int phone_country_known(const char *iso2, size_t len);

/* Short generic text per code. */
const char *phone_strerror(int err);

#endif
