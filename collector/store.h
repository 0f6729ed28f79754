/* The aggregation side of the collector: flows into a PsAggregate on the receive thread, and
 * every flush interval its deltas, with exporter health, handed to the PsFlush thread that
 * writes Redis. Ties aggregate.c and flush.c together so main.c stays options and loop. */
#pragma once

#include "aggregate.h"
#include "dispatch.h"
#include "flush.h"

typedef struct PsStore PsStore;

PsStore *ps_store_new(const PsAggregateConfig *aggregate, const PsFlushConfig *flush,
                      PsDispatch *dispatch);
/* Stops the flush thread: call ps_store_close() first to write everything. */
void ps_store_free(PsStore *store);

/* Counts a decoded flow (on the receive thread). now_ms: receive or capture time. */
void ps_store_add(PsStore *store, const PsFlow *flow, gint64 now_ms);

/* The same for flows decoded in place: room for n (at most PS_AGGREGATE_BATCH) flows, then
 * how many of them were written. Nothing else may be added in between. */
PsFlow *ps_store_reserve(PsStore *store, guint n, gint64 now_ms);
void ps_store_commit(PsStore *store, guint n);

/* Every flush interval: hand what changed, and buckets past their grace, to Redis. */
void ps_store_flush(PsStore *store, gint64 now_ms);

/* At exit: close every open bucket and wait up to timeout_ms for Redis to take it all.
 * FALSE (and a warning with what was lost) when it could not. */
gboolean ps_store_close(PsStore *store, gint64 now_ms, guint timeout_ms);

PsAggregate *ps_store_aggregate(PsStore *store);
PsFlush *ps_store_flusher(PsStore *store);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsStore, ps_store_free)
