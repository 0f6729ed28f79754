/* A bucket's deltas as Redis commands, few and large: one script call adds every counter of
 * up to PS_BUCKET_WRITE_CHUNK series to the bucket hash, another merges their sketches
 * (SET scratch + PFMERGE inside Redis), and at close a third rolls the minute up into its hour
 * server-side (counters from this collector's totals, sketches by PFMERGE of the minute keys).
 * Expiries are set only on keys that have none yet. Keys and fields are schema/keys.h's. */
#pragma once

#include "aggregate.h"
#include "redis.h"

#define PS_BUCKET_WRITE_CHUNK 2000

/* Series first .. last - 1 of a delta: the flush writes a bucket in several transactions. */
typedef struct {
    guint first;
    guint last;
} PsSeriesRange;

/* Appends to the pipeline the counter increments of the range's series of delta (counts, or
 * the since-bucket-start totals with use_totals) into bucket (step, start). */
void ps_bucket_write_counters(PsRedisPipeline *pipeline, const char *prefix, guint step,
                               gint64 start, const PsBucketDelta *delta, PsSeriesRange range,
                               gboolean use_totals, guint ttl_s);

/* Appends the sketch merges of the range's series of delta (scratch is a key of this
 * collector's). */
void ps_bucket_write_sketches(PsRedisPipeline *pipeline, const char *prefix, const char *scratch_key,
                               const PsBucketDelta *delta, PsSeriesRange range, guint ttl_s);

/* Appends the roll-up of the range's series of a closed minute bucket into its hour. */
void ps_bucket_write_rollup(PsRedisPipeline *pipeline, const char *prefix,
                             const PsBucketDelta *delta, PsSeriesRange range, guint hour_ttl_s);
