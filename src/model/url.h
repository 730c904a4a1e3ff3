/* URL rules: which callback and webhook URLs the API accepts. One validator for every caller, so
 * that a URL accepted in one place is not refused in another without a reason written here. */
#ifndef BC_MODEL_URL_H
#define BC_MODEL_URL_H

#include <stddef.h>

#define URL_MAX 2048 /* bytes */

/* Relaxations of the rule, for the upload form's webhookUrl field, which has always accepted
 * these; URLs stored that way are then ignored by webhook delivery (which checks with no flag). */
enum url_flags {
    URL_EMPTY_HOST_OK = 1, /* a '/' right after the scheme, as in "http:///path" */
    URL_DEL_OK = 2,        /* the DEL character (0x7f) */
};

/* 0 if s is an http:// or https:// URL (scheme in any case) with something after the scheme that
 * does not start with '/', at most URL_MAX bytes, without spaces or control characters. Else
 * BC_ETOOBIG (too long) or BC_EINVAL. flags (enum url_flags) relax the rule. */
int url_check(const char *s, size_t len, unsigned flags);

struct sockaddr;

/* The range a resolved address belongs to when a webhook may not reach it: "loopback",
 * "link-local", "private" (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, fec0::/10),
 * "multicast", "unspecified" (0.0.0.0/8, ::) or "reserved" (240/4, broadcast); IPv4-mapped and
 * IPv4-compatible IPv6 addresses are judged by their IPv4 address. NULL for a public address
 * (and for families other than IPv4 and IPv6). */
const char *url_addr_refusal(const struct sockaddr *sa);

/* Why a webhook target URL (one that passed url_check) is refused, or NULL when it is not:
 * "credentials" for a user:password@ part (never stored, since the log and the API echo the URL);
 * unless allow_private, the range (as url_addr_refusal) of a host written as an address
 * literal in any form curl accepts (127.1, 0x7f000001, [::ffff:127.0.0.1]), or "loopback" for
 * localhost and *.localhost. Host names are judged again on the address they resolve to, when
 * delivery connects (http/client.h: refuse_addr). */
const char *url_target_refusal(const char *s, size_t len, int allow_private);

/* The rest of an API error sentence whose subject is the URL's field ("url must not ...", "url
 * points to ..."), naming the rule behind url_target_refusal's answer. */
const char *url_refusal_message(const char *refusal);

#endif
