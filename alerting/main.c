/* portsurge-alerter: options, signals and the main loop only. Detection runs on the main
 * loop (alerter.c); delivery on the courier's thread (courier.c); metrics on the listener's. */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerter.h"
#include "alerter_config.h"
#include "alerter_metrics.h"
#include "bucket.h"
#include "event.h"
#include "logging.h"
#include "metrics.h"
#include "redis.h"
#include "timearg.h"

typedef struct {
    gchar *config;
    gchar *replay;
    gchar *format;
    gboolean check_config;
    gboolean version;
} Options;

typedef struct {
    Options options;
    PsConffileOptions *config_options;
    PsAlerterConfiguration configuration;
    redisContext *redis;
    PsAlerter *alerter;
    PsCourier *courier;
    PsAlerterMetrics *metrics;
    PsMetricsServer *metrics_server;
    GMainLoop *loop;
    guint poll_source;
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
        ps_alerter_metrics_event(self->metrics, event);
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

static int
run_replay(Alerter *self)
{
    g_auto(GStrv) range = g_strsplit(self->options.replay, "..", 2);
    g_autoptr(GError) error = NULL;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC, from, to, last;

    if (range[0] == NULL || range[1] == NULL || !ps_time_parse(range[0], now, &from, &error) ||
        !ps_time_parse(range[1], now, &to, &error)) {
        g_printerr("--replay %s: %s\n", self->options.replay,
                   error != NULL ? error->message : "expected FROM..TO");
        return 2;
    }
    /* replay tells, it does not send: no receivers */
    self->configuration.alerter.receivers = NULL;
    self->alerter =
        ps_alerter_new(&self->configuration.alerter, self->redis, FALSE, on_event, self);
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
    self->redis = ps_redis_connect(&self->configuration.address, 5000, &error);
    if (self->redis == NULL) {
        g_warning("%s", error->message);
        ps_alerter_metrics_redis_error(self->metrics);
    }
    return self->redis != NULL;
}

static gboolean
on_poll(gpointer user_data)
{
    Alerter *self = user_data;
    g_autoptr(GError) error = NULL;
    gint64 last = self->last_bucket;

    if (self->redis == NULL) {
        if (!reconnect(self))
            return G_SOURCE_CONTINUE;
        ps_alerter_set_redis(self->alerter, self->redis);
    }
    if (!ps_alerter_run(self->alerter, self->last_bucket, G_MAXINT64, &last, &error)) {
        g_warning("evaluating buckets: %s; retrying", error->message);
        ps_alerter_metrics_redis_error(self->metrics);
        g_clear_pointer(&self->redis, redisFree);
    }
    if (last != self->last_bucket)
        ps_courier_wake(self->courier); /* the new buckets may have left messages */
    self->last_bucket = last;
    ps_alerter_metrics_progress(self->metrics, last);
    return G_SOURCE_CONTINUE;
}

static void
start_polling(Alerter *self)
{
    if (self->poll_source != 0)
        g_source_remove(self->poll_source);
    self->poll_source =
        g_timeout_add_seconds((guint)self->configuration.settings.interval, on_poll, self);
}

static void
apply_log_level(const PsAlerterSettings *settings)
{
    ps_logging_set_level(settings->verbose ? PS_LOG_DEBUG : PS_LOG_MESSAGE);
}

/* SIGHUP: webhooks, thresholds, watched ports and the like change now; the rest (bucket,
 * Redis, metrics listener) keeps its running value until a restart, and the log says so. */
static gboolean
on_reload(gpointer user_data)
{
    Alerter *self = user_data;
    PsAlerterConfiguration loaded;
    g_autoptr(GError) error = NULL;
    g_autofree gchar *restart = NULL;

    if (!ps_alerter_configuration_load(&loaded, self->options.config, self->config_options,
                                       &error)) {
        g_warning("reload refused, keeping the running configuration: %s", error->message);
        ps_alerter_configuration_clear(&loaded);
        return G_SOURCE_CONTINUE;
    }
    restart = ps_alerter_configuration_restart_needed(&self->configuration, &loaded);
    if (restart != NULL) {
        g_warning("reload: %s changed; that needs a restart, the running values stay", restart);
        ps_alerter_configuration_keep_restart_values(&loaded, &self->configuration);
    }
    ps_alerter_set_config(self->alerter, &loaded.alerter);
    ps_courier_set_receivers(self->courier, loaded.receivers);
    ps_alerter_configuration_clear(&self->configuration);
    self->configuration = loaded;
    ps_alerter_configuration_refresh(&self->configuration); /* it moved: fix its pointers */
    apply_log_level(&self->configuration.settings);
    start_polling(self);
    g_message("configuration reloaded: %u webhook(s), %u watched port(s)",
              self->configuration.receivers->len,
              g_strv_length(self->configuration.settings.watch));
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

static gboolean
start_metrics(Alerter *self, GError **error)
{
    const char *listen = self->configuration.settings.metrics;

    if (listen == NULL)
        return TRUE;
    self->metrics_server =
        ps_metrics_server_start(listen, ps_alerter_metrics_render, self->metrics, error);
    if (self->metrics_server == NULL)
        return FALSE;
    g_message("metrics on %s (port %u)", listen, ps_metrics_server_port(self->metrics_server));
    return TRUE;
}

static int
run_live(Alerter *self)
{
    g_autoptr(GError) error = NULL;
    guint step = self->configuration.alerter.step;

    self->alerter = ps_alerter_new(&self->configuration.alerter, self->redis, TRUE, on_event, self);
    if (!ps_alerter_restore(self->alerter, &self->last_bucket, &error)) {
        g_printerr("%s\n", error->message);
        return EXIT_FAILURE;
    }
    if (self->last_bucket == 0) /* first start: from the newest closed bucket on */
        self->last_bucket =
            ps_bucket_start(g_get_real_time() / G_USEC_PER_SEC, step) - 2 * (gint64)step;
    if (!ps_alerter_warm_up(self->alerter, self->last_bucket + step, &error))
        g_warning("warming up the level factors: %s", error->message);
    self->courier = ps_courier_start(&self->configuration.courier, self->configuration.receivers);
    ps_alerter_metrics_set_courier(self->metrics, self->courier);
    /* handlers before the log lines that say the alerter is up: a signal sent on seeing them
     * is then handled (SIGHUP's default action would end the process) */
    self->loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGINT, on_stop, self);
    g_unix_signal_add(SIGTERM, on_stop, self);
    g_unix_signal_add(SIGHUP, on_reload, self);
    if (!start_metrics(self, &error)) {
        g_printerr("metrics: %s\n", error->message);
        g_main_loop_unref(self->loop);
        return EXIT_FAILURE;
    }
    g_message("evaluating closed buckets after %" G_GINT64_FORMAT " every %" G_GINT64_FORMAT
              " s; %u webhook(s)",
              self->last_bucket, self->configuration.settings.interval,
              self->configuration.receivers->len);
    start_polling(self);
    on_poll(self);
    g_main_loop_run(self->loop);
    g_main_loop_unref(self->loop);
    return EXIT_SUCCESS;
}

static gboolean
parse_options(Alerter *self, int *argc, char ***argv, GError **error)
{
    Options *o = &self->options;
    const PsConffileSection *sections[] = {&ps_alerter_config_section, &ps_redis_config_section,
                                           NULL};
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &o->config,
         "Configuration file (portsurge.conf: [alerter], [redis], [webhook NAME]; "
         "default: " PS_CONFFILE_DEFAULT_PATH " when it exists); options given here win over it",
         "FILE"},
        {"replay", 0, 0, G_OPTION_ARG_STRING, &o->replay,
         "Run detection over stored history as it would have run live and print the incidents "
         "(nothing is sent); times as Unix seconds, ISO 8601, now or 7d/12h/90m ago",
         "FROM..TO"},
        {"format", 0, 0, G_OPTION_ARG_STRING, &o->format,
         "Replay output: text or json (JSON Lines) (default: text)", "FORMAT"},
        {"check-config", 0, 0, G_OPTION_ARG_NONE, &o->check_config,
         "Check the configuration (file and options) and exit: 0 when it is valid", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &o->version, "Print the version", NULL},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context =
        g_option_context_new("- detect port surges in the buckets portsurge-collector writes");

    self->config_options = ps_conffile_options_new(sections);
    g_option_context_set_main_group(context,
                                    ps_conffile_options_group(self->config_options, entries));
    if (!g_option_context_parse(context, argc, argv, error))
        return FALSE;
    if (o->format != NULL && !g_str_equal(o->format, "text") && !g_str_equal(o->format, "json")) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--format %s: expected text or json", o->format);
        return FALSE;
    }
    self->json = g_strcmp0(o->format, "json") == 0;
    if (o->config == NULL && g_file_test(PS_CONFFILE_DEFAULT_PATH, G_FILE_TEST_EXISTS))
        o->config = g_strdup(PS_CONFFILE_DEFAULT_PATH);
    return TRUE;
}

static void
alerter_clear(Alerter *self)
{
    g_clear_pointer(&self->metrics_server, ps_metrics_server_stop);
    g_clear_pointer(&self->courier, ps_courier_stop);
    g_clear_pointer(&self->alerter, ps_alerter_free);
    g_clear_pointer(&self->metrics, ps_alerter_metrics_free);
    g_clear_pointer(&self->redis, redisFree);
    ps_alerter_configuration_clear(&self->configuration);
    g_clear_pointer(&self->config_options, ps_conffile_options_free);
    g_clear_pointer(&self->options.config, g_free);
    g_clear_pointer(&self->options.replay, g_free);
    g_clear_pointer(&self->options.format, g_free);
}

static int
run(Alerter *self)
{
    g_autoptr(GError) error = NULL;

    self->redis = ps_redis_connect(&self->configuration.address, 5000, &error);
    if (self->redis == NULL) {
        g_printerr("%s\n", error->message);
        return EXIT_FAILURE;
    }
    return self->options.replay != NULL ? run_replay(self) : run_live(self);
}

int
main(int argc, char **argv)
{
    Alerter self = {0};
    g_autoptr(GError) error = NULL;
    int status;

    /* hiredis and libcurl write to sockets: a peer that went away is an error, not SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    ps_logging_init();
    if (!parse_options(&self, &argc, &argv, &error) ||
        (!self.options.version &&
         !ps_alerter_configuration_load(&self.configuration, self.options.config,
                                        self.config_options, &error))) {
        g_printerr("portsurge-alerter: %s\n", error->message);
        alerter_clear(&self);
        return 2;
    }
    if (self.options.version) {
        g_print("portsurge-alerter %s\n", PS_VERSION);
        status = EXIT_SUCCESS;
    } else if (self.options.check_config) {
        g_print("%s: valid; %u webhook(s)\n",
                self.options.config != NULL ? self.options.config : "defaults",
                self.configuration.receivers->len);
        status = EXIT_SUCCESS;
    } else {
        apply_log_level(&self.configuration.settings);
        self.metrics = ps_alerter_metrics_new();
        status = run(&self);
    }
    alerter_clear(&self);
    return status;
}
