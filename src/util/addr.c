/* Listen addresses (see addr.h). */
#include "util/addr.h"

#include <stdint.h>
#include <string.h>

#include "util/err.h"
#include "util/num.h"

int addr_split(const char *listen, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return BC_EINVAL;
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    uint64_t p;
    if (hlen == 0 || hlen >= cap || num_parse_u64(colon + 1, strlen(colon + 1), 65535, &p) != 0)
        return BC_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}
