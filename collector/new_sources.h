/* Sources new to a watched series, per closed bucket: the field "<series>:nnew" of the bucket
 * hash, kept from the sorted set "ps:seen:<series>" and the hash "ps:seen-since"
 * (schema/redis.md).
 *
 * Why: a wave of scanning on a quiet port (10 to 20 sources a minute on tcp/445) barely lifts
 * its distinct sources above their noise, but a wave's scanners are sources the port has not
 * seen lately, while its background mostly repeats. So for each closing bucket of a watched
 * series the collector counts the bucket's distinct sources that were not seen on the series
 * during the horizon before the bucket.
 *
 * One Lua script per watched series of a closing bucket does all of it inside Redis: test and
 * record the sources in the seen set, trim it, and count, so that collectors sharing a Redis
 * count each source once (the first to add it counts it). The caller appends it to the
 * bucket's closing transaction, and so shares its retries and failure counting. */
#pragma once

#include "flow.h"
#include "redis.h"

typedef struct {
    const char *prefix;
    guint horizon_s;   /* a source not seen for this long is new again */
    guint max_members; /* seen set cap: beyond it the sources seen longest ago are dropped */
} PsNewSourcesConfig;

/* Appends to pipeline (inside the closing MULTI of bucket start, of length step) the script
 * that counts which of sources (PsAddress, the bucket's distinct sources of series) are new
 * to series, records them as seen, and writes the count as "<series>:nnew" once the series'
 * tracking is mature. Its reply is the number of new sources. */
void ps_new_sources_append(PsRedisPipeline *pipeline, const PsNewSourcesConfig *config, guint step,
                           gint64 start, const char *series, const GArray *sources);
