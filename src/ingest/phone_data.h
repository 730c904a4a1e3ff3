/* The numbering-plan table behind phone.c, defined in phone_data.c (whose comment gives the
 * sources and the rules for editing it). */
#ifndef BC_INGEST_PHONE_DATA_H
#define BC_INGEST_PHONE_DATA_H

#include <stddef.h>

/* One row of the table. The table is sorted by calling code; each code's main country comes
 * first and the other countries sharing the code follow it. */
struct phone_country {
    char iso2[3];           /* ISO 3166-1 alpha-2, or "" for a global service such as +800 */
    unsigned short code;    /* ITU-T E.164 country calling code */
    char trunk[3];          /* national (trunk) prefix dialled before national numbers, or "" */
    unsigned short lengths; /* bit n set: a national significant number of n digits is valid */
    /* Only for a shared code's other members: the space-separated beginnings of the national
     * significant numbers that belong to this country. NULL for the main country and for members
     * the number alone cannot tell apart (they are reported as the main country). */
    const char *prefixes;
};

extern const struct phone_country phone_data_countries[];
extern const size_t phone_data_count;
/* Indexes derived from the rows (phone_data.c says how they are kept in step): for each calling
 * code below 1000, 1 + the index of its main row or 0; for each +1 area code 200 to 999 (index:
 * area code - 200), the offset of its country's row from the +1 main row. */
extern const unsigned short phone_data_code_row[1000];
extern const unsigned char phone_data_nanp_member[800];

#endif
