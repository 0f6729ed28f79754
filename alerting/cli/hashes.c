#include "config.h"

#include "hashes.h"
#include "redis.h"

#define SCAN_COUNT "1000"

static int
compare_strings(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
ps_hashes_scan(redisContext *redis, const char *pattern, GError **error)
{
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
    g_autofree gchar *cursor = g_strdup("0");

    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT};
        g_autoptr(redisReply) reply = redisCommandArgv(redis, 6, argv, NULL);
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
            g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_IO, "scanning %s: %s", pattern,
                        reply != NULL && reply->str != NULL ? reply->str : redis->errstr);
            return NULL;
        }
        g_free(cursor);
        cursor = g_strdup(reply->element[0]->str);
        for (gsize i = 0; i < reply->element[1]->elements && keys->len < PS_HASHES_MAX_KEYS; i++)
            g_ptr_array_add(keys, g_strdup(reply->element[1]->element[i]->str));
    } while (!g_str_equal(cursor, "0") && keys->len < PS_HASHES_MAX_KEYS);
    g_ptr_array_sort(keys, compare_strings);
    return g_steal_pointer(&keys);
}

static void
keep_hash(guint index, redisReply *reply, gpointer user_data)
{
    GPtrArray *hashes = user_data;
    GHashTable *hash = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    (void)index;
    for (gsize i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2)
        g_hash_table_insert(hash, g_strdup(reply->element[i]->str),
                            g_strdup(reply->element[i + 1]->str));
    g_ptr_array_add(hashes, hash);
}

GPtrArray *
ps_hashes_read(redisContext *redis, GPtrArray *keys, GError **error)
{
    g_autoptr(GPtrArray) hashes =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
    PsRedisPipeline pipeline;
    gboolean ok;

    ps_redis_pipeline_init(&pipeline, redis);
    for (guint i = 0; i < keys->len; i++)
        ps_redis_pipeline_command(&pipeline, "HGETALL", g_ptr_array_index(keys, i), NULL);
    ok = ps_redis_pipeline_finish(&pipeline, keep_hash, hashes, error);
    ps_redis_pipeline_clear(&pipeline);
    return ok ? g_steal_pointer(&hashes) : NULL;
}

double
ps_hashes_number(GHashTable *hash, const char *field)
{
    const char *value = g_hash_table_lookup(hash, field);

    return value != NULL ? g_ascii_strtod(value, NULL) : 0;
}
