/* Numbers written as text (see num.h). */
#include "util/num.h"

#include "util/err.h"

int num_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return BC_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return BC_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        /* Checked before multiplying, so a long run of digits cannot wrap around. */
        if (v > (max - d) / 10)
            return BC_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
