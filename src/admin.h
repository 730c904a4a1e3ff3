/* `batchcalld admin ...`: workspaces and API keys, run against the data directory directly (the
 * store is safe to share with a running server). Prints JSON on stdout. */
#ifndef BC_ADMIN_H
#define BC_ADMIN_H

/* argv starts after "admin". Returns the process exit code. */
int admin_main(int argc, char **argv);

struct cJSON;
/* Prints o as JSON on stdout and frees it. Returns 0, or 1 when it cannot be rendered. */
int admin_print_json(struct cJSON *o);

#endif
