#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aggregate.h"
#include "aggregate_run.h"
#include "cpu_time.h"
#include "dispatch.h"
#include "packet_pool.h"

#define RUN_START_MS    1767225600000LL /* 2026-01-01 00:00 UTC: the same buckets every run */
#define RUN_FLUSH_MS    5000            /* the collector's default flush interval */
#define RUN_TEMPLATE_MS 1000            /* ps-blast's default template interval */
#define STRETCH_PACKETS 4096            /* the collector's receive batches, about */
#define STEADY_MS       150000 /* the first bucket closed (60 s + 90 s grace): tables sized */

typedef struct {
    PsAggregate *aggregate; /* NULL: decode only */
    PsFlow pending[PS_AGGREGATE_BATCH];
    guint n_pending;
    gint64 pending_now_ms;
    gint64 now_ms;
    guint64 records;
    GChecksum *digest; /* NULL: deltas are only freed */
    gdouble take_max_s; /* the longest ps_aggregate_take(): the receive thread's pause */
    /* The slowest STRETCH_PACKETS datagrams decoded and counted once the first bucket has
     * closed (takes, rankings and digests left out: the collector does those elsewhere or
     * between), and when it began: what the socket buffer has to hold while the receive
     * thread is busy. */
    guint stretch_packets;
    gdouble stretch_began_s;
    gdouble stretch_left_out_s;
    gdouble stretch_max_s;
    gint64 stretch_max_at_ms;
    gint64 stretch_at_ms;
} Run;

typedef struct {
    guint64 records;
    gdouble cpu_seconds;
    gdouble take_max_s;
    gdouble stretch_max_s;    /* 0: the run ended before the first bucket closed */
    gint64 stretch_max_at_ms; /* into its minute */
    gchar *digest;
} Pass;

/* store.c's add_pending(), minus the exporters' clock-skew counters (no skew here) */
static void
add_pending(Run *run)
{
    gboolean skewed[PS_AGGREGATE_BATCH];

    if (run->n_pending == 0)
        return;
    ps_aggregate_add_batch(run->aggregate, run->pending, run->n_pending, run->pending_now_ms,
                           skewed);
    run->n_pending = 0;
}

/* the collector's reserve_flows() and store.c's ps_store_reserve(): v5 flows are decoded in
 * place in the batch */
static PsFlow *
reserve_flows(guint n, gpointer user_data)
{
    Run *run = user_data;

    if (run->aggregate != NULL && (run->n_pending + n > PS_AGGREGATE_BATCH ||
                                   (run->n_pending > 0 && run->now_ms != run->pending_now_ms)))
        add_pending(run);
    run->pending_now_ms = run->now_ms;
    return &run->pending[run->n_pending];
}

static void
commit_flows(PsFlow *flows, guint n, gpointer user_data)
{
    Run *run = user_data;

    (void)flows;
    run->records += n;
    if (run->aggregate != NULL)
        run->n_pending += n;
}

/* store.c's ps_store_add(), for the other versions */
static void
on_flow(const PsFlow *flow, gpointer user_data)
{
    PsFlow *slot = reserve_flows(1, user_data);

    *slot = *flow;
    commit_flows(slot, 1, user_data);
}

static void
digest_sketch(GChecksum *digest, const PsHll *hll)
{
    guint8 buffer[PS_HLL_SERIALIZED_MAX];
    gsize len;

    /* as bucket_write.c: an empty sketch is not written (nor serialised) */
    if (hll->dense == NULL && hll->n_sparse == 0) {
        g_checksum_update(digest, (const guint8 *)"-", 1);
        return;
    }
    len = ps_hll_serialize(hll, buffer);
    g_checksum_update(digest, buffer, len);
}

static void
digest_series(GChecksum *digest, const PsSeriesDelta *series)
{
    g_checksum_update(digest, (const guint8 *)series->name, strlen(series->name) + 1);
    g_checksum_update(digest, (const guint8 *)&series->counts, sizeof(series->counts));
    g_checksum_update(digest, (const guint8 *)&series->total, sizeof(series->total));
    digest_sketch(digest, &series->sources);
    digest_sketch(digest, &series->destinations);
    for (guint i = 0; series->top != NULL && i < series->top->len; i++) {
        const PsTopSource *top = &g_array_index(series->top, PsTopSource, i);
        g_checksum_update(digest, (const guint8 *)&top->source, sizeof(top->source));
        g_checksum_update(digest, (const guint8 *)&top->flows, sizeof(top->flows));
    }
}

static void
digest_deltas(GChecksum *digest, const GPtrArray *deltas)
{
    for (guint i = 0; i < deltas->len; i++) {
        const PsBucketDelta *delta = g_ptr_array_index(deltas, i);
        gint64 head[3] = {delta->start, delta->closing, delta->series->len};
        g_checksum_update(digest, (const guint8 *)head, sizeof(head));
        for (guint s = 0; s < delta->series->len; s++)
            digest_series(digest, &g_array_index(delta->series, PsSeriesDelta, s));
    }
}

/* What the flush timer does: take, and hand over; and what the flush thread does with it:
 * rank the top K of closing buckets (here: then digest and free). */
static void
take(Run *run, gboolean close_all)
{
    g_autoptr(GPtrArray) deltas = NULL;

    gdouble began, entered = ps_bench_cpu_seconds();

    add_pending(run);
    began = ps_bench_cpu_seconds();
    deltas = ps_aggregate_take(run->aggregate, run->now_ms, close_all);
    if (!close_all) /* the exit's take is not on a live receive path */
        run->take_max_s = MAX(run->take_max_s, ps_bench_cpu_seconds() - began);
    for (guint i = 0; i < deltas->len; i++)
        ps_bucket_delta_rank_top(g_ptr_array_index(deltas, i));
    if (run->digest != NULL)
        digest_deltas(run->digest, deltas);
    g_clear_pointer(&deltas, g_ptr_array_unref); /* the flush thread's, in the collector */
    run->stretch_left_out_s += ps_bench_cpu_seconds() - entered;
}

/* Called after every datagram: closes a stretch of STRETCH_PACKETS. */
static void
time_stretch(Run *run)
{
    gdouble now_s, took_s;

    if (run->stretch_packets++ > 0 && run->stretch_packets < STRETCH_PACKETS)
        return;
    now_s = ps_bench_cpu_seconds();
    took_s = now_s - run->stretch_began_s - run->stretch_left_out_s;
    if (run->stretch_packets > 1 && took_s > run->stretch_max_s &&
        run->stretch_at_ms - RUN_START_MS >= STEADY_MS) {
        run->stretch_max_s = took_s;
        run->stretch_max_at_ms = run->stretch_at_ms;
    }
    run->stretch_packets = 1;
    run->stretch_began_s = now_s;
    run->stretch_left_out_s = 0;
    run->stretch_at_ms = run->now_ms;
}

static void
feed(Run *run, PsDispatch *dispatch, PsPacketPool *pool, PsPacket *packet,
     const PsAddress *exporter)
{
    ps_packet_pool_stamp(pool, packet, run->now_ms);
    ps_dispatch_packet(dispatch, exporter, packet->data, packet->len, run->now_ms);
}

/* The packets of options->sim_seconds at options->rate, through dispatch and run. */
static void
feed_all(Run *run, PsDispatch *dispatch, PsPacketPool *pool, const PsAggregateRunOptions *options)
{
    PsAddress exporter;
    guint64 sent = 0, limit = (guint64)options->rate * options->sim_seconds;
    gint64 last_template = RUN_START_MS - RUN_TEMPLATE_MS, last_take = RUN_START_MS;
    guint next = 0;

    ps_address_parse("127.0.0.1", &exporter);
    while (sent < limit) {
        run->now_ms = RUN_START_MS + (gint64)(sent * 1000 / options->rate);
        if (pool->template_packet.len > 0 && run->now_ms - last_template >= RUN_TEMPLATE_MS) {
            feed(run, dispatch, pool, &pool->template_packet, &exporter);
            last_template = run->now_ms;
        }
        if (run->aggregate != NULL && run->now_ms - last_take >= RUN_FLUSH_MS) {
            take(run, FALSE);
            last_take = run->now_ms;
        }
        feed(run, dispatch, pool, &pool->packets[next], &exporter);
        time_stretch(run);
        sent += pool->packets[next].records;
        next = next + 1 == pool->config.packets ? 0 : next + 1;
    }
    if (run->aggregate != NULL)
        take(run, TRUE);
}

static gboolean
run_pass(const PsAggregateRunOptions *options, gboolean aggregate, Pass *pass, GError **error)
{
    PsPacketPoolConfig config;
    PsAggregateConfig aggregate_config;
    g_autoptr(PsPacketPool) pool = NULL;
    g_autoptr(PsDispatch) dispatch = NULL;
    g_autoptr(PsAggregate) aggregator = NULL;
    g_auto(GStrv) watched = g_strsplit(PS_DEFAULT_WATCHED, ",", -1);
    Run run = {0};
    gdouble start;

    ps_packet_pool_defaults(&config, options->version);
    config.records_per_packet = options->records;
    config.packets = options->pool;
    if (options->sources > 0)
        config.sources = options->sources;
    if (options->destinations > 0)
        config.destinations = options->destinations;
    if (options->dst_ports > 0)
        config.dst_ports = options->dst_ports;
    pool = ps_packet_pool_new(&config, RUN_START_MS, error);
    if (pool == NULL)
        return FALSE;
    ps_packet_pool_set_live(pool);
    dispatch = ps_dispatch_new(on_flow, &run, error);
    if (dispatch == NULL)
        return FALSE;
    ps_dispatch_set_flow_slots(dispatch, &(PsFlowSlots){reserve_flows, commit_flows, &run});
    if (aggregate) {
        ps_aggregate_config_init(&aggregate_config);
        /* as the collector runs by default: the watched ports list their sources at close */
        aggregate_config.new_sources = (const char *const *)watched;
        aggregator = ps_aggregate_new(&aggregate_config);
        run.aggregate = aggregator;
        if (options->digest)
            run.digest = g_checksum_new(G_CHECKSUM_SHA256);
    }
    start = ps_bench_cpu_seconds();
    feed_all(&run, dispatch, pool, options);
    pass->cpu_seconds = ps_bench_cpu_seconds() - start;
    pass->records = run.records;
    pass->take_max_s = run.take_max_s;
    pass->stretch_max_s = run.stretch_max_s;
    pass->stretch_max_at_ms = (run.stretch_max_at_ms - RUN_START_MS) % 60000;
    if (run.digest != NULL) {
        const PsAggregateStats *stats = ps_aggregate_stats(aggregator);
        g_checksum_update(run.digest, (const guint8 *)stats, sizeof(*stats));
        pass->digest = g_strdup(g_checksum_get_string(run.digest));
        g_checksum_free(run.digest);
    }
    return TRUE;
}

/* The slowest stretch, as text: "12.3 ms (1.1 s into a minute)", or why there is none. */
static gchar *
describe_stretch(const Pass *pass)
{
    if (pass->stretch_max_s == 0)
        return g_strdup_printf("not measured (needs --sim-seconds over %d)", STEADY_MS / 1000);
    return g_strdup_printf("%.1f ms (%.1f s into a minute)", pass->stretch_max_s * 1000,
                           pass->stretch_max_at_ms / 1000.0);
}

gboolean
ps_aggregate_run(const PsAggregateRunOptions *options, gboolean json, GError **error)
{
    Pass decode = {0}, full = {0};
    gdouble decode_ns, full_ns;
    g_autofree gchar *stretch = NULL;

    if (!run_pass(options, FALSE, &decode, error) || !run_pass(options, TRUE, &full, error))
        return FALSE;
    decode_ns = decode.cpu_seconds * 1e9 / MAX(decode.records, 1);
    full_ns = full.cpu_seconds * 1e9 / MAX(full.records, 1);
    stretch = describe_stretch(&full);
    if (json)
        printf("{\"version\":\"%s\",\"records\":%" G_GUINT64_FORMAT
               ",\"decode_ns_per_record\":%.1f,\"aggregate_ns_per_record\":%.1f"
               ",\"with_aggregation_ns_per_record\":%.1f,\"keep\":%.3f,\"take_max_ms\":%.1f"
               ",\"slowest_%u_packets_ms\":%.1f,\"slowest_at_s\":%.1f,\"digest\":\"%s\"}\n",
               /* 0 and 0 when not measured (see describe_stretch) */
               ps_packet_pool_version_name(options->version), full.records, decode_ns,
               full_ns - decode_ns, full_ns, decode_ns / full_ns, full.take_max_s * 1000,
               STRETCH_PACKETS, full.stretch_max_s * 1000, full.stretch_max_at_ms / 1000.0,
               full.digest != NULL ? full.digest : "");
    else
        printf("%-6s records %" G_GUINT64_FORMAT ": decode %.1f ns, decode+aggregate %.1f ns, "
               "aggregate %.1f ns per record, keep %.0f%%, longest take %.1f ms, slowest %u "
               "packets %s%s%s\n",
               ps_packet_pool_version_name(options->version), full.records, decode_ns, full_ns,
               full_ns - decode_ns, 100 * decode_ns / full_ns, full.take_max_s * 1000,
               STRETCH_PACKETS, stretch,
               full.digest != NULL ? ", digest " : "", full.digest != NULL ? full.digest : "");
    g_free(full.digest);
    return TRUE;
}
