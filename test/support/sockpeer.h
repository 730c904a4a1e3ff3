/* The client's end of a socketpair whose other end a test hands to the real HTTP server
 * (http_server_adopt): test/unit/http/server_test.c, test/unit/api/events_test.c and
 * test/fuzz/fuzz_http.c play the client with it. The socket is non-blocking: reads take what
 * has arrived and return. Header-only: each test is one program. */
#ifndef BC_TEST_SOCKPEER_H
#define BC_TEST_SOCKPEER_H

#include <errno.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "util/buf.h"

struct sockpeer {
    int fd;
    struct buf in; /* everything the server sent */
    int eof;       /* the server closed its side (EOF or reset) */
};

/* Makes a non-blocking socketpair: *server_fd for http_server_adopt, the other end for p (its
 * buffer emptied). 0, or -1 with errno. */
static inline int sockpeer_pair(struct sockpeer *p, int *server_fd)
{
    int sv[2];
    memset(p, 0, sizeof *p);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    *server_fd = sv[0];
    p->fd = sv[1];
    return 0;
}

/* Appends whatever the server has sent to p->in, without blocking; sets eof when it closed. */
static inline void sockpeer_read(struct sockpeer *p)
{
    char tmp[65536];
    for (;;) {
        ssize_t n = recv(p->fd, tmp, sizeof tmp, 0);
        if (n > 0) {
            buf_append(&p->in, tmp, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno != EAGAIN)
            p->eof = 1;
        return;
    }
}

/* Bytes the client wrote that the server has not read yet. */
static inline int sockpeer_unread(const struct sockpeer *p)
{
    int q = 0;
    return ioctl(p->fd, SIOCOUTQ, &q) == 0 ? q : 0;
}

/* Makes b->data a C string (the terminator is not counted in len). */
static inline const char *sockpeer_cstr(struct buf *b)
{
    buf_append(b, "", 1);
    b->len--;
    return b->data;
}

#endif
