/* ps-memfloor: what this machine's memory charges for the kinds of access an aggregation is
 * made of, so that a per-record budget can be checked against it before any code is written.
 *
 * For each working-set size (MiB): a dependent random chase (latency: each load waits for the
 * one before), independent random read-modify-writes of one counter per cache line with the
 * line prefetched PREFETCH_AHEAD updates early (throughput: as many misses in flight as the core
 * allows; a hash-table or sketch update per flow can do no better), one radix-partition pass of
 * 16-byte records into 256 partitions (the unit of a sort-based aggregation), and a sequential
 * copy of the same records. CPU time, best of three; run it pinned (taskset -c 1) on an idle
 * machine. See README.md, "The memory floor". */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cpu_time.h"

#define LINE           64
#define PREFETCH_AHEAD 32
#define PARTITIONS     256
#define ROUNDS         3

typedef struct {
    guint32 key, source, destination, count;
} Record;

static guint64
next_random(guint64 *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* A random cycle through every line of lines: line i's first word holds the next line. */
static void
build_cycle(guint64 *lines, gsize n)
{
    g_autofree guint32 *order = g_new(guint32, n);
    guint64 state = 88172645463325252ull;

    for (gsize i = 0; i < n; i++)
        order[i] = (guint32)i;
    for (gsize i = n - 1; i > 0; i--) {
        gsize j = next_random(&state) % (i + 1);
        guint32 t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (gsize i = 0; i < n; i++)
        lines[order[i] * (LINE / 8)] = order[(i + 1) % n];
}

static double
chase_ns(const guint64 *lines, gsize steps, guint64 *sink)
{
    double start = ps_bench_cpu_seconds();
    guint64 at = 0;

    for (gsize i = 0; i < steps; i++)
        at = lines[at * (LINE / 8)];
    *sink += at;
    return (ps_bench_cpu_seconds() - start) / steps * 1e9;
}

static double
update_ns(guint64 *lines, gsize n, gsize steps)
{
    gsize ahead[PREFETCH_AHEAD];
    guint64 state = 7;
    double start;

    for (guint k = 0; k < PREFETCH_AHEAD; k++)
        ahead[k] = next_random(&state) % n;
    start = ps_bench_cpu_seconds();
    for (gsize i = 0; i < steps; i++) {
        gsize now = ahead[i % PREFETCH_AHEAD], later = next_random(&state) % n;
        __builtin_prefetch(&lines[later * (LINE / 8)], 1);
        ahead[i % PREFETCH_AHEAD] = later;
        lines[now * (LINE / 8) + 1]++;
    }
    return (ps_bench_cpu_seconds() - start) / steps * 1e9;
}

static double
partition_ns(const Record *in, Record *out, gsize n)
{
    gsize count[PARTITIONS] = {0}, position[PARTITIONS];
    double start = ps_bench_cpu_seconds();
    gsize sum = 0;

    for (gsize i = 0; i < n; i++)
        count[in[i].key % PARTITIONS]++;
    for (guint p = 0; p < PARTITIONS; p++) {
        position[p] = sum;
        sum += count[p];
    }
    for (gsize i = 0; i < n; i++)
        out[position[in[i].key % PARTITIONS]++] = in[i];
    return (ps_bench_cpu_seconds() - start) / n * 1e9;
}

static double
copy_ns(const Record *in, Record *out, gsize n)
{
    double start = ps_bench_cpu_seconds();

    memcpy(out, in, n * sizeof(Record));
    return (ps_bench_cpu_seconds() - start) / n * 1e9;
}

static void
measure(gsize mib, gsize steps)
{
    gsize bytes = mib << 20, n_lines = bytes / LINE, n_records = bytes / sizeof(Record) / 2;
    g_autofree guint64 *lines = g_malloc0(bytes);
    g_autofree Record *in = g_new(Record, n_records), *out = g_new0(Record, n_records);
    double chase = G_MAXDOUBLE, update = G_MAXDOUBLE, partition = G_MAXDOUBLE, copy = G_MAXDOUBLE;
    guint64 state = 1, sink = 0;

    build_cycle(lines, n_lines);
    for (gsize i = 0; i < n_records; i++)
        in[i] = (Record){(guint32)next_random(&state), (guint32)i, (guint32)(i >> 3), 1};
    for (guint round = 0; round < ROUNDS; round++) {
        chase = MIN(chase, chase_ns(lines, steps / 4, &sink));
        update = MIN(update, update_ns(lines, n_lines, steps));
        partition = MIN(partition, partition_ns(in, out, n_records));
        copy = MIN(copy, copy_ns(in, out, n_records));
    }
    /* half the bytes in each of in and out: the records' working set is mib, like the lines' */
    printf("| %5zu | %8.1f | %8.1f | %8.2f | %8.2f |%s\n", mib, chase, update, partition, copy,
           sink == 42 ? " " : "");
}

int
main(int argc, char **argv)
{
    gint64 steps = 20000000;
    g_autofree char *sizes_text = NULL;
    GOptionEntry entries[] = {
        {"sizes", 0, 0, G_OPTION_ARG_STRING, &sizes_text,
         "working sets to measure, MiB, comma-separated (1,8,32,64,256)", "LIST"},
        {"steps", 0, 0, G_OPTION_ARG_INT64, &steps, "random accesses per measurement", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new("- the memory floor");
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) sizes = NULL;

    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error) || steps < 1000) {
        fprintf(stderr, "ps-memfloor: %s\n", error != NULL ? error->message : "--steps too small");
        return 2;
    }
    sizes = g_strsplit(sizes_text != NULL ? sizes_text : "1,8,32,64,256", ",", -1);
    for (guint i = 0; sizes[i] != NULL; i++) {
        guint64 mib = g_ascii_strtoull(sizes[i], NULL, 10);
        if (mib < 1 || mib > 16384) {
            fprintf(stderr, "ps-memfloor: size %s: 1 to 16384 MiB\n", sizes[i]);
            return 2;
        }
    }
    printf("| MiB | chase ns | prefetched update ns | partition pass ns/record | copy ns/record |\n"
           "|---:|---:|---:|---:|---:|\n");
    for (guint i = 0; sizes[i] != NULL; i++)
        measure((gsize)g_ascii_strtoull(sizes[i], NULL, 10), (gsize)steps);
    return 0;
}
