/* Tests for src/model/url.c: the strict rule (webhook targets, voiceUrl) and the upload form's
 * relaxations, each with its bad inputs. */
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

struct target_case {
    const char *url;
    const char *refusal; /* expected url_target_refusal(url, len, 0), NULL: allowed */
};

/* Webhook targets: user:password@ is always refused; address literals of non-public ranges,
 * written in any form curl reads, unless private addresses are allowed. */
static void test_target_refusal(void)
{
    static const struct target_case cases[] = {
        {"https://example.com/hook", NULL},
        {"https://hooks.example.com:8443/a?b=c@d", NULL}, /* '@' after the host is no userinfo */
        {"https://8.8.8.8/x", NULL},
        {"http://[2001:db8::1]:80/", NULL},
        {"http:///path", NULL}, /* the upload form's empty host: ignored by delivery */
        {"https://user:pass@example.com/", "credentials"},
        {"https://user@example.com/", "credentials"},
        {"https://:pw@example.com", "credentials"},
        {"http://127.0.0.1:8080/x", "loopback"},
        {"http://127.1/", "loopback"},
        {"http://2130706433/", "loopback"},
        {"http://0x7f.0.0.1/", "loopback"},
        {"http://0177.0.0.1/", "loopback"},
        {"http://localhost:9000/", "loopback"},
        {"http://LOCALHOST./", "loopback"},
        {"http://api.localhost/", "loopback"},
        {"http://[::1]/", "loopback"},
        {"http://[::ffff:127.0.0.1]/", "loopback"},
        {"http://[::ffff:7f00:1]:99/", "loopback"},
        {"http://10.1.2.3/", "private"},
        {"http://172.16.0.1/", "private"},
        {"http://172.31.255.255/", "private"},
        {"http://192.168.1.1/", "private"},
        {"http://100.64.0.1/", "private"},
        {"http://100.127.255.255/", "private"},
        {"http://[fc00::1]/", "private"},
        {"http://[fd12:3456::1]/", "private"},
        {"http://[::ffff:10.0.0.1]/", "private"},
        {"http://169.254.169.254/latest/meta-data", "link-local"},
        {"http://[fe80::1]/", "link-local"},
        {"http://[fe80::1%25eth0]/", "link-local"},
        {"http://[::ffff:169.254.169.254]/", "link-local"},
        {"http://224.0.0.1/", "multicast"},
        {"http://[ff02::1]/", "multicast"},
        {"http://0.0.0.0:80/", "unspecified"},
        {"http://0/", "unspecified"},
        {"http://[::]/", "unspecified"},
        {"http://255.255.255.255/", "reserved"},
        {"http://172.32.0.1/", NULL},  /* just outside 172.16/12 */
        {"http://100.128.0.1/", NULL}, /* just outside 100.64/10 */
        {"http://11.0.0.1/", NULL},
        {"http://deadbeef.example/", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct target_case *c = &cases[i];
        const char *got = url_target_refusal(c->url, strlen(c->url), 0);
        int ok = c->refusal ? got && strcmp(got, c->refusal) == 0 : got == NULL;
        CHECK_REPORT(ok, "url_target_refusal(\"%s\") = %s, want %s", c->url, got ? got : "NULL",
                     c->refusal ? c->refusal : "NULL");
        /* With private addresses allowed only credentials are refused. */
        got = url_target_refusal(c->url, strlen(c->url), 1);
        int cred = c->refusal && strcmp(c->refusal, "credentials") == 0;
        CHECK_REPORT(cred ? got != NULL : got == NULL, "allowed: url_target_refusal(\"%s\") = %s",
                     c->url, got ? got : "NULL");
        if (c->refusal)
            CHECK(strstr(url_refusal_message(c->refusal), c->refusal) != NULL ||
                  strcmp(c->refusal, "credentials") == 0);
    }
}

static const char *v4(const char *text)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    CHECK_INT(inet_pton(AF_INET, text, &a.sin_addr), 1);
    return url_addr_refusal((const struct sockaddr *)&a);
}

static const char *v6(const char *text)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    CHECK_INT(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
    return url_addr_refusal((const struct sockaddr *)&a);
}

/* Resolved addresses, as delivery sees them when it connects. */
static void test_addr_refusal(void)
{
    CHECK_STR(v4("127.0.0.1"), "loopback");
    CHECK_STR(v4("127.255.0.9"), "loopback");
    CHECK_STR(v4("10.0.0.1"), "private");
    CHECK_STR(v4("172.20.1.1"), "private");
    CHECK_STR(v4("192.168.0.1"), "private");
    CHECK_STR(v4("100.100.100.100"), "private");
    CHECK_STR(v4("169.254.1.1"), "link-local");
    CHECK_STR(v4("239.1.1.1"), "multicast");
    CHECK_STR(v4("0.0.0.0"), "unspecified");
    CHECK_STR(v4("240.0.0.1"), "reserved");
    CHECK(v4("93.184.216.34") == NULL);
    CHECK(v4("172.15.255.255") == NULL);
    CHECK(v4("192.169.0.1") == NULL);
    CHECK_STR(v6("::1"), "loopback");
    CHECK_STR(v6("::"), "unspecified");
    CHECK_STR(v6("::ffff:127.0.0.1"), "loopback");
    CHECK_STR(v6("::ffff:192.168.1.1"), "private");
    CHECK_STR(v6("::10.0.0.1"), "private");
    CHECK_STR(v6("fe80::abcd"), "link-local");
    CHECK_STR(v6("febf::1"), "link-local");
    CHECK_STR(v6("fc00::1"), "private");
    CHECK_STR(v6("fdff::1"), "private");
    CHECK_STR(v6("ff05::2"), "multicast");
    CHECK(v6("2001:db8::1") == NULL);
    CHECK(v6("2606:4700::1111") == NULL);
    CHECK(v6("::ffff:8.8.8.8") == NULL);
    struct sockaddr un = {.sa_family = AF_UNIX};
    CHECK(url_addr_refusal(&un) == NULL);
}

CHECK_MAIN(CHECK_CASE(test_rules), CHECK_CASE(test_flags_are_separate), CHECK_CASE(test_length),
           CHECK_CASE(test_target_refusal), CHECK_CASE(test_addr_refusal))
