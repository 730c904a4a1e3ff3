/* Agents (API.md B8): who places the calls and what they say. */
#ifndef BC_API_AGENTS_H
#define BC_API_AGENTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "http/http.h"
#include "model/agent.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/id.h"

struct agents_error {
    const char *field;
    char message[200];
};

/* Validates body (the B8 fields) and stores a new agent of workspace ws; its JSON is appended to
 * json and its id written to id. A bad field returns BC_EINVAL with err naming it. */
int agents_insert(struct store *st, struct id_gen *ids, const char *ws, size_t wslen,
                  const cJSON *body, struct agents_error *err, struct buf *json, char id[ID_MAX]);

void agents_create(struct http_request *req);
void agents_list(struct http_request *req);
void agents_get(struct http_request *req);
void agents_update(struct http_request *req);
void agents_delete(struct http_request *req);

#endif
