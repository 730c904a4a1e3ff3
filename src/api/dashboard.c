/* GET / and /ui/...: the dashboard's embedded files (src/ui), with the headers that keep the page
 * safe even if data it shows were hostile: a Content-Security-Policy that allows only the
 * server's own scripts and styles (no inline code, no eval), no framing, no MIME sniffing and no
 * Referer. Files are revalidated on every load (Cache-Control: no-cache) and answered 304 when
 * unchanged, so a new server build never runs with old scripts. */
#include "api/dashboard.h"

#include <string.h>

#include "api/api.h"
#include "http/http.h"
#include "http/response.h"
#include "http/router.h"
#include "util/err.h"

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "                   \
    "frame-ancestors 'none'"

struct content_type {
    const char *ext;
    const char *type;
};

static const struct content_type content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json; charset=utf-8"},
};

static const char *type_of(const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
        size_t elen = strlen(content_types[i].ext);
        if (len > elen && memcmp(path + len - elen, content_types[i].ext, elen) == 0)
            return content_types[i].type;
    }
    return "application/octet-stream";
}

static void security_headers(struct http_request *req)
{
    http_add_header(req, "Content-Security-Policy", "%s", CSP);
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    http_add_header(req, "Referrer-Policy", "no-referrer");
    http_add_header(req, "X-Frame-Options", "DENY");
    http_add_header(req, "Cross-Origin-Opener-Policy", "same-origin");
}

const struct dashboard_asset *dashboard_find(const char *path, size_t len)
{
    for (size_t i = 0; i < dashboard_assets_count; i++) {
        const struct dashboard_asset *a = &dashboard_assets[i];
        if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
            return a;
    }
    return NULL;
}

/* 1 when If-None-Match names the asset's ETag (a list, or "*"). */
static int not_modified(struct http_request *req, const struct dashboard_asset *a)
{
    const struct http_slice *inm = http_header(req, "If-None-Match");
    if (!inm)
        return 0;
    size_t elen = strlen(a->etag);
    for (size_t i = 0; i < inm->len; i++) {
        if (inm->ptr[i] == '*')
            return 1;
        if (inm->len - i >= elen && memcmp(inm->ptr + i, a->etag, elen) == 0)
            return 1;
    }
    return 0;
}

static void serve(struct http_request *req, const struct dashboard_asset *a)
{
    security_headers(req);
    http_add_header(req, "Cache-Control", "no-cache");
    http_add_header(req, "ETag", "%s", a->etag);
    if (not_modified(req, a)) {
        http_respond(req, 304, type_of(a->path), NULL, 0);
        return;
    }
    http_respond(req, 200, type_of(a->path), a->data, a->len);
}

void dashboard_index(struct http_request *req)
{
    const struct dashboard_asset *a = dashboard_find("index.html", strlen("index.html"));
    if (!a) {
        api_respond_internal(req, BC_ENOTFOUND);
        return;
    }
    serve(req, a);
}

void dashboard_asset_get(struct http_request *req)
{
    /* The route is /ui/:file or /ui/js/:file: the file's path is what follows "/ui/". */
    static const char prefix[] = "/ui/";
    const char *p = req->path.ptr + (sizeof prefix - 1);
    size_t len = req->path.len - (sizeof prefix - 1);
    if (len > 0 && p[len - 1] == '/')
        len--;
    const struct dashboard_asset *a = dashboard_find(p, len);
    if (!a) {
        security_headers(req);
        api_respond_error(req, 404, "not_found",
                          "No such dashboard file: the dashboard is at / and its files under "
                          "/ui/; the API is under /v1/.",
                          NULL, NULL);
        return;
    }
    serve(req, a);
}
