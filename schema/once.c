#include "config.h"

#include <string.h>

#include "once.h"

void
ps_once_mark(PsRedisPipeline *pipeline, const char *key, const char *token)
{
    ps_redis_pipeline_command(pipeline, "HSET", key, PS_ONCE_FIELD, token, NULL);
}

void
ps_once_connected(redisContext *redis, const char *name, PsOnceClient *client)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(redisReply) named = ps_redis_call(redis, &error, "CLIENT", "SETNAME", name, NULL);
    g_autoptr(redisReply) id =
        named != NULL ? ps_redis_call(redis, &error, "CLIENT", "ID", NULL) : NULL;

    g_strlcpy(client->name, name, sizeof(client->name));
    client->id = id != NULL && id->type == REDIS_REPLY_INTEGER ? id->integer : 0;
}

/* Kills the lost connection if it is still there (its outcome then is final); errors (no
 * such client, not allowed, an old Redis) leave it to WATCH alone. */
static void
kill_lost(redisContext *redis, const PsOnceClient *lost)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(redisReply) list = NULL;
    g_autofree gchar *name = g_strdup_printf(" name=%s ", lost->name);
    char id[24];

    if (lost->id <= 0)
        return;
    g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, lost->id);
    list = ps_redis_call(redis, &error, "CLIENT", "LIST", "ID", id, NULL);
    /* the same id on a restarted Redis is somebody else */
    if (list != NULL && list->type == REDIS_REPLY_STRING && strstr(list->str, name) != NULL) {
        g_autoptr(redisReply) killed =
            ps_redis_call(redis, &error, "CLIENT", "KILL", "ID", id, NULL);
        g_debug("killed the connection whose reply was lost: %s", killed != NULL ? "yes" : "no");
    }
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
ps_once_check(redisContext *redis, const char *key, const char *token, const PsOnceClient *lost,
              gboolean *applied, GError **error)
{
    PsRedisPipeline pipeline;
    TokenReply read = {0};
    gboolean ok;

    kill_lost(redis, lost);
    ps_redis_pipeline_init(&pipeline, redis);
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

gboolean
ps_once_exec_applied(const PsOnceExec *exec, const char *what, GError **error)
{
    if (!exec->aborted)
        return TRUE;
    g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_IO,
                "%s: EXEC refused (the attempt whose reply was lost landed meanwhile)", what);
    return FALSE;
}
