/* The portsurge CLI against a real redis-server seeded through the schema library (ps-seed
 * writes nine days of minute buckets and hour roll-ups with a scan wave on tcp/445; the
 * health hashes and alert events are written here with keys.c and state.c). Every command's
 * output is parsed back and its numbers compared with what Redis holds. */
#include "config.h"

#include <cairo.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>

#include "cli-run.h"
#include "event.h"
#include "keys.h"
#include "redis-server.h"
#include "redis.h"
#include "state.h"

#define END        1700006400LL /* 2023-11-15T00:00:00Z */
#define DAYS       9
#define SCAN_START (END - 3 * 3600)
#define SCAN_LEN   1800
#define STEP       60
#define SEEN       1700006390LL /* the exporter's and collector's last activity */
#define STARTED    1700000000LL

typedef struct {
    PsTestRedis *server;
    redisContext *redis;
    const char *socket;
} Seeded;

/* ---- seeding ---- */

static void
run_seed(PsTestRedis *server, const char *days, const char *end)
{
    g_autofree gchar *scan = g_strdup_printf("tcp/445@%lld+%d*8", SCAN_START, SCAN_LEN);
    const char *seed = g_getenv("PS_SEED");
    const char *argv[] = {
        seed, "--redis", ps_test_redis_socket(server),    "--end",   end,  "--days",
        days, "--ports", "tcp/445,tcp/443,udp/53,tcp/22", "--surge", scan, NULL};
    g_autoptr(GError) error = NULL;
    gint status = -1;

    g_assert_nonnull(seed);
    g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_cmpint(status, ==, 0);
}

/* Asserts Redis accepted a command of ps_test_redis_command and frees its reply. */
static void
command_ok(redisReply *reply)
{
    g_assert_cmpint(reply->type, !=, REDIS_REPLY_ERROR);
    freeReplyObject(reply);
}

static void
seed_health(redisContext *redis)
{
    g_autofree gchar *schema = ps_key_schema(PS_KEYS_DEFAULT_PREFIX);
    g_autofree gchar *collector = ps_key_collector(PS_KEYS_DEFAULT_PREFIX, "edge-1");
    g_autofree gchar *exporter = ps_key_exporter(PS_KEYS_DEFAULT_PREFIX, "192.0.2.1");

    command_ok(ps_test_redis_command(redis, "SET", schema, PS_SCHEMA_VERSION, NULL));
    command_ok(ps_test_redis_command(redis, "HSET", collector, "version", "0.1.0", "started",
                                     "1700000000", "last_flush", "1700006390", "last_closed_bucket",
                                     "1700006280", NULL));
    /* 6390 s after the collector started: 639000 records are 100 per second */
    command_ok(ps_test_redis_command(
        redis, "HSET", exporter, "last_seen", "1700006390", "packets", "21300", "records", "639000",
        "errors", "3", "unknown_templates", "2", "sequence_gaps", "4", "sequence_lost", "1000",
        "clock_skewed", "0", "sampling", "10", "collector", "edge-1", NULL));
    command_ok(ps_test_redis_command(redis, "HSET", "ps:alerter", "last_bucket", "1700006340",
                                     "heartbeat", "1700006395", "version", "0.1.0", NULL));
}

/* An event as the alerter writes it (state.c, event.c): sources value and expected. */
static void
append_event(PsRedisPipeline *pipeline, const char *series, PsEventKind kind, gint64 bucket,
             double sources, double expected)
{
    g_autoptr(GString) json = g_string_new(NULL);
    PsAlertEvent event;

    memset(&event, 0, sizeof(event));
    event.kind = kind;
    event.severity = PS_SEVERITY_MAJOR;
    event.bucket = bucket;
    event.opened_at = SCAN_START + 120;
    event.evaluation.sample.value[PS_METRIC_SOURCES] = sources;
    event.evaluation.baseline[PS_METRIC_SOURCES].expected = expected;
    event.evaluation.score[PS_METRIC_SOURCES].ratio = (sources + 5) / (expected + 5);
    event.evaluation.score[PS_METRIC_SOURCES].z = 7.5;
    ps_event_json(series, TRUE, &event, json);
    g_string_truncate(json, json->len - 1); /* the line's newline */
    ps_state_append_event(pipeline, PS_KEYS_DEFAULT_PREFIX, series, json->str, &event);
}

static void
seed_alerts(redisContext *redis)
{
    PsRedisPipeline pipeline;
    g_autoptr(GError) error = NULL;

    ps_redis_pipeline_init(&pipeline, redis);
    append_event(&pipeline, "tcp/445", PS_EVENT_OPEN, SCAN_START + 120, 210, 24);
    append_event(&pipeline, "tcp/445", PS_EVENT_RESOLVE, SCAN_START + SCAN_LEN + 540, 22, 23);
    append_event(&pipeline, "udp/53", PS_EVENT_OPEN, END - 86400, 90, 20);
    g_assert_true(ps_redis_pipeline_finish(&pipeline, NULL, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(pipeline.reply_errors, ==, 0);
    ps_redis_pipeline_clear(&pipeline);
}

static Seeded *
seeded_new(const char *days, gboolean health)
{
    Seeded *seeded = g_new0(Seeded, 1);
    g_autofree gchar *end = g_strdup_printf("%lld", END);

    seeded->server = ps_test_redis_start();
    if (seeded->server == NULL) {
        g_free(seeded);
        return NULL;
    }
    run_seed(seeded->server, days, end);
    seeded->redis = ps_test_redis_connect(seeded->server);
    seeded->socket = ps_test_redis_socket(seeded->server);
    if (health) {
        seed_health(seeded->redis);
        seed_alerts(seeded->redis);
    }
    return seeded;
}

static void
seeded_free(Seeded *seeded)
{
    if (seeded == NULL)
        return;
    redisFree(seeded->redis);
    ps_test_redis_free(seeded->server);
    g_free(seeded);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Seeded, seeded_free)

/* The nine-day history every read-only test shares: seeding it once keeps the suite short. */
static Seeded *shared_history;

static Seeded *
shared(void)
{
    if (shared_history == NULL)
        shared_history = seeded_new(G_STRINGIFY(DAYS), TRUE);
    return shared_history;
}

/* ---- reading back ---- */

static double
hget(redisContext *redis, guint step, gint64 start, const char *series, const char *metric)
{
    g_autofree gchar *key = ps_key_bucket(PS_KEYS_DEFAULT_PREFIX, step, start);
    g_autofree gchar *field = ps_field(series, metric);

    return (double)ps_test_redis_hget_int(redis, key, field);
}

static gint64
parse_time(const char *text)
{
    g_autoptr(GDateTime) time = g_date_time_new_from_iso8601(text, NULL);

    g_assert_nonnull(time);
    return g_date_time_to_unix(time);
}

static double
cell_number(GPtrArray *rows, guint row, guint column)
{
    gchar **cells = g_ptr_array_index(rows, row);
    gchar *end = NULL;
    double value;

    g_assert_cmpuint(g_strv_length(cells), >, column);
    value = g_ascii_strtod(cells[column], &end);
    g_assert_true(end != cells[column] && *end == '\0');
    return value;
}

static const char *
cell_text(GPtrArray *rows, guint row, guint column)
{
    gchar **cells = g_ptr_array_index(rows, row);

    g_assert_cmpuint(g_strv_length(cells), >, column);
    return cells[column];
}

static gchar *
iso(gint64 time)
{
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(time);

    return g_date_time_format(when, "%Y-%m-%dT%H:%M:%SZ");
}

/* Runs a listing with --format csv and parses it; asserts exit status 0. */
static GPtrArray *run_csv(const char *socket, const char *first, ...) G_GNUC_NULL_TERMINATED;

static GPtrArray *
run_csv(const char *socket, const char *first, ...)
{
    const char *args[PS_CLI_RUN_MAX_ARGS];
    guint n = 0;
    va_list list;
    g_autoptr(PsCliRun) run = NULL;

    va_start(list, first);
    for (const char *arg = first; arg != NULL; arg = va_arg(list, const char *)) {
        g_assert_cmpuint(n, <, PS_CLI_RUN_MAX_ARGS - 3);
        args[n++] = arg;
    }
    va_end(list);
    args[n++] = "--format";
    args[n++] = "csv";
    args[n] = NULL;
    run = ps_cli_runv(socket, args);
    g_assert_cmpint(run->status, ==, 0);
    return ps_cli_csv_parse(run->out);
}

/* ---- series ---- */

/* Minute points: one per bucket, each the bucket's own value; the baseline columns agree with
 * each other, the surge stands out and the quiet minutes do not. */
static void
test_series_minutes(void)
{
    Seeded *seeded = shared();
    g_autofree gchar *since = NULL, *until = NULL;
    g_autoptr(GPtrArray) rows = NULL;
    guint time, flows, expected, ratio, z;

    if (seeded == NULL)
        return;
    since = iso(SCAN_START - 600);
    until = iso(SCAN_START + 600);
    rows = run_csv(seeded->socket, "series", "tcp/445", "--since", since, "--until", until,
                   "--step", "1m", "--metric", "flows", NULL);
    time = ps_cli_csv_column(rows, "time");
    flows = ps_cli_csv_column(rows, "flows");
    expected = ps_cli_csv_column(rows, "expected");
    ratio = ps_cli_csv_column(rows, "ratio");
    z = ps_cli_csv_column(rows, "z");
    g_assert_cmpuint(rows->len, ==, 1 + 20);
    for (guint r = 1; r < rows->len; r++) {
        gint64 t = SCAN_START - 600 + (gint64)(r - 1) * STEP;
        double value = cell_number(rows, r, flows), e = cell_number(rows, r, expected);
        g_assert_cmpint(parse_time(cell_text(rows, r, time)), ==, t);
        g_assert_cmpfloat(value, ==, hget(seeded->redis, STEP, t, "tcp/445", "flows"));
        g_assert_cmpfloat_with_epsilon(cell_number(rows, r, ratio), (value + 5) / (e + 5), 0.011);
        if (t >= SCAN_START)
            g_assert_cmpfloat(cell_number(rows, r, z), >, 4);
        else
            g_assert_cmpfloat(fabs(cell_number(rows, r, z)), <, 4);
        /* the normal level of the port: 3 flows per source, 10 to 60 sources a minute */
        g_assert_cmpfloat(e, >, 30);
        g_assert_cmpfloat(e, <, 200);
    }
}

/* Hour points come from the hourly roll-ups; day points add up their hours (counters) or take
 * the largest hour (distinct sources). */
static void
test_series_hours_and_days(void)
{
    Seeded *seeded = shared();
    g_autofree gchar *day_ago = iso(END - 86400), *end = iso(END),
                     *three_days = iso(END - 3 * 86400);
    g_autoptr(GPtrArray) hours = NULL, days = NULL;

    if (seeded == NULL)
        return;
    hours = run_csv(seeded->socket, "series", "udp/53", "--since", day_ago, "--until", end,
                    "--step", "1h", "--metric", "sources", NULL);
    g_assert_cmpuint(hours->len, ==, 1 + 24);
    for (guint r = 1; r < hours->len; r++) {
        gint64 t = END - 86400 + (gint64)(r - 1) * 3600;
        g_assert_cmpint(parse_time(cell_text(hours, r, 0)), ==, t);
        g_assert_cmpfloat(cell_number(hours, r, 1), ==,
                          hget(seeded->redis, 3600, t, "udp/53", "nsrc"));
    }
    days = run_csv(seeded->socket, "series", "udp/53", "--since", three_days, "--until", end,
                   "--step", "1d", "--metric", "flows", NULL);
    g_assert_cmpuint(days->len, ==, 1 + 3);
    for (guint r = 1; r < days->len; r++) {
        gint64 day = END - 3 * 86400 + (gint64)(r - 1) * 86400;
        double sum = 0;
        for (gint64 t = day; t < day + 86400; t += 3600)
            sum += hget(seeded->redis, 3600, t, "udp/53", "flows");
        g_assert_cmpint(parse_time(cell_text(days, r, 0)), ==, day);
        g_assert_cmpfloat(cell_number(days, r, 1), ==, sum);
    }
}

/* JSON carries the very numbers of the CSV. */
static void
test_series_json_matches_csv(void)
{
    Seeded *seeded = shared();
    g_autofree gchar *since = iso(SCAN_START - 300), *until = iso(SCAN_START + 300);
    g_autoptr(GPtrArray) rows = NULL;
    g_autoptr(PsCliRun) run = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    JsonArray *array;
    const char *columns[] = {"flows", "expected", "ratio", "z"};

    if (seeded == NULL)
        return;
    rows = run_csv(seeded->socket, "series", "tcp/445", "--since", since, "--until", until,
                   "--step", "1m", NULL);
    run = ps_cli_run(seeded->socket, "series", "tcp/445", "--since", since, "--until", until,
                     "--step", "1m", "--format", "json", NULL);
    g_assert_cmpint(run->status, ==, 0);
    g_assert_true(json_parser_load_from_data(parser, run->out, -1, &error));
    g_assert_no_error(error);
    array = json_node_get_array(json_parser_get_root(parser));
    g_assert_cmpuint(json_array_get_length(array), ==, rows->len - 1);
    for (guint r = 1; r < rows->len; r++) {
        JsonObject *object = json_array_get_object_element(array, r - 1);
        g_assert_cmpstr(json_object_get_string_member(object, "time"), ==, cell_text(rows, r, 0));
        for (guint c = 0; c < G_N_ELEMENTS(columns); c++)
            g_assert_cmpfloat(json_object_get_double_member(object, columns[c]), ==,
                              cell_number(rows, r, ps_cli_csv_column(rows, columns[c])));
    }
}

/* series fills the baseline's history from its own range; top reads it with the alerter's
 * history.c. For one bucket both must give the same expected value and score. */
static void
test_series_baseline_is_the_alerters(void)
{
    Seeded *seeded = shared();
    gint64 t = SCAN_START + 300;
    g_autofree gchar *at = iso(t), *until = iso(t + STEP);
    g_autoptr(GPtrArray) series = NULL, top = NULL;
    guint row = 0;

    if (seeded == NULL)
        return;
    series = run_csv(seeded->socket, "series", "tcp/445", "--since", at, "--until", until, "--step",
                     "1m", "--metric", "sources", NULL);
    top = run_csv(seeded->socket, "top", "--at", at, "--window", "1m", "--by", "sources", NULL);
    g_assert_cmpuint(series->len, ==, 2);
    for (guint r = 1; r < top->len && row == 0; r++)
        if (g_str_equal(cell_text(top, r, ps_cli_csv_column(top, "series")), "tcp/445") &&
            g_str_equal(cell_text(top, r, 0), "busiest"))
            row = r;
    g_assert_cmpuint(row, >, 0);
    g_assert_cmpfloat(cell_number(series, 1, ps_cli_csv_column(series, "sources")), ==,
                      cell_number(top, row, ps_cli_csv_column(top, "sources")));
    g_assert_cmpfloat(cell_number(series, 1, ps_cli_csv_column(series, "expected")), ==,
                      cell_number(top, row, ps_cli_csv_column(top, "expected")));
    g_assert_cmpfloat(cell_number(series, 1, ps_cli_csv_column(series, "z")), ==,
                      cell_number(top, row, ps_cli_csv_column(top, "z")));
}

/* ---- top ---- */

static double
window_sum(redisContext *redis, gint64 until, guint buckets, const char *series, const char *metric)
{
    double sum = 0;

    for (guint i = 1; i <= buckets; i++)
        sum += hget(redis, STEP, until - (gint64)i * STEP, series, metric);
    return sum;
}

/* The busiest list is ordered by the window's flows, each the sum of its 15 buckets; the scan
 * tops both lists, and only it moved. */
static void
test_top_order(void)
{
    Seeded *seeded = shared();
    gint64 at = SCAN_START + 900;
    g_autofree gchar *at_text = iso(at);
    g_autoptr(GPtrArray) rows = NULL;
    guint section, series, flows, z;
    double previous = G_MAXDOUBLE;
    guint busiest = 0, movers = 0;

    if (seeded == NULL)
        return;
    rows = run_csv(seeded->socket, "top", "--at", at_text, "--window", "15m", NULL);
    section = ps_cli_csv_column(rows, "section");
    series = ps_cli_csv_column(rows, "series");
    flows = ps_cli_csv_column(rows, "flows");
    z = ps_cli_csv_column(rows, "z");
    for (guint r = 1; r < rows->len; r++) {
        const char *name = cell_text(rows, r, series);
        double value = cell_number(rows, r, flows);
        g_assert_cmpfloat(value, ==, window_sum(seeded->redis, at + STEP, 15, name, "flows"));
        if (g_str_equal(cell_text(rows, r, section), "busiest")) {
            g_assert_cmpfloat(value, <=, previous);
            previous = value;
            if (busiest++ == 0)
                g_assert_cmpstr(name, ==, "tcp/445");
        } else {
            g_assert_cmpstr(cell_text(rows, r, section), ==, "movers");
            if (movers++ == 0) {
                g_assert_cmpstr(name, ==, "tcp/445");
                g_assert_cmpfloat(cell_number(rows, r, z), >, 8);
            } else {
                g_assert_cmpfloat(fabs(cell_number(rows, r, z)), <, 6);
            }
        }
    }
    g_assert_cmpuint(busiest, ==, 4);
    g_assert_cmpuint(movers, ==, 4);
}

/* --by sources ranks by distinct sources: the largest minute of the window; --limit cuts. */
static void
test_top_by_sources(void)
{
    Seeded *seeded = shared();
    gint64 at = END - 3600;
    g_autofree gchar *at_text = iso(at);
    g_autoptr(GPtrArray) rows = NULL;

    if (seeded == NULL)
        return;
    rows = run_csv(seeded->socket, "top", "--at", at_text, "--window", "5m", "--by", "sources",
                   "--limit", "2", NULL);
    g_assert_cmpuint(rows->len, ==, 1 + 2 + 2);
    for (guint r = 1; r < rows->len; r++) {
        const char *name = cell_text(rows, r, ps_cli_csv_column(rows, "series"));
        double largest = 0;
        for (gint64 t = at - 4 * STEP; t <= at; t += STEP)
            largest = MAX(largest, hget(seeded->redis, STEP, t, name, "nsrc"));
        g_assert_cmpfloat(cell_number(rows, r, ps_cli_csv_column(rows, "sources")), ==, largest);
    }
}

/* The table for people: titled sections, aligned columns, and the sparkline under a series. */
static void
test_table(void)
{
    Seeded *seeded = shared();
    g_autofree gchar *at = iso(SCAN_START + 600), *since = iso(SCAN_START - 600);
    g_autofree gchar *until = iso(SCAN_START + 1200);
    g_autoptr(PsCliRun) top = NULL, series = NULL;
    g_auto(GStrv) lines = NULL;
    guint n;

    if (seeded == NULL)
        return;
    top = ps_cli_run(seeded->socket, "top", "--at", at, "--limit", "2", NULL);
    g_assert_cmpint(top->status, ==, 0);
    g_assert_true(g_str_has_prefix(top->out, "Busiest ports by flows, "));
    g_assert_nonnull(strstr(top->out, "\nBiggest movers against their baseline"));
    g_assert_nonnull(strstr(top->out, "\n   1  tcp/445"));
    series = ps_cli_run(seeded->socket, "series", "tcp/445", "--since", since, "--until", until,
                        "--step", "1m", NULL);
    g_assert_cmpint(series->status, ==, 0);
    lines = g_strsplit(series->out, "\n", -1);
    n = g_strv_length(lines);
    g_assert_cmpuint(n, ==, 1 + 30 + 1 + 2 + 1);
    g_assert_true(g_str_has_prefix(lines[0], "time"));
    g_assert_true(g_str_has_prefix(lines[n - 3], "tcp/445 flows, 30 points of 60 s, max "));
    /* ten quiet minutes low, the surge at the top */
    g_assert_cmpuint(g_utf8_strlen(lines[n - 2], -1), ==, 30);
    g_assert_nonnull(strstr(g_utf8_offset_to_pointer(lines[n - 2], 10), "█"));
    *g_utf8_offset_to_pointer(lines[n - 2], 10) = '\0';
    g_assert_null(strstr(lines[n - 2], "█"));
    g_assert_null(strstr(lines[n - 2], "▇"));
}

/* ---- status, exporters, alerts ---- */

static void
test_status(void)
{
    Seeded *seeded = shared();
    g_autoptr(GPtrArray) rows = NULL;
    g_autofree gchar *oldest = iso(END - DAYS * 86400), *newest = iso(END - STEP);
    gboolean collector = FALSE, alerter = FALSE, minutes = FALSE;

    if (seeded == NULL)
        return;
    rows = run_csv(seeded->socket, "status", NULL);
    for (guint r = 1; r < rows->len; r++) {
        const char *component = cell_text(rows, r, 0), *name = cell_text(rows, r, 1);
        if (g_str_equal(component, "redis"))
            g_assert_true(g_str_has_prefix(cell_text(rows, r, 5), "schema 1"));
        if (g_str_equal(component, "collector")) {
            collector = TRUE;
            g_assert_cmpstr(name, ==, "edge-1");
            g_assert_cmpstr(cell_text(rows, r, 2), ==, "0.1.0");
            g_assert_cmpint(parse_time(cell_text(rows, r, 3)), ==, SEEN);
        }
        if (g_str_equal(component, "alerter")) {
            alerter = TRUE;
            g_assert_cmpstr(cell_text(rows, r, 2), ==, "0.1.0");
            g_assert_cmpint(parse_time(cell_text(rows, r, 3)), ==, 1700006395);
        }
        if (g_str_equal(name, "minute buckets")) {
            minutes = TRUE;
            g_assert_cmpstr(cell_text(rows, r, 3), ==, newest);
            g_assert_nonnull(strstr(cell_text(rows, r, 5), oldest));
        }
    }
    g_assert_true(collector && alerter && minutes);
}

static void
test_exporters(void)
{
    Seeded *seeded = shared();
    g_autoptr(GPtrArray) rows = NULL;

    if (seeded == NULL)
        return;
    rows = run_csv(seeded->socket, "exporters", NULL);
    g_assert_cmpuint(rows->len, ==, 2);
    g_assert_cmpstr(cell_text(rows, 1, ps_cli_csv_column(rows, "exporter")), ==, "192.0.2.1");
    g_assert_cmpstr(cell_text(rows, 1, ps_cli_csv_column(rows, "collector")), ==, "edge-1");
    g_assert_cmpfloat(cell_number(rows, 1, ps_cli_csv_column(rows, "records")), ==, 639000);
    g_assert_cmpfloat(cell_number(rows, 1, ps_cli_csv_column(rows, "records_per_s")), ==, 100);
    g_assert_cmpfloat(cell_number(rows, 1, ps_cli_csv_column(rows, "lost")), ==, 1000);
    g_assert_cmpfloat(cell_number(rows, 1, ps_cli_csv_column(rows, "loss_pct")), ==, 0.16);
    g_assert_cmpfloat(cell_number(rows, 1, ps_cli_csv_column(rows, "errors")), ==, 3);
    g_assert_cmpfloat(cell_number(rows, 1, ps_cli_csv_column(rows, "sampling")), ==, 10);
}

static void
test_alerts(void)
{
    Seeded *seeded = shared();
    g_autofree gchar *since = iso(END - 2 * 86400), *until = iso(END),
                     *recent = iso(END - 6 * 3600);
    g_autoptr(GPtrArray) all = NULL, port = NULL, late = NULL;

    if (seeded == NULL)
        return;
    all = run_csv(seeded->socket, "alerts", "--since", since, "--until", until, NULL);
    g_assert_cmpuint(all->len, ==, 1 + 3);
    g_assert_cmpstr(cell_text(all, 1, ps_cli_csv_column(all, "series")), ==, "tcp/445");
    g_assert_cmpstr(cell_text(all, 1, ps_cli_csv_column(all, "event")), ==, "open");
    g_assert_cmpint(parse_time(cell_text(all, 1, 0)), ==, SCAN_START + 120);
    g_assert_cmpfloat(cell_number(all, 1, ps_cli_csv_column(all, "sources")), ==, 210);
    g_assert_cmpfloat(cell_number(all, 1, ps_cli_csv_column(all, "expected")), ==, 24);
    port = run_csv(seeded->socket, "alerts", "--since", since, "--until", until, "--port", "udp/53",
                   NULL);
    g_assert_cmpuint(port->len, ==, 1 + 1);
    g_assert_cmpint(parse_time(cell_text(port, 1, 0)), ==, END - 86400);
    late = run_csv(seeded->socket, "alerts", "--since", recent, "--until", until, "--port",
                   "tcp/445", NULL);
    g_assert_cmpuint(late->len, ==, 1 + 2);
    g_assert_cmpstr(cell_text(late, 2, ps_cli_csv_column(late, "event")), ==, "resolve");
}

/* ---- long ranges and old ranges ---- */

static gint64
commandstat_calls(redisContext *redis, const char *name)
{
    g_autoptr(redisReply) reply = ps_test_redis_command(redis, "INFO", "commandstats", NULL);
    g_autofree gchar *needle = g_strdup_printf("cmdstat_%s:calls=", name);
    const char *at = strstr(reply->str, needle);

    return at != NULL ? g_ascii_strtoll(at + strlen(needle), NULL, 10) : 0;
}

/* A week of minute buckets: one HMGET per closed bucket (range and look-back), pipelined, in
 * well under the time one round trip per bucket would take on a real network. */
static void
test_series_week_of_minutes(void)
{
    Seeded *seeded = shared();
    g_autofree gchar *since = iso(END - 7 * 86400), *until = iso(END);
    g_autoptr(GPtrArray) rows = NULL;
    gint64 started = g_get_monotonic_time();

    if (seeded == NULL)
        return;
    redisReply *reset = ps_test_redis_command(seeded->redis, "CONFIG", "RESETSTAT", NULL);
    freeReplyObject(reset);
    rows = run_csv(seeded->socket, "series", "tcp/445", "--since", since, "--until", until,
                   "--step", "1m", NULL);
    g_assert_cmpuint(rows->len, ==, 1 + 7 * 1440);
    /* the look-back reaches to the oldest bucket held: 9 days of buckets, each read once */
    g_assert_cmpint(commandstat_calls(seeded->redis, "hmget"), ==, DAYS * 1440);
    g_assert_cmpint(g_get_monotonic_time() - started, <, 20 * G_USEC_PER_SEC);
}

/* Beyond the minute buckets held, the hourly roll-ups answer, and an explicit minute step says
 * which ranges exist. */
static void
test_series_hours_beyond_minutes(void)
{
    g_autoptr(Seeded) seeded = seeded_new("3", FALSE);
    g_autofree gchar *since = iso(END - 3 * 86400), *until = iso(END - 2 * 86400);
    g_autofree gchar *cutoff = g_strdup_printf("(%lld", END - 86400);
    g_autoptr(GPtrArray) rows = NULL;
    g_autoptr(PsCliRun) run = NULL;

    if (seeded == NULL)
        return;
    /* as if the minute buckets of the first two days had expired */
    command_ok(ps_test_redis_command(seeded->redis, "ZREMRANGEBYSCORE", "ps:closed:60", "-inf",
                                     cutoff, NULL));
    rows = run_csv(seeded->socket, "series", "tcp/443", "--since", since, "--until", until, NULL);
    g_assert_cmpuint(rows->len, ==, 1 + 24);
    for (guint r = 1; r < rows->len; r++) {
        gint64 t = END - 3 * 86400 + (gint64)(r - 1) * 3600;
        g_assert_cmpint(parse_time(cell_text(rows, r, 0)), ==, t);
        g_assert_cmpfloat(cell_number(rows, r, 1), ==,
                          hget(seeded->redis, 3600, t, "tcp/443", "flows"));
    }
    run = ps_cli_run(seeded->socket, "series", "tcp/443", "--since", since, "--until", until,
                     "--step", "1m", NULL);
    g_assert_cmpint(run->status, ==, 4);
    g_assert_nonnull(strstr(run->err, "no data from 2023-11-12T00:00:00Z to 2023-11-13T00:00:00Z"));
    g_assert_nonnull(
        strstr(run->err, "minute buckets from 2023-11-14T00:00:00Z to 2023-11-14T23:59:00Z"));
    g_assert_nonnull(strstr(run->err, "hourly roll-ups from 2023-11-12T00:00:00Z"));
}

/* ---- plot ---- */

/* What the tests read from an SVG: its size and every path's style and points. Parsing it with
 * GMarkup also proves it is well-formed XML. */
typedef struct {
    gchar *width;
    gchar *height;
    GPtrArray *styles; /* strings, one per <path> */
    GPtrArray *points; /* GArray of double (x, y pairs), one per <path> */
} Svg;

static void
svg_free(Svg *svg)
{
    g_free(svg->width);
    g_free(svg->height);
    g_ptr_array_unref(svg->styles);
    g_ptr_array_unref(svg->points);
    g_free(svg);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Svg, svg_free)

/* "M 70 321.6 L 82.2 318.9 ..." as x, y pairs; lines and moves only. */
static GArray *
path_points(const char *d)
{
    g_auto(GStrv) tokens = g_strsplit(d, " ", -1);
    GArray *points = g_array_new(FALSE, FALSE, sizeof(double));

    for (guint i = 0; tokens[i] != NULL; i++) {
        if (g_str_equal(tokens[i], "M") || g_str_equal(tokens[i], "L") || tokens[i][0] == '\0')
            continue;
        if (g_ascii_isalpha(tokens[i][0])) { /* a curve or close: not a polyline */
            g_array_set_size(points, 0);
            break;
        }
        double value = g_ascii_strtod(tokens[i], NULL);
        g_array_append_val(points, value);
    }
    return points;
}

static void
svg_start_element(GMarkupParseContext *context, const char *name, const char **attribute_names,
                  const char **attribute_values, gpointer user_data, GError **error)
{
    Svg *svg = user_data;

    (void)context, (void)error;
    for (guint i = 0; attribute_names[i] != NULL; i++) {
        if (g_str_equal(name, "svg") && g_str_equal(attribute_names[i], "width"))
            svg->width = g_strdup(attribute_values[i]);
        if (g_str_equal(name, "svg") && g_str_equal(attribute_names[i], "height"))
            svg->height = g_strdup(attribute_values[i]);
    }
    if (g_str_equal(name, "path")) {
        const char *style = "", *d = "";
        for (guint i = 0; attribute_names[i] != NULL; i++) {
            if (g_str_equal(attribute_names[i], "style"))
                style = attribute_values[i];
            if (g_str_equal(attribute_names[i], "d"))
                d = attribute_values[i];
        }
        g_ptr_array_add(svg->styles, g_strdup(style));
        g_ptr_array_add(svg->points, path_points(d));
    }
}

static Svg *
svg_load(const char *path)
{
    GMarkupParser parser = {svg_start_element, NULL, NULL, NULL, NULL};
    Svg *svg = g_new0(Svg, 1);
    g_autofree gchar *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GMarkupParseContext) context = NULL;

    svg->styles = g_ptr_array_new_with_free_func(g_free);
    svg->points = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    context = g_markup_parse_context_new(&parser, 0, svg, NULL);
    g_assert_true(g_markup_parse_context_parse(context, text, -1, &error) &&
                  g_markup_parse_context_end_parse(context, &error));
    g_assert_no_error(error);
    return svg;
}

/* The series lines are the only strokes 1.5 wide, drawn in series order. */
static GArray *
svg_series_line(const Svg *svg, guint series)
{
    guint seen = 0;

    for (guint i = 0; i < svg->styles->len; i++) {
        if (strstr(g_ptr_array_index(svg->styles, i), "stroke-width:1.5;") != NULL &&
            seen++ == series)
            return g_ptr_array_index(svg->points, i);
    }
    g_assert_not_reached();
}

/* The y of the polyline at x (x within its span). */
static double
polyline_y(GArray *line, double x)
{
    guint n = line->len / 2;

    for (guint i = 0; i + 1 < n; i++) {
        double x0 = g_array_index(line, double, 2 * i), y0 = g_array_index(line, double, 2 * i + 1);
        double x1 = g_array_index(line, double, 2 * i + 2);
        double y1 = g_array_index(line, double, 2 * i + 3);
        if (x >= x0 - 1e-6 && x <= x1 + 1e-6)
            return x1 > x0 ? y0 + (y1 - y0) * (x - x0) / (x1 - x0) : y0;
    }
    g_assert_not_reached();
}

/* The drawn line is the data: its vertices sit at whole point positions, their heights are
 * one linear function of the values (least squares, residual under 0.05 px, higher values
 * drawn higher), and every data point, including those cairo merged into a straight segment,
 * lies on the line. */
static void
assert_line_matches(GArray *line, const double *values, guint n)
{
    double x0 = g_array_index(line, double, 0);
    double dx = (g_array_index(line, double, line->len - 2) - x0) / (n - 1);
    double sv = 0, sy = 0, svv = 0, svy = 0, a, b;
    guint m = line->len / 2;

    g_assert_cmpuint(m, >=, 2);
    g_assert_cmpuint(m, <=, n);
    for (guint i = 0; i < m; i++) {
        double point = (g_array_index(line, double, 2 * i) - x0) / dx;
        double v = values[(guint)(point + 0.5)], y = g_array_index(line, double, 2 * i + 1);
        g_assert_cmpfloat(fabs(point - round(point)), <, 0.01);
        sv += v, sy += y, svv += v * v, svy += v * y;
    }
    b = (m * svy - sv * sy) / (m * svv - sv * sv);
    a = (sy - b * sv) / m;
    g_assert_cmpfloat(b, <, 0);
    for (guint i = 0; i < n; i++)
        g_assert_cmpfloat(fabs(polyline_y(line, x0 + i * dx) - (a + b * values[i])), <, 0.05);
}

/* The flows of a series per 5-minute point, from the minute buckets. */
static void
five_minute_flows(redisContext *redis, const char *series, gint64 first, guint n, double *values)
{
    for (guint i = 0; i < n; i++) {
        values[i] = 0;
        for (gint64 t = first + (gint64)i * 300; t < first + (gint64)(i + 1) * 300; t += STEP)
            values[i] += hget(redis, STEP, t, series, "flows");
    }
}

#define PLOT_FIRST  (SCAN_START - 3 * 3600)
#define PLOT_POINTS 72

static void
run_plot(const Seeded *seeded, const char *path, const char *width, const char *height,
         const char *second_series)
{
    g_autofree gchar *since = iso(PLOT_FIRST), *until = iso(PLOT_FIRST + PLOT_POINTS * 300);
    g_autoptr(PsCliRun) run =
        ps_cli_run(seeded->socket, "plot", "tcp/445", "--since", since, "--until", until, "--step",
                   "5m", "--width", width, "--height", height, "-o", path, second_series, NULL);

    g_assert_cmpint(run->status, ==, 0);
}

static void
test_plot_svg(void)
{
    Seeded *seeded = shared();
    g_autofree gchar *path = NULL;
    g_autoptr(Svg) svg = NULL;
    double tcp[PLOT_POINTS], udp[PLOT_POINTS];
    gboolean marker = FALSE;

    if (seeded == NULL)
        return;
    path = g_build_filename(ps_test_redis_dir(seeded->server), "chart.svg", NULL);
    run_plot(seeded, path, "800", "300", "udp/53");
    svg = svg_load(path);
    g_assert_cmpstr(svg->width, ==, "800px");
    g_assert_cmpstr(svg->height, ==, "300px");
    five_minute_flows(seeded->redis, "tcp/445", PLOT_FIRST, PLOT_POINTS, tcp);
    five_minute_flows(seeded->redis, "udp/53", PLOT_FIRST, PLOT_POINTS, udp);
    assert_line_matches(svg_series_line(svg, 0), tcp, PLOT_POINTS);
    assert_line_matches(svg_series_line(svg, 1), udp, PLOT_POINTS);
    /* the tcp/445 alert opened at SCAN_START + 120: a vertical line there */
    for (guint i = 0; i < svg->points->len; i++) {
        GArray *points = g_ptr_array_index(svg->points, i);
        GArray *line = svg_series_line(svg, 0);
        double x0 = g_array_index(line, double, 0);
        double dx = (g_array_index(line, double, line->len - 2) - x0) / (PLOT_POINTS - 1);
        double expected_x = x0 + (double)(SCAN_START + 120 - PLOT_FIRST) / 300 * dx;
        if (points->len == 4 &&
            g_array_index(points, double, 0) == g_array_index(points, double, 2))
            marker |= fabs(g_array_index(points, double, 0) - expected_x) < 0.05;
    }
    g_assert_true(marker);
}

static guint32
png_be32(const guint8 *bytes)
{
    return (guint32)bytes[0] << 24 | (guint32)bytes[1] << 16 | (guint32)bytes[2] << 8 | bytes[3];
}

/* A pixel of the series colour within 2 px of (x, y). */
static gboolean
png_has_color_near(cairo_surface_t *image, double x, double y, const guint8 rgb[3])
{
    int width = cairo_image_surface_get_width(image),
        height = cairo_image_surface_get_height(image);
    int stride = cairo_image_surface_get_stride(image);
    const guint8 *data = cairo_image_surface_get_data(image);

    for (int py = (int)y - 2; py <= (int)y + 2; py++) {
        for (int px = (int)x - 2; px <= (int)x + 2; px++) {
            guint32 pixel;
            if (px < 0 || py < 0 || px >= width || py >= height)
                continue;
            memcpy(&pixel, data + py * stride + px * 4, sizeof(pixel)); /* ARGB32, native */
            if (abs((int)((pixel >> 16) & 0xff) - rgb[0]) +
                    abs((int)((pixel >> 8) & 0xff) - rgb[1]) + abs((int)(pixel & 0xff) - rgb[2]) <
                60)
                return TRUE;
        }
    }
    return FALSE;
}

/* The PNG has the size asked for (IHDR), and the series colour sits at every vertex of the
 * same chart drawn as SVG (same size, same code): the raster shows the data too. */
static void
test_plot_png(void)
{
    Seeded *seeded = shared();
    g_autofree gchar *png = NULL, *svg_path = NULL, *bytes = NULL;
    g_autoptr(Svg) svg = NULL;
    cairo_surface_t *image;
    const guint8 color[3] = {31, 119, 180}; /* the palette's first colour, chart.c */
    GArray *line;
    gsize length = 0;

    if (seeded == NULL)
        return;
    png = g_build_filename(ps_test_redis_dir(seeded->server), "chart.png", NULL);
    svg_path = g_build_filename(ps_test_redis_dir(seeded->server), "same.svg", NULL);
    run_plot(seeded, png, "640", "240", NULL);
    run_plot(seeded, svg_path, "640", "240", NULL);
    g_assert_true(g_file_get_contents(png, &bytes, &length, NULL));
    g_assert_cmpuint(length, >, 24);
    g_assert_cmpmem(bytes, 8, "\x89PNG\r\n\x1a\n", 8);
    g_assert_cmpmem(bytes + 12, 4, "IHDR", 4);
    g_assert_cmpuint(png_be32((const guint8 *)bytes + 16), ==, 640);
    g_assert_cmpuint(png_be32((const guint8 *)bytes + 20), ==, 240);
    svg = svg_load(svg_path);
    line = svg_series_line(svg, 0);
    image = cairo_image_surface_create_from_png(png);
    g_assert_cmpint(cairo_surface_status(image), ==, CAIRO_STATUS_SUCCESS);
    for (guint i = 0; i < line->len / 2; i++)
        g_assert_true(png_has_color_near(image, g_array_index(line, double, 2 * i),
                                         g_array_index(line, double, 2 * i + 1), color));
    cairo_surface_destroy(image);
}

/* ---- errors ---- */

typedef struct {
    const char *name;
    const char *args[10];
    gint status;
    const char *message;
} ErrorCase;

static const ErrorCase error_cases[] = {
    {"bad-port", {"series", "tcp/99999", NULL}, 2, "'tcp/99999' is not a port"},
    {"bad-protocol", {"series", "http/80", NULL}, 2, "expected PROTOCOL/PORT"},
    {"bad-direction", {"series", "tcp/445@up", NULL}, 2, "direction after @"},
    {"bad-alerts-port", {"alerts", "--port", "445", NULL}, 2, "'445' is not a port"},
    {"bad-time", {"series", "tcp/445", "--since", "yesterday", NULL}, 2, "--since: 'yesterday'"},
    {"bad-step", {"series", "tcp/445", "--step", "7m", NULL}, 2, "--step 420 s"},
    {"bad-metric", {"top", "--by", "packetz", NULL}, 2, "'packetz' is not a metric"},
    {"bad-format", {"status", "--format", "xml", NULL}, 2, "--format xml"},
    {"unknown-command", {"frobnicate", NULL}, 2, "unknown command 'frobnicate'"},
    {"plot-no-output", {"plot", "tcp/445", NULL}, 2, "-o FILE.svg or -o FILE.png"},
    {"plot-bad-kind", {"plot", "tcp/445", "-o", "chart.gif", NULL}, 2, "must end in .svg or .png"},
    {"plot-bad-size", {"plot", "tcp/445", "-o", "c.png", "--width", "5", NULL}, 2, "--width"},
    {"no-data",
     {"series", "tcp/445", "--since", "2020-01-01", "--until", "2020-01-02", NULL},
     4,
     "no data from 2020-01-01T00:00:00Z to 2020-01-02T00:00:00Z; Redis holds minute buckets "
     "from 2023-11-06T00:00:00Z to 2023-11-14T23:59:00Z"},
    {"no-data-top",
     {"top", "--at", "2020-01-01", NULL},
     4,
     "no data from 2019-12-31T23:46:00Z to 2020-01-01T00:01:00Z"},
};

static void
test_error_case(gconstpointer data)
{
    const ErrorCase *c = data;
    Seeded *seeded = shared();
    g_autoptr(PsCliRun) run = NULL;

    if (seeded == NULL)
        return;
    run = ps_cli_runv(seeded->socket, c->args);
    g_assert_cmpint(run->status, ==, c->status);
    g_assert_cmpstr(run->out, ==, "");
    g_assert_nonnull(strstr(run->err, c->message));
}

/* Nothing listens: the message says where it tried. */
static void
test_error_unreachable(void)
{
    g_autofree gchar *dir = g_dir_make_tmp("ps-cli-XXXXXX", NULL);
    g_autofree gchar *socket = g_build_filename(dir, "none.sock", NULL);
    g_autoptr(PsCliRun) run = ps_cli_run(socket, "status", NULL);
    g_autoptr(PsCliRun) tcp = ps_cli_run(NULL, "status", "--redis", "redis://127.0.0.1:1/0", NULL);

    g_assert_cmpint(run->status, ==, 3);
    g_assert_nonnull(strstr(run->err, socket));
    g_assert_cmpint(tcp->status, ==, 3);
    g_assert_nonnull(strstr(tcp->err, "cannot connect to redis://127.0.0.1:1/0"));
    g_rmdir(dir);
}

static void
test_error_schema(void)
{
    g_autoptr(PsTestRedis) server = ps_test_redis_start();
    redisContext *redis;
    g_autoptr(PsCliRun) run = NULL;

    if (server == NULL)
        return;
    redis = ps_test_redis_connect(server);
    command_ok(ps_test_redis_command(redis, "SET", "ps:schema", "2", NULL));
    redisFree(redis);
    run = ps_cli_run(ps_test_redis_socket(server), "top", NULL);
    g_assert_cmpint(run->status, ==, 5);
    g_assert_nonnull(strstr(run->err, "holds schema version 2"));
}

int
main(int argc, char **argv)
{
    int status;

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cli/series/minutes", test_series_minutes);
    g_test_add_func("/cli/series/hours-and-days", test_series_hours_and_days);
    g_test_add_func("/cli/series/json-matches-csv", test_series_json_matches_csv);
    g_test_add_func("/cli/series/baseline-is-the-alerters", test_series_baseline_is_the_alerters);
    g_test_add_func("/cli/series/week-of-minutes", test_series_week_of_minutes);
    g_test_add_func("/cli/series/hours-beyond-minutes", test_series_hours_beyond_minutes);
    g_test_add_func("/cli/top/order", test_top_order);
    g_test_add_func("/cli/top/by-sources", test_top_by_sources);
    g_test_add_func("/cli/plot/svg", test_plot_svg);
    g_test_add_func("/cli/plot/png", test_plot_png);
    g_test_add_func("/cli/table", test_table);
    g_test_add_func("/cli/status", test_status);
    g_test_add_func("/cli/exporters", test_exporters);
    g_test_add_func("/cli/alerts", test_alerts);
    for (guint i = 0; i < G_N_ELEMENTS(error_cases); i++) {
        g_autofree gchar *path = g_strdup_printf("/cli/error/%s", error_cases[i].name);
        g_test_add_data_func(path, &error_cases[i], test_error_case);
    }
    g_test_add_func("/cli/error/unreachable", test_error_unreachable);
    g_test_add_func("/cli/error/schema", test_error_schema);
    status = g_test_run();
    seeded_free(shared_history);
    return status;
}
