#include "policy/registry_index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "store/records.h"
#include "util/err.h"

#define INDEX_NPAS   800u /* area codes 200-999 */
#define INDEX_STRIDE (REGISTRY_NXX + 1)
#define INDEX_BYTES  ((size_t)INDEX_NPAS * INDEX_STRIDE * sizeof(uint32_t))
#define HUGE_PAGE    ((size_t)2 << 20)

struct registry_index {
    uint32_t generation;
    uint32_t refs; /* holders, under the store's shared_lock */
    int retired;   /* replaced by a newer generation: the last registry_index_put frees it */
    /* Every area code's exchange directory (INDEX_STRIDE offsets each, native byte order),
     * counted from the start of blocks: an area code without numbers has all its offsets equal
     * (empty blocks). */
    uint32_t *off;
    uint8_t *blocks; /* every area code's block area, one after the other */
    /* While it is copied: each area code's record length (its block area's, once copied: the
     * record's length is checked again in each slice) and where it goes in blocks. */
    uint32_t len[INDEX_NPAS];
    size_t at[INDEX_NPAS];
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

/* Area code npa's record in generation gen (what registry.c reads too; not called from there,
 * so that the index needs nothing above the store). */
static int npa_record(struct store_txn *t, uint32_t gen, unsigned npa, struct store_val *v)
{
    uint8_t k[REGISTRY_KEY_LEN];
    return store_get(t, DB_REGISTRY, k, registry_npa_key(k, gen, npa), v);
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
    if (ix) {
        free(ix->off);
        free(ix->blocks);
    }
    free(ix);
}

static void shared_free(void *p)
{
    struct shared *sh = p;
    index_free(sh->ready);
    index_free(sh->copying);
    free(sh);
}

/* The first slice: every area code's record length and place (a key lookup each, no copy),
 * and the memory. NULL when the generation cannot be copied. */
static struct registry_index *index_start(struct store_txn *t, uint32_t gen)
{
    struct registry_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NULL;
    ix->generation = gen;
    size_t total = 0;
    for (unsigned i = 0; i < INDEX_NPAS; i++) {
        struct store_val v;
        int rc = npa_record(t, gen, i + 200, &v);
        if ((rc && rc != BC_ENOTFOUND) || (!rc && v.len > UINT32_MAX)) {
            index_free(ix);
            return NULL;
        }
        ix->len[i] = rc ? 0 : (uint32_t)v.len;
        ix->at[i] = total;
        size_t blen;
        if (!rc)
            registry_npa_blocks(&v, &blen);
        total += rc ? 0 : blen;
    }
    if (total > REGISTRY_INDEX_MAX || !(ix->off = huge_alloc(INDEX_BYTES)) ||
        !(ix->blocks = huge_alloc(total))) {
        index_free(ix);
        return NULL;
    }
    return ix;
}

/* Copies area codes until about REGISTRY_INDEX_SLICE bytes are done: 1 when the whole
 * generation is copied, 0 when more is left, BC_ECORRUPT when a record is not what the first
 * slice saw. */
static int index_slice(struct store_txn *t, struct registry_index *ix)
{
    size_t done = 0;
    while (ix->copied < INDEX_NPAS && done < REGISTRY_INDEX_SLICE) {
        unsigned i = ix->copied++;
        uint32_t *o = ix->off + (size_t)i * INDEX_STRIDE;
        size_t base = ix->at[i], len;
        if (!ix->len[i]) {
            for (unsigned x = 0; x < INDEX_STRIDE; x++)
                o[x] = (uint32_t)base;
            continue;
        }
        struct store_val v;
        if (npa_record(t, ix->generation, i + 200, &v) != 0 || v.len != ix->len[i] ||
            registry_npa_directory(&v, o) != 0)
            return BC_ECORRUPT;
        const uint8_t *blk = registry_npa_blocks(&v, &len);
        memcpy(ix->blocks + base, blk, len);
        for (unsigned x = 0; x < INDEX_STRIDE; x++)
            o[x] += (uint32_t)base;
        done += len + INDEX_STRIDE * sizeof *o;
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

void registry_index_prefetch(const struct registry_index *ix, const char *d)
{
    unsigned npa = digits3(d);
    if (npa < 200)
        return;
    /* The directory entry is read now (it is usually in the CPU's cache: 3.2 MB for every
     * exchange), so the block's read can start at once. */
    const uint32_t *o = ix->off + (size_t)(npa - 200) * INDEX_STRIDE + digits3(d + 3);
    __builtin_prefetch(ix->blocks + o[0]);
}

int registry_index_has(const struct registry_index *ix, const char *d)
{
    unsigned npa = digits3(d);
    if (npa < 200)
        return 0;
    const uint32_t *o = ix->off + (size_t)(npa - 200) * INDEX_STRIDE + digits3(d + 3);
    return registry_block_has(ix->blocks, o[0], o[1], digits3(d + 6) * 10 + (unsigned)(d[9] - '0'));
}
