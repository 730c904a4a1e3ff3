/* Provider status callbacks (API.md B11). They are authenticated by signature, not by API key:
 * a bad or missing signature answers 403 and changes nothing. Accepted reports are handed to the
 * scheduler, which applies them in its next group commit. */
#include "api/callbacks.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "model/agent.h"
#include "provider/http_provider.h"
#include "provider/twilio.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "store/records.h"
#include "util/err.h"
#include "util/log.h"

/* The URL the provider signed: our public base URL and the request target as received. */
static int signed_url(struct http_request *req, char *out, size_t cap)
{
    const char *base = api_app(req)->provider.public_url;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    if (blen + req->url.len + 1 > cap)
        return BC_ETOOBIG;
    memcpy(out, base, blen);
    memcpy(out + blen, req->url.ptr, req->url.len);
    out[blen + req->url.len] = '\0';
    return (int)(blen + req->url.len);
}

static void forbidden(struct http_request *req, const char *header)
{
    char msg[200];
    snprintf(msg, sizeof msg,
             "The %s header is missing or does not match this request; nothing was changed.",
             header);
    log_warn("provider callback with a bad signature", "route=%s", http_route_name(req));
    api_respond_error(req, 403, "forbidden", msg, NULL, NULL);
}

static void accepted(struct http_request *req, struct call_event *ev)
{
    struct app *app = api_app(req);
    if (!app->dispatch) {
        provider_event_free(ev);
        api_respond_error(req, 503, "unavailable", "Dispatch is not running; retry later.", NULL,
                          NULL);
        return;
    }
    dispatch_report(app->dispatch, ev);
    http_respond(req, 204, "application/json; charset=utf-8", "", 0);
}

/* Whether the Digits a Twilio callback reports are the opt-out key of the call's agent (as it
 * was when the batch was uploaded). Few callbacks carry Digits, so reading the batch's settings
 * for them costs little. */
static int digits_opt_out(struct app *app, const struct call_event *ev)
{
    struct store_txn t;
    struct store_val v;
    char digit = '\0';
    if (store_read_begin(&app->store, &t) != 0)
        return 0;
    if (store_get(&t, DB_BATCHMETA, ev->batch, strlen(ev->batch), &v) == 0) {
        cJSON *meta = cJSON_ParseWithLength(v.ptr, v.len);
        digit = agent_opt_out_digit(cJSON_GetObjectItemCaseSensitive(meta, "agent"));
        cJSON_Delete(meta);
    }
    store_read_end(&t);
    return digit && ev->digits[0] == digit && ev->digits[1] == '\0';
}

void callbacks_twilio(struct http_request *req)
{
    struct app *app = api_app(req);
    const struct http_slice *sig = http_header(req, "x-twilio-signature");
    char url[HTTP_MAX_URL + 600];
    int ulen = signed_url(req, url, sizeof url);
    const char *body = req->body.data ? req->body.data : "";
    struct call_event ev;
    memset(&ev, 0, sizeof ev);
    /* The signature first: a callback that is not Twilio's is refused whatever it says. */
    int rc = sig && ulen >= 0
                 ? twilio_verify_callback(&app->callback_key, app->provider.auth_token, url,
                                          (size_t)ulen, req->query.ptr, req->query.len, body,
                                          req->body.len, sig->ptr, sig->len, &ev)
                 : BC_EACCES;
    if (rc == BC_EACCES) {
        provider_event_free(&ev);
        forbidden(req, "X-Twilio-Signature");
        return;
    }
    if (rc) {
        provider_event_free(&ev);
        api_respond_error(req, 400, "invalid_callback",
                          "The callback lacks CallSid or CallStatus, or its URL lacks the batch, "
                          "row and attempt it reports on.",
                          NULL, NULL);
        return;
    }
    if (ev.digits[0] && !ev.opted_out)
        ev.opted_out = digits_opt_out(app, &ev);
    accepted(req, &ev);
}

void callbacks_http(struct http_request *req)
{
    struct app *app = api_app(req);
    const struct http_slice *sig = http_header(req, "x-signature");
    struct call_event ev;
    memset(&ev, 0, sizeof ev);
    const char *body = req->body.data ? req->body.data : "";
    char url[HTTP_MAX_URL + 600];
    int ulen = signed_url(req, url, sizeof url);
    int rc = sig && ulen >= 0
                 ? http_provider_parse_callback(app->provider.http_secret, url, (size_t)ulen,
                                                req->query.ptr, req->query.len, body, req->body.len,
                                                sig->ptr, sig->len, &ev)
                 : BC_EACCES;
    if (rc == BC_EACCES) {
        provider_event_free(&ev);
        forbidden(req, "X-Signature");
        return;
    }
    if (rc) {
        provider_event_free(&ev);
        api_respond_error(req, 400, "invalid_callback",
                          "The callback body must be JSON with callId and status, and its URL "
                          "must carry the batch, row and attempt it reports on.",
                          NULL, NULL);
        return;
    }
    accepted(req, &ev);
}
