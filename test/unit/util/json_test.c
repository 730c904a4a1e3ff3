/* Tests for json_object_string: it must answer exactly what reading the text with cJSON and
 * taking the member would, for valid answers (read by its own scanner) and for everything else
 * (handed to cJSON), so every case is checked against cJSON itself. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "util/json.h"

/* The reference: cJSON's tree, as the provider read the member before. */
static int reference(const char *data, size_t len, const char *name, char *out, size_t cap)
{
    cJSON *j = cJSON_ParseWithLength(data, len);
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(j, name);
    int ok = cJSON_IsString(item) && item->valuestring[0] && strlen(item->valuestring) < cap;
    if (ok)
        memcpy(out, item->valuestring, strlen(item->valuestring) + 1);
    cJSON_Delete(j);
    return ok;
}

/* Checks one text against cJSON; returns json_object_string's answer. */
static int same(const char *data, size_t len, const char *name, size_t cap)
{
    char got[64] = "untouched", want[64] = "untouched";
    int g = json_object_string(data, len, name, got, cap);
    int w = reference(data, len, name, want, cap);
    CHECK_REPORT(g == w, "%.*s: %d, cJSON %d", (int)len, data, g, w);
    if (g && w)
        CHECK_STR(got, want);
    return g;
}

static int same_str(const char *text, const char *name)
{
    return same(text, strlen(text), name, 35);
}

static void test_cases(void)
{
    char out[64];
    /* Found. */
    CHECK_INT(same_str("{\"sid\":\"CA123\"}", "sid"), 1);
    CHECK_INT(json_object_string("{\"sid\":\"CA123\"}", 15, "sid", out, sizeof out), 1);
    CHECK_STR(out, "CA123");
    CHECK_INT(same_str(" \r\n\t{ \"a\" : [1, -2.5e+3, {\"sid\": \"x\"}, [], {}], \"b\": null, "
                       "\"c\": true, \"d\": false, \"e\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\", "
                       "\"sid\" : \"CA\\u00e9\" , \"f\": 0}",
                       "sid"),
              1);
    CHECK_INT(same_str("{\"sid\":\"CAfirst\",\"sid\":\"CAsecond\"}", "sid"), 1);
    CHECK_INT(same_str("{\"sid\":\"caf\xc3\xa9\"}", "sid"), 1);
    CHECK_INT(same_str("{\"sid\":\"C\\/A\"}", "sid"), 1);
    CHECK_INT(same_str("{\"s\\u0069d\":\"CA1\"}", "sid"), 1);
    CHECK_INT(same_str("{\"sid\":\"CA1\"} trailing garbage", "sid"), 1);
    CHECK_INT(same_str("\xef\xbb\xbf{\"sid\":\"CA1\"}", "sid"), 1);
    CHECK_INT(same_str("{\"n\":1e999,\"sid\":\"CA1\"}", "sid"), 1);
    CHECK_INT(same_str("{\"sid\":\"01234567890123456789012345678901234\"}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":\"0123456789012345678901234567890123\"}", "sid"), 1);
    /* Not found, or not a usable string. */
    CHECK_INT(same_str("{\"sid\":\"\"}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":null}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":12}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":{\"sid\":\"x\"}}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":1,\"sid\":\"CA2\"}", "sid"), 0);
    CHECK_INT(same_str("{\"SID\":\"CA1\"}", "sid"), 0);
    CHECK_INT(same_str("{\"sidx\":\"CA1\",\"si\":\"CA2\"}", "sid"), 0);
    CHECK_INT(same_str("{\"a\":{\"sid\":\"CA1\"}}", "sid"), 0);
    CHECK_INT(same_str("{}", "sid"), 0);
    CHECK_INT(same_str("[\"sid\",\"CA1\"]", "sid"), 0);
    CHECK_INT(same_str("\"sid\"", "sid"), 0);
    CHECK_INT(same_str("", "sid"), 0);
    CHECK_INT(same(NULL, 0, "sid", 35), 0);
    CHECK_INT(same_str("{\"sid\":\"\\u0000CA\"}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":\"\\ud800\"}", "sid"), 0);
    /* Malformed: cJSON refuses the document, so the member is not there. */
    CHECK_INT(same_str("{\"sid\":\"CA1\"", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":\"CA1\",}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":\"CA1\",\"x\":[1,]}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":\"CA1\",\"x\":tru}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":\"CA1\",\"x\":\"\\q\"}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":\"CA1\",\"x\":\"\\ud800\"}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\" \"CA1\"}", "sid"), 0);
    CHECK_INT(same_str("{\"sid\":\"CA1\" \"x\":1}", "sid"), 0);
    /* A number longer than the scanner takes. */
    CHECK_INT(same_str("{\"sid\":\"CA1\",\"x\":1111111111111111111111111111111111111111111111111"
                       "1111111111111111111}",
                       "sid"),
              1);
    /* What cJSON allows beyond JSON is still answered as cJSON answers. */
    same_str("{\"sid\":\"CA1\",\"x\":01}", "sid");
    same_str("{\"sid\":\"CA1\",\"x\":+1}", "sid");
    same_str("{\"sid\":\"CA1\",\"x\":1.}", "sid");
    same_str("{\"sid\":\"CA\tX\"}", "sid");
    same_str("{\x01\"sid\":\"CA1\"}", "sid");
    /* Deep nesting: past the scanner's depth, cJSON decides. */
    char deep[300];
    size_t n = (size_t)snprintf(deep, sizeof deep, "{\"sid\":\"CA1\",\"x\":");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    CHECK_INT(same(deep, n, "sid", 35), 1);
    /* An embedded NUL: cJSON's string ends there. */
    CHECK_INT(same("{\"sid\":\"C\0A\"}", 13, "sid", 35), 1);
    CHECK_INT(same("{\"sid\":\"CA\"}\0xx", 15, "sid", 35), 1);
}

/* Random edits of a provider's answer (bytes changed, removed, repeated, cut): every variant is
 * answered as cJSON answers. */
static void test_mutations(void)
{
    static const char base[] =
        "{\"account_sid\": \"AC0123\", \"annotation\": null, \"answered_by\": null, "
        "\"caller_name\": \"\", \"duration\": null, \"price\": -0.0125, \"queue_time\": \"0\", "
        "\"sid\": \"CA01HQ3V6Z8R2M4N5P6Q7R8S9T\", \"status\": \"queued\", \"subresource_uris\": "
        "{\"events\": \"/2010-04-01/Accounts/AC0123/Calls/CA1/Events.json\"}, \"to\": "
        "\"+14155552671\", \"trunk\": [1, 2.5e3, true, false, {\"a\": [\"b\\n\"]}]}";
    static const char alphabet[] = "{}[]\":,\\ \x01\xc3nu0-e.tsid";
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    int found = 0;
    for (int round = 0; round < 20000; round++) {
        char text[sizeof base + 8];
        size_t len = sizeof base - 1;
        memcpy(text, base, len);
        int edits = 1 + (int)(state % 3);
        for (int e = 0; e < edits; e++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(state >> 33) % len;
            switch ((state >> 20) % 4) {
            case 0:
                text[at] = alphabet[(state >> 8) % (sizeof alphabet - 1)];
                break;
            case 1:
                memmove(text + at, text + at + 1, len - at - 1);
                len--;
                break;
            case 2:
                if (len < sizeof text - 1) {
                    memmove(text + at + 1, text + at, len - at);
                    len++;
                }
                break;
            default:
                len = at + 1;
                break;
            }
        }
        found += same(text, len, "sid", 35);
        if (check_failed_count)
            return;
    }
    /* The edits left many answers readable, so both paths were taken. */
    CHECK(found > 1000);
}

CHECK_MAIN(CHECK_CASE(test_cases), CHECK_CASE(test_mutations))
