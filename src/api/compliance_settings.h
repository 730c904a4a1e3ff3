/* A workspace's compliance settings (policy/rules.h): GET and PUT /v1/api/compliance/settings,
 * and the update the admin CLI shares with PUT. */
#ifndef BC_API_COMPLIANCE_SETTINGS_H
#define BC_API_COMPLIANCE_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "policy/rules.h"
#include "store/store.h"

struct http_request;
void compliance_settings_get(struct http_request *req); /* GET /v1/api/compliance/settings */
void compliance_settings_put(struct http_request *req); /* PUT /v1/api/compliance/settings */

/* Why an update was refused (BC_EINVAL): the message and the setting it is about. */
struct compliance_settings_error {
    char message[RULES_MSG_MAX];
    char field[48];
};

/* Applies the settings present in body to the workspace's (partial update; the others keep their
 * value) in one write transaction, and reads back the result into *out (rules_free it).
 * allowOutsideFederalWindowSetAt in body is the server's to set and is ignored. *widened is 1
 * when allowOutsideFederalWindow was turned on by this update. who names the caller in the log
 * line written then ("key=key_..." or "source=admin"). 0, BC_EINVAL (err filled), BC_ENOTFOUND
 * (no such workspace) or a store error. */
int compliance_settings_update(struct store *s, const char *ws, size_t wslen, const cJSON *body,
                               const char *who, struct rules *out,
                               struct compliance_settings_error *err);

/* The settings as answered: rules_to_json with allowOutsideFederalWindowSetAt always present. */
cJSON *compliance_settings_json(const struct rules *r);

#endif
