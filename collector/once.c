#include "config.h"

#include <string.h>

#include "once.h"

void
ps_once_mark(PsRedisPipeline *pipeline, const char *key, const char *token)
{
    ps_redis_pipeline_command(pipeline, "HSET", key, PS_ONCE_FIELD, token, NULL);
}

gint64
ps_once_client_id(redisContext *redis)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(redisReply) reply = ps_redis_call(redis, &error, "CLIENT", "ID", NULL);

    return reply != NULL && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
}

/* Reads the token after killing the lost connection and watching the key. */
typedef struct {
    guint token_index;
    gchar *token; /* NULL: not set */
} TokenReply;

static void
on_check_reply(guint index, redisReply *reply, gpointer user_data)
{
    TokenReply *read = user_data;

    if (index == read->token_index && reply->type == REDIS_REPLY_STRING)
        read->token = g_strndup(reply->str, reply->len);
}

gboolean
ps_once_check(redisContext *redis, const char *key, const char *token, gint64 lost_client,
              gboolean *applied, GError **error)
{
    PsRedisPipeline pipeline;
    TokenReply read = {0};
    char client[24];
    gboolean ok;

    ps_redis_pipeline_init(&pipeline, redis);
    /* its error reply (no such client: already gone; or not allowed) changes nothing below */
    if (lost_client > 0) {
        g_snprintf(client, sizeof(client), "%" G_GINT64_FORMAT, lost_client);
        ps_redis_pipeline_command(&pipeline, "CLIENT", "KILL", "ID", client, NULL);
    }
    ps_redis_pipeline_command(&pipeline, "WATCH", key, NULL);
    read.token_index = pipeline.pending;
    ps_redis_pipeline_command(&pipeline, "HGET", key, PS_ONCE_FIELD, NULL);
    ok = ps_redis_pipeline_finish(&pipeline, on_check_reply, &read, error);
    ps_redis_pipeline_clear(&pipeline);
    *applied = ok && read.token != NULL && strcmp(read.token, token) == 0;
    g_free(read.token);
    if (ok && *applied) {
        g_autoptr(redisReply) reply = ps_redis_call(redis, error, "UNWATCH", NULL);
        ok = reply != NULL;
    }
    return ok;
}

void
ps_once_exec(PsRedisPipeline *pipeline, PsOnceExec *exec)
{
    exec->exec_index = pipeline->pending;
    exec->aborted = FALSE;
    ps_redis_pipeline_command(pipeline, "EXEC", NULL);
}

void
ps_once_on_reply(guint index, redisReply *reply, gpointer user_data)
{
    PsOnceExec *exec = user_data;

    if (index == exec->exec_index && reply->type == REDIS_REPLY_NIL)
        exec->aborted = TRUE;
}
