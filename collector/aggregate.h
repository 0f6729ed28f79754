/* PsFlow -> per time bucket, per series (service port, and per direction with home networks):
 * flows, packets and bytes (scaled by sampling), SYN-only flows, distinct sources and
 * destinations (HyperLogLog, see hll.h) and the heaviest sources by flows.
 *
 * Everything happens in memory on the receive thread: the cost per flow is a few table
 * lookups, and what goes to Redis per flush (ps_aggregate_take) is proportional to the active
 * series, not to the flows. Memory is bounded: at most max_series series and max_sources
 * tracked (series, source) pairs per bucket; a port past the first cap is counted in the
 * "other" series, a source past the second in the series' "untracked" counter. As many
 * (series, destination) pairs are remembered so that a destination seen again skips its
 * sketch; past that, flows update the sketch directly, and nothing is lost. Knows nothing of
 * Redis or sockets. */
#pragma once

#include "flow.h"
#include "hll.h"
#include "keys.h"

typedef struct {
    guint32 network[4]; /* address bytes, as in PsAddress */
    guint8 family;
    guint8 prefix_len;
} PsNetwork;

typedef struct {
    guint step;                /* bucket length in seconds (10 .. 3600, divides an hour) */
    guint grace_s;             /* a bucket closes at start + step + grace */
    gint64 clock_tolerance_ms; /* exporter clock vs ours; beyond it, arrival time is used */
    gint64 retention_s;        /* flows older than this are dropped (and counted) */
    guint max_series;          /* per bucket */
    guint max_sources;         /* tracked (series, source) pairs per bucket: top K, and
                                * sketches touched once per source; as many (series,
                                * destination) pairs remembered */
    guint top_k;
    const guint16 *service_ports; /* besides ports below 1024: the service side of a flow */
    guint n_service_ports;
    const PsNetwork *home_networks;
    guint n_home_networks;
    /* Port names ("tcp/445") whose series, in every direction, hand their distinct sources to
     * the flush at close, for the count of sources new to them (new_sources.h). Borrowed,
     * read by ps_aggregate_new only; NULL or empty: none. */
    const char *const *new_sources;
} PsAggregateConfig;

/* Defaults: step 60, grace 90, tolerance 5 min, retention 8 days, 20000 series, 1000000
 * sources, top 10, no service ports or home networks. */
void ps_aggregate_config_init(PsAggregateConfig *config);

/* Parses "10.0.0.0/8" or "2001:db8::/32". */
gboolean ps_network_parse(const char *text, PsNetwork *network, GError **error);
gboolean ps_network_contains(const PsNetwork *network, const PsAddress *address);

typedef struct {
    guint64 flows;
    guint64 packets;   /* scaled by sampling */
    guint64 bytes;     /* scaled by sampling */
    guint64 syn;       /* SYN without ACK: connection attempts, the signature of a scan */
    guint64 untracked; /* flows whose source did not fit the top-K table */
} PsCounts;

typedef struct {
    PsAddress source;
    guint64 flows;
} PsTopSource;

/* One series' change since the last take. */
typedef struct {
    char name[PS_SERIES_STRLEN];
    PsCounts counts; /* since the last take */
    PsCounts total;  /* since the bucket began (for the hour roll-up at close) */
    /* The bucket's sketches, in its closing delta only: a PFMERGE costs Redis ~13 us whatever
     * the sketch (it walks all 16384 registers), and merging every series' two sketches at
     * every flush took Redis ~0.6 s of CPU per 5-s flush at 10,000 ports; once a bucket it is
     * a twelfth of that. Distinct counts are read from closed buckets (nsrc, ndst) anyway. */
    PsHll sources;
    PsHll destinations;
    GArray *top;         /* PsTopSource, heaviest first; only when the bucket closes */
    gboolean watched;    /* closing delta of a series of config.new_sources */
    GArray *source_list; /* PsAddress: a watched series' distinct sources, once its closing
                          * delta is ranked (ps_bucket_delta_rank_top); NULL otherwise. Only
                          * the sources the pair table holds: past max_sources it misses some */
} PsSeriesDelta;

typedef struct PsTopPending PsTopPending;

typedef struct {
    gint64 start;
    guint step;
    gboolean closing;          /* final: write distinct counts and top K, mark closed */
    GArray *series;            /* PsSeriesDelta; closing: every series of the bucket */
    PsTopPending *top_pending; /* closing: the top K still to rank (ps_bucket_delta_rank_top) */
} PsBucketDelta;

/* What the aggregation counted about itself (totals since start). */
typedef struct {
    guint64 flows;             /* flows aggregated */
    guint64 by_arrival_time;   /* exporter clock off by more than the tolerance */
    guint64 late;              /* end time in a bucket already closed: counted at arrival */
    guint64 too_old;           /* beyond the retention: dropped */
    guint64 other_series;      /* flows folded into "other" (series cap) */
    guint64 untracked_sources; /* flows whose source missed the top-K table (pairs cap) */
} PsAggregateStats;

typedef struct PsAggregate PsAggregate;

PsAggregate *ps_aggregate_new(const PsAggregateConfig *config);
void ps_aggregate_free(PsAggregate *aggregate);

#define PS_AGGREGATE_BATCH 64

/* Replaces the service ports and home networks (SIGHUP): flows counted from now on are
 * classified by the new ones; what open buckets already counted stays. Only those two fields
 * of config are read. */
void ps_aggregate_set_classes(PsAggregate *aggregate, const PsAggregateConfig *config);

/* Counts one flow. now_ms is the receive time (capture time when reading files). */
void ps_aggregate_add(PsAggregate *aggregate, const PsFlow *flow, gint64 now_ms);

/* Counts n (at most PS_AGGREGATE_BATCH) flows: faster than one by one, as the table lookups of
 * several flows overlap. skewed (n entries, or NULL) tells which flows were placed by arrival
 * time because their exporter's clock is off. */
void ps_aggregate_add_batch(PsAggregate *aggregate, const PsFlow *flows, guint n, gint64 now_ms,
                            gboolean *skewed);

/* Takes what changed since the last call: deltas of every bucket, and the final state of the
 * buckets whose grace time has passed at now_ms (all of them with close_all, at shutdown).
 * Returns an array of PsBucketDelta (freed with it). A closing delta's top K is not ranked
 * yet: see ps_bucket_delta_rank_top. */
GPtrArray *ps_aggregate_take(PsAggregate *aggregate, gint64 now_ms, gboolean close_all);

/* Ranks a closing delta's top K (every series' top), lists the distinct sources of its watched
 * series (source_list) and frees the (series, source) table both come from; a no-op for other
 * deltas or when done. Ranking half a million pairs takes tens of milliseconds: done by the
 * flush thread, not in ps_aggregate_take on the receive thread, where datagrams would wait
 * meanwhile; the source lists come from the same walk, so the receive thread pays nothing for
 * them. Returns the bytes it released (less what the tops and source lists now hold). */
gsize ps_bucket_delta_rank_top(PsBucketDelta *delta);

/* Bytes the top K still to rank holds (the pair table and its addresses), for memory bounds. */
gsize ps_bucket_delta_pending_bytes(const PsBucketDelta *delta);

const PsAggregateStats *ps_aggregate_stats(const PsAggregate *aggregate);

void ps_bucket_delta_free(PsBucketDelta *delta);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsAggregate, ps_aggregate_free)
