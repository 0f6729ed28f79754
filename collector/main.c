/* portsurge-collector: options, signals and the main loop only. */
#include "config.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture.h"
#include "dispatch.h"
#include "flow_json.h"
#include "socket.h"
#include "stats.h"

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
} Options;

typedef struct {
    Options options;
    PsDispatch *dispatch;
    GPtrArray *sockets;
    GHashTable *stats_previous;
    GString *out;
    GMainLoop *loop;
    guint64 records;
} Collector;

static void
on_flow(const PsFlow *flow, gpointer user_data)
{
    Collector *collector = user_data;

    collector->records++;
    if (collector->out != NULL)
        ps_flow_json_append(flow, collector->out);
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
    gsize offset = 0;

    /* a raw file may hold several datagrams back to back; a UDP payload is one datagram */
    do {
        gsize used = ps_dispatch_packet(collector->dispatch, exporter, data + offset,
                                        len - offset, time_ms);
        if (used == 0)
            break;
        offset += used;
    } while (whole_file && len - offset >= 4);
    flush_output(collector);
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
    if (collector->options.print_stats)
        print_exporter_stats(collector);
    return status;
}

static void
on_datagram(const PsAddress *sender, const guint8 *data, gsize len, gpointer user_data)
{
    Collector *collector = user_data;

    ps_dispatch_packet(collector->dispatch, sender, data, len, g_get_real_time() / 1000);
}

static gboolean
on_readable(gint fd, GIOCondition condition, gpointer user_data)
{
    Collector *collector = user_data;

    (void)condition;
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
    g_main_loop_run(collector->loop);
    g_main_loop_unref(collector->loop);
    flush_output(collector);
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
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose, "Log more (info level)", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &options->version, "Print the version", NULL},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context = g_option_context_new("- receive NetFlow v5/v9 and IPFIX");

    options->rcvbuf = DEFAULT_RCVBUF;
    options->stats_interval = 60;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, argc, argv, error))
        return FALSE;
    if (options->sampling < 0 || options->stats_interval <= 0 || options->rcvbuf <= 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--sampling, --stats-interval and --rcvbuf take positive numbers");
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
    if (collector.options.read_files != NULL || collector.options.dump)
        collector.out = g_string_sized_new(1 << 16);

    if (collector.options.read_files != NULL) {
        g_auto(GStrv) files = files_to_read(&collector.options, argc, argv);
        status = read_files(&collector, files);
    } else {
        status = run_live(&collector);
    }

    ps_dispatch_free(collector.dispatch);
    g_ptr_array_unref(collector.sockets);
    g_hash_table_unref(collector.stats_previous);
    if (collector.out != NULL)
        g_string_free(collector.out, TRUE);
    options_clear(&collector.options);
    return status;
}
