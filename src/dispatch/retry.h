/* The retry policy: after each attempt, whether a contact is called again, when, and the words
 * that explain a final failure. Pure functions, so every rule is unit tested.
 *
 *  - busy: called again automatically, up to busy_attempts attempts in all, busy_retry_ms apart;
 *  - no answer and voicemail: called again only when the batch's smartCallbackConfig is enabled,
 *    up to its maxAttempts, waiting gap i before attempt i+2 (the last gap repeats);
 *  - invalid number, unreachable, carrier blocked, rejected: final at once;
 *  - provider trouble (429, 5xx, network, timeout) is not an attempt: exponential backoff with
 *    full jitter (or the provider's Retry-After when longer), failing with provider_error after
 *    provider_retries tries. */
#ifndef BC_DISPATCH_RETRY_H
#define BC_DISPATCH_RETRY_H

#include <stddef.h>
#include <stdint.h>

#define RETRY_MAX_GAPS 16

struct retry_config {
    uint32_t busy_attempts;    /* attempts in all for a busy number (default 3) */
    uint64_t busy_retry_ms;    /* wait between busy attempts (default 10 minutes) */
    uint32_t provider_retries; /* provider-trouble retries before provider_error (default 8) */
    uint64_t backoff_base_ms;  /* first provider-trouble backoff ceiling (default 1000) */
    uint64_t backoff_max_ms;   /* largest backoff ceiling (default 60000) */
    uint64_t hour_ms;          /* how long a smartCallbackConfig "hour" is (default 3600000) */
};

/* A batch's smartCallbackConfig, parsed. */
struct retry_smart {
    int enabled;
    uint32_t max_attempts;
    uint32_t ngaps;
    double gap_hours[RETRY_MAX_GAPS];
};

struct retry_decision {
    int retry; /* 1: call again at due_ms; 0: final */
    uint64_t due_ms;
    char error[160]; /* for a final failure: what happened, in words */
};

void retry_defaults(struct retry_config *c);
/* Parses the smartCallbackConfig object (cJSON *) stored with the batch; NULL means disabled. */
void retry_smart_from_json(const void *json, struct retry_smart *out);

/* After a call attempt ended with outcome (enum job_outcome). attempts counts the attempts the
 * limits apply to (since the last POST .../retry), this one included; dials counts every attempt
 * of the call, for the words of a final failure. */
void retry_after_call(const struct retry_config *c, const struct retry_smart *smart, int outcome,
                      uint32_t attempts, uint32_t dials, uint64_t now_ms, const char *detail,
                      struct retry_decision *d);
/* After provider trouble on a create request; tries counts this one. rnd is a uniform random
 * number in [0, 1) for the jitter. */
void retry_after_provider_error(const struct retry_config *c, uint32_t tries,
                                uint64_t retry_after_ms, double rnd, uint64_t now_ms,
                                const char *detail, struct retry_decision *d);

#endif
