/* Alert state in Redis, so that a restart neither repeats nor loses an incident:
 * ps:alert:<series> (a hash, while the series has an incident open or cooling down: readable
 * fields and the detector state), ps:alerts (a stream of every event, capped), and
 * ps:alerter (the last bucket evaluated). One MULTI/EXEC per bucket writes all three. */
#pragma once

#include <hiredis/hiredis.h>

#include "detect.h"
#include "redis.h"

#define PS_ALERTS_STREAM_MAXLEN "100000"

/* Loads every ps:alert:<series> into states (series -> PsSeriesState). */
gboolean ps_state_load(redisContext *redis, const char *prefix, GHashTable *states,
                       GError **error);

/* The last bucket a previous run evaluated, 0 when none. */
gint64 ps_state_last_bucket(redisContext *redis, const char *prefix);

/* Appends to a pipeline (inside MULTI) the writes of one series after a bucket. */
void ps_state_append_series(PsRedisPipeline *pipeline, const char *prefix, const char *series,
                            const PsSeriesState *state);
void ps_state_append_event(PsRedisPipeline *pipeline, const char *prefix, const char *series,
                           const char *json, const PsAlertEvent *event);
void ps_state_append_progress(PsRedisPipeline *pipeline, const char *prefix, gint64 bucket);
