/* `batchcalld admin placement ...` and the fleet's `admin workspace` commands (freeze, thaw,
 * status, export, import, drop): see docs/fleet.md. Called by admin.c, which parses the flags. */
#ifndef BC_FLEET_ADMIN_H
#define BC_FLEET_ADMIN_H

#include "store/store.h"

struct fleet_admin_args {
    const char *map, *workspace, *instance, *in, *out;
    int replace, force;
};

/* 1 when verb is a fleet verb of `admin workspace`. */
int fleet_admin_workspace_verb(const char *verb);
/* Returns the process exit code: 0, 1 (failed; JSON error on stdout), 2 (usage). */
int fleet_admin_workspace(struct store *s, const char *verb, const struct fleet_admin_args *a);
/* `admin placement set|remove|show`: needs no data directory. */
int fleet_admin_placement(const char *verb, const struct fleet_admin_args *a);

#endif
