#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "redis.h"

G_DEFINE_QUARK(ps_redis_error_quark, ps_redis_error)

static gboolean
parse_host_port(const char *text, PsRedisAddress *address)
{
    const char *colon = strrchr(text, ':');
    guint64 port = 6379;

    if (colon != NULL && strchr(text, ']') == NULL && strchr(text, ':') != colon)
        colon = NULL; /* a bare IPv6 address */
    if (colon != NULL && !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
        return FALSE;
    address->host = colon != NULL ? g_strndup(text, colon - text) : g_strdup(text);
    gsize length = strlen(address->host);
    if (length >= 2 && address->host[0] == '[' && address->host[length - 1] == ']') {
        memmove(address->host, address->host + 1, length - 2); /* "[::1]" -> "::1" */
        address->host[length - 2] = '\0';
    } else if (address->host[0] == '[' || strchr(address->host, ']') != NULL) {
        return FALSE; /* an unbalanced bracket: not a host */
    }
    address->port = (guint16)port;
    return address->host[0] != '\0';
}

static void
parse_credentials(const char *text, gsize len, PsRedisAddress *address)
{
    g_autofree gchar *credentials = g_strndup(text, len);
    char *colon = strchr(credentials, ':');

    if (colon == NULL) {
        address->password = g_uri_unescape_string(credentials, NULL);
        return;
    }
    *colon = '\0';
    if (credentials[0] != '\0')
        address->user = g_uri_unescape_string(credentials, NULL);
    address->password = g_uri_unescape_string(colon + 1, NULL);
}

gboolean
ps_redis_address_parse(const char *url, PsRedisAddress *address, GError **error)
{
    const char *rest, *at, *slash;
    g_autofree gchar *host_port = NULL;
    guint64 db = 0;

    memset(address, 0, sizeof(*address));
    if (url[0] == '/' || g_str_has_prefix(url, "unix://")) {
        address->unix_path = g_strdup(url[0] == '/' ? url : url + strlen("unix://"));
        return TRUE;
    }
    rest = g_str_has_prefix(url, "redis://") ? url + strlen("redis://") : url;
    at = strrchr(rest, '@');
    if (at != NULL) {
        parse_credentials(rest, at - rest, address);
        rest = at + 1;
    }
    slash = strchr(rest, '/');
    host_port = slash != NULL ? g_strndup(rest, slash - rest) : g_strdup(rest);
    if (!parse_host_port(host_port, address) ||
        (slash != NULL && slash[1] != '\0' &&
         !g_ascii_string_to_unsigned(slash + 1, 10, 0, 10000, &db, NULL))) {
        ps_redis_address_clear(address);
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_ADDRESS,
                    "Redis address '%s': expected redis://[user:password@]host:port/db or a "
                    "unix socket path",
                    url);
        return FALSE;
    }
    address->db = (guint)db;
    return TRUE;
}

void
ps_redis_address_clear(PsRedisAddress *address)
{
    g_clear_pointer(&address->host, g_free);
    g_clear_pointer(&address->unix_path, g_free);
    g_clear_pointer(&address->user, g_free);
    g_clear_pointer(&address->password, g_free);
}

gchar *
ps_redis_address_describe(const PsRedisAddress *address)
{
    if (address->unix_path != NULL)
        return g_strdup_printf("unix:%s (db %u)", address->unix_path, address->db);
    return g_strdup_printf("redis://%s%s%s:%u/%u", strchr(address->host, ':') ? "[" : "",
                           address->host, strchr(address->host, ':') ? "]" : "", address->port,
                           address->db);
}

static redisReply *call_valist(redisContext *context, GError **error, const char *first,
                               va_list args);

/* One command of the connection set-up: a failure is a failure to connect. */
static gboolean
run_command(redisContext *context, const char *what, GError **error, const char *first, ...)
{
    g_autoptr(GError) failure = NULL;
    va_list args;
    redisReply *reply;

    va_start(args, first);
    reply = call_valist(context, &failure, first, args);
    va_end(args);
    if (reply == NULL) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_CONNECT, "%s: %s", what,
                    failure->message);
        return FALSE;
    }
    freeReplyObject(reply);
    return TRUE;
}

static gboolean
authenticate(redisContext *context, const PsRedisAddress *address, GError **error)
{
    const char *password = g_getenv("PS_REDIS_PASSWORD");
    g_autofree gchar *db = g_strdup_printf("%u", address->db);

    if (password == NULL)
        password = address->password;
    if (password != NULL && address->user != NULL &&
        !run_command(context, "AUTH", error, "AUTH", address->user, password, NULL))
        return FALSE;
    if (password != NULL && address->user == NULL &&
        !run_command(context, "AUTH", error, "AUTH", password, NULL))
        return FALSE;
    return address->db == 0 || run_command(context, "SELECT", error, "SELECT", db, NULL);
}

redisContext *
ps_redis_connect(const PsRedisAddress *address, guint timeout_ms, GError **error)
{
    struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    g_autoptr(redisContext) context = NULL;
    g_autofree gchar *where = ps_redis_address_describe(address);

    if (address->unix_path != NULL)
        context = redisConnectUnixWithTimeout(address->unix_path, timeout);
    else
        context = redisConnectWithTimeout(address->host, address->port, timeout);
    /* check before any other use: a NULL or failed context is all we get on failure */
    if (context == NULL || context->err) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_CONNECT, "cannot connect to %s: %s",
                    where, context != NULL ? context->errstr : "out of memory");
        return NULL;
    }
    redisSetTimeout(context, timeout);
    if (address->unix_path == NULL)
        redisEnableKeepAlive(context);
    if (!authenticate(context, address, error)) {
        g_prefix_error(error, "%s: ", where);
        return NULL;
    }
    return g_steal_pointer(&context);
}

/* hiredis reports a read that timed out as the errno it got: "Resource temporarily
 * unavailable" tells an operator nothing about a slow Redis. */
static const char *
io_error(const redisContext *context)
{
    if (context->err == REDIS_ERR_IO && strcmp(context->errstr, g_strerror(EAGAIN)) == 0)
        return "no reply within the timeout";
    return context->errstr;
}

void
ps_redis_pipeline_init(PsRedisPipeline *pipeline, redisContext *context)
{
    memset(pipeline, 0, sizeof(*pipeline));
    pipeline->context = context;
}

#define ARGC_LINE_MAX 16 /* "*4294967295\r\n" */

void
ps_redis_command_init(PsRedisCommand *command)
{
    command->text = g_string_sized_new(256);
    g_string_set_size(command->text, ARGC_LINE_MAX); /* filled in when appended */
    command->argc = 0;
}

/* value in decimal, ending at the end of digits: printf's machinery per number and per
 * argument length was a tenth of a closing bucket's CPU */
static gsize
decimal(guint64 value, char digits[20], const char **start)
{
    char *at = digits + 20;

    do {
        *--at = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    *start = at;
    return (gsize)(digits + 20 - at);
}

void
ps_redis_command_add(PsRedisCommand *command, const void *data, gsize len)
{
    char digits[20];
    const char *length;
    gsize length_len = decimal(len, digits, &length), at = command->text->len;
    char *to;

    /* one resize, not five appends: each is a call into glib */
    g_string_set_size(command->text, at + 1 + length_len + 2 + len + 2);
    to = command->text->str + at;
    *to++ = '$';
    memcpy(to, length, length_len);
    to += length_len;
    memcpy(to, "\r\n", 2);
    if (len > 0)
        memcpy(to + 2, data, len);
    memcpy(to + 2 + len, "\r\n", 2);
    command->argc++;
}

void
ps_redis_command_add_string(PsRedisCommand *command, const char *text)
{
    ps_redis_command_add(command, text, strlen(text));
}

void
ps_redis_command_add_u64(PsRedisCommand *command, guint64 value)
{
    char digits[20];
    const char *start;
    gsize len = decimal(value, digits, &start);

    ps_redis_command_add(command, start, len);
}

const char *
ps_redis_command_text(PsRedisCommand *command, gsize *len)
{
    char line[ARGC_LINE_MAX + 1];
    int n = g_snprintf(line, sizeof(line), "*%u\r\n", command->argc);
    char *start = command->text->str + ARGC_LINE_MAX - n;

    memcpy(start, line, (gsize)n); /* right before the arguments */
    *len = command->text->len - (gsize)(ARGC_LINE_MAX - n);
    return start;
}

void
ps_redis_command_clear(PsRedisCommand *command)
{
    if (command->text != NULL)
        g_string_free(command->text, TRUE);
    command->text = NULL;
}

void
ps_redis_pipeline_append_command(PsRedisPipeline *pipeline, PsRedisCommand *command)
{
    gsize len;
    const char *text = ps_redis_command_text(command, &len);

    redisAppendFormattedCommand(pipeline->context, text, len);
    pipeline->pending++;
    ps_redis_command_clear(command);
}

void
ps_redis_pipeline_append(PsRedisPipeline *pipeline, guint argc, const char **argv,
                         const gsize *argv_len)
{
    PsRedisCommand command;

    ps_redis_command_init(&command);
    for (guint i = 0; i < argc; i++)
        ps_redis_command_add(&command, argv[i], argv_len != NULL ? argv_len[i] : strlen(argv[i]));
    ps_redis_pipeline_append_command(pipeline, &command);
}

void
ps_redis_pipeline_command(PsRedisPipeline *pipeline, const char *first, ...)
{
    const char *argv[32];
    guint argc = 0;
    va_list args;

    va_start(args, first);
    for (const char *arg = first; arg != NULL; arg = va_arg(args, const char *)) {
        g_assert(argc < G_N_ELEMENTS(argv));
        argv[argc++] = arg;
    }
    va_end(args);
    ps_redis_pipeline_append(pipeline, argc, argv, NULL);
}

gboolean
ps_redis_pipeline_finish(PsRedisPipeline *pipeline, PsRedisReplyFn fn, gpointer user_data,
                         GError **error)
{
    for (guint i = 0; i < pipeline->pending; i++) {
        g_autoptr(redisReply) reply = NULL;
        if (redisGetReply(pipeline->context, (void **)&reply) != REDIS_OK) {
            g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_IO, "reply %u of %u: %s", i + 1,
                        pipeline->pending, io_error(pipeline->context));
            pipeline->pending = 0;
            return FALSE;
        }
        if (reply->type == REDIS_REPLY_ERROR && pipeline->reply_errors++ == 0)
            pipeline->first_error = g_strdup(reply->str);
        if (fn != NULL)
            fn(i, reply, user_data);
    }
    pipeline->pending = 0;
    return TRUE;
}

void
ps_redis_pipeline_clear(PsRedisPipeline *pipeline)
{
    g_clear_pointer(&pipeline->first_error, g_free);
    pipeline->pending = 0;
    pipeline->reply_errors = 0;
}

static redisReply *
call_valist(redisContext *context, GError **error, const char *first, va_list args)
{
    const char *argv[PS_REDIS_CALL_MAX_ARGS];
    guint argc = 0;
    redisReply *reply;

    for (const char *arg = first; arg != NULL && argc < G_N_ELEMENTS(argv);
         arg = va_arg(args, const char *))
        argv[argc++] = arg;
    reply = redisCommandArgv(context, argc, argv, NULL);
    if (reply == NULL) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_IO, "%s: %s", first, io_error(context));
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_REPLY, "%s: %s", first, reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

redisReply *
ps_redis_call(redisContext *context, GError **error, const char *first, ...)
{
    va_list args;
    redisReply *reply;

    va_start(args, first);
    reply = call_valist(context, error, first, args);
    va_end(args);
    return reply;
}

gboolean
ps_redis_pipeline_run(PsRedisPipeline *pipeline, PsRedisReplyFn fn, gpointer user_data,
                      const char *what, GError **error)
{
    gboolean ok = ps_redis_pipeline_finish(pipeline, fn, user_data, error);

    if (ok && pipeline->reply_errors > 0) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_REPLY, "%s: %s", what,
                    pipeline->first_error);
        ok = FALSE;
    }
    ps_redis_pipeline_clear(pipeline);
    return ok;
}
