/* Webhook targets: the body of PUT /v1/api/webhook (src/api/webhooks.c: {"url": string or null})
 * and the URL rule it applies (url_check, src/model/url.c), also with the upload form's
 * relaxations. Properties: a URL we accept is at most URL_MAX bytes, starts with http:// or
 * https:// (any case) followed by something that is not '/', and holds no space or control
 * character; the relaxed rule accepts whatever the strict one does. */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "fuzz_json.h"
#include "model/url.h"

static void check_url(const char *s, size_t len)
{
    int strict = url_check(s, len, 0);
    int relaxed = url_check(s, len, URL_EMPTY_HOST_OK | URL_DEL_OK);
    if (strict != 0)
        return;
    FUZZ_CHECK(relaxed == 0, "accepted strictly but not relaxed: %.*s", (int)len, s);
    FUZZ_CHECK(len <= URL_MAX, "%zu bytes accepted", len);
    size_t skip = len >= 7 && !strncasecmp(s, "http://", 7)    ? 7
                  : len >= 8 && !strncasecmp(s, "https://", 8) ? 8
                                                               : 0;
    FUZZ_CHECK(skip && len > skip && s[skip] != '/', "accepted: %.*s", (int)len, s);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)s[i] > 0x20 && (unsigned char)s[i] != 0x7f,
                   "byte 0x%02x accepted", (unsigned char)s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The raw bytes as a URL (the upload form's webhookUrl field is not JSON). */
    check_url((const char *)data, size);
    cJSON *body = fuzz_parse_body(data, size);
    if (!body)
        return 0;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, "url");
    if (cJSON_IsString(u))
        check_url(u->valuestring, strlen(u->valuestring));
    cJSON_Delete(body);
    return 0;
}
