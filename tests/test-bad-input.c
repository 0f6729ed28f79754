/* Bad input, one test path per kind of lie a datagram can tell: each bad packet must move the
 * exporter's decode_errors or bad_templates by exactly the expected amount, emit no flow, and
 * leave the exporter able to decode the next valid v5, v9 and IPFIX packets field for field.
 *
 * Which counter a fault lands in follows the code, not a wish: IPFIX templates refused by the
 * structural scan count as bad_templates (the message itself is fine), while faults that stop
 * a v9 datagram from being converted (including v9 templates with no fields or no scope)
 * count as decode_errors. */
#include "config.h"

#include <string.h>

#include "builder.h"
#include "cursor.h"
#include "packets.h"

#define EXPORT_SECS   1700000000u
#define SYS_UPTIME_MS 100000u
#define TEMPLATE_ID   256
#define RANDOM_SEED   0x5eed2024u
#define N_RANDOM      1000

/* ---- valid packets the exporter must still decode afterwards ---- */

/* IPFIX and v9 share the data template: 8+8+4+4+2+2+1+1 = 30 bytes per record, IPFIX with
 * millisecond times, v9 with sysUptime (FIRST_SWITCHED 22, LAST_SWITCHED 21) in their place. */
static const guint16 ipfix_fields[][2] = {
    {2, 8},   /* packetDeltaCount */
    {1, 8},   /* octetDeltaCount */
    {8, 4},   /* sourceIPv4Address */
    {12, 4},  /* destinationIPv4Address */
    {7, 2},   /* sourceTransportPort */
    {11, 2},  /* destinationTransportPort */
    {4, 1},   /* protocolIdentifier */
    {6, 1},   /* tcpControlBits */
    {152, 8}, /* flowStartMilliseconds */
    {153, 8}, /* flowEndMilliseconds */
};
static const guint16 v9_fields[][2] = {
    {2, 4}, {1, 4}, {8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {22, 4}, {21, 4},
};

typedef struct {
    const char *src;
    const char *dst;
    guint16 src_port;
    guint16 dst_port;
    guint8 proto;
    guint8 tcp_flags;
    guint32 packets;
    guint32 bytes;
} Record;

static const Record records[] = {
    {"10.0.0.1", "192.0.2.10", 49152, 443, 6, 0x1b, 10, 1500},
    {"10.0.0.2", "198.51.100.7", 5353, 53, 17, 0, 3, 210},
};

/* v5: First/Last are sysUptime; v9 the same; IPFIX carries these as absolute milliseconds. */
#define FIRST_UPTIME_MS 90000u
#define LAST_UPTIME_MS  95000u
#define START_MS        ((gint64)EXPORT_SECS * 1000 - (SYS_UPTIME_MS - FIRST_UPTIME_MS))
#define END_MS          ((gint64)EXPORT_SECS * 1000 - (SYS_UPTIME_MS - LAST_UPTIME_MS))

static void
build_valid_v5(PsPacket *packet)
{
    PsV5TestHeader header = {SYS_UPTIME_MS, EXPORT_SECS, 0, 77, 1, 2, 0};
    PsV5TestRecord v5[G_N_ELEMENTS(records)];

    for (guint i = 0; i < G_N_ELEMENTS(records); i++) {
        const Record *r = &records[i];
        v5[i] = (PsV5TestRecord){r->src, r->dst, r->src_port, r->dst_port, r->proto, r->tcp_flags,
                                 r->packets, r->bytes, FIRST_UPTIME_MS, LAST_UPTIME_MS};
    }
    ps_packet_v5(packet, &header, G_N_ELEMENTS(records), v5, G_N_ELEMENTS(records));
}

static void
put_record_fields(PsPacket *packet, const Record *r)
{
    ps_packet_ipv4(packet, r->src);
    ps_packet_ipv4(packet, r->dst);
    ps_packet_u16(packet, r->src_port);
    ps_packet_u16(packet, r->dst_port);
    ps_packet_u8(packet, r->proto);
    ps_packet_u8(packet, r->tcp_flags);
}

static void
build_valid_ipfix(PsPacket *packet)
{
    gsize set;

    ps_packet_ipfix_header(packet, EXPORT_SECS, 0, 9);
    set = ps_packet_open_set(packet, 2);
    ps_packet_template(packet, TEMPLATE_ID, G_N_ELEMENTS(ipfix_fields), ipfix_fields, NULL);
    ps_packet_close_set(packet, set);
    set = ps_packet_open_set(packet, TEMPLATE_ID);
    for (guint i = 0; i < G_N_ELEMENTS(records); i++) {
        ps_packet_u64(packet, records[i].packets);
        ps_packet_u64(packet, records[i].bytes);
        put_record_fields(packet, &records[i]);
        ps_packet_u64(packet, START_MS);
        ps_packet_u64(packet, END_MS);
    }
    ps_packet_close_set(packet, set);
    ps_packet_ipfix_finish(packet);
}

static void
build_valid_v9(PsPacket *packet)
{
    gsize set;

    ps_packet_v9_header(packet, 1 + G_N_ELEMENTS(records), SYS_UPTIME_MS, EXPORT_SECS, 0, 7);
    set = ps_packet_open_set(packet, 0);
    ps_packet_template(packet, TEMPLATE_ID, G_N_ELEMENTS(v9_fields), v9_fields, NULL);
    ps_packet_close_set(packet, set);
    set = ps_packet_open_set(packet, TEMPLATE_ID);
    for (guint i = 0; i < G_N_ELEMENTS(records); i++) {
        ps_packet_u32(packet, records[i].packets);
        ps_packet_u32(packet, records[i].bytes);
        put_record_fields(packet, &records[i]);
        ps_packet_u32(packet, FIRST_UPTIME_MS);
        ps_packet_u32(packet, LAST_UPTIME_MS);
    }
    ps_packet_close_set(packet, set);
}

static void
assert_address(const PsAddress *address, const char *expected)
{
    char text[PS_ADDRESS_STRLEN];

    g_assert_cmpstr(ps_address_to_string(address, text), ==, expected);
}

/* The flows of one valid packet, starting at flows[first], field for field. */
static void
assert_valid_flows(PsTestDecoder *decoder, guint first, guint8 version, guint32 domain)
{
    g_assert_cmpuint(decoder->flows->len, ==, first + G_N_ELEMENTS(records));
    for (guint i = 0; i < G_N_ELEMENTS(records); i++) {
        const PsFlow *flow = &g_array_index(decoder->flows, PsFlow, first + i);
        const Record *r = &records[i];

        assert_address(&flow->src, r->src);
        assert_address(&flow->dst, r->dst);
        assert_address(&flow->exporter, "192.0.2.1");
        g_assert_cmpuint(flow->version, ==, version);
        g_assert_cmpuint(flow->domain, ==, domain);
        g_assert_cmpuint(flow->src_port, ==, r->src_port);
        g_assert_cmpuint(flow->dst_port, ==, r->dst_port);
        g_assert_cmpuint(flow->proto, ==, r->proto);
        g_assert_cmpuint(flow->tcp_flags, ==, r->tcp_flags);
        g_assert_cmpuint(flow->packets, ==, r->packets);
        g_assert_cmpuint(flow->bytes, ==, r->bytes);
        g_assert_cmpint(flow->start_ms, ==, START_MS);
        g_assert_cmpint(flow->end_ms, ==, END_MS);
        g_assert_cmpuint(flow->sampling, ==, 1);
    }
}

static void
feed(PsTestDecoder *decoder, const PsPacket *packet)
{
    ps_test_decoder_packet(decoder, NULL, packet->data, packet->len);
}

/* After bad input: one valid packet of each version decodes exactly and counts no error. */
static void
assert_recovers(PsTestDecoder *decoder)
{
    g_autofree PsPacket *packet = g_new0(PsPacket, 1);
    PsExporterCounters before, after;
    guint first = decoder->flows->len;

    ps_test_decoder_counters(decoder, NULL, &before);
    build_valid_v5(packet);
    feed(decoder, packet);
    assert_valid_flows(decoder, first, 5, 0x0102);
    build_valid_v9(packet);
    feed(decoder, packet);
    assert_valid_flows(decoder, first + 2, 9, 7);
    build_valid_ipfix(packet);
    feed(decoder, packet);
    assert_valid_flows(decoder, first + 4, 10, 9);
    ps_test_decoder_counters(decoder, NULL, &after);
    g_assert_cmpuint(after.decode_errors, ==, before.decode_errors);
    g_assert_cmpuint(after.bad_templates, ==, before.bad_templates);
    g_assert_cmpuint(after.records, ==, before.records + 6);
}

/* ---- the bad packets ---- */

static void
build_v5_header(PsPacket *packet, guint16 count)
{
    packet->len = 0;
    ps_packet_u16(packet, 5);
    ps_packet_u16(packet, count);
    ps_packet_u32(packet, SYS_UPTIME_MS);
    ps_packet_u32(packet, EXPORT_SECS);
    ps_packet_u32(packet, 0);
    ps_packet_u32(packet, 1);
    ps_packet_u32(packet, 0); /* engine type, id, sampling */
}

/* count records claimed, n_present actually there (zero-filled, 48 bytes each) */
static void
build_v5_lying(PsPacket *packet, guint16 count, guint n_present)
{
    build_v5_header(packet, count);
    for (guint i = 0; i < n_present * 48; i++)
        ps_packet_u8(packet, 0);
}

static void
bad_v5_header_23(PsPacket *packet)
{
    build_v5_header(packet, 1);
    packet->len = 23;
}

static void
bad_v5_version_only(PsPacket *packet)
{
    build_v5_header(packet, 1);
    packet->len = 2;
}

static void
bad_v9_header_19(PsPacket *packet)
{
    ps_packet_v9_header(packet, 1, SYS_UPTIME_MS, EXPORT_SECS, 0, 7);
    packet->len = 19;
}

static void
bad_ipfix_header_15(PsPacket *packet)
{
    ps_packet_ipfix_header(packet, EXPORT_SECS, 0, 9);
    ps_packet_ipfix_finish(packet);
    packet->len = 15;
}

static void
bad_empty(PsPacket *packet)
{
    packet->len = 0;
}

static void
bad_one_byte(PsPacket *packet)
{
    packet->len = 0;
    ps_packet_u8(packet, 0);
}

static void
add_ipfix_template_set(PsPacket *packet)
{
    gsize set = ps_packet_open_set(packet, 2);

    ps_packet_template(packet, TEMPLATE_ID, G_N_ELEMENTS(ipfix_fields), ipfix_fields, NULL);
    ps_packet_close_set(packet, set);
}

/* IPFIX header says 100 bytes more than the datagram holds. */
static void
bad_ipfix_length_beyond_datagram(PsPacket *packet)
{
    ps_packet_ipfix_header(packet, EXPORT_SECS, 0, 9);
    add_ipfix_template_set(packet);
    ps_packet_ipfix_finish(packet);
    ps_put_u16(packet->data + 2, packet->len + 100);
}

static void
bad_ipfix_length_below_header(PsPacket *packet)
{
    ps_packet_ipfix_header(packet, EXPORT_SECS, 0, 9);
    add_ipfix_template_set(packet);
    ps_packet_ipfix_finish(packet);
    ps_put_u16(packet->data + 2, 8);
}

/* One data set whose length runs 200 bytes past the message. */
static void
bad_ipfix_set_past_end(PsPacket *packet)
{
    ps_packet_ipfix_header(packet, EXPORT_SECS, 0, 9);
    ps_packet_u16(packet, TEMPLATE_ID);
    ps_packet_u16(packet, 200);
    for (guint i = 0; i < 30; i++)
        ps_packet_u8(packet, 0xab);
    ps_packet_ipfix_finish(packet);
}

/* A valid template set, then a data set whose length runs past the message: the template
 * is kept, the data set is not read. */
static void
bad_ipfix_data_set_past_end(PsPacket *packet)
{
    ps_packet_ipfix_header(packet, EXPORT_SECS, 0, 9);
    add_ipfix_template_set(packet);
    ps_packet_u16(packet, TEMPLATE_ID);
    ps_packet_u16(packet, 4 + 2 * 46);
    for (guint i = 0; i < 46; i++)
        ps_packet_u8(packet, 0x11);
    ps_packet_ipfix_finish(packet);
}

static void
build_ipfix_set_length(PsPacket *packet, guint16 set_length)
{
    ps_packet_ipfix_header(packet, EXPORT_SECS, 0, 9);
    ps_packet_u16(packet, TEMPLATE_ID);
    ps_packet_u16(packet, set_length);
    for (guint i = 0; i < 8; i++)
        ps_packet_u8(packet, 0);
    ps_packet_ipfix_finish(packet);
}

static void
bad_ipfix_set_length_0(PsPacket *packet)
{
    build_ipfix_set_length(packet, 0);
}

static void
bad_ipfix_set_length_1(PsPacket *packet)
{
    build_ipfix_set_length(packet, 1);
}

static void
bad_ipfix_set_length_2(PsPacket *packet)
{
    build_ipfix_set_length(packet, 2);
}

static void
bad_ipfix_set_length_3(PsPacket *packet)
{
    build_ipfix_set_length(packet, 3);
}

static void
bad_v9_flowset_past_end(PsPacket *packet)
{
    ps_packet_v9_header(packet, 1, SYS_UPTIME_MS, EXPORT_SECS, 0, 7);
    ps_packet_u16(packet, TEMPLATE_ID);
    ps_packet_u16(packet, 400);
    for (guint i = 0; i < 30; i++)
        ps_packet_u8(packet, 0xcd);
}

static void
build_v9_flowset_length(PsPacket *packet, guint16 flowset_length)
{
    ps_packet_v9_header(packet, 1, SYS_UPTIME_MS, EXPORT_SECS, 0, 7);
    ps_packet_u16(packet, TEMPLATE_ID);
    ps_packet_u16(packet, flowset_length);
    for (guint i = 0; i < 8; i++)
        ps_packet_u8(packet, 0);
}

static void
bad_v9_flowset_length_0(PsPacket *packet)
{
    build_v9_flowset_length(packet, 0);
}

static void
bad_v9_flowset_length_3(PsPacket *packet)
{
    build_v9_flowset_length(packet, 3);
}

static void
bad_v5_count_2_of_1(PsPacket *packet)
{
    build_v5_lying(packet, 2, 1);
}

static void
bad_v5_count_30_of_29(PsPacket *packet)
{
    build_v5_lying(packet, 30, 29);
}

static void
bad_v5_count_31(PsPacket *packet)
{
    build_v5_lying(packet, 31, 31); /* the bytes are there, but Cisco's limit is 30 */
}

static void
bad_v5_count_0(PsPacket *packet)
{
    build_v5_lying(packet, 0, 1);
}

static void
bad_v5_count_65535(PsPacket *packet)
{
    build_v5_lying(packet, 65535, 1);
}

/* A template (or options template) set holding one record of n_fields fields, all of the
 * given length; options templates get scope_count. */
static void
build_ipfix_template(PsPacket *packet, guint16 set_id, guint n_fields, guint16 length,
                     guint16 scope_count)
{
    gsize set;

    ps_packet_ipfix_header(packet, EXPORT_SECS, 0, 9);
    set = ps_packet_open_set(packet, set_id);
    ps_packet_u16(packet, TEMPLATE_ID);
    ps_packet_u16(packet, n_fields);
    if (set_id == 3)
        ps_packet_u16(packet, scope_count);
    for (guint i = 0; i < n_fields; i++) {
        ps_packet_u16(packet, 1 + i % 200); /* IANA elements 1..200 */
        ps_packet_u16(packet, length);
    }
    ps_packet_close_set(packet, set);
    ps_packet_ipfix_finish(packet);
}

static void
build_v9_template(PsPacket *packet, guint n_fields, guint16 length)
{
    gsize set;

    ps_packet_v9_header(packet, 1, SYS_UPTIME_MS, EXPORT_SECS, 0, 7);
    set = ps_packet_open_set(packet, 0);
    ps_packet_u16(packet, TEMPLATE_ID);
    ps_packet_u16(packet, n_fields);
    for (guint i = 0; i < n_fields; i++) {
        ps_packet_u16(packet, 1 + i % 200);
        ps_packet_u16(packet, length);
    }
    ps_packet_close_set(packet, set);
}

static void
bad_ipfix_template_zero_length_fields(PsPacket *packet)
{
    build_ipfix_template(packet, 2, 5, 0, 0);
}

static void
bad_v9_template_zero_length_fields(PsPacket *packet)
{
    build_v9_template(packet, 5, 0);
}

static void
bad_ipfix_template_2000_fields(PsPacket *packet)
{
    build_ipfix_template(packet, 2, 2000, 4, 0);
}

static void
bad_ipfix_template_513_fields(PsPacket *packet)
{
    build_ipfix_template(packet, 2, 513, 1, 0); /* one past PS_TEMPLATE_MAX_FIELDS */
}

static void
bad_v9_template_2000_fields(PsPacket *packet)
{
    build_v9_template(packet, 2000, 4);
}

static void
bad_v9_template_no_fields(PsPacket *packet)
{
    build_v9_template(packet, 0, 4);
}

static void
bad_ipfix_options_scope_0(PsPacket *packet)
{
    build_ipfix_template(packet, 3, 2, 4, 0);
}

static void
bad_ipfix_options_scope_beyond_fields(PsPacket *packet)
{
    build_ipfix_template(packet, 3, 2, 4, 3);
}

/* v9 options template: scope length 0 bytes, one 4-byte option field. */
static void
bad_v9_options_scope_0(PsPacket *packet)
{
    gsize set;

    ps_packet_v9_header(packet, 1, SYS_UPTIME_MS, EXPORT_SECS, 0, 7);
    set = ps_packet_open_set(packet, 1);
    ps_packet_u16(packet, TEMPLATE_ID + 1);
    ps_packet_u16(packet, 0); /* scope bytes */
    ps_packet_u16(packet, 4); /* option bytes */
    ps_packet_u16(packet, 34);
    ps_packet_u16(packet, 4);
    ps_packet_u16(packet, 0); /* padding to 4 bytes */
    ps_packet_close_set(packet, set);
}

static void
build_unknown_version(PsPacket *packet, guint16 version)
{
    packet->len = 0;
    ps_packet_u16(packet, version);
    for (guint i = 0; i < 98; i++)
        ps_packet_u8(packet, i);
}

static void
bad_version_1(PsPacket *packet)
{
    build_unknown_version(packet, 1);
}

static void
bad_version_7(PsPacket *packet)
{
    build_unknown_version(packet, 7);
}

static void
bad_version_8(PsPacket *packet)
{
    build_unknown_version(packet, 8);
}

static void
bad_version_11(PsPacket *packet)
{
    build_unknown_version(packet, 11);
}

static void
bad_version_ffff(PsPacket *packet)
{
    build_unknown_version(packet, 0xffff);
}

typedef struct {
    const char *path;
    void (*build)(PsPacket *packet);
    PsVersionSlot slot; /* counters that must move; the others must not */
    guint64 decode_errors;
    guint64 bad_templates;
} BadCase;

static const BadCase bad_cases[] = {
    {"/bad-input/truncated-header/v5-23-bytes", bad_v5_header_23, PS_VERSION_V5, 1, 0},
    {"/bad-input/truncated-header/v5-version-only", bad_v5_version_only, PS_VERSION_V5, 1, 0},
    {"/bad-input/truncated-header/v9-19-bytes", bad_v9_header_19, PS_VERSION_V9, 1, 0},
    {"/bad-input/truncated-header/ipfix-15-bytes", bad_ipfix_header_15, PS_VERSION_IPFIX, 1, 0},
    {"/bad-input/truncated-header/empty", bad_empty, PS_VERSION_UNKNOWN, 1, 0},
    {"/bad-input/truncated-header/one-byte", bad_one_byte, PS_VERSION_UNKNOWN, 1, 0},
    {"/bad-input/lying-length/ipfix-message-beyond-datagram", bad_ipfix_length_beyond_datagram,
     PS_VERSION_IPFIX, 1, 0},
    {"/bad-input/lying-length/ipfix-message-below-header", bad_ipfix_length_below_header,
     PS_VERSION_IPFIX, 1, 0},
    {"/bad-input/lying-length/ipfix-set-past-end", bad_ipfix_set_past_end, PS_VERSION_IPFIX, 1,
     0},
    {"/bad-input/lying-length/ipfix-data-set-past-end-after-template",
     bad_ipfix_data_set_past_end, PS_VERSION_IPFIX, 1, 0},
    {"/bad-input/lying-length/v9-flowset-past-end", bad_v9_flowset_past_end, PS_VERSION_V9, 1,
     0},
    {"/bad-input/lying-length/v9-flowset-length-0", bad_v9_flowset_length_0, PS_VERSION_V9, 1,
     0},
    {"/bad-input/lying-length/v9-flowset-length-3", bad_v9_flowset_length_3, PS_VERSION_V9, 1,
     0},
    {"/bad-input/v5-count/2-records-claimed-1-sent", bad_v5_count_2_of_1, PS_VERSION_V5, 1, 0},
    {"/bad-input/v5-count/30-records-claimed-29-sent", bad_v5_count_30_of_29, PS_VERSION_V5, 1,
     0},
    {"/bad-input/v5-count/31-records", bad_v5_count_31, PS_VERSION_V5, 1, 0},
    {"/bad-input/v5-count/0-records", bad_v5_count_0, PS_VERSION_V5, 1, 0},
    {"/bad-input/v5-count/65535-records", bad_v5_count_65535, PS_VERSION_V5, 1, 0},
    {"/bad-input/ipfix-set-length/0", bad_ipfix_set_length_0, PS_VERSION_IPFIX, 1, 0},
    {"/bad-input/ipfix-set-length/1", bad_ipfix_set_length_1, PS_VERSION_IPFIX, 1, 0},
    {"/bad-input/ipfix-set-length/2", bad_ipfix_set_length_2, PS_VERSION_IPFIX, 1, 0},
    {"/bad-input/ipfix-set-length/3", bad_ipfix_set_length_3, PS_VERSION_IPFIX, 1, 0},
    {"/bad-input/template/ipfix-zero-length-fields", bad_ipfix_template_zero_length_fields,
     PS_VERSION_IPFIX, 0, 1},
    {"/bad-input/template/v9-zero-length-fields", bad_v9_template_zero_length_fields,
     PS_VERSION_V9, 0, 1},
    {"/bad-input/template/ipfix-2000-fields", bad_ipfix_template_2000_fields, PS_VERSION_IPFIX, 0,
     1},
    {"/bad-input/template/ipfix-513-fields", bad_ipfix_template_513_fields, PS_VERSION_IPFIX, 0,
     1},
    {"/bad-input/template/v9-2000-fields", bad_v9_template_2000_fields, PS_VERSION_V9, 0, 1},
    /* refused while converting, before the scan that counts bad_templates (see top) */
    {"/bad-input/template/v9-no-fields", bad_v9_template_no_fields, PS_VERSION_V9, 1, 0},
    {"/bad-input/options-template/ipfix-scope-0", bad_ipfix_options_scope_0, PS_VERSION_IPFIX, 0,
     1},
    {"/bad-input/options-template/ipfix-scope-beyond-fields",
     bad_ipfix_options_scope_beyond_fields, PS_VERSION_IPFIX, 0, 1},
    {"/bad-input/options-template/v9-scope-0", bad_v9_options_scope_0, PS_VERSION_V9, 1, 0},
    {"/bad-input/unknown-version/1", bad_version_1, PS_VERSION_UNKNOWN, 1, 0},
    {"/bad-input/unknown-version/7", bad_version_7, PS_VERSION_UNKNOWN, 1, 0},
    {"/bad-input/unknown-version/8", bad_version_8, PS_VERSION_UNKNOWN, 1, 0},
    {"/bad-input/unknown-version/11", bad_version_11, PS_VERSION_UNKNOWN, 1, 0},
    {"/bad-input/unknown-version/65535", bad_version_ffff, PS_VERSION_UNKNOWN, 1, 0},
};

static PsExporter *
default_exporter(PsTestDecoder *decoder)
{
    PsAddress address;

    g_assert_true(ps_address_parse("192.0.2.1", &address));
    return g_hash_table_lookup(ps_dispatch_exporters(decoder->dispatch), &address);
}

static void
test_bad_case(gconstpointer data)
{
    const BadCase *bad = data;
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    g_autofree PsPacket *packet = g_new0(PsPacket, 1);
    PsExporter *exporter;

    bad->build(packet);
    feed(decoder, packet);
    g_assert_cmpuint(decoder->flows->len, ==, 0);
    exporter = default_exporter(decoder);
    g_assert_nonnull(exporter);
    for (guint slot = 0; slot < PS_N_VERSIONS; slot++) {
        const PsExporterCounters *counters = &exporter->counters[slot];
        gboolean this_slot = slot == bad->slot;

        g_assert_cmpuint(counters->packets, ==, this_slot ? 1 : 0);
        g_assert_cmpuint(counters->decode_errors, ==, this_slot ? bad->decode_errors : 0);
        g_assert_cmpuint(counters->bad_templates, ==, this_slot ? bad->bad_templates : 0);
        g_assert_cmpuint(counters->records, ==, 0);
        g_assert_cmpuint(counters->options_records, ==, 0);
    }
    assert_recovers(decoder);
}

/* The recovery check on its own, so that a failure there is not blamed on a bad packet. */
static void
test_recovery_baseline(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();

    assert_recovers(decoder);
}

/* ---- random bytes ---- */

static void
random_bytes(GRand *rand, PsPacket *packet, gsize len)
{
    packet->len = 0;
    for (gsize i = 0; i < len; i++)
        ps_packet_u8(packet, g_rand_int_range(rand, 0, 256));
}

/* 1000 random strings: an unknown version is always exactly one decode error; the rare
 * string that starts like a v5, v9 or IPFIX header is at most one (and emits nothing). */
static void
test_random_bytes(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    g_autoptr(GRand) rand = g_rand_new_with_seed(RANDOM_SEED);
    g_autofree PsPacket *packet = g_new0(PsPacket, 1);
    PsExporterCounters before, after;
    guint n_unknown = 0;

    for (guint i = 0; i < N_RANDOM; i++) {
        guint16 version;

        random_bytes(rand, packet, g_rand_int_range(rand, 0, 1500));
        version = ps_peek_u16(packet->data, packet->len, 0);
        ps_test_decoder_counters(decoder, NULL, &before);
        feed(decoder, packet);
        ps_test_decoder_counters(decoder, NULL, &after);
        g_assert_cmpuint(after.packets, ==, before.packets + 1);
        if (version != 5 && version != 9 && version != 10) {
            g_assert_cmpuint(after.decode_errors, ==, before.decode_errors + 1);
            n_unknown++;
        } else {
            g_assert_cmpuint(after.decode_errors, <=, before.decode_errors + 1);
        }
        g_assert_cmpuint(decoder->flows->len, ==, 0);
    }
    g_assert_cmpuint(default_exporter(decoder)->counters[PS_VERSION_UNKNOWN].decode_errors, ==,
                     n_unknown);
    g_assert_cmpuint(n_unknown, >=, N_RANDOM - 5);
    assert_recovers(decoder);
}

/* Random bodies behind a v5 header: valid exactly when 1 <= count <= 30 and the records fit,
 * then count flows; otherwise one decode error and no flow. */
static void
test_random_v5(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    g_autoptr(GRand) rand = g_rand_new_with_seed(RANDOM_SEED + 5);
    g_autofree PsPacket *packet = g_new0(PsPacket, 1);
    guint64 expected_errors = 0;
    guint expected_flows = 0;
    PsExporterCounters counters;

    for (guint i = 0; i < N_RANDOM; i++) {
        guint16 count = g_rand_int_range(rand, 0, 34);
        gsize len = g_rand_int_range(rand, 0, 24 + 34 * 48);

        random_bytes(rand, packet, MAX(len, 4));
        ps_put_u16(packet->data, 5);
        ps_put_u16(packet->data + 2, count);
        packet->len = len;
        feed(decoder, packet);
        if (count >= 1 && count <= 30 && len >= 24 + (gsize)count * 48)
            expected_flows += count;
        else
            expected_errors++;
        g_assert_cmpuint(decoder->flows->len, ==, expected_flows);
    }
    ps_test_decoder_counters(decoder, NULL, &counters);
    g_assert_cmpuint(counters.decode_errors, ==, expected_errors);
    g_assert_cmpuint(counters.records, ==, expected_flows);
    g_assert_cmpuint(expected_errors, >, N_RANDOM / 2); /* the test exercises both paths */
    g_assert_cmpuint(expected_flows, >, 0);
    g_array_set_size(decoder->flows, 0);
    assert_recovers(decoder);
}

/* Random bodies behind a correct v9 or IPFIX header: no template was ever sent, so nothing
 * may be emitted, and each datagram is at most one decode error. */
static void
test_random_templated(gconstpointer data)
{
    guint16 version = GPOINTER_TO_UINT(data);
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    g_autoptr(GRand) rand = g_rand_new_with_seed(RANDOM_SEED + version);
    g_autofree PsPacket *packet = g_new0(PsPacket, 1);
    PsExporterCounters before, after;

    for (guint i = 0; i < N_RANDOM; i++) {
        gsize len = g_rand_int_range(rand, 20, 1500);

        random_bytes(rand, packet, len);
        ps_put_u16(packet->data, version);
        if (version == 10)
            ps_put_u16(packet->data + 2, len);
        ps_test_decoder_counters(decoder, NULL, &before);
        feed(decoder, packet);
        ps_test_decoder_counters(decoder, NULL, &after);
        g_assert_cmpuint(after.packets, ==, before.packets + 1);
        g_assert_cmpuint(after.decode_errors, <=, before.decode_errors + 1);
        g_assert_cmpuint(decoder->flows->len, ==, 0);
    }
    assert_recovers(decoder);
}


static void
quiet_libfixbuf(const gchar *log_domain, GLogLevelFlags log_level, const gchar *message,
                gpointer user_data)
{
    (void)log_domain;
    (void)log_level;
    (void)message;
    (void)user_data;
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_log_set_fatal_handler(ps_test_fatal_unless_libfixbuf, NULL);
    g_log_set_handler(NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, quiet_libfixbuf, NULL);

    g_test_add_func("/bad-input/recovery/baseline", test_recovery_baseline);
    for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++)
        g_test_add_data_func(bad_cases[i].path, &bad_cases[i], test_bad_case);
    g_test_add_func("/bad-input/random/bytes", test_random_bytes);
    g_test_add_func("/bad-input/random/v5-header", test_random_v5);
    g_test_add_data_func("/bad-input/random/v9-header", GUINT_TO_POINTER(9),
                         test_random_templated);
    g_test_add_data_func("/bad-input/random/ipfix-header", GUINT_TO_POINTER(10),
                         test_random_templated);
    return g_test_run();
}
