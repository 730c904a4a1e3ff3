/* Identifiers are a prefix and a ULID: 26 Crockford base32 characters of a 48-bit millisecond
 * timestamp and 80 random bits, so they sort by creation time. Within one millisecond the random
 * part is incremented, which keeps ids created by one process strictly increasing. */
#ifndef BC_UTIL_ID_H
#define BC_UTIL_ID_H

#include <stddef.h>
#include <stdint.h>

#define ID_ULID_LEN 26
#define ID_MAX      40
struct id_gen {
    uint64_t last_ms;
    uint8_t last_rand[10];
};
/* Writes prefix + ULID + NUL into out (ID_MAX bytes). Returns the length, or a negative error. */
int id_new(struct id_gen *g, const char *prefix, uint64_t now_ms, char out[ID_MAX]);
/* The value of a ULID digit (Crockford base32, upper case as ids are made), or -1. */
int id_digit_value(char c);
/* 1 if s is prefix followed by a well-formed ULID. */
int id_valid(const char *prefix, const char *s, size_t len);

#endif
