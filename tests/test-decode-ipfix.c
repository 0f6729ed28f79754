/* IPFIX and NetFlow v9 through libfixbuf, on crafted packets: field values, the template life
 * cycle (data before template, withdrawal, redefinition, per exporter and per domain), options
 * records for sampling and system init time, every common time element, variable-length and
 * enterprise elements, sequence gaps and restarts. */
#include "config.h"

#include "builder.h"
#include "packets.h"

#define EXPORT_TIME 1700000000u
#define ENTERPRISE_BIT 0x8000

/* sourceIPv4Address, destinationIPv4Address, ports, protocol, tcpControlBits (1 byte, reduced
 * size), packetDeltaCount (4, reduced), octetDeltaCount, flowStart/EndMilliseconds */
static const guint16 basic_fields[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1},
                                           {2, 4}, {1, 8}, {152, 8}, {153, 8}};

static void
basic_record(PsPacket *packet, guint16 dst_port, guint64 bytes)
{
    ps_packet_ipv4(packet, "203.0.113.9");
    ps_packet_ipv4(packet, "10.0.0.5");
    ps_packet_u16(packet, 40001);
    ps_packet_u16(packet, dst_port);
    ps_packet_u8(packet, 6);
    ps_packet_u8(packet, 0x02);
    ps_packet_u32(packet, 2);
    ps_packet_u64(packet, bytes);
    ps_packet_u64(packet, (guint64)EXPORT_TIME * 1000 - 3000);
    ps_packet_u64(packet, (guint64)EXPORT_TIME * 1000 - 1000);
}

static void
template_message(PsPacket *packet, guint32 domain, guint16 template_id)
{
    gsize set;

    ps_packet_ipfix_header(packet, EXPORT_TIME, 0, domain);
    set = ps_packet_open_set(packet, 2);
    ps_packet_template(packet, template_id, G_N_ELEMENTS(basic_fields), basic_fields, NULL);
    ps_packet_close_set(packet, set);
    ps_packet_ipfix_finish(packet);
}

static void
data_message(PsPacket *packet, guint32 domain, guint32 sequence, guint16 template_id,
             guint16 dst_port)
{
    gsize set;

    ps_packet_ipfix_header(packet, EXPORT_TIME, sequence, domain);
    set = ps_packet_open_set(packet, template_id);
    basic_record(packet, dst_port, 120);
    ps_packet_close_set(packet, set);
    ps_packet_ipfix_finish(packet);
}

static void
feed(PsTestDecoder *decoder, PsPacket *packet)
{
    ps_test_decoder_packet(decoder, NULL, packet->data, packet->len);
}

static const PsFlow *
flow_at(PsTestDecoder *decoder, guint i)
{
    g_assert_cmpuint(i, <, decoder->flows->len);
    return &g_array_index(decoder->flows, PsFlow, i);
}

static void
test_fields(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsPacket packet;
    char text[PS_ADDRESS_STRLEN];
    const PsFlow *flow;

    template_message(&packet, 7, 300);
    feed(decoder, &packet);
    data_message(&packet, 7, 0, 300, 445);
    feed(decoder, &packet);
    flow = flow_at(decoder, 0);
    g_assert_cmpstr(ps_address_to_string(&flow->src, text), ==, "203.0.113.9");
    g_assert_cmpstr(ps_address_to_string(&flow->dst, text), ==, "10.0.0.5");
    g_assert_cmpuint(flow->src_port, ==, 40001);
    g_assert_cmpuint(flow->dst_port, ==, 445);
    g_assert_cmpuint(flow->proto, ==, 6);
    g_assert_cmpuint(flow->tcp_flags, ==, 0x02);
    g_assert_cmpuint(flow->packets, ==, 2);
    g_assert_cmpuint(flow->bytes, ==, 120);
    g_assert_cmpint(flow->start_ms, ==, (gint64)EXPORT_TIME * 1000 - 3000);
    g_assert_cmpint(flow->end_ms, ==, (gint64)EXPORT_TIME * 1000 - 1000);
    g_assert_cmpuint(flow->version, ==, 10);
    g_assert_cmpuint(flow->domain, ==, 7);
    g_assert_cmpuint(flow->sampling, ==, 1);
}

static void
test_data_before_template(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsExporterCounters counters;
    PsPacket packet;

    data_message(&packet, 1, 0, 400, 445);
    feed(decoder, &packet);
    g_assert_cmpuint(decoder->flows->len, ==, 0);
    template_message(&packet, 1, 400);
    feed(decoder, &packet);
    /* the held set is decoded once its template arrives */
    g_assert_cmpuint(decoder->flows->len, ==, 1);
    g_assert_cmpuint(flow_at(decoder, 0)->dst_port, ==, 445);
    ps_test_decoder_counters(decoder, NULL, &counters);
    g_assert_cmpuint(counters.unknown_template_sets, ==, 1);
    g_assert_cmpuint(counters.held_records, ==, 1);
    g_assert_cmpuint(counters.records, ==, 1);
}

static void
test_withdrawal(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsExporterCounters counters;
    PsPacket packet;
    gsize set;

    template_message(&packet, 1, 500);
    feed(decoder, &packet);
    data_message(&packet, 1, 0, 500, 22);
    feed(decoder, &packet);
    ps_packet_ipfix_header(&packet, EXPORT_TIME, 1, 1);
    set = ps_packet_open_set(&packet, 2);
    ps_packet_u16(&packet, 500); /* RFC 7011 8.1: field count 0 withdraws template 500 */
    ps_packet_u16(&packet, 0);
    ps_packet_close_set(&packet, set);
    ps_packet_ipfix_finish(&packet);
    feed(decoder, &packet);
    data_message(&packet, 1, 1, 500, 23);
    feed(decoder, &packet);
    g_assert_cmpuint(decoder->flows->len, ==, 1);
    ps_test_decoder_counters(decoder, NULL, &counters);
    g_assert_cmpuint(counters.unknown_template_sets, ==, 1);
}

static void
test_redefinition(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    static const guint16 swapped[][2] = {{11, 2}, {7, 2}, {4, 1}, {8, 4}, {12, 4}, {1, 4}};
    PsPacket packet;
    gsize set;

    template_message(&packet, 1, 600);
    feed(decoder, &packet);
    /* same id, new layout: the new one applies from now on */
    ps_packet_ipfix_header(&packet, EXPORT_TIME, 0, 1);
    set = ps_packet_open_set(&packet, 2);
    ps_packet_template(&packet, 600, G_N_ELEMENTS(swapped), swapped, NULL);
    ps_packet_close_set(&packet, set);
    set = ps_packet_open_set(&packet, 600);
    ps_packet_u16(&packet, 3389);
    ps_packet_u16(&packet, 50000);
    ps_packet_u8(&packet, 6);
    ps_packet_ipv4(&packet, "198.51.100.1");
    ps_packet_ipv4(&packet, "10.0.0.1");
    ps_packet_u32(&packet, 999);
    ps_packet_close_set(&packet, set);
    ps_packet_ipfix_finish(&packet);
    feed(decoder, &packet);
    g_assert_cmpuint(decoder->flows->len, ==, 1);
    g_assert_cmpuint(flow_at(decoder, 0)->dst_port, ==, 3389);
    g_assert_cmpuint(flow_at(decoder, 0)->src_port, ==, 50000);
    g_assert_cmpuint(flow_at(decoder, 0)->bytes, ==, 999);
}

static void
test_templates_per_exporter_and_domain(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsAddress other;
    PsPacket packet;

    ps_address_parse("2001:db8::77", &other);
    template_message(&packet, 1, 700);
    feed(decoder, &packet);
    data_message(&packet, 2, 0, 700, 80); /* another observation domain */
    feed(decoder, &packet);
    data_message(&packet, 1, 0, 700, 80);
    ps_test_decoder_packet(decoder, &other, packet.data, packet.len); /* another exporter */
    g_assert_cmpuint(decoder->flows->len, ==, 0);
    data_message(&packet, 1, 0, 700, 80);
    feed(decoder, &packet);
    g_assert_cmpuint(decoder->flows->len, ==, 1);
}

/* Options template: scope observationDomainId, then samplingPacketInterval/Space (RFC 5477)
 * and systemInitTimeMilliseconds. */
static void
options_message(PsPacket *packet, guint32 domain, guint32 interval, guint32 space,
                guint64 system_init_ms)
{
    gsize set;

    ps_packet_ipfix_header(packet, EXPORT_TIME, 0, domain);
    set = ps_packet_open_set(packet, 3);
    ps_packet_u16(packet, 800);
    ps_packet_u16(packet, 4);
    ps_packet_u16(packet, 1);
    ps_packet_u16(packet, 149), ps_packet_u16(packet, 4);
    ps_packet_u16(packet, 305), ps_packet_u16(packet, 4);
    ps_packet_u16(packet, 306), ps_packet_u16(packet, 4);
    ps_packet_u16(packet, 160), ps_packet_u16(packet, 8);
    ps_packet_close_set(packet, set);
    set = ps_packet_open_set(packet, 800);
    ps_packet_u32(packet, domain);
    ps_packet_u32(packet, interval);
    ps_packet_u32(packet, space);
    ps_packet_u64(packet, system_init_ms);
    ps_packet_close_set(packet, set);
    ps_packet_ipfix_finish(packet);
}

static void
test_sampling_from_options(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsExporterCounters counters;
    PsPacket packet;

    options_message(&packet, 1, 1, 99, 0); /* 1 packet sampled out of every 100 */
    feed(decoder, &packet);
    template_message(&packet, 1, 300);
    feed(decoder, &packet);
    data_message(&packet, 1, 0, 300, 445);
    feed(decoder, &packet);
    g_assert_cmpuint(flow_at(decoder, 0)->sampling, ==, 100);
    g_assert_cmpuint(flow_at(decoder, 0)->packets, ==, 2); /* as exported, not scaled */
    ps_test_decoder_counters(decoder, NULL, &counters);
    g_assert_cmpuint(counters.options_records, ==, 1);
}

/* One template per time encoding: (start element, end element, length). */
typedef struct {
    const char *name;
    guint16 start_id;
    guint16 end_id;
    guint16 length;
    guint64 start_value;
    guint64 end_value;
    gint64 start_ms;
    gint64 end_ms;
} TimeCase;

#define BASE_MS ((gint64)EXPORT_TIME * 1000)
#define NTP(ms) ((((guint64)((ms) / 1000) + 2208988800ULL) << 32) | ((((guint64)((ms) % 1000)) << 32) / 1000 + 1))

static const TimeCase time_cases[] = {
    {"seconds", 150, 151, 4, EXPORT_TIME - 10, EXPORT_TIME - 5, BASE_MS - 10000, BASE_MS - 5000},
    {"milliseconds", 152, 153, 8, BASE_MS - 1500, BASE_MS - 500, BASE_MS - 1500, BASE_MS - 500},
    {"microseconds", 154, 155, 8, NTP(BASE_MS - 2250), NTP(BASE_MS - 250), BASE_MS - 2250, BASE_MS - 250},
    {"nanoseconds", 156, 157, 8, NTP(BASE_MS - 4125), NTP(BASE_MS - 125), BASE_MS - 4125, BASE_MS - 125},
    {"delta-microseconds", 158, 159, 4, 7000000, 2000000, BASE_MS - 7000, BASE_MS - 2000},
    /* sysUpTime relative to systemInitTimeMilliseconds from the options record */
    {"sysuptime", 22, 21, 4, 60000, 65000, BASE_MS - 3600000 + 60000, BASE_MS - 3600000 + 65000},
};

static void
test_time_encoding(gconstpointer data)
{
    const TimeCase *c = data;
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    const guint16 fields[][2] = {{8, 4}, {12, 4}, {c->start_id, c->length}, {c->end_id, c->length}};
    PsPacket packet;
    gsize set;

    options_message(&packet, 1, 1, 0, BASE_MS - 3600000);
    feed(decoder, &packet);
    ps_packet_ipfix_header(&packet, EXPORT_TIME, 0, 1);
    set = ps_packet_open_set(&packet, 2);
    ps_packet_template(&packet, 900, G_N_ELEMENTS(fields), fields, NULL);
    ps_packet_close_set(&packet, set);
    set = ps_packet_open_set(&packet, 900);
    ps_packet_ipv4(&packet, "192.0.2.50");
    ps_packet_ipv4(&packet, "192.0.2.51");
    if (c->length == 4) {
        ps_packet_u32(&packet, c->start_value);
        ps_packet_u32(&packet, c->end_value);
    } else {
        ps_packet_u64(&packet, c->start_value);
        ps_packet_u64(&packet, c->end_value);
    }
    ps_packet_close_set(&packet, set);
    ps_packet_ipfix_finish(&packet);
    feed(decoder, &packet);
    g_assert_cmpint(flow_at(decoder, 0)->start_ms, ==, c->start_ms);
    g_assert_cmpint(flow_at(decoder, 0)->end_ms, ==, c->end_ms);
}

static void
test_varlen_enterprise_ipv6(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    /* an enterprise element and a variable-length one sit between the fields we read */
    static const guint16 fields[][2] = {{27, 16}, {ENTERPRISE_BIT | 12, 4}, {96, 65535},
                                        {28, 16}, {11, 2}, {4, 1}, {1, 4}};
    static const guint32 pens[] = {9};
    PsPacket packet;
    char text[PS_ADDRESS_STRLEN];
    gsize set;

    ps_packet_ipfix_header(&packet, EXPORT_TIME, 0, 1);
    set = ps_packet_open_set(&packet, 2);
    ps_packet_template(&packet, 1000, G_N_ELEMENTS(fields), fields, pens);
    ps_packet_close_set(&packet, set);
    set = ps_packet_open_set(&packet, 1000);
    for (guint i = 0; i < 2; i++) {
        ps_packet_ipv6(&packet, "2001:db8::1");
        ps_packet_u32(&packet, 0xdeadbeef);
        ps_packet_u8(&packet, 3 + i); /* applicationName of 3, then 4 bytes */
        ps_packet_bytes(&packet, "smbx", 3 + i);
        ps_packet_ipv6(&packet, "2001:db8::445");
        ps_packet_u16(&packet, 445);
        ps_packet_u8(&packet, 6);
        ps_packet_u32(&packet, 1000 + i);
    }
    ps_packet_close_set(&packet, set);
    ps_packet_ipfix_finish(&packet);
    feed(decoder, &packet);
    g_assert_cmpuint(decoder->flows->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        const PsFlow *flow = flow_at(decoder, i);
        g_assert_cmpstr(ps_address_to_string(&flow->src, text), ==, "2001:db8::1");
        g_assert_cmpstr(ps_address_to_string(&flow->dst, text), ==, "2001:db8::445");
        g_assert_cmpuint(flow->dst_port, ==, 445);
        g_assert_cmpuint(flow->bytes, ==, 1000 + i);
    }
}

static void
test_sequence_gap_and_restart(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsExporterCounters counters;
    PsPacket packet;

    template_message(&packet, 1, 300); /* sequence 0, no data records */
    feed(decoder, &packet);
    data_message(&packet, 1, 0, 300, 1);
    feed(decoder, &packet);
    data_message(&packet, 1, 1, 300, 2);
    feed(decoder, &packet);
    data_message(&packet, 1, 5, 300, 3); /* IPFIX counts records: 3 lost */
    feed(decoder, &packet);
    data_message(&packet, 1, 1000000, 300, 4);
    feed(decoder, &packet);
    data_message(&packet, 1, 0, 300, 5); /* far back: the exporter restarted */
    feed(decoder, &packet);
    ps_test_decoder_counters(decoder, NULL, &counters);
    g_assert_cmpuint(counters.sequence_gaps, ==, 2);
    g_assert_cmpuint(counters.sequence_lost, ==, 3 + (1000000 - 6));
    g_assert_cmpuint(counters.restarts, ==, 1);
    g_assert_cmpuint(decoder->flows->len, ==, 5);
}

/* NetFlow v9: template flowset, options template flowset (scope System, SAMPLING_INTERVAL),
 * data with FIRST/LAST_SWITCHED in sysUptime. */
static void
v9_packet(PsPacket *packet, guint32 sequence, gboolean with_templates)
{
    static const guint16 fields[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1},
                                        {2, 4}, {1, 4}, {22, 4}, {21, 4}};
    gsize set;

    ps_packet_v9_header(packet, 3, 100000, EXPORT_TIME, sequence, 42);
    if (with_templates) {
        set = ps_packet_open_set(packet, 0);
        ps_packet_template(packet, 260, G_N_ELEMENTS(fields), fields, NULL);
        ps_packet_close_set(packet, set);
        set = ps_packet_open_set(packet, 1);
        ps_packet_u16(packet, 261);
        ps_packet_u16(packet, 4); /* scope length in bytes */
        ps_packet_u16(packet, 4); /* option length in bytes */
        ps_packet_u16(packet, 1), ps_packet_u16(packet, 4); /* System */
        ps_packet_u16(packet, 34), ps_packet_u16(packet, 4); /* SAMPLING_INTERVAL */
        ps_packet_u16(packet, 0); /* padding */
        ps_packet_close_set(packet, set);
        set = ps_packet_open_set(packet, 261);
        ps_packet_u32(packet, 0);
        ps_packet_u32(packet, 64);
        ps_packet_close_set(packet, set);
    }
    set = ps_packet_open_set(packet, 260);
    ps_packet_ipv4(packet, "10.20.30.40");
    ps_packet_ipv4(packet, "10.20.30.41");
    ps_packet_u16(packet, 1234);
    ps_packet_u16(packet, 135);
    ps_packet_u8(packet, 6);
    ps_packet_u8(packet, 0x12);
    ps_packet_u32(packet, 7);
    ps_packet_u32(packet, 777);
    ps_packet_u32(packet, 90000); /* FIRST_SWITCHED: 10 s before export */
    ps_packet_u32(packet, 99000);
    ps_packet_close_set(packet, set);
}

static void
test_v9(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsExporterCounters counters;
    PsPacket packet;
    const PsFlow *flow;

    v9_packet(&packet, 10, TRUE);
    feed(decoder, &packet);
    v9_packet(&packet, 11, FALSE);
    feed(decoder, &packet);
    v9_packet(&packet, 14, FALSE); /* v9 counts packets: 2 lost */
    feed(decoder, &packet);
    g_assert_cmpuint(decoder->flows->len, ==, 3);
    flow = flow_at(decoder, 0);
    g_assert_cmpuint(flow->version, ==, 9);
    g_assert_cmpuint(flow->domain, ==, 42);
    g_assert_cmpuint(flow->dst_port, ==, 135);
    g_assert_cmpuint(flow->tcp_flags, ==, 0x12);
    g_assert_cmpuint(flow->packets, ==, 7);
    g_assert_cmpuint(flow->bytes, ==, 777);
    g_assert_cmpuint(flow->sampling, ==, 64);
    g_assert_cmpint(flow->start_ms, ==, BASE_MS - 10000);
    g_assert_cmpint(flow->end_ms, ==, BASE_MS - 1000);
    ps_test_decoder_counters(decoder, NULL, &counters);
    g_assert_cmpuint(counters.sequence_gaps, ==, 1);
    g_assert_cmpuint(counters.sequence_lost, ==, 2);
    g_assert_cmpuint(counters.options_records, ==, 1);
}

/* A sender cycling through observation domains cannot grow memory without end. */
static void
test_domain_bound(void)
{
    g_autoptr(PsTestDecoder) decoder = ps_test_decoder_new();
    PsExporterCounters counters;
    PsPacket packet;

    for (guint domain = 0; domain < PS_IPFIX_MAX_DOMAINS + 76; domain++) {
        template_message(&packet, domain, 300);
        feed(decoder, &packet);
    }
    ps_test_decoder_counters(decoder, NULL, &counters);
    g_assert_cmpuint(counters.decode_errors, ==, 76);
    /* the domains it knows keep working */
    data_message(&packet, 5, 0, 300, 445);
    feed(decoder, &packet);
    g_assert_cmpuint(decoder->flows->len, ==, 1);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/decode/ipfix/fields", test_fields);
    g_test_add_func("/decode/ipfix/data-before-template", test_data_before_template);
    g_test_add_func("/decode/ipfix/withdrawal", test_withdrawal);
    g_test_add_func("/decode/ipfix/redefinition", test_redefinition);
    g_test_add_func("/decode/ipfix/templates-per-exporter-and-domain",
                    test_templates_per_exporter_and_domain);
    g_test_add_func("/decode/ipfix/sampling-from-options", test_sampling_from_options);
    for (guint i = 0; i < G_N_ELEMENTS(time_cases); i++) {
        g_autofree gchar *name = g_strdup_printf("/decode/ipfix/time/%s", time_cases[i].name);
        g_test_add_data_func(name, &time_cases[i], test_time_encoding);
    }
    g_test_add_func("/decode/ipfix/varlen-enterprise-ipv6", test_varlen_enterprise_ipv6);
    g_test_add_func("/decode/ipfix/sequence-gap-and-restart", test_sequence_gap_and_restart);
    g_test_add_func("/decode/v9/templates-options-uptime", test_v9);
    g_test_add_func("/decode/ipfix/domain-bound", test_domain_bound);
    return g_test_run();
}
