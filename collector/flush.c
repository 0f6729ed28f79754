#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bucket.h"
#include "bucket_write.h"
#include "flush.h"
#include "keys.h"
#include "new_sources.h"
#include "once.h"

#define POLL_MS    100
#define FLUSH_NICE 10 /* see flush_thread() */
#define TOKEN_LEN  64
/* After each transaction the flush waits this many times as long as it took (so Redis is busy
 * with this collector at most a quarter of the time), at most PACE_MAX_US. */
#define PACE_FACTOR 3
#define PACE_MAX_US (200 * 1000)

struct PsFlush {
    PsFlushConfig config;
    gchar *prefix;
    gchar *collector_id;
    gchar *tmp_key;
    gchar *collector_key; /* ps:collector:<id>, which also holds the once.h token */
    PsRedisAddress address;
    GAsyncQueue *queue;
    GThread *thread;
    gboolean stopping;
    gint draining; /* someone waits for every batch to be written: no pacing */
    GMutex lock; /* guards stats and the pending count seen by drain */
    GCond drained;
    PsFlushStats stats;
    GQueue pending;           /* PsFlushBatch, oldest first; thread only */
    redisContext *redis;      /* thread only */
    PsOnceClient client;      /* redis's id and name */
    PsOnceClient lost_client; /* the connection the last reply was lost on */
    guint connections;
    guint64 next_sequence;
    gint64 started_us; /* with a batch's sequence, makes its tokens unique */
    gint64 next_attempt_us;
    guint backoff_ms;
    gint64 started_s;
};

/* ---- batches ---- */

static gsize
hll_bytes(const PsHll *hll)
{
    return ps_hll_memory(hll) + sizeof(PsHll);
}

PsFlushBatch *
ps_flush_batch_new(GPtrArray *deltas, GArray *exporters, gint64 now_ms)
{
    PsFlushBatch *batch = g_new0(PsFlushBatch, 1);

    batch->deltas = deltas;
    batch->exporters = exporters != NULL ? g_array_ref(exporters)
                                         : g_array_new(FALSE, TRUE, sizeof(PsExporterHealth));
    batch->created_ms = now_ms;
    batch->bytes = sizeof(*batch) + batch->exporters->len * sizeof(PsExporterHealth);
    for (guint i = 0; i < deltas->len; i++) {
        PsBucketDelta *delta = g_ptr_array_index(deltas, i);
        batch->bytes += ps_bucket_delta_pending_bytes(delta);
        for (guint j = 0; j < delta->series->len; j++) {
            PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, j);
            batch->bytes += sizeof(*series) + hll_bytes(&series->sources) +
                            hll_bytes(&series->destinations) +
                            (series->top != NULL ? series->top->len * sizeof(PsTopSource) : 0);
        }
    }
    return batch;
}

void
ps_flush_batch_free(PsFlushBatch *batch)
{
    if (batch == NULL)
        return;
    g_ptr_array_unref(batch->deltas);
    g_array_unref(batch->exporters);
    g_free(batch);
}

/* ---- writing one batch, a bounded number of series at a time ---- */

static guint
batch_series(const PsFlushBatch *batch)
{
    guint n = 0;

    for (guint i = 0; i < batch->deltas->len; i++)
        n += ((const PsBucketDelta *)g_ptr_array_index(batch->deltas, i))->series->len;
    return n;
}

/* Transactions for n series: at least one (it also carries the data quality and the token). */
static guint
chunks_of(const PsFlush *flush, guint n)
{
    return MAX(1u, (n + flush->config.chunk_series - 1) / flush->config.chunk_series);
}

/* Which of a delta's series (the batch's from offset on, n of them) chunk holds: the batch's
 * series are counted over its deltas in order. */
static PsSeriesRange
chunk_range(const PsFlush *flush, guint chunk, guint offset, guint n)
{
    guint from = chunk * flush->config.chunk_series, to = from + flush->config.chunk_series;
    PsSeriesRange range = {CLAMP(from, offset, offset + n) - offset,
                           CLAMP(to, offset, offset + n) - offset};

    return range;
}

/* Waits after a piece of work Redis did (begun at began_us), unless flushes are waiting or
 * the collector stops: then Redis's time is better spent catching up. */
static void
pace(PsFlush *flush, gint64 began_us)
{
    gint64 took_us = g_get_monotonic_time() - began_us;

    if (flush->pending.length > 1 || g_async_queue_length(flush->queue) > 0 ||
        g_atomic_int_get(&flush->stopping) || g_atomic_int_get(&flush->draining))
        return;
    g_usleep((gulong)MIN(took_us * PACE_FACTOR, PACE_MAX_US));
}

/* Reads a pipeline's replies; every command sent counts in the stats. */
static gboolean
finish(PsFlush *flush, PsRedisPipeline *pipeline, PsRedisReplyFn fn, gpointer data, GError **error)
{
    flush->stats.commands += pipeline->pending;
    return ps_redis_pipeline_finish(pipeline, fn, data, error);
}

static void
increment(PsRedisPipeline *pipeline, const char *key, const char *series, const char *metric,
          guint64 value)
{
    g_autofree gchar *field = NULL;
    char number[24];

    if (value == 0)
        return;
    field = ps_field(series, metric);
    g_snprintf(number, sizeof(number), "%" G_GUINT64_FORMAT, value);
    ps_redis_pipeline_command(pipeline, "HINCRBY", key, field, number, NULL);
}

static void
expire(PsRedisPipeline *pipeline, const char *key, guint ttl_s)
{
    char ttl[16];

    g_snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    ps_redis_pipeline_command(pipeline, "EXPIRE", key, ttl, NULL);
}

/* Data quality of the interval, and at close this collector's contribution to the bucket:
 * the alerter marks buckets with loss, or with fewer collectors than usual, as degraded. */
static void
write_quality(PsRedisPipeline *pipeline, PsFlush *flush, const PsFlushBatch *batch)
{
    g_autofree gchar *key =
        batch->quality_step > 0
            ? ps_key_bucket(flush->prefix, batch->quality_step, batch->quality_bucket)
            : NULL;

    if (key != NULL && batch->quality_lost + batch->quality_unknown + batch->quality_errors > 0) {
        increment(pipeline, key, PS_QUALITY_SERIES, "lost", batch->quality_lost);
        increment(pipeline, key, PS_QUALITY_SERIES, "unknown", batch->quality_unknown);
        increment(pipeline, key, PS_QUALITY_SERIES, "errors", batch->quality_errors);
        expire(pipeline, key, flush->config.minute_ttl_s); /* a bucket without flows too */
    }
    for (guint i = 0; i < batch->deltas->len; i++) {
        const PsBucketDelta *delta = g_ptr_array_index(batch->deltas, i);
        g_autofree gchar *bucket = ps_key_bucket(flush->prefix, delta->step, delta->start);
        if (delta->closing)
            increment(pipeline, bucket, PS_QUALITY_SERIES, "collectors", 1);
    }
}

/* Counter transaction chunk of a batch; the last one also carries the data quality. */
static void
write_counters(PsRedisPipeline *pipeline, PsFlush *flush, const PsFlushBatch *batch, guint chunk,
               const char *token, PsOnceExec *exec)
{
    guint offset = 0;

    ps_redis_pipeline_command(pipeline, "MULTI", NULL);
    for (guint i = 0; i < batch->deltas->len; i++) {
        const PsBucketDelta *delta = g_ptr_array_index(batch->deltas, i);
        PsSeriesRange range = chunk_range(flush, chunk, offset, delta->series->len);
        offset += delta->series->len;
        if (range.first == range.last)
            continue;
        ps_bucket_write_counters(pipeline, flush->prefix, delta->step, delta->start, delta, range,
                                 FALSE, flush->config.minute_ttl_s);
        ps_bucket_write_sketches(pipeline, flush->prefix, flush->tmp_key, delta, range,
                                 flush->config.minute_ttl_s);
    }
    if (chunk + 1 == chunks_of(flush, batch_series(batch)))
        write_quality(pipeline, flush, batch);
    ps_once_mark(pipeline, flush->collector_key, token);
    ps_once_exec(pipeline, exec);
}

static void
write_health(PsRedisPipeline *pipeline, PsFlush *flush, const PsFlushBatch *batch)
{
    const char *collector = flush->collector_key;
    g_autofree gchar *schema = ps_key_schema(flush->prefix);
    char now[24], started[24], closed[24];

    for (guint i = 0; i < batch->exporters->len; i++) {
        const PsExporterHealth *e = &g_array_index(batch->exporters, PsExporterHealth, i);
        g_autofree gchar *key = ps_key_exporter(flush->prefix, e->address);
        char seen[24], packets[24], records[24], errors[24], unknown[24], gaps[24], lost[24],
            skewed[24], sampling[16];
        g_snprintf(seen, sizeof(seen), "%" G_GINT64_FORMAT, e->last_seen_ms / 1000);
        g_snprintf(packets, sizeof(packets), "%" G_GUINT64_FORMAT, e->packets);
        g_snprintf(records, sizeof(records), "%" G_GUINT64_FORMAT, e->records);
        g_snprintf(errors, sizeof(errors), "%" G_GUINT64_FORMAT, e->errors);
        g_snprintf(unknown, sizeof(unknown), "%" G_GUINT64_FORMAT, e->unknown_template_sets);
        g_snprintf(gaps, sizeof(gaps), "%" G_GUINT64_FORMAT, e->sequence_gaps);
        g_snprintf(lost, sizeof(lost), "%" G_GUINT64_FORMAT, e->sequence_lost);
        g_snprintf(skewed, sizeof(skewed), "%" G_GUINT64_FORMAT, e->clock_skewed);
        g_snprintf(sampling, sizeof(sampling), "%u", e->sampling);
        ps_redis_pipeline_command(pipeline, "HSET", key, "last_seen", seen, "packets", packets,
                                  "records", records, "errors", errors, "unknown_templates",
                                  unknown, "sequence_gaps", gaps, "sequence_lost", lost, NULL);
        ps_redis_pipeline_command(pipeline, "HSET", key, "clock_skewed", skewed, "sampling",
                                  sampling, "collector", flush->collector_id, NULL);
    }
    g_snprintf(now, sizeof(now), "%" G_GINT64_FORMAT, g_get_real_time() / G_USEC_PER_SEC);
    g_snprintf(started, sizeof(started), "%" G_GINT64_FORMAT, flush->started_s);
    g_snprintf(closed, sizeof(closed), "%" G_GINT64_FORMAT, flush->stats.last_closed_bucket);
    ps_redis_pipeline_command(pipeline, "HSET", collector, "version", PS_VERSION, "started",
                              started, "last_flush", now, "last_closed_bucket", closed, NULL);
    expire(pipeline, collector, 86400);
    ps_redis_pipeline_command(pipeline, "SET", schema, PS_SCHEMA_VERSION, NULL);
}

/* ---- transactions that apply once (once.h) ---- */

/* A batch's transactions: part 0 writes its counters, part i + 1 closes delta i, each in
 * chunks. */
static void
unit_token(const PsFlush *flush, const PsFlushBatch *batch, guint part, guint chunk,
           char token[TOKEN_LEN])
{
    g_snprintf(token, TOKEN_LEN, "%" G_GINT64_FORMAT ".%" G_GUINT64_FORMAT ".%u.%u",
               flush->started_us, batch->sequence, part, chunk);
}

/* Whether the batch's current transaction is to be sent: yes, unless its reply was lost and
 * Redis says it is in. */
static gboolean
needs_sending(PsFlush *flush, PsFlushBatch *batch, const char *token, gboolean *send,
              GError **error)
{
    gboolean applied = FALSE;

    *send = TRUE;
    if (!batch->reply_lost)
        return TRUE;
    if (!ps_once_check(flush->redis, flush->collector_key, token, &flush->lost_client, &applied,
                       error))
        return FALSE;
    batch->reply_lost = FALSE;
    *send = !applied;
    if (applied)
        g_message("a transaction whose reply was lost had been applied: not sent again");
    return TRUE;
}

/* The replies of a transaction: EXEC runs every queued command even when one fails (a
 * script error; the new sources' script on a Redis older than 6.2), so the failures are in
 * EXEC's array, not in the pipeline's own error count. */
typedef struct {
    PsOnceExec *exec;
    guint refused;
    gchar *first_refused;
} TransactionReplies;

static void
on_transaction_reply(guint index, redisReply *reply, gpointer user_data)
{
    TransactionReplies *replies = user_data;

    ps_once_on_reply(index, reply, replies->exec);
    if (index != replies->exec->exec_index || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (gsize i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type == REDIS_REPLY_ERROR && replies->refused++ == 0)
            replies->first_refused = g_strdup(reply->element[i]->str);
    }
}

/* Reads the replies of a pipeline holding a transaction (sent: FALSE when it was not resent):
 * until they are in, it may or may not have been applied. Commands the transaction applied
 * but Redis refused are counted as reply errors: retrying would not help them. */
static gboolean
finish_transaction(PsFlush *flush, PsFlushBatch *batch, PsRedisPipeline *pipeline, gboolean sent,
                   PsOnceExec *exec, GError **error)
{
    TransactionReplies replies = {.exec = exec};
    gboolean ok;

    batch->reply_lost = sent;
    ok = finish(flush, pipeline, on_transaction_reply, &replies, error) &&
         ps_once_exec_applied(exec, "flush", error);
    if (ok)
        batch->reply_lost = FALSE;
    if (replies.refused > 0) {
        flush->stats.reply_errors += replies.refused;
        g_warning("Redis refused %u commands of a transaction: %s", replies.refused,
                  replies.first_refused);
    }
    g_free(replies.first_refused);
    return ok;
}

/* ---- closing buckets: distinct counts, top sources, the closed marker ---- */

typedef struct {
    GArray *counts; /* guint64 per PFCOUNT */
} Counts;

static void
collect_count(guint index, redisReply *reply, gpointer user_data)
{
    Counts *counts = user_data;
    guint64 value = reply->type == REDIS_REPLY_INTEGER ? (guint64)reply->integer : 0;

    (void)index;
    g_array_append_val(counts->counts, value);
}

static void
write_top(PsRedisPipeline *pipeline, PsFlush *flush, const PsBucketDelta *delta,
          const PsSeriesDelta *series)
{
    g_autofree gchar *key =
        ps_key_bucket_series(flush->prefix, delta->step, delta->start, "top", series->name);
    g_autofree gchar *hour_key =
        ps_key_bucket_series(flush->prefix, PS_BUCKET_HOUR,
                             ps_bucket_start(delta->start, PS_BUCKET_HOUR), "top", series->name);

    for (guint k = 0; series->top != NULL && k < series->top->len; k++) {
        const PsTopSource *top = &g_array_index(series->top, PsTopSource, k);
        char address[PS_ADDRESS_STRLEN], flows[24];
        ps_address_to_string(&top->source, address);
        g_snprintf(flows, sizeof(flows), "%" G_GUINT64_FORMAT, top->flows);
        /* ZINCRBY: several collectors add up for a source they both saw */
        ps_redis_pipeline_command(pipeline, "ZINCRBY", key, flows, address, NULL);
        ps_redis_pipeline_command(pipeline, "ZINCRBY", hour_key, flows, address, NULL);
    }
    expire(pipeline, key, flush->config.minute_ttl_s);
    expire(pipeline, hour_key, flush->config.hour_ttl_s);
}

/* Reads PFCOUNT of the range's series of a closed bucket and writes it as
 * <series>:nsrc/:ndst. */
static gboolean
write_distinct_range(PsFlush *flush, guint step, gint64 start, GPtrArray *names,
                     PsSeriesRange range, GError **error)
{
    PsRedisPipeline pipeline;
    Counts counts = {.counts = g_array_new(FALSE, FALSE, sizeof(guint64))};
    g_autofree gchar *bucket = ps_key_bucket(flush->prefix, step, start);
    guint n = range.last - range.first;
    gboolean ok;

    ps_redis_pipeline_init(&pipeline, flush->redis);
    for (guint i = range.first; i < range.last; i++) {
        for (guint kind = 0; kind < 2; kind++) {
            g_autofree gchar *key = ps_key_bucket_series(
                flush->prefix, step, start, kind == 0 ? "src" : "dst", g_ptr_array_index(names, i));
            ps_redis_pipeline_command(&pipeline, "PFCOUNT", key, NULL);
        }
    }
    ok = finish(flush, &pipeline, collect_count, &counts, error);
    ps_redis_pipeline_clear(&pipeline);
    for (guint j = 0; ok && j < n && counts.counts->len == n * 2; j++) {
        guint i = range.first + j;
        g_autofree gchar *nsrc = ps_field(g_ptr_array_index(names, i), "nsrc");
        g_autofree gchar *ndst = ps_field(g_ptr_array_index(names, i), "ndst");
        char src_count[24], dst_count[24];
        g_snprintf(src_count, sizeof(src_count), "%" G_GUINT64_FORMAT,
                   g_array_index(counts.counts, guint64, 2 * j));
        g_snprintf(dst_count, sizeof(dst_count), "%" G_GUINT64_FORMAT,
                   g_array_index(counts.counts, guint64, 2 * j + 1));
        ps_redis_pipeline_command(&pipeline, "HSET", bucket, nsrc, src_count, ndst, dst_count,
                                  NULL);
    }
    g_array_unref(counts.counts);
    if (ok)
        ok = finish(flush, &pipeline, NULL, NULL, error);
    ps_redis_pipeline_clear(&pipeline);
    return ok;
}

/* The distinct counts of every series of a closed bucket, a chunk at a time (idempotent: a
 * retry writes them again). */
static gboolean
write_distinct_counts(PsFlush *flush, guint step, gint64 start, GPtrArray *names, GError **error)
{
    for (guint chunk = 0; chunk * flush->config.chunk_series < names->len; chunk++) {
        gint64 began_us = g_get_monotonic_time();
        if (!write_distinct_range(flush, step, start, names,
                                  chunk_range(flush, chunk, 0, names->len), error))
            return FALSE;
        pace(flush, began_us);
    }
    return TRUE;
}

/* Series names of an hour bucket, from its "<series>:flows" fields. */
static GPtrArray *
hour_series(PsFlush *flush, gint64 hour)
{
    g_autofree gchar *key = ps_key_bucket(flush->prefix, PS_BUCKET_HOUR, hour);
    const char *argv[] = {"HKEYS", key};
    g_autoptr(redisReply) reply = redisCommandArgv(flush->redis, 2, argv, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

    for (gsize i = 0; reply != NULL && reply->type == REDIS_REPLY_ARRAY && i < reply->elements;
         i++) {
        const char *field = reply->element[i]->str;
        if (g_str_has_suffix(field, ":flows"))
            g_ptr_array_add(names, g_strndup(field, strlen(field) - strlen(":flows")));
    }
    return names;
}

/* The sources new to each watched series of a closing delta, in its closing transaction:
 * written once with the bucket, retried with it, and a retry adds nothing (new_sources.h). A
 * series whose (series, source) pairs reached max_sources has only part of its sources
 * listed: what is known is still written; the sources left out count neither as new now nor
 * as seen later (their flows are in "<series>:untracked"). */
static void
write_new_sources(PsRedisPipeline *pipeline, PsFlush *flush, const PsBucketDelta *delta,
                  PsSeriesRange range)
{
    PsNewSourcesConfig config = {flush->prefix, flush->config.new_sources_horizon_s,
                                 flush->config.new_sources_max};

    if (config.horizon_s == 0)
        return;
    for (guint j = range.first; j < range.last; j++) {
        const PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, j);
        if (series->source_list != NULL)
            ps_new_sources_append(pipeline, &config, delta->step, delta->start, series->name,
                                  series->source_list);
    }
}

/* A transaction closing a bucket, for the chunk's series: top sources, new sources, hour
 * roll-up; the last chunk adds the closed marker, so readers see the bucket closed only once
 * every chunk is in. */
static gboolean
write_close(PsFlush *flush, PsFlushBatch *batch, const PsBucketDelta *delta, guint chunk,
            const char *token, GError **error)
{
    PsSeriesRange range = chunk_range(flush, chunk, 0, delta->series->len);
    g_autofree gchar *closed = ps_key_closed(flush->prefix, delta->step);
    char start[24], oldest[24];
    PsRedisPipeline pipeline;
    PsOnceExec exec;
    gboolean send, ok;

    if (!needs_sending(flush, batch, token, &send, error))
        return FALSE;
    if (!send)
        return TRUE;
    /* a transaction: a retry after a failure half-way would add the top sources twice */
    ps_redis_pipeline_init(&pipeline, flush->redis);
    ps_redis_pipeline_command(&pipeline, "MULTI", NULL);
    for (guint j = range.first; j < range.last; j++)
        write_top(&pipeline, flush, delta, &g_array_index(delta->series, PsSeriesDelta, j));
    write_new_sources(&pipeline, flush, delta, range);
    ps_bucket_write_rollup(&pipeline, flush->prefix, delta, range, flush->config.hour_ttl_s);
    if (chunk + 1 == chunks_of(flush, delta->series->len)) {
        g_snprintf(start, sizeof(start), "%" G_GINT64_FORMAT, delta->start);
        g_snprintf(oldest, sizeof(oldest), "%" G_GINT64_FORMAT,
                   delta->start - (gint64)flush->config.minute_ttl_s);
        ps_redis_pipeline_command(&pipeline, "ZADD", closed, start, start, NULL);
        ps_redis_pipeline_command(&pipeline, "ZREMRANGEBYSCORE", closed, "-inf", oldest, NULL);
    }
    ps_once_mark(&pipeline, flush->collector_key, token);
    ps_once_exec(&pipeline, &exec);
    ok = finish_transaction(flush, batch, &pipeline, TRUE, &exec, error);
    ps_redis_pipeline_clear(&pipeline);
    return ok;
}

/* An hour's last minute closed: its distinct counts and its closed marker (idempotent). */
static gboolean
close_hour(PsFlush *flush, gint64 hour, GError **error)
{
    g_autofree gchar *hour_closed = ps_key_closed(flush->prefix, PS_BUCKET_HOUR);
    g_autoptr(GPtrArray) hour_names = hour_series(flush, hour);
    char hour_start[24], hour_oldest[24];
    PsRedisPipeline pipeline;
    gboolean ok;

    g_snprintf(hour_start, sizeof(hour_start), "%" G_GINT64_FORMAT, hour);
    g_snprintf(hour_oldest, sizeof(hour_oldest), "%" G_GINT64_FORMAT,
               hour - (gint64)flush->config.hour_ttl_s);
    if (!write_distinct_counts(flush, PS_BUCKET_HOUR, hour, hour_names, error))
        return FALSE;
    ps_redis_pipeline_init(&pipeline, flush->redis);
    ps_redis_pipeline_command(&pipeline, "ZADD", hour_closed, hour_start, hour_start, NULL);
    ps_redis_pipeline_command(&pipeline, "ZREMRANGEBYSCORE", hour_closed, "-inf", hour_oldest,
                              NULL);
    ok = finish(flush, &pipeline, NULL, NULL, error);
    ps_redis_pipeline_clear(&pipeline);
    return ok;
}

/* Closes delta index of batch: distinct counts, its transaction (once), the hour's closing
 * when the bucket ends an hour. A retry repeats only what is idempotent. */
static gboolean
close_bucket(PsFlush *flush, PsFlushBatch *batch, guint index, GError **error)
{
    const PsBucketDelta *delta = g_ptr_array_index(batch->deltas, index);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    char token[TOKEN_LEN];
    gint64 hour = ps_bucket_start(delta->start, PS_BUCKET_HOUR);

    for (guint j = 0; j < delta->series->len; j++)
        g_ptr_array_add(names, (gpointer)g_array_index(delta->series, PsSeriesDelta, j).name);
    if (!write_distinct_counts(flush, delta->step, delta->start, names, error))
        return FALSE;
    while (batch->close_next < chunks_of(flush, delta->series->len)) {
        gint64 began_us = g_get_monotonic_time();
        unit_token(flush, batch, index + 1, batch->close_next, token);
        if (!write_close(flush, batch, delta, batch->close_next, token, error))
            return FALSE;
        batch->close_next++;
        pace(flush, began_us);
    }
    if (delta->start + delta->step == hour + PS_BUCKET_HOUR && !close_hour(flush, hour, error))
        return FALSE;
    flush->stats.last_closed_bucket = MAX(flush->stats.last_closed_bucket, delta->start);
    return TRUE;
}

/* The heartbeat's last closed bucket, once the buckets of a batch are closed. */
static gboolean
write_last_closed(PsFlush *flush, GError **error)
{
    PsRedisPipeline pipeline;
    char closed[24];
    gboolean ok;

    g_snprintf(closed, sizeof(closed), "%" G_GINT64_FORMAT, flush->stats.last_closed_bucket);
    ps_redis_pipeline_init(&pipeline, flush->redis);
    ps_redis_pipeline_command(&pipeline, "HSET", flush->collector_key, "last_closed_bucket", closed,
                              NULL);
    ok = finish(flush, &pipeline, NULL, NULL, error);
    ps_redis_pipeline_clear(&pipeline);
    return ok;
}

/* The batch's next counter transaction, with the health of exporters and collector on the
 * first. */
static gboolean
write_counter_chunk(PsFlush *flush, PsFlushBatch *batch, GError **error)
{
    PsRedisPipeline pipeline;
    PsOnceExec exec = {.exec_index = G_MAXUINT};
    char token[TOKEN_LEN];
    gboolean ok, send;

    unit_token(flush, batch, 0, batch->counters_next, token);
    if (!needs_sending(flush, batch, token, &send, error))
        return FALSE;
    ps_redis_pipeline_init(&pipeline, flush->redis);
    if (send)
        write_counters(&pipeline, flush, batch, batch->counters_next, token, &exec);
    if (batch->counters_next == 0)
        write_health(&pipeline, flush, batch);
    ok = finish_transaction(flush, batch, &pipeline, send, &exec, error);
    if (ok && pipeline.reply_errors > 0) {
        flush->stats.reply_errors += pipeline.reply_errors;
        g_warning("Redis refused %u commands of a flush: %s", pipeline.reply_errors,
                  pipeline.first_error);
    }
    ps_redis_pipeline_clear(&pipeline);
    return ok;
}

static gboolean
write_batch(PsFlush *flush, PsFlushBatch *batch, GError **error)
{
    guint counter_chunks = chunks_of(flush, batch_series(batch));
    gboolean ok = TRUE;

    while (ok && batch->counters_next < counter_chunks) {
        gint64 began_us = g_get_monotonic_time();
        ok = write_counter_chunk(flush, batch, error);
        if (ok) {
            batch->counters_next++; /* the transaction is in: never apply it twice */
            pace(flush, began_us);
        }
    }
    for (guint i = batch->closed_next; ok && i < batch->deltas->len; i++) {
        const PsBucketDelta *delta = g_ptr_array_index(batch->deltas, i);
        if (delta->closing)
            ok = close_bucket(flush, batch, i, error);
        if (ok) {
            batch->closed_next = i + 1;
            batch->close_next = 0;
        }
    }
    if (ok && batch->closed_next > 0)
        ok = write_last_closed(flush, error);
    return ok;
}

/* ---- the thread ---- */

/* What a batch would lose if dropped now: the port totals (not per direction) of the series
 * whose counter transactions are not in Redis yet. */
static PsCounts
unwritten_totals(const PsFlush *flush, const PsFlushBatch *batch)
{
    guint written = batch->counters_next * flush->config.chunk_series, index = 0;
    PsCounts lost = {0};

    for (guint i = 0; i < batch->deltas->len; i++) {
        const PsBucketDelta *delta = g_ptr_array_index(batch->deltas, i);
        for (guint j = 0; j < delta->series->len; j++, index++) {
            const PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, j);
            if (index < written || strchr(series->name, '@') != NULL)
                continue; /* in Redis, or a direction series repeating its port's total */
            lost.flows += series->counts.flows;
            lost.packets += series->counts.packets;
            lost.bytes += series->counts.bytes;
        }
    }
    return lost;
}

static void
drop_oldest(PsFlush *flush, const char *why)
{
    PsFlushBatch *batch = g_queue_pop_head(&flush->pending);
    PsCounts lost = unwritten_totals(flush, batch);
    /* every counter transaction is in Redis: only the closing is lost */
    gboolean written = batch->counters_next >= chunks_of(flush, batch_series(batch));

    g_mutex_lock(&flush->lock);
    flush->stats.dropped_batches++;
    flush->stats.dropped.flows += lost.flows;
    flush->stats.dropped.packets += lost.packets;
    flush->stats.dropped.bytes += lost.bytes;
    flush->stats.pending_bytes -= batch->bytes;
    flush->stats.pending_batches--;
    g_mutex_unlock(&flush->lock);
    if (written)
        g_warning("buckets up to %" G_GINT64_FORMAT " were counted but not closed (no final "
                  "distinct counts, top sources or closed marker): %s",
                  batch->created_ms / 1000, why);
    else
        g_warning("dropped %" G_GUINT64_FORMAT " flows (%" G_GUINT64_FORMAT
                  " packets, %" G_GUINT64_FORMAT " bytes) aggregated at %" G_GINT64_FORMAT ": %s%s",
                  lost.flows, lost.packets, lost.bytes, batch->created_ms / 1000, why,
                  batch->reply_lost ? " (sent once, reply lost: Redis may have them)" : "");
    ps_flush_batch_free(batch);
}

/* The top K of the buckets a batch closes, ranked here rather than on the receive thread; the
 * pair tables it was ranked from are freed, and leave the memory bound. */
static void
rank_top(PsFlush *flush, PsFlushBatch *batch)
{
    gsize released = 0;

    for (guint i = 0; i < batch->deltas->len; i++)
        released += ps_bucket_delta_rank_top(g_ptr_array_index(batch->deltas, i));
    released = MIN(released, batch->bytes);
    batch->bytes -= released;
    g_mutex_lock(&flush->lock);
    flush->stats.pending_bytes -= released;
    g_mutex_unlock(&flush->lock);
}

static void
take_queued(PsFlush *flush, guint wait_ms)
{
    PsFlushBatch *batch = g_async_queue_timeout_pop(flush->queue, (guint64)wait_ms * 1000);

    while (batch != NULL) {
        rank_top(flush, batch);
        g_queue_push_tail(&flush->pending, batch);
        batch = g_async_queue_try_pop(flush->queue);
    }
    while (flush->stats.pending_bytes > flush->config.max_pending_bytes &&
           flush->pending.length > 1)
        drop_oldest(flush, "Redis unreachable and the memory bound for held flushes reached");
}

/* Names the new connection after this collector, so that CLIENT LIST shows whose it is and
 * once.h can recognise it. */
static void
connected(PsFlush *flush)
{
    g_autofree gchar *name =
        g_strdup_printf("portsurge-collector:%s:%" G_GINT64_FORMAT ":%u", flush->collector_id,
                        flush->started_s, ++flush->connections);

    g_strcanon(name, G_CSET_a_2_z G_CSET_A_2_Z G_CSET_DIGITS ":-_.", '_');
    ps_once_connected(flush->redis, name, &flush->client);
}

static void
connection_failed(PsFlush *flush, const GError *error)
{
    g_autofree gchar *where = ps_redis_address_describe(&flush->address);

    if (flush->redis != NULL)
        flush->lost_client = flush->client; /* once.h: killed before anything is resent */
    g_clear_pointer(&flush->redis, redisFree);
    /* exponential backoff with jitter, so several collectors do not retry in step */
    flush->backoff_ms = MIN(MAX(flush->backoff_ms * 2, 100u), flush->config.backoff_max_ms);
    flush->next_attempt_us =
        g_get_monotonic_time() +
        (flush->backoff_ms / 2 + g_random_int_range(0, flush->backoff_ms / 2 + 1)) * 1000LL;
    g_mutex_lock(&flush->lock);
    if (flush->stats.connected || flush->stats.failures == 0)
        g_warning("Redis %s: %s; holding flushes in memory and retrying", where, error->message);
    flush->stats.failures++;
    flush->stats.connected = FALSE;
    g_mutex_unlock(&flush->lock);
}

static void
write_pending(PsFlush *flush)
{
    while (flush->pending.length > 0 && g_get_monotonic_time() >= flush->next_attempt_us) {
        g_autoptr(GError) error = NULL;
        PsFlushBatch *batch = g_queue_peek_head(&flush->pending);
        gint64 begin = g_get_monotonic_time();

        if (flush->redis == NULL) {
            flush->redis = ps_redis_connect(&flush->address, flush->config.timeout_ms, &error);
            if (flush->redis == NULL) {
                connection_failed(flush, error);
                return;
            }
            connected(flush);
        }
        if (!write_batch(flush, batch, &error)) {
            connection_failed(flush, error);
            return;
        }
        g_queue_pop_head(&flush->pending);
        g_mutex_lock(&flush->lock);
        if (!flush->stats.connected && flush->stats.failures > 0)
            g_message("Redis is back: writing %u held flushes", flush->stats.pending_batches);
        flush->stats.connected = TRUE;
        flush->stats.batches_written++;
        flush->stats.pending_bytes -= batch->bytes;
        flush->stats.pending_batches--;
        flush->stats.last_flush_ms = g_get_real_time() / 1000;
        flush->stats.last_latency_us = g_get_monotonic_time() - begin;
        g_cond_broadcast(&flush->drained);
        g_mutex_unlock(&flush->lock);
        flush->backoff_ms = 0;
        ps_flush_batch_free(batch);
    }
}

static gpointer
flush_thread(gpointer data)
{
    PsFlush *flush = data;

    /* Where the flush shares a CPU with the receive thread, a burst of Redis writes must not
     * keep datagrams waiting in the socket: the receive thread goes first, the flush takes
     * what is left (its queue is bounded, and what it has to drop is counted). Linux nices
     * threads one by one. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), FLUSH_NICE) != 0)
        g_debug("flush thread: setpriority: %s", g_strerror(errno));
    while (!g_atomic_int_get(&flush->stopping) || g_async_queue_length(flush->queue) > 0) {
        take_queued(flush, POLL_MS);
        write_pending(flush);
    }
    return NULL;
}

PsFlush *
ps_flush_new(const PsFlushConfig *config)
{
    PsFlush *flush = g_new0(PsFlush, 1);

    flush->config = *config;
    if (flush->config.chunk_series == 0)
        flush->config.chunk_series = PS_FLUSH_CHUNK_SERIES;
    flush->prefix = g_strdup(config->prefix);
    flush->collector_id = g_strdup(config->collector_id);
    flush->tmp_key = g_strdup_printf("%stmp:%s", config->prefix, config->collector_id);
    flush->collector_key = ps_key_collector(config->prefix, config->collector_id);
    flush->address = config->address;
    flush->address.host = g_strdup(config->address.host);
    flush->address.unix_path = g_strdup(config->address.unix_path);
    flush->address.user = g_strdup(config->address.user);
    flush->address.password = g_strdup(config->address.password);
    flush->config.prefix = flush->prefix;
    flush->config.collector_id = flush->collector_id;
    flush->started_us = g_get_real_time();
    flush->started_s = flush->started_us / G_USEC_PER_SEC;
    flush->queue = g_async_queue_new();
    g_mutex_init(&flush->lock);
    g_cond_init(&flush->drained);
    g_queue_init(&flush->pending);
    flush->thread = g_thread_new("ps-flush", flush_thread, flush);
    return flush;
}

void
ps_flush_push(PsFlush *flush, PsFlushBatch *batch)
{
    g_mutex_lock(&flush->lock);
    flush->stats.pending_bytes += batch->bytes;
    flush->stats.pending_batches++;
    batch->sequence = flush->next_sequence++;
    g_mutex_unlock(&flush->lock);
    g_async_queue_push(flush->queue, batch);
}

gboolean
ps_flush_drain(PsFlush *flush, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    gboolean empty;

    g_atomic_int_inc(&flush->draining);
    g_mutex_lock(&flush->lock);
    while (flush->stats.pending_batches > 0 &&
           g_cond_wait_until(&flush->drained, &flush->lock, deadline))
        ;
    empty = flush->stats.pending_batches == 0;
    g_mutex_unlock(&flush->lock);
    g_atomic_int_dec_and_test(&flush->draining);
    return empty;
}

void
ps_flush_free(PsFlush *flush)
{
    if (flush == NULL)
        return;
    g_atomic_int_set(&flush->stopping, TRUE);
    g_thread_join(flush->thread);
    while (flush->pending.length > 0)
        drop_oldest(flush, "still not written at exit");
    g_clear_pointer(&flush->redis, redisFree);
    g_async_queue_unref(flush->queue);
    g_mutex_clear(&flush->lock);
    g_cond_clear(&flush->drained);
    ps_redis_address_clear(&flush->address);
    g_free(flush->prefix);
    g_free(flush->collector_id);
    g_free(flush->tmp_key);
    g_free(flush->collector_key);
    g_free(flush);
}

void
ps_flush_get_stats(PsFlush *flush, PsFlushStats *stats)
{
    g_mutex_lock(&flush->lock);
    *stats = flush->stats;
    g_mutex_unlock(&flush->lock);
}
