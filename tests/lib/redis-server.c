#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>

#include "redis-server.h"

#define DEFAULT_SERVER "/usr/bin/redis-server"
#define POLL_US        10000 /* between PINGs while starting, and exit checks while stopping */
#define CONNECT_MS     1000

struct PsTestRedis {
    gchar *server;
    gchar *dir;
    gchar *socket_path;
    gchar *log_path;
    GSubprocess *process; /* NULL while stopped */
};

/* Runs in the child between fork and exec: a test that aborts must not leave a server. */
static void
die_with_parent(gpointer user_data)
{
    (void)user_data;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
answers_ping(const PsTestRedis *redis)
{
    struct timeval timeout = {0, 200000};
    redisContext *context = redisConnectUnixWithTimeout(redis->socket_path, timeout);
    redisReply *reply;
    gboolean ok;

    if (context == NULL)
        return FALSE;
    if (context->err) {
        redisFree(context);
        return FALSE;
    }
    reply = redisCommand(context, "PING");
    ok = reply != NULL && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
    if (reply != NULL)
        freeReplyObject(reply);
    redisFree(context);
    return ok;
}

static gboolean
has_exited(GSubprocess *process)
{
    /* GSubprocess drops its identifier once the child has been reaped */
    return g_subprocess_get_identifier(process) == NULL;
}

static void
log_server_output(const PsTestRedis *redis)
{
    const char *paths[] = {redis->log_path, NULL};
    g_autofree gchar *stderr_path = g_build_filename(redis->dir, "stderr", NULL);

    paths[1] = stderr_path;
    for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_autofree gchar *text = NULL;
        if (g_file_get_contents(paths[i], &text, NULL, NULL) && text[0] != '\0')
            g_test_message("redis-server %s:\n%s", paths[i], text);
    }
}

/* Spawns the server on our socket and waits for PING; FALSE (test failed) if it fails. */
static gboolean
spawn(PsTestRedis *redis)
{
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
    g_autoptr(GError) error = NULL;
    g_autofree gchar *out_path = g_build_filename(redis->dir, "stderr", NULL);
    const gchar *argv[] = {redis->server,
                           "--port",
                           "0",
                           "--unixsocket",
                           redis->socket_path,
                           "--unixsocketperm",
                           "700",
                           "--dir",
                           redis->dir,
                           "--save",
                           "",
                           "--appendonly",
                           "no",
                           "--logfile",
                           redis->log_path,
                           "--daemonize",
                           "no",
                           NULL};
    gint64 deadline = g_get_monotonic_time() + PS_TEST_REDIS_START_TIMEOUT_MS * 1000LL;

    g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
    g_subprocess_launcher_set_stdout_file_path(launcher, out_path);
    g_subprocess_launcher_set_stderr_file_path(launcher, out_path);
    redis->process = g_subprocess_launcher_spawnv(launcher, argv, &error);
    if (redis->process == NULL) {
        g_test_fail_printf("cannot start %s: %s", redis->server, error->message);
        return FALSE;
    }
    while (g_get_monotonic_time() < deadline && !has_exited(redis->process)) {
        if (answers_ping(redis))
            return TRUE;
        g_usleep(POLL_US);
    }
    log_server_output(redis);
    g_test_fail_printf("redis-server did not answer PING on %s within %d ms (%s)",
                       redis->socket_path, PS_TEST_REDIS_START_TIMEOUT_MS,
                       has_exited(redis->process) ? "it exited" : "still running");
    (void)ps_test_redis_stop(redis, FALSE);
    return FALSE;
}

PsTestRedis *
ps_test_redis_start(void)
{
    g_autoptr(PsTestRedis) redis = g_new0(PsTestRedis, 1);
    g_autoptr(GError) error = NULL;
    const char *server = g_getenv("PS_REDIS_SERVER");

    redis->server = g_strdup(server != NULL ? server : DEFAULT_SERVER);
    if (!g_file_test(redis->server, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip_printf("%s is not installed (apt-get install redis-server)", redis->server);
        return NULL;
    }
    redis->dir = g_dir_make_tmp("ps-redis-XXXXXX", &error);
    g_assert_no_error(error);
    /* sun_path holds 108 bytes: a short temp dir keeps well inside it */
    redis->socket_path = g_build_filename(redis->dir, "redis.sock", NULL);
    redis->log_path = g_build_filename(redis->dir, "redis.log", NULL);
    if (!spawn(redis))
        return NULL;
    return g_steal_pointer(&redis);
}

/* Sends SHUTDOWN SAVE: the server writes its dump and exits; the reply never comes. */
static void
shutdown_saving(PsTestRedis *redis)
{
    struct timeval timeout = {CONNECT_MS / 1000, 0};
    redisContext *context = redisConnectUnixWithTimeout(redis->socket_path, timeout);
    redisReply *reply;

    if (context == NULL)
        return;
    if (!context->err) {
        reply = redisCommand(context, "SHUTDOWN SAVE");
        if (reply != NULL) {
            /* only an error comes back (a failed save): say so, SIGTERM follows */
            g_test_message("SHUTDOWN SAVE: %s",
                           reply->type == REDIS_REPLY_ERROR ? reply->str : "a reply");
            freeReplyObject(reply);
        }
    }
    redisFree(context);
}

static gboolean
wait_exit(GSubprocess *process, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    while (!has_exited(process) && g_get_monotonic_time() < deadline)
        g_usleep(POLL_US);
    return has_exited(process);
}

gboolean
ps_test_redis_stop(PsTestRedis *redis, gboolean save)
{
    gboolean clean;

    if (redis->process == NULL)
        return TRUE;
    if (save)
        shutdown_saving(redis);
    if (!has_exited(redis->process))
        g_subprocess_send_signal(redis->process, SIGTERM);
    clean = wait_exit(redis->process, PS_TEST_REDIS_STOP_TIMEOUT_MS);
    if (!clean) {
        g_test_message("redis-server ignored SIGTERM for %d ms: killing it",
                       PS_TEST_REDIS_STOP_TIMEOUT_MS);
        g_subprocess_force_exit(redis->process);
        (void)g_subprocess_wait(redis->process, NULL, NULL);
    }
    g_clear_object(&redis->process);
    return clean;
}

gboolean
ps_test_redis_restart(PsTestRedis *redis)
{
    (void)ps_test_redis_stop(redis, FALSE);
    return spawn(redis);
}

static void
remove_dir(const char *dir)
{
    g_autoptr(GDir) entries = g_dir_open(dir, 0, NULL);
    const char *name;

    while (entries != NULL && (name = g_dir_read_name(entries)) != NULL) {
        g_autofree gchar *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
}

void
ps_test_redis_free(PsTestRedis *redis)
{
    if (redis == NULL)
        return;
    (void)ps_test_redis_stop(redis, FALSE);
    if (redis->dir != NULL)
        remove_dir(redis->dir);
    g_free(redis->server);
    g_free(redis->dir);
    g_free(redis->socket_path);
    g_free(redis->log_path);
    g_free(redis);
}

const char *
ps_test_redis_dir(const PsTestRedis *redis)
{
    return redis->dir;
}

const char *
ps_test_redis_socket(const PsTestRedis *redis)
{
    return redis->socket_path;
}

redisContext *
ps_test_redis_connect(const PsTestRedis *redis)
{
    struct timeval timeout = {CONNECT_MS / 1000, 0};
    redisContext *context = redisConnectUnixWithTimeout(redis->socket_path, timeout);

    if (context == NULL || context->err) {
        g_test_fail_printf("connect to %s: %s", redis->socket_path,
                           context != NULL ? context->errstr : "out of memory");
        if (context != NULL)
            redisFree(context);
        return NULL;
    }
    /* a test reading back must never hang on a stuck server */
    timeout.tv_sec = 10;
    redisSetTimeout(context, timeout);
    return context;
}

redisReply *
ps_test_redis_command(redisContext *context, const char *first, ...)
{
    const char *argv[32];
    int argc = 0;
    va_list args;
    redisReply *reply;

    va_start(args, first);
    for (const char *arg = first; arg != NULL; arg = va_arg(args, const char *)) {
        g_assert_cmpint(argc, <, (int)G_N_ELEMENTS(argv));
        argv[argc++] = arg;
    }
    va_end(args);
    reply = redisCommandArgv(context, argc, argv, NULL);
    if (reply == NULL)
        g_test_message("Redis %s: %s", first, context->errstr); /* the connection is dead */
    g_assert_nonnull(reply);
    return reply;
}

gint64
ps_test_redis_hget_int(redisContext *context, const char *key, const char *field)
{
    redisReply *reply = ps_test_redis_command(context, "HGET", key, field, NULL);
    gint64 value = 0;

    if (reply->type == REDIS_REPLY_STRING) {
        g_autoptr(GError) error = NULL;
        if (!g_ascii_string_to_signed(reply->str, 10, G_MININT64, G_MAXINT64, &value, &error))
            g_test_fail_printf("HGET %s %s: '%s' is not an integer", key, field, reply->str);
    } else if (reply->type != REDIS_REPLY_NIL) {
        g_test_fail_printf("HGET %s %s: reply of type %d", key, field, reply->type);
    }
    freeReplyObject(reply);
    return value;
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
ps_test_redis_keys(redisContext *context, const char *pattern)
{
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    g_autofree gchar *cursor = g_strdup("0");

    do {
        redisReply *reply =
            ps_test_redis_command(context, "SCAN", cursor, "MATCH", pattern, "COUNT", "1000", NULL);
        g_assert_cmpint(reply->type, ==, REDIS_REPLY_ARRAY);
        g_assert_cmpuint(reply->elements, ==, 2);
        g_free(cursor);
        cursor = g_strdup(reply->element[0]->str);
        for (gsize i = 0; i < reply->element[1]->elements; i++)
            g_ptr_array_add(keys, g_strdup(reply->element[1]->element[i]->str));
        freeReplyObject(reply);
    } while (strcmp(cursor, "0") != 0);
    g_ptr_array_sort(keys, compare_strings);
    /* SCAN may return a key more than once */
    for (guint i = 1; i < keys->len;) {
        if (strcmp(g_ptr_array_index(keys, i), g_ptr_array_index(keys, i - 1)) == 0)
            g_ptr_array_remove_index(keys, i);
        else
            i++;
    }
    return keys;
}
