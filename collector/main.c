/* portsurge-collector: options, signals and the main loop only. */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture.h"
#include "dispatch.h"
#include "flow_json.h"
#include "socket.h"
#include "stats.h"
#include "bucket.h"
#include "store.h"

#define DEFAULT_RCVBUF   (32 * 1024 * 1024)
#define MAX_BATCHES_PER_WAKEUP 64 /* then let timers and signals run */

typedef struct {
    gchar **read_files;
    gchar **listen;
    gboolean dump;
    gboolean print_stats;
    gint64 rcvbuf;
    gint sampling;
    gint stats_interval;
    gchar *raw_exporter;
    gboolean verbose;
    gboolean version;
    /* aggregation into Redis */
    gchar *redis;
    gchar *prefix;
    gchar *collector_id;
    gint bucket;
    gint flush_interval;
    gint grace;
    gint top_k;
    gint max_series;
    gint max_sources;
    gint64 max_pending;
    gint clock_tolerance;
    gint minute_ttl_days;
    gint hour_ttl_days;
    gchar **home_networks;
    gchar **service_ports;
} Options;

typedef struct {
    Options options;
    PsDispatch *dispatch;
    GPtrArray *sockets;
    GHashTable *stats_previous;
    GString *out;
    GMainLoop *loop;
    guint64 records;
    PsStore *store;
    gint64 now_ms; /* receive time of the packet being decoded (capture time with --read) */
    gint64 last_flush_ms;
} Collector;

static void
on_flow(const PsFlow *flow, gpointer user_data)
{
    Collector *collector = user_data;

    collector->records++;
    if (collector->out != NULL)
        ps_flow_json_append(flow, collector->out);
    if (collector->store != NULL)
        ps_store_add(collector->store, flow, collector->now_ms);
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

    collector->now_ms = time_ms;
    ps_dispatch_capture(collector->dispatch, exporter, data, len, time_ms, whole_file);
    flush_output(collector);
    /* captures replay history: flush on their clock, as the live collector would have */
    if (collector->store != NULL &&
        time_ms - collector->last_flush_ms >= collector->options.flush_interval * 1000LL) {
        ps_store_flush(collector->store, time_ms);
        collector->last_flush_ms = time_ms;
    }
}

static void
print_exporter_stats(Collector *collector)
{
    GHashTableIter iter;
    PsExporter *exporter;
    g_autoptr(GString) text = g_string_new(NULL);

    g_hash_table_iter_init(&iter, ps_dispatch_exporters(collector->dispatch));
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&exporter))
        ps_stats_exporter_json(exporter, text);
    fputs(text->str, stderr);
}

static int
read_files(Collector *collector, gchar **files)
{
    PsAddress raw_exporter = {0};
    int status = EXIT_SUCCESS;

    if (collector->options.raw_exporter != NULL &&
        !ps_address_parse(collector->options.raw_exporter, &raw_exporter)) {
        g_printerr("--exporter %s: not an IPv4 or IPv6 address\n", collector->options.raw_exporter);
        return EXIT_FAILURE;
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
    if (collector->store != NULL &&
        !ps_store_close(collector->store, collector->now_ms, 30000))
        status = EXIT_FAILURE;
    if (collector->options.print_stats)
        print_exporter_stats(collector);
    return status;
}

static void
on_datagram(const PsAddress *sender, const guint8 *data, gsize len, gpointer user_data)
{
    Collector *collector = user_data;

    ps_dispatch_packet(collector->dispatch, sender, data, len, collector->now_ms);
}

static gboolean
on_readable(gint fd, GIOCondition condition, gpointer user_data)
{
    Collector *collector = user_data;

    (void)condition;
    collector->now_ms = g_get_real_time() / 1000;
    for (guint i = 0; i < collector->sockets->len; i++) {
        PsSocket *socket = g_ptr_array_index(collector->sockets, i);
        if (ps_socket_fd(socket) == fd)
            ps_socket_drain(socket, on_datagram, collector, MAX_BATCHES_PER_WAKEUP);
    }
    flush_output(collector);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_stats_timer(gpointer user_data)
{
    Collector *collector = user_data;
    guint64 kernel_drops = 0;

    ps_stats_log(collector->dispatch, collector->stats_previous, collector->options.stats_interval);
    for (guint i = 0; i < collector->sockets->len; i++)
        kernel_drops += ps_socket_kernel_drops(g_ptr_array_index(collector->sockets, i));
    if (kernel_drops > 0)
        g_warning("the kernel dropped %" G_GUINT64_FORMAT
                  " datagrams so far (receive buffer full)", kernel_drops);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_flush_timer(gpointer user_data)
{
    Collector *collector = user_data;

    ps_store_flush(collector->store, g_get_real_time() / 1000);
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

static gboolean
open_sockets(Collector *collector, GError **error)
{
    const char *defaults[] = {"[::]:2055", "[::]:4739", NULL};
    gchar **listen = collector->options.listen != NULL ? collector->options.listen
                                                       : (gchar **)defaults;

    for (guint i = 0; listen[i] != NULL; i++) {
        PsAddress address;
        guint16 port;
        PsSocket *socket;

        if (!ps_socket_parse_listen(listen[i], &address, &port, error))
            return FALSE;
        socket = ps_socket_open(&address, port, collector->options.rcvbuf, error);
        if (socket == NULL)
            return FALSE;
        g_ptr_array_add(collector->sockets, socket);
        g_unix_fd_add(ps_socket_fd(socket), G_IO_IN, on_readable, collector);
        g_message("listening on %s (NetFlow v5, v9 and IPFIX)", listen[i]);
    }
    return TRUE;
}

static int
run_live(Collector *collector)
{
    g_autoptr(GError) error = NULL;

    if (!open_sockets(collector, &error)) {
        g_printerr("%s\n", error->message);
        return EXIT_FAILURE;
    }
    collector->loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGINT, on_stop_signal, collector);
    g_unix_signal_add(SIGTERM, on_stop_signal, collector);
    g_timeout_add_seconds(collector->options.stats_interval, on_stats_timer, collector);
    if (collector->store != NULL)
        g_timeout_add_seconds(collector->options.flush_interval, on_flush_timer, collector);
    g_main_loop_run(collector->loop);
    g_main_loop_unref(collector->loop);
    flush_output(collector);
    /* SIGTERM/SIGINT: every open bucket goes to Redis before exit */
    if (collector->store != NULL &&
        !ps_store_close(collector->store, g_get_real_time() / 1000, 15000))
        return EXIT_FAILURE;
    if (collector->options.print_stats)
        print_exporter_stats(collector);
    return EXIT_SUCCESS;
}

static gboolean
parse_options(Options *options, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        {"read", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &options->read_files,
         "Decode captures (pcap, pcapng) or raw export files offline, in order, as one "
         "stream; print records as JSON Lines", "FILE..."},
        {"dump", 'd', 0, G_OPTION_ARG_NONE, &options->dump,
         "Print every received record as JSON Lines on stdout", NULL},
        {"listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &options->listen,
         "UDP address to receive on, repeatable (default [::]:2055 and [::]:4739, dual-stack)",
         "ADDR:PORT"},
        {"rcvbuf", 0, 0, G_OPTION_ARG_INT64, &options->rcvbuf,
         "Socket receive buffer in bytes (default 33554432)", "BYTES"},
        {"sampling", 0, 0, G_OPTION_ARG_INT, &options->sampling,
         "Sampling interval to assume when an exporter does not say (default 1)", "N"},
        {"exporter", 0, 0, G_OPTION_ARG_STRING, &options->raw_exporter,
         "Exporter address for raw files read with --read (default 0.0.0.0)", "ADDR"},
        {"stats", 0, 0, G_OPTION_ARG_NONE, &options->print_stats,
         "At the end, print per-exporter counters as JSON Lines on stderr", NULL},
        {"stats-interval", 0, 0, G_OPTION_ARG_INT, &options->stats_interval,
         "Seconds between per-exporter summaries in the log (default 60)", "S"},
        {"redis", 0, 0, G_OPTION_ARG_STRING, &options->redis,
         "Aggregate into Redis: redis://[user:password@]host:port/db or a unix socket path "
         "(password also from PS_REDIS_PASSWORD)", "URL"},
        {"prefix", 0, 0, G_OPTION_ARG_STRING, &options->prefix, "Redis key prefix (default ps:)",
         "PREFIX"},
        {"collector-id", 0, 0, G_OPTION_ARG_STRING, &options->collector_id,
         "Name of this collector in Redis (default: host name)", "ID"},
        {"bucket", 0, 0, G_OPTION_ARG_INT, &options->bucket,
         "Bucket length in seconds, 10 to 3600, dividing an hour (default 60)", "S"},
        {"flush-interval", 0, 0, G_OPTION_ARG_INT, &options->flush_interval,
         "Seconds between writes to Redis (default 5)", "S"},
        {"grace", 0, 0, G_OPTION_ARG_INT, &options->grace,
         "Seconds a bucket stays open for late flows after it ends (default 90)", "S"},
        {"home-network", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->home_networks,
         "Your own network, repeatable: counts are also kept inbound, outbound and internal",
         "CIDR"},
        {"service-port", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->service_ports,
         "A port of 1024 or above to treat as a service (well-known) port, repeatable", "PORT"},
        {"top-k", 0, 0, G_OPTION_ARG_INT, &options->top_k,
         "Heaviest sources kept per port and bucket (default 10)", "K"},
        {"max-series", 0, 0, G_OPTION_ARG_INT, &options->max_series,
         "Ports tracked per bucket; the rest count as 'other' (default 20000)", "N"},
        {"max-sources", 0, 0, G_OPTION_ARG_INT, &options->max_sources,
         "(port, source) pairs tracked per bucket for the top K (default 1000000)", "N"},
        {"max-pending", 0, 0, G_OPTION_ARG_INT64, &options->max_pending,
         "Bytes of flushes held while Redis is down; beyond, the oldest is dropped and counted "
         "(default 268435456)", "BYTES"},
        {"clock-tolerance", 0, 0, G_OPTION_ARG_INT, &options->clock_tolerance,
         "Seconds an exporter's clock may differ from ours before arrival time is used "
         "(default 300)", "S"},
        {"minute-ttl-days", 0, 0, G_OPTION_ARG_INT, &options->minute_ttl_days,
         "Days minute buckets are kept (default 8)", "DAYS"},
        {"hour-ttl-days", 0, 0, G_OPTION_ARG_INT, &options->hour_ttl_days,
         "Days hour buckets are kept (default 400)", "DAYS"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose, "Log more (info level)", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &options->version, "Print the version", NULL},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context = g_option_context_new("- receive NetFlow v5/v9 and IPFIX");

    options->rcvbuf = DEFAULT_RCVBUF;
    options->stats_interval = 60;
    options->bucket = 60;
    options->flush_interval = 5;
    options->grace = 90;
    options->top_k = 10;
    options->max_series = 20000;
    options->max_sources = 1000000;
    options->max_pending = 256 * 1024 * 1024;
    options->clock_tolerance = 300;
    options->minute_ttl_days = PS_BUCKET_MINUTE_TTL_DAYS;
    options->hour_ttl_days = PS_BUCKET_HOUR_TTL_DAYS;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, argc, argv, error))
        return FALSE;
    if (options->sampling < 0 || options->stats_interval <= 0 || options->rcvbuf <= 0 ||
        options->flush_interval <= 0 || options->grace < 0 || options->top_k <= 0 ||
        options->max_series < 2 || options->max_sources <= 0 || options->max_pending <= 0 ||
        options->clock_tolerance <= 0 || options->minute_ttl_days <= 0 ||
        options->hour_ttl_days <= 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "numeric options take positive numbers (--max-series at least 2)");
        return FALSE;
    }
    if (!ps_bucket_step_valid(options->bucket)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--bucket %d: must be 10 to 3600 seconds and divide an hour", options->bucket);
        return FALSE;
    }
    return TRUE;
}

/* GOptionContext hands the strings and arrays it parsed to the caller: free them before exit,
 * or LeakSanitizer fails every run of an ASan build. */
static void
options_clear(Options *options)
{
    g_clear_pointer(&options->read_files, g_strfreev);
    g_clear_pointer(&options->listen, g_strfreev);
    g_clear_pointer(&options->raw_exporter, g_free);
    g_clear_pointer(&options->redis, g_free);
    g_clear_pointer(&options->prefix, g_free);
    g_clear_pointer(&options->collector_id, g_free);
    g_clear_pointer(&options->home_networks, g_strfreev);
    g_clear_pointer(&options->service_ports, g_strfreev);
}

/* --redis and the aggregation options -> a running PsStore; NULL with error on bad values. */
static PsStore *
make_store(Collector *collector, GError **error)
{
    Options *o = &collector->options;
    PsAggregateConfig aggregate;
    PsFlushConfig flush = {0};
    g_autoptr(GArray) networks = g_array_new(FALSE, TRUE, sizeof(PsNetwork));
    g_autoptr(GArray) ports = g_array_new(FALSE, TRUE, sizeof(guint16));
    PsRedisAddress address;
    PsStore *store;

    ps_aggregate_config_init(&aggregate);
    for (guint i = 0; o->home_networks != NULL && o->home_networks[i] != NULL; i++) {
        PsNetwork network;
        if (!ps_network_parse(o->home_networks[i], &network, error))
            return NULL;
        g_array_append_val(networks, network);
    }
    for (guint i = 0; o->service_ports != NULL && o->service_ports[i] != NULL; i++) {
        guint64 port;
        if (!g_ascii_string_to_unsigned(o->service_ports[i], 10, 1, 65535, &port, error)) {
            g_prefix_error(error, "--service-port: ");
            return NULL;
        }
        g_array_append_val(ports, port);
        g_array_index(ports, guint16, ports->len - 1) = (guint16)port;
    }
    if (!ps_redis_address_parse(o->redis, &address, error))
        return NULL;
    aggregate.step = o->bucket;
    aggregate.grace_s = o->grace;
    aggregate.clock_tolerance_ms = o->clock_tolerance * 1000LL;
    aggregate.retention_s = (gint64)o->minute_ttl_days * 86400;
    aggregate.max_series = o->max_series;
    aggregate.max_sources = o->max_sources;
    aggregate.top_k = o->top_k;
    aggregate.home_networks = networks->len > 0 ? &g_array_index(networks, PsNetwork, 0) : NULL;
    aggregate.n_home_networks = networks->len;
    aggregate.service_ports = ports->len > 0 ? &g_array_index(ports, guint16, 0) : NULL;
    aggregate.n_service_ports = ports->len;
    flush.address = address;
    flush.prefix = o->prefix != NULL ? o->prefix : PS_KEYS_DEFAULT_PREFIX;
    flush.collector_id = o->collector_id != NULL ? o->collector_id : g_get_host_name();
    flush.minute_ttl_s = o->minute_ttl_days * 86400;
    flush.hour_ttl_s = o->hour_ttl_days * 86400;
    flush.top_k = o->top_k;
    flush.max_pending_bytes = o->max_pending;
    flush.timeout_ms = 5000;
    flush.backoff_max_ms = 30000;
    store = ps_store_new(&aggregate, &flush, collector->dispatch);
    ps_redis_address_clear(&address);
    return store;
}

static gchar **
files_to_read(Options *options, int argc, char **argv)
{
    GPtrArray *files = g_ptr_array_new();

    /* --read a b c: GOption takes a, the rest stay as arguments */
    for (guint i = 0; options->read_files[i] != NULL; i++)
        g_ptr_array_add(files, g_strdup(options->read_files[i]));
    for (int i = 1; i < argc; i++)
        g_ptr_array_add(files, g_strdup(argv[i]));
    g_ptr_array_add(files, NULL);
    return (gchar **)g_ptr_array_free(files, FALSE);
}

int
main(int argc, char **argv)
{
    Collector collector = {0};
    g_autoptr(GError) error = NULL;
    int status;

    /* hiredis writes with write(2): a Redis that went away must be an error, not SIGPIPE */
    signal(SIGPIPE, SIG_IGN);

    if (!parse_options(&collector.options, &argc, &argv, &error)) {
        g_printerr("%s\n", error->message);
        options_clear(&collector.options);
        return 2;
    }
    if (collector.options.version) {
        g_print("portsurge-collector %s\n", PS_VERSION);
        options_clear(&collector.options);
        return EXIT_SUCCESS;
    }
    if (collector.options.verbose)
        g_log_set_debug_enabled(TRUE);

    collector.dispatch = ps_dispatch_new(on_flow, &collector, &error);
    if (collector.dispatch == NULL) {
        g_printerr("%s\n", error->message);
        options_clear(&collector.options);
        return EXIT_FAILURE;
    }
    ps_dispatch_set_sampling(collector.dispatch, NULL, collector.options.sampling);
    collector.sockets = g_ptr_array_new_with_free_func((GDestroyNotify)ps_socket_close);
    collector.stats_previous = ps_stats_new();
    /* --read prints records unless they go to Redis; --dump always prints */
    if ((collector.options.read_files != NULL && collector.options.redis == NULL) ||
        collector.options.dump)
        collector.out = g_string_sized_new(1 << 16);
    if (collector.options.redis != NULL) {
        collector.store = make_store(&collector, &error);
        if (collector.store == NULL) {
            g_printerr("%s\n", error->message);
            options_clear(&collector.options);
            ps_dispatch_free(collector.dispatch);
            return 2;
        }
    }

    if (collector.options.read_files != NULL) {
        g_auto(GStrv) files = files_to_read(&collector.options, argc, argv);
        status = read_files(&collector, files);
    } else {
        status = run_live(&collector);
    }

    ps_store_free(collector.store);
    ps_dispatch_free(collector.dispatch);
    g_ptr_array_unref(collector.sockets);
    g_hash_table_unref(collector.stats_previous);
    if (collector.out != NULL)
        g_string_free(collector.out, TRUE);
    options_clear(&collector.options);
    return status;
}
