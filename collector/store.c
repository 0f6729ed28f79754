#include "config.h"

#include "bucket.h"
#include "store.h"

struct PsStore {
    PsAggregate *aggregate;
    PsFlush *flush;
    PsDispatch *dispatch; /* borrowed: exporter health comes from its table */
    guint step;
    PsExporterCounters reported; /* exporter totals at the last flush */
    PsFlow pending[PS_AGGREGATE_BATCH]; /* flows waiting to be aggregated as one batch */
    guint n_pending;
    gint64 pending_now_ms;
};

PsStore *
ps_store_new(const PsAggregateConfig *aggregate, const PsFlushConfig *flush, PsDispatch *dispatch)
{
    PsStore *store = g_new0(PsStore, 1);

    store->aggregate = ps_aggregate_new(aggregate);
    store->flush = ps_flush_new(flush);
    store->dispatch = dispatch;
    store->step = aggregate->step;
    return store;
}

void
ps_store_free(PsStore *store)
{
    if (store == NULL)
        return;
    ps_flush_free(store->flush);
    ps_aggregate_free(store->aggregate);
    g_free(store);
}

PsAggregate *
ps_store_aggregate(PsStore *store)
{
    return store->aggregate;
}

PsFlush *
ps_store_flusher(PsStore *store)
{
    return store->flush;
}

/* Aggregates the flows waiting in the batch; their exporters learn which had a skewed clock. */
static void
add_pending(PsStore *store)
{
    gboolean skewed[PS_AGGREGATE_BATCH];

    if (store->n_pending == 0)
        return;
    ps_aggregate_add_batch(store->aggregate, store->pending, store->n_pending,
                           store->pending_now_ms, skewed);
    for (guint i = 0; i < store->n_pending; i++) {
        PsExporter *exporter;
        if (!skewed[i])
            continue;
        exporter = g_hash_table_lookup(ps_dispatch_exporters(store->dispatch),
                                       &store->pending[i].exporter);
        if (exporter != NULL)
            exporter->clock_skewed++;
    }
    store->n_pending = 0;
}

PsFlow *
ps_store_reserve(PsStore *store, guint n, gint64 now_ms)
{
    g_return_val_if_fail(n <= PS_AGGREGATE_BATCH, NULL);
    /* a batch shares one receive time: flows of one wakeup arrive within microseconds */
    if (store->n_pending + n > PS_AGGREGATE_BATCH ||
        (store->n_pending > 0 && now_ms != store->pending_now_ms))
        add_pending(store);
    store->pending_now_ms = now_ms;
    return &store->pending[store->n_pending];
}

void
ps_store_commit(PsStore *store, guint n)
{
    store->n_pending += n;
}

void
ps_store_add(PsStore *store, const PsFlow *flow, gint64 now_ms)
{
    *ps_store_reserve(store, 1, now_ms) = *flow;
    ps_store_commit(store, 1);
}

static GArray *
exporter_health(PsStore *store)
{
    GArray *health = g_array_new(FALSE, TRUE, sizeof(PsExporterHealth));
    GHashTableIter iter;
    PsExporter *exporter;

    g_hash_table_iter_init(&iter, ps_dispatch_exporters(store->dispatch));
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&exporter)) {
        PsExporterHealth h = {0};
        PsExporterCounters total;
        ps_exporter_total(exporter, &total);
        ps_address_to_string(&exporter->address, h.address);
        h.last_seen_ms = exporter->last_seen_ms;
        h.packets = total.packets;
        h.records = total.records;
        h.errors = total.decode_errors;
        h.unknown_template_sets = total.unknown_template_sets;
        h.sequence_gaps = total.sequence_gaps;
        h.sequence_lost = total.sequence_lost;
        h.clock_skewed = exporter->clock_skewed;
        h.sampling = exporter->sampling;
        g_array_append_val(health, h);
    }
    return health;
}

/* Loss, unknown templates and errors of every exporter since the last flush, from the health
 * snapshot just taken (one pass over the exporters per flush). */
static void
add_quality(PsStore *store, PsFlushBatch *batch, const GArray *health, gint64 now_ms)
{
    PsExporterCounters now = {0};

    for (guint i = 0; i < health->len; i++) {
        const PsExporterHealth *h = &g_array_index(health, PsExporterHealth, i);
        now.sequence_lost += h->sequence_lost;
        now.unknown_template_sets += h->unknown_template_sets;
        now.decode_errors += h->errors;
    }
    batch->quality_bucket = ps_bucket_start(now_ms / 1000, store->step);
    batch->quality_step = store->step;
    batch->quality_lost = now.sequence_lost - store->reported.sequence_lost;
    batch->quality_unknown = now.unknown_template_sets - store->reported.unknown_template_sets;
    batch->quality_errors = now.decode_errors - store->reported.decode_errors;
    store->reported = now;
}

static void
push(PsStore *store, gint64 now_ms, gboolean close_all)
{
    GPtrArray *deltas;
    g_autoptr(GArray) health = NULL;
    PsFlushBatch *batch;

    add_pending(store);
    deltas = ps_aggregate_take(store->aggregate, now_ms, close_all);
    health = exporter_health(store);
    batch = ps_flush_batch_new(deltas, health, now_ms);

    add_quality(store, batch, health, now_ms);
    ps_flush_push(store->flush, batch);
}

void
ps_store_flush(PsStore *store, gint64 now_ms)
{
    push(store, now_ms, FALSE);
}

gboolean
ps_store_close(PsStore *store, gint64 now_ms, guint timeout_ms)
{
    push(store, now_ms, TRUE);
    return ps_flush_drain(store->flush, timeout_ms);
}
