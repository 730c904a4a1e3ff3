/* Agents (API.md B8): who places the calls and what they say. */
#ifndef BC_API_AGENTS_H
#define BC_API_AGENTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "model/agent.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"

struct agent_error {
    const char *field;
    char message[200];
};

/* Validates body (the B8 fields) and stores a new agent of workspace ws; its JSON is appended to
 * json and its id written to id. A bad field returns BC_EINVAL with err naming it. */
int agent_create(struct store *st, struct id_gen *ids, const char *ws, size_t wslen,
                 const cJSON *body, struct agent_error *err, struct buf *json, char id[ID_MAX]);

/* 1 if s is E.164: '+', then 8 to 15 digits, the first not 0. */
int agent_is_e164(const char *s, size_t len);

#endif
