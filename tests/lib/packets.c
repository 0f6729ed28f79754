#include "config.h"

#include "capture.h"
#include "packets.h"

static void
collect_flow(const PsFlow *flow, gpointer user_data)
{
    PsTestDecoder *decoder = user_data;

    g_array_append_val(decoder->flows, *flow);
}

static const PsAddress *
default_exporter(void)
{
    static PsAddress address;

    if (address.family == 0)
        ps_address_parse("192.0.2.1", &address);
    return &address;
}

gboolean
ps_test_fatal_unless_libfixbuf(const gchar *domain, GLogLevelFlags level, const gchar *message,
                               gpointer data)
{
    (void)level;
    (void)message;
    (void)data;
    return domain != NULL;
}

PsTestDecoder *
ps_test_decoder_new(void)
{
    PsTestDecoder *decoder = g_new0(PsTestDecoder, 1);
    g_autoptr(GError) error = NULL;

    g_test_log_set_fatal_handler(ps_test_fatal_unless_libfixbuf, NULL);
    decoder->flows = g_array_new(FALSE, TRUE, sizeof(PsFlow));
    decoder->dispatch = ps_dispatch_new(collect_flow, decoder, &error);
    g_assert_no_error(error);
    return decoder;
}

void
ps_test_decoder_free(PsTestDecoder *decoder)
{
    if (decoder == NULL)
        return;
    ps_dispatch_free(decoder->dispatch);
    g_array_unref(decoder->flows);
    g_free(decoder);
}

void
ps_test_decoder_packet(PsTestDecoder *decoder, const PsAddress *exporter, const guint8 *data,
                       gsize len)
{
    ps_dispatch_packet(decoder->dispatch, exporter != NULL ? exporter : default_exporter(), data,
                       len, g_get_real_time() / 1000);
}

static void
on_capture(const PsAddress *exporter, const guint8 *data, gsize len, gint64 time_ms,
           gboolean whole_file, gpointer user_data)
{
    PsTestDecoder *decoder = user_data;

    ps_dispatch_capture(decoder->dispatch, exporter, data, len, time_ms, whole_file);
}

gboolean
ps_test_decoder_file(PsTestDecoder *decoder, const char *path)
{
    g_autoptr(GError) error = NULL;
    PsCaptureStats stats = {0};
    gboolean ok = ps_capture_read_file(path, default_exporter(), on_capture, decoder, &stats,
                                       &error);

    if (!ok)
        g_test_message("%s", error->message);
    return ok;
}

void
ps_test_decoder_counters(PsTestDecoder *decoder, const PsAddress *exporter,
                         PsExporterCounters *counters)
{
    PsExporter *found = g_hash_table_lookup(ps_dispatch_exporters(decoder->dispatch),
                                            exporter != NULL ? exporter : default_exporter());

    memset(counters, 0, sizeof(*counters));
    if (found != NULL)
        ps_exporter_total(found, counters);
}

void
ps_test_decoder_total(PsTestDecoder *decoder, PsExporterCounters *counters)
{
    GHashTableIter iter;
    PsExporter *exporter;

    memset(counters, 0, sizeof(*counters));
    g_hash_table_iter_init(&iter, ps_dispatch_exporters(decoder->dispatch));
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&exporter)) {
        PsExporterCounters one;
        ps_exporter_total(exporter, &one);
        ps_exporter_counters_add(counters, &one);
    }
}

gchar *
ps_test_shared_file(const char *relative)
{
    const char *root = g_getenv("PS_SHARED_TESTDATA");
    g_autofree gchar *path = NULL;

    if (root == NULL || !g_file_test(root, G_FILE_TEST_IS_DIR)) {
        g_test_skip("../shared/testdata/flows is absent: corpus files are read from there");
        return NULL;
    }
    path = g_build_filename(root, relative, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_test_skip_printf("%s is absent from ../shared", relative);
        return NULL;
    }
    return g_steal_pointer(&path);
}
