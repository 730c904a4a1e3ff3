#include "policy/registry_index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "store/records.h"
#include "util/err.h"

#define INDEX_NPAS 800u /* area codes 200-999 */
#define HUGE_PAGE  ((size_t)2 << 20)

/* Each exchange of an area code that has a record is a 64-byte slot (one cache line) at a place
 * computed from the number, so a lookup starts with one read the caller can start early
 * (registry_index_prefetch) and, for most exchanges, ends there:
 *   u16 n, the exchange's line count (SLOT_BITMAP: a bitmap); then
 *   n <= SLOT_INLINE: its lines, ascending, in the slot itself;
 *   otherwise: u16 unused, u32 where its lines (or bitmap) are in the arena, 64-byte aligned,
 *     and u16 fences: the first line of each 32-line segment after the first, so that one
 *     64-byte segment is read and searched. */
#define SLOT         64u
#define SLOT_INLINE  31u
#define SLOT_BITMAP  0xFFFFu
#define SEGMENT      32u
#define SLOT_FENCES  28u
#define NPA_SLOTS    ((size_t)REGISTRY_NXX * SLOT)
#define LINES_AT(p)  ((uint16_t *)((p) + 2))
#define OFFSET_AT(p) ((uint32_t *)((p) + 4))
#define FENCES_AT(p) ((uint16_t *)((p) + 8))

_Static_assert(2 + 2 * SLOT_INLINE <= SLOT, "inline lines fit a slot");
_Static_assert((REGISTRY_DENSE + SEGMENT - 1) / SEGMENT - 1 <= SLOT_FENCES, "fences fit a slot");

struct registry_index {
    uint32_t generation;
    uint32_t refs;    /* holders, under the store's shared_lock */
    int retired;      /* replaced by a newer generation: the last registry_index_put frees it */
    uint8_t *arena;   /* slots of the area codes with a record, then longer exchanges */
    size_t cap, used; /* the arena's size and what is written */
    uint32_t slots[INDEX_NPAS]; /* where an area code's slots are; UINT32_MAX: no record */
    /* While it is copied: each area code's record length (checked again when it is copied). */
    uint32_t len[INDEX_NPAS];
    unsigned copied; /* area codes done */
};

/* The store's shared slot: the newest whole index and the one being copied. */
struct shared {
    struct registry_index *ready;
    struct registry_index *copying;
    int slicing;         /* a thread copies a slice of copying now */
    uint32_t failed_gen; /* a generation that cannot be copied (too big, no memory, damaged) */
};

static unsigned digits3(const char *d)
{
    return (unsigned)(d[0] - '0') * 100 + (unsigned)(d[1] - '0') * 10 + (unsigned)(d[2] - '0');
}

/* Memory on huge pages when the kernel has them: a random lookup then misses no TLB entry. */
static void *huge_alloc(size_t bytes)
{
    void *p;
    size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    if (rounded == 0)
        rounded = HUGE_PAGE;
    if (posix_memalign(&p, HUGE_PAGE, rounded) != 0)
        return NULL;
    madvise(p, rounded, MADV_HUGEPAGE);
    return p;
}

static void index_free(struct registry_index *ix)
{
    if (ix)
        free(ix->arena);
    free(ix);
}

static void shared_free(void *p)
{
    struct shared *sh = p;
    index_free(sh->ready);
    index_free(sh->copying);
    free(sh);
}

/* The first slice: every area code's record length (a key lookup each, no copy) and the
 * arena, sized for the worst case (every slot, every exchange's lines or bitmap rounded up to
 * 64 bytes); untouched pages of it cost nothing. NULL when the generation cannot be copied. */
static struct registry_index *index_start(struct store_txn *t, uint32_t gen)
{
    struct registry_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NULL;
    ix->generation = gen;
    size_t records = 0;
    for (unsigned i = 0; i < INDEX_NPAS; i++) {
        struct store_val v;
        int rc = registry_npa_get(t, gen, i + 200, &v);
        if ((rc && rc != BC_ENOTFOUND) || (!rc && v.len > UINT32_MAX)) {
            index_free(ix);
            return NULL;
        }
        ix->len[i] = rc ? 0 : (uint32_t)v.len;
        ix->slots[i] = UINT32_MAX;
        records += ix->len[i];
        ix->cap += rc ? 0 : 2 * NPA_SLOTS + ix->len[i];
    }
    if (records > REGISTRY_INDEX_MAX || ix->cap > UINT32_MAX ||
        !(ix->arena = huge_alloc(ix->cap))) {
        index_free(ix);
        return NULL;
    }
    return ix;
}

/* Puts exchange nxx of record v into its slot (and the arena): bytes written, or an error. */
static int put_exchange(struct registry_index *ix, uint8_t *slot, const struct store_val *v,
                        unsigned nxx)
{
    uint16_t lines[REGISTRY_DENSE];
    const uint8_t *bits;
    size_t n;
    int rc = registry_exchange_lines(v, nxx, &bits, lines, &n);
    if (rc < 0)
        return rc;
    uint16_t count = rc == 1 ? SLOT_BITMAP : (uint16_t)n;
    memcpy(slot, &count, 2);
    if (rc == 0 && n <= SLOT_INLINE) {
        memcpy(LINES_AT(slot), lines, 2 * n);
        return SLOT;
    }
    size_t bytes = rc == 1 ? REGISTRY_BITMAP_BYTES : 2 * n;
    size_t room = (bytes + SLOT - 1) / SLOT * SLOT;
    if (ix->used + room > ix->cap)
        return BC_ECORRUPT;
    memcpy(ix->arena + ix->used, rc == 1 ? (const void *)bits : (const void *)lines, bytes);
    uint32_t at = (uint32_t)ix->used;
    memcpy(OFFSET_AT(slot), &at, 4);
    for (size_t k = 1; rc == 0 && k * SEGMENT < n; k++)
        memcpy(FENCES_AT(slot) + (k - 1), &lines[k * SEGMENT], 2);
    ix->used += room;
    return (int)(SLOT + room);
}

/* Copies area codes until about REGISTRY_INDEX_SLICE bytes are written: 1 when the whole
 * generation is copied, 0 when more is left, BC_ECORRUPT when a record is not what the first
 * slice saw. */
static int index_slice(struct store_txn *t, struct registry_index *ix)
{
    size_t done = 0;
    while (ix->copied < INDEX_NPAS && done < REGISTRY_INDEX_SLICE) {
        unsigned i = ix->copied++;
        if (!ix->len[i])
            continue;
        struct store_val v;
        if (registry_npa_get(t, ix->generation, i + 200, &v) != 0 || v.len != ix->len[i] ||
            ix->used + NPA_SLOTS > ix->cap)
            return BC_ECORRUPT;
        ix->slots[i] = (uint32_t)ix->used;
        ix->used += NPA_SLOTS;
        for (unsigned nxx = 0; nxx < REGISTRY_NXX; nxx++) {
            int rc = put_exchange(ix, ix->arena + ix->slots[i] + (size_t)nxx * SLOT, &v, nxx);
            if (rc < 0)
                return rc;
            done += (size_t)rc;
        }
    }
    return ix->copied == INDEX_NPAS;
}

/* The store's slot, made on first use. Under shared_lock. */
static struct shared *shared_of(struct store *s)
{
    if (!s->shared) {
        s->shared = calloc(1, sizeof(struct shared));
        s->shared_free = shared_free;
    }
    return s->shared;
}

/* Makes ix the ready index, replacing an older one. Under shared_lock. */
static void publish(struct shared *sh, struct registry_index *ix)
{
    struct registry_index *old = sh->ready;
    if (old && old->refs)
        old->retired = 1;
    else
        index_free(old);
    sh->ready = ix;
}

/* Under shared_lock: the ready index of gen (held), or NULL with what to do: 1 copy a slice of
 * sh->copying (created first when NULL), 0 nothing (*later says whether to ask again). */
static struct registry_index *lookup(struct shared *sh, uint32_t gen, int *copy, int *later)
{
    *copy = *later = 0;
    if (sh->ready && sh->ready->generation == gen) {
        sh->ready->refs++;
        return sh->ready;
    }
    if ((sh->ready && sh->ready->generation > gen) || sh->failed_gen == gen)
        return NULL;
    if (sh->copying && sh->copying->generation < gen && !sh->slicing) {
        index_free(sh->copying); /* a registry that was replaced before it was whole */
        sh->copying = NULL;
    }
    if (sh->copying && sh->copying->generation != gen) {
        *later = sh->copying->generation < gen; /* dropped once its slice is done */
        return NULL;
    }
    *later = 1;
    *copy = !sh->slicing;
    sh->slicing |= *copy;
    return NULL;
}

struct registry_index *registry_index_get(struct store_txn *t, uint32_t gen, int *later)
{
    struct store *s = t->s;
    int copy = 0;
    *later = 0;
    uv_mutex_lock(&s->shared_lock);
    struct shared *sh = shared_of(s);
    struct registry_index *ix = sh ? lookup(sh, gen, &copy, later) : NULL;
    struct registry_index *work = copy ? sh->copying : NULL;
    uv_mutex_unlock(&s->shared_lock);
    if (!copy)
        return ix;
    /* A slice, outside the lock: other threads keep checking meanwhile. */
    int rc = work ? index_slice(t, work) : (work = index_start(t, gen)) ? 0 : BC_ENOMEM;
    uv_mutex_lock(&s->shared_lock);
    sh->slicing = 0;
    sh->copying = rc < 0 ? NULL : work;
    if (rc < 0) {
        index_free(work);
        sh->failed_gen = gen;
        *later = 0;
    } else if (rc == 1) {
        sh->copying = NULL;
        publish(sh, work);
        work->refs = 1;
        ix = work;
        *later = 0;
    }
    uv_mutex_unlock(&s->shared_lock);
    return ix;
}

void registry_index_put(struct store *s, struct registry_index *ix)
{
    if (!ix)
        return;
    uv_mutex_lock(&s->shared_lock);
    int last = --ix->refs == 0 && ix->retired;
    uv_mutex_unlock(&s->shared_lock);
    if (last)
        index_free(ix);
}

/* The slot of the ten digits' exchange, or NULL when its area code has no record. */
static const uint8_t *slot_of(const struct registry_index *ix, const char *d)
{
    unsigned npa = digits3(d);
    if (npa < 200 || ix->slots[npa - 200] == UINT32_MAX)
        return NULL;
    return ix->arena + ix->slots[npa - 200] + (size_t)digits3(d + 3) * SLOT;
}

void registry_index_prefetch(const struct registry_index *ix, const char *d)
{
    const uint8_t *slot = slot_of(ix, d);
    if (slot)
        __builtin_prefetch(slot);
}

/* 1 if line is among the n ascending lines at p. The search has no branch on the values (the
 * compiler selects with cmov): a mispredicted one would throw away the work the CPU does
 * meanwhile, the next lookup's memory reads included. */
static int lines_have(const uint16_t *p, size_t n, unsigned line)
{
    if (n == 0)
        return 0;
    while (n > 1) {
        size_t half = n / 2;
        p = p[half] <= line ? p + half : p;
        n -= half;
    }
    return *p == line;
}

int registry_index_has(const struct registry_index *ix, const char *d)
{
    const uint8_t *slot = slot_of(ix, d);
    if (!slot)
        return 0;
    unsigned line = digits3(d + 6) * 10 + (unsigned)(d[9] - '0');
    uint16_t n;
    uint32_t at;
    memcpy(&n, slot, 2);
    if (n <= SLOT_INLINE)
        return lines_have(LINES_AT(slot), n, line);
    memcpy(&at, OFFSET_AT(slot), 4);
    const uint8_t *far = ix->arena + at;
    if (n == SLOT_BITMAP)
        return far[line >> 3] >> (line & 7) & 1;
    /* The segment: how many fences are at or below the line. */
    size_t k = 0, segments = (n + SEGMENT - 1) / SEGMENT;
    const uint16_t *fences = FENCES_AT(slot);
    for (size_t i = 0; i + 1 < segments; i++)
        k += fences[i] <= line;
    size_t len = n - k * SEGMENT < SEGMENT ? n - k * SEGMENT : SEGMENT;
    return lines_have((const uint16_t *)far + k * SEGMENT, len, line);
}
