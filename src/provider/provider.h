/* Provider dialects: turning "dial this contact" into an HTTP request, and the provider's answers
 * and status callbacks into call outcomes. Pure functions over buffers, so every mapping is unit
 * tested; the scheduler does the I/O.
 *
 * Dialects:
 *   twilio  POST {api_base}/2010-04-01/Accounts/{sid}/Calls.json, form-encoded, HTTP Basic;
 *           status callbacks are form POSTs signed with X-Twilio-Signature (HMAC-SHA1).
 *           (twilio.h)
 *   http    POST {http_url} with JSON {id,to,from,agentId,prompt,variables,callbackUrl},
 *           Idempotency-Key per attempt and X-Signature (HMAC-SHA256 of the body, hex);
 *           callbacks are JSON POSTs signed the same way. (http_provider.h)
 * The simulator speaks the twilio dialect.
 *
 * This file holds what does not depend on the dialect: the types, the switch on cfg->kind, and
 * what both dialects share (request string storage, callback URLs and queries, call events, the
 * outcome mapping). */
#ifndef BC_PROVIDER_PROVIDER_H
#define BC_PROVIDER_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "http/client.h"
#include "util/buf.h"
#include "util/id.h"

enum provider_kind { PROVIDER_SIM, PROVIDER_TWILIO, PROVIDER_HTTP };

struct provider_config {
    enum provider_kind kind;
    char api_base[512];      /* twilio dialect: "https://api.twilio.com", or the simulator's URL */
    char account_sid[64];    /* twilio dialect: AC... */
    char auth_token[128];    /* twilio dialect: Basic password and callback signing key */
    char http_url[512];      /* http dialect: where calls are created */
    char http_secret[128];   /* http dialect: HMAC-SHA256 key for requests and callbacks */
    char public_url[512];    /* how providers reach this server, e.g. "https://calls.example.com" */
    uint32_t ring_timeout_s; /* twilio Timeout: ring this long before no-answer */
    long request_timeout_ms; /* create/fetch request timeout */
};

/* One dial request. seq numbers every request sent for the job (1, 2, ...) and is what makes
 * (batch, row, seq) unique: it goes into the callback URL and the Idempotency-Key. */
struct dial_attempt {
    const char *ws; /* the batch's workspace: in the callback URL's path, for fleet routing */
    const char *batch;
    uint32_t row;
    uint32_t seq;
    const char *to;   /* E.164 */
    const char *from; /* the agent's fromNumber */
    const char *agent_id;
    const char *voice_url;  /* the agent's voiceUrl, or NULL */
    const char *prompt;     /* the agent's prompt with {variables} rendered */
    const cJSON *variables; /* object: column name -> value */
};

/* Fills r (url, method, content type, headers, body, userpwd, timeout). The caller sets done/user
 * and starts it. Returns 0, BC_ENOMEM, or BC_ETOOBIG when this contact's request is over one of
 * the provider's limits (Twilio's 4,000 characters of TwiML): it cannot be dialled as it is, and
 * r->error says why. r must be zeroed, or a request already released with
 * client_request_free; the strings r points at live in r->body's allocation (see
 * provider_request_set), so client_request_free is all the cleanup it needs. */
int provider_build_create(const struct provider_config *cfg, const struct dial_attempt *a,
                          struct client_request *r);

/* Sets r's method, content type, URL, Basic credentials (userpwd, or NULL), extra header lines
 * (NULL, or a NULL-terminated list of at most PROVIDER_MAX_HEADERS) and timeout, once r->body is
 * complete. struct client_request only points at strings, so the URL, credentials and headers are
 * copied into r->body's allocation after the body (r->body.len still counts only the body) and
 * live exactly as long as the request. method and content_type must be string constants.
 * Returns 0, BC_ENOMEM, or BC_EINVAL for too many headers. */
#define PROVIDER_MAX_HEADERS 4
int provider_request_set(struct client_request *r, const char *method, const char *content_type,
                         const char *url, const char *userpwd, const char *const *headers,
                         long timeout_ms);
/* Appends v in decimal, as "%u" would (what per-call URLs and forms use instead of printf). */
int provider_append_uint(struct buf *b, unsigned v);
/* Appends {public_url}/v1/provider/ws/{ws}/{dialect}/status?b={batch}&r={row}&a={seq} and a NUL
 * (not counted in b->len). The workspace lets a balancer route the callback to the instance that
 * holds it (docs/fleet.md); without one (a->ws NULL or empty) the older form without the
 * "ws/{ws}/" part is built. The query identifies the attempt even when a crash lost the
 * provider's call id (DESIGN.md, at-most-once dialling). */
int provider_callback_url(struct buf *b, const struct provider_config *cfg, const char *dialect,
                          const struct dial_attempt *a);
/* Length of a configured base URL without trailing slashes, so "https://x/" + "/path" does not
 * produce a double slash. */
int provider_base_len(const char *url);

enum create_class {
    CREATE_OK,    /* the provider accepted: call_id is set */
    CREATE_RETRY, /* provider-side trouble (429, 5xx, network, timeout): not an attempt, not
                     billed; retry after backoff (retry_after_ms when the provider said) */
    CREATE_FINAL, /* the contact cannot be called (e.g. invalid number): outcome and message */
    CREATE_HALT,  /* our account or configuration is wrong (authentication, geo permissions):
                     pause the batch with message instead of burning through every contact */
};

struct create_result {
    enum create_class cls;
    char call_id[64];
    int outcome; /* enum job_outcome, for CREATE_FINAL */
    uint64_t retry_after_ms;
    char message[256]; /* for people: says what happened, e.g. "Twilio error 21211: ..." */
};

/* Classifies a finished create request (r->result, r->status, r->response). */
void provider_parse_create(const struct provider_config *cfg, const struct client_request *r,
                           struct create_result *out);

/* A call status report, from a callback or a fetch. */
struct call_event {
    char call_id[64];
    char batch[ID_MAX]; /* from the callback URL's query (b=), "" when unknown */
    uint32_t row;       /* r= */
    uint32_t seq;       /* a= */
    int64_t sequence;   /* the provider's ordering (Twilio SequenceNumber), -1 when absent */
    int final;          /* 1 when the call ended */
    int answered;       /* the call connected (billable) */
    int outcome;        /* enum job_outcome when final */
    int sip;            /* SipResponseCode, 0 when absent */
    double duration;    /* seconds of talk time when final */
    char status[32];    /* the provider's own word (CallStatus / status) */
    char message[256];  /* for people, e.g. "Number busy" */
    char *transcript;   /* malloc'd when the provider reported one, else NULL */
    /* The callee asked not to be called again (the http dialect's optOut: true, the
     * simulator's OptOut=true, or Twilio Digits equal to the agent's optOutDigit): honoured
     * with the final report. */
    int opted_out;
    char digits[8]; /* Twilio: the Digits the callee pressed, "" when none */
};
/* Empties ev: zeroes, no transcript, sequence -1. */
void provider_event_init(struct call_event *ev);
void provider_event_free(struct call_event *ev);
/* Reads b (a batch id), r (row) and a (seq, both positive integers) from a callback URL's query
 * into ev. Every callback URL we hand out carries them, so one missing or malformed is
 * BC_EINVAL. */
int provider_parse_callback_query(const char *query, size_t qlen, struct call_event *ev);

/* Maps Twilio's CallStatus, AnsweredBy and SipResponseCode to an event's final/answered/outcome:
 * completed+human -> answered; completed+machine* or fax -> voicemail; busy; no-answer;
 * failed+480 -> unreachable; 404/484/604/410 -> invalid_number; 603 -> rejected; 607/608 ->
 * carrier_blocked; 486/600 -> busy; 408/487 -> no_answer; other failed -> unreachable. The http
 * dialect translates its status words into Twilio's, so both dialects share this mapping. */
void provider_twilio_outcome(const char *call_status, const char *answered_by, int sip,
                             struct call_event *ev);

/* GET the call's current state (for a call whose final callback is overdue). */
int provider_build_fetch(const struct provider_config *cfg, const char *call_id,
                         struct client_request *r);
/* Returns 0 with ev filled, BC_ENOTFOUND when the provider does not know the call, or another
 * negative error (provider trouble: try again later). */
int provider_parse_fetch(const struct provider_config *cfg, const struct client_request *r,
                         struct call_event *ev);

/* How a finished fetch request went, in both dialects: 0 for a 200, BC_ENOTFOUND for 404 (the
 * provider does not know the call), BC_EACCES for 401/403, BC_EIO otherwise. */
int provider_fetch_status(const struct client_request *r);

/* Reads a string member of a provider's JSON answer into out; 0 when it is missing, empty or does
 * not fit, 1 when it was copied. */
int provider_json_string(const cJSON *obj, const char *name, char *out, size_t cap);

#endif
