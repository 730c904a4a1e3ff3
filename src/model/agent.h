/* Agents (API.md B8): their limits, and the {variables} of a prompt. The API lists an agent's
 * variables and checks an upload's columns against them; the dispatcher fills them in from each
 * contact's row. All three read a prompt by the one rule here. */
#ifndef BC_MODEL_AGENT_H
#define BC_MODEL_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/store.h"
#include "util/buf.h"

#define AGENT_NAME_MAX      200
#define AGENT_PROMPT_MAX    32768
#define AGENT_URL_MAX       2048
#define AGENT_VARIABLES_MAX 100
/* A longer name between braces is text, not a variable. */
#define AGENT_VARIABLE_MAX 127

/* Calls fn for each {variable} occurrence in a prompt, in order (names may repeat), with the name
 * as written. A variable is 1 to AGENT_VARIABLE_MAX ASCII letters, digits and '_' between braces;
 * other brace text (JSON examples) is not a variable. */
typedef void (*agent_var_fn)(void *ctx, const char *name, size_t len);
void agent_prompt_variables(const char *prompt, size_t len, agent_var_fn fn, void *ctx);

/* Variables match CSV columns case-insensitively, and columns are kept lower-case: writes the name
 * lower-cased and NUL-terminated into out (AGENT_VARIABLE_MAX + 1 bytes). */
void agent_variable_key(const char *name, size_t len, char *out);

/* The value of a (lower-cased) variable for one contact, or NULL when the row has none. */
typedef const char *(*agent_value_fn)(void *ctx, const char *key);
/* Appends the prompt with every {variable} replaced by its value to out (NUL-terminated).
 * *empty counts the variables that had no value or an empty one: they render as nothing. */
int agent_render(const char *prompt, size_t len, agent_value_fn value, void *ctx, struct buf *out,
                 uint32_t *empty);

/* The agent's optOutDigit (the key a callee presses to opt out, reported by Twilio as Digits),
 * or '\0' when it has none. */
char agent_opt_out_digit(const cJSON *agent);

/* Checks the B8 fields present in body (name, prompt, fromNumber, voiceUrl, optOutDigit) and
 * copies them over agent (a new empty object when creating, or the stored agent), then
 * recomputes its "variables".
 * creating: the required fields must all be present. On a bad field returns BC_EINVAL with *field
 * naming it and a sentence for the client in msg; agent may then be partly updated. */
int agent_apply(const cJSON *body, cJSON *agent, int creating, const char **field, char *msg,
                size_t cap);

/* Reads the stored agent (ws, id) into a new cJSON object *out (the caller deletes it). Returns
 * 0, BC_ENOTFOUND, BC_ECORRUPT when the record is not JSON, or a store error. */
int agent_get(struct store_txn *t, const char *ws, size_t wslen, const char *id, size_t idlen,
              cJSON **out);

#endif
