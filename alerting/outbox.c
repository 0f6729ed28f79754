#include "config.h"

#include <json-glib/json-glib.h>

#include "keys.h"
#include "outbox.h"

static gchar *
builder_to_string(JsonBuilder *builder)
{
    g_autoptr(JsonGenerator) generator = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(builder);

    json_generator_set_root(generator, root);
    return json_generator_to_data(generator, NULL);
}

/* {"key": ..., "receiver": ..., "created": ..., "body": ...}: json-glib escapes the body. */
static gchar *
entry_to_json(const char *key, const char *receiver, gint64 created, const char *body)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();

    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "key");
    json_builder_add_string_value(builder, key);
    json_builder_set_member_name(builder, "receiver");
    json_builder_add_string_value(builder, receiver);
    json_builder_set_member_name(builder, "created");
    json_builder_add_int_value(builder, created);
    json_builder_set_member_name(builder, "body");
    json_builder_add_string_value(builder, body);
    json_builder_end_object(builder);
    return builder_to_string(builder);
}

PsOutboxEntry *
ps_outbox_entry_new(const char *key, const char *receiver, gint64 created, const char *body)
{
    PsOutboxEntry *entry = g_new0(PsOutboxEntry, 1);

    entry->raw = entry_to_json(key, receiver, created, body);
    entry->key = g_strdup(key);
    entry->receiver = g_strdup(receiver);
    entry->created = created;
    entry->body = g_strdup(body);
    return entry;
}

static const char *
member_string(JsonObject *object, const char *name)
{
    JsonNode *node = json_object_get_member(object, name);

    return node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
                   json_node_get_value_type(node) == G_TYPE_STRING
               ? json_node_get_string(node)
               : NULL;
}

PsOutboxEntry *
ps_outbox_entry_parse(const char *raw, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root;
    JsonObject *object;
    JsonNode *created;
    PsOutboxEntry *entry;

    if (!json_parser_load_from_data(parser, raw, -1, error))
        return NULL;
    root = json_parser_get_root(parser);
    /* an empty or blank entry loads as a document without a root, and JSON_NODE_HOLDS_OBJECT()
     * of NULL is a critical (found by fuzz-stored) */
    object = root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    created = object != NULL ? json_object_get_member(object, "created") : NULL;
    if (object == NULL || member_string(object, "key") == NULL ||
        member_string(object, "receiver") == NULL || member_string(object, "body") == NULL ||
        created == NULL || !JSON_NODE_HOLDS_VALUE(created) ||
        json_node_get_value_type(created) != G_TYPE_INT64) {
        g_set_error(error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                    "not an outbox entry: key, receiver, created and body expected");
        return NULL;
    }
    entry = g_new0(PsOutboxEntry, 1);
    entry->raw = g_strdup(raw);
    entry->key = g_strdup(member_string(object, "key"));
    entry->receiver = g_strdup(member_string(object, "receiver"));
    entry->created = json_node_get_int(created);
    entry->body = g_strdup(member_string(object, "body"));
    return entry;
}

void
ps_outbox_entry_free(PsOutboxEntry *entry)
{
    if (entry == NULL)
        return;
    g_free(entry->raw);
    g_free(entry->key);
    g_free(entry->receiver);
    g_free(entry->body);
    g_free(entry);
}

void
ps_outbox_append(PsRedisPipeline *pipeline, const char *prefix, const PsOutboxEntry *entry)
{
    g_autofree gchar *key = ps_key_outbox(prefix);

    ps_redis_pipeline_command(pipeline, "RPUSH", key, entry->raw, NULL);
}

GPtrArray *
ps_outbox_read(redisContext *redis, const char *prefix, guint limit, guint *unreadable,
               GError **error)
{
    g_autofree gchar *key = ps_key_outbox(prefix);
    g_autofree gchar *last = g_strdup_printf("%u", limit > 0 ? limit - 1 : 0);
    g_autoptr(redisReply) reply = ps_redis_call(redis, error, "LRANGE", key, "0", last, NULL);
    g_autoptr(GPtrArray) entries = NULL;

    *unreadable = 0;
    if (reply == NULL)
        return NULL;
    entries = g_ptr_array_new_with_free_func((GDestroyNotify)ps_outbox_entry_free);
    for (gsize i = 0; i < reply->elements; i++) {
        const char *raw = reply->element[i]->str;
        g_autoptr(GError) bad = NULL;
        PsOutboxEntry *entry = raw != NULL ? ps_outbox_entry_parse(raw, &bad) : NULL;

        if (entry != NULL) {
            g_ptr_array_add(entries, entry);
            continue;
        }
        (*unreadable)++;
        g_warning("outbox entry %zu unreadable (%s): moved to the dead letters", i,
                  bad != NULL ? bad->message : "not a string");
        if (raw != NULL && !ps_outbox_dead_letter(redis, prefix, raw, "unreadable", error))
            return NULL;
    }
    return g_steal_pointer(&entries);
}

gboolean
ps_outbox_remove(redisContext *redis, const char *prefix, const PsOutboxEntry *entry,
                 GError **error)
{
    g_autofree gchar *key = ps_key_outbox(prefix);
    g_autoptr(redisReply) reply = ps_redis_call(redis, error, "LREM", key, "1", entry->raw, NULL);

    return reply != NULL;
}

static gchar *
dead_letter_json(const char *raw, const char *reason)
{
    g_autoptr(JsonBuilder) builder = json_builder_new();
    g_autoptr(JsonNode) entry = json_from_string(raw, NULL);

    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "reason");
    json_builder_add_string_value(builder, reason);
    json_builder_set_member_name(builder, "dead_at");
    json_builder_add_int_value(builder, g_get_real_time() / G_USEC_PER_SEC);
    json_builder_set_member_name(builder, "entry");
    if (entry != NULL) /* keep it as an object when it is one, else as the raw text */
        json_builder_add_value(builder, g_steal_pointer(&entry));
    else
        json_builder_add_string_value(builder, raw);
    json_builder_end_object(builder);
    return builder_to_string(builder);
}

gboolean
ps_outbox_dead_letter(redisContext *redis, const char *prefix, const char *raw, const char *reason,
                      GError **error)
{
    g_autofree gchar *key = ps_key_outbox(prefix);
    g_autofree gchar *dead = ps_key_outbox_dead(prefix);
    g_autofree gchar *letter = dead_letter_json(raw, reason);
    PsRedisPipeline pipeline;

    ps_redis_pipeline_init(&pipeline, redis);
    ps_redis_pipeline_command(&pipeline, "MULTI", NULL);
    ps_redis_pipeline_command(&pipeline, "RPUSH", dead, letter, NULL);
    ps_redis_pipeline_command(&pipeline, "LREM", key, "1", raw, NULL);
    ps_redis_pipeline_command(&pipeline, "EXEC", NULL);
    return ps_redis_pipeline_run(&pipeline, NULL, NULL, "moving to the dead letters", error);
}

gint64
ps_outbox_length(redisContext *redis, const char *prefix, GError **error)
{
    g_autofree gchar *key = ps_key_outbox(prefix);
    g_autoptr(redisReply) reply = ps_redis_call(redis, error, "LLEN", key, NULL);

    return reply != NULL && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
}
