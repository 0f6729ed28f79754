/* The collector's metrics (Prometheus text, served by schema/metrics.h): what came in per
 * exporter and version, what the kernel, the allow-list and the aggregation dropped, how
 * flushes to Redis went, and which configuration reloads failed.
 *
 * The receive thread owns every counter and never takes a lock for a scrape: once a second
 * (ps_collector_metrics_publish, from its main loop) it copies them into a snapshot and swaps
 * that in under a mutex held for a pointer swap; a scrape formats the latest snapshot on the
 * HTTP thread. Values are therefore at most PS_COLLECTOR_METRICS_PUBLISH_MS old. Exporter
 * labels are bounded by PS_DISPATCH_MAX_EXPORTERS, source labels by the allow-list's table. */
#pragma once

#include "allowlist.h"
#include "dispatch.h"
#include "socket_reader.h"
#include "store.h"

#define PS_COLLECTOR_METRICS_PUBLISH_MS 1000

/* What the metrics are read from: borrowed, owned by main.c, used on the receive thread. */
typedef struct {
    PsDispatch *dispatch;
    GPtrArray *sockets;     /* PsSocket */
    PsSocketReader *reader; /* NULL until the sockets are read (never with --read) */
    PsStore *store;         /* NULL without Redis */
    PsAllowlist *allowlist;
    guint64 reloads;
    guint64 reload_failures;
} PsCollectorParts;

typedef struct PsCollectorMetrics PsCollectorMetrics;

/* Starts the HTTP listener on listen ("ADDR:PORT"; port 0 picks one, logged). NULL with
 * error when it cannot listen. Publish once before the first scrape can matter. */
PsCollectorMetrics *ps_collector_metrics_start(const char *listen, GError **error);
guint16 ps_collector_metrics_port(const PsCollectorMetrics *metrics);

/* On the receive thread: records the latency of flushes done since the last call, takes a
 * snapshot of parts and makes it the one scrapes see. */
void ps_collector_metrics_publish(PsCollectorMetrics *metrics, const PsCollectorParts *parts);

/* Stops the listener (waits for a scrape in progress) and frees everything. */
void ps_collector_metrics_stop(PsCollectorMetrics *metrics);
