/* A workspace's compliance settings: when its calls may be placed, whom it may call, how often.
 *
 * Defaults protect: the federal calling window (08:00-21:00 callee local time, 47 CFR
 * 64.1200(c)(1)), the US state rules of a +1 number's area code, the national do-not-call
 * registry for +1 numbers, at most 3 attempts per number per rolling 24 hours across all the
 * workspace's batches (the Florida, Oklahoma and Maryland rule). A workspace may narrow the
 * window with its own per-weekday windows; widening it past the federal one takes an explicit
 * allowOutsideFederalWindow, whose setting is recorded with the time it was set.
 *
 * Stored as JSON in DB_POLICY under the workspace id; a workspace without a record has the
 * defaults. */
#ifndef BC_POLICY_RULES_H
#define BC_POLICY_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "policy/window.h"
#include "store/store.h"

#define RULES_DEFAULT_MAX_ATTEMPTS 3
#define RULES_DEFAULT_CAP_HOURS    24
#define RULES_MAX_ATTEMPTS_LIMIT   100
#define RULES_MAX_CAP_HOURS        720 /* 30 days */
#define RULES_MAX_WINDOWS          14
#define RULES_MSG_MAX              256

struct rules {
    int has_windows;       /* the workspace set callingWindows */
    struct window windows; /* their union (when has_windows) */
    int allow_outside_federal;
    uint64_t allow_outside_federal_set_ms; /* when it was last turned on (0: never) */
    int state_rules;
    int use_national_registry;
    int require_consent;
    uint32_t max_attempts_per_number; /* 0: no cap */
    uint32_t cap_window_hours;
    cJSON *windows_json; /* callingWindows as given (owned; NULL when none) */
};

void rules_defaults(struct rules *r);
void rules_free(struct rules *r);
/* Applies the fields present in obj (a PUT body or a stored record) to r; unknown fields and bad
 * values are refused with BC_EINVAL and a message naming the field, r unchanged. now_ms records
 * when allowOutsideFederalWindow is turned on. */
int rules_apply_json(struct rules *r, const cJSON *obj, uint64_t now_ms, char *msg, size_t msglen);
cJSON *rules_to_json(const struct rules *r);
/* The workspace's settings (the defaults when it has no record). 0 or a store error. */
int rules_get(struct store_txn *t, const char *ws, size_t wslen, struct rules *out);
int rules_put(struct store_txn *t, const char *ws, size_t wslen, const struct rules *r);
/* The window every call of the workspace obeys before state rules and the batch's own: the
 * federal one, narrowed by the workspace's windows, or the workspace's alone when it allows
 * calls outside the federal window (every minute when it set no window). */
void rules_base_window(const struct rules *r, struct window *out);

#endif
