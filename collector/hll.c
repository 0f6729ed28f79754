#include "config.h"

#include <math.h>
#include <string.h>

#include "hll.h"

#define SPARSE_VAL_MAX 32 /* Redis sparse VAL opcodes hold ranks 1..32 */

guint64
ps_hll_hash(const void *member, gsize len)
{
    const guint64 m = PS_HLL_MURMUR_M;
    const int r = 47;
    const guint8 *data = member;
    const guint8 *end = data + (len - (len & 7));
    guint64 h = PS_HLL_SEED ^ (len * m);

    while (data != end) {
        guint64 k;
        memcpy(&k, data, 8); /* little-endian hosts, as Redis on x86 and ARM */
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
        data += 8;
    }
    switch (len & 7) {
    case 7:
        h ^= (guint64)data[6] << 48; /* fall through */
    case 6:
        h ^= (guint64)data[5] << 40; /* fall through */
    case 5:
        h ^= (guint64)data[4] << 32; /* fall through */
    case 4:
        h ^= (guint64)data[3] << 24; /* fall through */
    case 3:
        h ^= (guint64)data[2] << 16; /* fall through */
    case 2:
        h ^= (guint64)data[1] << 8; /* fall through */
    case 1:
        h ^= (guint64)data[0];
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

static gboolean
set_dense(PsHll *hll, guint index, guint8 rank)
{
    if (hll->dense[index] >= rank)
        return FALSE;
    hll->dense[index] = rank;
    return TRUE;
}

static guint
sparse_capacity(const PsHll *hll)
{
    return hll->sparse != NULL ? 1u << hll->sparse_bits : 0;
}

/* Puts an entry for a register not in the table yet (there is room). */
static void
insert_sparse(guint32 *table, guint bits, guint32 entry)
{
    guint mask = (1u << bits) - 1;
    guint slot = ps_hll_sparse_slot(entry >> 8, bits);

    while (table[slot] != 0)
        slot = (slot + 1) & mask;
    table[slot] = entry;
}

static void
make_dense(PsHll *hll)
{
    hll->dense = g_malloc0(PS_HLL_REGISTERS);
    for (guint i = 0; i < sparse_capacity(hll); i++) {
        if (hll->sparse[i] != 0)
            set_dense(hll, hll->sparse[i] >> 8, hll->sparse[i] & 0xff);
    }
    g_clear_pointer(&hll->sparse, g_free);
    hll->n_sparse = 0;
}

/* Doubles the sparse table, or turns the sketch dense when the table is as large as it gets
 * (kept at most 3/4 full, so that a lookup stays one or two probes). */
static void
grow_sparse(PsHll *hll)
{
    guint old_capacity = sparse_capacity(hll);
    guint32 *old = hll->sparse;

    if (hll->sparse_bits >= PS_HLL_SPARSE_MAX_BITS) {
        make_dense(hll);
        return;
    }
    hll->sparse_bits++;
    hll->sparse = g_new0(guint32, 1u << hll->sparse_bits);
    for (guint i = 0; i < old_capacity; i++) {
        if (old[i] != 0)
            insert_sparse(hll->sparse, hll->sparse_bits, old[i]);
    }
    g_free(old);
}

/* The sparse form is a small open-addressing table of (register << 8 | rank), keyed by the
 * register: a lookup is one or two probes, not a scan. */
gboolean
ps_hll_set_register(PsHll *hll, guint index, guint8 rank)
{
    guint slot, mask;

    if (hll->dense != NULL)
        return set_dense(hll, index, rank);
    if (hll->sparse == NULL) {
        hll->sparse_bits = PS_HLL_SPARSE_MIN_BITS;
        hll->sparse = g_new0(guint32, 1u << hll->sparse_bits);
    }
    mask = sparse_capacity(hll) - 1;
    slot = ps_hll_sparse_slot(index, hll->sparse_bits);
    while (hll->sparse[slot] != 0) {
        if (hll->sparse[slot] >> 8 == index) {
            if ((hll->sparse[slot] & 0xff) >= rank)
                return FALSE;
            hll->sparse[slot] = index << 8 | rank;
            return TRUE;
        }
        slot = (slot + 1) & mask;
    }
    if ((hll->n_sparse + 1u) * 4 > sparse_capacity(hll) * 3) {
        grow_sparse(hll);
        return ps_hll_set_register(hll, index, rank);
    }
    hll->sparse[slot] = index << 8 | rank;
    hll->n_sparse++;
    return TRUE;
}

void
ps_hll_merge(PsHll *hll, const PsHll *other)
{
    if (other->dense != NULL) {
        if (hll->dense == NULL)
            make_dense(hll);
        for (guint i = 0; i < PS_HLL_REGISTERS; i++)
            set_dense(hll, i, other->dense[i]);
        return;
    }
    for (guint i = 0; i < sparse_capacity(other); i++) {
        if (other->sparse[i] != 0)
            ps_hll_set_register(hll, other->sparse[i] >> 8, other->sparse[i] & 0xff);
    }
}

/* The sparse table's entries, packed (n_sparse of them). */
static guint32 *
sparse_entries(const PsHll *hll)
{
    guint32 *entries = g_new(guint32, MAX(hll->n_sparse, 1));
    guint n = 0;

    for (guint i = 0; i < sparse_capacity(hll); i++) {
        if (hll->sparse[i] != 0)
            entries[n++] = hll->sparse[i];
    }
    return entries;
}

static int
compare_entries(gconstpointer a, gconstpointer b)
{
    guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
    return x < y ? -1 : x > y;
}

static void
write_header(guint8 *out, gboolean sparse)
{
    memset(out, 0, 16);
    memcpy(out, "HYLL", 4);
    out[4] = sparse ? 1 : 0;
    out[15] = 0x80; /* cached cardinality invalid: Redis computes it */
}

/* Runs of zero registers: XZERO (01xxxxxx yyyyyyyy) holds up to 16384, ZERO (00xxxxxx) 64. */
static gsize
write_zeros(guint8 *out, gsize len, guint run)
{
    while (run > 0) {
        guint n = MIN(run, 16384u);
        if (n > 64) {
            out[len++] = 0x40 | ((n - 1) >> 8);
            out[len++] = (n - 1) & 0xff;
        } else {
            out[len++] = n - 1;
        }
        run -= n;
    }
    return len;
}

/* Sparse form of a list of registers, or 0 when a rank is too large for it. */
static gsize
serialize_sparse(const guint32 *entries, guint n, guint8 *out)
{
    g_autofree guint32 *sorted = g_memdup2(entries, n * sizeof(guint32));
    gsize len = 16;
    guint next = 0;

    /* an empty sketch has no entries, and g_memdup2() of none is NULL: qsort() must not see it */
    if (n > 0)
        qsort(sorted, n, sizeof(guint32), compare_entries);
    write_header(out, TRUE);
    for (guint i = 0; i < n; i++) {
        guint index = sorted[i] >> 8, rank = sorted[i] & 0xff;
        if (rank > SPARSE_VAL_MAX)
            return 0;
        len = write_zeros(out, len, index - next);
        out[len++] = 0x80 | (rank - 1) << 2; /* VAL, run of 1 */
        next = index + 1;
    }
    return write_zeros(out, len, PS_HLL_REGISTERS - next);
}

/* Dense form: 6 bits per register, least significant first, as Redis packs them. */
static gsize
serialize_dense(const guint8 *registers, guint8 *out)
{
    guint8 *packed = out + 16;

    write_header(out, FALSE);
    memset(packed, 0, PS_HLL_SERIALIZED_MAX - 16);
    for (guint i = 0; i < PS_HLL_REGISTERS; i++) {
        guint bit = i * 6, byte = bit / 8, shift = bit % 8;
        packed[byte] |= (guint8)(registers[i] << shift);
        if (shift > 2)
            packed[byte + 1] |= (guint8)(registers[i] >> (8 - shift));
    }
    return PS_HLL_SERIALIZED_MAX;
}

/* Redis's sparse form runs to about 3 bytes per set register at worst; past this many the
 * dense form is smaller. */
#define SPARSE_WORTH_MAX 4000

gsize
ps_hll_serialize(const PsHll *hll, guint8 out[PS_HLL_SERIALIZED_MAX])
{
    g_autofree guint32 *entries = NULL;
    g_autofree guint8 *registers = NULL;
    guint n = 0;
    gsize len;

    if (hll->dense == NULL) {
        g_autofree guint32 *packed = sparse_entries(hll);
        len = serialize_sparse(packed, hll->n_sparse, out);
        if (len > 0)
            return len;
        registers = g_malloc0(PS_HLL_REGISTERS);
        for (guint i = 0; i < hll->n_sparse; i++)
            registers[packed[i] >> 8] = packed[i] & 0xff;
        return serialize_dense(registers, out);
    }
    entries = g_new(guint32, SPARSE_WORTH_MAX);
    for (guint i = 0; i < PS_HLL_REGISTERS && n < SPARSE_WORTH_MAX; i++) {
        if (hll->dense[i] != 0)
            entries[n++] = i << 8 | hll->dense[i];
    }
    if (n < SPARSE_WORTH_MAX) {
        len = serialize_sparse(entries, n, out);
        if (len > 0)
            return len;
    }
    return serialize_dense(hll->dense, out);
}

guint64
ps_hll_estimate(const PsHll *hll)
{
    double sum = 0;
    guint zeros = 0;
    const double m = PS_HLL_REGISTERS;
    double estimate;

    for (guint i = 0; i < PS_HLL_REGISTERS; i++) {
        guint8 rank = 0;
        if (hll->dense != NULL)
            rank = hll->dense[i];
        sum += ldexp(1.0, -rank);
        zeros += rank == 0;
    }
    if (hll->dense == NULL) {
        for (guint i = 0; i < sparse_capacity(hll); i++) {
            if (hll->sparse[i] != 0)
                sum += ldexp(1.0, -(int)(hll->sparse[i] & 0xff)) - 1.0;
        }
        zeros -= hll->n_sparse;
    }
    estimate = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (estimate < 2.5 * m && zeros > 0)
        estimate = m * log(m / zeros); /* linear counting for small sets */
    return (guint64)(estimate + 0.5);
}

gsize
ps_hll_memory(const PsHll *hll)
{
    return (hll->dense != NULL ? PS_HLL_REGISTERS : 0) + sparse_capacity(hll) * sizeof(guint32);
}

void
ps_hll_clear(PsHll *hll)
{
    g_clear_pointer(&hll->dense, g_free);
    g_clear_pointer(&hll->sparse, g_free);
    hll->n_sparse = 0;
}
