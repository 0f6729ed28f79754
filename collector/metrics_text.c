#include "config.h"

#include "metrics.h"
#include "metrics_text.h"
#include "socket.h"

#define P "portsurge_collector_"

/* Flush latency buckets in seconds: a healthy pipelined flush takes milliseconds; seconds
 * mean Redis is slow or far away. */
static const double flush_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,     10};

typedef struct {
    PsAddress address;
    PsExporterCounters counters[PS_N_VERSIONS];
} ExporterRow;

/* Everything a scrape shows, copied on the receive thread. Reference-counted (g_rc_box): the
 * HTTP thread may still format one while the next is published. */
typedef struct {
    GArray *exporters; /* ExporterRow */
    GArray *rejected;  /* PsAllowlistRejected */
    guint64 rejected_other;
    guint64 exporters_refused;
    guint64 socket_drops;
    guint64 receive_queue_full;
    guint64 receive_queue_bytes;
    gboolean redis;
    PsFlushStats flush;
    PsAggregateStats aggregate;
    PsMetricsHistogram flush_seconds;
    guint64 reloads;
    guint64 reload_failures;
} Snapshot;

struct PsCollectorMetrics {
    PsMetricsServer *server;
    GMutex lock; /* guards latest: the swap and taking a reference, nothing more */
    Snapshot *latest;
    PsMetricsHistogram flush_seconds; /* receive thread only */
    guint64 flushes_seen;
    gint64 started_s;
};

static void
snapshot_clear(gpointer data)
{
    Snapshot *snapshot = data;

    g_clear_pointer(&snapshot->exporters, g_array_unref);
    g_clear_pointer(&snapshot->rejected, g_array_unref);
}

static void
snapshot_unref(Snapshot *snapshot)
{
    g_rc_box_release_full(snapshot, snapshot_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Snapshot, snapshot_unref)

/* ---- on the receive thread ---- */

static GArray *
copy_exporters(PsDispatch *dispatch)
{
    GHashTable *exporters = ps_dispatch_exporters(dispatch);
    GArray *rows =
        g_array_sized_new(FALSE, TRUE, sizeof(ExporterRow), g_hash_table_size(exporters));
    GHashTableIter iter;
    PsExporter *exporter;

    g_hash_table_iter_init(&iter, exporters);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&exporter)) {
        ExporterRow row;
        row.address = exporter->address;
        memcpy(row.counters, exporter->counters, sizeof(row.counters));
        g_array_append_val(rows, row);
    }
    return rows;
}

/* Each flush written since the last look adds its latency; the flush thread keeps only the
 * last one, so with several flushes between two looks (after an outage) the last stands for
 * all of them. */
static void
sample_flushes(PsCollectorMetrics *metrics, const PsFlushStats *flush)
{
    guint64 written = flush->batches_written;

    for (; metrics->flushes_seen < written; metrics->flushes_seen++)
        ps_metrics_histogram_observe(&metrics->flush_seconds, flush->last_latency_us / 1e6);
}

static Snapshot *
snapshot_take(PsCollectorMetrics *metrics, const PsCollectorParts *parts)
{
    Snapshot *snapshot = g_rc_box_new0(Snapshot);

    snapshot->exporters = copy_exporters(parts->dispatch);
    snapshot->exporters_refused = ps_dispatch_exporters_refused(parts->dispatch);
    snapshot->rejected = ps_allowlist_rejected(parts->allowlist, &snapshot->rejected_other);
    for (guint i = 0; i < parts->sockets->len; i++)
        snapshot->socket_drops += ps_socket_kernel_drops(g_ptr_array_index(parts->sockets, i));
    snapshot->receive_queue_full = ps_socket_reader_queue_full(parts->reader);
    snapshot->receive_queue_bytes = ps_socket_reader_queued_bytes(parts->reader);
    if (parts->store != NULL) {
        snapshot->redis = TRUE;
        ps_flush_get_stats(ps_store_flusher(parts->store), &snapshot->flush);
        snapshot->aggregate = *ps_aggregate_stats(ps_store_aggregate(parts->store));
        sample_flushes(metrics, &snapshot->flush);
    }
    snapshot->flush_seconds = metrics->flush_seconds;
    snapshot->reloads = parts->reloads;
    snapshot->reload_failures = parts->reload_failures;
    return snapshot;
}

void
ps_collector_metrics_publish(PsCollectorMetrics *metrics, const PsCollectorParts *parts)
{
    Snapshot *next = snapshot_take(metrics, parts);
    Snapshot *previous;

    g_mutex_lock(&metrics->lock);
    previous = metrics->latest;
    metrics->latest = next;
    g_mutex_unlock(&metrics->lock);
    if (previous != NULL)
        snapshot_unref(previous);
}

/* ---- on the HTTP thread ---- */

static const struct {
    const char *name;
    gsize field; /* offset of a guint64 in PsExporterCounters */
    const char *help;
} exporter_families[] = {
    {P "packets_total", G_STRUCT_OFFSET(PsExporterCounters, packets),
     "Export packets received, per exporter and version."},
    {P "records_total", G_STRUCT_OFFSET(PsExporterCounters, records),
     "Flow records decoded, per exporter and version."},
    {P "decode_errors_total", G_STRUCT_OFFSET(PsExporterCounters, decode_errors),
     "Export packets that could not be decoded (malformed, unknown version)."},
    {P "unknown_template_records_total", G_STRUCT_OFFSET(PsExporterCounters, unknown_template_sets),
     "Data sets that arrived before their template (counted per set: without the template "
     "their records cannot be counted)."},
    {P "sequence_gaps_total", G_STRUCT_OFFSET(PsExporterCounters, sequence_gaps),
     "Times an exporter's sequence number jumped ahead: export packets lost on the way."},
    {P "sequence_lost_total", G_STRUCT_OFFSET(PsExporterCounters, sequence_lost),
     "What the sequence gaps skipped: flows (v5), packets (v9) or records (IPFIX)."},
};

static void
write_exporters(GString *out, const Snapshot *snapshot)
{
    for (guint f = 0; f < G_N_ELEMENTS(exporter_families); f++) {
        ps_metrics_family(out, exporter_families[f].name, "counter", exporter_families[f].help);
        for (guint i = 0; i < snapshot->exporters->len; i++) {
            const ExporterRow *row = &g_array_index(snapshot->exporters, ExporterRow, i);
            char address[PS_ADDRESS_STRLEN];
            ps_address_to_string(&row->address, address);
            for (guint v = 0; v < PS_N_VERSIONS; v++) {
                if (row->counters[v].packets == 0)
                    continue; /* a version this exporter never sent */
                ps_metrics_sample_u64(
                    out, exporter_families[f].name,
                    G_STRUCT_MEMBER(guint64, &row->counters[v], exporter_families[f].field),
                    "exporter", address, "version", ps_version_slot_name(v), NULL);
            }
        }
    }
}

static void
write_rejected(GString *out, const Snapshot *snapshot)
{
    ps_metrics_family(out, P "rejected_packets_total", "counter",
                      "Export packets dropped before decoding: the source is not in the "
                      "allow-list (source \"other\" once the table of sources is full).");
    for (guint i = 0; i < snapshot->rejected->len; i++) {
        const PsAllowlistRejected *row = &g_array_index(snapshot->rejected, PsAllowlistRejected, i);
        char address[PS_ADDRESS_STRLEN];
        ps_metrics_sample_u64(out, P "rejected_packets_total", row->packets, "source",
                              ps_address_to_string(&row->source, address), NULL);
    }
    if (snapshot->rejected_other > 0)
        ps_metrics_sample_u64(out, P "rejected_packets_total", snapshot->rejected_other, "source",
                              "other", NULL);
    ps_metrics_family(out, P "exporter_table_full_packets_total", "counter",
                      "Export packets dropped because the table of exporters was full.");
    ps_metrics_sample_u64(out, P "exporter_table_full_packets_total", snapshot->exporters_refused,
                          NULL);
    ps_metrics_family(out, P "socket_drops_total", "counter",
                      "Datagrams the kernel dropped because a socket's receive buffer was full.");
    ps_metrics_sample_u64(out, P "socket_drops_total", snapshot->socket_drops, NULL);
    ps_metrics_family(out, P "receive_queue_full_total", "counter",
                      "Times the socket thread found the receive queue full and left datagrams "
                      "in the kernel's buffer (raise receive_queue).");
    ps_metrics_sample_u64(out, P "receive_queue_full_total", snapshot->receive_queue_full, NULL);
    ps_metrics_family(out, P "receive_queue_bytes", "gauge",
                      "Bytes of datagrams received and waiting to be decoded; a level that grows "
                      "toward receive_queue means decoding falls behind.");
    ps_metrics_sample_u64(out, P "receive_queue_bytes", snapshot->receive_queue_bytes, NULL);
}

static void
write_redis(GString *out, const Snapshot *snapshot)
{
    const PsFlushStats *flush = &snapshot->flush;

    ps_metrics_histogram_write(out, P "flush_seconds",
                               "Time to write one flush to Redis (one pipelined transaction).",
                               &snapshot->flush_seconds);
    ps_metrics_family(out, P "last_flush_timestamp_seconds", "gauge",
                      "When the last flush was written to Redis (Unix time; 0: never).");
    ps_metrics_sample(out, P "last_flush_timestamp_seconds", flush->last_flush_ms / 1000.0, NULL);
    ps_metrics_family(out, P "redis_errors_total", "counter",
                      "Failed writes to Redis (each retried) and commands Redis refused.");
    ps_metrics_sample_u64(out, P "redis_errors_total", flush->failures + flush->reply_errors, NULL);
    ps_metrics_family(out, P "redis_pending_bytes", "gauge",
                      "Flushes held in memory, waiting for Redis.");
    ps_metrics_sample_u64(out, P "redis_pending_bytes", flush->pending_bytes, NULL);
    ps_metrics_family(out, P "dropped_records_total", "counter",
                      "Flow records counted but lost: redis_backlog (held flushes past "
                      "max_pending while Redis was down), too_old (older than the retention).");
    ps_metrics_sample_u64(out, P "dropped_records_total", flush->dropped.flows, "reason",
                          "redis_backlog", NULL);
    ps_metrics_sample_u64(out, P "dropped_records_total", snapshot->aggregate.too_old, "reason",
                          "too_old", NULL);
}

static void
write_process(GString *out, const Snapshot *snapshot, gint64 started_s)
{
    ps_metrics_family(out, P "info", "gauge", "The collector's version.");
    ps_metrics_sample(out, P "info", 1, "version", PS_VERSION, NULL);
    ps_metrics_family(out, "process_start_time_seconds", "gauge",
                      "Start time of the process since the Unix epoch, in seconds.");
    ps_metrics_sample(out, "process_start_time_seconds", (double)started_s, NULL);
    ps_metrics_family(out, P "config_reloads_total", "counter",
                      "Configuration reloads (SIGHUP) by result; a failed one changed nothing.");
    ps_metrics_sample_u64(out, P "config_reloads_total", snapshot->reloads, "result", "success",
                          NULL);
    ps_metrics_sample_u64(out, P "config_reloads_total", snapshot->reload_failures, "result",
                          "failure", NULL);
}

static void
render(GString *out, gpointer user_data)
{
    PsCollectorMetrics *metrics = user_data;
    g_autoptr(Snapshot) snapshot = NULL;

    g_mutex_lock(&metrics->lock);
    if (metrics->latest != NULL)
        snapshot = g_rc_box_acquire(metrics->latest);
    g_mutex_unlock(&metrics->lock);
    if (snapshot == NULL)
        return;
    write_process(out, snapshot, metrics->started_s);
    write_exporters(out, snapshot);
    write_rejected(out, snapshot);
    if (snapshot->redis)
        write_redis(out, snapshot);
}

PsCollectorMetrics *
ps_collector_metrics_start(const char *listen, GError **error)
{
    PsCollectorMetrics *metrics = g_new0(PsCollectorMetrics, 1);

    g_mutex_init(&metrics->lock);
    ps_metrics_histogram_init(&metrics->flush_seconds, flush_bounds, G_N_ELEMENTS(flush_bounds));
    metrics->started_s = g_get_real_time() / G_USEC_PER_SEC;
    metrics->server = ps_metrics_server_start(listen, render, metrics, error);
    if (metrics->server == NULL) {
        ps_collector_metrics_stop(metrics);
        return NULL;
    }
    return metrics;
}

guint16
ps_collector_metrics_port(const PsCollectorMetrics *metrics)
{
    return ps_metrics_server_port(metrics->server);
}

void
ps_collector_metrics_stop(PsCollectorMetrics *metrics)
{
    if (metrics == NULL)
        return;
    ps_metrics_server_stop(metrics->server); /* no scrape runs after this */
    if (metrics->latest != NULL)
        snapshot_unref(metrics->latest);
    g_mutex_clear(&metrics->lock);
    g_free(metrics);
}
