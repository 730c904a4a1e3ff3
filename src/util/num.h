/* Numbers written as text: whole decimal numbers and hex digits, read strictly (no sign, no
 * spaces), for the places that must refuse what strtoull would quietly accept. */
#ifndef BC_UTIL_NUM_H
#define BC_UTIL_NUM_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Parses s[0..len) as a decimal whole number: one or more digits only, no larger than max.
 * Returns 0 with *out set, or BC_EINVAL. */
int num_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);
/* The longest num_put_u64 writes: 18446744073709551615. */
#define NUM_U64_DIGITS 20
/* Writes v in decimal at p (up to NUM_U64_DIGITS bytes, no NUL) and returns the end: two digits
 * per step from a table, for the numbers written into every response's head. */
char *num_put_u64(char *p, uint64_t v);
/* The value of a hex digit (either case), or BC_EINVAL for any other character. Inline: the
 * form and URL decoders call it for every escaped byte of every provider callback. */
static inline int num_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return BC_EINVAL;
}

#endif
