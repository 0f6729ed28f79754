#include "config.h"

#include <string.h>

#include "bucket.h"
#include "bucket_write.h"
#include "keys.h"

/* KEYS[1] hash; ARGV[1] ttl, then field, increment pairs */
static const char counters_script[] =
    "for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end "
    "if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return 0";

/* KEYS[1] scratch; ARGV[1] ttl, then key, sketch pairs: the sketch is merged as PFADD would */
static const char sketches_script[] =
    "for i = 2, #ARGV, 2 do "
    "redis.call('SET', KEYS[1], ARGV[i + 1]) "
    "redis.call('PFMERGE', ARGV[i], ARGV[i], KEYS[1]) "
    "if redis.call('TTL', ARGV[i]) == -1 then redis.call('EXPIRE', ARGV[i], ARGV[1]) end "
    "end redis.call('DEL', KEYS[1]) return 0";

/* ARGV[1] ttl, then destination, source pairs: HyperLogLog roll-up inside Redis */
static const char rollup_script[] =
    "for i = 2, #ARGV, 2 do "
    "redis.call('PFMERGE', ARGV[i], ARGV[i], ARGV[i + 1]) "
    "if redis.call('TTL', ARGV[i]) == -1 then redis.call('EXPIRE', ARGV[i], ARGV[1]) end "
    "end return 0";

/* The arguments of one EVAL, owned until appended (hiredis copies them). */
typedef struct {
    GPtrArray *strings; /* owned */
    GArray *argv;       /* const char * */
    GArray *lengths;    /* gsize */
} Call;

static void
call_add(Call *call, gchar *owned, gsize len)
{
    g_ptr_array_add(call->strings, owned);
    g_array_append_val(call->argv, owned);
    g_array_append_val(call->lengths, len);
}

static void
call_add_string(Call *call, const char *text)
{
    call_add(call, g_strdup(text), strlen(text));
}

static void
call_begin(Call *call, const char *script, const char *key, guint ttl_s)
{
    gchar *ttl;

    call->strings = g_ptr_array_new_with_free_func(g_free);
    call->argv = g_array_new(FALSE, FALSE, sizeof(const char *));
    call->lengths = g_array_new(FALSE, FALSE, sizeof(gsize));
    call_add_string(call, "EVAL");
    call_add_string(call, script);
    call_add_string(call, key != NULL ? "1" : "0");
    if (key != NULL)
        call_add_string(call, key);
    ttl = g_strdup_printf("%u", ttl_s);
    call_add(call, ttl, strlen(ttl));
}

/* Appends the call if it has pairs, and frees it. */
static void
call_finish(Call *call, PsRedisPipeline *pipeline, guint header)
{
    if (call->argv->len > header)
        ps_redis_pipeline_append(pipeline, call->argv->len,
                                 &g_array_index(call->argv, const char *, 0),
                                 &g_array_index(call->lengths, gsize, 0));
    g_ptr_array_unref(call->strings);
    g_array_unref(call->argv);
    g_array_unref(call->lengths);
}

static void
add_counter(Call *call, const char *series, const char *metric, guint64 value)
{
    gchar *field, *number;

    if (value == 0)
        return; /* absent fields mean 0: no need to write them */
    field = ps_field(series, metric);
    call_add(call, field, strlen(field));
    number = g_strdup_printf("%" G_GUINT64_FORMAT, value);
    call_add(call, number, strlen(number));
}

void
ps_bucket_write_counters(PsRedisPipeline *pipeline, const char *prefix, guint step, gint64 start,
                         const PsBucketDelta *delta, PsSeriesRange range, gboolean use_totals,
                         guint ttl_s)
{
    g_autofree gchar *key = ps_key_bucket(prefix, step, start);

    for (guint first = range.first; first < range.last; first += PS_BUCKET_WRITE_CHUNK) {
        Call call;
        call_begin(&call, counters_script, key, ttl_s);
        guint header = call.argv->len;
        for (guint i = first; i < MIN(first + PS_BUCKET_WRITE_CHUNK, range.last); i++) {
            const PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, i);
            const PsCounts *c = use_totals ? &series->total : &series->counts;
            add_counter(&call, series->name, "flows", c->flows);
            add_counter(&call, series->name, "pkts", c->packets);
            add_counter(&call, series->name, "bytes", c->bytes);
            add_counter(&call, series->name, "syn", c->syn);
            add_counter(&call, series->name, "untracked", c->untracked);
        }
        call_finish(&call, pipeline, header);
    }
}

static gboolean
hll_empty(const PsHll *hll)
{
    return hll->dense == NULL && hll->n_sparse == 0;
}

static void
add_sketch(Call *call, const char *prefix, const PsBucketDelta *delta, const char *kind,
           const char *series, const PsHll *hll, guint8 *buffer)
{
    gchar *key;
    gsize len;

    if (hll_empty(hll))
        return;
    key = ps_key_bucket_series(prefix, delta->step, delta->start, kind, series);
    call_add(call, key, strlen(key));
    len = ps_hll_serialize(hll, buffer);
    call_add(call, g_memdup2(buffer, len), len);
}

void
ps_bucket_write_sketches(PsRedisPipeline *pipeline, const char *prefix, const char *scratch,
                         const PsBucketDelta *delta, PsSeriesRange range, guint ttl_s)
{
    g_autofree guint8 *buffer = g_malloc(PS_HLL_SERIALIZED_MAX);

    for (guint first = range.first; first < range.last; first += PS_BUCKET_WRITE_CHUNK) {
        Call call;
        call_begin(&call, sketches_script, scratch, ttl_s);
        guint header = call.argv->len;
        for (guint i = first; i < MIN(first + PS_BUCKET_WRITE_CHUNK, range.last); i++) {
            const PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, i);
            add_sketch(&call, prefix, delta, "src", series->name, &series->sources, buffer);
            add_sketch(&call, prefix, delta, "dst", series->name, &series->destinations, buffer);
        }
        call_finish(&call, pipeline, header);
    }
}

void
ps_bucket_write_rollup(PsRedisPipeline *pipeline, const char *prefix, const PsBucketDelta *delta,
                       PsSeriesRange range, guint hour_ttl_s)
{
    gint64 hour = ps_bucket_start(delta->start, PS_BUCKET_HOUR);

    if (delta->step == PS_BUCKET_HOUR)
        return;
    ps_bucket_write_counters(pipeline, prefix, PS_BUCKET_HOUR, hour, delta, range, TRUE,
                             hour_ttl_s);
    for (guint first = range.first; first < range.last; first += PS_BUCKET_WRITE_CHUNK) {
        Call call;
        call_begin(&call, rollup_script, NULL, hour_ttl_s);
        guint header = call.argv->len;
        for (guint i = first; i < MIN(first + PS_BUCKET_WRITE_CHUNK, range.last); i++) {
            const char *name = g_array_index(delta->series, PsSeriesDelta, i).name;
            for (guint k = 0; k < 2; k++) {
                const char *kind = k == 0 ? "src" : "dst";
                gchar *to = ps_key_bucket_series(prefix, PS_BUCKET_HOUR, hour, kind, name);
                gchar *from = ps_key_bucket_series(prefix, delta->step, delta->start, kind, name);
                call_add(&call, to, strlen(to));
                call_add(&call, from, strlen(from));
            }
        }
        call_finish(&call, pipeline, header);
    }
}
