/* ps-decode-bench: decode only, in process. Builds the packets ps-blast sends and feeds them to
 * ps_dispatch_packet() in a loop, no sockets, so the figure is the decoder's own cost: records
 * per CPU-second and CPU-seconds per million records, per version. The sink only counts.
 *
 * With --aggregate, the aggregation's cost too, without Redis: see aggregate_run.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aggregate_run.h"
#include "cpu_time.h"
#include "dispatch.h"
#include "packet_pool.h"

#define DECODE_CHECK_EVERY    1024   /* packets between clock reads */
#define DECODE_TEMPLATE_EVERY 100000 /* packets between template repeats, about 1 s live */

typedef struct {
    gdouble seconds;
    gint records;
    gint pool;
    gchar **versions;
    gboolean json;
    gboolean aggregate;
    gint rate;        /* --aggregate: simulated records per second */
    gint sim_seconds; /* --aggregate: simulated seconds of traffic */
    gboolean digest;  /* --aggregate: print a digest of everything taken */
    gint sources;     /* --aggregate: the pool's world, 0 for its defaults */
    gint destinations;
    gint dst_ports;
} DecodeOptions;

typedef struct {
    guint version;
    guint64 packets;
    guint64 records_sent;
    guint64 records_decoded;
    guint64 decode_errors;
    gdouble cpu_seconds;
} DecodeResult;

static void
count_flow(const PsFlow *flow, gpointer user_data)
{
    guint64 *records = user_data;

    (void)flow;
    (*records)++;
}

static guint64
decode_errors(PsDispatch *dispatch)
{
    GHashTableIter iter;
    PsExporter *exporter;
    guint64 errors = 0;

    g_hash_table_iter_init(&iter, ps_dispatch_exporters(dispatch));
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&exporter)) {
        PsExporterCounters total;
        ps_exporter_total(exporter, &total);
        errors += total.decode_errors + total.bad_templates + total.dropped_sets;
    }
    return errors;
}

static void
feed(PsDispatch *dispatch, PsPacketPool *pool, PsPacket *packet, const PsAddress *exporter)
{
    gint64 now_ms = g_get_real_time() / 1000;

    ps_packet_pool_stamp(pool, packet, now_ms);
    ps_dispatch_packet(dispatch, exporter, packet->data, packet->len, now_ms);
}

static gboolean
run_version(guint version, const DecodeOptions *options, DecodeResult *result, GError **error)
{
    PsPacketPoolConfig config;
    g_autoptr(PsPacketPool) pool = NULL;
    g_autoptr(PsDispatch) dispatch = NULL;
    PsAddress exporter;
    gdouble start;
    guint next = 0;

    ps_packet_pool_defaults(&config, version);
    config.records_per_packet = (guint)MAX(options->records, 0);
    config.packets = (guint)MAX(options->pool, 0);
    pool = ps_packet_pool_new(&config, g_get_real_time() / 1000, error);
    if (pool == NULL)
        return FALSE;
    dispatch = ps_dispatch_new(count_flow, &result->records_decoded, error);
    if (dispatch == NULL)
        return FALSE;
    ps_address_parse("127.0.0.1", &exporter);
    result->version = version;
    start = ps_bench_cpu_seconds();
    do {
        for (guint i = 0; i < DECODE_CHECK_EVERY; i++) {
            if (pool->template_packet.len > 0 && result->packets % DECODE_TEMPLATE_EVERY == 0)
                feed(dispatch, pool, &pool->template_packet, &exporter);
            feed(dispatch, pool, &pool->packets[next], &exporter);
            result->records_sent += pool->packets[next].records;
            result->packets++;
            next = next + 1 == pool->config.packets ? 0 : next + 1;
        }
        result->cpu_seconds = ps_bench_cpu_seconds() - start;
    } while (result->cpu_seconds < options->seconds);
    result->decode_errors = decode_errors(dispatch);
    return TRUE;
}

static void
print_result(const DecodeResult *result, gboolean json)
{
    gdouble per_s = result->records_decoded / result->cpu_seconds;

    if (json) {
        printf("{\"version\":\"%s\",\"packets\":%" G_GUINT64_FORMAT
               ",\"records_sent\":%" G_GUINT64_FORMAT ",\"records_decoded\":%" G_GUINT64_FORMAT
               ",\"errors\":%" G_GUINT64_FORMAT ",\"cpu_seconds\":%.3f"
               ",\"records_per_cpu_second\":%.0f,\"cpu_seconds_per_million\":%.4f}\n",
               ps_packet_pool_version_name(result->version), result->packets, result->records_sent,
               result->records_decoded, result->decode_errors, result->cpu_seconds, per_s,
               1e6 / per_s);
        return;
    }
    printf("%-6s %12" G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
           " %8.2f %14.0f %10.4f\n",
           ps_packet_pool_version_name(result->version), result->records_sent,
           result->records_decoded, result->decode_errors, result->cpu_seconds, per_s, 1e6 / per_s);
}

static gboolean
parse_options(DecodeOptions *options, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        {"seconds", 's', 0, G_OPTION_ARG_DOUBLE, &options->seconds,
         "CPU seconds per version (default 3)", "S"},
        {"records", 0, 0, G_OPTION_ARG_INT, &options->records,
         "Records per data packet (default 30)", "N"},
        {"pool", 0, 0, G_OPTION_ARG_INT, &options->pool,
         "Distinct data packets to cycle through (default 8192)", "N"},
        {"version", 'V', 0, G_OPTION_ARG_STRING_ARRAY, &options->versions,
         "v5, v9 or ipfix, repeatable (default all three)", "VERSION"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &options->json, "One JSON line per version", NULL},
        {"aggregate", 0, 0, G_OPTION_ARG_NONE, &options->aggregate,
         "Decode only, then decode and aggregate, on a simulated clock (see --rate)", NULL},
        {"rate", 0, 0, G_OPTION_ARG_INT, &options->rate,
         "--aggregate: simulated records per second (default 1000000)", "N"},
        {"sim-seconds", 0, 0, G_OPTION_ARG_INT, &options->sim_seconds,
         "--aggregate: simulated seconds of traffic (default 150)", "S"},
        {"digest", 0, 0, G_OPTION_ARG_NONE, &options->digest,
         "--aggregate: SHA-256 of every delta taken (to compare builds; costs time)", NULL},
        {"sources", 0, 0, G_OPTION_ARG_INT, &options->sources,
         "--aggregate: distinct source addresses in the pool (default 100000)", "N"},
        {"destinations", 0, 0, G_OPTION_ARG_INT, &options->destinations,
         "--aggregate: distinct destination addresses (default 4096)", "N"},
        {"dst-ports", 0, 0, G_OPTION_ARG_INT, &options->dst_ports,
         "--aggregate: distinct destination ports (default 10000)", "N"},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context =
        g_option_context_new("- decode pre-built packets in process, records per CPU-second");

    options->seconds = 3;
    options->records = PS_PACKET_POOL_MAX_RECORDS;
    options->pool = 8192;
    options->rate = 1000000;
    options->sim_seconds = 150;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, argc, argv, error))
        return FALSE;
    if (options->seconds <= 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--seconds must be > 0");
        return FALSE;
    }
    if (options->rate <= 0 || options->sim_seconds <= 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--rate and --sim-seconds must be > 0");
        return FALSE;
    }
    if (options->sources < 0 || options->destinations < 0 || options->dst_ports < 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--sources, --destinations and --dst-ports must be >= 0 (0: the default)");
        return FALSE;
    }
    return TRUE;
}

/* --aggregate: decode only vs decode and aggregate, one line per version */
static gboolean
run_aggregate(guint version, const DecodeOptions *options, GError **error)
{
    PsAggregateRunOptions run = {.version = version,
                                 .records = (guint)MAX(options->records, 0),
                                 .pool = (guint)MAX(options->pool, 0),
                                 .rate = (guint)options->rate,
                                 .sim_seconds = (guint)options->sim_seconds,
                                 .sources = (guint)options->sources,
                                 .destinations = (guint)options->destinations,
                                 .dst_ports = (guint)options->dst_ports,
                                 .digest = options->digest};

    return ps_aggregate_run(&run, options->json, error);
}

/* libfixbuf warns on its own; the counters say what we need to know */
static void
quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    (void)domain;
    (void)level;
    (void)message;
    (void)data;
}

int
main(int argc, char **argv)
{
    DecodeOptions options = {0};
    g_autoptr(GError) error = NULL;
    const char *all[] = {"v5", "v9", "ipfix", NULL};
    const char *const *versions;

    if (!parse_options(&options, &argc, &argv, &error)) {
        g_printerr("ps-decode-bench: %s\n", error->message);
        return 2;
    }
    g_log_set_handler(NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, quiet_log,
                      NULL);
    versions = options.versions != NULL ? (const char *const *)options.versions : all;
    if (!options.json && !options.aggregate)
        printf("%-6s %12s %12s %8s %8s %14s %10s\n", "format", "records", "decoded", "errors",
               "cpu_s", "records/cpu_s", "cpu_s/Mrec");
    for (guint i = 0; versions[i] != NULL; i++) {
        DecodeResult result = {0};
        guint version = ps_packet_pool_parse_version(versions[i]);
        if (version == 0) {
            g_printerr("ps-decode-bench: --version %s: expected v5, v9 or ipfix\n", versions[i]);
            return 2;
        }
        if (options.aggregate) {
            if (!run_aggregate(version, &options, &error)) {
                g_printerr("ps-decode-bench: %s\n", error->message);
                return 1;
            }
            continue;
        }
        if (!run_version(version, &options, &result, &error)) {
            g_printerr("ps-decode-bench: %s\n", error->message);
            return 1;
        }
        print_result(&result, options.json);
    }
    g_strfreev(options.versions);
    return EXIT_SUCCESS;
}
