/* The alerter against a real redis-server holding three weeks of synthetic history (written by
 * ps-seed through the schema library): a scan wave on tcp/445 gives exactly one incident, at
 * the right time with the right numbers, and its resolution; the daily and weekly peaks, a
 * flash crowd on tcp/443, a single-source backup to tcp/445 and a collector outage followed by
 * a 1.5x recovery give none; a restart in the middle repeats nothing; Redis failing the
 * saving of the bucket that opens the incident (the connection cut before it got through, or
 * the reply lost after Redis applied it) neither loses nor repeats it; where the buckets count
 * sources new for a day, the incident shows them and the new-sources route changes nothing
 * but, at most, how soon it opens. */
#include "config.h"

#include "alerter.h"
#include "event.h"
#include "keys.h"
#include "redis-proxy.h"
#include "redis-server.h"
#include "redis.h"

#define END        1700006400LL /* a Tuesday, 00:00 UTC */
#define SCAN_START (END - 3 * 3600)
#define SCAN_LEN   1800
#define STEP       60

typedef struct {
    gchar *series;
    PsAlertEvent event;
} Seen;

static void
seen_free(Seen *seen)
{
    g_free(seen->series);
    g_free(seen);
}

static void
collect(const char *series, gboolean watched, const PsAlertEvent *event, const char *json,
        gpointer user_data)
{
    GPtrArray *events = user_data;
    Seen *seen = g_new0(Seen, 1);

    (void)watched;
    g_test_message("%s", json);
    seen->series = g_strdup(series);
    seen->event = *event;
    g_ptr_array_add(events, seen);
}

/* new_sources: series whose buckets count sources new for a day, or NULL (none). */
static PsTestRedis *
seeded_redis_counting(const char *new_sources)
{
    PsTestRedis *redis = ps_test_redis_start();
    g_autofree gchar *scan = g_strdup_printf("tcp/445@%lld+%d*8", SCAN_START, SCAN_LEN);
    g_autofree gchar *crowd = g_strdup_printf("crowd:tcp/443@%lld+3600*3", END - 8 * 3600);
    g_autofree gchar *backup = g_strdup_printf("backup:tcp/445@%lld+3600*1", END - 20 * 3600);
    g_autofree gchar *outage = g_strdup_printf("%lld+1200", END - 14 * 3600);
    g_autofree gchar *end = g_strdup_printf("%lld", END);
    const char *seed = g_getenv("PS_SEED");
    g_autoptr(GError) error = NULL;
    gint status = -1;
    const char *argv[] = {seed,       "--redis", NULL,
                          "--end",    end,       "--days",
                          "21",       "--ports", "tcp/445,tcp/443,udp/53,tcp/22,tcp/3389",
                          "--surge",  scan,      "--surge",
                          crowd,      "--surge", backup,
                          "--outage", outage,    "--new-sources",
                          new_sources, NULL};

    if (redis == NULL)
        return NULL;
    argv[2] = ps_test_redis_socket(redis);
    if (new_sources == NULL)
        argv[G_N_ELEMENTS(argv) - 3] = NULL; /* no --new-sources */
    g_assert_nonnull(seed);
    g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_cmpint(status, ==, 0);
    return redis;
}

static PsTestRedis *
seeded_redis(void)
{
    return seeded_redis_counting(NULL);
}

static void
alerter_config(PsAlerterConfig *config, gchar **watched)
{
    memset(config, 0, sizeof(*config));
    ps_detect_config_init(&config->detect);
    config->prefix = PS_KEYS_DEFAULT_PREFIX;
    config->step = STEP;
    config->watched = watched;
    config->min_sources = 20;
    config->min_flows = 200;
    config->max_series = 500;
    config->broad_scan_ports = 20;
}

static void
run_with(redisContext *redis, gboolean persist, gint64 after, gint64 until, GPtrArray *events,
         gboolean restore, gboolean new_sources_route)
{
    gchar *watched[] = {"tcp/445", "tcp/3389", "tcp/22", NULL};
    PsAlerterConfig config;
    g_autoptr(PsAlerter) alerter = NULL;
    g_autoptr(GError) error = NULL;
    gint64 last;

    alerter_config(&config, watched);
    config.detect.new_sources = new_sources_route;
    alerter = ps_alerter_new(&config, redis, persist, collect, events);
    if (restore) {
        g_assert_true(ps_alerter_restore(alerter, &after, &error));
        g_assert_no_error(error);
        g_assert_cmpint(after, >, 0);
    }
    g_assert_true(ps_alerter_warm_up(alerter, after + STEP, &error));
    g_assert_true(ps_alerter_run(alerter, after, until, &last, &error));
    g_assert_no_error(error);
}

static void
run(redisContext *redis, gboolean persist, gint64 after, gint64 until, GPtrArray *events,
    gboolean restore)
{
    run_with(redis, persist, after, until, events, restore, FALSE);
}

static void
test_scan_and_hard_negatives(void)
{
    g_autoptr(PsTestRedis) server = seeded_redis();
    g_autoptr(redisContext) redis = NULL;
    g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func((GDestroyNotify)seen_free);
    const Seen *open, *resolve;

    if (server == NULL)
        return;
    redis = ps_test_redis_connect(server);
    /* 21 hours: the backup (20 h before the end), the outage (14 h), the crowd (8 h), the scan */
    run(redis, FALSE, END - 21 * 3600, END, events, FALSE);
    g_assert_cmpuint(events->len, ==, 2);
    open = g_ptr_array_index(events, 0);
    resolve = g_ptr_array_index(events, 1);
    g_assert_cmpstr(open->series, ==, "tcp/445");
    g_assert_cmpint(open->event.kind, ==, PS_EVENT_OPEN);
    /* found within 3 buckets of the start */
    g_assert_cmpint(open->event.bucket, >=, SCAN_START);
    g_assert_cmpint(open->event.bucket, <=, SCAN_START + 3 * STEP);
    g_assert_cmpint(open->event.severity, >=, PS_SEVERITY_MAJOR);
    g_assert_true(open->event.scan_shaped);
    g_assert_false(open->event.young);
    /* eight times the sources of the same minutes on previous weekdays */
    g_assert_cmpfloat(open->event.evaluation.score[PS_METRIC_SOURCES].ratio, >, 4);
    g_assert_cmpfloat(open->event.evaluation.sample.value[PS_METRIC_SOURCES], >,
                      4 * open->event.evaluation.baseline[PS_METRIC_SOURCES].expected);
    g_assert_cmpstr(resolve->series, ==, "tcp/445");
    g_assert_cmpint(resolve->event.kind, ==, PS_EVENT_RESOLVE);
    g_assert_cmpint(resolve->event.opened_at, ==, open->event.opened_at);
    /* resolved after the scan ends and a run of quiet buckets, not before */
    g_assert_cmpint(resolve->event.bucket, >=, SCAN_START + SCAN_LEN);
    g_assert_cmpint(resolve->event.bucket, <=, SCAN_START + SCAN_LEN + 15 * STEP);
    g_assert_cmpfloat(resolve->event.peak_ratio, >, 5);
}

/* The watched ports' buckets count sources new for a day (30% of the usual ones; the scan's
 * are all new), as the collector writes them: the scan's incident shows them, and the
 * new-sources route opens the same one incident no later, and nothing on the flash crowd
 * (half of its clients new, but not a scan). Shorter windows than the test above: under
 * ASan every simulated hour costs seconds. */
static void
test_new_sources(void)
{
    g_autoptr(PsTestRedis) server = seeded_redis_counting("tcp/445,tcp/22,tcp/3389");
    g_autoptr(redisContext) redis = NULL;
    g_autoptr(GPtrArray) off = g_ptr_array_new_with_free_func((GDestroyNotify)seen_free);
    g_autoptr(GPtrArray) on = g_ptr_array_new_with_free_func((GDestroyNotify)seen_free);
    const PsEvaluation *open;

    if (server == NULL)
        return;
    redis = ps_test_redis_connect(server);
    run_with(redis, FALSE, END - 4 * 3600, END, off, FALSE, FALSE);
    g_assert_cmpuint(off->len, ==, 2);
    open = &((const Seen *)g_ptr_array_index(off, 0))->event.evaluation;
    g_assert_true(ps_metric_known(&open->sample, PS_METRIC_NEW));
    /* 8x the sources, the 7 in 8 that came with the scan new: ~0.3 + 7 of the usual count */
    g_assert_cmpfloat(open->sample.value[PS_METRIC_NEW], >,
                      0.85 * open->sample.value[PS_METRIC_SOURCES]);
    g_assert_cmpfloat(open->score[PS_METRIC_NEW].ratio, >, 10);

    run_with(redis, FALSE, END - 9 * 3600, END, on, FALSE, TRUE);
    g_assert_cmpuint(on->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        const Seen *a = g_ptr_array_index(off, i), *b = g_ptr_array_index(on, i);
        g_assert_cmpstr(b->series, ==, a->series);
        g_assert_cmpint(b->event.kind, ==, a->event.kind);
    }
    g_assert_cmpint(((const Seen *)g_ptr_array_index(on, 0))->event.bucket, <=,
                    ((const Seen *)g_ptr_array_index(off, 0))->event.bucket);
}

static guint
stream_length(redisContext *redis)
{
    redisReply *reply = ps_test_redis_command(redis, "XLEN", "ps:alerts", NULL);
    guint len = (guint)reply->integer;

    freeReplyObject(reply);
    return len;
}

static void
test_restart_repeats_nothing(void)
{
    g_autoptr(PsTestRedis) server = seeded_redis();
    g_autoptr(redisContext) redis = NULL;
    g_autoptr(GPtrArray) first = g_ptr_array_new_with_free_func((GDestroyNotify)seen_free);
    g_autoptr(GPtrArray) second = g_ptr_array_new_with_free_func((GDestroyNotify)seen_free);
    redisReply *state;

    if (server == NULL)
        return;
    redis = ps_test_redis_connect(server);
    /* the first run stops in the middle of the incident */
    run(redis, TRUE, SCAN_START - 30 * STEP, SCAN_START + 10 * STEP, first, FALSE);
    g_assert_cmpuint(first->len, ==, 1);
    g_assert_cmpint(((Seen *)g_ptr_array_index(first, 0))->event.kind, ==, PS_EVENT_OPEN);
    state = ps_test_redis_command(redis, "HGET", "ps:alert:tcp/445", "phase", NULL);
    g_assert_cmpstr(state->str, ==, "open");
    freeReplyObject(state);
    /* a new process: restores the incident and the last bucket, goes on */
    run(redis, TRUE, 0, SCAN_START + SCAN_LEN + 30 * STEP, second, TRUE);
    g_assert_cmpuint(second->len, ==, 1);
    g_assert_cmpint(((Seen *)g_ptr_array_index(second, 0))->event.kind, ==, PS_EVENT_RESOLVE);
    g_assert_cmpint(((Seen *)g_ptr_array_index(second, 0))->event.opened_at, ==,
                    ((Seen *)g_ptr_array_index(first, 0))->event.opened_at);
    g_assert_cmpuint(stream_length(redis), ==, 2);
    /* resolved and cooling down: the state stays until the cooldown is over */
    state = ps_test_redis_command(redis, "HGET", "ps:alert:tcp/445", "phase", NULL);
    g_assert_cmpstr(state->str, ==, "cooldown");
    freeReplyObject(state);
}

/* A connection through a proxy that can fail it, with a short timeout for a lost reply. */
static redisContext *
connect_via(const char *path)
{
    PsRedisAddress address = {.unix_path = (gchar *)path};
    g_autoptr(GError) error = NULL;
    redisContext *redis = ps_redis_connect(&address, 1000, &error);

    g_assert_no_error(error);
    return redis;
}

/* The saving of the bucket that opens the incident (the one with an XADD) fails; the alerter
 * reconnects, as its main loop does, and goes on: one open and one resolve, in the stream and
 * reported, and the incident's state saved. */
static void
saving_fails(gboolean cut)
{
    gchar *watched[] = {"tcp/445", "tcp/3389", "tcp/22", NULL};
    g_autoptr(PsTestRedis) server = seeded_redis();
    g_autoptr(PsTestProxy) proxy = NULL;
    g_autoptr(redisContext) redis = NULL;
    g_autoptr(redisContext) check = NULL;
    g_autoptr(PsAlerter) alerter = NULL;
    g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func((GDestroyNotify)seen_free);
    g_autoptr(GError) error = NULL;
    g_autofree gchar *path = NULL;
    PsAlerterConfig config;
    gint64 last = SCAN_START - 30 * STEP;
    redisReply *state;

    if (server == NULL)
        return;
    path = g_build_filename(ps_test_redis_dir(server), "proxy.sock", NULL);
    proxy = ps_test_proxy_new(ps_test_redis_socket(server), path);
    redis = connect_via(path);
    alerter_config(&config, watched);
    alerter = ps_alerter_new(&config, redis, TRUE, collect, events);
    g_assert_true(ps_alerter_warm_up(alerter, last + STEP, &error));
    if (cut)
        ps_test_proxy_cut_before(proxy, "XADD");
    else
        ps_test_proxy_lose_replies_after(proxy, "XADD");
    g_assert_false(ps_alerter_run(alerter, last, SCAN_START + 10 * STEP, &last, &error));
    g_test_message("failed after bucket %" G_GINT64_FORMAT ": %s", last, error->message);
    g_clear_error(&error);
    g_assert_cmpuint(ps_test_proxy_failed(proxy), ==, 1);
    g_assert_cmpuint(events->len, ==, 0); /* nothing reported before it is saved */

    g_clear_pointer(&redis, redisFree);
    redis = connect_via(path);
    ps_alerter_set_redis(alerter, redis);
    g_assert_true(ps_alerter_run(alerter, last, SCAN_START + SCAN_LEN + 30 * STEP, &last, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(events->len, ==, 2);
    g_assert_cmpint(((Seen *)g_ptr_array_index(events, 0))->event.kind, ==, PS_EVENT_OPEN);
    g_assert_cmpint(((Seen *)g_ptr_array_index(events, 1))->event.kind, ==, PS_EVENT_RESOLVE);
    check = ps_test_redis_connect(server);
    g_assert_cmpuint(stream_length(check), ==, 2);
    state = ps_test_redis_command(check, "HGET", "ps:alert:tcp/445", "phase", NULL);
    g_assert_cmpstr(state->str, ==, "cooldown");
    freeReplyObject(state);
}

static void
test_saving_cut(void)
{
    saving_fails(TRUE);
}

static void
test_saving_reply_lost(void)
{
    saving_fails(FALSE);
}

/* 25 ports scanned at once by the same source: one broad-scan incident, not 25. */
static void
test_broad_scan(void)
{
    g_autoptr(PsTestRedis) server = ps_test_redis_start();
    g_autoptr(redisContext) redis = NULL;
    g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func((GDestroyNotify)seen_free);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) ports = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    gint status = -1;

    if (server == NULL)
        return;
    for (guint i = 0; i < 25; i++)
        g_string_append_printf(ports, "%stcp/%u", i > 0 ? "," : "", 8000 + i);
    g_ptr_array_add(argv, g_strdup(g_getenv("PS_SEED")));
    g_ptr_array_add(argv, g_strdup("--redis"));
    g_ptr_array_add(argv, g_strdup(ps_test_redis_socket(server)));
    g_ptr_array_add(argv, g_strdup_printf("--end=%lld", END));
    g_ptr_array_add(argv, g_strdup("--days=8"));
    g_ptr_array_add(argv, g_strdup_printf("--ports=%s", ports->str));
    for (guint i = 0; i < 25; i++)
        g_ptr_array_add(argv, g_strdup_printf("--surge=tcp/%u@%lld+600*10", 8000 + i, SCAN_START));
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (gchar **)argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                               NULL, NULL, NULL, &status, &error));
    g_assert_cmpint(status, ==, 0);
    redis = ps_test_redis_connect(server);
    run(redis, FALSE, SCAN_START - 20 * STEP, SCAN_START + 40 * STEP, events, FALSE);
    /* ports that crossed their thresholds a bucket before the others may have opened on their
     * own; from the broad scan on, everything is said once, for all ports */
    g_assert_cmpuint(events->len, >=, 2);
    g_assert_cmpuint(events->len, <=, 2 + 20);
    for (guint i = 0; i + 2 < events->len; i++) {
        g_assert_cmpint(((Seen *)g_ptr_array_index(events, i))->event.kind, ==, PS_EVENT_OPEN);
        g_assert_cmpstr(((Seen *)g_ptr_array_index(events, i))->series, !=, PS_BROAD_SCAN_SERIES);
    }
    g_assert_cmpstr(((Seen *)g_ptr_array_index(events, events->len - 2))->series, ==,
                    PS_BROAD_SCAN_SERIES);
    g_assert_cmpint(((Seen *)g_ptr_array_index(events, events->len - 2))->event.kind, ==,
                    PS_EVENT_OPEN);
    g_assert_cmpstr(((Seen *)g_ptr_array_index(events, events->len - 1))->series, ==,
                    PS_BROAD_SCAN_SERIES);
    g_assert_cmpint(((Seen *)g_ptr_array_index(events, events->len - 1))->event.kind, ==,
                    PS_EVENT_RESOLVE);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/alerter/scan-and-hard-negatives", test_scan_and_hard_negatives);
    g_test_add_func("/alerter/restart-repeats-nothing", test_restart_repeats_nothing);
    g_test_add_func("/alerter/broad-scan", test_broad_scan);
    g_test_add_func("/alerter/new-sources", test_new_sources);
    g_test_add_func("/alerter/saving-cut", test_saving_cut);
    g_test_add_func("/alerter/saving-reply-lost", test_saving_reply_lost);
    return g_test_run();
}
