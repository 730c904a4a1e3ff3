/* libcurl's multi interface on the libuv loop.
 *
 * curl tells us which sockets to watch (on_curl_socket) and when it next wants to be woken
 * (on_curl_timer); both callbacks only change the client's epoll set or arm libuv handles and
 * never call back into curl, which the curl documentation forbids. The libuv callbacks
 * (on_epoll, on_timeout, on_kick) are the only places that drive curl, and each of them ends by
 * draining curl's finished transfers (drain_finished), which is where a request's done() runs.
 *
 * The sockets are in an epoll set of the client's own rather than one uv_poll_t each: libuv
 * 1.44 checks, stops and restarts a poll handle with epoll_ctl calls of its own (up to six for a
 * socket's round), where curl's changes need one each (ADD, MOD, DEL). epoll makes the client
 * Linux-only. */
#include "http/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <errno.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_CONNECT_MS     5000
/* Retry-After seconds beyond this are clamped, so that converting them to ms cannot overflow. */
#define MAX_RETRY_AFTER_S 1000000000ULL
/* Socket events taken from the epoll set per wake-up: what is left (the set stays readable)
 * waits for the next loop pass, so one pass's work stays bounded. */
#define SOCK_BATCH 64

/* A request in flight: the easy handle and what must be freed with it. */
struct client_call {
    struct client_request *req;
    CURL *easy;
    struct curl_slist *headers;
    struct client_url *url;          /* the parsed URL it uses, or NULL */
    struct client_call *prev, *next; /* in client.calls */
    int too_large;                   /* the write callback refused the body: over the cap */
    int no_memory;                   /* the write callback could not grow the response */
    const char *refused;             /* refuse_addr's reason for the last address refused */
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- process-wide set-up ---- */

int client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : BC_EIO;
}

void client_global_cleanup(void)
{
    curl_global_cleanup();
}

const char *client_strerror(int err)
{
    switch (err) {
    case CLIENT_OK:
        return "success";
    case CLIENT_E_CONNECT:
        return "could not connect";
    case CLIENT_E_TIMEOUT:
        return "timed out";
    case CLIENT_E_NETWORK:
        return "the connection broke";
    case CLIENT_E_TOO_LARGE:
        return "response too large";
    case CLIENT_E_CANCELLED:
        return "cancelled";
    case CLIENT_E_OTHER:
        return "HTTP client error";
    }
    return err_str(err);
}

/* The one place curl's result codes become client results. */
static int map_curl_code(CURLcode code, const struct client_call *c)
{
    if (c->too_large)
        return CLIENT_E_TOO_LARGE;
    switch (code) {
    case CURLE_OK:
        return CLIENT_OK;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
        return CLIENT_E_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return CLIENT_E_TIMEOUT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return CLIENT_E_NETWORK;
    default:
        return CLIENT_E_OTHER;
    }
}

/* ---- Retry-After ---- */

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* A Retry-After value (p, n) in ms from now_ms: delta-seconds, or an HTTP-date (0 when it is in
 * the past). Anything unparseable gives 0, which callers read as "no hint". */
static uint64_t parse_retry_after(const char *p, size_t n, uint64_t now_ms)
{
    while (n > 0 && is_space(*p)) {
        p++;
        n--;
    }
    while (n > 0 && is_space(p[n - 1]))
        n--;
    if (n == 0)
        return 0;
    size_t digits = 0;
    uint64_t secs = 0;
    while (digits < n && p[digits] >= '0' && p[digits] <= '9') {
        if (secs < MAX_RETRY_AFTER_S)
            secs = secs * 10 + (uint64_t)(p[digits] - '0');
        digits++;
    }
    if (digits == n)
        return (secs < MAX_RETRY_AFTER_S ? secs : MAX_RETRY_AFTER_S) * 1000;
    /* curl_getdate understands the three date formats HTTP allows but needs a C string. */
    char date[64];
    if (n >= sizeof date)
        return 0;
    memcpy(date, p, n);
    date[n] = '\0';
    time_t t = curl_getdate(date, NULL);
    if (t < 0)
        return 0;
    uint64_t at_ms = (uint64_t)t * 1000;
    return at_ms > now_ms ? at_ms - now_ms : 0;
}

/* ---- easy handle callbacks ---- */

static size_t on_write(char *p, size_t size, size_t nmemb, void *userp)
{
    struct client_call *c = userp;
    struct buf *b = &c->req->response;
    size_t n = size * nmemb;
    /* Returning less than n makes curl abort the transfer with CURLE_WRITE_ERROR; the flags
     * say why, for map_curl_code. */
    if (n > CLIENT_MAX_RESPONSE - b->len) {
        c->too_large = 1;
        return 0;
    }
    if (buf_append(b, p, n) != 0) {
        c->no_memory = 1;
        return 0;
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *userp)
{
    static const char name[] = "retry-after:";
    struct client_request *r = userp;
    size_t n = size * nmemb;
    size_t nlen = sizeof name - 1;
    /* A status line starts a new response (after a 1xx), whose headers replace the last. */
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        r->retry_after_ms = 0;
    else if (n > nlen && strncasecmp(p, name, nlen) == 0)
        r->retry_after_ms = parse_retry_after(p + nlen, n - nlen, clock_now_ms());
    return n;
}

/* CURLOPT_OPENSOCKETFUNCTION, set for requests with refuse_addr: the last moment the address is
 * known and nothing was sent to it yet. A refused address makes curl try the next one. */
static curl_socket_t on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct client_call *c = userp;
    const char *why = purpose == CURLSOCKTYPE_IPCXN ? c->req->refuse_addr(&a->addr) : NULL;
    if (why) {
        c->refused = why;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---- request structures and their easy handles ---- */

/* A structure with an easy handle for a new request: a spare one (its handle reset to curl's
 * defaults, its connections and caches kept by the multi handle), or a new one. */
static struct client_call *call_take(struct client *d)
{
    struct client_call *c = d->spare;
    if (c) {
        d->spare = c->next;
        d->spares--;
        c->next = NULL;
        return c;
    }
    c = calloc(1, sizeof *c);
    if (c && !(c->easy = curl_easy_init())) {
        free(c);
        return NULL;
    }
    return c;
}

/* Frees what c held for its request and keeps c and its handle for the next one (or frees them
 * when enough are kept, or the client is closing). c is no longer in the multi handle. */
static void call_release(struct client *d, struct client_call *c)
{
    curl_slist_free_all(c->headers);
    if (c->url)
        c->url->users--;
    if (d->closing || d->spares >= d->max_in_flight) {
        curl_easy_cleanup(c->easy);
        free(c);
        return;
    }
    CURL *easy = c->easy;
    curl_easy_reset(easy);
    memset(c, 0, sizeof *c);
    c->easy = easy;
    c->next = d->spare;
    d->spare = c;
    d->spares++;
}

/* ---- parsed URLs ---- */

/* The parsed form of url for one more request: a kept one, or a new one in place of one no
 * request uses. NULL when all are in use or url does not parse (the request then gives curl the
 * string, and curl reports what is wrong with it). The flags are the ones curl parses a
 * CURLOPT_URL string with. */
static struct client_url *url_take(struct client *d, const char *url)
{
    struct client_url *slot = NULL;
    for (size_t i = 0; i < CLIENT_URLS; i++) {
        struct client_url *u = &d->urls[i];
        if (u->url && strcmp(u->url, url) == 0) {
            u->users++;
            return u;
        }
        if (!slot && u->users == 0)
            slot = u;
    }
    if (!slot)
        return NULL;
    CURLU *h = curl_url();
    char *copy = strdup(url);
    if (!h || !copy ||
        curl_url_set(h, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) !=
            CURLUE_OK) {
        curl_url_cleanup(h);
        free(copy);
        return NULL;
    }
    curl_url_cleanup(slot->handle);
    free(slot->url);
    slot->url = copy;
    slot->handle = h;
    slot->users = 1;
    return slot;
}

static void urls_free(struct client *d)
{
    for (size_t i = 0; i < CLIENT_URLS; i++) {
        curl_url_cleanup(d->urls[i].handle);
        free(d->urls[i].url);
        memset(&d->urls[i], 0, sizeof d->urls[i]);
    }
}

/* ---- finishing requests ---- */

static void list_remove_call(struct client *d, struct client_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        d->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* Fills r's results from its easy handle, frees everything the client held for it and calls
 * done(). The easy handle is gone before done() runs, so done() may start new requests. */
static void finish(struct client *d, struct client_call *c, CURLcode code, int cancelled)
{
    struct client_request *r = c->req;
    long status = 0, connects = 0;
    double seconds = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &seconds);
    r->result = cancelled ? CLIENT_E_CANCELLED : map_curl_code(code, c);
    r->status = r->result == CLIENT_OK ? status : 0;
    r->seconds = seconds;
    if (r->result == CLIENT_E_TOO_LARGE)
        snprintf(r->error, sizeof r->error, "response body over %d bytes", CLIENT_MAX_RESPONSE);
    else if (cancelled)
        snprintf(r->error, sizeof r->error, "cancelled: the HTTP client is closing");
    else if (c->no_memory)
        snprintf(r->error, sizeof r->error, "out of memory storing the response");
    else if (c->refused && code == CURLE_COULDNT_CONNECT)
        snprintf(r->error, sizeof r->error, "address not allowed (%s)", c->refused);
    else if (code != CURLE_OK)
        snprintf(r->error, sizeof r->error, "%s",
                 c->errbuf[0] ? c->errbuf : curl_easy_strerror(code));
    else
        r->error[0] = '\0';
    d->connects += (uint64_t)(connects > 0 ? connects : 0);

    curl_multi_remove_handle(d->multi, c->easy);
    list_remove_call(d, c);
    call_release(d, c);
    r->priv = NULL;
    d->in_flight--;
    r->done(r);
}

/* Runs done() for every transfer curl reports finished. Must follow every
 * curl_multi_socket_action: curl only reports completions through this queue. done() may close
 * the client, after which the multi handle is gone and the queue with it. */
static void drain_finished(struct client *d)
{
    CURLMsg *msg;
    int left;
    while (!d->closing && (msg = curl_multi_info_read(d->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        /* The message belongs to the easy handle: copy it out before finish() frees that. */
        CURLcode code = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        struct client_request *r = (struct client_request *)priv;
        finish(d, r->priv, code, 0);
    }
}

static void socket_action(struct client *d, curl_socket_t fd, int flags)
{
    int running;
    curl_multi_socket_action(d->multi, fd, flags, &running);
    drain_finished(d);
}

/* ---- libuv callbacks: the only places that call into curl ---- */

static void handle_closed(struct client *d)
{
    d->handles--;
    if (d->closing && d->handles == 0 && d->closed_cb)
        d->closed_cb(d);
}

/* Moves fd in the epoll set from watching had to want (0: out of the set), in one epoll_ctl.
 * The kernel drops a socket from the set when it is closed, so a removal may find it gone
 * (ENOENT, or EBADF once the number is free), which is what was asked; a change that finds it
 * gone, or an addition that finds it there (a socket number curl closed without a removal and
 * reused), is retried as the other operation. Data of an event: the socket and what was wanted. */
static void sock_ctl(struct client *d, curl_socket_t fd, uint32_t had, uint32_t want)
{
    struct epoll_event ev = {.events = want,
                             .data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)want << 32};
    int op = !want ? EPOLL_CTL_DEL : had ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    d->sock_ctls++;
    int rc = epoll_ctl(d->epfd, op, fd, &ev);
    if (rc != 0 &&
        ((op == EPOLL_CTL_MOD && errno == ENOENT) || (op == EPOLL_CTL_ADD && errno == EEXIST))) {
        op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        d->sock_ctls++;
        rc = epoll_ctl(d->epfd, op, fd, &ev);
    }
    if (rc != 0 && !(op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF)))
        log_error("cannot watch an HTTP client socket", "reason=\"%s\"", strerror(errno));
}

/* Parking: when curl stops watching a socket that was watched for reading only (an idle
 * connection in its cache, mostly), the socket stays in the epoll set and is only marked parked
 * (fds[fd]), which saves the removal now and the addition when curl watches it again (then one
 * MOD, which also finds out whether the number is still the same socket: a closed socket left
 * the set, and the MOD's ENOENT turns into an ADD). A parked socket that becomes readable (the
 * peer closed the idle connection) is removed then. A socket watched for writing is never
 * parked: it would be ready all the time. */
static int sock_parked(const struct client *d, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < d->nfds && d->fds[fd];
}

static void sock_unpark(struct client *d, curl_socket_t fd)
{
    d->fds[fd] = 0;
    d->parked--;
}

/* Marks fd parked. Returns 0, or BC_ENOMEM when the table cannot grow (fd is then removed). */
static int sock_park(struct client *d, curl_socket_t fd)
{
    if (fd < 0)
        return BC_EINVAL;
    if ((size_t)fd >= d->nfds) {
        size_t n = d->nfds ? d->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        uint8_t *fds = realloc(d->fds, n);
        if (!fds)
            return BC_ENOMEM;
        memset(fds + d->nfds, 0, n - d->nfds);
        d->fds = fds;
        d->nfds = n;
    }
    d->fds[fd] = 1;
    d->parked++;
    return 0;
}

/* The curl flags for the epoll events got on a socket watched for wanted. An error or a hang-up
 * is reported in every direction curl asked for, so that curl reads or writes and finds out what
 * happened (as libuv does for its own poll handles). */
static int sock_flags(uint32_t got, uint32_t wanted)
{
    int flags = 0;
    if (got & (EPOLLERR | EPOLLHUP))
        got |= wanted;
    if (got & EPOLLIN)
        flags |= CURL_CSELECT_IN;
    if (got & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (got & EPOLLERR)
        flags |= CURL_CSELECT_ERR;
    return flags;
}

/* The epoll set is readable: hands up to SOCK_BATCH ready sockets to curl, and removes ready
 * parked ones. An event may be for a socket that curl removed (and closed) while handling an
 * earlier one of the batch, even for a new socket that got the same number: curl ignores the
 * first and treats the second as a spurious wake-up (its sockets are non-blocking). done() runs
 * only after the batch, in drain_finished, so nothing closes the client inside it. */
static void on_epoll(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct client *d = p->data;
    if (status < 0) {
        log_error("cannot watch the HTTP client's sockets", "reason=\"%s\"", uv_strerror(status));
        return;
    }
    struct epoll_event ev[SOCK_BATCH];
    int n = epoll_wait(d->epfd, ev, SOCK_BATCH, 0);
    for (int i = 0; i < n; i++) {
        int running;
        curl_socket_t fd = (curl_socket_t)(uint32_t)ev[i].data.u64;
        uint32_t wanted = (uint32_t)(ev[i].data.u64 >> 32);
        if (sock_parked(d, fd)) {
            sock_unpark(d, fd);
            sock_ctl(d, fd, EPOLLIN, 0);
            continue;
        }
        curl_multi_socket_action(d->multi, fd, sock_flags(ev[i].events, wanted), &running);
    }
    drain_finished(d);
}

static void on_timeout(uv_timer_t *t)
{
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static void on_kick(uv_idle_t *idle)
{
    struct client *d = idle->data;
    uv_idle_stop(idle);
    d->kicks++;
    socket_action(d, CURL_SOCKET_TIMEOUT, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

/* The epoll set closes once libuv has let go of it. */
static void on_epoll_closed(uv_handle_t *h)
{
    struct client *d = h->data;
    close(d->epfd);
    d->epfd = -1;
    handle_closed(d);
}

/* ---- curl callbacks: they only change the epoll set and arm libuv handles ---- */

/* CURLMOPT_SOCKETFUNCTION. curl keeps what the socket is watched for (socketp, via
 * curl_multi_assign: EPOLLIN/EPOLLOUT bits, NULL while it is not in the set), so only real changes
 * reach the kernel. A failure to watch a socket is not reported to curl (that would abort every
 * transfer): the request it belongs to then ends with its own timeout. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct client *d = userp;
    uint32_t had = (uint32_t)(uintptr_t)socketp;
    uint32_t want = 0;
    int parked = !had && sock_parked(d, fd);
    if (!d->closing && (what == CURL_POLL_IN || what == CURL_POLL_INOUT))
        want |= EPOLLIN;
    if (!d->closing && (what == CURL_POLL_OUT || what == CURL_POLL_INOUT))
        want |= EPOLLOUT;
    if (want == had)
        return 0;
    if (parked) {
        sock_unpark(d, fd);
        sock_ctl(d, fd, EPOLLIN, want);
    } else if (!want && had == EPOLLIN && sock_park(d, fd) == 0) {
        /* parked: stays in the set */
    } else {
        sock_ctl(d, fd, had, want);
    }
    if (!had)
        d->socks++;
    else if (!want)
        d->socks--;
    /* After a removal curl forgets the socket (and its pointer) by itself. */
    if (what != CURL_POLL_REMOVE)
        curl_multi_assign(d->multi, fd, (void *)(uintptr_t)want);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION. A 0 ms timeout goes through the idle handle rather than the timer:
 * on libuv before 1.48 a 0 ms timer started from inside a timer callback runs again in the
 * same pass, and curl asks for 0 ms from inside on_timeout often, so the loop would spin. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct client *d = userp;
    if (d->closing)
        return 0;
    if (timeout_ms < 0) {
        uv_timer_stop(&d->timer);
        uv_idle_stop(&d->kick);
    } else if (timeout_ms == 0) {
        uv_timer_stop(&d->timer);
        uv_idle_start(&d->kick, on_kick);
    } else {
        uv_idle_stop(&d->kick);
        uv_timer_start(&d->timer, on_timeout, (uint64_t)timeout_ms, 0);
    }
    return 0;
}

/* ---- public API ---- */

int client_init(struct client *d, uv_loop_t *loop, size_t max_in_flight)
{
    memset(d, 0, sizeof *d);
    if (max_in_flight == 0)
        return BC_EINVAL;
    /* Before the multi handle: nothing to undo when it fails. */
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return errno == ENOMEM ? BC_ENOMEM : BC_EIO;
    CURLM *multi = curl_multi_init();
    int rc = multi ? uv_poll_init(loop, &d->poll, epfd) : UV_ENOMEM;
    if (rc != 0) {
        if (multi)
            log_error("cannot watch the HTTP client's sockets", "reason=\"%s\"", uv_strerror(rc));
        curl_multi_cleanup(multi);
        close(epfd);
        return rc == UV_ENOMEM ? BC_ENOMEM : BC_EIO;
    }
    d->epfd = epfd;
    d->poll.data = d;
    uv_poll_start(&d->poll, UV_READABLE, on_epoll);
    d->loop = loop;
    d->multi = multi;
    d->max_in_flight = max_in_flight;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, d);
    /* One idle connection per possible request keeps keep-alive reuse working at full load. */
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)max_in_flight);
    uv_timer_init(loop, &d->timer);
    uv_idle_init(loop, &d->kick);
    d->timer.data = d;
    d->kick.data = d;
    d->handles = 3;
    return 0;
}

/* The "Authorization: Basic ..." line for userpwd, as curl's CURLOPT_USERPWD would send it
 * (curl takes a missing colon as an empty password); kept for the next requests with the same
 * credentials. NULL when out of memory. */
static const char *auth_line(struct client *d, const char *userpwd)
{
    if (d->auth_userpwd && strcmp(d->auth_userpwd, userpwd) == 0)
        return d->auth_line;
    static const char prefix[] = "Authorization: Basic ";
    size_t n = strlen(userpwd);
    int colon = strchr(userpwd, ':') != NULL;
    char *pair = malloc(n + 2);
    char *copy = strdup(userpwd);
    char *line = malloc(sizeof prefix + CRYPTO_BASE64_LEN(n + 1)); /* sizeof counts the NUL */
    if (!pair || !copy || !line) {
        free(pair);
        free(copy);
        free(line);
        return NULL;
    }
    memcpy(pair, userpwd, n);
    if (!colon)
        pair[n++] = ':';
    memcpy(line, prefix, sizeof prefix - 1);
    crypto_base64(pair, n, line + sizeof prefix - 1);
    free(pair);
    free(d->auth_userpwd);
    free(d->auth_line);
    d->auth_userpwd = copy;
    d->auth_line = line;
    return line;
}

static int slist_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    if (!next)
        return BC_ENOMEM;
    *list = next;
    return 0;
}

/* The request headers as a curl list: Content-Type, Authorization, the caller's lines and, for
 * POSTs, an empty Expect that stops curl from waiting for a 100 Continue before sending larger
 * bodies. On failure *out holds what was built so far, for the caller to free. */
static int build_headers(struct client *d, const struct client_request *r, int post,
                         struct curl_slist **out)
{
    int rc = 0;
    if (r->content_type) {
        char line[256];
        int n = snprintf(line, sizeof line, "Content-Type: %s", r->content_type);
        if (n < 0 || (size_t)n >= sizeof line)
            return BC_EINVAL;
        rc = slist_add(out, line);
    }
    if (rc == 0 && r->userpwd) {
        const char *line = auth_line(d, r->userpwd);
        rc = line ? slist_add(out, line) : BC_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && r->headers && r->headers[i]; i++)
        rc = slist_add(out, r->headers[i]);
    if (rc == 0 && post)
        rc = slist_add(out, "Expect:");
    return rc;
}

/* Sets every option of c's easy handle. Returns 0 or BC_EINVAL/BC_ENOMEM. */
static int setup_easy(struct client *d, struct client_call *c, int post)
{
    struct client_request *r = c->req;
    CURL *e = c->easy;
    long timeout = r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS;
    CURLcode rc = CURLE_OK;
    /* Options are set in order and the first failure stops the rest. */
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_PRIVATE, r);
    c->url = url_take(d, r->url);
    if (c->url)
        SET(CURLOPT_CURLU, c->url->handle);
    else
        SET(CURLOPT_URL, r->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_NOPROGRESS, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TIMEOUT_MS, timeout);
    SET(CURLOPT_CONNECTTIMEOUT_MS, timeout < MAX_CONNECT_MS ? timeout : (long)MAX_CONNECT_MS);
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, c);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    if (c->headers)
        SET(CURLOPT_HTTPHEADER, c->headers);
    if (r->refuse_addr) {
        SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        SET(CURLOPT_OPENSOCKETDATA, c);
    }
    if (post) {
        /* curl does not copy POSTFIELDS: the body stays owned by r until done(). A NULL pointer
         * would mean "read the body through the read callback" (stdin by default), so an empty
         * body is given as "". */
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body.len);
        SET(CURLOPT_POSTFIELDS, r->body.data ? r->body.data : "");
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }
#undef SET
    if (rc == CURLE_OUT_OF_MEMORY)
        return BC_ENOMEM;
    return rc == CURLE_OK ? 0 : BC_EINVAL;
}

int client_start(struct client *d, struct client_request *r)
{
    if (d->closing || !r->url || !r->done)
        return BC_EINVAL;
    int post = r->method && strcmp(r->method, "POST") == 0;
    if (!post && r->method && strcmp(r->method, "GET") != 0)
        return BC_EINVAL;
    if (d->in_flight >= d->max_in_flight)
        return BC_EBUSY;

    struct client_call *c = call_take(d);
    if (!c)
        return BC_ENOMEM;
    c->req = r;
    r->result = 0;
    r->status = 0;
    r->response.len = 0;
    r->retry_after_ms = 0;
    r->seconds = 0;
    r->error[0] = '\0';
    int rc = build_headers(d, r, post, &c->headers);
    if (rc == 0)
        rc = setup_easy(d, c, post);
    if (rc == 0 && curl_multi_add_handle(d->multi, c->easy) != CURLM_OK)
        rc = BC_ENOMEM;
    if (rc != 0) {
        call_release(d, c);
        return rc;
    }
    r->priv = c;
    c->next = d->calls;
    if (d->calls)
        d->calls->prev = c;
    d->calls = c;
    d->in_flight++;
    return 0;
}

void client_request_free(struct client_request *r)
{
    buf_free(&r->body);
    buf_free(&r->response);
}

void client_close(struct client *d, void (*closed_cb)(struct client *d))
{
    if (d->closing)
        return;
    d->closing = 1;
    d->closed_cb = closed_cb;
    /* done() may not start anything now (client_start refuses while closing), so the list only
     * shrinks. */
    while (d->calls)
        finish(d, d->calls, CURLE_OK, 1);
    while (d->spare) {
        struct client_call *c = d->spare;
        d->spare = c->next;
        curl_easy_cleanup(c->easy);
        free(c);
    }
    d->spares = 0;
    curl_multi_cleanup(d->multi);
    d->multi = NULL;
    urls_free(d);
    free(d->auth_userpwd);
    free(d->auth_line);
    d->auth_userpwd = d->auth_line = NULL;
    free(d->fds);
    d->fds = NULL;
    d->nfds = d->parked = 0;
    /* Closing the epoll set (once libuv let go of it) drops any socket curl did not remove. */
    uv_poll_stop(&d->poll);
    uv_close((uv_handle_t *)&d->poll, on_epoll_closed);
    uv_timer_stop(&d->timer);
    uv_idle_stop(&d->kick);
    uv_close((uv_handle_t *)&d->timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->kick, on_handle_closed);
}
