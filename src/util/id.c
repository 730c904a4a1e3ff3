#include "util/id.h"

#include <string.h>

#include "util/crypto.h"
#include "util/err.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Increments the 80-bit big-endian random part; returns 1 on overflow. */
static int increment_rand(uint8_t r[10])
{
    for (int i = 9; i >= 0; i--) {
        if (++r[i] != 0)
            return 0;
    }
    return 1;
}

int id_new(struct id_gen *g, const char *prefix, uint64_t now_ms, char out[ID_MAX])
{
    size_t plen = strlen(prefix);
    if (plen + ID_ULID_LEN + 1 > ID_MAX)
        return BC_EINVAL;
    if (now_ms <= g->last_ms) {
        now_ms = g->last_ms;
        if (increment_rand(g->last_rand))
            now_ms = ++g->last_ms;
    } else {
        int rc = crypto_random(g->last_rand, sizeof g->last_rand);
        if (rc)
            return rc;
        /* Leave headroom so increments within one millisecond do not overflow. */
        g->last_rand[0] &= 0x7f;
        g->last_ms = now_ms;
    }
    /* 128 bits: 48 of time then 80 of randomness, as 26 base32 digits (the first holds 3 bits). */
    uint8_t bytes[16];
    for (int i = 0; i < 6; i++)
        bytes[i] = (uint8_t)(now_ms >> (40 - 8 * i));
    memcpy(bytes + 6, g->last_rand, 10);
    char *p = out;
    memcpy(p, prefix, plen);
    p += plen;
    for (int i = 0; i < ID_ULID_LEN; i++) {
        /* Bit offset of digit i, counted from the top of a 130-bit number padded with 2 zero bits.
         */
        int bit = i * 5 - 2;
        unsigned v = 0;
        for (int k = 0; k < 5; k++) {
            int b = bit + k;
            unsigned set = b >= 0 ? (bytes[b / 8] >> (7 - b % 8)) & 1u : 0u;
            v = (v << 1) | set;
        }
        p[i] = crockford[v];
    }
    p[ID_ULID_LEN] = '\0';
    return (int)(plen + ID_ULID_LEN);
}

int id_valid(const char *prefix, const char *s, size_t len)
{
    size_t plen = strlen(prefix);
    if (len != plen + ID_ULID_LEN || memcmp(s, prefix, plen) != 0)
        return 0;
    for (size_t i = plen; i < len; i++) {
        if (id_digit_value(s[i]) < 0)
            return 0;
    }
    return s[plen] <= '7';
}
