/* Alert state in Redis, so that a restart neither repeats nor loses an incident:
 * ps:alert:<series> (a hash, while the series has an incident open or cooling down: readable
 * fields and the detector state), ps:alerts (a stream of every event, capped), and
 * ps:alerter (the last bucket evaluated). One MULTI/EXEC per bucket writes all three. */
#pragma once

#include <hiredis/hiredis.h>

#include "detect.h"
#include "redis.h"

#define PS_ALERTS_STREAM_MAXLEN "100000"

/* The bytes of the "state" field of ps:alert:<series> for state, without its level ring;
 * caller frees. Written by ps_state_append_series(). */
gchar *ps_state_format(const PsSeriesState *state, gsize *len);

/* Reads one "state" field as HGET returned it (value, len bytes). FALSE when it is not a
 * state this version wrote (length, version, times that are no bucket starts): that series
 * then starts afresh. Pure (no Redis), because operators
 * and other tools can write these fields: tests/fuzz/fuzz-stored.c feeds it anything. */
gboolean ps_state_parse(const char *value, gsize len, PsSeriesState *state);

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
