/* Tests for src/ingest/phone.c: table-driven cases of what people type, each with the expected
 * E.164 result or error, plus the table invariants, exact messages and a fuzz run. Numbers are
 * realistic but fictional where a country reserves a range for fiction (US 555-01xx, UK 07700
 * 900xxx and 020 7946 0xxx, AU 0491 570 xxx and 02 5550 xxxx, FR 01 99 00 xx xx). */
#include "check.h"
#include "ingest/phone.h"
#include "ingest/phone_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct phone_case {
    const char *in;
    const char *home; /* default country, or NULL */
    const char *want; /* expected E.164, or NULL when err is expected */
    int err;
    const char *country; /* expected country field on success */
};

/* Parses a heap copy of exactly the input bytes, so ASan catches any read past len. */
static int parse_copy(const char *in, size_t len, const char *home, struct phone_number *out,
                      char *msg, size_t cap)
{
    char *copy = malloc(len ? len : 1);
    int rc;

    memcpy(copy, in, len);
    rc = phone_parse(copy, len, home, home ? strlen(home) : 0, out, msg, cap);
    free(copy);
    return rc;
}

static void run_cases(const struct phone_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct phone_case *c = &cases[i];
        struct phone_number out;
        char msg[256];
        int rc = parse_copy(c->in, strlen(c->in), c->home, &out, msg, sizeof msg);

        if (c->want != NULL) {
            CHECK_REPORT(rc == 0 && strcmp(out.e164, c->want) == 0 && out.len == strlen(c->want) &&
                             strcmp(out.country, c->country) == 0,
                         "case %zu \"%s\" (%s): want %s %s, got rc %d %s %s (%s)", i, c->in,
                         c->home ? c->home : "-", c->want, c->country, rc, out.e164, out.country,
                         msg);
            CHECK_REPORT(msg[0] == '\0', "case %zu: success leaves msg empty, got \"%s\"", i, msg);
        } else {
            CHECK_REPORT(rc == c->err && out.len == 0 && out.e164[0] == '\0',
                         "case %zu \"%s\" (%s): want error %d, got rc %d %s (%s)", i, c->in,
                         c->home ? c->home : "-", c->err, rc, out.e164, msg);
            CHECK_REPORT(msg[0] != '\0', "case %zu: an error comes with a message", i);
        }
    }
}

#define RUN(table) run_cases(table, sizeof table / sizeof table[0])

/* International format with '+', across the plans. */
static void test_international(void)
{
    static const struct phone_case cases[] = {
        {"+14155552671", NULL, "+14155552671", 0, "US"},
        {"+1 415 555 0123", NULL, "+14155550123", 0, "US"},
        {"+1 (415) 555-2671", NULL, "+14155552671", 0, "US"},
        {"+1 415.555.2671", NULL, "+14155552671", 0, "US"},
        {"+1-212-555-0147", NULL, "+12125550147", 0, "US"},
        {"+1 416 555 0123", NULL, "+14165550123", 0, "CA"},
        {"+1 604 555 0199", NULL, "+16045550199", 0, "CA"},
        {"+1 514 555 0110", NULL, "+15145550110", 0, "CA"},
        {"+1 876 555 0123", NULL, "+18765550123", 0, "JM"},
        {"+1 787 555 0123", NULL, "+17875550123", 0, "PR"},
        {"+1 809 555 0123", NULL, "+18095550123", 0, "DO"},
        {"+1 242 555 0123", NULL, "+12425550123", 0, "BS"},
        {"+1 868 555 0123", NULL, "+18685550123", 0, "TT"},
        {"+1 800 555 0199", NULL, "+18005550199", 0, "US"},
        {"+44 20 7946 0958", NULL, "+442079460958", 0, "GB"},
        {"+44 7700 900123", NULL, "+447700900123", 0, "GB"},
        {"+44 113 496 0000", NULL, "+441134960000", 0, "GB"},
        {"+44 16977 3456", NULL, "+44169773456", 0, "GB"},
        {"+49 30 12345678", NULL, "+493012345678", 0, "DE"},
        {"+49 151 12345678", NULL, "+4915112345678", 0, "DE"},
        {"+49 89 1234567", NULL, "+49891234567", 0, "DE"},
        {"+33 6 12 34 56 78", NULL, "+33612345678", 0, "FR"},
        {"+33 1 99 00 12 34", NULL, "+33199001234", 0, "FR"},
        {"+39 06 1234 5678", NULL, "+390612345678", 0, "IT"},
        {"+39 312 345 6789", NULL, "+393123456789", 0, "IT"},
        {"+39 06 698 12345", NULL, "+390669812345", 0, "VA"},
        {"+34 612 345 678", NULL, "+34612345678", 0, "ES"},
        {"+34 91 123 45 67", NULL, "+34911234567", 0, "ES"},
        {"+31 6 12345678", NULL, "+31612345678", 0, "NL"},
        {"+31 20 123 4567", NULL, "+31201234567", 0, "NL"},
        {"+32 2 511 12 34", NULL, "+3225111234", 0, "BE"},
        {"+32 470 12 34 56", NULL, "+32470123456", 0, "BE"},
        {"+41 44 668 18 00", NULL, "+41446681800", 0, "CH"},
        {"+41 78 123 45 67", NULL, "+41781234567", 0, "CH"},
        {"+43 1 234567", NULL, "+431234567", 0, "AT"},
        {"+43 664 1234567", NULL, "+436641234567", 0, "AT"},
        {"+46 8 123 456 78", NULL, "+46812345678", 0, "SE"},
        {"+46 70 123 45 67", NULL, "+46701234567", 0, "SE"},
        {"+47 412 34 567", NULL, "+4741234567", 0, "NO"},
        {"+47 79 12 34 56", NULL, "+4779123456", 0, "SJ"},
        {"+45 32 12 34 56", NULL, "+4532123456", 0, "DK"},
        {"+358 40 1234567", NULL, "+358401234567", 0, "FI"},
        {"+358 18 12345", NULL, "+3581812345", 0, "AX"},
        {"+48 512 345 678", NULL, "+48512345678", 0, "PL"},
        {"+351 912 345 678", NULL, "+351912345678", 0, "PT"},
        {"+353 85 123 4567", NULL, "+353851234567", 0, "IE"},
        {"+353 1 234 5678", NULL, "+35312345678", 0, "IE"},
        {"+30 21 0123 4567", NULL, "+302101234567", 0, "GR"},
        {"+420 601 123 456", NULL, "+420601123456", 0, "CZ"},
        {"+36 20 123 4567", NULL, "+36201234567", 0, "HU"},
        {"+40 721 234 567", NULL, "+40721234567", 0, "RO"},
        {"+380 50 123 4567", NULL, "+380501234567", 0, "UA"},
        {"+7 912 345 67 89", NULL, "+79123456789", 0, "RU"},
        {"+7 495 123 45 67", NULL, "+74951234567", 0, "RU"},
        {"+7 701 234 5678", NULL, "+77012345678", 0, "KZ"},
        {"+90 532 123 45 67", NULL, "+905321234567", 0, "TR"},
        {"+972 50 123 4567", NULL, "+972501234567", 0, "IL"},
        {"+971 50 123 4567", NULL, "+971501234567", 0, "AE"},
        {"+966 50 123 4567", NULL, "+966501234567", 0, "SA"},
        {"+20 10 1234 5678", NULL, "+201012345678", 0, "EG"},
        {"+27 82 123 4567", NULL, "+27821234567", 0, "ZA"},
        {"+234 803 123 4567", NULL, "+2348031234567", 0, "NG"},
        {"+254 712 345678", NULL, "+254712345678", 0, "KE"},
        {"+212 5288 12345", NULL, "+212528812345", 0, "EH"},
        {"+212 612 345678", NULL, "+212612345678", 0, "MA"},
        {"+225 07 01 23 45 67", NULL, "+2250701234567", 0, "CI"},
        {"+262 269 61 23 45", NULL, "+262269612345", 0, "YT"},
        {"+262 692 12 34 56", NULL, "+262692123456", 0, "RE"},
        {"+91 98765 43210", NULL, "+919876543210", 0, "IN"},
        {"+92 300 1234567", NULL, "+923001234567", 0, "PK"},
        {"+880 1712 345678", NULL, "+8801712345678", 0, "BD"},
        {"+86 138 0013 8000", NULL, "+8613800138000", 0, "CN"},
        {"+86 10 1234 5678", NULL, "+861012345678", 0, "CN"},
        {"+81 90 1234 5678", NULL, "+819012345678", 0, "JP"},
        {"+81 3 1234 5678", NULL, "+81312345678", 0, "JP"},
        {"+82 10 1234 5678", NULL, "+821012345678", 0, "KR"},
        {"+82 2 123 4567", NULL, "+8221234567", 0, "KR"},
        {"+65 8123 4567", NULL, "+6581234567", 0, "SG"},
        {"+852 5123 4567", NULL, "+85251234567", 0, "HK"},
        {"+63 917 123 4567", NULL, "+639171234567", 0, "PH"},
        {"+62 812 3456 789", NULL, "+628123456789", 0, "ID"},
        {"+60 12 345 6789", NULL, "+60123456789", 0, "MY"},
        {"+66 81 234 5678", NULL, "+66812345678", 0, "TH"},
        {"+84 91 234 56 78", NULL, "+84912345678", 0, "VN"},
        {"+61 491 570 156", NULL, "+61491570156", 0, "AU"},
        {"+61 2 5550 1234", NULL, "+61255501234", 0, "AU"},
        {"+61 8 9164 1234", NULL, "+61891641234", 0, "CX"},
        {"+64 21 123 4567", NULL, "+64211234567", 0, "NZ"},
        {"+64 9 302 1234", NULL, "+6493021234", 0, "NZ"},
        {"+55 11 91234 5678", NULL, "+5511912345678", 0, "BR"},
        {"+55 21 2345 6789", NULL, "+552123456789", 0, "BR"},
        {"+52 55 1234 5678", NULL, "+525512345678", 0, "MX"},
        {"+54 9 11 2345 6789", NULL, "+5491123456789", 0, "AR"},
        {"+54 11 2345 6789", NULL, "+541123456789", 0, "AR"},
        {"+57 301 234 5678", NULL, "+573012345678", 0, "CO"},
        {"+56 9 6123 4567", NULL, "+56961234567", 0, "CL"},
        {"+51 912 345 678", NULL, "+51912345678", 0, "PE"},
        {"+599 9 461 2345", NULL, "+59994612345", 0, "CW"},
        {"+599 717 1234", NULL, "+5997171234", 0, "BQ"},
        {"+290 8123", NULL, "+2908123", 0, "TA"},
        {"+383 44 123 456", NULL, "+38344123456", 0, "XK"},
        {"+800 1234 5678", NULL, "+80012345678", 0, ""},
        {"+881 6 1234 5678", NULL, "+881612345678", 0, ""},
        {"+870 773 123 456", NULL, "+870773123456", 0, ""},
    };
    RUN(cases);
}

/* Formatting characters, whitespace and international prefixes. */
static void test_formatting(void)
{
    static const struct phone_case cases[] = {
        {"  +1 415 555 2671  ", NULL, "+14155552671", 0, "US"},
        {"\t+14155552671\r\n", NULL, "+14155552671", 0, "US"},
        {"\xC2\xA0+44 20 7946 0958\xC2\xA0", NULL, "+442079460958", 0, "GB"},
        {"+44\xC2\xA0"
         "20\xC2\xA0"
         "7946\xC2\xA0"
         "0958",
         NULL, "+442079460958", 0, "GB"},
        {"+33\xE2\x80\xAF"
         "6\xE2\x80\xAF"
         "12\xE2\x80\xAF"
         "34\xE2\x80\xAF"
         "56\xE2\x80\xAF"
         "78",
         NULL, "+33612345678", 0, "FR"},
        {"+1 415\xE2\x80\x93"
         "555\xE2\x80\x93"
         "2671",
         NULL, "+14155552671", 0, "US"},
        {"+1 415\xE2\x88\x92"
         "555\xE2\x88\x92"
         "2671",
         NULL, "+14155552671", 0, "US"},
        {"+1/415/555/2671", NULL, "+14155552671", 0, "US"},
        {"(+44) 20 7946 0958", NULL, "+442079460958", 0, "GB"},
        {"0044 20 7946 0958", NULL, "+442079460958", 0, "GB"},
        {"0044 (0)20 7946 0958", NULL, "+442079460958", 0, "GB"},
        {"00 1 415 555 2671", NULL, "+14155552671", 0, "US"},
        {"0049 30 123456", "DE", "+4930123456", 0, "DE"},
        {"011 44 20 7946 0958", "US", "+442079460958", 0, "GB"},
        {"011 49 151 12345678", "CA", "+4915112345678", 0, "DE"},
        {"+44 (0)20 7946 0958", NULL, "+442079460958", 0, "GB"},
        {"+44 0 7700 900123", NULL, "+447700900123", 0, "GB"},
        {"+49 (0)30 1234567", NULL, "+49301234567", 0, "DE"},
        {"+33 (0)6 12 34 56 78", NULL, "+33612345678", 0, "FR"},
        {"+36 06 1 234 5678", NULL, "+3612345678", 0, "HU"},
        {"+14155552671", "GB", "+14155552671", 0, "US"},
    };
    RUN(cases);
}

/* Spreadsheets drop the '+': restored only when the digits are exactly a valid number. */
static void test_plus_restored(void)
{
    static const struct phone_case cases[] = {
        {"14155552671", NULL, "+14155552671", 0, "US"},
        {"447911123456", NULL, "+447911123456", 0, "GB"},
        {"4915123456789", NULL, "+4915123456789", 0, "DE"},
        {"33612345678", NULL, "+33612345678", 0, "FR"},
        {"919876543210", NULL, "+919876543210", 0, "IN"},
        {"61491570156", NULL, "+61491570156", 0, "AU"},
        {"8613800138000", NULL, "+8613800138000", 0, "CN"},
        {"5511912345678", NULL, "+5511912345678", 0, "BR"},
        {"34 612 345 678", NULL, "+34612345678", 0, "ES"},
        {"4155552671", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"(415) 555-2671", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"646 555 0123", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"07911 123456", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"020 7946 0958", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"06 12 34 56 78", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"612345678", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"4402079460958", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"011 44 20 7946 0958", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
        {"1415555267", NULL, NULL, PHONE_E_NEEDS_COUNTRY, NULL},
    };
    RUN(cases);
}

/* National formats read with a default country. */
static void test_national(void)
{
    static const struct phone_case cases[] = {
        {"(415) 555-2671", "US", "+14155552671", 0, "US"},
        {"415-555-0123", "us", "+14155550123", 0, "US"},
        {"1 (415) 555-0123", "US", "+14155550123", 0, "US"},
        {"1-800-555-0199", "US", "+18005550199", 0, "US"},
        {"14155552671", "US", "+14155552671", 0, "US"},
        {"416 555 0123", "CA", "+14165550123", 0, "CA"},
        {"416 555 0123", "US", "+14165550123", 0, "CA"},
        {"876 555 0123", "JM", "+18765550123", 0, "JM"},
        {"07911 123456", "GB", "+447911123456", 0, "GB"},
        {"020 7946 0958", "GB", "+442079460958", 0, "GB"},
        {"07700 900123", "gb", "+447700900123", 0, "GB"},
        {"7700 900123", "GB", "+447700900123", 0, "GB"},
        {"447700900123", "GB", "+447700900123", 0, "GB"},
        {"07700 900123", "JE", "+447700900123", 0, "GB"},
        {"030 123456", "DE", "+4930123456", 0, "DE"},
        {"0151 12345678", "DE", "+4915112345678", 0, "DE"},
        {"4915112345678", "DE", "+4915112345678", 0, "DE"},
        {"06 12 34 56 78", "FR", "+33612345678", 0, "FR"},
        {"01 99 00 12 34", "FR", "+33199001234", 0, "FR"},
        {"612345678", "FR", "+33612345678", 0, "FR"},
        {"33612345678", "FR", "+33612345678", 0, "FR"},
        {"06 1234 5678", "IT", "+390612345678", 0, "IT"},
        {"312 345 6789", "IT", "+393123456789", 0, "IT"},
        {"393 123 4567", "IT", "+393931234567", 0, "IT"},
        {"39 06 1234 5678", "IT", "+390612345678", 0, "IT"},
        {"612 345 678", "ES", "+34612345678", 0, "ES"},
        {"91 123 45 67", "ES", "+34911234567", 0, "ES"},
        {"34612345678", "ES", "+34612345678", 0, "ES"},
        {"0412 345 678", "AU", "+61412345678", 0, "AU"},
        {"(02) 5550 1234", "AU", "+61255501234", 0, "AU"},
        {"0491 570 156", "AU", "+61491570156", 0, "AU"},
        {"098765 43210", "IN", "+919876543210", 0, "IN"},
        {"98765 43210", "IN", "+919876543210", 0, "IN"},
        {"090-1234-5678", "JP", "+819012345678", 0, "JP"},
        {"03-1234-5678", "JP", "+81312345678", 0, "JP"},
        {"(11) 91234-5678", "BR", "+5511912345678", 0, "BR"},
        {"(21) 2345-6789", "BR", "+552123456789", 0, "BR"},
        {"55 1234 5678", "MX", "+525512345678", 0, "MX"},
        {"(81) 1234 5678", "MX", "+528112345678", 0, "MX"},
        {"06 12345678", "NL", "+31612345678", 0, "NL"},
        {"020 123 4567", "NL", "+31201234567", 0, "NL"},
        {"0470 12 34 56", "BE", "+32470123456", 0, "BE"},
        {"02 511 12 34", "BE", "+3225111234", 0, "BE"},
        {"044 668 18 00", "CH", "+41446681800", 0, "CH"},
        {"0664 1234567", "AT", "+436641234567", 0, "AT"},
        {"070-123 45 67", "SE", "+46701234567", 0, "SE"},
        {"412 34 567", "NO", "+4741234567", 0, "NO"},
        {"32 12 34 56", "DK", "+4532123456", 0, "DK"},
        {"040 1234567", "FI", "+358401234567", 0, "FI"},
        {"512 345 678", "PL", "+48512345678", 0, "PL"},
        {"912 345 678", "PT", "+351912345678", 0, "PT"},
        {"085 123 4567", "IE", "+353851234567", 0, "IE"},
        {"8 (912) 345-67-89", "RU", "+79123456789", 0, "RU"},
        {"8 812 123 45 67", "RU", "+78121234567", 0, "RU"},
        {"812 123 45 67", "RU", "+78121234567", 0, "RU"},
        {"8 701 234 5678", "KZ", "+77012345678", 0, "KZ"},
        {"06 20 123 4567", "HU", "+36201234567", 0, "HU"},
        {"010-1234-5678", "KR", "+821012345678", 0, "KR"},
        {"02-123-4567", "KR", "+8221234567", 0, "KR"},
        {"138 0013 8000", "CN", "+8613800138000", 0, "CN"},
        {"010 1234 5678", "CN", "+861012345678", 0, "CN"},
        {"082 123 4567", "ZA", "+27821234567", 0, "ZA"},
        {"0803 123 4567", "NG", "+2348031234567", 0, "NG"},
        {"0712 345678", "KE", "+254712345678", 0, "KE"},
        {"010 1234 5678", "EG", "+201012345678", 0, "EG"},
        {"050 123 4567", "AE", "+971501234567", 0, "AE"},
        {"050 123 4567", "SA", "+966501234567", 0, "SA"},
        {"050-123-4567", "IL", "+972501234567", 0, "IL"},
        {"0532 123 45 67", "TR", "+905321234567", 0, "TR"},
        {"8123 4567", "SG", "+6581234567", 0, "SG"},
        {"5123 4567", "HK", "+85251234567", 0, "HK"},
        {"0917 123 4567", "PH", "+639171234567", 0, "PH"},
        {"0812-3456-789", "ID", "+628123456789", 0, "ID"},
        {"012-345 6789", "MY", "+60123456789", 0, "MY"},
        {"081 234 5678", "TH", "+66812345678", 0, "TH"},
        {"091 234 56 78", "VN", "+84912345678", 0, "VN"},
        {"021 123 4567", "NZ", "+64211234567", 0, "NZ"},
        {"011 2345 6789", "AR", "+541123456789", 0, "AR"},
        {"301 234 5678", "CO", "+573012345678", 0, "CO"},
        {"9 6123 4567", "CL", "+56961234567", 0, "CL"},
        {"21 0123 4567", "GR", "+302101234567", 0, "GR"},
        {"601 123 456", "CZ", "+420601123456", 0, "CZ"},
        {"0300 1234567", "PK", "+923001234567", 0, "PK"},
        {"07 01 23 45 67", "CI", "+2250701234567", 0, "CI"},
    };
    RUN(cases);
}

/* Input that is not a phone number at all. */
static void test_characters(void)
{
    static const struct phone_case cases[] = {
        {"", NULL, NULL, PHONE_E_EMPTY, NULL},
        {"   ", NULL, NULL, PHONE_E_EMPTY, NULL},
        {"\t\r\n", "US", NULL, PHONE_E_EMPTY, NULL},
        {"\xC2\xA0\xC2\xA0", NULL, NULL, PHONE_E_EMPTY, NULL},
        {"+", NULL, NULL, PHONE_E_EMPTY, NULL},
        {"( ) - -", "US", NULL, PHONE_E_EMPTY, NULL},
        {"abc", NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"+1 415 555 CALL", NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"415-555-XXXX", "US", NULL, PHONE_E_BAD_CHAR, NULL},
        {"+1 415 555 2671!", NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"++14155552671", NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"+1 415 +555 2671", NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"4155552671+", "US", NULL, PHONE_E_BAD_CHAR, NULL},
        {"\xEF\xBC\x8B"
         "14155552671",
         NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"tel:+14155552671", NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"+1 415\x01"
         "555 2671",
         NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"+1 415 555 2671\xFF", NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"+1,415,555,2671", NULL, NULL, PHONE_E_BAD_CHAR, NULL},
        {"415 555 2671 x123", "US", NULL, PHONE_E_EXTENSION, NULL},
        {"+1 415 555 2671 ext. 5", NULL, NULL, PHONE_E_EXTENSION, NULL},
        {"+44 20 7946 0958 ext 12", NULL, NULL, PHONE_E_EXTENSION, NULL},
        {"+1 415 555 2671 #12", NULL, NULL, PHONE_E_EXTENSION, NULL},
        {"+1 415 555 2671 Extension: 7", NULL, NULL, PHONE_E_EXTENSION, NULL},
        {"+1 415 555 2671x5", NULL, NULL, PHONE_E_EXTENSION, NULL},
        {"x123", NULL, NULL, PHONE_E_EXTENSION, NULL},
    };
    RUN(cases);
}

/* Numbers with the right characters but the wrong digits. */
static void test_invalid_numbers(void)
{
    static const struct phone_case cases[] = {
        {"+999 123 4567", NULL, NULL, PHONE_E_UNKNOWN_CODE, NULL},
        {"+28 1234 5678", NULL, NULL, PHONE_E_UNKNOWN_CODE, NULL},
        {"+801 1234 5678", NULL, NULL, PHONE_E_UNKNOWN_CODE, NULL},
        {"+0 123 456", NULL, NULL, PHONE_E_UNKNOWN_CODE, NULL},
        {"00999 1234 5678", "GB", NULL, PHONE_E_UNKNOWN_CODE, NULL},
        {"+4", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+42", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+1", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"00", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+1 415 555 267", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+44 7911 123", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+33 6 12 34 56", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+49 30 12", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+61 4 1234 567", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+91 98765 4321", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"+55 11 1234 567", NULL, NULL, PHONE_E_TOO_SHORT, NULL},
        {"07911 1234", "GB", NULL, PHONE_E_TOO_SHORT, NULL},
        {"415 555 267", "US", NULL, PHONE_E_TOO_SHORT, NULL},
        {"06 12 34 56 7", "FR", NULL, PHONE_E_TOO_SHORT, NULL},
        {"+1 415 555 26711", NULL, NULL, PHONE_E_TOO_LONG, NULL},
        {"+44 20 7946 09581", NULL, NULL, PHONE_E_TOO_LONG, NULL},
        {"+34 612 345 6789", NULL, NULL, PHONE_E_TOO_LONG, NULL},
        {"+86 138 0013 80001", NULL, NULL, PHONE_E_TOO_LONG, NULL},
        {"+49 1234 5678 9012 3456", NULL, NULL, PHONE_E_TOO_LONG, NULL},
        {"12345678901234567890", NULL, NULL, PHONE_E_TOO_LONG, NULL},
        {"1234567890123456789012345", "US", NULL, PHONE_E_TOO_LONG, NULL},
        {"06 12 34 56 78 9", "FR", NULL, PHONE_E_TOO_LONG, NULL},
        {"612 345 6789", "ES", NULL, PHONE_E_TOO_LONG, NULL},
        {"+1 015 555 2671", NULL, NULL, PHONE_E_NANP, NULL},
        {"+1 115 555 2671", NULL, NULL, PHONE_E_NANP, NULL},
        {"+1 415 055 2671", NULL, NULL, PHONE_E_NANP, NULL},
        {"+1 415 155 2671", NULL, NULL, PHONE_E_NANP, NULL},
        {"(015) 555-2671", "US", NULL, PHONE_E_NANP, NULL},
        {"416 155 0123", "CA", NULL, PHONE_E_NANP, NULL},
        {"+44 0 7911 1234", NULL, NULL, PHONE_E_TRUNK, NULL},
        {"+44 00 20 7946 0958", NULL, NULL, PHONE_E_TRUNK, NULL},
        {"+33 0 6 12 34 56", NULL, NULL, PHONE_E_TRUNK, NULL},
        {"+36 0 1 234 5678", NULL, NULL, PHONE_E_TRUNK, NULL},
        {"020 7946 0958", "UK", NULL, PHONE_E_DEFAULT_COUNTRY, NULL},
        {"+14155552671", "USA", NULL, PHONE_E_DEFAULT_COUNTRY, NULL},
        {"4155552671", "ZZ", NULL, PHONE_E_DEFAULT_COUNTRY, NULL},
    };
    RUN(cases);
}

/* The messages users read: they name the rule and the numbers involved. */
static void test_messages(void)
{
    static const struct {
        const char *in, *home, *msg;
    } cases[] = {
        {"", NULL, "is empty"},
        {"+", NULL, "contains no digits"},
        {"+44 7911 123", NULL, "too short for +44: needs 9 to 10 digits, got 7"},
        {"+1 415 555 267", NULL, "too short for +1: needs 10 digits, got 9"},
        {"+1 415 555 26711", NULL, "too long for +1: needs 10 digits, got 11"},
        {"+49 30 12", NULL, "too short for +49: needs 5 to 13 digits, got 4"},
        {"+354 123 45", NULL, "too short for +354: needs 7 or 9 digits, got 5"},
        {"+354 123 4567 8", NULL, "too short for +354: needs 7 or 9 digits, got 8"},
        {"+685 123", NULL, "too short for +685: needs 5, 6, 7 or 10 digits, got 3"},
        {"06 12 34 56 78 9", "FR", "too long for +33: needs 9 digits, got 10"},
        {"12345678901234567890", NULL, "too long: a phone number has at most 15 digits, got 20"},
        {"+1 015 555 2671", NULL, "+1 area code cannot start with 0 or 1"},
        {"+1 415 155 2671", NULL, "+1 exchange code cannot start with 0 or 1"},
        {"+999 123 4567", NULL, "+999 is not a country calling code"},
        {"+4", NULL, "too short: +4 is not a complete country code"},
        {"abc", NULL,
         "contains the letter \"a\", which is not allowed: use only digits, one leading + and "
         "spaces or - . ( ) /"},
        {"+1 415 555 2671!", NULL,
         "contains \"!\", which is not allowed: use only digits, one leading + and spaces or - . "
         "( ) /"},
        {"\xEF\xBC\x8B"
         "14155552671",
         NULL,
         "contains \"\xEF\xBC\x8B\" (U+FF0B), which is not allowed: use only digits, one leading "
         "+ and spaces or - . ( ) /"},
        {"+1 415\x01"
         "555 2671",
         NULL,
         "contains the control character U+0001, which is not allowed: use only digits, one "
         "leading + and spaces or - . ( ) /"},
        {"+1 415 555 2671\xFF", NULL, "contains the byte 0xFF, which is not valid UTF-8 text"},
        {"++14155552671", NULL,
         "has more than one \"+\": write a single + before the country code"},
        {"4155552671+", NULL, "has a \"+\" after digits: + may only come before the country code"},
        {"+1 415 555 2671 ext. 5", NULL,
         "has an extension (ext. 5): extensions are not supported, so keep only the main number"},
        {"4155552671", NULL,
         "has no country code: write it as +14155552671 if it is a US or Canadian number, or "
         "with + and its country code, or set defaultCountry"},
        {"6465550123", NULL,
         "is ambiguous without a country: it could be +16465550123 (North America) or "
         "+6465550123; write it with + and the country code, or set defaultCountry"},
        {"07911 123456", NULL,
         "has no country code: write it with + and the country code (like +44 20 7946 0958), or "
         "set defaultCountry to read national numbers"},
        {"+44 0 7911 1234", NULL,
         "the 0 after +44 is only dialled inside the country, and without it the number is too "
         "short for +44: needs 9 to 10 digits, got 8"},
        {"+44 00 20 7946 0958", NULL,
         "cannot have 0 right after +44: the 0 is only dialled inside the country, so leave it "
         "out"},
        {"020 7946 0958", "UK",
         "defaultCountry \"UK\" is not a country we know: use a two-letter ISO 3166 code such as "
         "US or GB"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct phone_number out;
        char msg[256];
        int rc = parse_copy(cases[i].in, strlen(cases[i].in), cases[i].home, &out, msg, sizeof msg);
        CHECK(rc < 0);
        CHECK_STR(msg, cases[i].msg);
    }
}

/* normalized is 1 exactly when the result differs from the trimmed input. */
static void test_normalized_flag(void)
{
    static const struct {
        const char *in, *home;
        int normalized;
    } cases[] = {
        {"+14155552671", NULL, 0},          {" +14155552671\t", NULL, 0},
        {"\xC2\xA0+447700900123", NULL, 0}, {"+1 415 555 2671", NULL, 1},
        {"14155552671", NULL, 1},           {"0044 20 7946 0958", NULL, 1},
        {"+44 (0)20 7946 0958", NULL, 1},   {"+442079460958", "US", 0},
        {"07911 123456", "GB", 1},          {"4155552671", "US", 1},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct phone_number out;
        int rc = parse_copy(cases[i].in, strlen(cases[i].in), cases[i].home, &out, NULL, 0);
        CHECK_INT(rc, 0);
        CHECK_INT(out.normalized, cases[i].normalized);
    }
}

/* Only len bytes are read, and msg is truncated but always terminated. */
static void test_buffers(void)
{
    struct phone_number out;
    char small[8];
    int rc;

    rc = phone_parse("+14155552671999", 12, NULL, 0, &out, NULL, 0);
    CHECK_INT(rc, 0);
    CHECK_STR(out.e164, "+14155552671");
    CHECK_INT(out.normalized, 0);

    rc = phone_parse("020 7946 0958", 13, "GBR", 2, &out, NULL, 0);
    CHECK_INT(rc, 0);
    CHECK_STR(out.e164, "+442079460958");

    memset(small, 'z', sizeof small);
    rc = phone_parse("+1 415 555 267", 14, NULL, 0, &out, small, sizeof small);
    CHECK_INT(rc, PHONE_E_TOO_SHORT);
    CHECK_STR(small, "too sho");

    small[0] = 'z';
    rc = phone_parse("+14155552671", 12, NULL, 0, &out, small, 1);
    CHECK_INT(rc, 0);
    CHECK_INT(small[0], '\0');

    rc = phone_parse(NULL, 0, NULL, 0, &out, small, sizeof small);
    CHECK_INT(rc, PHONE_E_EMPTY);
}

/* Every valid result parses again to itself, unchanged. */
static void test_idempotent(void)
{
    static const char *const inputs[] = {"+1 (415) 555-2671", "0044 (0)20 7946 0958",
                                         "+39 06 1234 5678",  "+7 701 234 5678",
                                         "+800 1234 5678",    "+225 07 01 23 45 67"};

    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        struct phone_number first, again;
        CHECK_INT(phone_parse(inputs[i], strlen(inputs[i]), NULL, 0, &first, NULL, 0), 0);
        CHECK_INT(phone_parse(first.e164, first.len, NULL, 0, &again, NULL, 0), 0);
        CHECK_STR(again.e164, first.e164);
        CHECK_STR(again.country, first.country);
        CHECK_INT(again.normalized, 0);
    }
}

static void test_country_known(void)
{
    CHECK_INT(phone_country_known("US", 2), 1);
    CHECK_INT(phone_country_known("us", 2), 1);
    CHECK_INT(phone_country_known("Gb", 2), 1);
    CHECK_INT(phone_country_known("XK", 2), 1);
    CHECK_INT(phone_country_known("VA", 2), 1);
    CHECK_INT(phone_country_known("UK", 2), 0);
    CHECK_INT(phone_country_known("ZZ", 2), 0);
    CHECK_INT(phone_country_known("USA", 3), 0);
    CHECK_INT(phone_country_known("U", 1), 0);
    CHECK_INT(phone_country_known("", 0), 0);
    CHECK_INT(phone_country_known(NULL, 0), 0);
    CHECK_INT(phone_country_known("\0\0", 2), 0);
}

static void test_strerror(void)
{
    static const int codes[] = {PHONE_E_EMPTY,          PHONE_E_BAD_CHAR,     PHONE_E_EXTENSION,
                                PHONE_E_NEEDS_COUNTRY,  PHONE_E_UNKNOWN_CODE, PHONE_E_TOO_SHORT,
                                PHONE_E_TOO_LONG,       PHONE_E_NANP,         PHONE_E_TRUNK,
                                PHONE_E_DEFAULT_COUNTRY};
    const char *unknown = phone_strerror(-1000);

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = phone_strerror(codes[i]);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(strcmp(s, unknown) != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s, phone_strerror(codes[j])) != 0);
    }
}

static size_t digit_count(unsigned code)
{
    return code >= 100 ? 3 : code >= 10 ? 2 : 1;
}

/* The invariants phone.c relies on and phone_data.c promises. */
static void test_table(void)
{
    size_t named = 0, duplicates = 0;

    CHECK(phone_data_count >= 240);
    for (size_t i = 0; i < phone_data_count; i++) {
        const struct phone_country *c = &phone_data_countries[i];
        int first_of_code = i == 0 || phone_data_countries[i - 1].code != c->code;
        unsigned max_len = 0;

        for (unsigned n = 0; n < 16; n++)
            if (c->lengths & (1u << n))
                max_len = n;
        CHECK_REPORT(c->lengths != 0 && !(c->lengths & 0xF), "%s +%u: lengths from 4 digits",
                     c->iso2, c->code);
        CHECK_REPORT(digit_count(c->code) + max_len <= 15, "%s +%u: longest number fits E.164",
                     c->iso2, c->code);
        CHECK_REPORT(i == 0 || phone_data_countries[i - 1].code <= c->code,
                     "%s +%u: sorted by code", c->iso2, c->code);
        CHECK_REPORT(!first_of_code || c->prefixes == NULL,
                     "%s +%u: the main country has no prefixes", c->iso2, c->code);
        CHECK_REPORT(strspn(c->trunk, "0123456789") == strlen(c->trunk), "%s: trunk is digits",
                     c->iso2);
        CHECK_REPORT(c->prefixes == NULL ||
                         strspn(c->prefixes, "0123456789 ") == strlen(c->prefixes),
                     "%s: prefixes are digits and spaces", c->iso2);
        if (c->iso2[0] != '\0') {
            named++;
            CHECK_REPORT(c->iso2[0] >= 'A' && c->iso2[0] <= 'Z' && c->iso2[1] >= 'A' &&
                             c->iso2[1] <= 'Z' && c->iso2[2] == '\0',
                         "row %zu: ISO code is two capitals", i);
            for (size_t j = 0; j < i; j++)
                duplicates += strcmp(phone_data_countries[j].iso2, c->iso2) == 0;
        }
    }
    CHECK(named >= 240);
    CHECK_INT(duplicates, 0);
}

/* The indexes of phone_data.c agree with its rows. When they do not (the rows were edited),
 * the indexes the rows give are printed, to paste into phone_data.c. */
static void test_indexes(void)
{
    static unsigned short code_row[1000];
    static unsigned char nanp[800];
    size_t us = 0;
    while (us < phone_data_count && phone_data_countries[us].code != 1)
        us++;
    CHECK(us < phone_data_count);
    for (size_t i = phone_data_count; i-- > 0;)
        if (phone_data_countries[i].code < 1000)
            code_row[phone_data_countries[i].code] = (unsigned short)(i + 1);
    for (unsigned area = 200; area < 1000; area++) {
        char a[3] = {(char)('0' + area / 100), (char)('0' + area / 10 % 10),
                     (char)('0' + area % 10)};
        for (size_t i = us + 1; i < phone_data_count && phone_data_countries[i].code == 1; i++) {
            const char *p = phone_data_countries[i].prefixes;
            size_t k;
            for (; p && *p && !nanp[area - 200]; p += k + strspn(p + k, " "))
                if ((k = strcspn(p, " ")) <= 3 && memcmp(p, a, k) == 0)
                    nanp[area - 200] = (unsigned char)(i - us);
        }
    }
    int same = memcmp(code_row, phone_data_code_row, sizeof code_row) == 0;
    CHECK_REPORT(same, "phone_data_code_row differs from the rows");
    for (size_t i = 0; !same && i < 1000; i++)
        fprintf(stderr, "%u,%s", code_row[i], i % 20 == 19 ? "\n" : " ");
    same = memcmp(nanp, phone_data_nanp_member, sizeof nanp) == 0;
    CHECK_REPORT(same, "phone_data_nanp_member differs from the rows");
    for (size_t i = 0; !same && i < 800; i++)
        fprintf(stderr, "%u,%s", nanp[i], i % 25 == 24 ? "\n" : " ");
}

/* Random bytes drawn mostly from the characters the parser cares about: nothing crashes, msg
 * is always terminated, and every success is a well-formed E.164 number. */
/* Every prefix of every North American member reads as that member, and a US area code next
 * to them as the US: the member lookup is exact, token by token. */
static void test_nanp_members(void)
{
    size_t checked = 0;
    for (size_t i = 0; i < phone_data_count; i++) {
        const struct phone_country *c = &phone_data_countries[i];
        if (c->code != 1 || c->prefixes == NULL)
            continue;
        for (const char *p = c->prefixes; *p;) {
            size_t k = strcspn(p, " ");
            CHECK_INT(k, 3);
            char in[32];
            snprintf(in, sizeof in, "+1%.3s5550123", p);
            struct phone_number out;
            char msg[128];
            CHECK_INT(phone_parse(in, strlen(in), NULL, 0, &out, msg, sizeof msg), 0);
            CHECK_STR(out.country, c->iso2);
            checked++;
            p += k;
            while (*p == ' ')
                p++;
        }
    }
    CHECK(checked > 60);
    struct phone_number out;
    CHECK_INT(phone_parse("+12125550123", 12, NULL, 0, &out, NULL, 0), 0);
    CHECK_STR(out.country, "US");
}

static void test_fuzz(void)
{
    static const char alphabet[] = "0123456789+-. ()/x#e\t\xC2\xA0\xE2\x80\x93";
    static const char *const homes[] = {NULL, "US", "GB", "DE", "IT", "RU", "HU"};
    unsigned long long state = 12345;
    int bad = 0;

    for (int round = 0; round < 200000; round++) {
        char in[24], msg[64];
        size_t len;
        struct phone_number out;
        int rc;
        const char *home;

        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        len = (size_t)(state >> 59) % sizeof in;
        for (size_t i = 0; i < len; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            in[i] = (state >> 60) < 14 ? alphabet[(state >> 33) % (sizeof alphabet - 1)]
                                       : (char)(state >> 40);
        }
        home = homes[(state >> 20) % (sizeof homes / sizeof homes[0])];
        memset(msg, 'z', sizeof msg);
        rc = parse_copy(in, len, home, &out, msg, sizeof msg);
        if (memchr(msg, '\0', sizeof msg) == NULL)
            bad++;
        else if (rc == 0 &&
                 (out.e164[0] != '+' || out.len < 5 || out.len > PHONE_E164_MAX ||
                  strlen(out.e164) != out.len || strspn(out.e164 + 1, "0123456789") != out.len - 1))
            bad++;
        else if (rc != 0 && (rc > PHONE_E_EMPTY || rc < PHONE_E_DEFAULT_COUNTRY || msg[0] == '\0'))
            bad++;
    }
    CHECK_INT(bad, 0);
}

CHECK_MAIN(CHECK_CASE(test_international), CHECK_CASE(test_nanp_members),
           CHECK_CASE(test_formatting), CHECK_CASE(test_plus_restored), CHECK_CASE(test_national),
           CHECK_CASE(test_characters), CHECK_CASE(test_invalid_numbers), CHECK_CASE(test_messages),
           CHECK_CASE(test_normalized_flag), CHECK_CASE(test_buffers), CHECK_CASE(test_idempotent),
           CHECK_CASE(test_country_known), CHECK_CASE(test_strerror), CHECK_CASE(test_table),
           CHECK_CASE(test_indexes), CHECK_CASE(test_fuzz))
