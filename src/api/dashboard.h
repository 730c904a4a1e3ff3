/* The dashboard (API.md B14): the web page served at / and /ui/..., built only on the public API.
 * Its files (src/ui/) are compiled into the server: the build generates dashboard_assets from
 * them (cmake/embed_ui.cmake), so the page always matches the binary that serves it and needs
 * nothing at run time but the server. */
#ifndef BC_API_DASHBOARD_H
#define BC_API_DASHBOARD_H

#include <stddef.h>

struct dashboard_asset {
    const char *path; /* relative to src/ui: "index.html", "js/app.js" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* a quoted hash of the bytes, so a changed file is never served stale */
};

extern const struct dashboard_asset dashboard_assets[];
extern const size_t dashboard_assets_count;

struct http_request;

/* The asset of a path relative to src/ui, or NULL. */
const struct dashboard_asset *dashboard_find(const char *path, size_t len);
/* GET / and GET /ui: the page. */
void dashboard_index(struct http_request *req);
/* GET /ui/:file and GET /ui/js/:file: the page's styles, scripts and images. */
void dashboard_asset_get(struct http_request *req);

#endif
