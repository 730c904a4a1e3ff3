/* Number to time zones: longest-prefix lookups in the generated table, interning, the
 * calling-code fallback, bad input, and the area code to state table. */
#include "check.h"

#include "policy/zones.h"
#include "util/err.h"

/* The zone names of e164's set, joined with '&' as in libphonenumber's map, or the error. */
static const char *names(const char *e164)
{
    static char out[2048];
    const struct zones_set *set;
    int rc = zones_lookup(e164, strlen(e164), &set);
    if (rc < 0) {
        snprintf(out, sizeof out, "error %d", rc);
        return out;
    }
    out[0] = '\0';
    for (uint16_t i = 0; i < set->count; i++) {
        if (i)
            strcat(out, "&");
        strcat(out, zones_name(set->zone[i]));
    }
    return out;
}

static void test_area_codes_and_prefixes(void)
{
    CHECK_STR(names("+12125550182"), "America/New_York");
    CHECK_STR(names("12125550182"), "America/New_York");
    CHECK_STR(names("+13105550100"), "America/Los_Angeles");
    CHECK_STR(names("+16235550100"), "America/Phoenix");
    /* The data gives most Arizona area codes Denver as well (the Navajo Nation keeps DST). */
    CHECK_STR(names("+16025550100"), "America/Denver&America/Phoenix");
    CHECK_STR(names("+18085550100"), "Pacific/Honolulu");
    /* Split area codes: the 7-digit NPA-NXX wins over the area code. */
    CHECK_STR(names("+12195550100"), "America/New_York");
    CHECK_STR(names("+12192260100"), "America/Chicago");
    CHECK_STR(names("+12082010100"), "America/Denver");
    CHECK_STR(names("+12082150100"), "America/Los_Angeles");
    CHECK_STR(names("+12082090100"), "America/Boise&America/Los_Angeles");
    CHECK_STR(names("+442079460000"), "Europe/London");
    CHECK_STR(names("+911123456789"), "Asia/Calcutta");
    CHECK_STR(names("+97714123456"), "Asia/Katmandu");
    CHECK_STR(names("+61292500000"), "Australia/Sydney");
}

static void test_calling_code_fallback(void)
{
    /* An area code the data does not know gets every zone of the North American plan. */
    const struct zones_set *all, *one;
    CHECK_INT(zones_lookup("+19995550100", 12, &all), 0);
    CHECK(all->count > 20);
    /* Even a lone calling code. */
    CHECK_INT(zones_lookup("+1", 2, &one), 0);
    CHECK(one == all);
    /* A non-geographic calling code has no zone. */
    CHECK_STR(names("+80012345678"), "error -2");
}

static void test_interning(void)
{
    const struct zones_set *a, *b, *c;
    CHECK_INT(zones_lookup("+12125550182", 12, &a), 0);
    CHECK_INT(zones_lookup("+17185550100", 12, &b), 0);
    CHECK_INT(zones_lookup("+13125550100", 12, &c), 0);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(zones_set_get(a->id) == a);
    CHECK(zones_set_get(0) == NULL);
    CHECK(zones_set_get((uint16_t)zones_set_count()) == NULL);
    CHECK(zones_name((uint16_t)zones_count()) == NULL);
    /* Every set is non-empty, sorted, and names real zones. */
    for (size_t i = 1; i < zones_set_count(); i++) {
        const struct zones_set *s = zones_set_get((uint16_t)i);
        CHECK(s && s->id == i && s->count > 0);
        for (uint16_t k = 1; s && k < s->count; k++)
            CHECK(s->zone[k - 1] < s->zone[k]);
        for (uint16_t k = 0; s && k < s->count; k++)
            CHECK(s->zone[k] < zones_count());
    }
    for (size_t i = 1; i < zones_count(); i++)
        CHECK(strcmp(zones_name((uint16_t)(i - 1)), zones_name((uint16_t)i)) < 0);
}

static void test_bad_numbers(void)
{
    const struct zones_set *set;
    CHECK_INT(zones_lookup("", 0, &set), BC_EINVAL);
    CHECK_INT(zones_lookup("+", 1, &set), BC_EINVAL);
    CHECK_INT(zones_lookup("+1212a550182", 12, &set), BC_EINVAL);
    CHECK_INT(zones_lookup("+1 212", 6, &set), BC_EINVAL);
    CHECK_INT(zones_lookup("+1234567890123456", 17, &set), BC_EINVAL); /* 16 digits */
    CHECK_INT(zones_lookup("+123456789012345", 16, &set), 0);          /* 15 digits */
    /* The length is honoured: digits past it are not read. */
    CHECK_INT(zones_lookup("+12192260100", 5, &set), 0);
    CHECK_STR(zones_name(set->zone[0]), "America/New_York");
}

static void test_states(void)
{
    char st[3];
    CHECK_INT(zones_us_state("+12125550182", 12, st), 0);
    CHECK_STR(st, "NY");
    CHECK_INT(zones_us_state("+19075550100", 12, st), 0);
    CHECK_STR(st, "AK");
    CHECK_INT(zones_us_state("+18005550100", 12, st), BC_ENOTFOUND); /* toll-free */
    CHECK_INT(zones_us_state("+16045550100", 12, st), BC_ENOTFOUND); /* Vancouver */
    CHECK_INT(zones_us_state("+11005550100", 12, st), BC_EINVAL);
    /* Every US state and DC has at least one area code. */
    static const char *const all[] = {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL",
        "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT",
        "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI",
        "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int found = 0;
        for (int npa = 200; npa < 1000 && !found; npa++) {
            char num[24];
            snprintf(num, sizeof num, "+1%d5550100", npa);
            found = zones_us_state(num, 12, st) == 0 && strcmp(st, all[i]) == 0;
        }
        CHECK_REPORT(found, "no area code for %s", all[i]);
    }
}

CHECK_MAIN(CHECK_CASE(test_area_codes_and_prefixes), CHECK_CASE(test_calling_code_fallback),
           CHECK_CASE(test_interning), CHECK_CASE(test_bad_numbers), CHECK_CASE(test_states))
