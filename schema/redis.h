/* Connecting to Redis the same way in every program: redis://[user:password@]host:port/db or
 * a unix socket path, a connect timeout, TCP keepalive, AUTH (ACL user or plain password;
 * PS_REDIS_PASSWORD in the environment wins over the URL), SELECT; and pipelines built with
 * PsRedisCommand (binary-safe, no format strings). hiredis 0.14: a context that
 * returned an error is dead, the caller reconnects. */
#pragma once

#include <glib.h>
#include <hiredis/hiredis.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(redisContext, redisFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(redisReply, freeReplyObject)

#define PS_REDIS_ERROR ps_redis_error_quark()
GQuark ps_redis_error_quark(void);

typedef enum {
    PS_REDIS_ERROR_ADDRESS, /* the URL cannot be parsed */
    PS_REDIS_ERROR_CONNECT, /* no connection, or AUTH/SELECT refused */
    PS_REDIS_ERROR_IO,      /* the connection failed while in use */
    PS_REDIS_ERROR_REPLY,   /* Redis answered with an error */
} PsRedisError;

typedef struct {
    gchar *host;      /* NULL for a unix socket */
    guint16 port;
    gchar *unix_path; /* NULL for TCP */
    gchar *user;
    gchar *password;
    guint db;
} PsRedisAddress;

gboolean ps_redis_address_parse(const char *url, PsRedisAddress *address, GError **error);
void ps_redis_address_clear(PsRedisAddress *address);
/* "redis://host:port/db" or the socket path, never the password: for logs and errors. */
gchar *ps_redis_address_describe(const PsRedisAddress *address);

/* Connects, authenticates and selects the database; NULL with error set on failure. */
redisContext *ps_redis_connect(const PsRedisAddress *address, guint timeout_ms, GError **error);

/* Called with each reply of a pipeline, in order. */
typedef void (*PsRedisReplyFn)(guint index, redisReply *reply, gpointer user_data);

typedef struct {
    redisContext *context;
    guint pending;
    guint reply_errors; /* replies of type error (the first is kept in first_error) */
    gchar *first_error;
} PsRedisPipeline;

void ps_redis_pipeline_init(PsRedisPipeline *pipeline, redisContext *context);
void ps_redis_pipeline_append(PsRedisPipeline *pipeline, guint argc, const char **argv,
                              const gsize *argv_len);
/* Appends a command of NUL-terminated strings, ended by NULL. */
void ps_redis_pipeline_command(PsRedisPipeline *pipeline, const char *first, ...)
    G_GNUC_NULL_TERMINATED;
/* One command in the Redis protocol, built as its arguments come. For commands of thousands
 * of arguments (a bucket's counters and sketches): no copy of each argument to keep it alive,
 * and no formatting by hiredis, which took most of a closing bucket's CPU (malloc, sdscatfmt:
 * tests/bench/README.md, session 21). */
typedef struct {
    GString *text; /* a gap for the "*argc" line, then "$len", data per argument */
    guint argc;
} PsRedisCommand;

void ps_redis_command_init(PsRedisCommand *command);
void ps_redis_command_add(PsRedisCommand *command, const void *data, gsize len);
void ps_redis_command_add_string(PsRedisCommand *command, const char *text);
void ps_redis_command_add_u64(PsRedisCommand *command, guint64 value);
/* The whole command as Redis reads it. */
const char *ps_redis_command_text(PsRedisCommand *command, gsize *len);
void ps_redis_command_clear(PsRedisCommand *command);
/* Appends the command to the pipeline and clears it. */
void ps_redis_pipeline_append_command(PsRedisPipeline *pipeline, PsRedisCommand *command);

/* Reads every pending reply; FALSE on I/O failure (the context is then dead). */
gboolean ps_redis_pipeline_finish(PsRedisPipeline *pipeline, PsRedisReplyFn fn,
                                  gpointer user_data, GError **error);
void ps_redis_pipeline_clear(PsRedisPipeline *pipeline);

/* Finishes and clears a pipeline whose every command must succeed: FALSE with error on an I/O
 * failure or on the first error reply ("what: ..."). */
gboolean ps_redis_pipeline_run(PsRedisPipeline *pipeline, PsRedisReplyFn fn, gpointer user_data,
                               const char *what, GError **error);

#define PS_REDIS_CALL_MAX_ARGS 16

/* Runs one command of NUL-terminated strings, ended by NULL, and returns its reply; NULL with
 * error on an I/O failure (the context is then dead) or an error reply. */
redisReply *ps_redis_call(redisContext *context, GError **error, const char *first, ...)
    G_GNUC_NULL_TERMINATED;
