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

static const char num_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

char *num_put_u64(char *p, uint64_t v)
{
    static const uint64_t pow10[NUM_U64_DIGITS] = {
        1ULL,
        10ULL,
        100ULL,
        1000ULL,
        10000ULL,
        100000ULL,
        1000000ULL,
        10000000ULL,
        100000000ULL,
        1000000000ULL,
        10000000000ULL,
        100000000000ULL,
        1000000000000ULL,
        10000000000000ULL,
        100000000000000ULL,
        1000000000000000ULL,
        10000000000000000ULL,
        100000000000000000ULL,
        1000000000000000000ULL,
        10000000000000000000ULL,
    };
    /* From the bit length, (bits * 1233) >> 12 (log10(2) ~ 1233 / 4096) is the number of
     * digits or one fewer; one comparison with a power of ten tells which. 0 has one digit, as
     * 1 does. */
    int bits = 64 - __builtin_clzll(v | 1);
    int n = (bits * 1233) >> 12;
    n += (v | 1) >= pow10[n];
    char *end = p + n, *q = end;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100) * 2;
        v /= 100;
        *--q = num_pairs[r + 1];
        *--q = num_pairs[r];
    }
    if (v >= 10) {
        *--q = num_pairs[v * 2 + 1];
        *--q = num_pairs[v * 2];
    } else {
        *--q = (char)('0' + v);
    }
    return end;
}
