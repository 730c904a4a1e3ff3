#include "util/dirlock.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/err.h"

int dirlock_take(const char *dir, int *fd)
{
    char path[1100];
    *fd = -1;
    if (snprintf(path, sizeof path, "%s/serve.lock", dir) >= (int)sizeof path)
        return BC_EINVAL;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0)
        return BC_EIO;
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        close(f);
        return BC_EBUSY;
    }
    *fd = f;
    return 0;
}
