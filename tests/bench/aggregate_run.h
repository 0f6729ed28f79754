/* ps-decode-bench --aggregate: what aggregation costs per record, in process, without sockets
 * or Redis.
 *
 * The pool's packets are decoded on a simulated clock (rate records per second, record times
 * moved along as ps-blast --live-times does, so the run fills several minute buckets) twice:
 * once decode only, once with every flow aggregated as the collector's receive path does
 * (store.c: batches of PS_AGGREGATE_BATCH flows sharing one receive time, and
 * ps_aggregate_take() every 5 simulated seconds, all buckets closed at the end). The
 * difference is the aggregation's CPU per record. The taken deltas are freed on the spot (the
 * flush thread's work, minus Redis); with digest, a SHA-256 of all of them (names, counts,
 * serialised sketches, top sources) says whether two builds produce the same output. */
#pragma once

#include <glib.h>

typedef struct {
    guint version;     /* 5, 9 or 10 */
    guint records;     /* per data packet */
    guint pool;        /* data packets */
    guint rate;        /* simulated records per second */
    guint sim_seconds; /* simulated length of the run */
    /* the pool's world (0: its defaults of 100,000 sources, 4,096 destinations, 10,000
     * ports): small ones fit in cache, so the difference is what memory costs */
    guint sources;
    guint destinations;
    guint dst_ports;
    gboolean digest;
} PsAggregateRunOptions;

/* Runs both passes for one version and prints one line (or one JSON line) of results.
 * FALSE with error set when the pool or the decoder could not be built. */
gboolean ps_aggregate_run(const PsAggregateRunOptions *options, gboolean json, GError **error);
