/* Cursors: the after= jobId of call lists (batch_job_id_parse, used by src/api/calls.c) and an
 * event stream's Last-Event-ID (batch_event_id_parse, used by src/api/events.c). Properties:
 * - a jobId accepted is exactly "call_" and the row we print for it, so a cursor we hand out is
 *   the only spelling of its row, and the row is at least 1;
 * - Last-Event-ID reads the leading digits, saturating at UINT32_MAX - 1: it equals their value
 *   when that is below 4,294,967,290 (the first value whose last digit could reach past the cap),
 *   the cap from there on, and it grows (never wraps) with each digit appended. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "model/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint32_t row = 0;
    if (batch_job_id_parse(s, size, &row) == 0) {
        char back[32];
        int n = snprintf(back, sizeof back, "call_%u", row);
        FUZZ_CHECK(row >= 1 && (size_t)n == size && memcmp(back, s, size) == 0,
                   "%.*s parsed as row %u", (int)size, s, row);
    }
    uint32_t id = batch_event_id_parse(s, size);
    size_t digits = 0;
    uint64_t v = 0;
    while (digits < size && s[digits] >= '0' && s[digits] <= '9') {
        if (v < UINT32_MAX)
            v = v * 10 + (uint64_t)(s[digits] - '0');
        digits++;
    }
    uint64_t want = v < 4294967290ull ? v : UINT32_MAX - 1;
    FUZZ_CHECK(id == want, "%.*s read as %u, want %llu", (int)size, s, id,
               (unsigned long long)want);
    if (digits > 0)
        FUZZ_CHECK(batch_event_id_parse(s, digits - 1) <= id, "%.*s: fewer digits read as more",
                   (int)size, s);
    return 0;
}
