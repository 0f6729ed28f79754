/* Redis transactions that apply once, even when their reply is lost.
 *
 * A pipeline whose reply times out (a slow Redis) or whose connection drops after EXEC was
 * sent may or may not have been applied: resending it blindly applies it twice (the
 * collector's HINCRBYs, the alerter's events), not resending loses it. So every such
 * transaction also sets a token in a hash of its writer (ps:collector:<id>, ps:alerter),
 * inside the transaction; before sending one again after a lost reply the writer
 *   1. kills its lost connection (CLIENT KILL ID, once CLIENT LIST shows that id still has
 *      the name its writer gave it: ids start again when Redis restarts), so a
 *      transaction still unread there can no longer run: from then on its outcome is final;
 *   2. WATCHes the hash and reads the token: equal, the transaction is in and is skipped;
 *      otherwise it is sent again, and EXEC refuses it should the lost one land meanwhile
 *      (where ACLs deny CLIENT KILL, that is the only guard).
 * Knows nothing of what the transactions write. */
#pragma once

#include "redis.h"

#define PS_ONCE_FIELD "applied" /* field of the writer's hash holding its last token */

/* Inside MULTI: sets key's token field, so that the transaction carries its own receipt. */
void ps_once_mark(PsRedisPipeline *pipeline, const char *key, const char *token);

/* A connection's CLIENT ID and the name it was given (CLIENT SETNAME), so that it can be told
 * apart after a Redis restart; id 0 when Redis will not tell (ACLs, old versions). */
typedef struct {
    gint64 id;
    char name[128];
} PsOnceClient;

/* Names a fresh connection (name: no spaces) and asks its id. */
void ps_once_connected(redisContext *redis, const char *name, PsOnceClient *client);

/* After a lost reply, on a new connection: TRUE with *applied once the lost transaction's fate
 * is known. With *applied FALSE the key is WATCHed: send the transaction next, and treat an
 * aborted EXEC (PsOnceExec.aborted) as another lost reply. lost is the connection the reply
 * was lost on. */
gboolean ps_once_check(redisContext *redis, const char *key, const char *token,
                       const PsOnceClient *lost, gboolean *applied, GError **error);

/* Reply callback state for the pipeline holding a transaction: which reply is its EXEC, and
 * whether EXEC answered nil (a WATCHed key changed: nothing was applied). */
typedef struct {
    guint exec_index;
    gboolean aborted;
} PsOnceExec;

/* Appends EXEC and notes its index in exec. */
void ps_once_exec(PsRedisPipeline *pipeline, PsOnceExec *exec);
/* A PsRedisReplyFn for ps_redis_pipeline_finish, user_data a PsOnceExec. */
void ps_once_on_reply(guint index, redisReply *reply, gpointer user_data);

/* After the replies are read: FALSE with error ("what: ...") when EXEC was refused, which is
 * to be handled as another lost reply (check again before resending). */
gboolean ps_once_exec_applied(const PsOnceExec *exec, const char *what, GError **error);
