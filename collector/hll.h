/* HyperLogLog sketches that Redis can merge: the same hash (MurmurHash64A, seed 0xadc83b19),
 * 16384 registers and rank rule as Redis's PFADD, so a sketch built here and written with
 * SET + PFMERGE is the sketch PFADD would have built from the same members. Members are the
 * raw address bytes (4 for IPv4, 16 for IPv6).
 *
 * Why not PFADD: it would send every distinct address to Redis on every flush; a sketch is at
 * most 12 KiB whatever the number of flows, and sparse (a few bytes) for the many small ports.
 * In memory a sketch starts as a small table of (register, rank) that doubles as it fills (64
 * slots, 256 bytes, up to 1024 slots, 4 KiB) and becomes 16384 bytes of registers only past
 * PS_HLL_SPARSE_MAX registers: most ports of a minute set tens to hundreds of registers, and
 * with a sketch kept for a whole bucket, thousands of 16-KiB sketches were most of the
 * collector's memory (tests/bench/README.md: peak RSS 300 -> 197 MB at 10,000 ports). */
#pragma once

#include <glib.h>

#define PS_HLL_P               14 /* register index bits */
#define PS_HLL_REGISTERS       (1 << PS_HLL_P)
#define PS_HLL_SPARSE_MIN_BITS 6   /* 64 slots at first */
#define PS_HLL_SPARSE_MAX_BITS 10  /* 1024 slots at most */
#define PS_HLL_SPARSE_MAX      768 /* registers (3/4 of the largest table); past this, dense */
#define PS_HLL_SERIALIZED_MAX  (16 + 12288) /* Redis's dense size */

typedef struct {
    guint8 *dense;   /* PS_HLL_REGISTERS ranks, or NULL while sparse */
    guint32 *sparse; /* 1 << sparse_bits of index << 8 | rank (0: empty), or NULL */
    guint16 n_sparse;
    guint8 sparse_bits;
} PsHll;

/* The slot of the sparse table where register index is looked for first. */
static inline guint
ps_hll_sparse_slot(guint index, guint bits)
{
    return (index * 2654435761u) >> (32 - bits);
}

#define PS_HLL_SEED 0xadc83b19u
#define PS_HLL_MURMUR_M 0xc6a4a7935bd1e995ULL

/* Redis's MurmurHash64A of a member, with its seed. */
guint64 ps_hll_hash(const void *member, gsize len);

/* The same hash of a 4-byte member (an IPv4 address), unrolled: the generic one's loop and
 * tail switch were two thirds of its instructions, and every flow hashes two addresses. */
static inline guint64
ps_hll_hash4(const guint8 member[4])
{
    guint64 h = PS_HLL_SEED ^ (4 * PS_HLL_MURMUR_M);

    h ^= (guint64)member[3] << 24 | (guint64)member[2] << 16 | (guint64)member[1] << 8 |
         member[0];
    h *= PS_HLL_MURMUR_M;
    h ^= h >> 47;
    h *= PS_HLL_MURMUR_M;
    h ^= h >> 47;
    return h;
}

/* Sets a register to rank if that raises it (the general case of ps_hll_add_hash). */
gboolean ps_hll_set_register(PsHll *hll, guint index, guint8 rank);

/* Adds a member by its hash. Returns TRUE when a register changed. Inline for the common
 * case of a flow: the register is there already, as high, in the dense array or in the first
 * slot the sparse table looks at. */
static inline gboolean
ps_hll_add_hash(PsHll *hll, guint64 hash)
{
    guint index = hash & (PS_HLL_REGISTERS - 1);
    guint64 rest = hash >> PS_HLL_P | 1ULL << (64 - PS_HLL_P); /* the top bit ends the count */
    guint8 rank = (guint8)(__builtin_ctzll(rest) + 1);

    if (hll->dense != NULL && hll->dense[index] >= rank)
        return FALSE;
    if (hll->sparse != NULL) {
        guint32 entry = hll->sparse[ps_hll_sparse_slot(index, hll->sparse_bits)];
        if (entry >> 8 == index && (entry & 0xff) >= rank)
            return FALSE;
    }
    return ps_hll_set_register(hll, index, rank);
}

/* Adds another sketch's registers (union). */
void ps_hll_merge(PsHll *hll, const PsHll *other);

/* Writes the sketch in Redis's string format (sparse when it fits, else dense) into out and
 * returns its length. */
gsize ps_hll_serialize(const PsHll *hll, guint8 out[PS_HLL_SERIALIZED_MAX]);

/* Estimated cardinality (Redis's estimator is not reproduced: for tests and logs). */
guint64 ps_hll_estimate(const PsHll *hll);

/* Bytes of memory the sketch holds. */
gsize ps_hll_memory(const PsHll *hll);

void ps_hll_clear(PsHll *hll);
