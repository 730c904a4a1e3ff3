/* The placement map file: parsing, rendering, and the atomic rewrite the balancer relies on (a
 * reload never reads half a file). */
#include "model/placement.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"

#define MAP_FILE_MAX (64u << 20)

int placement_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PLACEMENT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void placement_free(struct placement *p)
{
    free(p->e);
    p->e = NULL;
    p->n = 0;
}

static size_t find_pos(const struct placement *p, const char *ws, int *found)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(p->e[mid].ws, ws);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

const struct placement_entry *placement_find(const struct placement *p, const char *ws)
{
    int found;
    size_t i = find_pos(p, ws, &found);
    return found ? &p->e[i] : NULL;
}

int placement_set(struct placement *p, const char *ws, const char *instance)
{
    int found;
    size_t i = find_pos(p, ws, &found);
    if (!found) {
        struct placement_entry *grown = realloc(p->e, (p->n + 1) * sizeof *p->e);
        if (!grown)
            return BC_ENOMEM;
        p->e = grown;
        memmove(&p->e[i + 1], &p->e[i], (p->n - i) * sizeof *p->e);
        p->n++;
        snprintf(p->e[i].ws, sizeof p->e[i].ws, "%s", ws);
    }
    snprintf(p->e[i].instance, sizeof p->e[i].instance, "%s", instance);
    return 0;
}

int placement_remove(struct placement *p, const char *ws)
{
    int found;
    size_t i = find_pos(p, ws, &found);
    if (!found)
        return BC_ENOTFOUND;
    memmove(&p->e[i], &p->e[i + 1], (p->n - i - 1) * sizeof *p->e);
    p->n--;
    return 0;
}

/* Splits a line into exactly two names (blank lines and '#' comments give 0 names). */
static int parse_line(char *line, char **ws, char **inst)
{
    char *save = NULL, *tok[3];
    int n = 0;
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    for (char *t = strtok_r(line, " \t\r", &save); t && n < 3; t = strtok_r(NULL, " \t\r", &save))
        tok[n++] = t;
    if (n == 0)
        return 0;
    if (n != 2)
        return BC_EINVAL;
    size_t l = strlen(tok[1]);
    if (l && tok[1][l - 1] == ';')
        tok[1][l - 1] = '\0';
    if (!placement_name_ok(tok[0]) || !placement_name_ok(tok[1]))
        return BC_EINVAL;
    *ws = tok[0];
    *inst = tok[1];
    return 1;
}

int placement_parse(struct placement *p, const char *text, size_t len)
{
    placement_free(p);
    size_t lineno = 0;
    const char *s = text, *end = text + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        lineno++;
        char line[512];
        char *ws, *inst;
        int rc = BC_EINVAL;
        if (n < sizeof line) {
            memcpy(line, s, n);
            line[n] = '\0';
            rc = parse_line(line, &ws, &inst);
        }
        if (rc < 0) {
            snprintf(p->msg, sizeof p->msg,
                     "line %zu is not \"WORKSPACE INSTANCE\" (two names of 1 to %d characters "
                     "of A-Z a-z 0-9 . _ -)",
                     lineno, PLACEMENT_NAME_MAX);
            placement_free(p);
            return BC_EINVAL;
        }
        if (rc == 1 && placement_set(p, ws, inst) != 0) {
            placement_free(p);
            return BC_ENOMEM;
        }
        s += n + (nl ? 1 : 0);
    }
    return 0;
}

char *placement_render(const struct placement *p, int nginx)
{
    struct buf b = {0};
    int rc = buf_printf(&b,
                        "# batchcalld placement map (%s form); written by `batchcalld admin "
                        "placement`\n",
                        nginx ? "nginx map" : "HAProxy map_str");
    for (size_t i = 0; !rc && i < p->n; i++)
        rc = buf_printf(&b, "%s %s%s\n", p->e[i].ws, p->e[i].instance, nginx ? ";" : "");
    if (!rc)
        rc = buf_append(&b, "", 1);
    if (rc) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

int placement_load(struct placement *p, const char *path)
{
    placement_free(p);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(p->msg, sizeof p->msg, "cannot open %.200s: %s", path, strerror(errno));
        return BC_EIO;
    }
    struct buf b = {0};
    char block[8192];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(block, 1, sizeof block, f)) > 0)
        rc = b.len + n > MAP_FILE_MAX ? BC_ETOOBIG : buf_append(&b, block, n);
    if (!rc && ferror(f))
        rc = BC_EIO;
    fclose(f);
    if (rc) {
        snprintf(p->msg, sizeof p->msg, "cannot read %.200s: %s", path, err_str(rc));
        buf_free(&b);
        return BC_EIO;
    }
    rc = placement_parse(p, b.data ? b.data : "", b.len);
    buf_free(&b);
    if (rc == BC_EINVAL) {
        char m[sizeof p->msg];
        snprintf(m, sizeof m, "%.100s: %.190s", path, p->msg);
        memcpy(p->msg, m, sizeof m);
    }
    return rc;
}

/* Writes text to path through a temporary file in the same directory, then renames it. */
static int write_atomic(const char *path, const char *text, char *msg, size_t cap)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(msg, cap, "the path %.200s... is too long", path);
        return BC_EIO;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text), off = 0;
    int ok = fd >= 0;
    while (ok && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        snprintf(msg, cap, "cannot write %.200s: %s", path, strerror(errno));
        unlink(tmp);
        return BC_EIO;
    }
    return 0;
}

int placement_save(struct placement *p, const char *path)
{
    char nginx_path[4096];
    if (snprintf(nginx_path, sizeof nginx_path, "%s.nginx", path) >= (int)sizeof nginx_path) {
        snprintf(p->msg, sizeof p->msg, "the path %.200s... is too long", path);
        return BC_EIO;
    }
    int rc = 0;
    for (int nginx = 1; nginx >= 0 && !rc; nginx--) {
        char *text = placement_render(p, nginx);
        rc =
            text ? write_atomic(nginx ? nginx_path : path, text, p->msg, sizeof p->msg) : BC_ENOMEM;
        free(text);
    }
    return rc;
}

int placement_lock(const char *path, char *msg, size_t cap)
{
    char lock[4096];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        snprintf(msg, cap, "cannot lock %.200s: %s", lock, strerror(errno));
        if (fd >= 0)
            close(fd);
        return BC_EIO;
    }
    return fd;
}

void placement_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
