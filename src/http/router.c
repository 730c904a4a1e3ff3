/* Route matching, query strings and header lookup: pure functions over (ptr, len) slices. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/router.h"
#include "util/err.h"
#include "util/num.h"

/* Matches one pattern against a path segment by segment, walking both strings once (no strchr
 * or strlen per segment: every request tries several patterns). ':' segments match any
 * non-empty segment and are captured. */
static int match_pattern(const char *p, const char *path, size_t len, struct http_slice *params,
                         size_t *nparams)
{
    size_t np = 0, i = 0;
    for (;;) {
        if (*p == '\0')
            return i == len ? (*nparams = np, 1) : 0;
        if (i >= len || *p != '/' || path[i] != '/')
            return 0;
        p++;
        i++;
        if (*p == ':') {
            size_t seg = i;
            while (i < len && path[i] != '/')
                i++;
            if (i == seg || np >= HTTP_MAX_PARAMS)
                return 0;
            params[np].ptr = path + seg;
            params[np].len = i - seg;
            np++;
            while (*p && *p != '/')
                p++;
            continue;
        }
        for (; *p && *p != '/'; p++, i++)
            if (i >= len || path[i] != *p)
                return 0;
        /* The path's segment must end where the pattern's does. */
        if (i < len && path[i] != '/')
            return 0;
    }
}

int http_route_match(const struct http_route *routes, size_t n, int method, const char *path,
                     size_t len, struct http_slice *params, size_t *nparams, char *allowed,
                     size_t allowed_cap)
{
    int path_matched = 0;
    size_t used = 0;
    uint64_t listed = 0;
    if (allowed_cap)
        allowed[0] = '\0';
    /* A trailing slash is not a different resource. */
    if (len > 1 && path[len - 1] == '/')
        len--;
    /* The routes of the request's method first: the answer of nearly every request, found
     * without matching the patterns of the other methods. */
    for (size_t r = 0; r < n; r++) {
        size_t ntmp = 0;
        if (routes[r].method == method &&
            match_pattern(routes[r].pattern, path, len, params, &ntmp)) {
            *nparams = ntmp;
            return (int)r;
        }
    }
    /* None: the other methods' routes tell 405 (and which methods) from 404. */
    for (size_t r = 0; r < n; r++) {
        struct http_slice tmp[HTTP_MAX_PARAMS];
        size_t ntmp = 0;
        if (!match_pattern(routes[r].pattern, path, len, tmp, &ntmp))
            continue;
        if (routes[r].method == method) {
            memcpy(params, tmp, sizeof tmp[0] * ntmp);
            *nparams = ntmp;
            return (int)r;
        }
        const char *m = llhttp_method_name((llhttp_method_t)routes[r].method);
        uint64_t bit = (uint64_t)1 << (routes[r].method & 63);
        if (allowed_cap && !(listed & bit)) {
            listed |= bit;
            int w = snprintf(allowed + used, allowed_cap - used, "%s%s", used ? ", " : "", m);
            if (w > 0 && (size_t)w < allowed_cap - used)
                used += (size_t)w;
            else
                allowed[used] = '\0';
        }
        path_matched = 1;
    }
    return path_matched ? -405 : -404;
}

void http_router_init(struct http_router *rt, const struct http_route *routes, size_t n)
{
    rt->routes = routes;
    rt->n = n;
    for (size_t r = 0; r < n && r < HTTP_ROUTER_MAX; r++) {
        const char *p = routes[r].pattern, *colon = strstr(p, "/:");
        size_t lit = colon ? (size_t)(colon - p) : strlen(p);
        /* A head too long to keep is compared by the walk (a literal of 0). */
        rt->literal[r] = lit < UINT16_MAX ? (uint16_t)lit : 0;
        rt->whole[r] = !colon && lit < UINT16_MAX;
    }
}

int http_router_match(const struct http_router *rt, int method, const char *path, size_t len,
                      struct http_slice *params, size_t *nparams, char *allowed, size_t allowed_cap)
{
    size_t tlen = len > 1 && path[len - 1] == '/' ? len - 1 : len;
    size_t n = rt->n < HTTP_ROUTER_MAX ? rt->n : HTTP_ROUTER_MAX;
    if (allowed_cap)
        allowed[0] = '\0';
    for (size_t r = 0; r < n; r++) {
        const struct http_route *route = &rt->routes[r];
        size_t lit = rt->literal[r];
        /* The length, then the head's last byte (where most heads of a table differ), before
         * the memcmp. */
        if (route->method != method || (rt->whole[r] ? tlen != lit : tlen < lit) ||
            (lit && path[lit - 1] != route->pattern[lit - 1]) ||
            memcmp(path, route->pattern, lit) != 0)
            continue;
        if (rt->whole[r]) {
            *nparams = 0;
            return (int)r;
        }
        /* The rest starts at a '/' in both: params point into path itself. */
        size_t ntmp = 0;
        if (match_pattern(route->pattern + lit, path + lit, tlen - lit, params, &ntmp)) {
            *nparams = ntmp;
            return (int)r;
        }
    }
    /* Routes past the kept heads, and the 404 or 405 of a path no route of the method takes. */
    return http_route_match(rt->routes, rt->n, method, path, len, params, nparams, allowed,
                            allowed_cap);
}

const struct http_slice *http_header(const struct http_request *req, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name.len == nlen && strncasecmp(h->name.ptr, name, nlen) == 0)
            return &h->value;
    }
    return NULL;
}

/* Percent-decodes s into out; '+' is a space, as HTML forms encode it. */
static int decode_component(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return BC_ETOOBIG;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < len && num_hex_digit(s[i + 1]) >= 0 &&
                   num_hex_digit(s[i + 2]) >= 0) {
            c = (char)(num_hex_digit(s[i + 1]) * 16 + num_hex_digit(s[i + 2]));
            i += 2;
        }
        if (o + 1 >= cap)
            return BC_ETOOBIG;
        out[o++] = c;
    }
    out[o] = '\0';
    return (int)o;
}

int http_query(const struct http_request *req, const char *name, char *out, size_t cap)
{
    const char *q = req->query.ptr;
    size_t qlen = req->query.len, nlen = strlen(name);
    size_t i = 0;
    while (i < qlen) {
        size_t start = i;
        while (i < qlen && q[i] != '&')
            i++;
        const char *pair = q + start;
        size_t plen = i - start;
        i++;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        if (klen != nlen || memcmp(pair, name, nlen) != 0)
            continue;
        const char *v = eq ? eq + 1 : pair + plen;
        size_t vlen = (size_t)(pair + plen - v);
        return decode_component(v, vlen, out, cap);
    }
    return BC_ENOTFOUND;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    }
    return "Unknown";
}
