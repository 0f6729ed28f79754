/* The collector's HyperLogLog sketches through every in-memory form (the sparse table at each
 * of its sizes, then dense): the registers written in Redis's format are exactly the registers
 * PFADD's rule gives for the same hashes. The format is read back here by its own small reader,
 * so that the check does not rest on the code under test. */
#include "config.h"

#include <string.h>

#include "hll.h"

#define HLL_P 14

/* PFADD's rule: the low 14 bits pick the register, the rank is 1 + the trailing zeros above. */
static void
reference_add(guint8 registers[PS_HLL_REGISTERS], guint64 hash)
{
    guint index = hash & (PS_HLL_REGISTERS - 1);
    guint64 rest = hash >> HLL_P | 1ULL << (64 - HLL_P);
    guint8 rank = (guint8)(__builtin_ctzll(rest) + 1);

    registers[index] = MAX(registers[index], rank);
}

/* Redis's sparse opcodes: ZERO 00xxxxxx, XZERO 01xxxxxx yyyyyyyy, VAL 1vvvvvxx. */
static void
read_sparse(const guint8 *data, gsize len, guint8 registers[PS_HLL_REGISTERS])
{
    guint next = 0;

    for (gsize i = 16; i < len; i++) {
        guint8 op = data[i];
        guint run, rank = 0;
        if ((op & 0xc0) == 0x00) {
            run = (op & 0x3f) + 1;
        } else if ((op & 0xc0) == 0x40) {
            g_assert_cmpuint(i + 1, <, len);
            run = ((guint)(op & 0x3f) << 8 | data[++i]) + 1;
        } else {
            rank = ((op >> 2) & 0x1f) + 1;
            run = (op & 0x03) + 1;
        }
        g_assert_cmpuint(next + run, <=, PS_HLL_REGISTERS);
        for (guint r = 0; r < run; r++)
            registers[next++] = (guint8)rank;
    }
    g_assert_cmpuint(next, ==, PS_HLL_REGISTERS);
}

static void
read_dense(const guint8 *data, gsize len, guint8 registers[PS_HLL_REGISTERS])
{
    g_assert_cmpuint(len, ==, 16 + PS_HLL_REGISTERS * 6 / 8);
    for (guint i = 0; i < PS_HLL_REGISTERS; i++) {
        guint bit = i * 6, byte = 16 + bit / 8, shift = bit % 8;
        guint value = data[byte] >> shift;
        if (shift > 2)
            value |= (guint)data[byte + 1] << (8 - shift);
        registers[i] = value & 0x3f;
    }
}

static void
read_serialized(const PsHll *hll, guint8 registers[PS_HLL_REGISTERS])
{
    static guint8 out[PS_HLL_SERIALIZED_MAX];
    gsize len = ps_hll_serialize(hll, out);

    g_assert_cmpmem(out, 4, "HYLL", 4);
    if (out[4] == 1)
        read_sparse(out, len, registers);
    else
        read_dense(out, len, registers);
}

static guint64
next_hash(guint64 *state)
{
    guint64 z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* n distinct members, each added three times in a shuffled order, so that registers are met
 * again with lower and higher ranks. */
static void
check_members(guint n)
{
    g_autofree guint8 *expected = g_malloc0(PS_HLL_REGISTERS);
    g_autofree guint8 *got = g_malloc0(PS_HLL_REGISTERS);
    g_autofree guint64 *hashes = g_new(guint64, MAX(n, 1));
    PsHll hll = {0};
    guint64 state = n;
    guint set = 0;

    for (guint i = 0; i < n; i++)
        hashes[i] = next_hash(&state);
    for (guint round = 0; round < 3; round++) {
        for (guint i = 0; i < n; i++) {
            guint64 hash = hashes[(i * 7919 + round * 31) % n];
            ps_hll_add_hash(&hll, hash);
            reference_add(expected, hash);
        }
    }
    read_serialized(&hll, got);
    g_assert_cmpmem(got, PS_HLL_REGISTERS, expected, PS_HLL_REGISTERS);
    for (guint i = 0; i < PS_HLL_REGISTERS; i++)
        set += expected[i] != 0;
    /* up to PS_HLL_SPARSE_MAX registers a sketch holds at most 4 KiB */
    if (set <= PS_HLL_SPARSE_MAX)
        g_assert_cmpuint(ps_hll_memory(&hll), <=, 4096);
    else
        g_assert_cmpuint(ps_hll_memory(&hll), ==, PS_HLL_REGISTERS);
    ps_hll_clear(&hll);
}

static void
test_every_form(void)
{
    /* around each table size (48, 96, 192, 384 and 768 registers) and dense */
    static const guint sizes[] = {0,   1,    47,   48,   49,   95,   96,    97,    191,
                                  192, 193,  383,  384,  385,  760,  767,   768,   769,
                                  770, 1000, 2000, 3999, 4000, 5000, 20000, 200000};

    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++)
        check_members(sizes[i]);
}

/* Union of sketches in different forms: the registers of both sets together. */
static void
test_merge_forms(void)
{
    static const guint sizes[] = {0, 10, 60, 300, 700, 900, 5000};

    for (guint a = 0; a < G_N_ELEMENTS(sizes); a++) {
        for (guint b = 0; b < G_N_ELEMENTS(sizes); b++) {
            g_autofree guint8 *expected = g_malloc0(PS_HLL_REGISTERS);
            g_autofree guint8 *got = g_malloc0(PS_HLL_REGISTERS);
            PsHll x = {0}, y = {0};
            guint64 state_x = 1000 + a, state_y = 2000 + b;
            for (guint i = 0; i < sizes[a]; i++) {
                guint64 hash = next_hash(&state_x);
                ps_hll_add_hash(&x, hash);
                reference_add(expected, hash);
            }
            for (guint i = 0; i < sizes[b]; i++) {
                guint64 hash = next_hash(&state_y);
                ps_hll_add_hash(&y, hash);
                reference_add(expected, hash);
            }
            ps_hll_merge(&x, &y);
            read_serialized(&x, got);
            g_assert_cmpmem(got, PS_HLL_REGISTERS, expected, PS_HLL_REGISTERS);
            ps_hll_clear(&x);
            ps_hll_clear(&y);
        }
    }
}

/* The estimate goes on counting through the table's growth. */
static void
test_estimate_through_growth(void)
{
    PsHll hll = {0};
    guint64 state = 7;

    for (guint n = 1; n <= 1000; n++) {
        ps_hll_add_hash(&hll, next_hash(&state));
        if (n == 10 || n == 100 || n == 500 || n == 1000) {
            guint64 estimate = ps_hll_estimate(&hll);
            g_assert_cmpuint(estimate, >=, n - n / 50 - 1);
            g_assert_cmpuint(estimate, <=, n + n / 50 + 1);
        }
    }
    ps_hll_clear(&hll);
}

/* The unrolled hash of a 4-byte member is the generic one's, byte order included. */
static void
test_hash4(void)
{
    guint64 state = 1;

    for (guint i = 0; i < 100000; i++) {
        guint8 member[4];
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        memcpy(member, (guint8 *)&state + 4, 4);
        g_assert_cmphex(ps_hll_hash4(member), ==, ps_hll_hash(member, 4));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hll/hash4", test_hash4);
    g_test_add_func("/hll/every-form", test_every_form);
    g_test_add_func("/hll/merge-forms", test_merge_forms);
    g_test_add_func("/hll/estimate-through-growth", test_estimate_through_growth);
    return g_test_run();
}
