/* The national registry's line parser (src/policy/registry.c, registry_import_feed). Input: a
 * registry file. Properties: the numbers read and the bad lines counted are the same whatever the
 * file is cut into; every number read is ten digits whose area code and exchange start with 2-9;
 * at most REGISTRY_BAD_KEPT bad lines are kept, with increasing line numbers and printable text. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "policy/registry.h"

static void parse(struct registry_import *im, const uint8_t *data, size_t size, const size_t *cuts,
                  size_t k)
{
    memset(im, 0, sizeof *im);
    im->cap = 16;
    im->nums = malloc(im->cap * sizeof *im->nums);
    FUZZ_CHECK(im->nums != NULL, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i <= k; i++) {
        size_t end = i < k ? cuts[i] : size;
        FUZZ_CHECK(registry_import_feed(im, (const char *)data + at, end - at) == 0, "feed");
        at = end;
    }
    registry_import_end(im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cuts[4];
    size_t k = fuzz_cuts(fuzz_hash(data, size), size, cuts, 4);
    struct registry_import whole, cut;
    parse(&whole, data, size, NULL, 0);
    parse(&cut, data, size, cuts, k);
    FUZZ_CHECK(whole.n == cut.n && whole.meta.bad_lines == cut.meta.bad_lines &&
                   whole.nbad == cut.nbad,
               "split changed the result: %zu/%zu numbers, %llu/%llu bad", whole.n, cut.n,
               (unsigned long long)whole.meta.bad_lines, (unsigned long long)cut.meta.bad_lines);
    FUZZ_CHECK(memcmp(whole.nums, cut.nums, whole.n * sizeof *whole.nums) == 0, "numbers differ");
    for (size_t i = 0; i < whole.n; i++) {
        uint64_t v = whole.nums[i];
        FUZZ_CHECK(v >= 2002000000ull && v <= 9999999999ull && v / 1000000 % 10 >= 2, "%llu",
                   (unsigned long long)v);
    }
    FUZZ_CHECK(whole.nbad <= REGISTRY_BAD_KEPT && whole.nbad <= whole.meta.bad_lines, "%zu kept",
               whole.nbad);
    for (size_t i = 0; i < whole.nbad; i++) {
        FUZZ_CHECK(i == 0 || whole.bad[i].line > whole.bad[i - 1].line, "line order");
        FUZZ_CHECK(strcmp(whole.bad[i].text, cut.bad[i].text) == 0, "text differs");
        for (const char *p = whole.bad[i].text; *p; p++)
            FUZZ_CHECK(*p >= 0x20 && *p < 0x7f, "unprintable text");
    }
    free(whole.nums);
    free(cut.nums);
    return 0;
}
