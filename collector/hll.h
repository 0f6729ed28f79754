/* HyperLogLog sketches that Redis can merge: the same hash (MurmurHash64A, seed 0xadc83b19),
 * 16384 registers and rank rule as Redis's PFADD, so a sketch built here and written with
 * SET + PFMERGE is the sketch PFADD would have built from the same members. Members are the
 * raw address bytes (4 for IPv4, 16 for IPv6).
 *
 * Why not PFADD: it would send every distinct address to Redis on every flush; a sketch is at
 * most 12 KiB whatever the number of flows, and sparse (a few bytes) for the many small ports.
 * In memory a sketch starts as a short list of (register, rank) and becomes 16384 bytes when
 * it grows past PS_HLL_SPARSE_MAX registers. */
#pragma once

#include <glib.h>

#define PS_HLL_REGISTERS     16384
#define PS_HLL_SPARSE_BITS   6
#define PS_HLL_SPARSE_SLOTS  (1 << PS_HLL_SPARSE_BITS)
#define PS_HLL_SPARSE_MAX    48 /* registers; past this the sketch turns dense */
#define PS_HLL_SERIALIZED_MAX (16 + 12288) /* Redis's dense size */

typedef struct {
    guint8 *dense;      /* PS_HLL_REGISTERS ranks, or NULL while sparse */
    guint32 *sparse;    /* PS_HLL_SPARSE_SLOTS of index << 8 | rank (0: empty), or NULL */
    guint16 n_sparse;
} PsHll;

/* Redis's MurmurHash64A of a member, with its seed. */
guint64 ps_hll_hash(const void *member, gsize len);

/* Asks the CPU for the memory a later ps_hll_add_hash(hash) will touch. */
static inline void
ps_hll_prefetch(const PsHll *hll, guint64 hash)
{
    guint index = hash & (PS_HLL_REGISTERS - 1);

    if (hll->dense != NULL)
        __builtin_prefetch(&hll->dense[index]);
    else if (hll->sparse != NULL)
        __builtin_prefetch(&hll->sparse[(index * 2654435761u) >> (32 - PS_HLL_SPARSE_BITS)]);
}

/* Adds a member by its hash. Returns TRUE when a register changed. */
gboolean ps_hll_add_hash(PsHll *hll, guint64 hash);

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
