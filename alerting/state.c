#include "config.h"

#include <string.h>

#include "event.h"
#include "keys.h"
#include "state.h"

#define STATE_VERSION 2 /* 2: evidence ring and since_gap */

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
            Stored stored;
            if (value == NULL || value->type != REDIS_REPLY_STRING || value->len != sizeof(Stored))
                continue; /* another version: that series starts afresh */
            memcpy(&stored, value->str, sizeof(stored));
            if (stored.version != STATE_VERSION)
                continue;
            g_hash_table_replace(states, g_strdup(key + strlen(prefix) + strlen("alert:")),
                                 g_memdup2(&stored.state, sizeof(PsSeriesState)));
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
    Stored stored;
    char opened[24];

    if (state->phase == PS_PHASE_IDLE) {
        ps_redis_pipeline_command(pipeline, "DEL", key, NULL);
        return;
    }
    memset(&stored, 0, sizeof(stored));
    stored.version = STATE_VERSION;
    stored.state = *state;
    memset(stored.state.level, 0, sizeof(stored.state.level));
    stored.state.n_level = stored.state.level_next = 0;
    g_snprintf(opened, sizeof(opened), "%" G_GINT64_FORMAT, state->opened_at);
    {
        const char *argv[] = {"HSET",      key,
                              "state",     (const char *)&stored,
                              "phase",     state->phase == PS_PHASE_OPEN ? "open" : "cooldown",
                              "severity",  ps_severity_name(state->severity),
                              "opened_at", opened};
        gsize lens[G_N_ELEMENTS(argv)];
        for (guint i = 0; i < G_N_ELEMENTS(argv); i++)
            lens[i] = i == 3 ? sizeof(stored) : strlen(argv[i]);
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
