/* Tests for what authentication remembers between requests (src/api/auth.c, src/api/fleet.c):
 * the auth generation and the workspace record's reading are kept for the store snapshot they
 * were read at, and read again as soon as any write (this process or another) made a new one.
 * The real HTTP server on a private libuv loop serves an authenticated route on one end of a
 * socketpair, with fleet_on_head as the head hook (the fleet lookup, then auth_on_head), and a
 * real LMDB store in a temp dir:
 *
 *   - a valid key is let in twice in a row (the second time from memory: same snapshot);
 *   - a key revoked in this process is refused (401) by the very next request;
 *   - a workspace frozen is answered 503 workspace_moving by the next request, and let in again
 *     once thawed;
 *   - a key revoked by another process (a child opening the same environment, as the admin
 *     command does) is refused by the next request;
 *   - a wrong key for the workspace stays refused after the right one was let in;
 *   - two workspaces asked for in turn: each key opens only its own, a freeze only its own.
 * Each would be let in (200) if the remembered answers were used without comparing snapshots. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tmpstore.h"
#include "fixture.h"

#include "api/api.h"
#include "api/auth.h"
#include "api/fleet.h"
#include "app.h"
#include "model/apikey.h"
#include "model/workspace.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"

#include "api_server.h"
#include "sockpeer.h"

static void ok_handler(struct http_request *req)
{
    http_respond(req, 200, "text/plain", "ok", 2);
}

static const struct http_route routes[] = {
    {HTTP_GET, "/t", ok_handler, NULL, 0, API_AUTH},
};

static void harness_close(struct api_server *h)
{
    auth_free(h->app);
    crypto_hasher_free(&h->app->hasher);
    api_server_close(h);
}

/* One request on a connection of its own (Connection: close): the response's status, 0 when
 * none came within 2 s. body gets the response's text (cap bytes at most). */
static int get(struct api_server *h, const char *ws, const char *key, char *body, size_t cap)
{
    struct sockpeer cl;
    int fd = -1;
    CHECK_INT(sockpeer_pair(&cl, &fd), 0);
    http_server_adopt(&h->app->http, fd);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /t HTTP/1.1\r\nHost: t\r\nx-api-key: %s\r\nx-workspace-id: %s\r\n"
                     "Connection: close\r\n\r\n",
                     key, ws);
    CHECK_INT(send(cl.fd, req, (size_t)n, MSG_NOSIGNAL), n);
    api_server_guard(h);
    while (!h->guard_fired && !cl.eof) {
        uv_run(&h->loop, UV_RUN_ONCE);
        sockpeer_read(&cl);
    }
    uv_timer_stop(&h->guard);
    const char *text = sockpeer_cstr(&cl.in);
    int status = 0;
    if (strncmp(text, "HTTP/1.1 ", 9) == 0)
        status = atoi(text + 9);
    snprintf(body, cap, "%s", text);
    close(cl.fd);
    buf_free(&cl.in);
    for (int i = 0; i < 100 && h->app->http.nconns > 0; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
    return status;
}

/* The server with the key and workspace of a new workspace, and the key let in twice: the
 * second time from what the first one remembered. */
static void harness_open(struct api_server *h, struct apikey_info *k, char key[APIKEY_TEXT_MAX])
{
    api_server_open(h, routes, sizeof routes / sizeof routes[0], fleet_on_head);
    CHECK_INT(crypto_hasher_init(&h->app->hasher), 0);
    struct ws_settings ws;
    workspace_defaults(&ws);
    snprintf(ws.name, sizeof ws.name, "test");
    CHECK_INT(workspace_create(&h->app->store, &h->app->ids, &ws, "first", key, k), 0);
    char body[2048];
    CHECK_INT(get(h, k->ws, key, body, sizeof body), 200);
    CHECK(strstr(body, "RateLimit-Remaining: ") != NULL);
    CHECK_INT(get(h, k->ws, key, body, sizeof body), 200);
}

static void test_revoked_here(void)
{
    struct api_server h;
    struct apikey_info k;
    char key[APIKEY_TEXT_MAX], body[2048];
    harness_open(&h, &k, key);
    CHECK_INT(get(&h, k.ws, "not-the-key", body, sizeof body), 401);
    CHECK_INT(apikey_revoke(&h.app->store, k.key_id), 0);
    CHECK_INT(get(&h, k.ws, key, body, sizeof body), 401);
    CHECK(strstr(body, "\"unauthorized\"") != NULL);
    harness_close(&h);
}

static void test_frozen(void)
{
    struct api_server h;
    struct apikey_info k;
    char key[APIKEY_TEXT_MAX], body[2048];
    harness_open(&h, &k, key);
    int was = -1;
    CHECK_INT(workspace_set_frozen(&h.app->store, k.ws, 1, &was), 0);
    CHECK_INT(was, 0);
    CHECK_INT(get(&h, k.ws, key, body, sizeof body), 503);
    CHECK(strstr(body, "workspace_moving") != NULL);
    CHECK_INT(get(&h, k.ws, key, body, sizeof body), 503);
    CHECK_INT(workspace_set_frozen(&h.app->store, k.ws, 0, &was), 0);
    CHECK_INT(get(&h, k.ws, key, body, sizeof body), 200);
    harness_close(&h);
}

static void test_revoked_by_another_process(void)
{
    struct api_server h;
    struct apikey_info k;
    char key[APIKEY_TEXT_MAX], body[2048];
    harness_open(&h, &k, key);
    /* The child opens the environment afresh, as `batchcalld admin key revoke` would. */
    pid_t pid = fork();
    if (pid == 0) {
        struct store s;
        int rc = open_store(&s, h.dir.path, 4 * FX_MIB, 64 * FX_MIB);
        if (rc == 0)
            rc = apikey_revoke(&s, k.key_id);
        if (rc == 0)
            store_close(&s);
        _exit(rc == 0 ? 0 : 1);
    }
    CHECK(pid > 0);
    int status = -1;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT(get(&h, k.ws, key, body, sizeof body), 401);
    harness_close(&h);
}

/* Two workspaces asked for in turn: each key opens its own and not the other, whichever was
 * asked for last. */
static void test_two_workspaces(void)
{
    struct api_server h;
    struct apikey_info a, b;
    char key_a[APIKEY_TEXT_MAX], key_b[APIKEY_TEXT_MAX], body[2048];
    harness_open(&h, &a, key_a);
    struct ws_settings ws;
    workspace_defaults(&ws);
    snprintf(ws.name, sizeof ws.name, "second");
    CHECK_INT(workspace_create(&h.app->store, &h.app->ids, &ws, "first", key_b, &b), 0);
    for (int round = 0; round < 2; round++) {
        CHECK_INT(get(&h, b.ws, key_b, body, sizeof body), 200);
        CHECK_INT(get(&h, a.ws, key_b, body, sizeof body), 401);
        CHECK_INT(get(&h, a.ws, key_a, body, sizeof body), 200);
        CHECK_INT(get(&h, b.ws, key_a, body, sizeof body), 401);
        CHECK_INT(get(&h, b.ws, key_b, body, sizeof body), 200);
    }
    /* Freezing one leaves the other open. */
    int was = -1;
    CHECK_INT(workspace_set_frozen(&h.app->store, a.ws, 1, &was), 0);
    CHECK_INT(get(&h, b.ws, key_b, body, sizeof body), 200);
    CHECK_INT(get(&h, a.ws, key_a, body, sizeof body), 503);
    CHECK_INT(get(&h, b.ws, key_b, body, sizeof body), 200);
    harness_close(&h);
}

CHECK_MAIN(CHECK_CASE(test_revoked_here), CHECK_CASE(test_two_workspaces), CHECK_CASE(test_frozen),
           CHECK_CASE(test_revoked_by_another_process))
