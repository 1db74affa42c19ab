/*
 * mem.c - the in-memory backend: DynamoDB's semantics without DynamoDB.
 *
 * DESIGN
 * A registry (rwlock, writer-preferring) maps table names to tables. Each
 * table is split into 2^k shards, each with its own mutex and its own ordered
 * index of entries. An entry is one stored item: a single block holding views
 * of its key attributes (and their bytes) followed by the item in
 * dx_value_pack's compact form (canonical numbers, members sorted), plus the
 * hash of its partition key and its size. Reading an item unpacks it: into
 * the call's arena for results, as views into the block (under the lock) for
 * conditions, updates and filters. Packed, an item of ten short attributes
 * takes about 230 bytes instead of 500 flattened, which halves the memory a
 * bulk load touches and so its page faults.
 *
 * Blocks. Each shard carves its blocks out of 64 KB slabs, by 16-byte size
 * class with a free list per class (blocks over SLAB_MAX are malloc'd on
 * their own), all under the shard lock: a put costs no malloc, and dropping a
 * table frees slabs, not a million blocks. Freed blocks are reused by later
 * items of their class; a shard's slabs go back only when it holds no items
 * (or with its table). Under ASan, free blocks are poisoned.
 *
 * Order. Entries are ordered by (h, partition key, sort key), h being a
 * 64-bit hash of the partition key's type and canonical bytes. Shard i holds
 * the i-th slice of the hash space (the top k bits of h), so the whole table
 * is in one global order: shard by shard, then by the index within a shard.
 * That order gives everything the reads need:
 *   - a partition's items are contiguous and sorted by sort key (Query,
 *     forward and backward, binary search to the first item);
 *   - a Scan resumes after any ExclusiveStartKey by binary search, whatever
 *     was written meanwhile, so paging never skips or repeats an item that
 *     stayed in the table;
 *   - Segment s of T is the slice [s * 2^64 / T, (s + 1) * 2^64 / T) of h:
 *     every item is in exactly one segment, a partition in one segment.
 * The index of a shard is a sorted array of chunks of at most CHUNK_CAP
 * entries (a two-level B-tree): insert and delete move at most one chunk's
 * entries and one array of chunk pointers, so a partition of millions of
 * items inserted in random order stays cheap. A parallel array of each
 * chunk's last h keeps the outer binary search in cache.
 *
 * Lazy order. Binary search per put is a handful of cache misses, and most
 * puts of a bulk load are of new keys. So each shard also keeps a set of the
 * hashes of its whole keys (partition + sort key), and a put whose key the
 * set does not know goes, unsorted, to the shard's pending list: one probe,
 * one append. Anything that needs the order or might find the key (a key the
 * set knows, as hashes collide; Query, Scan, dump) first settles the shard:
 * the pending entries are radix-sorted by h and merged into the chunks, in
 * one pass when they are many, one by one when few. A key is in the chunks
 * or in the pending list, never both; a Get or Delete of an unknown key
 * answers without any search.
 *
 * Writes. A request is validated completely (DynamoDB's checks and messages,
 * dynalite 4.0.0 as the reference) before the shard lock is taken; the same
 * walk measures the item's size and packed length. The condition check, the
 * update and the write happen under the shard lock, so conditional writes to
 * one key are atomic. The item is packed into its block under the lock; the
 * old block goes back to the shard before the lock is released, so results
 * that need the old item are copied into the call's arena first.
 *
 * Engines. Each backend engine (one per dx_engine, so one thread at a time)
 * keeps a scratch arena for expression trees and unpacked views, the
 * attribute order of the last item it packed (dx_pack_hint), and a small
 * cache of table pointers, each holding a reference. The registry has a
 * generation counter, bumped by every create and delete; a cached pointer is
 * used only while the generation is unchanged, so the hot path takes no
 * shared lock and writes no shared cache line. Tables are reference-counted
 * and freed by the last user.
 *
 * Capacity. Consumed capacity follows dynalite: writes ceil(size / 1 KB) of
 * the larger of the old and new item (1 for an absent item), reads
 * ceil(size / 4 KB) halved when eventually consistent, batches the sum,
 * Query/Scan ceil(total bytes read / 4 KB). With simulate_capacity, a table
 * created with provisioned units gets a token bucket per direction; an
 * estimate is paid before the work (or the request is throttled, or for
 * batches the unpaid tail is returned unprocessed) and corrected after. Every
 * table, provisioned or not, also gets DynamoDB's per-partition limits (1000
 * write and 3000 read units a second per partition key): a hot key is
 * throttled with ThrottlingReasons' TableWriteKeyRangeThroughputExceeded /
 * TableReadKeyRangeThroughputExceeded in dx_result.reason, and in batches
 * its entries are handed back unprocessed.
 *
 * Must never: hold a shard lock while calling back into the engine or doing
 * I/O, hold two shard locks at once, return an item that a concurrent writer
 * can change (results are copies in the call's arena), touch a block after
 * giving it back, or store a value it has not validated.
 */
#include "dynox/mem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend_internal.h"
#include "dynox/codec.h"
#include "dynox/expr.h"
#include "dynox/size.h"

#define CHUNK_CAP 64
#define DEFAULT_SHARDS 64
#define MAX_SHARD_BITS 16
#define PAGE_BYTES (1024u * 1024u)
#define BATCH_GET_BYTES (1024u * 1024u + DX_MAX_ITEM_SIZE - 3u)
#define MAX_HASH_KEY 2048
#define MAX_RANGE_KEY 1024
#define MAX_BATCH_WRITE 25
#define MAX_BATCH_GET 100
#define MAX_SEGMENTS 1000000
#define BE_CACHE 4
#define PACK_KEEP (1024u * 1024u) /* an engine keeps a packing buffer up to this size */

static const char MSG_INVALID[] = "One or more parameter values were invalid: ";
static const char MSG_SCHEMA[] = "The provided key element does not match the schema";
static const char MSG_THROUGHPUT[] =
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API.";

/* ---------------------------------------------------------------- types */

typedef struct ent {
    uint64_t h;           /* hash of the partition key */
    void *item;           /* the block (blk_alloc): key views, then the packed item */
    const dx_value *pk;   /* key attributes, views at the start of the block */
    const dx_value *rk;   /* NULL when the table has no sort key */
    uint32_t size;        /* dx_item_size of the item (at most DX_MAX_ITEM_SIZE) */
    uint32_t cls;         /* the block's size class; 0: malloc'd on its own */
} ent;

/* h[] repeats e[].h so that searching a chunk reads 512 contiguous bytes,
 * not one cache line per probe. */
typedef struct chunk {
    uint32_t n;
    uint64_t h[CHUNK_CAP];
    ent e[CHUNK_CAP];
} chunk;

typedef struct shard {
    _Alignas(64) pthread_mutex_t mu;
    chunk **c;      /* sorted chunks */
    uint64_t *maxh; /* h of the last entry of each chunk */
    uint32_t nc, capc;
    uint64_t count, bytes; /* pending entries included */
    /* Entries not in the chunks yet, in arrival order (see "Lazy order"). */
    ent *pend;
    uint32_t npend, cappend;
    /* Whole-key hashes of every entry, a multiset (open addressing, 0 = empty). */
    uint64_t *kset;
    uint32_t kcap, kn;
    /* kset and kcap again, readable without the lock, only to prefetch a slot. */
    _Atomic(uint64_t *) kset_pub;
    atomic_uint kcap_pub;
    /* Item blocks: size-class free lists over slabs, malloc past SLAB_MAX. */
    void **freel;           /* NCLASS heads, allocated on first use */
    char *bump, *bump_end;  /* the unused tail of the newest slab */
    void *slabs;            /* every slab, linked through its first word */
    uint32_t nbig;          /* blocks malloc'd on their own */
    /* Simulated per-partition capacity: token buckets by partition hash (see pbucket). */
    struct pbucket *pb;
    uint32_t pbcap, pbn;
} shard;

/* One partition key's simulated capacity (DynamoDB's per-partition limits). */
typedef struct pbucket {
    uint64_t h; /* the partition's hash (never 0 here); 0 = empty slot */
    double wtok, rtok;
    uint64_t last_ns;
} pbucket;

typedef struct cap_bucket {
    pthread_mutex_t mu;
    bool on;
    double rate, burst, tokens;
    uint64_t last_ns;
} cap_bucket;

typedef struct mtable {
    atomic_int refs;
    char *name;
    char *hash_name, *range_name;
    uint32_t hash_len, range_len;
    uint32_t nkeys; /* key attributes: 1 or 2 */
    dx_type hash_type, range_type;
    double rcu, wcu;
    uint32_t bits;
    uint32_t nshards;
    shard *shards;
    cap_bucket rb, wb;
    bool plimit;           /* simulate the per-partition limits */
    uint64_t pburst_ns;    /* a partition bucket idle this long is full again */
} mtable;

typedef struct mem_impl {
    dx_mem_opts opts;
    pthread_rwlock_t lock;
    mtable **tables;
    size_t ntables, cap;
    atomic_uint_fast64_t gen;
} mem_impl;

typedef struct mem_be {
    mem_impl *impl;
    dx_arena scratch;
    dx_pack_hint hint; /* the attribute order of the last item this engine stored */
    dx_buf pack;       /* items of the current request, packed before the lock is taken */
    struct {
        mtable *t;
        uint64_t gen;
    } cache[BE_CACHE];
    unsigned next;
} mem_be;

/* A position to search for: partition (h, pk) and sort key rk. A missing pk
 * or rk stands for minus (inf < 0) or plus (inf > 0) infinity. */
typedef struct kref {
    uint64_t h;
    const dx_value *pk, *rk;
    int inf;
} kref;

/* A key taken from a request, its numbers canonicalised. Not copyable: k
 * points into it. */
typedef struct keyref {
    kref k;
    uint64_t kh; /* whole_hash of the key: the shard's key set */
    dx_value pk, rk;
    char pkbuf[DX_NUM_TEXT_MAX], rkbuf[DX_NUM_TEXT_MAX];
} keyref;

typedef struct pos {
    uint32_t c, i;
} pos;

#define TRY(x)                                                                                     \
    do {                                                                                           \
        dx_err e_ = (x);                                                                           \
        if (e_ != DX_OK) return e_;                                                                \
    } while (0)

/* ---------------------------------------------------------------- errors */

static dx_err vfail(dx_result *r, const char *fmt, ...) DX_PRINTF(2, 3);
static dx_err vfail(dx_result *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dx_err e = dx_vfail(r, DX_ERR_VALIDATION, NULL, fmt, ap);
    va_end(ap);
    return e;
}

static dx_err nomem(dx_result *r) {
    return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory in the memory backend");
}

static dx_err not_found(dx_result *r, const char *table, bool describe) {
    if (describe)
        return dx_fail(r, DX_ERR_RESOURCE_NOT_FOUND, NULL,
                       "Requested resource not found: Table: %s not found", table);
    return dx_fail(r, DX_ERR_RESOURCE_NOT_FOUND, NULL, "Requested resource not found");
}

static dx_err throttled(dx_result *r) {
    return dx_fail(r, DX_ERR_THROUGHPUT, NULL, "%s", MSG_THROUGHPUT);
}

/* A partition key over DynamoDB's per-partition limit (a hot key). */
static dx_err key_throttled(dx_result *r, bool write) {
    dx_err e = dx_fail(r, DX_ERR_THROUGHPUT, NULL,
                       "Throughput exceeds the current throughput limit for your key range: one "
                       "partition key takes at most %s per second; spread the requests over more "
                       "partition keys",
                       write ? "1000 write capacity units" : "3000 read capacity units");
    if (r)
        snprintf(r->reason, sizeof r->reason, "%s",
                 write ? "TableWriteKeyRangeThroughputExceeded" : "TableReadKeyRangeThroughputExceeded");
    return e;
}

/* Gives DynamoDB's kinds of error their type name and HTTP status. */
static void decorate(dx_result *r) {
    switch (r->err) {
    case DX_ERR_VALIDATION:
    case DX_ERR_RESOURCE_NOT_FOUND:
    case DX_ERR_THROUGHPUT:
    case DX_ERR_CONDITIONAL:
    case DX_ERR_RESOURCE_IN_USE:
        if (!r->type[0]) snprintf(r->type, sizeof r->type, "%s", dx_err_name(r->err));
        r->http_status = 400;
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- keys and order */

static int bytes_cmp(const char *a, size_t na, const char *b, size_t nb) {
    size_t m = na < nb ? na : nb;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c < 0 ? -1 : 1;
    return (na > nb) - (na < nb);
}

/*
 * Numeric order of two numbers in canonical text (no exponent, no leading or
 * trailing zeros): for equal signs, a longer integer part is larger, and with
 * equal integer parts the text orders like the number.
 */
static int num_canon_cmp(const char *a, size_t na, const char *b, size_t nb) {
    bool an = na && a[0] == '-', bn = nb && b[0] == '-';
    if (an != bn) return an ? -1 : 1;
    int sign = an ? -1 : 1;
    if (an) {
        a++, na--;
        b++, nb--;
    }
    const char *da = memchr(a, '.', na), *db = memchr(b, '.', nb);
    size_t ia = da ? (size_t)(da - a) : na, ib = db ? (size_t)(db - b) : nb;
    if (ia != ib) return ia < ib ? -sign : sign;
    return sign * bytes_cmp(a, na, b, nb);
}

/* Order of two key values of the same scalar type (N canonical). */
static int scalar_cmp(const dx_value *a, const dx_value *b) {
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    if (a->type == DX_T_N) return num_canon_cmp(a->u.s, a->n, b->u.s, b->n);
    return bytes_cmp(a->u.s, a->n, b->u.s, b->n);
}

static uint64_t key_hash(const dx_value *pk) { return dx_hash64(pk->u.s, pk->n, pk->type); }

/* Hash of a whole key (partition hash h, canonical sort key rk or NULL); never 0. */
static uint64_t whole_hash(uint64_t h, const dx_value *rk) {
    uint64_t x = rk ? dx_hash64(rk->u.s, rk->n, h ^ rk->type) : h;
    return x ? x : 1;
}

static int kref_cmp(const kref *k, const ent *e) {
    if (k->h != e->h) return k->h < e->h ? -1 : 1;
    if (!k->pk) return k->inf;
    int c = scalar_cmp(k->pk, e->pk);
    if (c) return c;
    /* No sort key in k: an exact key of a table without one (inf 0), or
     * the start / end of the partition. */
    if (!k->rk) return k->inf;
    if (!e->rk) return 0;
    return scalar_cmp(k->rk, e->rk);
}

static kref ent_kref(const ent *e) {
    kref k = {e->h, e->pk, e->rk, 0};
    return k;
}

static bool kref_eq(const kref *a, const kref *b) {
    if (a->h != b->h || scalar_cmp(a->pk, b->pk) != 0) return false;
    if (!a->rk || !b->rk) return a->rk == b->rk;
    return scalar_cmp(a->rk, b->rk) == 0;
}

/* A view of v with a number rewritten to its canonical text in buf. */
static void canon_scalar(const dx_value *v, dx_value *out, char *buf) {
    *out = *v;
    if (v->type != DX_T_N) return;
    dx_num x;
    if (dx_num_parse(v->u.s, v->n, &x, NULL) != DX_OK) return;
    out->n = (uint32_t)dx_num_format(&x, buf);
    out->u.s = buf;
}

/* kr for the key attributes of map m (validated: they are there). */
static void keyref_init(const mtable *t, const dx_value *m, keyref *kr) {
    canon_scalar(dx_map_getn(m, t->hash_name, t->hash_len), &kr->pk, kr->pkbuf);
    kr->k.pk = &kr->pk;
    kr->k.rk = NULL;
    if (t->range_name) {
        canon_scalar(dx_map_getn(m, t->range_name, t->range_len), &kr->rk, kr->rkbuf);
        kr->k.rk = &kr->rk;
    }
    kr->k.h = key_hash(&kr->pk);
    kr->k.inf = 0;
    kr->kh = whole_hash(kr->k.h, kr->k.rk);
}

/* ---------------------------------------------------------------- the ordered index */

static uint32_t shard_index(const mtable *t, uint64_t h) {
    return t->bits ? (uint32_t)(h >> (64 - t->bits)) : 0;
}

static shard *shard_of(const mtable *t, uint64_t h) { return &t->shards[shard_index(t, h)]; }

static ent *at(const shard *s, pos p) { return &s->c[p.c]->e[p.i]; }

static bool pos_valid(const shard *s, pos p) { return p.c < s->nc; }

/* True when entry e is at or after the bound: e >= k, or e > k when strict. */
static bool past(const kref *k, const ent *e, bool strict) {
    int r = kref_cmp(k, e);
    return strict ? r < 0 : r <= 0;
}

/* The first entry at or after the bound; {nc, 0} when there is none. */
static pos bound(const shard *s, const kref *k, bool strict) {
    uint32_t lo = 0, hi = s->nc;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        bool ok;
        if (k->h != s->maxh[mid]) {
            ok = k->h < s->maxh[mid];
        } else {
            const chunk *c = s->c[mid];
            ok = past(k, &c->e[c->n - 1], strict);
        }
        if (ok) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    pos p = {lo, 0};
    if (lo == s->nc) return p;
    const chunk *c = s->c[lo];
    /* Entries with a smaller h are before the bound, with a larger h past
     * it; only those with an equal h need the full comparison. */
    uint32_t a = 0, b = c->n;
    while (a < b) {
        uint32_t mid = a + (b - a) / 2;
        if (c->h[mid] < k->h) {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    uint32_t z = a;
    b = c->n;
    while (z < b) {
        uint32_t mid = z + (b - z) / 2;
        if (c->h[mid] <= k->h) {
            z = mid + 1;
        } else {
            b = mid;
        }
    }
    while (a < z) { /* [a, z): equal h; the last entry of the chunk qualifies */
        uint32_t mid = a + (z - a) / 2;
        if (past(k, &c->e[mid], strict)) {
            z = mid;
        } else {
            a = mid + 1;
        }
    }
    p.i = a;
    return p;
}

static void pos_next(const shard *s, pos *p) {
    if (++p->i >= s->c[p->c]->n) {
        p->c++;
        p->i = 0;
    }
}

/* Moves to the previous entry; false when there is none. p may be the end. */
static bool pos_prev(const shard *s, pos *p) {
    if (p->c >= s->nc) {
        if (!s->nc) return false;
        p->c = s->nc - 1;
        p->i = s->c[p->c]->n - 1;
        return true;
    }
    if (p->i > 0) {
        p->i--;
        return true;
    }
    if (p->c == 0) return false;
    p->c--;
    p->i = s->c[p->c]->n - 1;
    return true;
}

static bool reserve_chunks(shard *s) {
    if (s->nc < s->capc) return true;
    uint32_t cap = s->capc ? s->capc * 2 : 4;
    chunk **c = realloc(s->c, cap * sizeof *c);
    if (!c) return false;
    s->c = c;
    uint64_t *m = realloc(s->maxh, cap * sizeof *m);
    if (!m) return false;
    s->maxh = m;
    s->capc = cap;
    return true;
}

static void chunk_array_insert(shard *s, uint32_t at_c, chunk *c) {
    memmove(s->c + at_c + 1, s->c + at_c, (s->nc - at_c) * sizeof *s->c);
    memmove(s->maxh + at_c + 1, s->maxh + at_c, (s->nc - at_c) * sizeof *s->maxh);
    s->c[at_c] = c;
    s->maxh[at_c] = c->n ? c->e[c->n - 1].h : 0;
    s->nc++;
}

static void chunk_array_remove(shard *s, uint32_t at_c) {
    memmove(s->c + at_c, s->c + at_c + 1, (s->nc - at_c - 1) * sizeof *s->c);
    memmove(s->maxh + at_c, s->maxh + at_c + 1, (s->nc - at_c - 1) * sizeof *s->maxh);
    s->nc--;
}

/* Inserts e at p (as returned by bound for e's key). false on out of memory. */
static bool index_insert(shard *s, pos p, const ent *e) {
    if (!reserve_chunks(s)) return false;
    if (s->nc == 0) {
        chunk *c = malloc(sizeof *c);
        if (!c) return false;
        c->n = 0;
        chunk_array_insert(s, 0, c);
        p.c = 0;
        p.i = 0;
    } else if (p.c == s->nc) {
        p.c = s->nc - 1;
        p.i = s->c[p.c]->n;
    }
    chunk *c = s->c[p.c];
    if (c->n == CHUNK_CAP) {
        chunk *nc = malloc(sizeof *nc);
        if (!nc) return false;
        if (p.c == s->nc - 1 && p.i == CHUNK_CAP) {
            /* Appending at the very end (ascending keys): start a new chunk
             * rather than leave two half-full ones behind. */
            nc->n = 0;
            chunk_array_insert(s, p.c + 1, nc);
            p.c++;
            p.i = 0;
            c = nc;
        } else {
            uint32_t half = CHUNK_CAP / 2;
            nc->n = CHUNK_CAP - half;
            memcpy(nc->e, c->e + half, nc->n * sizeof *c->e);
            memcpy(nc->h, c->h + half, nc->n * sizeof *c->h);
            c->n = half;
            s->maxh[p.c] = c->e[half - 1].h;
            chunk_array_insert(s, p.c + 1, nc);
            if (p.i > half) {
                p.c++;
                p.i -= half;
                c = nc;
            }
        }
    }
    memmove(c->e + p.i + 1, c->e + p.i, (c->n - p.i) * sizeof *c->e);
    memmove(c->h + p.i + 1, c->h + p.i, (c->n - p.i) * sizeof *c->h);
    c->e[p.i] = *e;
    c->h[p.i] = e->h;
    c->n++;
    s->maxh[p.c] = c->e[c->n - 1].h;
    return true;
}

/* Removes the entry at p (the caller keeps what it pointed to). */
static void index_remove(shard *s, pos p) {
    chunk *c = s->c[p.c];
    memmove(c->e + p.i, c->e + p.i + 1, (c->n - p.i - 1) * sizeof *c->e);
    memmove(c->h + p.i, c->h + p.i + 1, (c->n - p.i - 1) * sizeof *c->h);
    c->n--;
    if (c->n == 0) {
        free(c);
        chunk_array_remove(s, p.c);
        return;
    }
    s->maxh[p.c] = c->e[c->n - 1].h;
    if (p.c + 1 < s->nc && c->n + s->c[p.c + 1]->n <= CHUNK_CAP / 2) {
        chunk *next = s->c[p.c + 1];
        memcpy(c->e + c->n, next->e, next->n * sizeof *c->e);
        memcpy(c->h + c->n, next->h, next->n * sizeof *c->h);
        c->n += next->n;
        s->maxh[p.c] = c->e[c->n - 1].h;
        free(next);
        chunk_array_remove(s, p.c + 1);
    }
}

/* The entry with exactly key k, or NULL; *p is where it is or would go. */
static ent *index_find(const shard *s, const kref *k, pos *p) {
    *p = bound(s, k, false);
    if (!pos_valid(s, *p)) return NULL;
    ent *e = at(s, *p);
    return kref_cmp(k, e) == 0 ? e : NULL;
}

/* ---------------------------------------------------------------- the key set */

/* Slot of k in a table of cap (a power of two) slots. */
static uint32_t kslot(uint64_t k, uint32_t cap) { return (uint32_t)(k ^ (k >> 32)) & (cap - 1); }

/* Does the shard hold a key whose whole_hash is k? (Maybe: hashes collide.) */
static bool kset_has(const shard *s, uint64_t k) {
    if (!s->kn) return false;
    uint32_t mask = s->kcap - 1;
    for (uint32_t i = kslot(k, s->kcap); s->kset[i]; i = (i + 1) & mask)
        if (s->kset[i] == k) return true;
    return false;
}

static void kset_place(uint64_t *set, uint32_t cap, uint64_t k) {
    uint32_t i = kslot(k, cap);
    while (set[i]) i = (i + 1) & (cap - 1);
    set[i] = k;
}

/* Adds k (a multiset: equal hashes of different keys take a slot each). false on out of memory. */
static bool kset_add(shard *s, uint64_t k) {
    if ((uint64_t)(s->kn + 1) * 10 > (uint64_t)s->kcap * 7) {
        if (s->kcap >= (1u << 31)) return false;
        uint32_t cap = s->kcap ? s->kcap * 2 : 64;
        uint64_t *set = calloc(cap, sizeof *set);
        if (!set) return false;
        for (uint32_t i = 0; i < s->kcap; i++)
            if (s->kset[i]) kset_place(set, cap, s->kset[i]);
        free(s->kset);
        s->kset = set;
        s->kcap = cap;
        atomic_store_explicit(&s->kset_pub, set, memory_order_relaxed);
        atomic_store_explicit(&s->kcap_pub, cap, memory_order_relaxed);
    }
    kset_place(s->kset, s->kcap, k);
    s->kn++;
    return true;
}

/*
 * Starts loading the slot for k before the shard is locked, so that several
 * lookups (a batch) wait for memory together. The pointer may be stale (the
 * set was just resized): a prefetch of it is harmless, never a read.
 */
static void kset_prefetch(shard *s, uint64_t k) {
    uint64_t *set = atomic_load_explicit(&s->kset_pub, memory_order_relaxed);
    uint32_t cap = atomic_load_explicit(&s->kcap_pub, memory_order_relaxed);
    if (set && cap) __builtin_prefetch(&set[kslot(k, cap)]);
}

/* Removes one k (which is there), shifting later slots of its run back. */
static void kset_del(shard *s, uint64_t k) {
    uint32_t mask = s->kcap - 1, i = kslot(k, s->kcap);
    while (s->kset[i] != k) {
        if (!s->kset[i]) return; /* not there: nothing to do */
        i = (i + 1) & mask;
    }
    for (uint32_t j = (i + 1) & mask; s->kset[j]; j = (j + 1) & mask) {
        uint32_t home = kslot(s->kset[j], s->kcap);
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            s->kset[i] = s->kset[j];
            i = j;
        }
    }
    s->kset[i] = 0;
    s->kn--;
}

/* ---------------------------------------------------------------- item blocks */

#define SLAB_BYTES (64u * 1024u)
#define SLAB_HEAD 16u                    /* the link to the next slab, kept aligned */
#define SLAB_GRAIN 16u
#define SLAB_MAX 2048u                   /* larger blocks are malloc'd on their own */
#define NCLASS (SLAB_MAX / SLAB_GRAIN + 1)

/* Under ASan the allocator poisons what is free, so a use after free still shows. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* A block of `bytes` for an item of shard s (locked), aligned for a dx_value; NULL when out of memory. */
static void *blk_alloc(shard *s, size_t bytes, uint32_t *cls) {
    if (bytes > SLAB_MAX) {
        void *p = malloc(bytes);
        if (p) {
            *cls = 0;
            s->nbig++;
        }
        return p;
    }
    uint32_t c = (uint32_t)((bytes + SLAB_GRAIN - 1) / SLAB_GRAIN);
    if (c == 0) c = 1;
    if (!s->freel && !(s->freel = calloc(NCLASS, sizeof *s->freel))) return NULL;
    size_t need = (size_t)c * SLAB_GRAIN;
    void *p = s->freel[c];
    if (p) {
        UNPOISON(p, sizeof(void *));
        memcpy(&s->freel[c], p, sizeof(void *));
        UNPOISON(p, need);
        *cls = c;
        return p;
    }
    if ((size_t)(s->bump_end - s->bump) < need) {
        char *slab = malloc(SLAB_BYTES);
        if (!slab) return NULL;
        memcpy(slab, &s->slabs, sizeof(void *));
        s->slabs = slab;
        s->bump = slab + SLAB_HEAD;
        s->bump_end = slab + SLAB_BYTES;
        POISON(s->bump, SLAB_BYTES - SLAB_HEAD);
    }
    p = s->bump;
    s->bump += need;
    UNPOISON(p, need);
    *cls = c;
    return p;
}

/* Gives a block back to shard s (locked). */
static void blk_free(shard *s, void *p, uint32_t cls) {
    if (!p) return;
    if (cls == 0) {
        free(p);
        s->nbig--;
        return;
    }
    memcpy(p, &s->freel[cls], sizeof(void *));
    s->freel[cls] = p;
    POISON(p, (size_t)cls * SLAB_GRAIN);
}

/* Frees every slab of shard s, whose entries are all gone or being dropped. */
static void slabs_release(shard *s) {
    void *slab = s->slabs;
    while (slab) {
        void *next;
        UNPOISON(slab, SLAB_BYTES);
        memcpy(&next, slab, sizeof next);
        free(slab);
        slab = next;
    }
    s->slabs = NULL;
    s->bump = s->bump_end = NULL;
    free(s->freel);
    s->freel = NULL;
}

/* ---------------------------------------------------------------- lazy order */

/* Total order of entries: kref_cmp of a's key against b. */
static int ent_cmp(const ent *a, const ent *b) {
    kref k = {a->h, a->pk, a->rk, 0};
    return kref_cmp(&k, b);
}

static int ent_qcmp(const void *a, const void *b) { return ent_cmp(a, b); }

/* Sorts n entries by (h, pk, rk): LSD radix on h (skipping bytes all share),
 * then runs of equal h by key. tmp holds n entries. */
static void ents_sort(ent *v, ent *tmp, uint32_t n) {
    ent *src = v, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        uint32_t cnt[256] = {0};
        for (uint32_t i = 0; i < n; i++) cnt[(src[i].h >> shift) & 0xff]++;
        if (cnt[(src[0].h >> shift) & 0xff] == n) continue; /* one digit: nothing moves */
        uint32_t sum = 0;
        for (unsigned d = 0; d < 256; d++) {
            uint32_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) dst[cnt[(src[i].h >> shift) & 0xff]++] = src[i];
        ent *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) memcpy(v, src, (size_t)n * sizeof *v);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && v[j].h == v[i].h) j++;
        if (j - i > 1) qsort(v + i, j - i, sizeof *v, ent_qcmp);
        i = j;
    }
}

/* Builds the chunks anew from the sorted chunks and the sorted pending entries. */
static bool rebuild(shard *s) {
    uint64_t total = s->count;
    uint32_t cap = (uint32_t)((total + CHUNK_CAP - 1) / CHUNK_CAP);
    if (cap < 4) cap = 4;
    chunk **nc = malloc(cap * sizeof *nc);
    uint64_t *nmax = malloc(cap * sizeof *nmax);
    if (!nc || !nmax) {
        free(nc);
        free(nmax);
        return false;
    }
    uint32_t n = 0, ci = 0, i = 0, j = 0;
    chunk *out = NULL;
    for (;;) {
        const ent *e;
        bool have_old = ci < s->nc, have_new = j < s->npend;
        if (!have_old && !have_new) break;
        if (have_old && (!have_new || ent_cmp(&s->c[ci]->e[i], &s->pend[j]) < 0)) {
            e = &s->c[ci]->e[i];
            if (++i == s->c[ci]->n) {
                ci++;
                i = 0;
            }
        } else {
            e = &s->pend[j++];
        }
        if (!out || out->n == CHUNK_CAP) {
            if (!(out = malloc(sizeof *out))) {
                for (uint32_t k = 0; k < n; k++) free(nc[k]);
                free(nc);
                free(nmax);
                return false;
            }
            out->n = 0;
            nc[n++] = out;
        }
        out->e[out->n] = *e;
        out->h[out->n] = e->h;
        out->n++;
    }
    for (uint32_t k = 0; k < n; k++) nmax[k] = nc[k]->e[nc[k]->n - 1].h;
    for (uint32_t k = 0; k < s->nc; k++) free(s->c[k]);
    free(s->c);
    free(s->maxh);
    s->c = nc;
    s->maxh = nmax;
    s->nc = n;
    s->capc = cap;
    s->npend = 0;
    return true;
}

/*
 * Moves the pending entries of shard s (locked) into the chunks, so that the
 * chunks hold the whole shard in order. Few of them go in one by one; many
 * (relative to the shard) are sorted and merged in one pass. false on out of
 * memory, with the entries not moved still pending.
 */
static bool settle(shard *s) {
    if (!s->npend) return true;
    ent *tmp = malloc((size_t)s->npend * sizeof *tmp);
    if (!tmp) return false;
    ents_sort(s->pend, tmp, s->npend);
    free(tmp);
    uint64_t settled = s->count - s->npend;
    if (s->nc == 0 || s->npend >= settled / 16) return rebuild(s);
    for (uint32_t i = 0; i < s->npend; i++) {
        kref k = ent_kref(&s->pend[i]);
        if (!index_insert(s, bound(s, &k, false), &s->pend[i])) {
            memmove(s->pend, s->pend + i, (size_t)(s->npend - i) * sizeof *s->pend);
            s->npend -= i;
            return false;
        }
    }
    s->npend = 0;
    return true;
}

static bool pend_push(shard *s, const ent *e) {
    if (s->npend == s->cappend) {
        if (s->cappend >= (1u << 30)) return false;
        uint32_t cap = s->cappend ? s->cappend * 2 : 64;
        ent *v = realloc(s->pend, cap * sizeof *v);
        if (!v) return false;
        s->pend = v;
        s->cappend = cap;
    }
    s->pend[s->npend++] = *e;
    return true;
}

/* Where a key is in a shard (shard_find). */
typedef struct where {
    ent *cur;  /* the entry with the key, or NULL */
    pos p;     /* where the key goes when absent (unless lazy) */
    bool lazy; /* certainly absent: a new entry may go to the pending list */
} where;

/*
 * Looks key kr up in shard s (locked). A key the key set does not know is
 * absent without any search; otherwise the pending entries are settled and
 * the chunks searched. false on out of memory.
 */
static bool shard_find(shard *s, const keyref *kr, where *w) {
    w->cur = NULL;
    w->lazy = !kset_has(s, kr->kh);
    if (w->lazy) return true;
    if (!settle(s)) return false;
    w->cur = index_find(s, &kr->k, &w->p);
    return true;
}

/*
 * Stores e in shard s (locked) where shard_find put key kr, replacing w->cur
 * when the key is there (the replaced entry goes to *old: the caller gives its
 * block back with blk_free, still under the lock). Keeps count, bytes and the
 * key set right. false on out of memory (nothing changed).
 */
static bool shard_store(shard *s, const keyref *kr, const where *w, const ent *e, ent *old) {
    if (w->cur) {
        *old = *w->cur;
        *w->cur = *e;
        s->bytes -= old->size;
        s->bytes += e->size;
        return true;
    }
    if (!kset_add(s, kr->kh)) return false;
    if (!(w->lazy ? pend_push(s, e) : index_insert(s, w->p, e))) {
        kset_del(s, kr->kh);
        return false;
    }
    s->count++;
    s->bytes += e->size;
    return true;
}

/* Takes w->cur (found by shard_find for kr) out of shard s (locked) into *old. */
static void shard_remove(shard *s, const keyref *kr, const where *w, ent *old) {
    *old = *w->cur;
    index_remove(s, w->p);
    kset_del(s, kr->kh);
    s->count--;
    s->bytes -= old->size;
}

/* ---------------------------------------------------------------- simulated capacity */

static void cap_init(cap_bucket *b, double rate, uint32_t burst_ms, bool on) {
    pthread_mutex_init(&b->mu, NULL);
    b->on = on && rate > 0;
    b->rate = rate;
    b->burst = rate * (double)(burst_ms ? burst_ms : 1000) / 1000.0;
    b->tokens = b->burst;
    b->last_ns = dx_now_ns();
}

static void cap_refill(cap_bucket *b) {
    uint64_t now = dx_now_ns();
    if (now > b->last_ns) {
        b->tokens += (double)(now - b->last_ns) / 1e9 * b->rate;
        if (b->tokens > b->burst) b->tokens = b->burst;
    }
    b->last_ns = now;
}

/*
 * Pays costs in order while the bucket can; returns how many were paid. A
 * full bucket pays any cost (going into debt), so an item costing more than
 * the burst is slowed down, never refused forever.
 */
static size_t cap_pay(cap_bucket *b, const double *cost, size_t n) {
    if (!b->on) return n;
    pthread_mutex_lock(&b->mu);
    cap_refill(b);
    size_t i = 0;
    for (; i < n; i++) {
        if (b->tokens < cost[i] && b->tokens < b->burst) break;
        b->tokens -= cost[i];
    }
    pthread_mutex_unlock(&b->mu);
    return i;
}

static bool cap_pay1(cap_bucket *b, double cost) { return cap_pay(b, &cost, 1) == 1; }

/* Corrects an estimate paid earlier by the actual cost (delta may be negative). */
static void cap_adjust(cap_bucket *b, double delta) {
    if (!b->on || delta == 0) return;
    pthread_mutex_lock(&b->mu);
    b->tokens -= delta;
    if (b->tokens > b->burst) b->tokens = b->burst;
    pthread_mutex_unlock(&b->mu);
}

/* ---------------------------------------------------------------- per-partition capacity */

/*
 * DynamoDB serves one partition key at most 1000 write and 3000 read units a
 * second, whatever the table's capacity. With simulate_capacity each
 * partition key seen gets a pair of token buckets (in its shard, under the
 * shard lock, so a write pays where it happens), keyed by the partition
 * hash: two keys whose 64-bit hashes collide would share one. A bucket left
 * alone for the burst window is full again, the same as no bucket, so such
 * buckets are dropped whenever the table of them would grow. Scan is not
 * limited per partition (it spans them).
 */
#define PART_WCU 1000.0
#define PART_RCU 3000.0

static uint32_t pslot(uint64_t h, uint32_t cap) { return (uint32_t)(h ^ (h >> 29)) & (cap - 1); }

/* Re-places the buckets of s in a table of cap slots, dropping the idle ones. false on out of memory. */
static bool pb_rehash(const mtable *t, shard *s, uint32_t cap, uint64_t now) {
    pbucket *nb = calloc(cap, sizeof *nb);
    if (!nb) return false;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->pbcap; i++) {
        const pbucket *b = &s->pb[i];
        if (!b->h || now - b->last_ns >= t->pburst_ns) continue;
        uint32_t j = pslot(b->h, cap);
        while (nb[j].h) j = (j + 1) & (cap - 1);
        nb[j] = *b;
        n++;
    }
    free(s->pb);
    s->pb = nb;
    s->pbcap = cap;
    s->pbn = n;
    return true;
}

/* The bucket of partition hash h in shard s (locked), refilled to now; NULL when out of memory. */
static pbucket *pb_get(const mtable *t, shard *s, uint64_t h, uint64_t now) {
    double secs_full = (double)t->pburst_ns / 1e9;
    if (!h) h = 1;
    for (uint32_t i = s->pbcap ? pslot(h, s->pbcap) : 0; s->pbcap && s->pb[i].h; i = (i + 1) & (s->pbcap - 1)) {
        pbucket *b = &s->pb[i];
        if (b->h != h) continue;
        if (now > b->last_ns) {
            double dt = (double)(now - b->last_ns) / 1e9;
            b->wtok += dt * PART_WCU;
            b->rtok += dt * PART_RCU;
            if (b->wtok > PART_WCU * secs_full) b->wtok = PART_WCU * secs_full;
            if (b->rtok > PART_RCU * secs_full) b->rtok = PART_RCU * secs_full;
            b->last_ns = now;
        }
        return b;
    }
    if ((uint64_t)(s->pbn + 1) * 10 > (uint64_t)s->pbcap * 7) {
        /* Drop the idle buckets first; grow only when that does not make room. */
        uint32_t cap = s->pbcap ? s->pbcap : 16;
        if (!pb_rehash(t, s, cap, now)) return NULL;
        if ((uint64_t)(s->pbn + 1) * 2 > cap && !pb_rehash(t, s, cap * 2, now)) return NULL;
    }
    uint32_t i = pslot(h, s->pbcap);
    while (s->pb[i].h) i = (i + 1) & (s->pbcap - 1);
    s->pb[i] = (pbucket){h, PART_WCU * secs_full, PART_RCU * secs_full, now};
    s->pbn++;
    return &s->pb[i];
}

/*
 * Pays `cost` units from partition h's bucket (shard locked); false when the
 * partition is over its limit. As with tables, a full bucket pays any cost.
 * Out of memory for the bucket lets the request through.
 */
static bool part_pay(const mtable *t, shard *s, uint64_t h, bool write, double cost) {
    if (!t->plimit) return true;
    pbucket *b = pb_get(t, s, h, dx_now_ns());
    if (!b) return true;
    double *tok = write ? &b->wtok : &b->rtok;
    double full = (write ? PART_WCU : PART_RCU) * (double)t->pburst_ns / 1e9;
    if (*tok < cost && *tok < full) return false;
    *tok -= cost;
    return true;
}

/* Corrects a partition's payment by the actual cost (delta may be negative), shard locked. */
static void part_adjust(const mtable *t, shard *s, uint64_t h, bool write, double delta) {
    if (!t->plimit || delta == 0) return;
    pbucket *b = pb_get(t, s, h, dx_now_ns());
    if (!b) return;
    double *tok = write ? &b->wtok : &b->rtok;
    double full = (write ? PART_WCU : PART_RCU) * (double)t->pburst_ns / 1e9;
    *tok -= delta;
    if (*tok > full) *tok = full;
}

/* ---------------------------------------------------------------- tables and registry */

static void table_free(mtable *t) {
    if (!t) return;
    for (uint32_t i = 0; t->shards && i < t->nshards; i++) {
        shard *s = &t->shards[i];
        for (uint32_t c = 0; c < s->nc; c++) {
            for (uint32_t j = 0; s->nbig && j < s->c[c]->n; j++)
                if (s->c[c]->e[j].cls == 0) blk_free(s, s->c[c]->e[j].item, 0);
            free(s->c[c]);
        }
        for (uint32_t j = 0; s->nbig && j < s->npend; j++)
            if (s->pend[j].cls == 0) blk_free(s, s->pend[j].item, 0);
        slabs_release(s); /* every other block */
        free(s->c);
        free(s->maxh);
        free(s->pend);
        free(s->kset);
        free(s->pb);
        pthread_mutex_destroy(&s->mu);
    }
    free(t->shards);
    pthread_mutex_destroy(&t->rb.mu);
    pthread_mutex_destroy(&t->wb.mu);
    free(t->name);
    free(t->hash_name);
    free(t->range_name);
    free(t);
}

static void table_unref(mtable *t) {
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) table_free(t);
}

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static mtable *table_new(const mem_impl *m, const dx_table_def *def) {
    mtable *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    atomic_init(&t->refs, 1);
    t->name = xstrdup(def->name);
    t->hash_name = xstrdup(def->key.hash);
    t->range_name = def->key.range ? xstrdup(def->key.range) : NULL;
    t->hash_len = t->hash_name ? (uint32_t)strlen(t->hash_name) : 0;
    t->range_len = t->range_name ? (uint32_t)strlen(t->range_name) : 0;
    t->nkeys = t->range_name ? 2 : 1;
    t->hash_type = def->key.hash_type;
    t->range_type = def->key.range ? def->key.range_type : DX_T_NONE;
    t->rcu = def->rcu;
    t->wcu = def->wcu;
    t->bits = 0;
    while ((1u << t->bits) < m->opts.shards && t->bits < MAX_SHARD_BITS) t->bits++;
    t->nshards = 1u << t->bits;
    t->shards = aligned_alloc(64, t->nshards * sizeof *t->shards);
    cap_init(&t->rb, def->rcu, m->opts.burst_ms, m->opts.simulate_capacity);
    cap_init(&t->wb, def->wcu, m->opts.burst_ms, m->opts.simulate_capacity);
    t->plimit = m->opts.simulate_capacity;
    t->pburst_ns = (uint64_t)(m->opts.burst_ms ? m->opts.burst_ms : 1000) * 1000000u;
    if (!t->name || !t->hash_name || (def->key.range && !t->range_name) || !t->shards) {
        t->nshards = 0;
        table_free(t);
        return NULL;
    }
    memset(t->shards, 0, t->nshards * sizeof *t->shards);
    for (uint32_t i = 0; i < t->nshards; i++) {
        pthread_mutex_init(&t->shards[i].mu, NULL);
        atomic_init(&t->shards[i].kset_pub, NULL);
        atomic_init(&t->shards[i].kcap_pub, 0);
    }
    return t;
}

static size_t registry_index(const mem_impl *m, const char *name) {
    for (size_t i = 0; i < m->ntables; i++)
        if (strcmp(m->tables[i]->name, name) == 0) return i;
    return (size_t)-1;
}

/* The table named name with a reference taken, or NULL. */
static mtable *table_get(mem_impl *m, const char *name) {
    pthread_rwlock_rdlock(&m->lock);
    size_t i = registry_index(m, name);
    mtable *t = i == (size_t)-1 ? NULL : m->tables[i];
    if (t) atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&m->lock);
    return t;
}

/* The table for an item operation through the engine's cache (no reference
 * for the caller: the cache holds one until the next lookup on this engine). */
static mtable *be_table(mem_be *be, const char *name) {
    uint64_t g = atomic_load_explicit(&be->impl->gen, memory_order_acquire);
    for (unsigned i = 0; i < BE_CACHE; i++)
        if (be->cache[i].t && be->cache[i].gen == g && strcmp(be->cache[i].t->name, name) == 0)
            return be->cache[i].t;
    mtable *t = table_get(be->impl, name);
    if (!t) return NULL;
    unsigned slot = BE_CACHE;
    for (unsigned i = 0; i < BE_CACHE && slot == BE_CACHE; i++)
        if (!be->cache[i].t || be->cache[i].gen != g) slot = i;
    if (slot == BE_CACHE) slot = be->next++ % BE_CACHE;
    table_unref(be->cache[slot].t);
    be->cache[slot].t = t;
    be->cache[slot].gen = g;
    return t;
}

static void table_totals(mtable *t, uint64_t *count, uint64_t *bytes) {
    uint64_t c = 0, b = 0;
    for (uint32_t i = 0; i < t->nshards; i++) {
        shard *s = &t->shards[i];
        pthread_mutex_lock(&s->mu);
        c += s->count;
        b += s->bytes;
        pthread_mutex_unlock(&s->mu);
    }
    if (count) *count = c;
    if (bytes) *bytes = b;
}

/* ---------------------------------------------------------------- request validation */

static dx_err check_table_name(const char *name, dx_result *r) {
    if (!name) return vfail(r, "The parameter 'TableName' is required but was not present in the request");
    size_t n = strlen(name);
    if (n < 3 || n > 255)
        return vfail(r, "TableName must be at least 3 characters long and at most 255 characters long");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return vfail(r,
                         "1 validation error detected: Value '%s' at 'tableName' failed to satisfy "
                         "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                         name);
    }
    return DX_OK;
}

static dx_err require(const void *p, const char *what, dx_result *r) {
    if (p) return DX_OK;
    return vfail(r,
                 "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member "
                 "must not be null",
                 what);
}

static dx_err require_map(const dx_value *v, const char *what, dx_result *r) {
    TRY(require(v, what, r));
    if (v->type != DX_T_M)
        return vfail(r, "%s must be a map of attribute values (an M value), not %s", what,
                     dx_type_name((dx_type)v->type));
    return DX_OK;
}

/*
 * DynamoDB's rules for the *Expression parameters: names only with some
 * expression, values only with an expression that takes values (value_msg
 * says which are missing; NULL when the operation has none).
 */
static dx_err check_expr_params(const dx_req *q, bool any_expr, bool value_expr, const char *value_msg,
                                dx_result *r) {
    if (q->names && !any_expr)
        return vfail(r, "ExpressionAttributeNames can only be specified when using expressions");
    if (q->values && value_msg && !value_expr)
        return vfail(r, "ExpressionAttributeValues can only be specified when using expressions: %s",
                     value_msg);
    return DX_OK;
}

static dx_err validate_attrs(const dx_value *m, dx_result *r) {
    for (uint32_t i = 0; i < m->n; i++) {
        const dx_member *mb = &m->u.members[i];
        TRY(dx_value_validate(&mb->value, mb->name, r));
    }
    return DX_OK;
}

static dx_err check_key_size(const dx_value *v, bool is_hash, dx_result *r) {
    if (v->type == DX_T_N) return DX_OK;
    if (is_hash && v->n > MAX_HASH_KEY)
        return vfail(r, "%sSize of hashkey has exceeded the maximum size limit of2048 bytes", MSG_INVALID);
    if (!is_hash && v->n > MAX_RANGE_KEY)
        return vfail(r,
                     "%sAggregated size of all range keys has exceeded the size limit of 1024 bytes",
                     MSG_INVALID);
    return DX_OK;
}

/* The key attributes of an item to put (dynalite's validateItem). In a batch
 * a missing or mistyped key is reported as a schema mismatch, as dynalite does. */
static dx_err validate_item_key(const mtable *t, const dx_value *item, bool batch, dx_result *r) {
    for (int k = 0; k < 2; k++) {
        const char *name = k ? t->range_name : t->hash_name;
        dx_type type = k ? t->range_type : t->hash_type;
        if (!name) break;
        const dx_value *v = dx_map_getn(item, name, k ? t->range_len : t->hash_len);
        if (!v) {
            if (batch) return vfail(r, "%s", MSG_SCHEMA);
            return vfail(r, "%sMissing the key %s in the item", MSG_INVALID, name);
        }
        if (v->type != (uint32_t)type) {
            if (batch) return vfail(r, "%s", MSG_SCHEMA);
            return vfail(r, "%sType mismatch for key %s expected: %s actual: %s", MSG_INVALID, name,
                         dx_type_name(type), dx_type_name((dx_type)v->type));
        }
        if (v->n == 0 && type != DX_T_N)
            return vfail(r,
                         "One or more parameter values are not valid. The AttributeValue for a key "
                         "attribute cannot contain an empty %s value. Key: %s",
                         type == DX_T_S ? "string" : "binary", name);
        TRY(check_key_size(v, k == 0, r));
    }
    return DX_OK;
}

/* A key for get/update/delete: exactly the key attributes (dynalite's validateKey). */
static dx_err validate_key(const mtable *t, const dx_value *key, dx_result *r) {
    uint32_t want = t->range_name ? 2 : 1;
    if (key->n != want) return vfail(r, "%s", MSG_SCHEMA);
    for (int k = 0; k < 2; k++) {
        const char *name = k ? t->range_name : t->hash_name;
        dx_type type = k ? t->range_type : t->hash_type;
        if (!name) break;
        const dx_value *v = dx_map_get(key, name);
        if (!v || v->type != (uint32_t)type) return vfail(r, "%s", MSG_SCHEMA);
        if (v->n == 0 && type != DX_T_N)
            return vfail(r,
                         "%sThe AttributeValue for a key attribute cannot contain an empty %s value. "
                         "Key: %s",
                         MSG_INVALID, type == DX_T_S ? "string" : "binary", name);
        TRY(check_key_size(v, k == 0, r));
    }
    return DX_OK;
}

/* Rejects an item with two attributes of the same name. */
static dx_err check_dup_names(const dx_value *item, dx_result *r) {
    const dx_member *b = dx_map_find_dup(item);
    if (!b) return DX_OK;
    return dx_fail(r, DX_ERR_VALIDATION, b->name, "duplicate attribute name: %.*s",
                   (int)(b->name_len > 200 ? 200 : b->name_len), b->name);
}

static dx_err need_arena(const dx_attempt *a, dx_result *r) {
    if (a->arena) return DX_OK;
    return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "%s needs call->arena for its results",
                   dx_op_name(a->req.op));
}

static dx_err lookup(mem_be *be, const char *name, mtable **out, dx_result *r) {
    *out = be_table(be, name);
    return *out ? DX_OK : not_found(r, name, false);
}

/* The packed item in an entry's block, after the key views and their bytes (ent_make). */
static const void *ent_packed(const mtable *t, const ent *e) {
    const char *p = (const char *)e->item + t->nkeys * sizeof(dx_value) + e->pk->n + 1;
    return e->rk ? p + e->rk->n + 1 : p;
}

/* Bytes of an entry's block before the packed item: the key views and their bytes. */
static size_t ent_head(const mtable *t, const keyref *kr) {
    size_t head = t->nkeys * sizeof(dx_value) + kr->pk.n + 1;
    return t->range_name ? head + kr->rk.n + 1 : head;
}

/*
 * Writes the key views and their bytes (kr's canonical ones) at the start of
 * block blk, whose packed item follows them, and fills *e for it: ordering
 * then never unpacks anything.
 */
static void ent_fill(const mtable *t, const keyref *kr, char *blk, uint32_t cls, size_t size,
                     ent *e) {
    const dx_value *kv[2] = {&kr->pk, t->range_name ? &kr->rk : NULL};
    dx_value *keys = (dx_value *)(void *)blk;
    char *kb = blk + t->nkeys * sizeof(dx_value);
    for (uint32_t i = 0; i < t->nkeys; i++) {
        keys[i] = *kv[i];
        if (kv[i]->n) memcpy(kb, kv[i]->u.s, kv[i]->n);
        kb[kv[i]->n] = 0;
        keys[i].u.s = kb;
        kb += kv[i]->n + 1;
    }
    e->item = blk;
    e->cls = cls;
    e->pk = &keys[0];
    e->rk = t->range_name ? &keys[1] : NULL;
    e->h = kr->k.h;
    e->size = (uint32_t)size;
}

/*
 * Packs item v (dx_value_packed_size `packed`, `size` bytes as DynamoDB counts
 * them, key kr) into a block of shard s (locked) and fills *e for it (see
 * ent_fill). false on out of memory.
 */
static bool ent_make(mem_be *be, const mtable *t, shard *s, const dx_value *v, size_t packed,
                     size_t size, const keyref *kr, ent *e) {
    size_t head = ent_head(t, kr);
    uint32_t cls;
    char *blk = blk_alloc(s, head + packed, &cls);
    if (!blk) return false;
    if (dx_value_pack(v, blk + head, &be->hint, NULL) != DX_OK) {
        blk_free(s, blk, cls);
        return false;
    }
    ent_fill(t, kr, blk, cls, size, e);
    return true;
}

/* ent_make for an item already packed (bytes, len of them), as pack_item made it. */
static bool ent_make_packed(const mtable *t, shard *s, const char *bytes, size_t len, size_t size,
                            const keyref *kr, ent *e) {
    size_t head = ent_head(t, kr);
    uint32_t cls;
    char *blk = blk_alloc(s, head + len, &cls);
    if (!blk) return false;
    memcpy(blk + head, bytes, len);
    ent_fill(t, kr, blk, cls, size, e);
    return true;
}

/*
 * The item of entry e in arena a (the shard locked): with copy, a copy the
 * caller may keep; without, views into the block, valid while the lock is held.
 */
static dx_err ent_unpack(const mtable *t, const ent *e, dx_arena *a, bool copy, dx_value *out) {
    return dx_value_unpack(a, ent_packed(t, e), copy, out);
}

/* Gives the block of an entry that left shard s (locked) back; an empty shard lets its slabs go. */
static void ent_drop(shard *s, const ent *old) {
    if (!old->item) return;
    blk_free(s, old->item, old->cls);
    if (s->count == 0 && s->nbig == 0) slabs_release(s);
}

/* ---------------------------------------------------------------- results */

static dx_err copy_out(dx_attempt *a, const dx_value *item, dx_value **out) {
    dx_value *v = dx_arena_alloc(a->arena, sizeof *v);
    if (!v || dx_value_copy(a->arena, item, v) != DX_OK) return nomem(&a->res);
    *out = v;
    return DX_OK;
}

/* A copy of the item of entry e (its shard locked) in the call's arena. */
static dx_err copy_ent(dx_attempt *a, const mtable *t, const ent *e, dx_value **out) {
    dx_value *v = dx_arena_alloc(a->arena, sizeof *v);
    if (!v || ent_unpack(t, e, a->arena, true, v) != DX_OK) return nomem(&a->res);
    *out = v;
    return DX_OK;
}

/*
 * The parts of item under the paths update u wrote (UPDATED_OLD / UPDATED_NEW):
 * DynamoDB returns only those paths (SET m.x returns {m:{x}}), nothing when
 * none of them exist.
 */
static dx_err copy_touched(dx_attempt *a, const dx_update_expr *u, const dx_value *item,
                           dx_value **out) {
    *out = NULL;
    if (!u || !item) return DX_OK;
    dx_value *v = dx_arena_alloc(a->arena, sizeof *v);
    if (!v || dx_update_project(u, a->arena, item, v) != DX_OK) return nomem(&a->res);
    if (v->n) *out = v;
    return DX_OK;
}

/* The key attributes of e as a new M value in the arena (LastEvaluatedKey). */
static dx_err key_of(dx_attempt *a, const mtable *t, const ent *e, dx_value **out) {
    uint32_t n = t->range_name ? 2 : 1;
    dx_member *m = dx_arena_alloc(a->arena, n * sizeof *m);
    dx_value *v = dx_arena_alloc(a->arena, sizeof *v);
    if (!m || !v) return nomem(&a->res);
    for (uint32_t i = 0; i < n; i++) {
        const char *name = i ? t->range_name : t->hash_name;
        m[i].name = dx_arena_strdup(a->arena, name);
        m[i].name_len = (uint32_t)strlen(name);
        if (!m[i].name || dx_value_copy(a->arena, i ? e->rk : e->pk, &m[i].value) != DX_OK)
            return nomem(&a->res);
    }
    *v = dx_vmap(m, n);
    *out = v;
    return DX_OK;
}

static dx_err fill_desc(dx_attempt *a, mtable *t, const char *status, bool pitr) {
    dx_table_desc *d = &a->resp.table;
    if (!a->arena) return DX_OK; /* DeleteTable through dx_delete_table wants no description */
    d->name = dx_arena_strdup(a->arena, t->name);
    d->key.hash = dx_arena_strdup(a->arena, t->hash_name);
    d->key.hash_type = t->hash_type;
    d->key.range = t->range_name ? dx_arena_strdup(a->arena, t->range_name) : NULL;
    d->key.range_type = t->range_type;
    d->status = status;
    table_totals(t, &d->item_count, &d->size_bytes);
    d->rcu = t->rcu;
    d->wcu = t->wcu;
    d->on_demand = t->rcu == 0 && t->wcu == 0;
    d->pitr = pitr;
    if (!d->name || !d->key.hash || (t->range_name && !d->key.range)) return nomem(&a->res);
    return DX_OK;
}

/* ---------------------------------------------------------------- table operations */

static bool key_type_ok(dx_type t) { return t == DX_T_S || t == DX_T_N || t == DX_T_B; }

static dx_err validate_def(const dx_table_def *d, dx_result *r) {
    TRY(check_table_name(d->name, r));
    TRY(require(d->key.hash, "keySchema", r));
    size_t hn = strlen(d->key.hash), rn = d->key.range ? strlen(d->key.range) : 1;
    if (hn < 1 || hn > 255 || rn < 1 || rn > 255)
        return vfail(r,
                     "1 validation error detected: Value '%s' at 'keySchema.%d.member.attributeName' "
                     "failed to satisfy constraint: Member must have length %s",
                     hn < 1 || hn > 255 ? d->key.hash : d->key.range, hn < 1 || hn > 255 ? 1 : 2,
                     (hn < 1 || rn < 1) ? "greater than or equal to 1" : "less than or equal to 255");
    if (!key_type_ok(d->key.hash_type) || (d->key.range && !key_type_ok(d->key.range_type)))
        return vfail(r,
                     "1 validation error detected: Value '%s' at "
                     "'attributeDefinitions.%d.member.attributeType' failed to satisfy constraint: "
                     "Member must satisfy enum value set: [B, N, S]",
                     dx_type_name(!key_type_ok(d->key.hash_type) ? d->key.hash_type : d->key.range_type),
                     !key_type_ok(d->key.hash_type) ? 1 : 2);
    if (d->key.range && strcmp(d->key.hash, d->key.range) == 0)
        return vfail(r, "Both the Hash Key and the Range Key element in the KeySchema have the same name");
    if (!(d->rcu >= 0) || !(d->wcu >= 0) || (d->rcu > 0) != (d->wcu > 0))
        return vfail(r,
                     "%sReadCapacityUnits and WriteCapacityUnits must both be specified when "
                     "BillingMode is PROVISIONED",
                     MSG_INVALID);
    if (d->rcu > 0 && (d->rcu < 1 || d->wcu < 1))
        return vfail(r,
                     "1 validation error detected: Value '%g' at 'provisionedThroughput.%s' failed "
                     "to satisfy constraint: Member must have value greater than or equal to 1",
                     d->rcu < 1 ? d->rcu : d->wcu, d->rcu < 1 ? "readCapacityUnits" : "writeCapacityUnits");
    if (d->rcu > 1e12) return vfail(r, "Given value %g for ReadCapacityUnits is out of bounds", d->rcu);
    if (d->wcu > 1e12) return vfail(r, "Given value %g for WriteCapacityUnits is out of bounds", d->wcu);
    return DX_OK;
}

static dx_err op_create_table(mem_be *be, dx_attempt *a) {
    dx_result *r = &a->res;
    const dx_table_def *def = a->req.def;
    if (!def) return require(NULL, "tableName", r);
    TRY(validate_def(def, r));
    mem_impl *m = be->impl;
    mtable *t = table_new(m, def);
    if (!t) return nomem(r);
    pthread_rwlock_wrlock(&m->lock);
    if (registry_index(m, def->name) != (size_t)-1) {
        pthread_rwlock_unlock(&m->lock);
        table_free(t);
        return dx_fail(r, DX_ERR_RESOURCE_IN_USE, NULL, "Table already exists: %s", def->name);
    }
    if (m->ntables == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        mtable **v = realloc(m->tables, cap * sizeof *v);
        if (!v) {
            pthread_rwlock_unlock(&m->lock);
            table_free(t);
            return nomem(r);
        }
        m->tables = v;
        m->cap = cap;
    }
    m->tables[m->ntables++] = t;
    atomic_fetch_add_explicit(&m->gen, 1, memory_order_release);
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed); /* ours, for the description */
    pthread_rwlock_unlock(&m->lock);
    dx_err err = fill_desc(a, t, "ACTIVE", false);
    table_unref(t);
    return err;
}

static dx_err op_describe(mem_be *be, dx_attempt *a) {
    dx_result *r = &a->res;
    TRY(check_table_name(a->req.table, r));
    mtable *t = table_get(be->impl, a->req.table);
    if (!t) return not_found(r, a->req.table, true);
    dx_err err = fill_desc(a, t, "ACTIVE", false); /* backups: PITR is never on */
    table_unref(t);
    return err;
}

static dx_err op_delete_table(mem_be *be, dx_attempt *a) {
    dx_result *r = &a->res;
    mem_impl *m = be->impl;
    TRY(check_table_name(a->req.table, r));
    pthread_rwlock_wrlock(&m->lock);
    size_t i = registry_index(m, a->req.table);
    if (i == (size_t)-1) {
        pthread_rwlock_unlock(&m->lock);
        return not_found(r, a->req.table, true);
    }
    mtable *t = m->tables[i];
    m->tables[i] = m->tables[--m->ntables];
    atomic_fetch_add_explicit(&m->gen, 1, memory_order_release);
    pthread_rwlock_unlock(&m->lock);
    dx_err err = fill_desc(a, t, "DELETING", false);
    table_unref(t); /* the registry's reference */
    return err;
}

/* ---------------------------------------------------------------- item operations */

/* Sets up the expression environment when the request has any expression
 * parameter; env->names == env->values == NULL otherwise. */
static dx_err env_init(mem_be *be, const dx_req *q, dx_expr_env *env, dx_result *r) {
    memset(env, 0, sizeof *env);
    return dx_expr_env_init(env, &be->scratch, q->names, q->values, r);
}

static dx_err parse_cond(mem_be *be, dx_expr_env *env, const char *what, const char *text,
                         dx_cond **out, dx_result *r) {
    *out = NULL;
    if (!text) return DX_OK;
    return dx_cond_parse(&be->scratch, env, what, text, out, r);
}

static dx_err eval_cond(const dx_cond *c, const dx_value *item, dx_result *r) {
    if (!c) return DX_OK;
    bool ok = false;
    TRY(dx_cond_eval(c, item, &ok, r));
    if (!ok) return dx_fail(r, DX_ERR_CONDITIONAL, NULL, "The conditional request failed");
    return DX_OK;
}

/* eval_cond on the item of entry cur (NULL: absent), its shard locked. */
static dx_err eval_ent_cond(mem_be *be, const mtable *t, const dx_cond *c, const ent *cur,
                            dx_result *r) {
    if (!c || !cur) return eval_cond(c, NULL, r);
    dx_value v;
    if (ent_unpack(t, cur, &be->scratch, false, &v) != DX_OK) return nomem(r);
    return eval_cond(c, &v, r);
}

static double write_units(const ent *e) { return e ? dx_write_units(e->size) : 1.0; }

static double max2(double a, double b) { return a > b ? a : b; }

/*
 * The key of an item to put: validated (dynalite's validateItem, as
 * validate_item_key), the item without duplicate names (dup: what packing
 * found, or -1 for not known), kr filled.
 */
static dx_err put_key(const mtable *t, const dx_value *item, bool batch, int dup, keyref *kr,
                      dx_result *r) {
    TRY(validate_item_key(t, item, batch, r));
    if (dup) TRY(check_dup_names(item, r));
    keyref_init(t, item, kr);
    return DX_OK;
}

/*
 * An item to put, packed: DynamoDB's validation, the item's size, its packed
 * form appended to be->pack (*off, *len) and whether it repeats a name
 * (*dup). An item that fails gets dx_item_check's message. *len is 0 when
 * the item could not be packed in one walk though it is valid (only if the
 * two disagreed): the caller then packs it from the value.
 */
static dx_err pack_item(mem_be *be, const dx_value *item, size_t *size, size_t *off, size_t *len,
                        int *dup, dx_result *r) {
    bool d = false;
    *off = be->pack.len;
    *len = 0;
    *dup = -1;
    dx_err e = dx_item_check_pack(item, &be->hint, &be->pack, size, &d);
    if (e == DX_ERR_NOMEM) return nomem(r);
    if (e) return dx_item_check(item, size, NULL, r); /* DX_OK only if they disagree */
    *len = be->pack.len - *off;
    *dup = d;
    return DX_OK;
}

static dx_err op_put(mem_be *be, dx_attempt *a) {
    const dx_req *q = &a->req;
    dx_result *r = &a->res;
    TRY(check_table_name(q->table, r));
    TRY(require_map(q->item, "item", r));
    TRY(check_expr_params(q, q->condition, q->condition, "ConditionExpression is null", r));
    size_t size, off, plen;
    int dup;
    dx_buf_clear(&be->pack);
    TRY(pack_item(be, q->item, &size, &off, &plen, &dup, r));
    if (q->ret != DX_RET_NONE && q->ret != DX_RET_ALL_OLD)
        return vfail(r, "ReturnValues can only be ALL_OLD or NONE");
    if (size > DX_MAX_ITEM_SIZE) return vfail(r, "Item size has exceeded the maximum allowed size");
    dx_cond *cond = NULL;
    if (q->condition || q->names || q->values) {
        dx_expr_env env;
        TRY(env_init(be, q, &env, r));
        TRY(parse_cond(be, &env, "ConditionExpression", q->condition, &cond, r));
        TRY(dx_expr_env_check_unused(&env, r));
    }
    if (q->ret != DX_RET_NONE) TRY(need_arena(a, r));
    mtable *t;
    TRY(lookup(be, q->table, &t, r));
    keyref kr;
    TRY(put_key(t, q->item, false, dup, &kr, r));
    size_t vpacked = 0;
    if (!plen) TRY(dx_value_packed_size(q->item, &vpacked, r));
    double paid = dx_write_units(size);
    if (!cap_pay1(&t->wb, paid)) return throttled(r);
    shard *s = shard_of(t, kr.k.h);
    where w = {0};
    ent e, old = {0};
    dx_err err = DX_OK;
    bool stored = false, hot = false;
    pthread_mutex_lock(&s->mu);
    if (!part_pay(t, s, kr.k.h, true, paid)) {
        hot = true;
        err = key_throttled(r, true);
    }
    if (!err && !shard_find(s, &kr, &w)) err = nomem(r);
    if (!err) err = eval_ent_cond(be, t, cond, w.cur, r);
    if (!err) {
        if (plen ? !ent_make_packed(t, s, be->pack.ptr + off, plen, size, &kr, &e)
                 : !ent_make(be, t, s, q->item, vpacked, size, &kr, &e)) {
            err = nomem(r);
        } else if (!shard_store(s, &kr, &w, &e, &old)) {
            blk_free(s, e.item, e.cls);
            err = nomem(r);
        } else {
            stored = true;
        }
    }
    /* The old block goes back under the lock: copy what the caller wants first. */
    if (stored && old.item && q->ret == DX_RET_ALL_OLD) err = copy_ent(a, t, &old, &a->resp.item);
    double units = max2(paid, old.item ? write_units(&old) : 0);
    if (stored) part_adjust(t, s, kr.k.h, true, units - paid);
    ent_drop(s, &old);
    pthread_mutex_unlock(&s->mu);
    if (hot) cap_adjust(&t->wb, -paid); /* the table did not serve it */
    if (!stored) return err;
    cap_adjust(&t->wb, units - paid);
    a->resp.consumed = units;
    return err;
}

static dx_err op_delete(mem_be *be, dx_attempt *a) {
    const dx_req *q = &a->req;
    dx_result *r = &a->res;
    TRY(check_table_name(q->table, r));
    TRY(require_map(q->key, "key", r));
    TRY(check_expr_params(q, q->condition, q->condition, "ConditionExpression is null", r));
    TRY(validate_attrs(q->key, r));
    if (q->ret != DX_RET_NONE && q->ret != DX_RET_ALL_OLD)
        return vfail(r, "ReturnValues can only be ALL_OLD or NONE");
    dx_cond *cond = NULL;
    if (q->condition || q->names || q->values) {
        dx_expr_env env;
        TRY(env_init(be, q, &env, r));
        TRY(parse_cond(be, &env, "ConditionExpression", q->condition, &cond, r));
        TRY(dx_expr_env_check_unused(&env, r));
    }
    if (q->ret != DX_RET_NONE) TRY(need_arena(a, r));
    mtable *t;
    TRY(lookup(be, q->table, &t, r));
    TRY(validate_key(t, q->key, r));
    keyref kr;
    keyref_init(t, q->key, &kr);
    if (!cap_pay1(&t->wb, 1.0)) return throttled(r);
    shard *s = shard_of(t, kr.k.h);
    where w = {0};
    ent old = {0};
    dx_err err = DX_OK;
    bool hot = false;
    pthread_mutex_lock(&s->mu);
    if (!part_pay(t, s, kr.k.h, true, 1.0)) {
        hot = true;
        err = key_throttled(r, true);
    }
    if (!err && !shard_find(s, &kr, &w)) err = nomem(r);
    if (!err) err = eval_ent_cond(be, t, cond, w.cur, r);
    if (!err && w.cur) shard_remove(s, &kr, &w, &old);
    dx_err cerr = DX_OK;
    if (old.item && q->ret == DX_RET_ALL_OLD) cerr = copy_ent(a, t, &old, &a->resp.item);
    double units = old.item ? write_units(&old) : 1.0;
    if (!err) part_adjust(t, s, kr.k.h, true, units - 1.0);
    ent_drop(s, &old);
    pthread_mutex_unlock(&s->mu);
    if (hot) cap_adjust(&t->wb, -1.0);
    if (err) return err;
    cap_adjust(&t->wb, units - 1.0);
    a->resp.consumed = units;
    return cerr;
}

/* The request's key as an item (numbers canonical), for an update of an absent item. */
static dx_err key_item(mem_be *be, const mtable *t, const keyref *kr, dx_value *out, dx_result *r) {
    uint32_t n = t->range_name ? 2 : 1;
    dx_member *m = dx_arena_alloc(&be->scratch, n * sizeof *m);
    if (!m) return nomem(r);
    m[0].name = t->hash_name;
    m[0].name_len = t->hash_len;
    m[0].value = kr->pk;
    if (n == 2) {
        m[1].name = t->range_name;
        m[1].name_len = t->range_len;
        m[1].value = kr->rk;
    }
    *out = dx_vmap(m, n);
    return DX_OK;
}

static dx_err op_update(mem_be *be, dx_attempt *a) {
    const dx_req *q = &a->req;
    dx_result *r = &a->res;
    TRY(check_table_name(q->table, r));
    TRY(require_map(q->key, "key", r));
    bool any = q->update || q->condition;
    TRY(check_expr_params(q, any, any, "UpdateExpression and ConditionExpression are null", r));
    TRY(validate_attrs(q->key, r));
    if (q->ret > DX_RET_UPDATED_NEW)
        return vfail(r, "1 validation error detected: Value at 'returnValues' failed to satisfy "
                        "constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, "
                        "ALL_OLD, NONE, UPDATED_NEW]");
    dx_cond *cond = NULL;
    dx_update_expr *u = NULL;
    if (any || q->names || q->values) {
        dx_expr_env env;
        TRY(env_init(be, q, &env, r));
        if (q->update) TRY(dx_update_parse(&be->scratch, &env, q->update, &u, r));
        TRY(parse_cond(be, &env, "ConditionExpression", q->condition, &cond, r));
        TRY(dx_expr_env_check_unused(&env, r));
    }
    if (q->ret != DX_RET_NONE) TRY(need_arena(a, r));
    mtable *t;
    TRY(lookup(be, q->table, &t, r));
    TRY(validate_key(t, q->key, r));
    for (int k = 0; u && k < 2; k++) {
        const char *name = k ? t->range_name : t->hash_name;
        if (name && dx_update_touches(u, name))
            return vfail(r, "%sCannot update attribute %s. This attribute is part of the key",
                         MSG_INVALID, name);
    }
    keyref kr;
    keyref_init(t, q->key, &kr);
    dx_value base_key;
    TRY(key_item(be, t, &kr, &base_key, r));
    if (!cap_pay1(&t->wb, 1.0)) return throttled(r);

    shard *s = shard_of(t, kr.k.h);
    where w = {0};
    ent ne = {0}, old = {0};
    dx_value newv;
    dx_err err = DX_OK;
    bool stored = false, hot = false;
    pthread_mutex_lock(&s->mu);
    if (!part_pay(t, s, kr.k.h, true, 1.0)) {
        hot = true;
        err = key_throttled(r, true);
    }
    if (!err && !shard_find(s, &kr, &w)) err = nomem(r);
    dx_value cur_v = {0}; /* the stored item, as views into its block */
    if (!err && w.cur && ent_unpack(t, w.cur, &be->scratch, false, &cur_v) != DX_OK) err = nomem(r);
    const dx_value *base = w.cur ? &cur_v : &base_key;
    if (!err) err = eval_cond(cond, w.cur ? &cur_v : NULL, r);
    if (!err) {
        if (u) {
            err = dx_update_apply(u, &be->scratch, base, &newv, r);
        } else {
            newv = *base;
        }
    }
    size_t size = 0;
    if (!err) {
        size = dx_item_size(&newv);
        if (size > DX_MAX_ITEM_SIZE)
            err = vfail(r, "Item size to update has exceeded the maximum allowed size");
    }
    size_t packed = 0;
    if (!err) err = dx_value_packed_size(&newv, &packed, r);
    if (!err) {
        if (!ent_make(be, t, s, &newv, packed, size, &kr, &ne)) {
            err = nomem(r);
        } else if (!shard_store(s, &kr, &w, &ne, &old)) {
            blk_free(s, ne.item, ne.cls);
            err = nomem(r);
        } else {
            stored = true;
        }
    }
    /* newv may point into the old block, which goes back under the lock: copy first. */
    if (stored) {
        switch (q->ret) {
        case DX_RET_ALL_OLD:
            if (old.item) err = copy_out(a, &cur_v, &a->resp.item);
            break;
        case DX_RET_UPDATED_OLD:
            err = copy_touched(a, u, old.item ? &cur_v : NULL, &a->resp.item);
            break;
        case DX_RET_ALL_NEW:
            err = copy_out(a, &newv, &a->resp.item);
            break;
        case DX_RET_UPDATED_NEW:
            err = copy_touched(a, u, &newv, &a->resp.item);
            break;
        case DX_RET_NONE:
            break;
        }
    }
    double units = max2(write_units(&ne), old.item ? write_units(&old) : 0);
    if (stored) part_adjust(t, s, kr.k.h, true, units - 1.0);
    ent_drop(s, &old);
    pthread_mutex_unlock(&s->mu);
    if (hot) cap_adjust(&t->wb, -1.0);
    if (!stored) return err;
    cap_adjust(&t->wb, units - 1.0);
    a->resp.consumed = units;
    return err;
}

static double read_units(size_t bytes, bool consistent) { return dx_read_units(bytes, consistent); }

static dx_err op_get(mem_be *be, dx_attempt *a) {
    const dx_req *q = &a->req;
    dx_result *r = &a->res;
    TRY(check_table_name(q->table, r));
    TRY(require_map(q->key, "key", r));
    TRY(check_expr_params(q, q->projection, false, NULL, r));
    TRY(validate_attrs(q->key, r));
    dx_projection *proj = NULL;
    if (q->projection || q->names || q->values) {
        dx_expr_env env;
        TRY(env_init(be, q, &env, r));
        if (q->projection) TRY(dx_proj_parse(&be->scratch, &env, q->projection, &proj, r));
        TRY(dx_expr_env_check_unused(&env, r));
    }
    TRY(need_arena(a, r));
    mtable *t;
    TRY(lookup(be, q->table, &t, r));
    TRY(validate_key(t, q->key, r));
    keyref kr;
    keyref_init(t, q->key, &kr);
    double est = read_units(0, q->consistent);
    if (!cap_pay1(&t->rb, est)) return throttled(r);
    shard *s = shard_of(t, kr.k.h);
    where w = {0};
    dx_value *item = NULL;
    size_t size = 0;
    dx_err err = DX_OK;
    pthread_mutex_lock(&s->mu);
    bool hot = !part_pay(t, s, kr.k.h, false, est);
    if (hot) {
        err = key_throttled(r, false);
    } else if (!shard_find(s, &kr, &w)) {
        err = nomem(r);
    }
    if (w.cur) {
        size = w.cur->size;
        err = copy_ent(a, t, w.cur, &item);
    }
    if (!hot) part_adjust(t, s, kr.k.h, false, read_units(size, q->consistent) - est);
    pthread_mutex_unlock(&s->mu);
    if (hot) cap_adjust(&t->rb, -est);
    if (err) return err;
    a->resp.consumed = read_units(size, q->consistent);
    cap_adjust(&t->rb, a->resp.consumed - est);
    if (item && proj) {
        dx_value pv;
        if (dx_proj_apply(proj, a->arena, item, &pv) != DX_OK) return nomem(r);
        *item = pv;
    }
    a->resp.item = item;
    return DX_OK;
}

/* ---------------------------------------------------------------- batches */

static dx_err op_batch_write(mem_be *be, dx_attempt *a) {
    const dx_req *q = &a->req;
    dx_result *r = &a->res;
    size_t n = q->nwrites;
    TRY(check_table_name(q->table, r));
    if (n == 0 || !q->writes)
        return vfail(r,
                     "1 validation error detected: Value '[]' at 'requestItems.%s.member' failed to "
                     "satisfy constraint: Member must have length greater than or equal to 1",
                     q->table);
    if (n > MAX_BATCH_WRITE) return vfail(r, "Too many items requested for the BatchWriteItem call");
    size_t sizes[MAX_BATCH_WRITE], offs[MAX_BATCH_WRITE], lens[MAX_BATCH_WRITE];
    size_t packed[MAX_BATCH_WRITE];
    int dups[MAX_BATCH_WRITE];
    dx_buf_clear(&be->pack);
    for (size_t i = 0; i < n; i++) {
        const dx_write *w = &q->writes[i];
        TRY(require_map(w->item, w->del ? "DeleteRequest.Key" : "PutRequest.Item", r));
        sizes[i] = lens[i] = packed[i] = 0;
        dups[i] = -1;
        if (w->del) {
            TRY(validate_attrs(w->item, r));
        } else {
            TRY(pack_item(be, w->item, &sizes[i], &offs[i], &lens[i], &dups[i], r));
        }
        if (sizes[i] > DX_MAX_ITEM_SIZE)
            return vfail(r, "Item size has exceeded the maximum allowed size");
    }
    mtable *t;
    TRY(lookup(be, q->table, &t, r));

    /* Validate everything before changing anything. */
    keyref krs[MAX_BATCH_WRITE];
    double cost[MAX_BATCH_WRITE];
    for (size_t i = 0; i < n; i++) {
        const dx_write *w = &q->writes[i];
        if (w->del) {
            TRY(validate_key(t, w->item, r));
            keyref_init(t, w->item, &krs[i]);
            cost[i] = 1.0;
        } else {
            TRY(put_key(t, w->item, true, dups[i], &krs[i], r));
            if (!lens[i]) TRY(dx_value_packed_size(w->item, &packed[i], r));
            cost[i] = dx_write_units(sizes[i]);
        }
        for (size_t j = 0; j < i; j++)
            if (krs[i].kh == krs[j].kh && kref_eq(&krs[i].k, &krs[j].k))
                return vfail(r, "Provided list of item keys contains duplicates");
    }

    size_t paid = cap_pay(&t->wb, cost, n);
    if (paid == 0) return throttled(r);
    size_t *unproc = NULL, nunproc = 0;
    if (paid < n) {
        unproc = dx_arena_alloc(a->arena, n * sizeof *unproc);
        if (!unproc) {
            double refund = 0;
            for (size_t i = 0; i < paid; i++) refund += cost[i];
            cap_adjust(&t->wb, -refund);
            return nomem(r);
        }
    }
    for (size_t i = 0; i < paid; i++) kset_prefetch(shard_of(t, krs[i].k.h), krs[i].kh);
    double units = 0, extra = 0;
    size_t nhot = 0;
    for (size_t i = 0; i < n; i++) {
        const dx_write *w = &q->writes[i];
        if (i >= paid) {
            unproc[nunproc++] = i;
            continue;
        }
        shard *s = shard_of(t, krs[i].k.h);
        where wh = {0};
        ent e, old = {0};
        bool ok = true, hot = false;
        pthread_mutex_lock(&s->mu);
        if (!part_pay(t, s, krs[i].k.h, true, cost[i])) {
            hot = true;
        } else if (!shard_find(s, &krs[i], &wh)) {
            ok = false;
        } else if (w->del) {
            if (wh.cur) shard_remove(s, &krs[i], &wh, &old);
        } else if (lens[i] ? !ent_make_packed(t, s, be->pack.ptr + offs[i], lens[i], sizes[i], &krs[i], &e)
                           : !ent_make(be, t, s, w->item, packed[i], sizes[i], &krs[i], &e)) {
            ok = false;
        } else if (!shard_store(s, &krs[i], &wh, &e, &old)) {
            blk_free(s, e.item, e.cls);
            ok = false;
        }
        double u = w->del ? (old.item ? write_units(&old) : 1.0)
                          : max2(cost[i], old.item ? write_units(&old) : 0);
        if (ok && !hot) part_adjust(t, s, krs[i].k.h, true, u - cost[i]);
        ent_drop(s, &old);
        pthread_mutex_unlock(&s->mu);
        if (hot) {
            /* A hot partition key: handed back, as DynamoDB does, unpaid. */
            if (!unproc && !(unproc = dx_arena_alloc(a->arena, n * sizeof *unproc))) {
                cap_adjust(&t->wb, extra - cost[i]);
                return nomem(r); /* earlier entries are done; see the report */
            }
            extra -= cost[i];
            unproc[nunproc++] = i;
            nhot++;
            continue;
        }
        if (!ok) {
            /* Out of memory for the index: hand the entry back as unprocessed. */
            if (!unproc) {
                unproc = dx_arena_alloc(a->arena, n * sizeof *unproc);
                if (!unproc) return nomem(r); /* earlier entries are done; see the report */
            }
            unproc[nunproc++] = i;
            continue;
        }
        units += u;
        extra += u - cost[i];
    }
    cap_adjust(&t->wb, extra);
    if (nhot && nunproc == n) return key_throttled(r, true); /* nothing could be written */
    a->resp.consumed = units;
    a->resp.unprocessed = nunproc ? unproc : NULL;
    a->resp.nunprocessed = nunproc;
    return DX_OK;
}

static dx_err op_batch_get(mem_be *be, dx_attempt *a) {
    const dx_req *q = &a->req;
    dx_result *r = &a->res;
    size_t n = q->nkeys;
    TRY(check_table_name(q->table, r));
    TRY(check_expr_params(q, q->projection, false, NULL, r));
    if (n == 0 || !q->keys)
        return vfail(r,
                     "1 validation error detected: Value '[]' at 'requestItems.%s.member.keys' failed "
                     "to satisfy constraint: Member must have length greater than or equal to 1",
                     q->table);
    dx_projection *proj = NULL;
    if (q->projection || q->names || q->values) {
        dx_expr_env env;
        TRY(env_init(be, q, &env, r));
        if (q->projection) TRY(dx_proj_parse(&be->scratch, &env, q->projection, &proj, r));
        TRY(dx_expr_env_check_unused(&env, r));
    }
    for (size_t i = 0; i < n; i++) {
        TRY(require_map(&q->keys[i], "Keys.member", r));
        TRY(validate_attrs(&q->keys[i], r));
    }
    if (n > MAX_BATCH_GET) return vfail(r, "Too many items requested for the BatchGetItem call");
    TRY(need_arena(a, r));
    mtable *t;
    TRY(lookup(be, q->table, &t, r));
    keyref *krs = dx_arena_alloc(&be->scratch, n * sizeof *krs);
    double *cost = dx_arena_alloc(&be->scratch, n * sizeof *cost);
    if (!krs || !cost) return nomem(r);
    double est = read_units(0, q->consistent);
    for (size_t i = 0; i < n; i++) {
        TRY(validate_key(t, &q->keys[i], r));
        keyref_init(t, &q->keys[i], &krs[i]);
        for (size_t j = 0; j < i; j++)
            if (krs[i].kh == krs[j].kh && kref_eq(&krs[i].k, &krs[j].k))
                return vfail(r, "Provided list of item keys contains duplicates");
        cost[i] = est;
    }
    size_t paid = cap_pay(&t->rb, cost, n);
    if (paid == 0) return throttled(r);
    dx_value *items = dx_arena_alloc(a->arena, n * sizeof *items);
    size_t *unproc = dx_arena_alloc(a->arena, n * sizeof *unproc);
    if (!items || !unproc) return nomem(r);
    size_t nitems = 0, nunproc = 0, total = 0, nhot = 0;
    double units = 0;
    for (size_t i = 0; i < n; i++) {
        if (i >= paid) {
            unproc[nunproc++] = i;
            continue;
        }
        shard *s = shard_of(t, krs[i].k.h);
        where wh = {0};
        dx_err err = DX_OK;
        bool over = false;
        size_t size = 0;
        pthread_mutex_lock(&s->mu);
        bool hot = !part_pay(t, s, krs[i].k.h, false, est);
        if (!hot && !shard_find(s, &krs[i], &wh)) err = nomem(r);
        const ent *cur = wh.cur;
        if (cur) {
            size = cur->size;
            if (total + size > BATCH_GET_BYTES) {
                over = true; /* the response is full: dynalite hands it back */
            } else {
                total += size;
                if (ent_unpack(t, cur, a->arena, true, &items[nitems]) != DX_OK) err = nomem(r);
            }
        }
        if (!hot) part_adjust(t, s, krs[i].k.h, false, (over ? 1.0 : read_units(size, q->consistent)) - est);
        pthread_mutex_unlock(&s->mu);
        if (err) return err;
        if (hot) { /* a hot partition key: handed back, unpaid */
            unproc[nunproc++] = i;
            nhot++;
            continue;
        }
        if (over) {
            unproc[nunproc++] = i;
            units += 1; /* dynalite counts 1 for a key it hands back */
            continue;
        }
        units += read_units(size, q->consistent);
        if (cur && proj) {
            dx_value pv;
            if (dx_proj_apply(proj, a->arena, &items[nitems], &pv) != DX_OK) return nomem(r);
            items[nitems] = pv;
        }
        if (cur) nitems++;
    }
    cap_adjust(&t->rb, units - est * (double)paid);
    if (nhot && nunproc == n) return key_throttled(r, false); /* nothing could be read */
    a->resp.consumed = units;
    a->resp.items = nitems ? items : NULL;
    a->resp.nitems = nitems;
    a->resp.unprocessed = nunproc ? unproc : NULL;
    a->resp.nunprocessed = nunproc;
    return DX_OK;
}

/* ---------------------------------------------------------------- query and scan */

/* One page of results being collected. */
typedef struct page {
    dx_attempt *a;
    const mtable *t;
    dx_arena *scratch; /* the engine's, for filtering */
    const dx_cond *filter;
    uint32_t limit;
    dx_list_builder out;
    size_t scanned, bytes;
    bool full;
} page;

/* Takes entry e (under its shard's lock): counts it, filters, copies. */
static dx_err page_take(page *pg, const ent *e) {
    pg->scanned++;
    pg->bytes += e->size;
    bool keep = true;
    if (pg->filter) {
        dx_value v;
        if (ent_unpack(pg->t, e, pg->scratch, false, &v) != DX_OK) return nomem(&pg->a->res);
        TRY(dx_cond_eval(pg->filter, &v, &keep, &pg->a->res));
    }
    if (keep) {
        dx_value *slot = dx_listb_add(&pg->out);
        if (!slot || ent_unpack(pg->t, e, pg->a->arena, true, slot) != DX_OK)
            return nomem(&pg->a->res);
    }
    if ((pg->limit && pg->scanned >= pg->limit) || pg->bytes >= PAGE_BYTES) {
        pg->full = true;
        TRY(key_of(pg->a, pg->t, e, &pg->a->resp.last_key));
    }
    return DX_OK;
}

static dx_err page_finish(page *pg, const dx_projection *proj, bool consistent) {
    dx_attempt *a = pg->a;
    dx_value list = dx_listb_finish(&pg->out, DX_T_L);
    a->resp.items = list.n ? list.u.elems : NULL;
    a->resp.nitems = list.n;
    a->resp.scanned = pg->scanned;
    a->resp.consumed = (double)((pg->bytes + 4095) / 4096) * (consistent ? 1.0 : 0.5);
    for (size_t i = 0; proj && i < a->resp.nitems; i++) {
        dx_value pv;
        if (dx_proj_apply(proj, a->arena, &a->resp.items[i], &pv) != DX_OK) return nomem(&a->res);
        a->resp.items[i] = pv;
    }
    return DX_OK;
}

/* Validates an ExclusiveStartKey against the table's key schema. */
static dx_err validate_start_key(const mtable *t, const dx_value *k, dx_result *r) {
    for (uint32_t i = 0; i < k->n; i++) {
        dx_err err = dx_value_validate(&k->u.members[i].value, k->u.members[i].name, r);
        if (err) {
            if (!strstr(r->message, "contains duplicates") && !strstr(r->message, "number set") &&
                !strstr(r->message, "numeric value") && !strstr(r->message, "significant digits") &&
                !strstr(r->message, "number with magnitude")) {
                char msg[sizeof r->message];
                snprintf(msg, sizeof msg, "%s", r->message);
                return vfail(r, "The provided starting key is invalid: %s", msg);
            }
            return err;
        }
    }
    uint32_t want = t->range_name ? 2 : 1;
    if (k->n != want) return vfail(r, "The provided starting key is invalid: %s", MSG_SCHEMA);
    dx_result tmp;
    dx_result_clear(&tmp);
    if (validate_key(t, k, &tmp) != DX_OK)
        return vfail(r, "The provided starting key is invalid: %s", tmp.message);
    return DX_OK;
}

/* Does sort key rk satisfy the key condition (operands canonical)? */
static bool range_ok(dx_key_op op, const dx_value *r1, const dx_value *r2, const dx_value *rk) {
    int c;
    switch (op) {
    case DX_KEY_OP_NONE:
        return true;
    case DX_KEY_OP_EQ:
        return scalar_cmp(rk, r1) == 0;
    case DX_KEY_OP_LT:
        return scalar_cmp(rk, r1) < 0;
    case DX_KEY_OP_LE:
        return scalar_cmp(rk, r1) <= 0;
    case DX_KEY_OP_GT:
        return scalar_cmp(rk, r1) > 0;
    case DX_KEY_OP_GE:
        return scalar_cmp(rk, r1) >= 0;
    case DX_KEY_OP_BETWEEN:
        c = scalar_cmp(rk, r1);
        return c >= 0 && scalar_cmp(rk, r2) <= 0;
    case DX_KEY_OP_BEGINS_WITH:
        return rk->n >= r1->n && (r1->n == 0 || memcmp(rk->u.s, r1->u.s, r1->n) == 0);
    }
    return false;
}

/* The least byte string greater than every string starting with p; false when none. */
static bool prefix_successor(dx_arena *ar, const dx_value *p, dx_value *out) {
    size_t n = p->n;
    while (n > 0 && (unsigned char)p->u.s[n - 1] == 0xff) n--;
    if (n == 0) return false;
    char *s = dx_arena_alloc(ar, n);
    if (!s) return false;
    memcpy(s, p->u.s, n);
    s[n - 1] = (char)((unsigned char)s[n - 1] + 1);
    *out = *p;
    out->u.s = s;
    out->n = (uint32_t)n;
    return true;
}

static dx_err op_query(mem_be *be, dx_attempt *a) {
    const dx_req *q = &a->req;
    dx_result *r = &a->res;
    TRY(check_table_name(q->table, r));
    if (!q->key_condition)
        return vfail(r, "Either the KeyConditions or KeyConditionExpression parameter must be "
                        "specified in the request.");
    if (q->start_key) TRY(require_map(q->start_key, "exclusiveStartKey", r));
    TRY(need_arena(a, r));
    /* The key condition is parsed against the key schema: the table comes first. */
    mtable *t;
    TRY(lookup(be, q->table, &t, r));
    dx_expr_env env;
    dx_key_cond kc;
    dx_cond *filter = NULL;
    dx_projection *proj = NULL;
    TRY(env_init(be, q, &env, r));
    TRY(dx_key_cond_parse(&be->scratch, &env, q->key_condition, t->hash_name, t->range_name, &kc, r));
    TRY(parse_cond(be, &env, "FilterExpression", q->filter, &filter, r));
    if (q->projection) TRY(dx_proj_parse(&be->scratch, &env, q->projection, &proj, r));
    TRY(dx_expr_env_check_unused(&env, r));
    if (filter) {
        const char *keys[2] = {t->hash_name, t->range_name};
        for (int i = 0; i < 2; i++)
            if (keys[i] && dx_cond_refs(filter, keys[i]))
                return vfail(r, "Filter Expression can only contain non-primary key attributes: "
                                "Primary key attribute: %s",
                             keys[i]);
    }

    if (kc.hash.type != (uint32_t)t->hash_type ||
        (kc.range_op != DX_KEY_OP_NONE && kc.r1.type != (uint32_t)t->range_type) ||
        (kc.range_op == DX_KEY_OP_BETWEEN && kc.r2.type != (uint32_t)t->range_type))
        return vfail(r, "%sCondition parameter type does not match schema type", MSG_INVALID);
    if (kc.range_op == DX_KEY_OP_BEGINS_WITH && t->range_type == DX_T_N)
        return vfail(r, "%sComparisonOperator BEGINS_WITH is not valid for N AttributeValue type",
                     MSG_INVALID);
    char hbuf[DX_NUM_TEXT_MAX], b1[DX_NUM_TEXT_MAX], b2[DX_NUM_TEXT_MAX];
    dx_value hv, r1 = {0}, r2 = {0};
    canon_scalar(&kc.hash, &hv, hbuf);
    if (kc.range_op != DX_KEY_OP_NONE) canon_scalar(&kc.r1, &r1, b1);
    if (kc.range_op == DX_KEY_OP_BETWEEN) {
        canon_scalar(&kc.r2, &r2, b2);
        if (scalar_cmp(&r1, &r2) > 0)
            return vfail(r, "The BETWEEN condition was provided a range where the lower bound is "
                            "greater than the upper bound");
    }
    uint64_t h = key_hash(&hv);
    keyref esk;
    if (q->start_key) {
        TRY(validate_start_key(t, q->start_key, r));
        keyref_init(t, q->start_key, &esk);
        if (esk.k.h != h || scalar_cmp(&esk.pk, &hv) != 0) {
            if (kc.range_op == DX_KEY_OP_NONE)
                return vfail(r, "The provided starting key is outside query boundaries based on "
                                "provided conditions");
            return vfail(r, "The query can return at most one row and cannot be restarted");
        }
        if (kc.range_op != DX_KEY_OP_NONE && !range_ok(kc.range_op, &r1, &r2, &esk.rk))
            return vfail(r, "The provided starting key does not match the range key predicate");
    }

    double est = q->consistent ? 1.0 : 0.5;
    if (!cap_pay1(&t->rb, est)) return throttled(r);

    page pg = {.a = a, .t = t, .scratch = &be->scratch, .filter = filter, .limit = q->limit,
               .out = {.arena = a->arena}};
    shard *s = shard_of(t, h);
    kref k = {h, &hv, NULL, -1};
    bool strict = false;
    dx_value succ;
    if (q->start_key) {
        k = esk.k;
        strict = !q->backward;
    } else if (!q->backward) {
        switch (kc.range_op) {
        case DX_KEY_OP_EQ:
        case DX_KEY_OP_GE:
        case DX_KEY_OP_BETWEEN:
        case DX_KEY_OP_BEGINS_WITH:
            k.rk = &r1;
            break;
        case DX_KEY_OP_GT:
            k.rk = &r1;
            strict = true;
            break;
        case DX_KEY_OP_NONE:
        case DX_KEY_OP_LT:
        case DX_KEY_OP_LE:
            break;
        }
    } else {
        /* Backward: start just before the first entry past the upper end. */
        k.inf = 1;
        switch (kc.range_op) {
        case DX_KEY_OP_EQ:
        case DX_KEY_OP_LE:
            k.rk = &r1;
            strict = true;
            break;
        case DX_KEY_OP_BETWEEN:
            k.rk = &r2;
            strict = true;
            break;
        case DX_KEY_OP_LT:
            k.rk = &r1;
            break;
        case DX_KEY_OP_BEGINS_WITH:
            if (prefix_successor(&be->scratch, &r1, &succ)) k.rk = &succ;
            break;
        case DX_KEY_OP_NONE:
        case DX_KEY_OP_GT:
        case DX_KEY_OP_GE:
            break;
        }
    }
    dx_err err = DX_OK;
    pthread_mutex_lock(&s->mu);
    if (!part_pay(t, s, h, false, est)) {
        pthread_mutex_unlock(&s->mu);
        cap_adjust(&t->rb, -est);
        return key_throttled(r, false);
    }
    if (!settle(s)) {
        pthread_mutex_unlock(&s->mu);
        return nomem(r);
    }
    pos p = bound(s, &k, strict);
    bool ok = q->backward ? pos_prev(s, &p) : pos_valid(s, p);
    while (ok && !err && !pg.full) {
        const ent *e = at(s, p);
        if (e->h != h || scalar_cmp(e->pk, &hv) != 0) break;
        if (e->rk && !range_ok(kc.range_op, &r1, &r2, e->rk)) break;
        err = page_take(&pg, e);
        if (q->backward) {
            ok = pos_prev(s, &p);
        } else {
            pos_next(s, &p);
            ok = pos_valid(s, p);
        }
    }
    /* What page_finish will count as consumed, paid by the partition while it is locked. */
    part_adjust(t, s, h, false, (double)((pg.bytes + 4095) / 4096) * (q->consistent ? 1.0 : 0.5) - est);
    pthread_mutex_unlock(&s->mu);
    if (err) return err;
    TRY(page_finish(&pg, proj, q->consistent));
    cap_adjust(&t->rb, a->resp.consumed - est);
    return DX_OK;
}

/* First h of segment s of total (s == total: past the end, 2^64 as 0 with *end). */
static uint64_t segment_start(uint64_t s, uint64_t total) {
    uint64_t q0 = UINT64_MAX / total, r0 = UINT64_MAX % total + 1; /* 2^64 = q0 * total + r0 */
    if (r0 == total) {
        q0++;
        r0 = 0;
    }
    return s * q0 + s * r0 / total;
}

static dx_err op_scan(mem_be *be, dx_attempt *a) {
    const dx_req *q = &a->req;
    dx_result *r = &a->res;
    TRY(check_table_name(q->table, r));
    TRY(check_expr_params(q, q->filter || q->projection, q->filter, "FilterExpression is null", r));
    if (q->start_key) TRY(require_map(q->start_key, "exclusiveStartKey", r));
    if (q->segment && !q->total_segments)
        return vfail(r, "The TotalSegments parameter is required but was not present in the request "
                        "when Segment parameter is present");
    if (q->total_segments > MAX_SEGMENTS)
        return vfail(r,
                     "1 validation error detected: Value '%u' at 'totalSegments' failed to satisfy "
                     "constraint: Member must have value less than or equal to %d",
                     (unsigned)q->total_segments, MAX_SEGMENTS);
    if (q->total_segments && q->segment >= q->total_segments)
        return vfail(r,
                     "The Segment parameter is zero-based and must be less than parameter "
                     "TotalSegments: Segment: %u is not less than TotalSegments: %u",
                     (unsigned)q->segment, (unsigned)q->total_segments);
    dx_cond *filter = NULL;
    dx_projection *proj = NULL;
    if (q->filter || q->projection || q->names || q->values) {
        dx_expr_env env;
        TRY(env_init(be, q, &env, r));
        TRY(parse_cond(be, &env, "FilterExpression", q->filter, &filter, r));
        if (q->projection) TRY(dx_proj_parse(&be->scratch, &env, q->projection, &proj, r));
        TRY(dx_expr_env_check_unused(&env, r));
    }
    TRY(need_arena(a, r));
    mtable *t;
    TRY(lookup(be, q->table, &t, r));

    uint64_t lo = 0, hi = UINT64_MAX; /* inclusive h range of the segment */
    if (q->total_segments > 1) {
        lo = segment_start(q->segment, q->total_segments);
        if (q->segment + 1 < q->total_segments) hi = segment_start(q->segment + 1, q->total_segments) - 1;
    }
    keyref esk;
    kref k = {lo, NULL, NULL, -1};
    bool strict = false;
    if (q->start_key) {
        TRY(validate_start_key(t, q->start_key, r));
        keyref_init(t, q->start_key, &esk);
        if (esk.k.h < lo || esk.k.h > hi)
            return vfail(r,
                         "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use "
                         "ExclusiveStartKey with correct Segment. TotalSegments: %u Segment: %u",
                         (unsigned)q->total_segments, (unsigned)q->segment);
        k = esk.k;
        strict = true;
    }
    double est = q->consistent ? 1.0 : 0.5;
    if (!cap_pay1(&t->rb, est)) return throttled(r);

    page pg = {.a = a, .t = t, .scratch = &be->scratch, .filter = filter, .limit = q->limit,
               .out = {.arena = a->arena}};
    dx_err err = DX_OK;
    bool end = false;
    uint32_t first = shard_index(t, k.h), last = shard_index(t, hi);
    for (uint32_t si = first; si <= last && !end && !err && !pg.full; si++) {
        shard *s = &t->shards[si];
        pthread_mutex_lock(&s->mu);
        if (!settle(s)) {
            pthread_mutex_unlock(&s->mu);
            err = nomem(r);
            break;
        }
        pos p = {0, 0};
        if (si == first) p = bound(s, &k, strict);
        while (pos_valid(s, p) && !err && !pg.full) {
            const ent *e = at(s, p);
            if (e->h > hi) {
                end = true;
                break;
            }
            err = page_take(&pg, e);
            pos_next(s, &p);
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (err) return err;
    TRY(page_finish(&pg, proj, q->consistent));
    cap_adjust(&t->rb, a->resp.consumed - est);
    return DX_OK;
}

/* ---------------------------------------------------------------- the vtable */

static dx_err run(mem_be *be, dx_attempt *a) {
    switch (a->req.op) {
    case DX_OP_PUT:
        return op_put(be, a);
    case DX_OP_GET:
        return op_get(be, a);
    case DX_OP_UPDATE:
        return op_update(be, a);
    case DX_OP_DELETE:
        return op_delete(be, a);
    case DX_OP_BATCH_WRITE:
        return op_batch_write(be, a);
    case DX_OP_BATCH_GET:
        return op_batch_get(be, a);
    case DX_OP_QUERY:
        return op_query(be, a);
    case DX_OP_SCAN:
        return op_scan(be, a);
    case DX_OP_CREATE_TABLE:
        return op_create_table(be, a);
    case DX_OP_DESCRIBE_TABLE:
        return op_describe(be, a);
    case DX_OP_DELETE_TABLE:
        return op_delete_table(be, a);
    case DX_OP_DESCRIBE_BACKUPS:
        return op_describe(be, a);
    case DX_OP_NONE:
    case DX_OP__COUNT:
        break;
    }
    return dx_fail(&a->res, DX_ERR_UNSUPPORTED, NULL, "the memory backend does not support %s",
                   dx_op_name(a->req.op));
}

static void be_start(void *bev, dx_attempt *a) {
    mem_be *be = bev;
    dx_arena_reset(&be->scratch);
    memset(&a->resp, 0, sizeof a->resp);
    dx_result_clear(&a->res);
    dx_err err = run(be, a);
    if (be->pack.cap > PACK_KEEP) dx_buf_free(&be->pack); /* a batch of big items: let it go */
    if (err != DX_OK) {
        if (a->res.err == DX_OK) dx_fail(&a->res, err, NULL, "%s", dx_strerror(err));
        a->res.err = err;
        decorate(&a->res);
        a->resp.consumed = 0;
    }
    dx_attempt_done(a);
}

static size_t be_poll(void *be, int timeout_ms) {
    (void)be;
    (void)timeout_ms;
    return 0;
}

static void *be_new(void *impl) {
    mem_be *be = calloc(1, sizeof *be);
    if (be) be->impl = impl;
    return be;
}

static void be_free(void *bev) {
    mem_be *be = bev;
    if (!be) return;
    for (unsigned i = 0; i < BE_CACHE; i++) table_unref(be->cache[i].t);
    dx_arena_release(&be->scratch);
    dx_buf_free(&be->pack);
    free(be);
}

static void impl_free(void *p) {
    mem_impl *m = p;
    if (!m) return;
    for (size_t i = 0; i < m->ntables; i++) table_unref(m->tables[i]);
    free(m->tables);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static const dx_backend_vt mem_vt = {
    .name = "memory",
    .engine_new = be_new,
    .engine_free = be_free,
    .start = be_start,
    .poll = be_poll,
    .impl_free = impl_free,
};

dx_err dx_mem_client_new(const dx_mem_opts *opts, const dx_client_opts *copts, dx_client **out) {
    if (!out) return DX_ERR_INVALID_ARG;
    *out = NULL;
    mem_impl *m = calloc(1, sizeof *m);
    if (!m) return DX_ERR_NOMEM;
    if (opts) m->opts = *opts;
    if (!m->opts.shards) m->opts.shards = DEFAULT_SHARDS;
    if (m->opts.shards > (1u << MAX_SHARD_BITS)) m->opts.shards = 1u << MAX_SHARD_BITS;
    if (!m->opts.burst_ms) m->opts.burst_ms = 1000;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
    /* Table creation must not starve behind a stream of lookups. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    int rc = pthread_rwlock_init(&m->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        free(m);
        return DX_ERR_NOMEM;
    }
    atomic_init(&m->gen, 1);
    return dx_client_wrap_(&mem_vt, m, copts, out);
}

/* ---------------------------------------------------------------- dump and count */

static dx_err mem_table_of(dx_client *c, const char *table, mtable **out, dx_result *r) {
    *out = NULL;
    if (!c || !table) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "no client or table given");
    if (strcmp(dx_client_backend(c), "memory") != 0)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL,
                       "dump and count need a memory client, this one is %s", dx_client_backend(c));
    *out = table_get(dx_client_impl_(c), table);
    if (!*out) {
        dx_err e = not_found(r, table, true);
        if (r) decorate(r);
        return e;
    }
    return DX_OK;
}

typedef struct dump_row {
    dx_value item;
    const dx_value *pk, *rk;
} dump_row;

static int dump_cmp(const void *x, const void *y) {
    const dump_row *a = x, *b = y;
    int c = scalar_cmp(a->pk, b->pk);
    if (c || !a->rk) return c;
    return scalar_cmp(a->rk, b->rk);
}

dx_err dx_mem_dump(dx_client *c, const char *table, FILE *out, dx_result *r) {
    mtable *t;
    TRY(mem_table_of(c, table, &t, r));
    dx_arena ar = {0};
    dump_row *rows = NULL;
    size_t n = 0, cap = 0;
    dx_buf b = {0};
    dx_err err = DX_OK;
    /* Copy shard by shard, so no lock is held while sorting or writing. */
    for (uint32_t si = 0; si < t->nshards && !err; si++) {
        shard *s = &t->shards[si];
        pthread_mutex_lock(&s->mu);
        if (!settle(s)) err = nomem(r);
        for (uint32_t ci = 0; ci < s->nc && !err; ci++) {
            const chunk *ch = s->c[ci];
            for (uint32_t i = 0; i < ch->n && !err; i++) {
                if (n == cap) {
                    size_t ncap = cap ? cap * 2 : 256;
                    dump_row *v = realloc(rows, ncap * sizeof *v);
                    if (!v) {
                        err = nomem(r);
                        break;
                    }
                    rows = v;
                    cap = ncap;
                }
                dump_row *row = &rows[n];
                if (ent_unpack(t, &ch->e[i], &ar, true, &row->item) != DX_OK) {
                    err = nomem(r);
                    break;
                }
                row->pk = dx_map_get(&row->item, t->hash_name);
                row->rk = t->range_name ? dx_map_get(&row->item, t->range_name) : NULL;
                n++;
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (!err && n) qsort(rows, n, sizeof *rows, dump_cmp);
    for (size_t i = 0; i < n && !err; i++) {
        dx_buf_clear(&b);
        err = dx_encode_item(&b, &rows[i].item);
        if (err) {
            dx_fail(r, err, NULL, "could not encode an item of table %s", table);
            break;
        }
        if (!dx_buf_putc(&b, '\n')) {
            err = nomem(r);
            break;
        }
        if (fwrite(b.ptr, 1, b.len, out) != b.len) {
            err = dx_fail(r, DX_ERR_IO, NULL, "could not write the dump of table %s", table);
            break;
        }
    }
    if (!err && fflush(out) != 0)
        err = dx_fail(r, DX_ERR_IO, NULL, "could not write the dump of table %s", table);
    dx_buf_free(&b);
    free(rows);
    dx_arena_release(&ar);
    table_unref(t);
    return err;
}

dx_err dx_mem_count(dx_client *c, const char *table, uint64_t *out, dx_result *r) {
    mtable *t;
    TRY(mem_table_of(c, table, &t, r));
    table_totals(t, out, NULL);
    table_unref(t);
    return DX_OK;
}
