/* The http dialect: a generic provider behind a signed JSON webhook (see provider.h). */
#ifndef BC_PROVIDER_HTTP_PROVIDER_H
#define BC_PROVIDER_HTTP_PROVIDER_H

#include <stddef.h>

#include "http/client.h"
#include "provider/provider.h"

/* The http dialect's halves of provider_build_create, provider_parse_create, provider_build_fetch
 * and provider_parse_fetch. Its fetch is GET {http_url}/{callId}, signed like a create
 * (X-Signature: hex HMAC-SHA256 of the empty body), answered with the callback's JSON shape. */
int http_provider_build_create(const struct provider_config *cfg, const struct dial_attempt *a,
                               struct client_request *r);
void http_provider_parse_create(const struct client_request *r, struct create_result *out);
int http_provider_build_fetch(const struct provider_config *cfg, const char *call_id,
                              struct client_request *r);
int http_provider_parse_fetch(const struct client_request *r, struct call_event *ev);

/* Parses the http dialect's callback JSON {callId (or id), status, duration?, transcript?,
 * sequence?, sip?} plus the query, after checking X-Signature: hex HMAC-SHA256 of url (the
 * callback URL as handed out: public URL and request target), a newline and the body, so that a
 * report signed for one call's URL is refused on another's.
 * status is one of initiated, ringing, answered (not final), completed (answered by a person),
 * voicemail (answered by a machine), busy, no_answer, failed (sip says why, as for Twilio).
 * Returns 0, BC_EACCES for a bad signature, or BC_EINVAL for a malformed body. */
int http_provider_parse_callback(const char *secret, const char *url, size_t url_len,
                                 const char *query, size_t qlen, const char *body, size_t body_len,
                                 const char *sig, size_t sig_len, struct call_event *ev);

#endif
