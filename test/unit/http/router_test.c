/* Tests for the pure helpers of src/http/router.c: route matching (with 404/405 and the Allow
 * list), query-string decoding and header lookup. Every case is a row in a table so a new edge
 * case is one line. Paths and queries are handed over as (ptr, len) slices cut out of a longer
 * string, so a matcher that reads past the slice fails the test. */
#include <stdlib.h>

#include "check.h"
#include "http/http.h"
#include "http/router.h"
#include "util/err.h"

/* A route table shaped like src/api/routes.c, plus the batch-call routes the API will have. The
 * handlers are never called by the matcher, so they are NULL. */
static const struct http_route routes[] = {
    {HTTP_GET, "/healthz", NULL, NULL, 0, 0},                            /* 0 */
    {HTTP_GET, "/readyz", NULL, NULL, 0, 0},                             /* 1 */
    {HTTP_GET, "/metrics", NULL, NULL, 0, 0},                            /* 2 */
    {HTTP_POST, "/v1/api/agents", NULL, NULL, 0, 1},                     /* 3 */
    {HTTP_GET, "/v1/api/agents", NULL, NULL, 0, 1},                      /* 4 */
    {HTTP_GET, "/v1/api/agents/:id", NULL, NULL, 0, 1},                  /* 5 */
    {HTTP_PUT, "/v1/api/agents/:id", NULL, NULL, 0, 1},                  /* 6 */
    {HTTP_DELETE, "/v1/api/agents/:id", NULL, NULL, 0, 1},               /* 7 */
    {HTTP_POST, "/v1/api/batch-calls", NULL, NULL, 0, 1},                /* 8 */
    {HTTP_GET, "/v1/api/batch-calls/:id", NULL, NULL, 0, 1},             /* 9 */
    {HTTP_GET, "/v1/api/batch-calls/:id/calls/:call", NULL, NULL, 0, 1}, /* 10 */
    {HTTP_POST, "/v1/api/batch-calls/:id/cancel", NULL, NULL, 0, 1},     /* 11 */
};
#define NROUTES (sizeof routes / sizeof routes[0])

struct match_case {
    int method;
    const char *path;
    int expect;                              /* route index, -404 or -405 */
    const char *allowed;                     /* the Allow list for -405 */
    const char *params[HTTP_MAX_PARAMS + 1]; /* NULL-terminated */
};

static const struct match_case match_cases[] = {
    {HTTP_GET, "/healthz", 0, NULL, {NULL}},
    {HTTP_GET, "/readyz", 1, NULL, {NULL}},
    {HTTP_GET, "/metrics", 2, NULL, {NULL}},
    {HTTP_POST, "/healthz", -405, "GET", {NULL}},
    {HTTP_HEAD, "/metrics", -405, "GET", {NULL}},
    /* A trailing slash is the same resource, but only one of them. */
    {HTTP_GET, "/healthz/", 0, NULL, {NULL}},
    {HTTP_GET, "/healthz//", -404, NULL, {NULL}},
    {HTTP_GET, "/healthzz", -404, NULL, {NULL}},
    {HTTP_GET, "/health", -404, NULL, {NULL}},
    {HTTP_GET, "/HEALTHZ", -404, NULL, {NULL}},
    {HTTP_GET, "healthz", -404, NULL, {NULL}},
    {HTTP_GET, "/", -404, NULL, {NULL}},
    {HTTP_GET, "", -404, NULL, {NULL}},
    {HTTP_GET, "//healthz", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api/agents", 4, NULL, {NULL}},
    {HTTP_POST, "/v1/api/agents", 3, NULL, {NULL}},
    {HTTP_POST, "/v1/api/agents/", 3, NULL, {NULL}},
    {HTTP_DELETE, "/v1/api/agents", -405, "POST, GET", {NULL}},
    {HTTP_GET, "/v1/api/agents/a1", 5, NULL, {"a1", NULL}},
    {HTTP_GET, "/v1/api/agents/a1/", 5, NULL, {"a1", NULL}},
    {HTTP_PUT, "/v1/api/agents/a1", 6, NULL, {"a1", NULL}},
    {HTTP_DELETE, "/v1/api/agents/x", 7, NULL, {"x", NULL}},
    {HTTP_PATCH, "/v1/api/agents/a1", -405, "GET, PUT, DELETE", {NULL}},
    {HTTP_POST, "/v1/api/agents/a1/", -405, "GET, PUT, DELETE", {NULL}},
    /* Params are raw path bytes: decoding is the handler's business. */
    {HTTP_GET, "/v1/api/agents/a%20b", 5, NULL, {"a%20b", NULL}},
    {HTTP_GET, "/v1/api/agents/:id", 5, NULL, {":id", NULL}},
    /* Empty segments never match, and params cannot be empty. */
    {HTTP_GET, "/v1/api/agents//x", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api/agents//", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api//agents", -404, NULL, {NULL}},
    {HTTP_GET, "//v1/api/agents", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api/agents/a1/extra", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api/agent", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api/agentsx/a1", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api", -404, NULL, {NULL}},
    {HTTP_POST, "/v1/api/batch-calls", 8, NULL, {NULL}},
    {HTTP_GET, "/v1/api/batch-calls", -405, "POST", {NULL}},
    {HTTP_GET, "/v1/api/batch-calls/b1", 9, NULL, {"b1", NULL}},
    {HTTP_GET, "/v1/api/batch-calls/b1/calls/c2", 10, NULL, {"b1", "c2", NULL}},
    {HTTP_GET, "/v1/api/batch-calls/b1/calls/c2/", 10, NULL, {"b1", "c2", NULL}},
    {HTTP_GET, "/v1/api/batch-calls//calls/c2", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api/batch-calls/b1/calls/", -404, NULL, {NULL}},
    {HTTP_GET, "/v1/api/batch-calls/b1/calls", -404, NULL, {NULL}},
    {HTTP_POST, "/v1/api/batch-calls/b1/cancel", 11, NULL, {"b1", NULL}},
    {HTTP_GET, "/v1/api/batch-calls/b1/cancel", -405, "POST", {NULL}},
    {HTTP_DELETE, "/v1/api/batch-calls/b1", -405, "GET", {NULL}},
};

/* Each case through the walk (http_route_match) and through http_router_match. */
static void test_route_match_table(void)
{
    struct http_router rt;
    http_router_init(&rt, routes, NROUTES);
    for (size_t k = 0; k < 2 * sizeof match_cases / sizeof match_cases[0]; k++) {
        size_t i = k / 2;
        const struct match_case *mc = &match_cases[i];
        /* The path is followed by junk that must not be looked at. */
        size_t len = strlen(mc->path);
        char *buf = malloc(len + 8);
        memcpy(buf, mc->path, len);
        memcpy(buf + len, "/x?y=1/", 8);
        struct http_slice params[HTTP_MAX_PARAMS];
        size_t nparams = 99;
        char allowed[128];
        memset(allowed, 'Z', sizeof allowed);
        int rc = k % 2 ? http_router_match(&rt, mc->method, buf, len, params, &nparams, allowed,
                                           sizeof allowed)
                       : http_route_match(routes, NROUTES, mc->method, buf, len, params, &nparams,
                                          allowed, sizeof allowed);
        CHECK_REPORT(rc == mc->expect, "case %zu (%s %s): got %d, want %d", i,
                     llhttp_method_name((llhttp_method_t)mc->method), mc->path, rc, mc->expect);
        if (mc->expect >= 0 && rc == mc->expect) {
            size_t want = 0;
            while (mc->params[want])
                want++;
            CHECK_REPORT(nparams == want, "case %zu (%s): %zu params, want %zu", i, mc->path,
                         nparams, want);
            for (size_t p = 0; p < want && p < nparams; p++) {
                CHECK_REPORT(params[p].len == strlen(mc->params[p]) &&
                                 memcmp(params[p].ptr, mc->params[p], params[p].len) == 0,
                             "case %zu (%s): param %zu is \"%.*s\", want \"%s\"", i, mc->path, p,
                             (int)params[p].len, params[p].ptr, mc->params[p]);
                /* Params point into the caller's path, not into a copy. */
                CHECK(params[p].ptr >= buf && params[p].ptr + params[p].len <= buf + len);
            }
        }
        if (mc->expect == -405)
            CHECK_REPORT(strcmp(allowed, mc->allowed) == 0,
                         "case %zu (%s): Allow \"%s\", want \"%s\"", i, mc->path, allowed,
                         mc->allowed);
        else if (mc->expect == -404)
            CHECK_REPORT(allowed[0] == '\0', "case %zu (%s): Allow \"%s\" on a 404", i, mc->path,
                         allowed);
        free(buf);
    }
}

/* The first matching route wins, so a literal segment must be listed before a param. */
static void test_route_match_order(void)
{
    static const struct http_route t[] = {
        {HTTP_GET, "/v1/api/agents/me", NULL, NULL, 0, 0},
        {HTTP_GET, "/v1/api/agents/:id", NULL, NULL, 0, 0},
        {HTTP_POST, "/v1/api/agents/:id", NULL, NULL, 0, 0},
    };
    struct http_slice params[HTTP_MAX_PARAMS];
    size_t np = 0;
    char allowed[64];
    CHECK_INT(http_route_match(t, 3, HTTP_GET, "/v1/api/agents/me", 17, params, &np, allowed,
                               sizeof allowed),
              0);
    CHECK_INT(np, 0);
    CHECK_INT(http_route_match(t, 3, HTTP_GET, "/v1/api/agents/mf", 17, params, &np, allowed,
                               sizeof allowed),
              1);
    CHECK_INT(np, 1);
    /* Two GET patterns match: GET is listed once. */
    CHECK_INT(http_route_match(t, 3, HTTP_PUT, "/v1/api/agents/me", 17, params, &np, allowed,
                               sizeof allowed),
              -405);
    CHECK_STR(allowed, "GET, POST");
}

/* The matcher takes at most HTTP_MAX_PARAMS params; a pattern with more can never match rather
 * than writing past the array. */
static void test_route_match_param_limit(void)
{
    static const struct http_route t[] = {
        {HTTP_GET, "/:a/:b/:c/:d", NULL, NULL, 0, 0},
        {HTTP_GET, "/:a/:b/:c/:d/:e", NULL, NULL, 0, 0},
    };
    struct http_slice params[HTTP_MAX_PARAMS];
    size_t np = 0;
    CHECK_INT(http_route_match(t, 2, HTTP_GET, "/1/2/3/4", 8, params, &np, NULL, 0), 0);
    CHECK_INT(np, 4);
    CHECK_MEM(params[3].ptr, params[3].len, "4");
    CHECK_INT(http_route_match(t, 2, HTTP_GET, "/1/2/3/4/5", 10, params, &np, NULL, 0), -404);
}

/* http_router_match against the walk over shapes the table above lacks: a root pattern, a
 * parameter first, a literal before a parameter of the same place, and routes past
 * HTTP_ROUTER_MAX (matched by the walk alone). */
static void test_router_same_as_walk(void)
{
    static struct http_route t[HTTP_ROUTER_MAX + 3];
    size_t n = 0;
    t[n++] = (struct http_route){HTTP_GET, "/", NULL, NULL, 0, 0};
    t[n++] = (struct http_route){HTTP_GET, "/ui/js/:file", NULL, NULL, 0, 0};
    t[n++] = (struct http_route){HTTP_GET, "/ui/:file", NULL, NULL, 0, 0};
    t[n++] = (struct http_route){HTTP_GET, "/v1/api/agents/me", NULL, NULL, 0, 0};
    t[n++] = (struct http_route){HTTP_GET, "/v1/api/agents/:id", NULL, NULL, 0, 0};
    t[n++] = (struct http_route){HTTP_POST, "/:ws/twilio/status", NULL, NULL, 0, 0};
    while (n < HTTP_ROUTER_MAX)
        t[n++] = (struct http_route){HTTP_PUT, "/filler/:x", NULL, NULL, 0, 0};
    t[n++] = (struct http_route){HTTP_GET, "/late", NULL, NULL, 0, 0};
    t[n++] = (struct http_route){HTTP_DELETE, "/late/:id", NULL, NULL, 0, 0};
    t[n++] = (struct http_route){HTTP_GET, "/v1/api/agents/:id/late", NULL, NULL, 0, 0};
    struct http_router rt;
    http_router_init(&rt, t, n);
    static const char *const paths[] = {
        "/",
        "",
        "//",
        "/ui",
        "/ui/",
        "/ui/a.js",
        "/ui/js",
        "/ui/js/",
        "/ui/js/x",
        "/ui/js/x/",
        "/ui//x",
        "/uix/a",
        "/v1/api/agents/me",
        "/v1/api/agents/me/",
        "/v1/api/agents/m",
        "/v1/api/agents/",
        "/v1/api/agents",
        "/v1/api/agentsx/1",
        "/w1/twilio/status",
        "//twilio/status",
        "/w1/twilio/status/x",
        "/late",
        "/late/",
        "/late/7",
        "/late//",
        "/filler/1",
        "/filler",
        "/v1/api/agents/a/late",
        "/v1/api/agents//late",
        "/v1/api/agents/a/late/x",
    };
    static const int methods[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            size_t len = strlen(paths[i]);
            char buf[64];
            memcpy(buf, paths[i], len);
            memcpy(buf + len, "/zz:/", 6); /* junk after the slice */
            struct http_slice pw[HTTP_MAX_PARAMS], pr[HTTP_MAX_PARAMS];
            size_t nw = 99, nr = 77;
            char aw[128], ar[128];
            int w = http_route_match(t, n, methods[m], buf, len, pw, &nw, aw, sizeof aw);
            int r = http_router_match(&rt, methods[m], buf, len, pr, &nr, ar, sizeof ar);
            CHECK_REPORT(w == r, "%s %s: walk %d, router %d",
                         llhttp_method_name((llhttp_method_t)methods[m]), paths[i], w, r);
            if (w != r)
                continue;
            if (w < 0) {
                CHECK_STR(ar, aw);
                continue;
            }
            CHECK_INT(nr, nw);
            for (size_t p = 0; p < nw && p < nr; p++)
                CHECK(pr[p].ptr == pw[p].ptr && pr[p].len == pw[p].len);
        }
    }
    /* The cases above reach both halves: matched by the heads, and by the walk past them. */
    struct http_slice params[HTTP_MAX_PARAMS];
    size_t np = 0;
    CHECK_INT(http_router_match(&rt, HTTP_GET, "/late", 5, params, &np, NULL, 0), HTTP_ROUTER_MAX);
    CHECK_INT(http_router_match(&rt, HTTP_GET, "/v1/api/agents/me", 17, params, &np, NULL, 0), 3);
    CHECK_INT(np, 0);
    CHECK_INT(http_router_match(&rt, HTTP_GET, "/ui/js/x", 8, params, &np, NULL, 0), 1);
    CHECK_MEM(params[0].ptr, params[0].len, "x");
}

/* Without an Allow buffer the status is still right. */
static void test_route_match_no_allow_buffer(void)
{
    struct http_slice params[HTTP_MAX_PARAMS];
    size_t np = 0;
    CHECK_INT(
        http_route_match(routes, NROUTES, HTTP_PATCH, "/v1/api/agents/a", 16, params, &np, NULL, 0),
        -405);
    CHECK_INT(http_route_match(routes, NROUTES, HTTP_GET, "/nope", 5, params, &np, NULL, 0), -404);
    CHECK_INT(http_route_match(routes, 0, HTTP_GET, "/healthz", 8, params, &np, NULL, 0), -404);
}

/* A too-small Allow buffer may drop methods but must hold only whole method names. */
static void test_route_match_allow_truncated(void)
{
    struct http_slice params[HTTP_MAX_PARAMS];
    size_t np = 0;
    char allowed[8];
    CHECK_INT(http_route_match(routes, NROUTES, HTTP_PATCH, "/v1/api/agents/a", 16, params, &np,
                               allowed, sizeof allowed),
              -405);
    CHECK_STR(allowed, "GET");
}

/* Method names are compared whole: LOCK is not already listed because UNLOCK is. */
static void test_route_match_allow_similar_names(void)
{
    static const struct http_route t[] = {
        {HTTP_UNLOCK, "/res", NULL, NULL, 0, 0},
        {HTTP_LOCK, "/res", NULL, NULL, 0, 0},
    };
    struct http_slice params[HTTP_MAX_PARAMS];
    size_t np = 0;
    char allowed[64];
    CHECK_INT(http_route_match(t, 2, HTTP_GET, "/res", 4, params, &np, allowed, sizeof allowed),
              -405);
    CHECK_STR(allowed, "UNLOCK, LOCK");
}

struct query_case {
    const char *query;
    const char *name;
    size_t cap;
    int expect;        /* length, BC_ENOTFOUND when absent, or BC_ETOOBIG */
    const char *value; /* when expect >= 0 */
};

static const struct query_case query_cases[] = {
    {"a=1&b=2", "a", 64, 1, "1"},
    {"a=1&b=2", "b", 64, 1, "2"},
    {"a=1&b=2", "c", 64, BC_ENOTFOUND, NULL},
    {"", "a", 64, BC_ENOTFOUND, NULL},
    /* Absent and empty are different. */
    {"a", "a", 64, 0, ""},
    {"a=", "a", 64, 0, ""},
    {"a=&b=x", "a", 64, 0, ""},
    {"b=x&a", "a", 64, 0, ""},
    {"&&a=1&", "a", 64, 1, "1"},
    {"&", "a", 64, BC_ENOTFOUND, NULL},
    {"=1", "a", 64, BC_ENOTFOUND, NULL},
    {"=1", "", 64, 1, "1"},
    /* Names match whole, and the first occurrence wins. */
    {"ab=1&a=2", "a", 64, 1, "2"},
    {"a=1&ab=2", "ab", 64, 1, "2"},
    {"A=1", "a", 64, BC_ENOTFOUND, NULL},
    {"a=1&a=2", "a", 64, 1, "1"},
    {"a=x=y", "a", 64, 3, "x=y"},
    /* '+' is a space, %XX is a byte, in either case; malformed escapes stay as they are. */
    {"q=hello+world", "q", 64, 11, "hello world"},
    {"q=a%2Bb", "q", 64, 3, "a+b"},
    {"q=%41%62%63", "q", 64, 3, "Abc"},
    {"q=%4a%4A", "q", 64, 2, "JJ"},
    {"q=a%3Db%26c", "q", 64, 5, "a=b&c"},
    {"q=%e2%82%ac", "q", 64, 3, "\xe2\x82\xac"},
    {"q=%%41", "q", 64, 2, "%A"},
    {"q=100%", "q", 64, 4, "100%"},
    {"q=%4", "q", 64, 2, "%4"},
    {"q=%zz", "q", 64, 3, "%zz"},
    {"q=%4g", "q", 64, 3, "%4g"},
    {"q=%20", "q", 64, 1, " "},
    {"q=++", "q", 64, 2, "  "},
    /* The capacity counts the terminating NUL; the decoded length is what counts. */
    {"q=abcdef", "q", 7, 6, "abcdef"},
    {"q=abcdef", "q", 6, BC_ETOOBIG, NULL},
    {"q=%41%41%41", "q", 4, 3, "AAA"},
    {"q=%41%41%41", "q", 3, BC_ETOOBIG, NULL},
    {"q=", "q", 1, 0, ""},
    {"q=x", "q", 1, BC_ETOOBIG, NULL},
    {"q=x", "q", 2, 1, "x"},
};

static void test_query_table(void)
{
    for (size_t i = 0; i < sizeof query_cases / sizeof query_cases[0]; i++) {
        const struct query_case *qc = &query_cases[i];
        /* The slice is followed by bytes that would change the answer if read ("A" completes a
         * trailing "%4", "&a=1" adds a parameter). */
        size_t len = strlen(qc->query);
        char *buf = malloc(len + 5);
        memcpy(buf, qc->query, len);
        memcpy(buf + len, "A&a=1", 5);
        struct http_request *req = calloc(1, sizeof *req);
        req->query.ptr = buf;
        req->query.len = len;
        char *out = malloc(qc->cap);
        int rc = http_query(req, qc->name, out, qc->cap);
        CHECK_REPORT(rc == qc->expect, "query case %zu (\"%s\" %s cap %zu): got %d, want %d", i,
                     qc->query, qc->name, qc->cap, rc, qc->expect);
        if (qc->expect >= 0 && rc == qc->expect)
            CHECK_REPORT(strcmp(out, qc->value) == 0, "query case %zu: got \"%s\", want \"%s\"", i,
                         out, qc->value);
        free(out);
        free(req);
        free(buf);
    }
}

/* A request with no query at all (NULL slice) has no parameters. */
static void test_query_no_query(void)
{
    struct http_request *req = calloc(1, sizeof *req);
    char out[8];
    CHECK_INT(http_query(req, "a", out, sizeof out), BC_ENOTFOUND);
    free(req);
}

static void test_header_lookup(void)
{
    /* Names and values are slices of one buffer, none NUL-terminated. */
    static const char raw[] = "Content-TypeapplicationX-EmptyHostexample.orghostsecondContent";
    struct http_request *req = calloc(1, sizeof *req);
    req->headers[0] = (struct http_header){{raw, 12}, {raw + 12, 11}};
    req->headers[1] = (struct http_header){{raw + 23, 7}, {raw + 30, 0}};
    req->headers[2] = (struct http_header){{raw + 30, 4}, {raw + 34, 11}};
    req->headers[3] = (struct http_header){{raw + 45, 4}, {raw + 49, 6}};
    req->nheaders = 4;

    const struct http_slice *v = http_header(req, "content-type");
    CHECK(v != NULL);
    if (v)
        CHECK_MEM(v->ptr, v->len, "application");
    v = http_header(req, "CONTENT-TYPE");
    CHECK(v != NULL);
    /* An empty value is present. */
    v = http_header(req, "x-empty");
    CHECK(v != NULL);
    if (v)
        CHECK_INT(v->len, 0);
    /* The first of repeated headers wins. */
    v = http_header(req, "Host");
    CHECK(v != NULL);
    if (v)
        CHECK_MEM(v->ptr, v->len, "example.org");
    /* Prefixes and extensions of a name do not match. */
    CHECK(http_header(req, "Content") == NULL);
    CHECK(http_header(req, "Content-Type-X") == NULL);
    CHECK(http_header(req, "Hos") == NULL);
    CHECK(http_header(req, "") == NULL);
    CHECK(http_header(req, "Accept") == NULL);
    /* Only nheaders entries count. */
    req->nheaders = 2;
    CHECK(http_header(req, "host") == NULL);
    free(req);
}

CHECK_MAIN(CHECK_CASE(test_route_match_table), CHECK_CASE(test_router_same_as_walk),
           CHECK_CASE(test_route_match_order), CHECK_CASE(test_route_match_param_limit),
           CHECK_CASE(test_route_match_no_allow_buffer),
           CHECK_CASE(test_route_match_allow_truncated),
           CHECK_CASE(test_route_match_allow_similar_names), CHECK_CASE(test_query_table),
           CHECK_CASE(test_query_no_query), CHECK_CASE(test_header_lookup))
