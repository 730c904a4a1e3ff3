/* The placement map (docs/fleet.md): which instance holds each workspace, one "WORKSPACE
 * INSTANCE" line each, read by the balancer. FILE is HAProxy's map_str form; FILE.nginx is the
 * same entries as an nginx map body (each line ends with ';'). Both are rewritten whole and
 * atomically (temporary file, fsync, rename) under an flock of FILE.lock. */
#ifndef BC_MODEL_PLACEMENT_H
#define BC_MODEL_PLACEMENT_H

#include <stddef.h>

#define PLACEMENT_NAME_MAX 64

struct placement_entry {
    char ws[PLACEMENT_NAME_MAX + 1];
    char instance[PLACEMENT_NAME_MAX + 1];
};

struct placement {
    struct placement_entry *e; /* sorted by workspace */
    size_t n;
    char msg[300]; /* why the last operation failed, for people */
};

/* 1 when s is 1 to 64 characters of A-Z a-z 0-9 . _ - */
int placement_name_ok(const char *s);
/* Parses map text (the HAProxy form; a trailing ';' is also accepted). Returns 0, BC_EINVAL
 * (p->msg names the line), or BC_ENOMEM. */
int placement_parse(struct placement *p, const char *text, size_t len);
/* Renders the map: nginx 0 the HAProxy form, 1 the nginx form. Returns malloc'd text or NULL. */
char *placement_render(const struct placement *p, int nginx);
/* The entry of ws, or NULL. */
const struct placement_entry *placement_find(const struct placement *p, const char *ws);
/* Sets (adding or replacing) or removes an entry. Returns 0, BC_ENOTFOUND (remove of a workspace
 * not mapped), BC_ENOMEM. */
int placement_set(struct placement *p, const char *ws, const char *instance);
int placement_remove(struct placement *p, const char *ws);
void placement_free(struct placement *p);

/* Reads path (a missing file is an empty map). Returns 0, BC_EINVAL, BC_EIO (p->msg says). */
int placement_load(struct placement *p, const char *path);
/* Writes path and path.nginx atomically. Returns 0 or BC_EIO (p->msg says). */
int placement_save(struct placement *p, const char *path);
/* Takes an exclusive lock on path.lock (blocking): returns a descriptor, or BC_EIO. */
int placement_lock(const char *path, char *msg, size_t cap);
void placement_unlock(int fd);

#endif
