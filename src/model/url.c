#include "model/url.h"

#include <strings.h>

#include "util/err.h"

static size_t scheme_len(const char *s, size_t len)
{
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
        return 7;
    if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
        return 8;
    return 0;
}

int url_check(const char *s, size_t len, unsigned flags)
{
    if (len > URL_MAX)
        return BC_ETOOBIG;
    size_t scheme = scheme_len(s, len);
    if (!scheme || len == scheme || (s[scheme] == '/' && !(flags & URL_EMPTY_HOST_OK)))
        return BC_EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || (c == 0x7f && !(flags & URL_DEL_OK)))
            return BC_EINVAL;
    }
    return 0;
}
