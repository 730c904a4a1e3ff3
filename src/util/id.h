/* Identifiers are a prefix and a ULID: 26 Crockford base32 characters of a 48-bit millisecond
 * timestamp and 80 random bits, so they sort by creation time. Within one millisecond the random
 * part is incremented, which keeps ids created by one process strictly increasing. */
#ifndef BC_UTIL_ID_H
#define BC_UTIL_ID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ID_ULID_LEN 26
#define ID_MAX      40
struct id_gen {
    uint64_t last_ms;
    uint8_t last_rand[10];
};
/* Writes prefix + ULID + NUL into out (ID_MAX bytes). Returns the length, or a negative error. */
int id_new(struct id_gen *g, const char *prefix, uint64_t now_ms, char out[ID_MAX]);
/* The value of a ULID digit (Crockford base32, upper case as ids are made), or -1. Inline, by
 * table: ids are checked on most requests and decoded for every job key (store/records.c). */
static inline int id_digit_value(char c)
{
#define ID_D(ch, v) [ch] = (v) + 1
    static const unsigned char values[256] = {
        ID_D('0', 0),  ID_D('1', 1),  ID_D('2', 2),  ID_D('3', 3),  ID_D('4', 4),  ID_D('5', 5),
        ID_D('6', 6),  ID_D('7', 7),  ID_D('8', 8),  ID_D('9', 9),  ID_D('A', 10), ID_D('B', 11),
        ID_D('C', 12), ID_D('D', 13), ID_D('E', 14), ID_D('F', 15), ID_D('G', 16), ID_D('H', 17),
        ID_D('J', 18), ID_D('K', 19), ID_D('M', 20), ID_D('N', 21), ID_D('P', 22), ID_D('Q', 23),
        ID_D('R', 24), ID_D('S', 25), ID_D('T', 26), ID_D('V', 27), ID_D('W', 28), ID_D('X', 29),
        ID_D('Y', 30), ID_D('Z', 31),
    };
#undef ID_D
    return values[(unsigned char)c] - 1;
}
/* Copies the id src into dst (cap bytes with its NUL), cut to fit: snprintf's "%s" without its
 * format parsing, for the ids the dispatcher copies for every report and key. */
static inline void id_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}
/* 1 if s is prefix followed by a well-formed ULID. */
int id_valid(const char *prefix, const char *s, size_t len);

#endif
