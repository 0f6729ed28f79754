/* portsurge-collector: options, signals and the main loop only. */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture.h"
#include "dispatch.h"
#include "flow_json.h"
#include "logging.h"
#include "metrics_text.h"
#include "privileges.h"
#include "settings.h"
#include "socket.h"
#include "socket_reader.h"
#include "stats.h"
#include "store.h"

#define MAX_DATAGRAMS_PER_WAKEUP 4096 /* then let timers and signals run */
#define EXIT_CONFIG              2    /* the configuration or the command line is wrong */

/* What this run does, as opposed to the configuration (settings.h) it runs with. */
typedef struct {
    gchar *config;
    gboolean check_config;
    gchar **read_files;
    gboolean dump;
    gboolean print_stats;
    gchar *raw_exporter;
    gboolean verbose;
    gboolean version;
} Actions;

typedef struct {
    Actions actions;
    PsConffileOptions *options; /* the command line, applied again on every reload */
    const char *config_path;    /* NULL: no file */
    PsCollectorSettings *settings;
    PsCollectorParts parts; /* dispatch, sockets, store, allow-list: what metrics read */
    PsCollectorMetrics *metrics;
    GHashTable *stats_previous;
    GString *out;
    GMainLoop *loop;
    guint stats_timer;
    guint flush_timer;
    guint64 records;
    gint64 now_ms; /* receive time of the packet being decoded (capture time with --read) */
    gint64 last_flush_ms;
} Collector;

/* Counts decoded flows, and prints them as JSON Lines when asked (--dump; --read without
 * Redis). */
static void
count_and_print(Collector *collector, const PsFlow *flows, guint n)
{
    collector->records += n;
    for (guint i = 0; collector->out != NULL && i < n; i++)
        ps_flow_json_append(&flows[i], collector->out);
}

static void
on_flow(const PsFlow *flow, gpointer user_data)
{
    Collector *collector = user_data;

    count_and_print(collector, flow, 1);
    if (collector->parts.store != NULL)
        ps_store_add(collector->parts.store, flow, collector->now_ms);
}

/* A v5 packet's flows, decoded in place in the store's batch (PsFlowSlots) */
static PsFlow *
reserve_flows(guint n, gpointer user_data)
{
    Collector *collector = user_data;

    return ps_store_reserve(collector->parts.store, n, collector->now_ms);
}

static void
commit_flows(PsFlow *flows, guint n, gpointer user_data)
{
    Collector *collector = user_data;

    count_and_print(collector, flows, n);
    ps_store_commit(collector->parts.store, n);
}

static void
flush_output(Collector *collector)
{
    if (collector->out == NULL || collector->out->len == 0)
        return;
    fwrite(collector->out->str, 1, collector->out->len, stdout);
    fflush(stdout);
    g_string_truncate(collector->out, 0);
}

static void
on_capture(const PsAddress *exporter, const guint8 *data, gsize len, gint64 time_ms,
           gboolean whole_file, gpointer user_data)
{
    Collector *collector = user_data;
    PsStore *store = collector->parts.store;

    collector->now_ms = time_ms;
    ps_dispatch_capture(collector->parts.dispatch, exporter, data, len, time_ms, whole_file);
    flush_output(collector);
    /* captures replay history: flush on their clock, as the live collector would have */
    if (store != NULL &&
        time_ms - collector->last_flush_ms >= collector->settings->flush_interval * 1000) {
        ps_store_flush(store, time_ms);
        collector->last_flush_ms = time_ms;
    }
}

static void
print_exporter_stats(Collector *collector)
{
    GHashTableIter iter;
    PsExporter *exporter;
    g_autoptr(GString) text = g_string_new(NULL);

    g_hash_table_iter_init(&iter, ps_dispatch_exporters(collector->parts.dispatch));
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&exporter))
        ps_stats_exporter_json(exporter, text);
    fputs(text->str, stderr);
}

static int
read_files(Collector *collector, gchar **files)
{
    const char *raw_text = collector->actions.raw_exporter;
    PsAddress raw_exporter = {0};
    int status = EXIT_SUCCESS;

    if (raw_text != NULL && !ps_address_parse(raw_text, &raw_exporter)) {
        g_printerr("--exporter %s: not an IPv4 or IPv6 address\n", raw_text);
        return EXIT_CONFIG;
    }
    if (raw_exporter.family == 0)
        ps_address_parse("0.0.0.0", &raw_exporter);
    for (guint i = 0; files[i] != NULL; i++) {
        g_autoptr(GError) error = NULL;
        PsCaptureStats capture = {0};
        if (!ps_capture_read_file(files[i], &raw_exporter, on_capture, collector, &capture,
                                  &error)) {
            g_printerr("%s\n", error->message);
            status = EXIT_FAILURE;
        }
    }
    if (collector->parts.store != NULL &&
        !ps_store_close(collector->parts.store, collector->now_ms, 30000))
        status = EXIT_FAILURE;
    if (collector->actions.print_stats)
        print_exporter_stats(collector);
    return status;
}

static void
on_datagram(const PsAddress *sender, const guint8 *data, gsize len, gpointer user_data)
{
    Collector *collector = user_data;

    /* before decoding: a source we do not know creates no exporter state */
    if (!ps_allowlist_check(collector->parts.allowlist, sender, collector->now_ms))
        return;
    ps_dispatch_packet(collector->parts.dispatch, sender, data, len, collector->now_ms);
}

static void
on_queued_datagram(const PsAddress *sender, const guint8 *data, gsize len, gint64 received_ms,
                   gpointer user_data)
{
    Collector *collector = user_data;

    collector->now_ms = received_ms;
    on_datagram(sender, data, len, collector);
}

/* Datagrams the socket thread queued: decoded and counted here, a bounded number at a time
 * so that timers and signals run in between. */
static gboolean
on_queued(gint fd, GIOCondition condition, gpointer user_data)
{
    Collector *collector = user_data;

    (void)fd;
    (void)condition;
    ps_socket_reader_drain(collector->parts.reader, on_queued_datagram, collector,
                           MAX_DATAGRAMS_PER_WAKEUP);
    flush_output(collector);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_stats_timer(gpointer user_data)
{
    Collector *collector = user_data;
    GPtrArray *sockets = collector->parts.sockets;
    guint64 kernel_drops = 0, queue_full;

    ps_stats_log(collector->parts.dispatch, collector->stats_previous,
                 collector->settings->stats_interval);
    for (guint i = 0; i < sockets->len; i++)
        kernel_drops += ps_socket_kernel_drops(g_ptr_array_index(sockets, i));
    if (kernel_drops > 0)
        g_warning("the kernel dropped %" G_GUINT64_FORMAT " datagrams so far (receive buffer full)",
                  kernel_drops);
    queue_full = ps_socket_reader_queue_full(collector->parts.reader);
    if (queue_full > 0)
        g_warning("the receive queue was full %" G_GUINT64_FORMAT " times so far (decoding fell "
                  "behind by receive_queue bytes; the kernel buffer took the rest)",
                  queue_full);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_flush_timer(gpointer user_data)
{
    Collector *collector = user_data;

    ps_store_flush(collector->parts.store, g_get_real_time() / 1000);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_publish_timer(gpointer user_data)
{
    Collector *collector = user_data;

    ps_collector_metrics_publish(collector->metrics, &collector->parts);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_stop_signal(gpointer user_data)
{
    Collector *collector = user_data;

    g_message("stopping");
    g_main_loop_quit(collector->loop);
    return G_SOURCE_REMOVE;
}

/* (Re)starts the periodic timers whose interval changed (all of them the first time); a
 * timer whose interval stayed keeps its phase, so reloads never postpone a flush. */
static void
schedule_timers(Collector *collector, const PsCollectorSettings *previous)
{
    const PsCollectorSettings *now = collector->settings;

    if (previous == NULL || previous->stats_interval != now->stats_interval) {
        if (collector->stats_timer != 0)
            g_source_remove(collector->stats_timer);
        collector->stats_timer =
            g_timeout_add_seconds((guint)now->stats_interval, on_stats_timer, collector);
    }
    if (collector->parts.store != NULL &&
        (previous == NULL || previous->flush_interval != now->flush_interval)) {
        if (collector->flush_timer != 0)
            g_source_remove(collector->flush_timer);
        collector->flush_timer =
            g_timeout_add_seconds((guint)now->flush_interval, on_flush_timer, collector);
    }
}

/* Applies what may change while running: log level, allow-list, default sampling, home
 * networks and service ports. The values were checked when the settings were loaded. */
static void
apply_live_settings(Collector *collector)
{
    const PsCollectorSettings *settings = collector->settings;
    PsLogLevel level = PS_LOG_MESSAGE;

    ps_logging_parse_level(settings->log_level, &level);
    ps_logging_set_level(level);
    ps_allowlist_set(collector->parts.allowlist, (const char *const *)settings->allow, NULL);
    ps_dispatch_set_sampling(collector->parts.dispatch, NULL, (guint32)settings->sampling);
    if (collector->parts.store != NULL) {
        PsAggregateConfig classes;
        g_autoptr(GArray) networks = g_array_new(FALSE, TRUE, sizeof(PsNetwork));
        g_autoptr(GArray) ports = g_array_new(FALSE, TRUE, sizeof(guint16));
        ps_settings_classes(settings, &classes, networks, ports);
        ps_aggregate_set_classes(ps_store_aggregate(collector->parts.store), &classes);
    }
}

/* SIGHUP: a fresh PsCollectorSettings from the file and the command line; swapped in only if
 * it is valid, with what needs a restart kept as it runs. Open buckets are not touched. */
static gboolean
on_reload_signal(gpointer user_data)
{
    Collector *collector = user_data;
    g_autoptr(GError) error = NULL;
    g_autoptr(PsCollectorSettings) previous = NULL;
    PsCollectorSettings *next = ps_settings_load(collector->config_path, collector->options,
                                                 collector->actions.verbose, &error);

    if (next == NULL) {
        collector->parts.reload_failures++;
        g_warning("reload failed, the running configuration stays: %s", error->message);
        return G_SOURCE_CONTINUE;
    }
    ps_settings_keep_restart_keys(next, collector->settings);
    previous = collector->settings;
    collector->settings = next;
    apply_live_settings(collector);
    schedule_timers(collector, previous);
    collector->parts.reloads++;
    g_message("configuration reloaded from %s",
              collector->config_path != NULL ? collector->config_path : "the command line");
    return G_SOURCE_CONTINUE;
}

static gboolean
open_sockets(Collector *collector, GError **error)
{
    gchar **listen = collector->settings->listen;

    for (guint i = 0; listen != NULL && listen[i] != NULL; i++) {
        PsAddress address;
        guint16 port;
        PsSocket *socket;

        if (!ps_socket_parse_listen(listen[i], &address, &port, error))
            return FALSE;
        socket = ps_socket_open(&address, port, (gsize)collector->settings->rcvbuf, error);
        if (socket == NULL)
            return FALSE;
        g_ptr_array_add(collector->parts.sockets, socket);
        g_message("listening on %s (NetFlow v5, v9 and IPFIX)", listen[i]);
    }
    return TRUE;
}

/* Everything that may need root: the UDP sockets and the metrics listener; then root goes. */
static gboolean
bind_and_drop(Collector *collector, GError **error)
{
    const char *metrics = collector->settings->metrics;

    if (!open_sockets(collector, error))
        return FALSE;
    if (metrics != NULL) {
        collector->metrics = ps_collector_metrics_start(metrics, error);
        if (collector->metrics == NULL)
            return FALSE;
        ps_collector_metrics_publish(collector->metrics, &collector->parts);
        g_message("metrics on %s, port %u, at /metrics", metrics,
                  ps_collector_metrics_port(collector->metrics));
    }
    return ps_privileges_drop(collector->settings->user, error);
}

static int
run_live(Collector *collector)
{
    g_autoptr(GError) error = NULL;
    int status = EXIT_SUCCESS;

    /* handlers first: a supervisor may signal as soon as the sockets are logged as bound, and
     * SIGHUP's default action would end the process; they are dispatched once the loop runs */
    collector->loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGINT, on_stop_signal, collector);
    g_unix_signal_add(SIGTERM, on_stop_signal, collector);
    g_unix_signal_add(SIGHUP, on_reload_signal, collector);
    if (!bind_and_drop(collector, &error)) {
        g_printerr("%s\n", error->message);
        g_main_loop_unref(collector->loop);
        return EXIT_FAILURE;
    }
    collector->parts.reader =
        ps_socket_reader_start(collector->parts.sockets, (gsize)collector->settings->receive_queue);
    g_unix_fd_add(ps_socket_reader_fd(collector->parts.reader), G_IO_IN, on_queued, collector);
    schedule_timers(collector, NULL);
    if (collector->metrics != NULL)
        g_timeout_add(PS_COLLECTOR_METRICS_PUBLISH_MS, on_publish_timer, collector);
    g_main_loop_run(collector->loop);
    g_main_loop_unref(collector->loop);
    /* no scrape may read the parts while they are torn down */
    g_clear_pointer(&collector->metrics, ps_collector_metrics_stop);
    /* what was received before the signal is counted too */
    ps_socket_reader_stop(collector->parts.reader);
    ps_socket_reader_drain(collector->parts.reader, on_queued_datagram, collector, G_MAXUINT);
    flush_output(collector);
    /* SIGTERM/SIGINT: every open bucket goes to Redis before exit */
    if (collector->parts.store != NULL &&
        !ps_store_close(collector->parts.store, g_get_real_time() / 1000, 15000))
        status = EXIT_FAILURE;
    if (collector->actions.print_stats)
        print_exporter_stats(collector);
    return status;
}

static gboolean
parse_options(Collector *collector, int *argc, char ***argv, GError **error)
{
    Actions *actions = &collector->actions;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &actions->config,
         "Configuration file (default: " PS_SETTINGS_DEFAULT_PATH " if it exists); options "
         "given here override it",
         "FILE"},
        {"check-config", 0, 0, G_OPTION_ARG_NONE, &actions->check_config,
         "Check the configuration and exit: 0 when valid, 2 (with the reason) when not", NULL},
        {"read", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &actions->read_files,
         "Decode captures (pcap, pcapng) or raw export files offline, in order, as one "
         "stream; print records as JSON Lines",
         "FILE..."},
        {"dump", 'd', 0, G_OPTION_ARG_NONE, &actions->dump,
         "Print every received record as JSON Lines on stdout", NULL},
        {"exporter", 0, 0, G_OPTION_ARG_STRING, &actions->raw_exporter,
         "Exporter address for raw files read with --read (default: 0.0.0.0)", "ADDR"},
        {"stats", 0, 0, G_OPTION_ARG_NONE, &actions->print_stats,
         "At the end, print per-exporter counters as JSON Lines on stderr", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &actions->verbose, "Log more: log level info", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &actions->version, "Print the version", NULL},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context = g_option_context_new("- receive NetFlow v5/v9 and IPFIX");

    collector->options = ps_settings_options_new();
    g_option_context_set_main_group(context,
                                    ps_conffile_options_group(collector->options, entries));
    g_option_context_set_description(
        context, "Every option but the first eight is also a key of [collector] or [redis] in "
                 "the configuration file (contrib/portsurge.conf lists them).\n"
                 "Signals: SIGHUP reloads the configuration, SIGTERM writes every open bucket "
                 "and exits.");
    return g_option_context_parse(context, argc, argv, error);
}

/* GOptionContext hands the strings and arrays it parsed to the caller: free them before exit,
 * or LeakSanitizer fails every run of an ASan build. */
static void
actions_clear(Actions *actions)
{
    g_clear_pointer(&actions->config, g_free);
    g_clear_pointer(&actions->read_files, g_strfreev);
    g_clear_pointer(&actions->raw_exporter, g_free);
}

/* [redis] url and the aggregation settings -> a running PsStore; NULL with error. */
static PsStore *
make_store(Collector *collector, GError **error)
{
    const PsCollectorSettings *settings = collector->settings;
    PsAggregateConfig aggregate;
    PsFlushConfig flush = {0};
    g_autoptr(GArray) networks = g_array_new(FALSE, TRUE, sizeof(PsNetwork));
    g_autoptr(GArray) ports = g_array_new(FALSE, TRUE, sizeof(guint16));
    PsRedisAddress address;
    PsStore *store;

    ps_settings_aggregate_config(settings, &aggregate, networks, ports);
    if (!ps_redis_config_address(&settings->redis, &address, error))
        return NULL;
    flush.address = address;
    flush.prefix = settings->redis.prefix != NULL ? settings->redis.prefix : PS_KEYS_DEFAULT_PREFIX;
    flush.collector_id =
        settings->collector_id != NULL ? settings->collector_id : g_get_host_name();
    flush.minute_ttl_s = (guint)settings->minute_ttl_days * 86400;
    flush.hour_ttl_s = (guint)settings->hour_ttl_days * 86400;
    flush.top_k = (guint)settings->top_k;
    flush.max_pending_bytes = (gsize)settings->max_pending;
    flush.new_sources_horizon_s = ps_settings_new_sources_horizon(settings);
    flush.new_sources_max = (guint)settings->new_sources_max;
    flush.chunk_series = (guint)settings->redis_chunk;
    flush.timeout_ms = 5000;
    flush.backoff_max_ms = 30000;
    store = ps_store_new(&aggregate, &flush, collector->parts.dispatch);
    ps_redis_address_clear(&address);
    return store;
}

static gchar **
files_to_read(Actions *actions, int argc, char **argv)
{
    GPtrArray *files = g_ptr_array_new();

    /* --read a b c: GOption takes a, the rest stay as arguments */
    for (guint i = 0; actions->read_files[i] != NULL; i++)
        g_ptr_array_add(files, g_strdup(actions->read_files[i]));
    for (int i = 1; i < argc; i++)
        g_ptr_array_add(files, g_strdup(argv[i]));
    g_ptr_array_add(files, NULL);
    return (gchar **)g_ptr_array_free(files, FALSE);
}

/* --config, else the default file when it exists, else none. */
static const char *
config_path(const Actions *actions)
{
    if (actions->config != NULL)
        return actions->config;
    return g_file_test(PS_SETTINGS_DEFAULT_PATH, G_FILE_TEST_EXISTS) ? PS_SETTINGS_DEFAULT_PATH
                                                                     : NULL;
}

/* Command line and configuration file -> collector->settings; the exit status on failure
 * (-1: go on). */
static int
configure(Collector *collector, int *argc, char ***argv)
{
    g_autoptr(GError) error = NULL;

    if (!parse_options(collector, argc, argv, &error)) {
        g_printerr("%s (see --help)\n", error->message);
        return EXIT_CONFIG;
    }
    if (collector->actions.version) {
        g_print("portsurge-collector %s\n", PS_VERSION);
        return EXIT_SUCCESS;
    }
    collector->config_path = config_path(&collector->actions);
    collector->settings = ps_settings_load(collector->config_path, collector->options,
                                           collector->actions.verbose, &error);
    if (collector->settings == NULL) {
        g_printerr("%s\n", error->message);
        return EXIT_CONFIG;
    }
    if (collector->actions.check_config) {
        g_print("%s: valid\n",
                collector->config_path != NULL ? collector->config_path : "command line");
        return EXIT_SUCCESS;
    }
    return -1;
}

/* The parts the settings describe; the exit status on failure (-1: go on). */
static int
build(Collector *collector)
{
    g_autoptr(GError) error = NULL;
    const Actions *actions = &collector->actions;

    collector->parts.dispatch = ps_dispatch_new(on_flow, collector, &error);
    if (collector->parts.dispatch == NULL) {
        g_printerr("%s\n", error->message);
        return EXIT_FAILURE;
    }
    collector->parts.sockets = g_ptr_array_new_with_free_func((GDestroyNotify)ps_socket_close);
    collector->parts.allowlist = ps_allowlist_new();
    collector->stats_previous = ps_stats_new();
    /* --read prints records unless they go to Redis; --dump always prints */
    if ((actions->read_files != NULL && collector->settings->redis.url == NULL) || actions->dump)
        collector->out = g_string_sized_new(1 << 16);
    if (collector->settings->redis.url != NULL) {
        collector->parts.store = make_store(collector, &error);
        if (collector->parts.store == NULL) {
            g_printerr("%s\n", error->message);
            return EXIT_CONFIG;
        }
        ps_dispatch_set_flow_slots(collector->parts.dispatch,
                                   &(PsFlowSlots){reserve_flows, commit_flows, collector});
    }
    apply_live_settings(collector);
    if (collector->config_path != NULL)
        g_message("configuration from %s", collector->config_path);
    return -1;
}

static void
collector_clear(Collector *collector)
{
    ps_store_free(collector->parts.store);
    ps_dispatch_free(collector->parts.dispatch);
    g_clear_pointer(&collector->parts.reader, ps_socket_reader_free);
    g_clear_pointer(&collector->parts.sockets, g_ptr_array_unref);
    g_clear_pointer(&collector->parts.allowlist, ps_allowlist_free);
    g_clear_pointer(&collector->stats_previous, g_hash_table_unref);
    if (collector->out != NULL)
        g_string_free(collector->out, TRUE);
    g_clear_pointer(&collector->settings, ps_settings_free);
    g_clear_pointer(&collector->options, ps_conffile_options_free);
    actions_clear(&collector->actions);
}

int
main(int argc, char **argv)
{
    Collector collector = {0};
    int status;

    /* hiredis writes with write(2): a Redis that went away must be an error, not SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    ps_logging_init();

    status = configure(&collector, &argc, &argv);
    if (status < 0)
        status = build(&collector);
    if (status < 0 && collector.actions.read_files != NULL) {
        g_auto(GStrv) files = files_to_read(&collector.actions, argc, argv);
        status = read_files(&collector, files);
    } else if (status < 0) {
        status = run_live(&collector);
    }
    collector_clear(&collector);
    return status;
}
