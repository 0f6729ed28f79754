/* NetFlow v5 decoding of crafted packets: every field, the sysUptime time arithmetic,
 * sampling from the header or the configuration, sequence gaps, files of concatenated
 * datagrams, and flows decoded in place (the store's slots). */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "builder.h"
#include "decode_v5.h"
#include "flow_json.h"
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

/* Sampling configured for the exporter, or for all, applies where the header says none, and
 * a change to it applies from the next packet on, also to an exporter seen before. */
static void
test_v5_configured_sampling(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsAddress exporter;
    PsPacket packet;
    const struct {
        const char *configured_for; /* NULL: every exporter; "": no change */
        guint32 interval;
        guint16 header_sampling;
        guint32 expected;
    } steps[] = {
        {"", 0, 0, 1},
        {NULL, 100, 0, 100},
        {"192.0.2.1", 10, 0, 10},
        {"", 0, 1u << 14 | 512, 512}, /* the header's own wins */
        {"192.0.2.1", 0, 0, 100},     /* 0 for the exporter: the default again */
        {NULL, 1, 0, 1},
    };

    g_assert_true(ps_address_parse("192.0.2.1", &exporter));
    for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
        if (steps[i].configured_for == NULL)
            ps_dispatch_set_sampling(decoder->dispatch, NULL, steps[i].interval);
        else if (*steps[i].configured_for != '\0')
            ps_dispatch_set_sampling(decoder->dispatch, &exporter, steps[i].interval);
        build_v5(&packet, 2 * i, steps[i].header_sampling, 2);
        g_array_set_size(decoder->flows, 0);
        ps_test_decoder_packet(decoder, &exporter, packet.data, packet.len);
        g_assert_cmpuint(decoder->flows->len, ==, 2);
        for (guint k = 0; k < 2; k++)
            g_assert_cmpuint(g_array_index(decoder->flows, PsFlow, k).sampling, ==,
                             steps[i].expected);
    }
}

/* Slots in a test-owned array, as the store gives them */
typedef struct {
    PsFlow room[2 * PS_V5_MAX_RECORDS];
    guint used;
    guint commits;
} Slots;

static PsFlow *
reserve_slots(guint n, gpointer user_data)
{
    Slots *slots = user_data;

    g_assert_cmpuint(slots->used + n, <=, G_N_ELEMENTS(slots->room));
    return &slots->room[slots->used];
}

static void
commit_slots(PsFlow *flows, guint n, gpointer user_data)
{
    Slots *slots = user_data;

    g_assert_true(flows == &slots->room[slots->used]);
    slots->used += n;
    slots->commits++;
}

static void
assert_same_flows(const PsFlow *expected, const PsFlow *got, guint n)
{
    g_autoptr(GString) expected_json = g_string_new(NULL);
    g_autoptr(GString) got_json = g_string_new(NULL);

    for (guint i = 0; i < n; i++) {
        ps_flow_json_append(&expected[i], expected_json);
        ps_flow_json_append(&got[i], got_json);
        /* whole addresses, the bytes no JSON shows included: the aggregation hashes them */
        g_assert_cmpmem(&expected[i].src, sizeof(PsAddress), &got[i].src, sizeof(PsAddress));
        g_assert_cmpmem(&expected[i].dst, sizeof(PsAddress), &got[i].dst, sizeof(PsAddress));
        g_assert_cmpmem(&expected[i].exporter, sizeof(PsAddress), &got[i].exporter,
                        sizeof(PsAddress));
    }
    g_assert_cmpstr(got_json->str, ==, expected_json->str);
}

/* Flows decoded in place into slots are those the sink gets, every field written over
 * whatever the slots held; a packet that fails to decode commits nothing. */
static void
test_v5_flow_slots(void)
{
    g_autoptr(PsTestDecoder) by_sink = ps_test_decoder_new();
    g_autoptr(PsTestDecoder) in_place = ps_test_decoder_new();
    Slots slots = {.used = 0};
    PsPacket packet;

    memset(slots.room, 0xa5, sizeof(slots.room));
    ps_dispatch_set_flow_slots(in_place->dispatch,
                               &(PsFlowSlots){reserve_slots, commit_slots, &slots});
    build_v5(&packet, 100, 0, 2);
    ps_test_decoder_packet(by_sink, NULL, packet.data, packet.len);
    ps_test_decoder_packet(in_place, NULL, packet.data, packet.len);
    packet.data[3] = 3; /* a count of 3 records in the length of 2 */
    ps_test_decoder_packet(in_place, NULL, packet.data, packet.len);
    build_v5(&packet, 102, 1u << 14 | 64, 1);
    ps_test_decoder_packet(by_sink, NULL, packet.data, packet.len);
    ps_test_decoder_packet(in_place, NULL, packet.data, packet.len);

    g_assert_cmpuint(slots.commits, ==, 2);
    g_assert_cmpuint(slots.used, ==, 3);
    g_assert_cmpuint(in_place->flows->len, ==, 0); /* the sink is not called */
    g_assert_cmpuint(by_sink->flows->len, ==, 3);
    assert_same_flows(&g_array_index(by_sink->flows, PsFlow, 0), slots.room, 3);
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
    g_test_add_func("/decode/v5/configured-sampling", test_v5_configured_sampling);
    g_test_add_func("/decode/v5/flow-slots", test_v5_flow_slots);
    g_test_add_func("/decode/v5/sequence-gap", test_v5_sequence_gap);
    g_test_add_func("/decode/v5/concatenated-datagrams", test_v5_concatenated);
    return g_test_run();
}
