/* NetFlow v5 decoding of crafted packets: every field, the sysUptime time arithmetic,
 * sampling from the header, sequence gaps, and files of concatenated datagrams. */
#include "config.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "builder.h"
#include "packets.h"

#define EXPORT_SECS   1700000000u
#define EXPORT_NSECS  250000000u
#define EXPORT_UPTIME 3600000u /* one hour after boot */



static const PsV5TestRecord records[] = {
    {"10.1.2.3", "192.0.2.10", 51515, 445, 6, 0x02, 1, 60, EXPORT_UPTIME - 5000, EXPORT_UPTIME - 5000},
    {"198.51.100.7", "10.9.8.7", 53, 40000, 17, 0, 3, 420, EXPORT_UPTIME - 2000, EXPORT_UPTIME - 1000},
};

static void
build_v5(PsPacket *packet, guint32 sequence, guint16 sampling_field, guint n_records)
{
    PsV5TestHeader header = {EXPORT_UPTIME, EXPORT_SECS, EXPORT_NSECS, sequence, 1, 2,
                             sampling_field};

    g_assert_cmpuint(n_records, <=, G_N_ELEMENTS(records));
    ps_packet_v5(packet, &header, n_records, records, n_records);
}

static void
test_v5_fields(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsPacket packet;
    gint64 export_ms = (gint64)EXPORT_SECS * 1000 + EXPORT_NSECS / 1000000;
    char text[PS_ADDRESS_STRLEN];

    build_v5(&packet, 100, 0, 2);
    ps_test_decoder_packet(decoder, NULL, packet.data, packet.len);
    g_assert_cmpuint(decoder->flows->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        const PsFlow *flow = &g_array_index(decoder->flows, PsFlow, i);
        g_assert_cmpstr(ps_address_to_string(&flow->src, text), ==, records[i].src);
        g_assert_cmpstr(ps_address_to_string(&flow->dst, text), ==, records[i].dst);
        g_assert_cmpstr(ps_address_to_string(&flow->exporter, text), ==, "192.0.2.1");
        g_assert_cmpuint(flow->src_port, ==, records[i].src_port);
        g_assert_cmpuint(flow->dst_port, ==, records[i].dst_port);
        g_assert_cmpuint(flow->proto, ==, records[i].proto);
        g_assert_cmpuint(flow->tcp_flags, ==, records[i].tcp_flags);
        g_assert_cmpuint(flow->packets, ==, records[i].packets);
        g_assert_cmpuint(flow->bytes, ==, records[i].bytes);
        g_assert_cmpint(flow->start_ms, ==, export_ms - (EXPORT_UPTIME - records[i].first_uptime_ms));
        g_assert_cmpint(flow->end_ms, ==, export_ms - (EXPORT_UPTIME - records[i].last_uptime_ms));
        g_assert_cmpuint(flow->version, ==, 5);
        g_assert_cmpuint(flow->domain, ==, 1 << 8 | 2);
        g_assert_cmpuint(flow->sampling, ==, 1);
    }
}

static void
test_v5_sampling(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsPacket packet;

    build_v5(&packet, 0, 1u << 14 | 512, 1); /* mode 1 (deterministic), 1 in 512 */
    ps_test_decoder_packet(decoder, NULL, packet.data, packet.len);
    g_assert_cmpuint(g_array_index(decoder->flows, PsFlow, 0).sampling, ==, 512);
}

static void
test_v5_sequence_gap(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsExporterCounters counters;
    PsPacket packet;

    /* v5 sequence numbers count flows: 2 flows at 100 -> next expected 102 */
    build_v5(&packet, 100, 0, 2);
    ps_test_decoder_packet(decoder, NULL, packet.data, packet.len);
    build_v5(&packet, 102, 0, 2);
    ps_test_decoder_packet(decoder, NULL, packet.data, packet.len);
    build_v5(&packet, 110, 0, 2); /* 6 flows lost on the way */
    ps_test_decoder_packet(decoder, NULL, packet.data, packet.len);
    ps_test_decoder_counters(decoder, NULL, &counters);
    g_assert_cmpuint(counters.packets, ==, 3);
    g_assert_cmpuint(counters.records, ==, 6);
    g_assert_cmpuint(counters.sequence_gaps, ==, 1);
    g_assert_cmpuint(counters.sequence_lost, ==, 6);
    g_assert_cmpuint(counters.decode_errors, ==, 0);
}

static void
test_v5_concatenated(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    g_autofree gchar *path = NULL;
    g_autoptr(GByteArray) file = g_byte_array_new();
    PsPacket packet;
    int fd = g_file_open_tmp("ps-v5-XXXXXX", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    for (guint i = 0; i < 3; i++) {
        build_v5(&packet, i * 2, 0, 2);
        g_byte_array_append(file, packet.data, packet.len);
    }
    g_assert_true(g_file_set_contents(path, (const gchar *)file->data, file->len, NULL));
    g_assert_true(ps_test_decoder_file(decoder, path));
    g_assert_cmpuint(decoder->flows->len, ==, 6);
    g_unlink(path);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/decode/v5/fields", test_v5_fields);
    g_test_add_func("/decode/v5/sampling", test_v5_sampling);
    g_test_add_func("/decode/v5/sequence-gap", test_v5_sequence_gap);
    g_test_add_func("/decode/v5/concatenated-datagrams", test_v5_concatenated);
    return g_test_run();
}
