/* Sources new to a watched series (<series>:nnew, ps:seen:<series>, ps:seen-since), read back
 * from a private redis-server: the collector's aggregation and flush thread (a PsStore) close
 * minute buckets of crafted flows one at a time, with a 120 s horizon, and the test checks
 * exactly which buckets have the field and what it counts:
 *   - the first horizon of tracking writes none; then a source counts as new when the series
 *     has not seen it after start - horizon (seen long ago: new again; recently: not);
 *   - a port that is not watched gets no field and no seen set;
 *   - two collectors closing one bucket with overlapping sources count each source once;
 *   - the script run twice for one bucket (a retried write) counts nothing twice;
 *   - a seen set that disappears restarts tracking, immature again for a horizon;
 *   - the seen set keeps at most new_sources_max members, the most recently seen;
 *   - Redis down while a bucket closes: it is written, and counted, once Redis is back. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "keys.h"
#include "new_sources.h"
#include "redis-server.h"
#include "redis.h"
#include "store.h"

#define T0               1699999200 /* an hour start: the buckets below stay in its hour */
#define STEP             60
#define HORIZON          120
#define CLOSE_TIMEOUT_MS 30000
#define ABSENT           (-1)

static const char *const watched[] = {"tcp/445", NULL};

/* ---- a redis-server, and collectors (aggregation and flush thread) fed flows directly ---- */

typedef struct {
    PsTestRedis *redis;    /* NULL: no redis-server, the test is skipped */
    redisContext *context; /* the test's own connection, to read back */
    PsDispatch *dispatch;  /* only for the stores' exporter health: no packet goes through it */
    PsStore *stores[2];    /* one per collector */
    PsNetwork home;
} Fixture;

static void
no_flow(const PsFlow *flow, gpointer user_data)
{
    (void)flow;
    (void)user_data;
}

static PsStore *collector_start(Fixture *fixture, guint index, guint max_members);

/* A server, and collector 0 with data as its seen set cap (NULL: the default 50000). */
static void
fixture_setup(Fixture *fixture, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    fixture->redis = ps_test_redis_start();
    if (fixture->redis == NULL)
        return;
    fixture->context = ps_test_redis_connect(fixture->redis);
    fixture->dispatch = ps_dispatch_new(no_flow, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(ps_network_parse("10.0.0.0/8", &fixture->home, NULL));
    collector_start(fixture, 0, data != NULL ? GPOINTER_TO_UINT(data) : 50000);
}

static void
fixture_teardown(Fixture *fixture, gconstpointer data)
{
    (void)data;
    for (guint i = 0; i < G_N_ELEMENTS(fixture->stores); i++)
        g_clear_pointer(&fixture->stores[i], ps_store_free);
    g_clear_pointer(&fixture->dispatch, ps_dispatch_free);
    g_clear_pointer(&fixture->context, redisFree);
    g_clear_pointer(&fixture->redis, ps_test_redis_free);
}

/* Collector index (0 or 1) writing to the fixture's server as "edge-<index>", watching tcp/445,
 * with home network 10.0.0.0/8 (so that tcp/445@in is a series too) and a seen set cap of
 * max_members. The fixture frees it. */
static PsStore *
collector_start(Fixture *fixture, guint index, guint max_members)
{
    g_autofree gchar *id = g_strdup_printf("edge-%u", index);
    PsAggregateConfig aggregate;
    PsFlushConfig flush = {.prefix = PS_KEYS_DEFAULT_PREFIX,
                           .collector_id = id,
                           .minute_ttl_s = 86400,
                           .hour_ttl_s = 86400,
                           .top_k = 3,
                           .max_pending_bytes = 64 * 1024 * 1024,
                           .timeout_ms = 5000,
                           .backoff_max_ms = 1000,
                           .new_sources_horizon_s = HORIZON,
                           .new_sources_max = max_members};

    ps_aggregate_config_init(&aggregate);
    aggregate.step = STEP;
    aggregate.new_sources = watched;
    aggregate.home_networks = &fixture->home;
    aggregate.n_home_networks = 1;
    g_assert_true(
        ps_redis_address_parse(ps_test_redis_socket(fixture->redis), &flush.address, NULL));
    fixture->stores[index] = ps_store_new(&aggregate, &flush, fixture->dispatch);
    ps_redis_address_clear(&flush.address);
    return fixture->stores[index];
}

/* One SYN from each of sources (NULL-terminated; "198.51.100." is prepended to each) to
 * 10.0.0.1:port in the bucket start. */
static void
collector_add(PsStore *store, gint64 start, guint16 port, const char *const *sources)
{
    for (guint i = 0; sources[i] != NULL; i++) {
        g_autofree gchar *source = g_strconcat("198.51.100.", sources[i], NULL);
        PsFlow flow = {.src_port = 40000, .dst_port = port, .proto = 6, .tcp_flags = 0x02};
        g_assert_true(ps_address_parse(source, &flow.src));
        g_assert_true(ps_address_parse("10.0.0.1", &flow.dst));
        flow.packets = 1;
        flow.bytes = 60;
        flow.sampling = 1;
        flow.end_ms = (start + 30) * 1000;
        ps_store_add(store, &flow, (start + 30) * 1000);
    }
}

/* Closes the bucket start (every open one) and waits until Redis has it. */
static void
collector_close(PsStore *store, gint64 start)
{
    PsFlushStats stats;

    g_assert_true(ps_store_close(store, (start + 30) * 1000, CLOSE_TIMEOUT_MS));
    ps_flush_get_stats(ps_store_flusher(store), &stats);
    g_assert_cmpuint(stats.failures, ==, 0);
    g_assert_cmpuint(stats.reply_errors, ==, 0);
    g_assert_cmpuint(stats.dropped_batches, ==, 0);
}

/* A bucket of flows to one port, closed. */
static void
collector_bucket(PsStore *store, gint64 start, guint16 port, const char *const *sources)
{
    collector_add(store, start, port, sources);
    collector_close(store, start);
}

/* ---- reading back ---- */

/* HGET key field as an integer, ABSENT when there is no such field. */
static gint64
hget(redisContext *context, const char *key, const char *field)
{
    g_autoptr(redisReply) reply = ps_test_redis_command(context, "HGET", key, field, NULL);

    if (reply->type == REDIS_REPLY_NIL)
        return ABSENT;
    g_assert_cmpint(reply->type, ==, REDIS_REPLY_STRING);
    return g_ascii_strtoll(reply->str, NULL, 10);
}

/* <series>:nnew of minute bucket start, or ABSENT. */
static gint64
nnew(redisContext *context, gint64 start, const char *series)
{
    g_autofree gchar *key = ps_key_bucket(PS_KEYS_DEFAULT_PREFIX, STEP, start);
    g_autofree gchar *field = ps_field(series, "nnew");

    return hget(context, key, field);
}

static gint64
seen_since(redisContext *context, const char *series)
{
    g_autofree gchar *key = ps_key_seen_since(PS_KEYS_DEFAULT_PREFIX);

    return hget(context, key, series);
}

/* ZSCORE of source ("198.51.100." + last) in ps:seen:<series>, or ABSENT. */
static gint64
seen_score(redisContext *context, const char *series, const char *last)
{
    g_autofree gchar *key = ps_key_seen(PS_KEYS_DEFAULT_PREFIX, series);
    g_autofree gchar *member = g_strconcat("198.51.100.", last, NULL);
    g_autoptr(redisReply) reply = ps_test_redis_command(context, "ZSCORE", key, member, NULL);

    if (reply->type == REDIS_REPLY_NIL)
        return ABSENT;
    return g_ascii_strtoll(reply->str, NULL, 10);
}

static gint64
integer_command(redisContext *context, const char *command, const char *key)
{
    g_autoptr(redisReply) reply = ps_test_redis_command(context, command, key, NULL);

    g_assert_cmpint(reply->type, ==, REDIS_REPLY_INTEGER);
    return reply->integer;
}

#define SOURCES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- the tests ---- */

static void
test_horizon(Fixture *fixture, gconstpointer data)
{
    redisContext *context = fixture->context;
    PsStore *collector = fixture->stores[0];
    g_autofree gchar *hour = ps_key_bucket(PS_KEYS_DEFAULT_PREFIX, 3600, T0);

    (void)data;
    if (fixture->redis == NULL)
        return;
    /* tracking starts at T0: T0 and T0 + 60 are within its first horizon */
    collector_bucket(collector, T0, 445, SOURCES("1", "2", "3"));
    collector_bucket(collector, T0 + 60, 445, SOURCES("1", "4"));
    g_assert_cmpint(seen_since(context, "tcp/445"), ==, T0);
    for (guint i = 0; i < 2; i++) {
        g_assert_cmpint(nnew(context, T0 + 60 * i, "tcp/445"), ==, ABSENT);
        g_assert_cmpint(nnew(context, T0 + 60 * i, "tcp/445@in"), ==, ABSENT);
    }
    /* T0 + 120 is mature. .1 and .4 were seen at T0 + 60: not new. .2 was last seen at T0,
     * which is start - horizon: new again. .5 was never seen: new. */
    collector_bucket(collector, T0 + 120, 445, SOURCES("1", "2", "4", "5"));
    g_assert_cmpint(nnew(context, T0 + 120, "tcp/445"), ==, 2);
    g_assert_cmpint(nnew(context, T0 + 120, "tcp/445@in"), ==, 2);
    /* .3 was seen 180 s ago: new; .6 new; .5 and .2 were seen at T0 + 120: not new */
    collector_bucket(collector, T0 + 180, 445, SOURCES("3", "5", "6", "2"));
    g_assert_cmpint(nnew(context, T0 + 180, "tcp/445"), ==, 2);
    g_assert_cmpint(nnew(context, T0 + 180, "tcp/445@in"), ==, 2);
    /* a bucket where nothing is new still has the field: present means known */
    collector_bucket(collector, T0 + 240, 445, SOURCES("6"));
    g_assert_cmpint(nnew(context, T0 + 240, "tcp/445"), ==, 0);
    /* scores are the last bucket seen; trimmed to after start - horizon of the last bucket */
    g_assert_cmpint(seen_score(context, "tcp/445", "6"), ==, T0 + 240);
    g_assert_cmpint(seen_score(context, "tcp/445", "5"), ==, T0 + 180);
    g_assert_cmpint(seen_score(context, "tcp/445", "1"), ==, ABSENT); /* T0 + 120 */
    g_assert_cmpint(seen_score(context, "tcp/445", "4"), ==, ABSENT);
    g_assert_cmpint(integer_command(context, "ZCARD", "ps:seen:tcp/445"), ==, 4);
    g_assert_cmpint(integer_command(context, "TTL", "ps:seen:tcp/445"), >, HORIZON);
    g_assert_cmpint(integer_command(context, "TTL", "ps:seen:tcp/445"), <=, HORIZON + 2 * STEP);
    g_assert_cmpint(seen_since(context, "tcp/445@in"), ==, T0);
    /* beside nsrc; minute buckets only, never rolled up into the hour */
    g_assert_cmpint(hget(context, "ps:b:60:1699999380", "tcp/445:nsrc"), ==, 4);
    g_assert_cmpint(hget(context, hour, "tcp/445:nnew"), ==, ABSENT);
    g_assert_cmpint(hget(context, hour, "tcp/445:flows"), >, 0);
}

static void
test_unwatched(Fixture *fixture, gconstpointer data)
{
    redisContext *context = fixture->context;
    PsStore *collector = fixture->stores[0];
    g_autoptr(GPtrArray) seen = NULL;

    (void)data;
    if (fixture->redis == NULL)
        return;
    for (guint i = 0; i < 4; i++) {
        collector_add(collector, T0 + 60 * i, 80, SOURCES("1", "2"));
        collector_bucket(collector, T0 + 60 * i, 445, SOURCES("1"));
    }
    for (guint i = 0; i < 4; i++) {
        g_autofree gchar *bucket = ps_key_bucket(PS_KEYS_DEFAULT_PREFIX, STEP, T0 + 60 * i);
        g_assert_cmpint(hget(context, bucket, "tcp/80:nsrc"), ==, 2);
        g_assert_cmpint(nnew(context, T0 + 60 * i, "tcp/80"), ==, ABSENT);
        g_assert_cmpint(nnew(context, T0 + 60 * i, "tcp/80@in"), ==, ABSENT);
    }
    g_assert_cmpint(nnew(context, T0 + 180, "tcp/445"), ==, 0); /* the watched one has it */
    seen = ps_test_redis_keys(context, "ps:seen:*");
    g_assert_cmpuint(seen->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, "ps:seen:tcp/445");
    g_assert_cmpstr(g_ptr_array_index(seen, 1), ==, "ps:seen:tcp/445@in");
    g_assert_cmpint(seen_since(context, "tcp/80"), ==, ABSENT);
}

static void
test_two_collectors(Fixture *fixture, gconstpointer data)
{
    redisContext *context = fixture->context;
    PsStore *a = fixture->stores[0], *b;

    (void)data;
    if (fixture->redis == NULL)
        return;
    b = collector_start(fixture, 1, 50000);
    collector_bucket(a, T0, 445, SOURCES("1"));
    collector_bucket(b, T0, 445, SOURCES("1"));
    collector_bucket(a, T0 + 60, 445, SOURCES("1"));
    collector_bucket(b, T0 + 60, 445, SOURCES("9"));
    /* .1 and .9 were seen at T0 + 60; .2, .3 and .4 are new: a counts .2 and .3, b only .4
     * (.3 is in the set by then), so the sum is the union's 3, not 2 + 2 */
    collector_bucket(a, T0 + 120, 445, SOURCES("1", "2", "3"));
    g_assert_cmpint(nnew(context, T0 + 120, "tcp/445"), ==, 2);
    collector_bucket(b, T0 + 120, 445, SOURCES("3", "4", "9"));
    g_assert_cmpint(nnew(context, T0 + 120, "tcp/445"), ==, 3);
    g_assert_cmpint(seen_since(context, "tcp/445"), ==, T0);
}

/* The script itself, run twice for one bucket as a retried write would. */
static gint64
run_script(redisContext *context, gint64 start, const char *const *sources)
{
    PsNewSourcesConfig config = {PS_KEYS_DEFAULT_PREFIX, HORIZON, 50000};
    g_autoptr(GArray) list = g_array_new(FALSE, FALSE, sizeof(PsAddress));
    PsRedisPipeline pipeline;
    g_autoptr(redisReply) reply = NULL;

    for (guint i = 0; sources[i] != NULL; i++) {
        g_autofree gchar *text = g_strconcat("198.51.100.", sources[i], NULL);
        PsAddress address;
        g_assert_true(ps_address_parse(text, &address));
        g_array_append_val(list, address);
    }
    ps_redis_pipeline_init(&pipeline, context);
    ps_new_sources_append(&pipeline, &config, STEP, start, "tcp/445", list);
    g_assert_cmpint(redisGetReply(context, (void **)&reply), ==, REDIS_OK);
    ps_redis_pipeline_clear(&pipeline);
    g_assert_cmpint(reply->type, ==, REDIS_REPLY_INTEGER); /* the sources new to it */
    return reply->integer;
}

static void
test_script_twice(Fixture *fixture, gconstpointer data)
{
    redisContext *context = fixture->context;

    (void)data;
    if (fixture->redis == NULL)
        return;
    g_assert_cmpint(run_script(context, T0, SOURCES("1")), ==, 1);
    g_assert_cmpint(nnew(context, T0, "tcp/445"), ==, ABSENT);
    g_assert_cmpint(run_script(context, T0 + 60, SOURCES("1", "2")), ==, 1);
    g_assert_cmpint(run_script(context, T0 + 120, SOURCES("2", "3", "4")), ==, 2);
    g_assert_cmpint(nnew(context, T0 + 120, "tcp/445"), ==, 2);
    /* the same bucket again, as a retried write: its sources are in the set, none is new */
    g_assert_cmpint(run_script(context, T0 + 120, SOURCES("2", "3", "4")), ==, 0);
    g_assert_cmpint(nnew(context, T0 + 120, "tcp/445"), ==, 2);
}

static void
test_set_deleted(Fixture *fixture, gconstpointer data)
{
    redisContext *context = fixture->context;
    PsStore *collector = fixture->stores[0];

    (void)data;
    if (fixture->redis == NULL)
        return;
    for (guint i = 0; i < 3; i++)
        collector_bucket(collector, T0 + 60 * i, 445, SOURCES("1", "2"));
    g_assert_cmpint(nnew(context, T0 + 120, "tcp/445"), ==, 0);
    /* as if the set had expired in an outage: everything would look new, so tracking
     * restarts at the next bucket and is immature for a horizon */
    g_assert_cmpint(integer_command(context, "DEL", "ps:seen:tcp/445"), ==, 1);
    for (guint i = 3; i < 6; i++)
        collector_bucket(collector, T0 + 60 * i, 445, SOURCES("1", "2", "3"));
    g_assert_cmpint(seen_since(context, "tcp/445"), ==, T0 + 180);
    g_assert_cmpint(nnew(context, T0 + 180, "tcp/445"), ==, ABSENT);
    g_assert_cmpint(nnew(context, T0 + 240, "tcp/445"), ==, ABSENT);
    g_assert_cmpint(nnew(context, T0 + 300, "tcp/445"), ==, 0);
    g_assert_cmpint(seen_since(context, "tcp/445@in"), ==, T0); /* its set was kept */
    g_assert_cmpint(nnew(context, T0 + 180, "tcp/445@in"), ==, 1);
}

static void
test_cap(Fixture *fixture, gconstpointer data)
{
    redisContext *context = fixture->context;
    PsStore *collector = fixture->stores[0];

    (void)data;
    if (fixture->redis == NULL)
        return;
    collector_bucket(collector, T0, 445, SOURCES("1", "2", "3", "4", "5", "6", "7", "8"));
    g_assert_cmpint(integer_command(context, "ZCARD", "ps:seen:tcp/445"), ==, 5);
    collector_bucket(collector, T0 + 60, 445, SOURCES("11", "12", "13"));
    g_assert_cmpint(integer_command(context, "ZCARD", "ps:seen:tcp/445"), ==, 5);
    /* the lowest scores go first: the three seen last stay */
    g_assert_cmpint(seen_score(context, "tcp/445", "11"), ==, T0 + 60);
    g_assert_cmpint(seen_score(context, "tcp/445", "12"), ==, T0 + 60);
    g_assert_cmpint(seen_score(context, "tcp/445", "13"), ==, T0 + 60);
}

/* Redis goes away while a mature bucket closes: the closing write, the script with it, waits
 * and is retried once Redis is back (from its dump, as a Redis with persistence), and counts
 * what it would have counted. */
static void
test_redis_down(Fixture *fixture, gconstpointer data)
{
    PsStore *collector = fixture->stores[0];
    PsFlushStats stats;
    GLogLevelFlags fatal;

    (void)data;
    if (fixture->redis == NULL)
        return;
    collector_bucket(collector, T0, 445, SOURCES("1"));
    collector_bucket(collector, T0 + 60, 445, SOURCES("2"));
    /* the flush thread warns of the outage (structured logging: the test's fatal handler
     * is not asked, the always-fatal mask is), which is what this test wants */
    fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_assert_true(ps_test_redis_stop(fixture->redis, TRUE));
    collector_add(collector, T0 + 120, 445, SOURCES("1", "2", "3"));
    g_assert_false(
        ps_store_close(collector, (gint64)(T0 + 150) * 1000, 1500)); /* held, not written */
    g_assert_true(ps_test_redis_restart(fixture->redis));
    g_assert_true(ps_flush_drain(ps_store_flusher(collector), CLOSE_TIMEOUT_MS));
    g_log_set_always_fatal(fatal);
    ps_flush_get_stats(ps_store_flusher(collector), &stats);
    g_assert_cmpuint(stats.failures, >, 0);
    g_assert_cmpuint(stats.dropped_batches, ==, 0);
    g_clear_pointer(&fixture->context, redisFree);
    fixture->context = ps_test_redis_connect(fixture->redis);
    /* .1 was last seen at T0 = start - horizon: new again; .3 new; .2 seen at T0 + 60 */
    g_assert_cmpint(nnew(fixture->context, T0 + 120, "tcp/445"), ==, 2);
}

int
main(int argc, char **argv)
{
    static const struct {
        const char *path;
        void (*test)(Fixture *, gconstpointer);
        guint max_members; /* 0: the default */
    } tests[] = {
        {"/new-sources/horizon", test_horizon, 0},
        {"/new-sources/unwatched", test_unwatched, 0},
        {"/new-sources/two-collectors", test_two_collectors, 0},
        {"/new-sources/script-twice", test_script_twice, 0},
        {"/new-sources/seen-set-deleted", test_set_deleted, 0},
        {"/new-sources/cap", test_cap, 5},
        {"/new-sources/redis-down", test_redis_down, 0},
    };

    g_test_init(&argc, &argv, NULL);
    /* as collector/main.c: a Redis that went away is a write error, not SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    for (guint i = 0; i < G_N_ELEMENTS(tests); i++)
        g_test_add(tests[i].path, Fixture, GUINT_TO_POINTER(tests[i].max_members), fixture_setup,
                   tests[i].test, fixture_teardown);
    return g_test_run();
}
