/* Tests for src/model/url.c: the strict rule (webhook targets, voiceUrl) and the upload form's
 * relaxations, each with its bad inputs. */
#include <string.h>

#include "check.h"
#include "model/url.h"
#include "util/err.h"

struct url_case {
    const char *url;
    int strict; /* expected url_check(url, len, 0) */
    int form;   /* expected with URL_EMPTY_HOST_OK | URL_DEL_OK */
};

static void test_rules(void)
{
    static const struct url_case cases[] = {
        {"https://example.com/hook", 0, 0},
        {"http://127.0.0.1:8080/x?y=1", 0, 0},
        {"HTTPS://EXAMPLE.COM", 0, 0},
        {"Http://a", 0, 0},
        {"", BC_EINVAL, BC_EINVAL},                         /* empty */
        {"example.com/hook", BC_EINVAL, BC_EINVAL},         /* no scheme */
        {"ftp://example.com", BC_EINVAL, BC_EINVAL},        /* wrong scheme */
        {"mailto:x@example.com", BC_EINVAL, BC_EINVAL},     /* wrong scheme */
        {"https:example.com", BC_EINVAL, BC_EINVAL},        /* no "//" */
        {"https://", BC_EINVAL, BC_EINVAL},                 /* nothing after the scheme */
        {"http://", BC_EINVAL, BC_EINVAL},                  /* nothing after the scheme */
        {"https:///path", BC_EINVAL, 0},                    /* empty host */
        {"https://exa mple.com", BC_EINVAL, BC_EINVAL},     /* space */
        {" https://example.com", BC_EINVAL, BC_EINVAL},     /* leading space */
        {"https://example.com/\t", BC_EINVAL, BC_EINVAL},   /* tab */
        {"https://example.com/\x01", BC_EINVAL, BC_EINVAL}, /* control character */
        {"https://example.com/\n", BC_EINVAL, BC_EINVAL},   /* newline */
        {"https://example.com/\x7f", BC_EINVAL, 0},         /* DEL */
        {"https://user:pw@example.com/", 0, 0},             /* userinfo: not refused */
        {"https://example.com/\xc3\xa9", 0, 0},             /* UTF-8 bytes pass */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct url_case *c = &cases[i];
        int strict = url_check(c->url, strlen(c->url), 0);
        int form = url_check(c->url, strlen(c->url), URL_EMPTY_HOST_OK | URL_DEL_OK);
        CHECK_REPORT(strict == c->strict, "url_check(\"%s\", 0) = %d, want %d", c->url, strict,
                     c->strict);
        CHECK_REPORT(form == c->form, "url_check(\"%s\", form) = %d, want %d", c->url, form,
                     c->form);
    }
}

/* Each flag relaxes only its own rule. */
static void test_flags_are_separate(void)
{
    CHECK_INT(url_check("http:///x", 9, URL_DEL_OK), BC_EINVAL);
    CHECK_INT(url_check("http:///x", 9, URL_EMPTY_HOST_OK), 0);
    CHECK_INT(url_check("http://x\x7f", 9, URL_EMPTY_HOST_OK), BC_EINVAL);
    CHECK_INT(url_check("http://x\x7f", 9, URL_DEL_OK), 0);
}

/* Only len bytes are read: the strings are (ptr, len), not NUL-terminated. */
static void test_length(void)
{
    char longer[URL_MAX + 2];
    memset(longer, 'a', sizeof longer);
    memcpy(longer, "https://", 8);
    CHECK_INT(url_check(longer, URL_MAX, 0), 0);
    CHECK_INT(url_check(longer, URL_MAX + 1, 0), BC_ETOOBIG);
    CHECK_INT(url_check(longer, URL_MAX + 1, URL_EMPTY_HOST_OK | URL_DEL_OK), BC_ETOOBIG);
    CHECK_INT(url_check("https://a.example/ x", 17, 0), 0);
    CHECK_INT(url_check("https://a", 7, 0), BC_EINVAL);
}

CHECK_MAIN(CHECK_CASE(test_rules), CHECK_CASE(test_flags_are_separate), CHECK_CASE(test_length))
