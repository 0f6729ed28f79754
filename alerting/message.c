#include "config.h"

#include <math.h>

#include "keys.h"
#include "message.h"
#include "redis.h"

typedef struct {
    PsMessageFacts *facts;
    GHashTable *usual; /* addresses among the usual top sources */
    guint n_hour;
} Reading;

void
ps_message_facts_init(PsMessageFacts *facts)
{
    facts->addresses = g_ptr_array_new_with_free_func(g_free);
    facts->top = g_array_new(FALSE, TRUE, sizeof(PsTopSource));
    facts->last_hour = g_array_new(FALSE, TRUE, sizeof(double));
    facts->usual_top_known = FALSE;
}

void
ps_message_facts_add_top(PsMessageFacts *facts, const redisReply *reply)
{
    for (gsize i = 0; i + 1 < reply->elements; i += 2) {
        PsTopSource source = {0};
        if (reply->element[i]->str == NULL || reply->element[i + 1]->str == NULL)
            continue;
        gchar *address = g_strdup(reply->element[i]->str);
        g_ptr_array_add(facts->addresses, address);
        source.address = address;
        source.flows = g_ascii_strtoull(reply->element[i + 1]->str, NULL, 10);
        g_array_append_val(facts->top, source);
    }
}

static void
on_reply(guint index, redisReply *reply, gpointer user_data)
{
    Reading *reading = user_data;
    PsMessageFacts *facts = reading->facts;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        return;
    if (index == 0 && reply->type == REDIS_REPLY_ARRAY) {
        ps_message_facts_add_top(facts, reply);
    } else if (index <= PS_MESSAGE_USUAL_DAYS && reply->type == REDIS_REPLY_ARRAY) {
        for (gsize i = 0; i < reply->elements; i++) {
            if (reply->element[i]->str != NULL)
                g_hash_table_add(reading->usual, g_strdup(reply->element[i]->str));
        }
        facts->usual_top_known |= reply->elements > 0;
    } else if (index > PS_MESSAGE_USUAL_DAYS) {
        double value = reply->type == REDIS_REPLY_STRING ? g_ascii_strtod(reply->str, NULL) : NAN;
        g_array_append_val(facts->last_hour, value);
    }
}

static void
append_reads(PsRedisPipeline *pipeline, const char *prefix, guint step, const char *series,
             gint64 t, guint n_hour)
{
    g_autofree gchar *field = ps_field(series, "nsrc");

    for (guint day = 0; day <= PS_MESSAGE_USUAL_DAYS; day++) {
        g_autofree gchar *key = ps_key_bucket_series(prefix, step, t - day * 86400, "top", series);
        g_autofree gchar *last = g_strdup_printf("%d", PS_FORMAT_TOP_SOURCES_MAX - 1);
        ps_redis_pipeline_command(pipeline, "ZREVRANGE", key, "0", last,
                                  day == 0 ? "WITHSCORES" : NULL, NULL);
    }
    for (guint i = 0; i < n_hour; i++) {
        g_autofree gchar *key = ps_key_bucket(prefix, step, t - (gint64)(n_hour - 1 - i) * step);
        ps_redis_pipeline_command(pipeline, "HGET", key, field, NULL);
    }
}

static void
mark_new_sources(PsMessageFacts *facts, GHashTable *usual)
{
    for (guint i = 0; i < facts->top->len; i++) {
        PsTopSource *source = &g_array_index(facts->top, PsTopSource, i);
        source->is_new = !g_hash_table_contains(usual, source->address);
    }
}

gboolean
ps_message_facts_read(redisContext *redis, const char *prefix, guint step, const char *series,
                      gint64 t, PsMessageFacts *facts, GError **error)
{
    g_autoptr(GHashTable) usual = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    Reading reading = {facts, usual, MIN(3600 / MAX(step, 1u), PS_FORMAT_SPARKLINE_MAX)};
    PsRedisPipeline pipeline;
    gboolean ok;

    ps_message_facts_init(facts);
    ps_redis_pipeline_init(&pipeline, redis);
    append_reads(&pipeline, prefix, step, series, t, MAX(reading.n_hour, 1u));
    ok = ps_redis_pipeline_finish(&pipeline, on_reply, &reading, error);
    ps_redis_pipeline_clear(&pipeline);
    mark_new_sources(facts, usual);
    return ok;
}

void
ps_message_facts_clear(PsMessageFacts *facts)
{
    g_clear_pointer(&facts->addresses, g_ptr_array_unref);
    g_clear_pointer(&facts->top, g_array_unref);
    g_clear_pointer(&facts->last_hour, g_array_unref);
}

void
ps_message_facts_apply(const PsMessageFacts *facts, PsAlertMessage *message)
{
    /* an empty GArray has no data at all: &g_array_index(array, T, 0) would offset NULL,
     * which is undefined (UBSan, fuzz-stored); the message takes NULL with a count of 0 */
    message->top_sources = facts->top->len > 0 ? &g_array_index(facts->top, PsTopSource, 0) : NULL;
    message->n_top_sources = facts->top->len;
    message->usual_top_known = facts->usual_top_known;
    message->last_hour =
        facts->last_hour->len > 0 ? &g_array_index(facts->last_hour, double, 0) : NULL;
    message->n_last_hour = facts->last_hour->len;
}
