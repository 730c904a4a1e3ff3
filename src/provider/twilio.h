/* The twilio dialect (also spoken by the simulator): Calls.json requests, Twilio's answers and
 * status callbacks, and X-Twilio-Signature. provider.c dispatches to the request halves. */
#ifndef BC_PROVIDER_TWILIO_H
#define BC_PROVIDER_TWILIO_H

#include <stddef.h>

#include "http/client.h"
#include "provider/provider.h"
#include "util/crypto.h"

/* Twilio's limit on the inline Twiml parameter of a create (error 32018). */
#define TWILIO_TWIML_MAX 4000
/* What Twilio says to a callee when the agent has no voiceUrl to connect the call to. */
#define TWILIO_NO_AGENT_LINE "Hello. This is an automated call. Goodbye."

/* Whether an agent (its prompt and voiceUrl, NULL when unset) can be dialled through Twilio:
 * a voiceUrl must be https:// (Twilio's <Stream> takes wss:// only, and the https URL is reached
 * as wss://), and the TwiML of the prompt, before the row's values are put in, must be at most
 * TWILIO_TWIML_MAX characters. Returns NULL when it can, else the name of the field at fault with
 * a message for people in msg. */
const char *twilio_check_agent(const char *prompt, const char *voice_url, char *msg, size_t cap);

/* The twilio halves of provider_build_create, provider_parse_create, provider_build_fetch and
 * provider_parse_fetch. The fetch is GET .../Calls/{sid}.json. */
int twilio_build_create(const struct provider_config *cfg, const struct dial_attempt *a,
                        struct client_request *r);
void twilio_parse_create(const struct client_request *r, struct create_result *out);
int twilio_build_fetch(const struct provider_config *cfg, const char *call_id,
                       struct client_request *r);
int twilio_parse_fetch(const struct client_request *r, struct call_event *ev);

/* Verifies X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted name+value pairs)), compared
 * in constant time; the URL is also tried with the default port added or removed, as Twilio's
 * own validators do. body is the raw form-encoded body. Returns 1 when valid. The URL must be the
 * one Twilio requested (behind a proxy: the public scheme and host), query included, and a URL
 * with a port is also tried without it, whatever the port (as twilio-python does). An empty
 * token never validates. */
int twilio_verify(const char *token, const char *url, size_t url_len, const char *body,
                  size_t body_len, const char *sig, size_t sig_len);
/* The same with key, the token's HMAC keyed once (crypto_hmac_sha1_init), which saves setting up
 * the MAC for every callback; NULL: keyed here, as twilio_verify does. */
int twilio_verify_keyed(struct crypto_hmac_sha1 *key, const char *token, const char *url,
                        size_t url_len, const char *body, size_t body_len, const char *sig,
                        size_t sig_len);
/* Verifies a status callback as twilio_verify_keyed does and parses it as twilio_parse_callback
 * does, decoding the body once for both. Returns BC_EACCES when the signature is not valid (ev
 * is then empty), else what twilio_parse_callback returns. */
int twilio_verify_callback(struct crypto_hmac_sha1 *key, const char *token, const char *url,
                           size_t url_len, const char *query, size_t qlen, const char *body,
                           size_t body_len, const char *sig, size_t sig_len, struct call_event *ev);
/* Computes the signature (for the simulator and tests) into out (base64, NUL-terminated). */
int twilio_sign(const char *token, const char *url, size_t url_len, const char *body,
                size_t body_len, char out[64]);

/* Parses a Twilio status callback: the form body, and batch/row/seq from the request's query. */
int twilio_parse_callback(const char *query, size_t qlen, const char *body, size_t body_len,
                          struct call_event *ev);

#endif
