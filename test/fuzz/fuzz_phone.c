/* Phone numbers (src/ingest/phone.c). Input: "CC|number" (CC: a default country, any two bytes)
 * or just a number. Property: a number we format as E.164 is '+' and 8 to 15 digits, and parses
 * back to itself, unchanged (normalized 0), with and without the default country. */
#include <string.h>

#include "fuzz.h"
#include "ingest/phone.h"

static void check_e164(const struct phone_number *n)
{
    FUZZ_CHECK(n->len == strlen(n->e164) && n->len >= 2 && n->len <= PHONE_E164_MAX, "len %zu",
               n->len);
    FUZZ_CHECK(n->e164[0] == '+' && n->e164[1] >= '1' && n->e164[1] <= '9', "%s", n->e164);
    for (size_t i = 1; i < n->len; i++)
        FUZZ_CHECK(n->e164[i] >= '0' && n->e164[i] <= '9', "%s", n->e164);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *dc = NULL;
    size_t dclen = 0;
    if (size >= 3 && in[2] == '|') {
        dc = in;
        dclen = 2;
        in += 3;
        size -= 3;
    }
    struct phone_number n, back;
    char msg[256];
    int rc = phone_parse(in, size, dc, dclen, &n, msg, sizeof msg);
    FUZZ_CHECK(memchr(msg, '\0', sizeof msg) != NULL, "message not terminated");
    if (rc != 0) {
        FUZZ_CHECK(rc < 0 && msg[0] != '\0', "rc %d without a message", rc);
        return 0;
    }
    check_e164(&n);
    rc = phone_parse(n.e164, n.len, NULL, 0, &back, msg, sizeof msg);
    FUZZ_CHECK(rc == 0, "%s does not parse back: %s", n.e164, msg);
    FUZZ_CHECK(strcmp(back.e164, n.e164) == 0 && !back.normalized, "%s came back as %s", n.e164,
               back.e164);
    rc = phone_parse(n.e164, n.len, dc, dclen, &back, msg, sizeof msg);
    FUZZ_CHECK(rc == 0 && strcmp(back.e164, n.e164) == 0, "%s with its default country: %s", n.e164,
               msg);
    return 0;
}
