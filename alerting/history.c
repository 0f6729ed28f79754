#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "keys.h"
#include "redis.h"

#define WEEKLY_MIN_WEEKS 3
#define WEEKLY_CLIP_MIN  0.3
#define WEEKLY_CLIP_MAX  3.0

const char *
ps_metric_field(PsMetric metric)
{
    static const char *fields[PS_N_METRICS] = {"nsrc", "syn",   "ndst", "flows",
                                               "pkts", "bytes", "nnew"};

    return metric < PS_N_METRICS ? fields[metric] : "?";
}
/* the bucket's data quality fields, asked for after every series' metrics */
static const char *quality_fields[] = {"lost", "unknown", "errors", "collectors"};
#define N_QUALITY G_N_ELEMENTS(quality_fields)

gboolean
ps_history_is_weekend(gint64 t)
{
    gint64 day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    gint64 weekday = ((day % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday: 0 = Monday */

    return weekday >= 5;
}

/* One HMGET per bucket asks for every metric of every series. */
static void
append_bucket(PsRedisPipeline *pipeline, const PsHistoryReader *reader, guint step, gint64 start,
              GPtrArray *names)
{
    g_autofree gchar *key = ps_key_bucket(reader->prefix, step, start);
    guint argc = 2 + names->len * PS_N_METRICS + N_QUALITY;
    g_autofree const char **argv = g_new(const char *, argc);
    g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);

    argv[0] = "HMGET";
    argv[1] = key;
    for (guint i = 0; i < names->len; i++) {
        for (guint m = 0; m < PS_N_METRICS; m++) {
            gchar *field = ps_field(g_ptr_array_index(names, i), ps_metric_field(m));
            g_ptr_array_add(fields, field);
            argv[2 + i * PS_N_METRICS + m] = field;
        }
    }
    for (guint q = 0; q < N_QUALITY; q++) {
        gchar *field = ps_field(PS_QUALITY_SERIES, quality_fields[q]);
        g_ptr_array_add(fields, field);
        argv[2 + names->len * PS_N_METRICS + q] = field;
    }
    ps_redis_pipeline_append(pipeline, argc, argv, NULL);
}

typedef struct {
    GPtrArray *replies; /* redisReply, owned */
} Replies;

static void
keep_reply(guint index, redisReply *reply, gpointer user_data)
{
    Replies *replies = user_data;
    redisReply *copy = g_new0(redisReply, 1);

    (void)index;
    /* the pipeline frees its replies: keep only what we read, the values */
    copy->type = reply->type;
    copy->elements = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
    if (copy->elements > 0) {
        copy->element = g_new0(redisReply *, copy->elements);
        for (gsize i = 0; i < copy->elements; i++) {
            redisReply *value = g_new0(redisReply, 1);
            value->type = reply->element[i]->type;
            value->str = g_strdup(reply->element[i]->str);
            copy->element[i] = value;
        }
    }
    g_ptr_array_add(replies->replies, copy);
}

void
ps_history_reply_free(redisReply *reply)
{
    for (gsize i = 0; i < reply->elements; i++) {
        g_free(reply->element[i]->str);
        g_free(reply->element[i]);
    }
    g_free(reply->element);
    g_free(reply);
}

/* Whether field index of an HMGET reply is present (nil: the hash has no such field). */
static gboolean
reply_has(const redisReply *reply, guint index)
{
    return reply->type == REDIS_REPLY_ARRAY && index < reply->elements &&
           reply->element[index]->str != NULL;
}

static double
reply_number(const redisReply *reply, guint index)
{
    return reply_has(reply, index) ? g_ascii_strtod(reply->element[index]->str, NULL) : 0;
}

/* Collectors that closed a bucket; 0 when unknown. */
static double
bucket_collectors(const redisReply *reply, guint n_series)
{
    return reply_number(reply, n_series * PS_N_METRICS + N_QUALITY - 1);
}

/* A bucket is degraded when exporters lost packets, sent data without templates or malformed
 * packets during it, or fewer collectors than usual closed it. */
static gboolean
bucket_degraded(const redisReply *reply, guint n_series, double usual_collectors)
{
    guint base = n_series * PS_N_METRICS;

    return reply_number(reply, base) + reply_number(reply, base + 1) +
                   reply_number(reply, base + 2) > 0 ||
           bucket_collectors(reply, n_series) < usual_collectors;
}

static void
fill_sample(const redisReply *reply, guint series, guint n_series, gboolean closed,
            double usual_collectors, PsSample *sample)
{
    memset(sample, 0, sizeof(*sample));
    if (!closed || reply->type != REDIS_REPLY_ARRAY) {
        sample->flags = PS_SAMPLE_MISSING;
        return;
    }
    for (guint m = 0; m < PS_N_METRICS; m++)
        sample->value[m] = reply_number(reply, series * PS_N_METRICS + m);
    /* the collector writes nnew only for series it tracks, once it has a horizon of them */
    if (!reply_has(reply, series * PS_N_METRICS + PS_METRIC_NEW))
        sample->flags |= PS_SAMPLE_NO_NEW;
    if (bucket_degraded(reply, n_series, usual_collectors))
        sample->flags |= PS_SAMPLE_DEGRADED;
}

static gboolean
read_closed_set(const PsHistoryReader *reader, guint step, gint64 from, gint64 to,
                GHashTable *closed, GError **error)
{
    g_autofree gchar *key = ps_key_closed(reader->prefix, step);
    g_autofree gchar *min = g_strdup_printf("%" G_GINT64_FORMAT, from);
    g_autofree gchar *max = g_strdup_printf("%" G_GINT64_FORMAT, to);
    const char *argv[] = {"ZRANGEBYSCORE", key, min, max};
    g_autoptr(redisReply) reply = redisCommandArgv(reader->redis, 4, argv, NULL);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_IO, "reading %s: %s", key,
                    reply != NULL && reply->str != NULL ? reply->str : reader->redis->errstr);
        return FALSE;
    }
    for (gsize i = 0; i < reply->elements; i++) {
        gint64 *start = g_new(gint64, 1);
        *start = g_ascii_strtoll(reply->element[i]->str, NULL, 10);
        g_hash_table_add(closed, start);
    }
    return TRUE;
}

static gboolean
is_closed(GHashTable *closed, gint64 start)
{
    return g_hash_table_contains(closed, &start);
}

/* Buckets read for bucket t, in pipeline order: t, same-time slots, recent, hours. */
static guint
bucket_plan(gint64 t, guint step, gint64 *starts, guint *steps)
{
    guint n = 0;
    gint64 hour = t - t % 3600;

    starts[n] = t, steps[n++] = step;
    for (guint d = 0; d < PS_BASELINE_DAYS; d++)
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++)
            starts[n] = t - (gint64)(d + 1) * 86400 + ((gint64)s - PS_BASELINE_WINDOW) * step,
            steps[n++] = step;
    for (guint k = 0; k < PS_BASELINE_RECENT; k++)
        starts[n] = t - (gint64)(k + 1) * step, steps[n++] = step;
    /* weekly correction: same hour of week on previous weeks, same hour on previous days */
    for (guint w = 0; w < WEEKLY_MIN_WEEKS; w++)
        starts[n] = hour - (gint64)(w + 1) * 7 * 86400, steps[n++] = 3600;
    for (guint d = 0; d < PS_BASELINE_DAYS; d++)
        starts[n] = hour - (gint64)(d + 1) * 86400, steps[n++] = 3600;
    return n;
}

#define PLAN_MAX (1 + PS_BASELINE_DAYS * PS_BASELINE_SLOTS + PS_BASELINE_RECENT + \
                  WEEKLY_MIN_WEEKS + PS_BASELINE_DAYS)

/* median(same hour of week) / median(same hour of day), from hour roll-ups; 1 until three
 * weeks of them exist. */
static double
weekly_factor(const PsSample *weeks, const PsSample *days, PsMetric metric)
{
    double week_values[WEEKLY_MIN_WEEKS], day_values[PS_BASELINE_DAYS];
    guint n_weeks = 0, n_days = 0;
    double day_median;

    for (guint w = 0; w < WEEKLY_MIN_WEEKS; w++)
        if (!(weeks[w].flags & PS_SAMPLE_MISSING))
            week_values[n_weeks++] = weeks[w].value[metric];
    for (guint d = 0; d < PS_BASELINE_DAYS; d++)
        if (!(days[d].flags & PS_SAMPLE_MISSING))
            day_values[n_days++] = days[d].value[metric];
    if (n_weeks < WEEKLY_MIN_WEEKS || n_days < 3)
        return 1.0;
    day_median = ps_median(day_values, n_days);
    if (day_median <= 0)
        return 1.0;
    return CLAMP(ps_median(week_values, n_weeks) / day_median, WEEKLY_CLIP_MIN, WEEKLY_CLIP_MAX);
}

/* The usual number of collectors: the most that closed any recent bucket. */
static double
usual_collectors(GPtrArray *replies, guint n_series)
{
    double usual = 0;

    for (guint k = 0; k < PS_BASELINE_RECENT; k++) {
        guint n = 1 + PS_BASELINE_DAYS * PS_BASELINE_SLOTS + k;
        usual = MAX(usual, bucket_collectors(g_ptr_array_index(replies, n), n_series));
    }
    return usual;
}

static void
fill_history(GPtrArray *replies, GHashTable *closed, GHashTable *closed_hours, const gint64 *starts,
             guint series, guint n_series, gint64 t, PsSample *x, PsHistory *history)
{
    guint n = 1;
    PsSample weeks[WEEKLY_MIN_WEEKS], days[PS_BASELINE_DAYS];
    gboolean weekend = ps_history_is_weekend(t);
    double usual = usual_collectors(replies, n_series);

    ps_history_init(history);
    fill_sample(g_ptr_array_index(replies, 0), series, n_series, is_closed(closed, starts[0]),
                usual, x);
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        history->same_kind[d] = ps_history_is_weekend(t - (gint64)(d + 1) * 86400) == weekend;
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++, n++)
            fill_sample(g_ptr_array_index(replies, n), series, n_series,
                        is_closed(closed, starts[n]), 0, &history->same_time[d][s]);
    }
    for (guint k = 0; k < PS_BASELINE_RECENT; k++, n++)
        fill_sample(g_ptr_array_index(replies, n), series, n_series, is_closed(closed, starts[n]),
                    0, &history->recent[k]);
    for (guint w = 0; w < WEEKLY_MIN_WEEKS; w++, n++)
        fill_sample(g_ptr_array_index(replies, n), series, n_series,
                    is_closed(closed_hours, starts[n]), 0, &weeks[w]);
    for (guint d = 0; d < PS_BASELINE_DAYS; d++, n++)
        fill_sample(g_ptr_array_index(replies, n), series, n_series,
                    is_closed(closed_hours, starts[n]), 0, &days[d]);
    /* hour buckets hold no new sources: they are a share of the sources, whose hours do */
    for (guint m = 0; m < PS_N_METRICS; m++)
        history->weekly[m] = m == PS_METRIC_NEW ? history->weekly[PS_METRIC_SOURCES]
                                                : weekly_factor(weeks, days, m);
}

gboolean
ps_history_read(const PsHistoryReader *reader, gint64 t, GPtrArray *names, PsSample *samples,
                PsHistory *histories, GError **error)
{
    gint64 starts[PLAN_MAX];
    guint steps[PLAN_MAX];
    guint n = bucket_plan(t, reader->step, starts, steps);
    g_autoptr(GHashTable) closed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_autoptr(GHashTable) hours = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    Replies replies = {g_ptr_array_new_with_free_func((GDestroyNotify)ps_history_reply_free)};
    PsRedisPipeline pipeline;
    gboolean ok;

    if (names->len == 0) {
        g_ptr_array_unref(replies.replies);
        return TRUE;
    }
    if (!read_closed_set(reader, reader->step, t - 8 * 86400, t, closed, error) ||
        !read_closed_set(reader, 3600, t - 22 * 86400, t, hours, error)) {
        g_ptr_array_unref(replies.replies);
        return FALSE;
    }
    ps_redis_pipeline_init(&pipeline, reader->redis);
    for (guint i = 0; i < n; i++)
        append_bucket(&pipeline, reader, steps[i], starts[i], names);
    ok = ps_redis_pipeline_finish(&pipeline, keep_reply, &replies, error);
    ps_redis_pipeline_clear(&pipeline);
    for (guint i = 0; ok && i < names->len; i++)
        fill_history(replies.replies, closed, hours, starts, i, names->len, t, &samples[i],
                     &histories[i]);
    g_ptr_array_unref(replies.replies);
    return ok;
}

GArray *
ps_history_closed_buckets(const PsHistoryReader *reader, gint64 after, gint64 until,
                          GError **error)
{
    g_autofree gchar *key = ps_key_closed(reader->prefix, reader->step);
    g_autofree gchar *min = g_strdup_printf("(%" G_GINT64_FORMAT, after);
    g_autofree gchar *max = g_strdup_printf("%" G_GINT64_FORMAT, until);
    const char *argv[] = {"ZRANGEBYSCORE", key, min, max};
    g_autoptr(redisReply) reply = redisCommandArgv(reader->redis, 4, argv, NULL);
    GArray *buckets;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_IO, "reading %s: %s", key,
                    reply != NULL && reply->str != NULL ? reply->str : reader->redis->errstr);
        return NULL;
    }
    buckets = g_array_new(FALSE, FALSE, sizeof(gint64));
    for (gsize i = 0; i < reply->elements; i++) {
        gint64 start = g_ascii_strtoll(reply->element[i]->str, NULL, 10);
        g_array_append_val(buckets, start);
    }
    return buckets;
}

typedef struct {
    gchar *name;
    double flows;
    double sources;
} Active;

static int
compare_active(gconstpointer a, gconstpointer b)
{
    const Active *x = a, *y = b;
    return x->flows > y->flows ? -1 : x->flows < y->flows;
}

GPtrArray *
ps_history_parse_active_series(const redisReply *reply, double min_sources, double min_flows,
                               guint max_series)
{
    g_autoptr(GHashTable) by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GArray) active = g_array_new(FALSE, FALSE, sizeof(Active));
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter iter;
    Active *entry;

    for (gsize i = 0; i + 1 < reply->elements; i += 2) {
        const char *field = reply->element[i]->str;
        const char *colon = strrchr(field, ':');
        double value = g_ascii_strtod(reply->element[i + 1]->str, NULL);
        g_autofree gchar *series = colon != NULL ? g_strndup(field, colon - field) : NULL;
        if (series == NULL || g_str_equal(series, PS_SERIES_OTHER) ||
            g_str_equal(series, PS_QUALITY_SERIES))
            continue;
        entry = g_hash_table_lookup(by_name, series);
        if (entry == NULL) {
            entry = g_new0(Active, 1);
            entry->name = g_strdup(series);
            g_hash_table_insert(by_name, g_steal_pointer(&series), entry);
        }
        if (g_str_equal(colon + 1, "flows"))
            entry->flows = value;
        else if (g_str_equal(colon + 1, "nsrc"))
            entry->sources = value;
    }
    g_hash_table_iter_init(&iter, by_name);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&entry)) {
        if (entry->sources >= min_sources || entry->flows >= min_flows)
            g_array_append_val(active, *entry);
    }
    g_array_sort(active, compare_active);
    for (guint i = 0; i < active->len && i < max_series; i++)
        g_ptr_array_add(names, g_strdup(g_array_index(active, Active, i).name));
    g_hash_table_iter_init(&iter, by_name);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&entry))
        g_free(entry->name);
    return names;
}

GPtrArray *
ps_history_active_series(const PsHistoryReader *reader, gint64 t, double min_sources,
                         double min_flows, guint max_series, GError **error)
{
    g_autofree gchar *key = ps_key_bucket(reader->prefix, reader->step, t);
    const char *argv[] = {"HGETALL", key};
    g_autoptr(redisReply) reply = redisCommandArgv(reader->redis, 2, argv, NULL);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_IO, "reading %s: %s", key,
                    reply != NULL && reply->str != NULL ? reply->str : reader->redis->errstr);
        return NULL;
    }
    return ps_history_parse_active_series(reply, min_sources, min_flows, max_series);
}
