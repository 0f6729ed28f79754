/* Aggregated deltas -> Redis, on a thread of its own so the receive path never waits for it.
 *
 * The receive thread pushes a batch every flush interval (ps_flush_push never blocks). This
 * thread writes each batch as pipelined MULTI/EXEC transactions of a bounded number of series,
 * paced (so a failure leaves no transaction half-applied; once.h makes a retry after a lost
 * reply apply each once), then, for
 * buckets that closed, reads the final distinct counts (PFCOUNT) and writes them as plain
 * fields with the top sources, the sources new to watched series and the closed marker.
 * While Redis is down or slow, batches wait in memory up to max_pending_bytes and are retried
 * with exponential backoff; past the bound the oldest batch is dropped, and its flows, packets
 * and bytes are counted and logged. */
#pragma once

#include "aggregate.h"
#include "redis.h"

/* Per-exporter health, copied from the decoding side at each flush. */
typedef struct {
    char address[48];
    gint64 last_seen_ms;
    guint64 packets;
    guint64 records;
    guint64 errors;
    guint64 unknown_template_sets;
    guint64 sequence_gaps;
    guint64 sequence_lost;
    guint64 clock_skewed; /* flows counted at arrival time */
    guint32 sampling;
} PsExporterHealth;

typedef struct {
    GPtrArray *deltas; /* PsBucketDelta */
    GArray *exporters; /* PsExporterHealth */
    gint64 created_ms;
    gsize bytes;     /* memory estimate, against the bound */
    /* data quality during this flush interval, counted into the bucket of quality_bucket:
     * export packets lost on the way, data sets without template, malformed packets */
    gint64 quality_bucket;
    guint quality_step;
    guint64 quality_lost;
    guint64 quality_unknown;
    guint64 quality_errors;
    guint counters_next; /* counter transactions before this one are applied */
    guint closed_next;   /* deltas before this index are closed (a retry skips them) */
    guint close_next;    /* transactions closing delta closed_next before this one are applied */
    gboolean reply_lost; /* the current transaction was sent and its reply lost (once.h) */
    guint64 sequence;    /* numbers the batch's transactions for once.h */
} PsFlushBatch;

typedef struct {
    PsRedisAddress address; /* borrowed */
    const char *prefix;
    const char *collector_id;
    guint minute_ttl_s;
    guint hour_ttl_s;
    guint top_k;
    gsize max_pending_bytes;
    guint timeout_ms;
    guint backoff_max_ms;
    /* the sources new to watched series (new_sources.h), written when their bucket closes:
     * horizon in seconds (0: none) and the seen set cap */
    guint new_sources_horizon_s;
    guint new_sources_max;
    guint chunk_series; /* series per transaction (0: PS_FLUSH_CHUNK_SERIES) */
} PsFlushConfig;

/* Redis serves no other client while it runs a transaction, and a flush at 10,000 ports is
 * a few hundred milliseconds of its CPU (seconds when buckets close): so a batch goes as
 * transactions of this many series, and after each one the flush waits a few times as long
 * as it took, so that readers (the alerter, the CLI, other collectors) and whatever shares
 * Redis's CPU are never held up long. */
#define PS_FLUSH_CHUNK_SERIES 250

typedef struct {
    guint64 batches_written;
    guint64 commands;
    guint64 failures; /* connection or write failures (each followed by a retry) */
    guint64 reply_errors;
    guint64 dropped_batches;
    PsCounts dropped; /* flows, packets, bytes lost to the memory bound */
    gsize pending_bytes;
    guint pending_batches;
    gint64 last_flush_ms;
    gint64 last_closed_bucket;
    gint64 last_latency_us;
    gboolean connected;
} PsFlushStats;

typedef struct PsFlush PsFlush;

/* Builds a batch from aggregate deltas (taken over) and exporter health (copied). */
PsFlushBatch *ps_flush_batch_new(GPtrArray *deltas, GArray *exporters, gint64 now_ms);
void ps_flush_batch_free(PsFlushBatch *batch);

/* Starts the flush thread. */
PsFlush *ps_flush_new(const PsFlushConfig *config);
/* Hands a batch to the thread; never blocks. */
void ps_flush_push(PsFlush *flush, PsFlushBatch *batch);
/* Waits until everything pushed is written (TRUE) or timeout_ms passed (FALSE). */
gboolean ps_flush_drain(PsFlush *flush, guint timeout_ms);
/* Stops the thread; what is still pending is counted as dropped and logged. */
void ps_flush_free(PsFlush *flush);
void ps_flush_get_stats(PsFlush *flush, PsFlushStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsFlushBatch, ps_flush_batch_free)
