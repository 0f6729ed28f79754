#include "config.h"

#include <string.h>

#include "bucket.h"
#include "history.h"
#include "keys.h"
#include "query.h"
#include "redis.h"

#define PS_QUERY_ALERTS_PAGE 1000 /* stream entries per XRANGE */

static gboolean
metric_is_distinct(PsMetric metric)
{
    return metric == PS_METRIC_SOURCES || metric == PS_METRIC_DESTS;
}

void
ps_query_sample_add(PsSample *into, const PsSample *from)
{
    if (from->flags & PS_SAMPLE_MISSING)
        return;
    for (guint m = 0; m < PS_N_METRICS; m++) {
        if (metric_is_distinct(m))
            into->value[m] = MAX(into->value[m], from->value[m]);
        else
            into->value[m] += from->value[m];
    }
    into->flags = (into->flags & ~PS_SAMPLE_MISSING) |
                  (from->flags & (PS_SAMPLE_DEGRADED | PS_SAMPLE_NO_NEW));
}

static double
reply_number(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_STRING ? g_ascii_strtod(reply->str, NULL) : 0;
}

static void
set_reply_error(GError **error, const char *key, const redisReply *reply, redisContext *redis)
{
    g_set_error(error, PS_REDIS_ERROR, reply != NULL ? PS_REDIS_ERROR_REPLY : PS_REDIS_ERROR_IO,
                "reading %s: %s", key,
                reply != NULL && reply->str != NULL ? reply->str : redis->errstr);
}

/* Starts of the closed buckets of step in [since, until), oldest first (gint64): history.c
 * reads (after, until], whole seconds. */
static GArray *
closed_buckets(const PsQuery *query, guint step, gint64 since, gint64 until, GError **error)
{
    PsHistoryReader reader = {query->redis, query->prefix, step};

    return ps_history_closed_buckets(&reader, since - 1, until - 1, error);
}

/* The HMGET fields of names: every metric of every series, in series then PsMetric order. */
static GPtrArray *
series_fields(GPtrArray *names)
{
    GPtrArray *fields = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < names->len; i++)
        for (guint m = 0; m < PS_N_METRICS; m++)
            g_ptr_array_add(fields, ps_field(g_ptr_array_index(names, i), ps_metric_field(m)));
    return fields;
}

typedef struct {
    PsQueryRange *range;
    const gint64 *starts; /* the batch's bucket starts, in pipeline order */
} RangeBatch;

static void
add_bucket_reply(guint index, redisReply *reply, gpointer user_data)
{
    RangeBatch *batch = user_data;
    PsQueryRange *range = batch->range;
    guint point = (guint)((batch->starts[index] - range->since) / range->step);

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != range->n_series * PS_N_METRICS)
        return; /* counted as an error reply by the pipeline, or a bucket of another shape */
    for (guint s = 0; s < range->n_series; s++) {
        PsSample bucket = {0};
        for (guint m = 0; m < PS_N_METRICS; m++)
            bucket.value[m] = reply_number(reply->element[s * PS_N_METRICS + m]);
        if (reply->element[s * PS_N_METRICS + PS_METRIC_NEW]->type != REDIS_REPLY_STRING)
            bucket.flags |= PS_SAMPLE_NO_NEW; /* not counted by the collector */
        ps_query_sample_add(&range->samples[s * range->n_points + point], &bucket);
    }
}

/* One pipeline of HMGETs for starts[0 .. n). */
static gboolean
read_batch(const PsQuery *query, PsQueryRange *range, GPtrArray *fields, const gint64 *starts,
           guint n, GError **error)
{
    guint argc = 2 + fields->len;
    g_autofree const char **argv = g_new(const char *, argc);
    RangeBatch batch = {range, starts};
    PsRedisPipeline pipeline;
    gboolean ok;

    argv[0] = "HMGET";
    for (guint f = 0; f < fields->len; f++)
        argv[2 + f] = g_ptr_array_index(fields, f);
    ps_redis_pipeline_init(&pipeline, query->redis);
    for (guint i = 0; i < n; i++) {
        g_autofree gchar *key = ps_key_bucket(query->prefix, range->source_step, starts[i]);
        argv[1] = key; /* hiredis copies the arguments into its output buffer */
        ps_redis_pipeline_append(&pipeline, argc, argv, NULL);
    }
    ok = ps_redis_pipeline_run(&pipeline, add_bucket_reply, &batch, "reading buckets", error);
    return ok;
}

static gboolean
range_shape(const PsQuery *query, PsQueryRange *range, gint64 since, gint64 until, guint step,
            GError **error)
{
    gboolean hourly = step >= PS_BUCKET_HOUR;
    guint source_step = hourly ? PS_BUCKET_HOUR : query->step;
    gint64 n_points;

    if (step == 0 || step % source_step != 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "a step of %u s is not a multiple of the %u s buckets it would be read from",
                    step, source_step);
        return FALSE;
    }
    range->step = step;
    range->source_step = source_step;
    range->since = since - ((since % step) + step) % step;
    n_points = until > range->since ? (until - range->since + step - 1) / step : 0;
    if (n_points > PS_QUERY_MAX_POINTS) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%" G_GINT64_FORMAT " points of %u s: more than %d, use a longer step",
                    n_points, step, PS_QUERY_MAX_POINTS);
        return FALSE;
    }
    range->n_points = (guint)n_points;
    return TRUE;
}

PsQueryRange *
ps_query_range_read(const PsQuery *query, GPtrArray *names, gint64 since, gint64 until, guint step,
                    GError **error)
{
    g_autoptr(PsQueryRange) range = g_new0(PsQueryRange, 1);
    g_autoptr(GArray) starts = NULL;
    g_autoptr(GPtrArray) fields = series_fields(names);

    if (!range_shape(query, range, since, until, step, error))
        return NULL;
    range->n_series = names->len;
    range->samples = g_new0(PsSample, MAX(1, (gsize)range->n_series * range->n_points));
    for (gsize i = 0; i < (gsize)range->n_series * range->n_points; i++)
        range->samples[i].flags = PS_SAMPLE_MISSING;
    starts = closed_buckets(query, range->source_step, range->since,
                            range->since + (gint64)range->n_points * step, error);
    if (starts == NULL)
        return NULL;
    range->n_closed = starts->len;
    for (guint i = 0; i < starts->len && names->len > 0; i += PS_QUERY_PIPELINE_BATCH) {
        if (!read_batch(query, range, fields, &g_array_index(starts, gint64, i),
                        MIN(PS_QUERY_PIPELINE_BATCH, starts->len - i), error))
            return NULL;
    }
    return g_steal_pointer(&range);
}

void
ps_query_range_free(PsQueryRange *range)
{
    if (range == NULL)
        return;
    g_free(range->samples);
    g_free(range);
}

const PsSample *
ps_query_range_sample(const PsQueryRange *range, guint series, gint64 point)
{
    static const PsSample missing = {.flags = PS_SAMPLE_MISSING};

    if (series >= range->n_series || point < 0 || point >= range->n_points)
        return &missing;
    return &range->samples[series * range->n_points + (guint)point];
}

/* ---- totals of a window: every series of a few buckets ---- */

static int
metric_of_field(const char *name)
{
    for (guint m = 0; m < PS_N_METRICS; m++)
        if (g_str_equal(name, ps_metric_field(m)))
            return (int)m;
    return -1;
}

/* Adds one HGETALL reply of a bucket into totals (series -> PsSample). */
static void
add_totals_reply(guint index, redisReply *reply, gpointer user_data)
{
    GHashTable *totals = user_data;
    g_autoptr(GHashTable) bucket = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GHashTableIter iter;
    gpointer name, sample;

    (void)index;
    for (gsize i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2) {
        const char *field = reply->element[i]->str;
        const char *colon = strrchr(field, ':');
        g_autofree gchar *series = colon != NULL ? g_strndup(field, colon - field) : NULL;
        int metric = colon != NULL ? metric_of_field(colon + 1) : -1;
        PsSample *entry;
        if (metric < 0 || g_str_equal(series, PS_SERIES_OTHER) ||
            g_str_equal(series, PS_QUALITY_SERIES))
            continue;
        entry = g_hash_table_lookup(bucket, series);
        if (entry == NULL) {
            entry = g_new0(PsSample, 1);
            g_hash_table_insert(bucket, g_steal_pointer(&series), entry);
        }
        entry->value[metric] = reply_number(reply->element[i + 1]);
    }
    g_hash_table_iter_init(&iter, bucket);
    while (g_hash_table_iter_next(&iter, &name, &sample)) {
        PsSample *total = g_hash_table_lookup(totals, name);
        if (total == NULL) {
            total = g_new0(PsSample, 1);
            g_hash_table_insert(totals, g_strdup(name), total);
        }
        ps_query_sample_add(total, sample);
    }
}

GHashTable *
ps_query_totals(const PsQuery *query, gint64 since, gint64 until, guint *n_buckets, GError **error)
{
    g_autoptr(GArray) starts = closed_buckets(query, query->step, since, until, error);
    g_autoptr(GHashTable) totals = NULL;
    PsRedisPipeline pipeline;
    gboolean ok = TRUE;

    if (starts == NULL)
        return NULL;
    totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; ok && i < starts->len; i += PS_QUERY_PIPELINE_BATCH) {
        ps_redis_pipeline_init(&pipeline, query->redis);
        for (guint j = i; j < starts->len && j < i + PS_QUERY_PIPELINE_BATCH; j++) {
            g_autofree gchar *key =
                ps_key_bucket(query->prefix, query->step, g_array_index(starts, gint64, j));
            ps_redis_pipeline_command(&pipeline, "HGETALL", key, NULL);
        }
        ok = ps_redis_pipeline_finish(&pipeline, add_totals_reply, totals, error);
        ps_redis_pipeline_clear(&pipeline);
    }
    *n_buckets = starts->len;
    return ok ? g_steal_pointer(&totals) : NULL;
}

/* ---- the data held ---- */

/* The score of the member at rank (0: oldest, -1: newest) of a closed set; 0 when empty. */
static gboolean
closed_at_rank(const PsQuery *query, guint step, const char *rank, gint64 *start, GError **error)
{
    g_autofree gchar *key = ps_key_closed(query->prefix, step);
    const char *argv[] = {"ZRANGE", key, rank, rank, "WITHSCORES"};
    g_autoptr(redisReply) reply = redisCommandArgv(query->redis, 5, argv, NULL);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        set_reply_error(error, key, reply, query->redis);
        return FALSE;
    }
    *start = reply->elements == 2 ? g_ascii_strtoll(reply->element[1]->str, NULL, 10) : 0;
    return TRUE;
}

gboolean
ps_query_extent(const PsQuery *query, guint step, gint64 *oldest, gint64 *newest, GError **error)
{
    return closed_at_rank(query, step, "0", oldest, error) &&
           closed_at_rank(query, step, "-1", newest, error);
}

/* ---- the alert stream ---- */

static void
alert_free(PsQueryAlert *alert)
{
    g_free(alert->stream_id);
    g_free(alert->id);
    g_free(alert->event);
    g_free(alert->series);
    g_free(alert->severity);
    g_free(alert->json);
    g_free(alert);
}

/* glib 2.76 has g_set_str(); Debian 12 has 2.74 */
static void
replace_str(gchar **target, const char *value)
{
    g_free(*target);
    *target = g_strdup(value);
}

/* A stream entry [id, [field, value, ...]] as a PsQueryAlert. */
static PsQueryAlert *
alert_from_entry(const redisReply *entry)
{
    PsQueryAlert *alert;
    const redisReply *fields;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    fields = entry->element[1];
    alert = g_new0(PsQueryAlert, 1);
    alert->stream_id = g_strdup(entry->element[0]->str);
    for (gsize i = 0; i + 1 < fields->elements; i += 2) {
        const char *name = fields->element[i]->str;
        const char *value = fields->element[i + 1]->str;
        if (g_str_equal(name, "bucket"))
            alert->bucket = g_ascii_strtoll(value, NULL, 10);
        else if (g_str_equal(name, "id"))
            replace_str(&alert->id, value);
        else if (g_str_equal(name, "event"))
            replace_str(&alert->event, value);
        else if (g_str_equal(name, "series"))
            replace_str(&alert->series, value);
        else if (g_str_equal(name, "severity"))
            replace_str(&alert->severity, value);
        else if (g_str_equal(name, "json"))
            replace_str(&alert->json, value);
    }
    return alert;
}

static gboolean
alert_wanted(const PsQueryAlert *alert, gint64 since, gint64 until, const char *series)
{
    return alert->series != NULL && alert->bucket >= since && alert->bucket < until &&
           (series == NULL || g_str_equal(alert->series, series));
}

GPtrArray *
ps_query_alerts(const PsQuery *query, gint64 since, gint64 until, const char *series,
                GError **error)
{
    g_autofree gchar *key = g_strdup_printf("%salerts", query->prefix);
    /* an entry is written after its bucket closed, so its id (the write time in ms) is never
     * older than its bucket: the stream is read from `since` on, and filtered by bucket */
    g_autofree gchar *from = g_strdup_printf("%" G_GINT64_FORMAT, MAX(0, since) * 1000);
    g_autoptr(GPtrArray) alerts = g_ptr_array_new_with_free_func((GDestroyNotify)alert_free);
    g_autofree gchar *count = g_strdup_printf("%d", PS_QUERY_ALERTS_PAGE);
    gsize page;

    do {
        const char *argv[] = {"XRANGE", key, from, "+", "COUNT", count};
        g_autoptr(redisReply) reply = redisCommandArgv(query->redis, 6, argv, NULL);
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
            set_reply_error(error, key, reply, query->redis);
            return NULL;
        }
        page = reply->elements;
        for (gsize i = 0; i < reply->elements; i++) {
            PsQueryAlert *alert = alert_from_entry(reply->element[i]);
            if (alert == NULL)
                continue;
            g_free(from);
            from = g_strdup_printf("(%s", alert->stream_id); /* exclusive: Redis >= 6.2 */
            if (alert_wanted(alert, since, until, series))
                g_ptr_array_add(alerts, alert);
            else
                alert_free(alert);
        }
    } while (page == PS_QUERY_ALERTS_PAGE);
    return g_steal_pointer(&alerts);
}
