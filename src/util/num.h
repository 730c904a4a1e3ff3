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
