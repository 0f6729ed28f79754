/* portsurge-alerter: options, signals and the main loop only. */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerter.h"
#include "bucket.h"
#include "portproto.h"
#include "event.h"
#include "keys.h"
#include "redis.h"

#define DEFAULT_WATCHED "tcp/445,tcp/139,tcp/135,tcp/3389,tcp/22,tcp/23,tcp/1433,tcp/3306,tcp/5900,tcp/6379"

typedef struct {
    gchar *redis;
    gchar *prefix;
    gchar *replay;
    gchar *format;
    gchar *watch;
    gint bucket;
    gint interval;
    gdouble min_sources;
    gdouble min_flows;
    gint max_series;
    gboolean verbose;
    gboolean version;
} Options;

typedef struct {
    Options options;
    PsAlerterConfig config;
    PsRedisAddress address;
    redisContext *redis;
    PsAlerter *alerter;
    GMainLoop *loop;
    gint64 last_bucket;
    gboolean json;
    guint64 events;
} Alerter;

static void
on_event(const char *series, gboolean watched, const PsAlertEvent *event, const char *json,
         gpointer user_data)
{
    Alerter *self = user_data;
    g_autofree gchar *summary = ps_event_summary(series, event);

    (void)watched;
    self->events++;
    if (self->options.replay == NULL) {
        if (event->kind == PS_EVENT_RESOLVE)
            g_message("%s", summary);
        else
            g_warning("%s", summary);
    } else if (self->json) {
        printf("%s\n", json);
    } else {
        g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(event->bucket);
        g_autofree gchar *text = g_date_time_format_iso8601(when);
        printf("%s %s\n", text, summary);
    }
}

/* "1700000000", "2023-11-14T22:13:20Z", "now", or "7d" / "90m" / "12h" ago. */
static gboolean
parse_time(const char *text, gint64 now, gint64 *time, GError **error)
{
    g_autoptr(GDateTime) parsed = NULL;
    guint64 number;
    gchar *end = NULL;

    if (g_str_equal(text, "now")) {
        *time = now;
        return TRUE;
    }
    if (g_ascii_string_to_unsigned(text, 10, 0, G_MAXINT64, &number, NULL)) {
        *time = (gint64)number;
        return TRUE;
    }
    number = g_ascii_strtoull(text, &end, 10);
    if (end != text && end[0] != '\0' && end[1] == '\0' && strchr("smhd", end[0]) != NULL) {
        guint64 unit = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : 86400;
        *time = now - (gint64)(number * unit);
        return TRUE;
    }
    parsed = g_date_time_new_from_iso8601(text, g_time_zone_new_utc());
    if (parsed == NULL) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s' is not a time: use Unix seconds, ISO 8601, now, or 90m/12h/7d ago",
                    text);
        return FALSE;
    }
    *time = g_date_time_to_unix(parsed);
    return TRUE;
}

static int
run_replay(Alerter *self)
{
    g_auto(GStrv) range = g_strsplit(self->options.replay, "..", 2);
    g_autoptr(GError) error = NULL;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC, from, to, last;

    if (range[0] == NULL || range[1] == NULL || !parse_time(range[0], now, &from, &error) ||
        !parse_time(range[1], now, &to, &error)) {
        g_printerr("--replay %s: %s\n", self->options.replay,
                   error != NULL ? error->message : "expected FROM..TO");
        return 2;
    }
    self->alerter = ps_alerter_new(&self->config, self->redis, FALSE, on_event, self);
    if (!ps_alerter_warm_up(self->alerter, from, &error) ||
        !ps_alerter_run(self->alerter, from - 1, to, &last, &error)) {
        g_printerr("replay: %s\n", error->message);
        return EXIT_FAILURE;
    }
    g_printerr("replay: %" G_GUINT64_FORMAT " events\n", self->events);
    return EXIT_SUCCESS;
}

static gboolean
reconnect(Alerter *self)
{
    g_autoptr(GError) error = NULL;

    g_clear_pointer(&self->redis, redisFree);
    self->redis = ps_redis_connect(&self->address, 5000, &error);
    if (self->redis == NULL)
        g_warning("%s", error->message);
    return self->redis != NULL;
}

static gboolean
on_poll(gpointer user_data)
{
    Alerter *self = user_data;
    g_autoptr(GError) error = NULL;
    gint64 last = self->last_bucket;

    if (self->redis == NULL && !reconnect(self))
        return G_SOURCE_CONTINUE;
    ps_alerter_set_redis(self->alerter, self->redis);
    if (!ps_alerter_run(self->alerter, self->last_bucket, G_MAXINT64, &last, &error)) {
        g_warning("evaluating buckets: %s; retrying", error->message);
        g_clear_pointer(&self->redis, redisFree);
    }
    self->last_bucket = last;
    return G_SOURCE_CONTINUE;
}

static gboolean
on_stop(gpointer user_data)
{
    Alerter *self = user_data;

    g_message("stopping");
    g_main_loop_quit(self->loop);
    return G_SOURCE_REMOVE;
}

static int
run_live(Alerter *self)
{
    g_autoptr(GError) error = NULL;

    self->alerter = ps_alerter_new(&self->config, self->redis, TRUE, on_event, self);
    if (!ps_alerter_restore(self->alerter, &self->last_bucket, &error)) {
        g_printerr("%s\n", error->message);
        return EXIT_FAILURE;
    }
    if (self->last_bucket == 0) /* first start: from the newest closed bucket on */
        self->last_bucket = ps_bucket_start(g_get_real_time() / G_USEC_PER_SEC, self->config.step) -
                            2 * (gint64)self->config.step;
    if (!ps_alerter_warm_up(self->alerter, self->last_bucket + self->config.step, &error))
        g_warning("warming up the level factors: %s", error->message);
    g_message("evaluating closed buckets after %" G_GINT64_FORMAT " every %d s", self->last_bucket,
              self->options.interval);
    self->loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGINT, on_stop, self);
    g_unix_signal_add(SIGTERM, on_stop, self);
    g_timeout_add_seconds(self->options.interval, on_poll, self);
    on_poll(self);
    g_main_loop_run(self->loop);
    g_main_loop_unref(self->loop);
    return EXIT_SUCCESS;
}

static gboolean
parse_options(Options *o, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        {"redis", 0, 0, G_OPTION_ARG_STRING, &o->redis,
         "Redis: redis://[user:password@]host:port/db or a unix socket path (default "
         "redis://127.0.0.1:6379/0; password also from PS_REDIS_PASSWORD)", "URL"},
        {"prefix", 0, 0, G_OPTION_ARG_STRING, &o->prefix, "Redis key prefix (default ps:)",
         "PREFIX"},
        {"replay", 0, 0, G_OPTION_ARG_STRING, &o->replay,
         "Run detection over stored history as it would have run live and print the incidents; "
         "times as Unix seconds, ISO 8601, now or 7d/12h/90m ago", "FROM..TO"},
        {"format", 0, 0, G_OPTION_ARG_STRING, &o->format, "Replay output: text or json (JSON Lines)",
         "FORMAT"},
        {"watch", 0, 0, G_OPTION_ARG_STRING, &o->watch,
         "Watched ports, always evaluated and one severity higher (default " DEFAULT_WATCHED ")",
         "LIST"},
        {"bucket", 0, 0, G_OPTION_ARG_INT, &o->bucket, "Bucket length the collector uses (60)", "S"},
        {"interval", 0, 0, G_OPTION_ARG_INT, &o->interval,
         "Seconds between looks for newly closed buckets (default 5)", "S"},
        {"min-sources", 0, 0, G_OPTION_ARG_DOUBLE, &o->min_sources,
         "Evaluate a port with at least this many sources in the bucket (default 20)", "N"},
        {"min-flows", 0, 0, G_OPTION_ARG_DOUBLE, &o->min_flows,
         "... or this many flows (default 200)", "N"},
        {"max-series", 0, 0, G_OPTION_ARG_INT, &o->max_series,
         "Active ports evaluated per bucket besides the watched ones (default 500)", "N"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "Log more (info level)", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &o->version, "Print the version", NULL},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context =
        g_option_context_new("- detect port surges in the buckets portsurge-collector writes");

    o->bucket = 60;
    o->interval = 5;
    o->min_sources = 20;
    o->min_flows = 200;
    o->max_series = 500;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, argc, argv, error))
        return FALSE;
    if (o->format != NULL && !g_str_equal(o->format, "text") && !g_str_equal(o->format, "json")) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--format %s: expected text or json", o->format);
        return FALSE;
    }
    if (o->interval <= 0 || o->max_series <= 0 || o->bucket <= 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--interval, --bucket and --max-series take positive numbers");
        return FALSE;
    }
    return TRUE;
}

static void
options_clear(Options *o)
{
    g_clear_pointer(&o->redis, g_free);
    g_clear_pointer(&o->prefix, g_free);
    g_clear_pointer(&o->replay, g_free);
    g_clear_pointer(&o->format, g_free);
    g_clear_pointer(&o->watch, g_free);
}

static gboolean
make_config(Alerter *self, GError **error)
{
    Options *o = &self->options;
    g_auto(GStrv) watched = g_strsplit(o->watch != NULL ? o->watch : DEFAULT_WATCHED, ",", -1);

    for (guint i = 0; watched[i] != NULL; i++) {
        guint8 proto;
        guint16 port;
        g_strstrip(watched[i]);
        if (!ps_portproto_parse(watched[i], &proto, &port, error)) {
            g_prefix_error(error, "--watch: ");
            return FALSE;
        }
    }
    ps_detect_config_init(&self->config.detect);
    self->config.prefix = o->prefix != NULL ? o->prefix : PS_KEYS_DEFAULT_PREFIX;
    self->config.step = o->bucket;
    self->config.watched = g_steal_pointer(&watched);
    self->config.min_sources = o->min_sources;
    self->config.min_flows = o->min_flows;
    self->config.max_series = o->max_series;
    self->config.broad_scan_ports = 20;
    self->json = g_strcmp0(o->format, "json") == 0;
    return ps_redis_address_parse(o->redis != NULL ? o->redis : "redis://127.0.0.1:6379/0",
                                  &self->address, error);
}

int
main(int argc, char **argv)
{
    Alerter self = {0};
    g_autoptr(GError) error = NULL;
    int status;

    /* hiredis writes with write(2): a Redis that went away must be an error, not SIGPIPE */
    signal(SIGPIPE, SIG_IGN);

    if (!parse_options(&self.options, &argc, &argv, &error) || !make_config(&self, &error)) {
        g_printerr("%s\n", error->message);
        options_clear(&self.options);
        g_strfreev(self.config.watched);
        return 2;
    }
    if (self.options.version) {
        g_print("portsurge-alerter %s\n", PS_VERSION);
        status = EXIT_SUCCESS;
    } else {
        if (self.options.verbose)
            g_log_set_debug_enabled(TRUE);
        self.redis = ps_redis_connect(&self.address, 5000, &error);
        if (self.redis == NULL) {
            g_printerr("%s\n", error->message);
            status = EXIT_FAILURE;
        } else {
            status = self.options.replay != NULL ? run_replay(&self) : run_live(&self);
        }
    }
    ps_alerter_free(self.alerter);
    g_clear_pointer(&self.redis, redisFree);
    ps_redis_address_clear(&self.address);
    g_strfreev(self.config.watched);
    options_clear(&self.options);
    return status;
}
