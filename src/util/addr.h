/* Listen addresses as flags and environment variables write them. */
#ifndef BC_UTIL_ADDR_H
#define BC_UTIL_ADDR_H

#include <stddef.h>

/* Splits "host:port" or "[v6]:port" into host (NUL-terminated, brackets removed) and port
 * (decimal digits only, 0 to 65535). Returns 0, or BC_EINVAL for anything else, including a
 * host that does not fit in cap. */
int addr_split(const char *listen, char *host, size_t cap, int *port);

#endif
