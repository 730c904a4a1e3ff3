/* The block scanner of csv.c's fast path; see csv_scan.h. */
#include "csv_scan.h"

#ifdef __SSE2__
#include <emmintrin.h>

/* The masks of the sixteen bytes at s, shifted to their place in the block. */
static inline __attribute__((always_inline)) uint64_t
scan16(const unsigned char *s, unsigned char delim, unsigned shift, uint64_t *high)
{
    const __m128i w = _mm_loadu_si128((const __m128i *)(const void *)s);
    /* Bytes 0 to 13 in one test: the unsigned minimum with 13 is the byte itself. */
    const __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(w, _mm_set1_epi8('\r')), w);
    const __m128i hit =
        _mm_or_si128(ctl, _mm_or_si128(_mm_cmpeq_epi8(w, _mm_set1_epi8((char)delim)),
                                       _mm_cmpeq_epi8(w, _mm_set1_epi8('"'))));
    *high |= (uint64_t)(unsigned)_mm_movemask_epi8(w) << shift;
    return (uint64_t)(unsigned)_mm_movemask_epi8(hit) << shift;
}
#endif

/* Called once per 64 bytes, out of line, so that the walk inlined at its several call sites in
 * the parser stays small enough to keep its state in registers. */
struct csv_scan_block csv_scan_block(const unsigned char *b, size_t n, unsigned char delim)
{
    struct csv_scan_block k = {0, 0};
    size_t i = 0;
#ifdef __SSE2__
    if (n >= 64) {
        k.bits = scan16(b, delim, 0, &k.high) | scan16(b + 16, delim, 16, &k.high) |
                 scan16(b + 32, delim, 32, &k.high) | scan16(b + 48, delim, 48, &k.high);
        return k;
    }
    for (; n - i >= 16; i += 16)
        k.bits |= scan16(b + i, delim, (unsigned)i, &k.high);
#endif
    /* The last bytes of the input, fewer than a vector (or every byte without SSE2): no load
     * may reach past the end. */
    for (; i < 64 && i < n; i++) {
        k.bits |= (uint64_t)(b[i] <= '\r' || b[i] == delim || b[i] == '"') << i;
        k.high |= (uint64_t)(b[i] >> 7) << i;
    }
    return k;
}
