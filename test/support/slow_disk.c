/* A misbehaving disk for integration tests, preloaded into the server (LD_PRELOAD).
 *
 * Slow: SLOW_DISK_MS makes every fsync and fdatasync wait that many milliseconds first, so that a
 * test can land a request (a cancel, a pause, a signal) while a group commit is being written,
 * which on a real disk lasts only a few milliseconds. The real call follows the wait.
 *
 * Full: while the file named by FULL_DISK_FLAG exists, files under the directory FULL_DISK_DIR
 * behave like files on a full filesystem: a write that would make a file longer, and every fsync
 * and fdatasync, fail with ENOSPC. Writes inside a file's current size still succeed, as they do
 * on a real full disk (their blocks are allocated), which keeps LMDB's meta page writable. The
 * test creates and removes the flag file to fill and free the "disk". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int fd);
typedef ssize_t (*write_fn)(int fd, const void *buf, size_t n);
typedef ssize_t (*pwrite_fn)(int fd, const void *buf, size_t n, off_t off);
typedef ssize_t (*writev_fn)(int fd, const struct iovec *iov, int cnt);
typedef ssize_t (*pwritev_fn)(int fd, const struct iovec *iov, int cnt, off_t off);

static sync_fn real_fsync, real_fdatasync;
static write_fn real_write;
static pwrite_fn real_pwrite, real_pwrite64;
static writev_fn real_writev;
static pwritev_fn real_pwritev, real_pwritev64;
static long delay_ms;
static const char *full_flag, *full_dir;
static size_t full_dir_len;

/* Resolved once, before any thread starts: the server's pool threads call these too. */
__attribute__((constructor)) static void slow_disk_init(void)
{
    *(void **)&real_fsync = dlsym(RTLD_NEXT, "fsync");
    *(void **)&real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    *(void **)&real_write = dlsym(RTLD_NEXT, "write");
    *(void **)&real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    *(void **)&real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    *(void **)&real_writev = dlsym(RTLD_NEXT, "writev");
    *(void **)&real_pwritev = dlsym(RTLD_NEXT, "pwritev");
    *(void **)&real_pwritev64 = dlsym(RTLD_NEXT, "pwritev64");
    const char *v = getenv("SLOW_DISK_MS");
    delay_ms = v ? strtol(v, NULL, 10) : 0;
    full_flag = getenv("FULL_DISK_FLAG");
    full_dir = getenv("FULL_DISK_DIR");
    full_dir_len = full_dir ? strlen(full_dir) : 0;
}

static void wait_a_while(void)
{
    if (delay_ms <= 0)
        return;
    struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Whether fd is a file under FULL_DISK_DIR while the disk is "full". */
static int disk_full(int fd)
{
    if (!full_flag || !full_dir_len || access(full_flag, F_OK) != 0)
        return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return (size_t)n > full_dir_len && strncmp(path, full_dir, full_dir_len) == 0 &&
           path[full_dir_len] == '/';
}

/* A write of n bytes at off (-1: the current position) would make the file longer. */
static int grows(int fd, off_t off, size_t n)
{
    struct stat st;
    if (off < 0)
        off = lseek(fd, 0, SEEK_CUR);
    return off < 0 || fstat(fd, &st) != 0 || off + (off_t)n > st.st_size;
}

static size_t iov_bytes(const struct iovec *iov, int cnt)
{
    size_t n = 0;
    for (int i = 0; i < cnt; i++)
        n += iov[i].iov_len;
    return n;
}

static int no_space(int fd, off_t off, size_t n)
{
    if (n == 0 || !disk_full(fd) || !grows(fd, off, n))
        return 0;
    errno = ENOSPC;
    return 1;
}

int fsync(int fd)
{
    wait_a_while();
    if (disk_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    wait_a_while();
    if (disk_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_fdatasync(fd);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    return no_space(fd, -1, n) ? -1 : real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return no_space(fd, off, n) ? -1 : real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return no_space(fd, off, n) ? -1 : real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    return no_space(fd, -1, iov_bytes(iov, cnt)) ? -1 : real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return no_space(fd, off, iov_bytes(iov, cnt)) ? -1 : real_pwritev(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return no_space(fd, off, iov_bytes(iov, cnt)) ? -1 : real_pwritev64(fd, iov, cnt, off);
}
