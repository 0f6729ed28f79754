/* A real exporter: Debian's softflowd reads a pcap this test writes (known TCP and UDP flows
 * over IPv4 and IPv6, SYN-only ones included) and exports NetFlow v5, v9 and IPFIX over
 * 127.0.0.1 or ::1 to a `--dump` collector. Every record must carry exactly the flow the pcap
 * holds: addresses, ports, protocol, packets, bytes (IP length, as softflowd counts), TCP flags
 * and the packet times; softflowd's own count of exported records must match ours.
 *
 * softflowd tracks a connection both ways and exports one record per direction, with the
 * connection's first and last packet times in both. v5 carries IPv4 only. softflowd runs with
 * -a (flow times from the pcap, not the clock) and -c none (no control socket: with one,
 * softflowd 1.1.0 blocks in accept() instead of reading the file). Needs nothing from
 * ../shared. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "integ-util.h"

#define SOFTFLOWD         "/usr/sbin/softflowd"
#define CAPTURE_START_S   1700000000 /* 2023-11-14T22:13:20Z, time of the first frame */
#define V9_CLOCK_SLACK_MS 1000       /* v9 headers carry whole seconds only (RFC 3954 5.1) */

/* One direction of traffic: count packets, first at first_ms, then every step_ms. */
typedef struct {
    const char *src;
    const char *dst;
    guint16 src_port;
    guint16 dst_port;
    guint8 proto; /* 6 or 17 */
    guint8 tcp_flags;
    guint payload; /* bytes after the TCP or UDP header */
    guint count;
    guint first_ms;
    guint step_ms;
} FlowSpec;

#define TCP_SYN     0x02
#define TCP_ACK     0x10
#define TCP_PSH_ACK 0x18

static const FlowSpec flows[] = {
    /* a TCP connection both ways */
    {"10.0.0.1", "10.0.0.2", 40000, 80, 6, TCP_PSH_ACK, 100, 3, 0, 250},
    {"10.0.0.2", "10.0.0.1", 80, 40000, 6, TCP_ACK, 50, 2, 120, 300},
    {"10.0.0.1", "10.0.0.2", 5353, 53, 17, 0, 30, 1, 500, 0},
    /* SYN-only: one SYN, and an unanswered SYN retransmitted twice */
    {"10.0.0.1", "10.0.0.2", 40001, 22, 6, TCP_SYN, 0, 1, 700, 0},
    {"192.0.2.10", "198.51.100.7", 12345, 443, 6, TCP_SYN, 0, 3, 1000, 1000},
    {"10.1.2.3", "10.3.2.1", 9999, 7777, 17, 0, 1000, 20, 200, 50},
    /* IPv6: exported by v9 and IPFIX only */
    {"2001:db8::1", "2001:db8::2", 50000, 443, 6, TCP_PSH_ACK, 200, 4, 1500, 250},
    {"2001:db8::2", "2001:db8::1", 443, 50000, 6, TCP_ACK, 0, 2, 1600, 400},
    {"2001:db8::2", "2001:db8::1", 123, 124, 17, 0, 48, 1, 2750, 0},
    {"2001:db8:1::7", "2001:db8:2::9", 5000, 6000, 6, TCP_SYN, 0, 2, 3000, 1000},
};

typedef struct {
    const char *path;
    const char *version;   /* softflowd -v */
    const char *transport; /* loopback address softflowd sends to */
} ExportCase;

static const ExportCase cases[] = {
    {"/softflowd/v5/ipv4", "5", "127.0.0.1"},     {"/softflowd/v5/ipv6", "5", "::1"},
    {"/softflowd/v9/ipv4", "9", "127.0.0.1"},     {"/softflowd/v9/ipv6", "9", "::1"},
    {"/softflowd/ipfix/ipv4", "10", "127.0.0.1"}, {"/softflowd/ipfix/ipv6", "10", "::1"},
};

static gboolean
is_ipv6(const FlowSpec *flow)
{
    return strchr(flow->src, ':') != NULL;
}

static guint
packet_length(const FlowSpec *flow)
{
    return (is_ipv6(flow) ? 40 : 20) + (flow->proto == 6 ? 20 : 8) + flow->payload;
}

static guint
last_ms(const FlowSpec *flow)
{
    return flow->first_ms + (flow->count - 1) * flow->step_ms;
}

/* --- writing the capture --- */

static void
put_u16be(GByteArray *out, guint value)
{
    guint8 bytes[2] = {value >> 8, value};
    g_byte_array_append(out, bytes, 2);
}

static void
put_u32le(GByteArray *out, guint32 value)
{
    guint8 bytes[4] = {value, value >> 8, value >> 16, value >> 24};
    g_byte_array_append(out, bytes, 4);
}

static void
put_address(GByteArray *out, const char *text)
{
    g_autoptr(GInetAddress) address = g_inet_address_new_from_string(text);

    g_assert_nonnull(address);
    g_byte_array_append(out, g_inet_address_to_bytes(address),
                        g_inet_address_get_native_size(address));
}

static guint16
ipv4_checksum(const guint8 *header)
{
    guint32 sum = 0;

    for (guint i = 0; i < 20; i += 2)
        sum += (guint32)header[i] << 8 | header[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return ~sum & 0xffff;
}

static void
put_ip_header(GByteArray *out, const FlowSpec *flow)
{
    guint start = out->len;
    guint l4 = packet_length(flow) - (is_ipv6(flow) ? 40 : 20);

    if (is_ipv6(flow)) {
        put_u16be(out, 0x6000);
        put_u16be(out, 0);
        put_u16be(out, l4);
        g_byte_array_append(out, (const guint8[]){flow->proto, 64}, 2);
    } else {
        put_u16be(out, 0x4500);
        put_u16be(out, packet_length(flow));
        put_u16be(out, 1);      /* identification */
        put_u16be(out, 0x4000); /* don't fragment */
        g_byte_array_append(out, (const guint8[]){64, flow->proto, 0, 0}, 4);
    }
    put_address(out, flow->src);
    put_address(out, flow->dst);
    if (!is_ipv6(flow)) {
        guint16 sum = ipv4_checksum(out->data + start);
        out->data[start + 10] = sum >> 8;
        out->data[start + 11] = sum & 0xff;
    }
}

/* One Ethernet frame of the flow; transport checksums stay 0 (nothing verifies them). */
static void
put_frame(GByteArray *out, const FlowSpec *flow, gint64 time_ms)
{
    static const guint8 ethernet[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
    guint frame_len = 14 + packet_length(flow);

    put_u32le(out, CAPTURE_START_S + time_ms / 1000);
    put_u32le(out, (time_ms % 1000) * 1000);
    put_u32le(out, frame_len);
    put_u32le(out, frame_len);
    g_byte_array_append(out, ethernet, sizeof(ethernet));
    put_u16be(out, is_ipv6(flow) ? 0x86dd : 0x0800);
    put_ip_header(out, flow);
    put_u16be(out, flow->src_port);
    put_u16be(out, flow->dst_port);
    if (flow->proto == 6) {
        put_u32le(out, 1000); /* sequence */
        put_u32le(out, 0);    /* acknowledgement */
        g_byte_array_append(out, (const guint8[]){0x50, flow->tcp_flags}, 2);
        put_u16be(out, 65535); /* window */
        put_u32le(out, 0);     /* checksum, urgent pointer */
    } else {
        put_u16be(out, 8 + flow->payload);
        put_u16be(out, 0);
    }
    for (guint i = 0; i < flow->payload; i++)
        g_byte_array_append(out, (const guint8[]){'x'}, 1);
}

typedef struct {
    gint64 time_ms;
    guint flow;
    guint seq; /* keeps frames of equal time in table order */
} Frame;

static gint
compare_frames(gconstpointer a, gconstpointer b)
{
    const Frame *x = a, *y = b;

    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The capture: classic pcap, microsecond times, Ethernet, frames in time order. */
static void
write_capture(const char *path)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GArray) frames = g_array_new(FALSE, FALSE, sizeof(Frame));
    g_autoptr(GError) error = NULL;

    put_u32le(out, 0xa1b2c3d4);
    put_u32le(out, 2 | 4 << 16); /* version 2.4 */
    put_u32le(out, 0);           /* thiszone */
    put_u32le(out, 0);           /* sigfigs */
    put_u32le(out, 65535);       /* snaplen */
    put_u32le(out, 1);           /* LINKTYPE_ETHERNET */
    for (guint i = 0; i < G_N_ELEMENTS(flows); i++) {
        for (guint n = 0; n < flows[i].count; n++) {
            Frame frame = {flows[i].first_ms + n * flows[i].step_ms, i, frames->len};
            g_array_append_val(frames, frame);
        }
    }
    g_array_sort(frames, compare_frames);
    for (guint i = 0; i < frames->len; i++) {
        const Frame *frame = &g_array_index(frames, Frame, i);
        put_frame(out, &flows[frame->flow], frame->time_ms);
    }
    g_file_set_contents(path, (const gchar *)out->data, out->len, &error);
    g_assert_no_error(error);
}

/* --- what the records must say --- */

static gboolean
same_address(const char *a, const char *b)
{
    g_autoptr(GInetAddress) x = g_inet_address_new_from_string(a);
    g_autoptr(GInetAddress) y = g_inet_address_new_from_string(b);

    return x != NULL && y != NULL && g_inet_address_equal(x, y);
}

/* The other direction of the same connection, if the table has it. */
static const FlowSpec *
reverse_of(const FlowSpec *flow)
{
    for (guint i = 0; i < G_N_ELEMENTS(flows); i++) {
        const FlowSpec *other = &flows[i];
        if (other->proto == flow->proto && other->src_port == flow->dst_port &&
            other->dst_port == flow->src_port && same_address(other->src, flow->dst) &&
            same_address(other->dst, flow->src))
            return other;
    }
    return NULL;
}

static gboolean
record_is(JsonObject *record, const FlowSpec *flow)
{
    return same_address(json_object_get_string_member(record, "src_addr"), flow->src) &&
           same_address(json_object_get_string_member(record, "dst_addr"), flow->dst) &&
           json_object_get_int_member(record, "src_port") == flow->src_port &&
           json_object_get_int_member(record, "dst_port") == flow->dst_port &&
           json_object_get_int_member(record, "proto") == flow->proto;
}

static void
assert_times(JsonObject *record, const FlowSpec *flow, guint version)
{
    const FlowSpec *reverse = reverse_of(flow);
    gint64 base = (gint64)CAPTURE_START_S * 1000;
    gint64 start = base + MIN(flow->first_ms, reverse ? reverse->first_ms : G_MAXUINT);
    gint64 end = base + MAX(last_ms(flow), reverse ? last_ms(reverse) : 0);
    gint64 got_start = json_object_get_int_member(record, "start");
    gint64 got_end = json_object_get_int_member(record, "end");

    g_assert_cmpint(got_end - got_start, ==, end - start);
    if (version == 9) {
        /* uptime-relative times, anchored on a header time in whole seconds: up to a second
         * early, never late */
        g_assert_cmpint(got_start, <=, start);
        g_assert_cmpint(got_start, >, start - V9_CLOCK_SLACK_MS);
    } else {
        g_assert_cmpint(got_start, ==, start);
    }
}

static void
assert_record(JsonObject *record, const FlowSpec *flow, guint version, const char *exporter)
{
    g_test_message("checking %s:%u -> %s:%u proto %u", flow->src, flow->src_port, flow->dst,
                   flow->dst_port, flow->proto);
    g_assert_true(same_address(json_object_get_string_member(record, "exporter"), exporter));
    g_assert_cmpint(json_object_get_int_member(record, "version"), ==, version);
    g_assert_cmpint(json_object_get_int_member(record, "packets"), ==, flow->count);
    g_assert_cmpint(json_object_get_int_member(record, "bytes"), ==,
                    (gint64)flow->count * packet_length(flow));
    g_assert_cmpint(json_object_get_int_member(record, "tcp_flags"), ==, flow->tcp_flags);
    g_assert_cmpint(json_object_get_int_member(record, "sampling"), ==, 1);
    assert_times(record, flow, version);
}

/* "Flows exported: 5 (6 records) in 1 packets (0 failures)", softflowd's summary at exit. */
static gint
softflowd_records_exported(const PsTestChild *softflowd)
{
    const GPtrArray *streams[] = {softflowd->out, softflowd->err};

    for (guint s = 0; s < G_N_ELEMENTS(streams); s++) {
        for (guint i = 0; i < streams[s]->len; i++) {
            const char *line = g_ptr_array_index(streams[s], i);
            guint flows_exported, records;
            if (sscanf(line, "Flows exported: %u (%u records)", &flows_exported, &records) == 2)
                return (gint)records;
        }
    }
    return -1;
}

static PsTestChild *
run_softflowd(const char *pcap, const char *pidfile, const ExportCase *export, guint16 port)
{
    g_autofree gchar *target = g_strdup_printf(strchr(export->transport, ':') ? "[%s]:%u" : "%s:%u",
                                               export->transport, port);
    const gchar *argv[] = {SOFTFLOWD,       "-a", "-r", pcap,   "-n", target,  "-v",
                           export->version, "-d", "-c", "none", "-p", pidfile, NULL};
    g_autoptr(GError) error = NULL;
    PsTestChild *softflowd = ps_test_child_spawn(argv, &error);

    g_assert_no_error(error);
    if (!ps_test_child_wait_exit(softflowd, PS_TEST_EXIT_TIMEOUT_MS) ||
        !ps_test_child_exited_cleanly(softflowd)) {
        g_autofree gchar *status = ps_test_child_describe_status(softflowd);
        ps_test_child_log_stderr(softflowd, "softflowd");
        g_test_fail_printf("softflowd: %s", status);
    }
    return softflowd;
}

static guint
expected_records(guint version)
{
    guint n = 0;

    for (guint i = 0; i < G_N_ELEMENTS(flows); i++)
        n += version != 5 || !is_ipv6(&flows[i]);
    return n;
}

static void
assert_records(const GPtrArray *lines, guint version, const char *exporter)
{
    g_autoptr(GPtrArray) parsers = g_ptr_array_new_with_free_func(g_object_unref);
    gboolean seen[G_N_ELEMENTS(flows)] = {FALSE};

    for (guint i = 0; i < lines->len; i++) {
        JsonParser *parser = json_parser_new();
        JsonObject *record;
        gboolean matched = FALSE;
        g_ptr_array_add(parsers, parser);
        g_assert_true(json_parser_load_from_data(parser, g_ptr_array_index(lines, i), -1, NULL));
        record = json_node_get_object(json_parser_get_root(parser));
        for (guint f = 0; f < G_N_ELEMENTS(flows) && !matched; f++) {
            if (!record_is(record, &flows[f]))
                continue;
            g_assert_false(seen[f]); /* one record per direction */
            seen[f] = matched = TRUE;
            assert_record(record, &flows[f], version, exporter);
        }
        if (!matched)
            g_test_message("record of no flow in the pcap: %s",
                           (const char *)g_ptr_array_index(lines, i));
        g_assert_true(matched);
    }
    for (guint f = 0; f < G_N_ELEMENTS(flows); f++) {
        if (version == 5 && is_ipv6(&flows[f]))
            continue;
        if (!seen[f])
            g_test_message("no record for %s:%u -> %s:%u", flows[f].src, flows[f].src_port,
                           flows[f].dst, flows[f].dst_port);
        g_assert_true(seen[f]);
    }
}

static void
test_softflowd(gconstpointer data)
{
    const ExportCase *export = data;
    guint version = (guint)g_ascii_strtoull(export->version, NULL, 10);
    guint expected = expected_records(version);
    g_autoptr(GError) error = NULL;
    g_autofree gchar *dir = NULL;
    g_autofree gchar *pcap = NULL;
    g_autofree gchar *pidfile = NULL;
    g_autofree gchar *status = NULL;
    g_autoptr(PsTestChild) collector = NULL;
    g_autoptr(PsTestChild) softflowd = NULL;
    guint16 port;

    if (ps_test_collector_path() == NULL)
        return;
    if (!g_file_test(SOFTFLOWD, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip(SOFTFLOWD " is not installed (Debian package softflowd)");
        return;
    }
    dir = g_dir_make_tmp("portsurge-softflowd-XXXXXX", &error);
    g_assert_no_error(error);
    pcap = g_build_filename(dir, "flows.pcap", NULL);
    pidfile = g_build_filename(dir, "softflowd.pid", NULL);
    write_capture(pcap);

    collector = ps_test_collector_start(&export->transport, 1, &port, NULL);
    if (collector != NULL) {
        softflowd = run_softflowd(pcap, pidfile, export, port);
        if (!ps_test_child_wait_lines(collector, expected, PS_TEST_RECORDS_TIMEOUT_MS))
            g_test_message("only %u of %u records arrived in time", collector->out->len, expected);
        ps_test_child_wait_quiet(collector, PS_TEST_QUIET_MS, PS_TEST_RECORDS_TIMEOUT_MS);
        (void)ps_test_child_stop(collector, SIGTERM, PS_TEST_EXIT_TIMEOUT_MS);
        status = ps_test_child_describe_status(collector);
    }
    g_remove(pidfile);
    g_remove(pcap);
    g_rmdir(dir);
    if (collector == NULL || g_test_failed())
        return;
    if (g_strcmp0(status, "exit 0") != 0)
        ps_test_child_log_stderr(collector, "collector");
    g_assert_cmpstr(status, ==, "exit 0");

    g_assert_cmpint(softflowd_records_exported(softflowd), ==, expected);
    g_assert_cmpuint(collector->out->len, ==, expected);
    assert_records(collector->out, version, export->transport);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
        g_test_add_data_func(cases[i].path, &cases[i], test_softflowd);
    return g_test_run();
}
