/* A private redis-server for one test, as hiredis's test.sh runs one: a temporary directory
 * holding a unix socket (no TCP port: --port 0), no persistence unless asked, started and
 * stopped by the test with every wait bounded. The socket path stays the same across a
 * restart, so a collector pointed at it sees an outage and a recovery, nothing else.
 *
 * The server is Debian's /usr/bin/redis-server (PS_REDIS_SERVER overrides); without it the
 * test is skipped with a message. A test that aborts leaves no server behind: the child gets
 * SIGKILL when the test process dies. */
#pragma once

#include <glib.h>
#include <hiredis/hiredis.h>

#define PS_TEST_REDIS_START_TIMEOUT_MS 10000 /* until the server answers PING */
#define PS_TEST_REDIS_STOP_TIMEOUT_MS  5000  /* after SIGTERM (or SHUTDOWN), before SIGKILL */

typedef struct PsTestRedis PsTestRedis;

/* Starts a server in a fresh temporary directory and waits until it answers PING. NULL when
 * redis-server is not installed (the test is then skipped) or does not come up (the test is
 * then failed, with the server's log in the test messages). */
PsTestRedis *ps_test_redis_start(void);

/* Stops the server and waits for it: SIGTERM, then SIGKILL past the bound. With save, the
 * server is asked to SHUTDOWN SAVE instead, so that its data survives into the next start
 * (an outage that loses no data, as a real Redis with persistence). TRUE when it ended by
 * itself within the bound. */
gboolean ps_test_redis_stop(PsTestRedis *redis, gboolean save);

/* Starts the server again on the same socket (and directory: a saved dump is loaded). FALSE
 * (test failed) when it does not answer PING in time. */
gboolean ps_test_redis_restart(PsTestRedis *redis);

/* Stops the server if it runs and removes its directory. */
void ps_test_redis_free(PsTestRedis *redis);

/* The server's temporary directory (removed by ps_test_redis_free): room for a test's files. */
const char *ps_test_redis_dir(const PsTestRedis *redis);

/* The unix socket path, e.g. for `--redis PATH`. */
const char *ps_test_redis_socket(const PsTestRedis *redis);

/* A new hiredis connection to the server; the test fails (NULL) if it cannot connect. */
redisContext *ps_test_redis_connect(const PsTestRedis *redis);

/* Runs one command of NUL-terminated arguments, ended by NULL; asserts a reply came back
 * (an error reply is returned as such). Free with freeReplyObject. */
redisReply *ps_test_redis_command(redisContext *context, const char *first,
                                  ...) G_GNUC_NULL_TERMINATED;

/* HGET key field as an integer: 0 when the field or the key is absent (the collector writes
 * no field for a zero count); the test fails when the value is not an integer. */
gint64 ps_test_redis_hget_int(redisContext *context, const char *key, const char *field);

/* Every key matching pattern (SCAN, so it works on any size), sorted. */
GPtrArray *ps_test_redis_keys(redisContext *context, const char *pattern);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsTestRedis, ps_test_redis_free)
