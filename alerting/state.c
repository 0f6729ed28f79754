#include "config.h"

#include <string.h>

#include "event.h"
#include "keys.h"
#include "state.h"

#define STATE_VERSION 2 /* 2: evidence ring and since_gap */
/* The latest time a stored state may name: the end of the year 9999, as GDateTime. */
#define STATE_TIME_MAX G_GINT64_CONSTANT(253402300799)

/* The detector state as stored: the struct without its level ring (rebuilt at start-up from
 * recent buckets), behind a version byte. */
typedef struct {
    guint8 version;
    PsSeriesState state;
} Stored;

static gchar *
alert_key(const char *prefix, const char *series)
{
    return g_strdup_printf("%salert:%s", prefix, series);
}

static gboolean
time_valid(gint64 time)
{
    return time >= 0 && time <= STATE_TIME_MAX;
}

/* Every time in a state is 0 (none yet) or a bucket start. A stored value someone else wrote
 * may hold anything, and the detector subtracts them from bucket starts: "bucket -
 * resolved_at" overflowed (found by fuzz-stored). */
static gboolean
times_valid(const PsSeriesState *state)
{
    if (!time_valid(state->opened_at) || !time_valid(state->last_event_at) ||
        !time_valid(state->resolved_at) || !time_valid(state->broad_scan_at))
        return FALSE;
    for (guint i = 0; i < PS_DETECT_EXCLUSIONS; i++) {
        if (!time_valid(state->excluded_from[i]) || !time_valid(state->excluded_to[i]))
            return FALSE;
    }
    return TRUE;
}

gboolean
ps_state_parse(const char *value, gsize len, PsSeriesState *state)
{
    Stored stored;

    if (value == NULL || len != sizeof(Stored))
        return FALSE;
    memcpy(&stored, value, sizeof(stored));
    if (stored.version != STATE_VERSION || !times_valid(&stored.state))
        return FALSE;
    *state = stored.state;
    /* the level ring is never stored (ps_state_format() clears it) and is rebuilt at start-up:
     * a level_next past the ring from a value someone else wrote made that rebuild write past
     * it (found by fuzz-stored) */
    memset(state->level, 0, sizeof(state->level));
    state->n_level = state->level_next = 0;
    return TRUE;
}

gchar *
ps_state_format(const PsSeriesState *state, gsize *len)
{
    Stored *stored = g_new0(Stored, 1);

    stored->version = STATE_VERSION;
    stored->state = *state;
    memset(stored->state.level, 0, sizeof(stored->state.level));
    stored->state.n_level = stored->state.level_next = 0;
    *len = sizeof(*stored);
    return (gchar *)stored;
}

gboolean
ps_state_load(redisContext *redis, const char *prefix, GHashTable *states, GError **error)
{
    g_autofree gchar *pattern = g_strdup_printf("%salert:*", prefix);
    g_autofree gchar *cursor = g_strdup("0");

    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        g_autoptr(redisReply) reply = redisCommandArgv(redis, 6, argv, NULL);
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
            g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_IO, "loading alert state: %s",
                        redis->errstr);
            return FALSE;
        }
        g_free(cursor);
        cursor = g_strdup(reply->element[0]->str);
        for (gsize i = 0; i < reply->element[1]->elements; i++) {
            const char *key = reply->element[1]->element[i]->str;
            const char *get[] = {"HGET", key, "state"};
            g_autoptr(redisReply) value = redisCommandArgv(redis, 3, get, NULL);
            PsSeriesState state;
            if (value == NULL || value->type != REDIS_REPLY_STRING ||
                !ps_state_parse(value->str, value->len, &state))
                continue; /* another version: that series starts afresh */
            g_hash_table_replace(states, g_strdup(key + strlen(prefix) + strlen("alert:")),
                                 g_memdup2(&state, sizeof(PsSeriesState)));
        }
    } while (g_strcmp0(cursor, "0") != 0);
    return TRUE;
}

gint64
ps_state_last_bucket(redisContext *redis, const char *prefix)
{
    g_autofree gchar *key = ps_key_alerter(prefix);
    const char *argv[] = {"HGET", key, "last_bucket"};
    g_autoptr(redisReply) reply = redisCommandArgv(redis, 3, argv, NULL);

    if (reply == NULL || reply->type != REDIS_REPLY_STRING)
        return 0;
    return g_ascii_strtoll(reply->str, NULL, 10);
}

void
ps_state_append_series(PsRedisPipeline *pipeline, const char *prefix, const char *series,
                       const PsSeriesState *state)
{
    g_autofree gchar *key = alert_key(prefix, series);
    g_autofree gchar *stored = NULL;
    gsize stored_len;
    char opened[24];

    if (state->phase == PS_PHASE_IDLE) {
        ps_redis_pipeline_command(pipeline, "DEL", key, NULL);
        return;
    }
    stored = ps_state_format(state, &stored_len);
    g_snprintf(opened, sizeof(opened), "%" G_GINT64_FORMAT, state->opened_at);
    {
        const char *argv[] = {"HSET",      key,
                              "state",     stored,
                              "phase",     state->phase == PS_PHASE_OPEN ? "open" : "cooldown",
                              "severity",  ps_severity_name(state->severity),
                              "opened_at", opened};
        gsize lens[G_N_ELEMENTS(argv)];
        for (guint i = 0; i < G_N_ELEMENTS(argv); i++)
            lens[i] = i == 3 ? stored_len : strlen(argv[i]);
        ps_redis_pipeline_append(pipeline, G_N_ELEMENTS(argv), argv, lens);
    }
}

void
ps_state_append_event(PsRedisPipeline *pipeline, const char *prefix, const char *series,
                      const char *json, const PsAlertEvent *event)
{
    g_autofree gchar *stream = g_strdup_printf("%salerts", prefix);
    g_autofree gchar *id = ps_event_id(series, event);
    g_autofree gchar *bucket = g_strdup_printf("%" G_GINT64_FORMAT, event->bucket);

    ps_redis_pipeline_command(pipeline, "XADD", stream, "MAXLEN", "~", PS_ALERTS_STREAM_MAXLEN, "*",
                              "id", id, "event", ps_event_kind_name(event->kind), "series", series,
                              "severity", ps_severity_name(event->severity), "bucket", bucket,
                              "json", json, NULL);
}

void
ps_state_append_progress(PsRedisPipeline *pipeline, const char *prefix, gint64 bucket)
{
    g_autofree gchar *key = ps_key_alerter(prefix);
    g_autofree gchar *value = g_strdup_printf("%" G_GINT64_FORMAT, bucket);
    g_autofree gchar *now =
        g_strdup_printf("%" G_GINT64_FORMAT, g_get_real_time() / G_USEC_PER_SEC);

    ps_redis_pipeline_command(pipeline, "HSET", key, "last_bucket", value, "heartbeat", now,
                              "version", PS_VERSION, NULL);
}
