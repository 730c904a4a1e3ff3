#include "model/url.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "util/err.h"

static size_t scheme_len(const char *s, size_t len)
{
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
        return 7;
    if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
        return 8;
    return 0;
}

int url_check(const char *s, size_t len, unsigned flags)
{
    if (len > URL_MAX)
        return BC_ETOOBIG;
    size_t scheme = scheme_len(s, len);
    if (!scheme || len == scheme || (s[scheme] == '/' && !(flags & URL_EMPTY_HOST_OK)))
        return BC_EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || (c == 0x7f && !(flags & URL_DEL_OK)))
            return BC_EINVAL;
    }
    return 0;
}

/* ---- webhook targets: who they may reach ---- */

static const char *v4_refusal(uint32_t a)
{
    if ((a >> 24) == 0)
        return "unspecified";
    if ((a >> 24) == 127)
        return "loopback";
    if ((a >> 16) == 0xa9fe)
        return "link-local";
    if ((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8 || (a >> 22) == 0x191)
        return "private";
    if ((a >> 28) == 0xe)
        return "multicast";
    if ((a >> 28) == 0xf)
        return "reserved";
    return NULL;
}

static const char *v6_refusal(const uint8_t b[16])
{
    static const uint8_t zero[12] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
    if (memcmp(b, mapped, 12) == 0)
        return v4_refusal(v4);
    if (memcmp(b, zero, 12) == 0) {
        if (v4 == 0)
            return "unspecified";
        if (v4 == 1)
            return "loopback";
        return v4_refusal(v4); /* IPv4-compatible ::a.b.c.d */
    }
    if (b[0] == 0xff)
        return "multicast";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "link-local";
    if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0))
        return "private";
    return NULL;
}

const char *url_addr_refusal(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_refusal(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6)
        return v6_refusal(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return NULL;
}

/* The range of a host written as an address (brackets removed), or NULL for a name. inet_aton
 * takes every IPv4 form curl does (127.1, 0x7f.1, 017700000001, 2130706433). */
static const char *literal_refusal(const char *host, size_t len, int bracketed)
{
    char h[64];
    if (len == 0 || len >= sizeof h)
        return NULL;
    memcpy(h, host, len);
    h[len] = '\0';
    if (bracketed) {
        /* A zone ("%25eth0") is only meaningful on link-local addresses. */
        char *zone = strchr(h, '%');
        if (zone)
            *zone = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, h, &a6) == 1)
            return zone ? "link-local" : v6_refusal(a6.s6_addr);
        return NULL;
    }
    if (h[len - 1] == '.') /* a fully qualified name: "localhost." */
        h[--len] = '\0';
    static const char local[] = ".localhost";
    size_t ll = sizeof local - 1;
    if (strcasecmp(h, local + 1) == 0 || (len > ll && strcasecmp(h + len - ll, local) == 0))
        return "loopback";
    struct in_addr a4;
    if (strspn(h, "0123456789abcdefABCDEFxX.") == len && inet_aton(h, &a4) == 1)
        return v4_refusal(ntohl(a4.s_addr));
    return NULL;
}

const char *url_target_refusal(const char *s, size_t len, int allow_private)
{
    size_t i = scheme_len(s, len);
    size_t end = i;
    while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    const char *at = memchr(s + i, '@', end - i);
    if (at)
        return "credentials";
    if (allow_private)
        return NULL;
    const char *host = s + i;
    size_t hlen = end - i;
    if (hlen && host[0] == '[') {
        const char *close = memchr(host, ']', hlen);
        return close ? literal_refusal(host + 1, (size_t)(close - host - 1), 1) : NULL;
    }
    const char *colon = memchr(host, ':', hlen);
    if (colon)
        hlen = (size_t)(colon - host);
    return literal_refusal(host, hlen, 0);
}

const char *url_refusal_message(const char *refusal)
{
    static const struct {
        const char *rule, *message;
    } messages[] = {
        {"credentials", "must not contain user:password@ credentials: receivers authenticate "
                        "webhooks by their X-Signature header."},
        {"loopback", "points to a loopback address (127.0.0.0/8, ::1, localhost); webhook "
                     "targets must be public addresses unless the server runs with "
                     "--webhook-allow-private."},
        {"link-local", "points to a link-local address (169.254.0.0/16, fe80::/10); webhook "
                       "targets must be public addresses unless the server runs with "
                       "--webhook-allow-private."},
        {"private", "points to a private address (10.0.0.0/8, 172.16.0.0/12, "
                    "192.168.0.0/16, 100.64.0.0/10, fc00::/7); webhook targets must be public "
                    "addresses unless the server runs with --webhook-allow-private."},
        {"multicast", "points to a multicast address (224.0.0.0/4, ff00::/8); webhook "
                      "targets must be public unicast addresses unless the server runs with "
                      "--webhook-allow-private."},
        {"unspecified", "points to an unspecified address (0.0.0.0/8, ::); webhook targets "
                        "must be public addresses unless the server runs with "
                        "--webhook-allow-private."},
        {"reserved", "points to a reserved address (240.0.0.0/4); webhook targets must be "
                     "public addresses unless the server runs with --webhook-allow-private."},
    };
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
        if (refusal && strcmp(refusal, messages[i].rule) == 0)
            return messages[i].message;
    return "is not an allowed webhook target.";
}
