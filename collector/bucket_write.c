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

/* Starts an EVAL of script; returns how many of its arguments come before the pairs. */
static guint
eval_begin(PsRedisCommand *command, const char *script, const char *key, guint ttl_s)
{
    ps_redis_command_init(command);
    ps_redis_command_add_string(command, "EVAL");
    ps_redis_command_add_string(command, script);
    ps_redis_command_add_string(command, key != NULL ? "1" : "0");
    if (key != NULL)
        ps_redis_command_add_string(command, key);
    ps_redis_command_add_u64(command, ttl_s);
    return command->argc;
}

/* Appends the EVAL if it has pairs past its header; clears it either way. */
static void
eval_finish(PsRedisCommand *command, PsRedisPipeline *pipeline, guint header)
{
    if (command->argc > header)
        ps_redis_pipeline_append_command(pipeline, command);
    else
        ps_redis_command_clear(command);
}

/* A key or field formatted into scratch, added as one argument */
static void
add_scratch(PsRedisCommand *command, GString *scratch)
{
    ps_redis_command_add(command, scratch->str, scratch->len);
    g_string_truncate(scratch, 0);
}

static void
add_counter(PsRedisCommand *command, GString *scratch, const char *series, const char *metric,
            guint64 value)
{
    if (value == 0)
        return; /* absent fields mean 0: no need to write them */
    ps_field_append(scratch, series, metric);
    add_scratch(command, scratch);
    ps_redis_command_add_u64(command, value);
}

void
ps_bucket_write_counters(PsRedisPipeline *pipeline, const char *prefix, guint step, gint64 start,
                         const PsBucketDelta *delta, PsSeriesRange range, gboolean use_totals,
                         guint ttl_s)
{
    g_autofree gchar *key = ps_key_bucket(prefix, step, start);
    g_autoptr(GString) scratch = g_string_new(NULL);

    for (guint first = range.first; first < range.last; first += PS_BUCKET_WRITE_CHUNK) {
        PsRedisCommand eval;
        guint header = eval_begin(&eval, counters_script, key, ttl_s);
        for (guint i = first; i < MIN(first + PS_BUCKET_WRITE_CHUNK, range.last); i++) {
            const PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, i);
            const PsCounts *c = use_totals ? &series->total : &series->counts;
            add_counter(&eval, scratch, series->name, "flows", c->flows);
            add_counter(&eval, scratch, series->name, "pkts", c->packets);
            add_counter(&eval, scratch, series->name, "bytes", c->bytes);
            add_counter(&eval, scratch, series->name, "syn", c->syn);
            add_counter(&eval, scratch, series->name, "untracked", c->untracked);
        }
        eval_finish(&eval, pipeline, header);
    }
}

static gboolean
hll_empty(const PsHll *hll)
{
    return hll->dense == NULL && hll->n_sparse == 0;
}

static void
add_sketch(PsRedisCommand *command, GString *scratch, const char *prefix,
           const PsBucketDelta *delta, const char *kind, const char *series, const PsHll *hll,
           guint8 *buffer)
{
    if (hll_empty(hll))
        return;
    ps_key_bucket_series_append(scratch, prefix, delta->step, delta->start, kind, series);
    add_scratch(command, scratch);
    ps_redis_command_add(command, buffer, ps_hll_serialize(hll, buffer));
}

void
ps_bucket_write_sketches(PsRedisPipeline *pipeline, const char *prefix, const char *scratch_key,
                         const PsBucketDelta *delta, PsSeriesRange range, guint ttl_s)
{
    g_autofree guint8 *buffer = g_malloc(PS_HLL_SERIALIZED_MAX);
    g_autoptr(GString) scratch = g_string_new(NULL);

    for (guint first = range.first; first < range.last; first += PS_BUCKET_WRITE_CHUNK) {
        PsRedisCommand eval;
        guint header = eval_begin(&eval, sketches_script, scratch_key, ttl_s);
        for (guint i = first; i < MIN(first + PS_BUCKET_WRITE_CHUNK, range.last); i++) {
            const PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, i);
            add_sketch(&eval, scratch, prefix, delta, "src", series->name, &series->sources,
                       buffer);
            add_sketch(&eval, scratch, prefix, delta, "dst", series->name,
                       &series->destinations, buffer);
        }
        eval_finish(&eval, pipeline, header);
    }
}

void
ps_bucket_write_rollup(PsRedisPipeline *pipeline, const char *prefix, const PsBucketDelta *delta,
                       PsSeriesRange range, guint hour_ttl_s)
{
    gint64 hour = ps_bucket_start(delta->start, PS_BUCKET_HOUR);
    g_autoptr(GString) scratch = NULL;

    if (delta->step == PS_BUCKET_HOUR)
        return;
    ps_bucket_write_counters(pipeline, prefix, PS_BUCKET_HOUR, hour, delta, range, TRUE,
                             hour_ttl_s);
    scratch = g_string_new(NULL);
    for (guint first = range.first; first < range.last; first += PS_BUCKET_WRITE_CHUNK) {
        PsRedisCommand eval;
        guint header = eval_begin(&eval, rollup_script, NULL, hour_ttl_s);
        for (guint i = first; i < MIN(first + PS_BUCKET_WRITE_CHUNK, range.last); i++) {
            const char *name = g_array_index(delta->series, PsSeriesDelta, i).name;
            for (guint k = 0; k < 2; k++) {
                const char *kind = k == 0 ? "src" : "dst";
                ps_key_bucket_series_append(scratch, prefix, PS_BUCKET_HOUR, hour, kind, name);
                add_scratch(&eval, scratch);
                ps_key_bucket_series_append(scratch, prefix, delta->step, delta->start, kind,
                                            name);
                add_scratch(&eval, scratch);
            }
        }
        eval_finish(&eval, pipeline, header);
    }
}
