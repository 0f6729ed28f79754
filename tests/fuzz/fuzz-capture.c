/* libFuzzer target: a file as `portsurge-collector --read FILE` reads it, through
 * ps_capture_read_file() (collector/capture.c): pcap (either byte order, micro- or nanosecond)
 * and pcapng through libpcap, then our own walk of each frame's link layer (Ethernet with
 * VLAN tags, Linux SLL and SLL2, BSD loopback, raw IP), IPv4 or IPv6 with extension headers,
 * and UDP, to its payload; any file without a capture's magic number is a raw export file,
 * handed over whole. The input is the file (an in-memory file: fuzz-util.h). The callback
 * reads every byte of every payload and the counters must add up. */
#include "config.h"

#include "capture.h"
#include "fuzz-util.h"

typedef struct {
    gsize file_size;
    guint64 payloads;
    guint64 checksum;
} Seen;

static void
on_payload(const PsAddress *exporter, const guint8 *data, gsize len, gint64 time_ms,
           gboolean whole_file, gpointer user_data)
{
    Seen *seen = user_data;
    char text[PS_ADDRESS_STRLEN];

    g_assert(exporter->family == 4 || exporter->family == 6);
    g_assert(len <= seen->file_size);
    g_assert(!whole_file || len == seen->file_size);
    seen->checksum += strlen(ps_address_to_string(exporter, text)) + (guint64)time_ms;
    for (gsize i = 0; i < len; i++)
        seen->checksum += data[i];
    seen->payloads++;
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    PsAddress raw_exporter;
    PsCaptureStats stats = {0};
    Seen seen = {.file_size = size};
    const char *path = ps_fuzz_util_file(data, size);

    ps_fuzz_util_quiet_logs();
    ps_address_parse("192.0.2.1", &raw_exporter);
    if (!ps_capture_read_file(path, &raw_exporter, on_payload, &seen, &stats, &error))
        return 0;
    g_assert_cmpuint(seen.payloads, ==, stats.udp_payloads);
    if (stats.frames > 0)
        g_assert_cmpuint(stats.frames, >=,
                         stats.udp_payloads + stats.skipped_not_udp + stats.skipped_fragments +
                             stats.skipped_truncated);
    return 0;
}
