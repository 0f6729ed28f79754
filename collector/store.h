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

/* Every flush interval: hand what changed, and buckets past their grace, to Redis. */
void ps_store_flush(PsStore *store, gint64 now_ms);

/* At exit: close every open bucket and wait up to timeout_ms for Redis to take it all.
 * FALSE (and a warning with what was lost) when it could not. */
gboolean ps_store_close(PsStore *store, gint64 now_ms, guint timeout_ms);

PsAggregate *ps_store_aggregate(PsStore *store);
PsFlush *ps_store_flusher(PsStore *store);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsStore, ps_store_free)
