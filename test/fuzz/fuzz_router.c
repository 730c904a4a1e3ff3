/* The router and the query parser (src/http/router.c), over the server's real route table
 * (src/api/routes.c). Input: a method byte, then a path, an optional '?' and a query. Properties:
 * - http_router_match (the server's) answers as the walk (http_route_match) does;
 * - a match is a route of that method whose pattern matches segment by segment, its parameters
 *   non-empty slices of the path without '/'; -405 comes with the allowed methods, -404 without;
 * - http_query never writes past its buffer, terminates what it writes, decodes to at most the
 *   bytes of the value, and finds the first pair of a non-empty query by its name. */
#include <string.h>

#include "api/routes.h"
#include "fuzz.h"
#include "http/http.h"
#include "http/router.h"
#include "util/err.h"

static const char *const names[] = {"page", "limit", "status", "after", "lastEventId", "from", "to",
                                    "b",    "r",     "a",      ""};

static void check_route(int method, const char *path, size_t len)
{
    struct http_slice params[HTTP_MAX_PARAMS];
    size_t np = 0;
    char allowed[128];
    int r = http_route_match(routes_table, routes_count, method, path, len, params, &np, allowed,
                             sizeof allowed);
    FUZZ_CHECK(memchr(allowed, 0, sizeof allowed), "allowed not terminated");
    /* The server's matcher (literal heads, then the walk) gives the walk's answer. */
    static struct http_router rt;
    if (!rt.routes)
        http_router_init(&rt, routes_table, routes_count);
    struct http_slice rparams[HTTP_MAX_PARAMS];
    size_t rnp = 0;
    char rallowed[128];
    int rr = http_router_match(&rt, method, path, len, rparams, &rnp, rallowed, sizeof rallowed);
    FUZZ_CHECK(rr == r, "router %d, walk %d", rr, r);
    FUZZ_CHECK(strcmp(rallowed, allowed) == 0 && (r < 0 || rnp == np), "router's answer differs");
    for (size_t i = 0; r >= 0 && i < np; i++)
        FUZZ_CHECK(rparams[i].ptr == params[i].ptr && rparams[i].len == params[i].len,
                   "param %zu differs", i);
    if (r == -404) {
        FUZZ_CHECK(allowed[0] == '\0', "404 with allowed methods %s", allowed);
        return;
    }
    if (r == -405) {
        FUZZ_CHECK(allowed[0] != '\0', "405 without allowed methods");
        return;
    }
    FUZZ_CHECK(r >= 0 && (size_t)r < routes_count, "route %d", r);
    FUZZ_CHECK(routes_table[r].method == method, "route %d has another method", r);
    FUZZ_CHECK(np <= HTTP_MAX_PARAMS, "%zu params", np);
    size_t want = 0;
    for (const char *p = routes_table[r].pattern; *p; p++)
        want += p[0] == ':' && p[-1] == '/';
    FUZZ_CHECK(np == want, "%zu params for %s", np, routes_table[r].pattern);
    for (size_t i = 0; i < np; i++)
        FUZZ_CHECK(params[i].len > 0 && params[i].ptr >= path &&
                       params[i].ptr + params[i].len <= path + len &&
                       !memchr(params[i].ptr, '/', params[i].len),
                   "param %zu", i);
}

static void check_query(const char *q, size_t qlen)
{
    struct http_request *req = calloc(1, sizeof *req);
    req->query.ptr = q;
    req->query.len = qlen;
    char out[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        memset(out, 'X', sizeof out);
        int n = http_query(req, names[i], out, 16);
        FUZZ_CHECK(out[16] == 'X', "wrote past the buffer");
        FUZZ_CHECK(n == BC_ENOTFOUND || n == BC_ETOOBIG || (n >= 0 && n < 16 && out[n] == '\0'),
                   "returned %d", n);
    }
    /* The first pair's name, whatever it is, is found, with a value no longer than written. */
    const char *amp = memchr(q, '&', qlen);
    size_t plen = amp ? (size_t)(amp - q) : qlen;
    const char *eq = memchr(q, '=', plen);
    size_t klen = eq ? (size_t)(eq - q) : plen;
    if (qlen > 0 && klen < 32 && !memchr(q, '\0', klen)) {
        char name[32];
        memcpy(name, q, klen);
        name[klen] = '\0';
        char *val = malloc(qlen + 1);
        int n = http_query(req, name, val, qlen + 1);
        size_t vlen = eq ? plen - klen - 1 : 0;
        FUZZ_CHECK(n >= 0 && (size_t)n <= vlen, "first pair %s: %d for %zu bytes", name, n, vlen);
        free(val);
    }
    free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int methods[] = {HTTP_GET,   HTTP_POST, HTTP_PUT,    HTTP_DELETE,
                                  HTTP_PATCH, HTTP_HEAD, HTTP_OPTIONS};
    if (size < 1)
        return 0;
    int method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    const char *path = (const char *)data + 1;
    size_t len = size - 1;
    const char *qm = memchr(path, '?', len);
    size_t plen = qm ? (size_t)(qm - path) : len;
    check_route(method, path, plen);
    if (qm)
        check_query(qm + 1, len - plen - 1);
    return 0;
}
