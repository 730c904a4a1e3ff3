/* A slow disk for integration tests. Preloaded into the server (LD_PRELOAD), it makes every
 * fsync and fdatasync wait SLOW_DISK_MS milliseconds first, so that a test can land a request
 * (a cancel, a pause, a signal) while a group commit is being written, which on a real disk
 * lasts only a few milliseconds. Nothing else changes: the real call follows the wait. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

typedef int (*sync_fn)(int fd);

static sync_fn real_fsync, real_fdatasync;
static long delay_ms;

/* Resolved once, before any thread starts: the server's pool threads call these too. */
__attribute__((constructor)) static void slow_disk_init(void)
{
    *(void **)&real_fsync = dlsym(RTLD_NEXT, "fsync");
    *(void **)&real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    const char *v = getenv("SLOW_DISK_MS");
    delay_ms = v ? strtol(v, NULL, 10) : 0;
}

static void wait_a_while(void)
{
    if (delay_ms <= 0)
        return;
    struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int fsync(int fd)
{
    wait_a_while();
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    wait_a_while();
    return real_fdatasync(fd);
}
