#include "config.h"

#include <string.h>

#include "packet_pool.h"

G_DEFINE_QUARK(ps_packet_pool_error_quark, ps_packet_pool_error)

#define V5_HEADER_LEN    24
#define V5_RECORD_LEN    48
#define V9_HEADER_LEN    20
#define IPFIX_HEADER_LEN 16
#define SET_HEADER_LEN   4
#define TEMPLATE_ID      256
#define SOURCE_ID        1              /* v9 source id, IPFIX observation domain */
#define UPTIME_AT_BUILD  (864000000LL) /* ten days, in ms: well inside 32 bits */

/* One flow before it is written in a version's layout. */
typedef struct {
    guint32 src, dst, next_hop;
    guint16 src_port, dst_port;
    guint16 in_if, out_if;
    guint8 proto, tcp_flags, tos, src_mask, dst_mask;
    guint32 packets, bytes;
    gint64 start_ms, end_ms;
} BenchFlow;

/* A field of the Cisco-like templates: IANA element id (same number in v9) and length. */
typedef struct {
    guint16 id;
    guint16 len;
} TemplateField;

/* NetFlow v9 as IOS "ip flow-export version 9" sends it (RFC 3954 8). */
static const TemplateField v9_template[] = {
    {1, 4},  /* IN_BYTES */
    {2, 4},  /* IN_PKTS */
    {4, 1},  /* PROTOCOL */
    {5, 1},  /* SRC_TOS */
    {6, 1},  /* TCP_FLAGS */
    {7, 2},  /* L4_SRC_PORT */
    {8, 4},  /* IPV4_SRC_ADDR */
    {9, 1},  /* SRC_MASK */
    {10, 2}, /* INPUT_SNMP */
    {11, 2}, /* L4_DST_PORT */
    {12, 4}, /* IPV4_DST_ADDR */
    {13, 1}, /* DST_MASK */
    {14, 2}, /* OUTPUT_SNMP */
    {15, 4}, /* IPV4_NEXT_HOP */
    {21, 4}, /* LAST_SWITCHED (sysUptime ms) */
    {22, 4}, /* FIRST_SWITCHED */
};

/* The same flow in IPFIX with native lengths and absolute times (RFC 7012). */
static const TemplateField ipfix_template[] = {
    {1, 8},   /* octetDeltaCount */
    {2, 8},   /* packetDeltaCount */
    {4, 1},   /* protocolIdentifier */
    {5, 1},   /* ipClassOfService */
    {6, 2},   /* tcpControlBits */
    {7, 2},   /* sourceTransportPort */
    {8, 4},   /* sourceIPv4Address */
    {9, 1},   /* sourceIPv4PrefixLength */
    {10, 4},  /* ingressInterface */
    {11, 2},  /* destinationTransportPort */
    {12, 4},  /* destinationIPv4Address */
    {13, 1},  /* destinationIPv4PrefixLength */
    {14, 4},  /* egressInterface */
    {15, 4},  /* ipNextHopIPv4Address */
    {152, 8}, /* flowStartMilliseconds */
    {153, 8}, /* flowEndMilliseconds */
};

/* Destination ports most traffic goes to; the rest of the table is 1024 upwards. */
static const guint16 busy_ports[] = {443, 80,  53,   22,   123,  25,   3389, 8080, 445,
                                     993, 587, 8443, 3306, 5432, 1194, 161,  179,  5060};

static guint64
splitmix64(guint64 *state)
{
    guint64 z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static guint32
random_below(guint64 *state, guint32 n)
{
    return (guint32)(((splitmix64(state) >> 32) * (guint64)n) >> 32);
}

/* In [0, n), the low end far more likely: index = n * u^3. */
static guint32
random_skewed(guint64 *state, guint32 n)
{
    double u = (double)(splitmix64(state) >> 11) / (double)(1ULL << 53);

    return MIN((guint32)(u * u * u * n), n - 1);
}

static guint16
dst_port_at(guint index)
{
    if (index < G_N_ELEMENTS(busy_ports))
        return busy_ports[index];
    return (guint16)(1024 + index - G_N_ELEMENTS(busy_ports));
}

static void
flow_random(guint64 *state, const PsPacketPoolConfig *config, gint64 now_ms, BenchFlow *flow)
{
    guint32 source = random_below(state, config->sources);
    guint32 destination = random_skewed(state, config->destinations);
    guint32 roll = random_below(state, 100);
    static const guint8 tcp_flags[] = {0x1b, 0x02, 0x12, 0x10, 0x18, 0x11, 0x14, 0x1f};

    memset(flow, 0, sizeof(*flow));
    flow->src = (10u << 24) | (source + 1);               /* 10.0.0.1 upwards */
    flow->dst = (172u << 24) | (16u << 16) | (destination + 1); /* 172.16.0.1 upwards */
    flow->next_hop = (192u << 24) | (168u << 16) | (1 + random_below(state, 4));
    flow->dst_port = dst_port_at(random_skewed(state, config->dst_ports));
    flow->src_port = (guint16)(32768 + random_below(state, 28232));
    flow->proto = roll < 85 ? 6 : roll < 97 ? 17 : 1;
    if (flow->proto == 1) {
        flow->src_port = 0;
        flow->dst_port = (guint16)(random_below(state, 2) == 0 ? 0x0800 : 0x0300);
    }
    if (flow->proto == 6)
        flow->tcp_flags = tcp_flags[random_below(state, G_N_ELEMENTS(tcp_flags))];
    flow->tos = random_below(state, 10) == 0 ? 0xb8 : 0;
    flow->src_mask = 24;
    flow->dst_mask = 16;
    flow->in_if = (guint16)(1 + random_below(state, 8));
    flow->out_if = (guint16)(9 + random_below(state, 8));
    flow->packets = 1 + random_skewed(state, 2000);
    flow->bytes = flow->packets * (40 + random_below(state, 1460));
    flow->end_ms = now_ms - random_below(state, 60000);
    flow->start_ms = flow->end_ms - random_skewed(state, 120000);
}

static guint8 *
put16(guint8 *p, guint32 value)
{
    p[0] = (guint8)(value >> 8);
    p[1] = (guint8)value;
    return p + 2;
}

static guint8 *
put32(guint8 *p, guint32 value)
{
    p[0] = (guint8)(value >> 24);
    p[1] = (guint8)(value >> 16);
    p[2] = (guint8)(value >> 8);
    p[3] = (guint8)value;
    return p + 4;
}

static guint8 *
put64(guint8 *p, guint64 value)
{
    put32(p, (guint32)(value >> 32));
    return put32(p + 4, (guint32)value);
}

static guint8 *
put_number(guint8 *p, guint64 value, guint len)
{
    switch (len) {
    case 1:
        *p = (guint8)value;
        return p + 1;
    case 2:
        return put16(p, (guint32)value);
    case 4:
        return put32(p, (guint32)value);
    default:
        return put64(p, value);
    }
}

static guint32
get32(const guint8 *p)
{
    return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static guint64
get64(const guint8 *p)
{
    return (guint64)get32(p) << 32 | get32(p + 4);
}

static guint32
uptime_of(const PsPacketPool *pool, gint64 unix_ms)
{
    return (guint32)(unix_ms - pool->boot_ms);
}

static guint8 *
write_v5_record(const PsPacketPool *pool, const BenchFlow *flow, guint8 *p)
{
    p = put32(p, flow->src);
    p = put32(p, flow->dst);
    p = put32(p, flow->next_hop);
    p = put16(p, flow->in_if);
    p = put16(p, flow->out_if);
    p = put32(p, flow->packets);
    p = put32(p, flow->bytes);
    p = put32(p, uptime_of(pool, flow->start_ms));
    p = put32(p, uptime_of(pool, flow->end_ms));
    p = put16(p, flow->src_port);
    p = put16(p, flow->dst_port);
    *p++ = 0; /* pad1 */
    *p++ = flow->tcp_flags;
    *p++ = flow->proto;
    *p++ = flow->tos;
    p = put16(p, 0); /* src_as */
    p = put16(p, 0); /* dst_as */
    *p++ = flow->src_mask;
    *p++ = flow->dst_mask;
    return put16(p, 0); /* pad2 */
}

/* The value of template field id for flow; times as v9 (uptime) or IPFIX (Unix ms) want. */
static guint64
field_value(const PsPacketPool *pool, const BenchFlow *flow, guint16 id)
{
    switch (id) {
    case 1:
        return flow->bytes;
    case 2:
        return flow->packets;
    case 4:
        return flow->proto;
    case 5:
        return flow->tos;
    case 6:
        return flow->tcp_flags;
    case 7:
        return flow->src_port;
    case 8:
        return flow->src;
    case 9:
        return flow->src_mask;
    case 10:
        return flow->in_if;
    case 11:
        return flow->dst_port;
    case 12:
        return flow->dst;
    case 13:
        return flow->dst_mask;
    case 14:
        return flow->out_if;
    case 15:
        return flow->next_hop;
    case 21:
        return uptime_of(pool, flow->end_ms);
    case 22:
        return uptime_of(pool, flow->start_ms);
    case 152:
        return (guint64)flow->start_ms;
    case 153:
        return (guint64)flow->end_ms;
    default:
        g_assert_not_reached();
    }
}

static const TemplateField *
template_of(guint version, guint *n_fields)
{
    if (version == 9) {
        *n_fields = G_N_ELEMENTS(v9_template);
        return v9_template;
    }
    *n_fields = G_N_ELEMENTS(ipfix_template);
    return ipfix_template;
}

static guint8 *
write_template_record(guint version, guint8 *p)
{
    guint n_fields;
    const TemplateField *fields = template_of(version, &n_fields);

    p = put16(p, TEMPLATE_ID);
    p = put16(p, n_fields);
    for (guint i = 0; i < n_fields; i++) {
        p = put16(p, fields[i].id);
        p = put16(p, fields[i].len);
    }
    return p;
}

static guint8 *
write_flow_fields(const PsPacketPool *pool, const BenchFlow *flow, guint8 *p)
{
    guint n_fields;
    const TemplateField *fields = template_of(pool->config.version, &n_fields);

    for (guint i = 0; i < n_fields; i++)
        p = put_number(p, field_value(pool, flow, fields[i].id), fields[i].len);
    return p;
}

/* Writes the message header; the fields ps_packet_pool_stamp() fills are left zero. */
static guint8 *
write_header(guint version, guint count, guint8 *p)
{
    guint header_len = version == 5 ? V5_HEADER_LEN : version == 9 ? V9_HEADER_LEN
                                                                   : IPFIX_HEADER_LEN;

    memset(p, 0, header_len);
    put16(p, version);
    if (version != 10)
        put16(p + 2, count);
    if (version == 9)
        put32(p + 16, SOURCE_ID);
    if (version == 10)
        put32(p + 12, SOURCE_ID);
    return p + header_len;
}

/* Closes a set started at set (id written, length patched) and pads it to 4 bytes as Cisco
 * does for v9 (RFC 3954 5.3); IPFIX sets are left unpadded. */
static guint8 *
close_set(guint version, guint8 *set, guint8 *end)
{
    if (version == 9) {
        while ((end - set) % 4 != 0)
            *end++ = 0;
    }
    put16(set + 2, (guint32)(end - set));
    return end;
}

static gsize
build_template_packet(guint version, guint8 *start)
{
    guint8 *p = write_header(version, 1, start);
    guint8 *set = p;

    p = put16(p, version == 9 ? 0 : 2); /* template set id */
    p = put16(p, 0);
    p = write_template_record(version, p);
    p = close_set(version, set, p);
    if (version == 10)
        put16(start + 2, (guint32)(p - start));
    return (gsize)(p - start);
}

static gsize
build_data_packet(PsPacketPool *pool, guint64 *state, gint64 now_ms, guint8 *start)
{
    guint version = pool->config.version;
    guint n = pool->config.records_per_packet;
    guint8 *p = write_header(version, n, start);
    guint8 *set = p;
    BenchFlow flow;

    if (version != 5) {
        p = put16(p, TEMPLATE_ID);
        p = put16(p, 0);
    }
    for (guint i = 0; i < n; i++) {
        flow_random(state, &pool->config, now_ms, &flow);
        if (version == 5)
            p = write_v5_record(pool, &flow, p);
        else
            p = write_flow_fields(pool, &flow, p);
    }
    if (version != 5)
        p = close_set(version, set, p);
    if (version == 10)
        put16(start + 2, (guint32)(p - start));
    g_assert((gsize)(p - start) <= PS_PACKET_POOL_MAX_BYTES);
    return (gsize)(p - start);
}

void
ps_packet_pool_defaults(PsPacketPoolConfig *config, guint version)
{
    config->version = version;
    config->records_per_packet = PS_PACKET_POOL_MAX_RECORDS;
    config->packets = 8192;
    config->sources = 100000;
    config->destinations = 4096;
    config->dst_ports = 10000;
    config->seed = 1;
}

static gboolean
config_valid(const PsPacketPoolConfig *config, GError **error)
{
    if (config->version != 5 && config->version != 9 && config->version != 10) {
        g_set_error(error, PS_PACKET_POOL_ERROR, 0, "version %u: expected 5, 9 or 10",
                    config->version);
        return FALSE;
    }
    if (config->records_per_packet < 1 ||
        config->records_per_packet > PS_PACKET_POOL_MAX_RECORDS) {
        g_set_error(error, PS_PACKET_POOL_ERROR, 0, "records per packet %u: expected 1 to %u",
                    config->records_per_packet, PS_PACKET_POOL_MAX_RECORDS);
        return FALSE;
    }
    if (config->packets < 1 || config->packets > PS_PACKET_POOL_MAX_PACKETS ||
        config->sources < 1 || config->sources >= (1u << 24) || config->destinations < 1 ||
        config->destinations >= (1u << 16) - 1 || config->dst_ports < 1 ||
        config->dst_ports > 65535 - 1024) {
        g_set_error(error, PS_PACKET_POOL_ERROR, 0,
                    "pool of %u packets, %u sources, %u destinations, %u ports: out of range",
                    config->packets, config->sources, config->destinations, config->dst_ports);
        return FALSE;
    }
    return TRUE;
}

PsPacketPool *
ps_packet_pool_new(const PsPacketPoolConfig *config, gint64 now_ms, GError **error)
{
    g_autoptr(PsPacketPool) pool = NULL;
    guint64 state;

    if (!config_valid(config, error))
        return NULL;
    pool = g_new0(PsPacketPool, 1);
    pool->config = *config;
    pool->boot_ms = now_ms - UPTIME_AT_BUILD;
    pool->built_ms = now_ms;
    pool->storage = g_malloc((gsize)(config->packets + 1) * PS_PACKET_POOL_MAX_BYTES);
    pool->packets = g_new0(PsPacket, config->packets);
    state = config->seed;
    pool->template_packet.data = pool->storage;
    if (config->version != 5)
        pool->template_packet.len = build_template_packet(config->version, pool->storage);
    for (guint i = 0; i < config->packets; i++) {
        PsPacket *packet = &pool->packets[i];
        packet->data = pool->storage + (gsize)(i + 1) * PS_PACKET_POOL_MAX_BYTES;
        packet->len = build_data_packet(pool, &state, now_ms, packet->data);
        packet->records = config->records_per_packet;
    }
    return g_steal_pointer(&pool);
}

void
ps_packet_pool_free(PsPacketPool *pool)
{
    if (pool == NULL)
        return;
    g_free(pool->packets);
    g_free(pool->shift_ms);
    g_free(pool->storage);
    g_free(pool);
}

void
ps_packet_pool_set_live(PsPacketPool *pool)
{
    g_return_if_fail(pool->shift_ms == NULL);
    pool->live = TRUE;
    pool->shift_ms = g_new0(gint64, pool->config.packets);
}

/* Adds delta_ms to both times of every record: 32-bit sysUptime ms (v5, v9) or 64-bit Unix ms
 * (IPFIX), at the offsets the record layouts above put them. */
static void
shift_record_times(const PsPacketPool *pool, PsPacket *packet, gint64 delta_ms)
{
    guint version = pool->config.version;
    gsize header = V5_HEADER_LEN;
    gsize record_len = V5_RECORD_LEN;
    gsize times[2] = {24, 28}; /* v5: first, last */
    guint time_len = 4;
    guint n_fields;
    const TemplateField *fields;

    if (version != 5) {
        gsize offset = 0;
        guint found = 0;
        header = (version == 9 ? V9_HEADER_LEN : IPFIX_HEADER_LEN) + SET_HEADER_LEN;
        fields = template_of(version, &n_fields);
        for (guint i = 0; i < n_fields; i++) {
            gboolean is_time = fields[i].id == 21 || fields[i].id == 22 ||
                               fields[i].id == 152 || fields[i].id == 153;
            if (is_time && found < G_N_ELEMENTS(times)) {
                times[found++] = offset;
                time_len = fields[i].len;
            }
            offset += fields[i].len;
        }
        record_len = offset;
    }
    for (guint r = 0; r < packet->records; r++) {
        guint8 *record = packet->data + header + r * record_len;
        for (guint t = 0; t < G_N_ELEMENTS(times); t++) {
            guint8 *field = record + times[t];
            if (time_len == 4)
                put32(field, (guint32)(get32(field) + (guint32)delta_ms));
            else
                put64(field, get64(field) + (guint64)delta_ms);
        }
    }
}

void
ps_packet_pool_stamp(PsPacketPool *pool, PsPacket *packet, gint64 now_ms)
{
    guint8 *p = packet->data;
    guint32 uptime = uptime_of(pool, now_ms);

    if (pool->live && packet->records > 0) {
        gsize index = (gsize)(packet - pool->packets);
        gint64 shift = (now_ms - pool->built_ms) / 1000 * 1000; /* whole seconds: rarely */
        g_assert(index < pool->config.packets);
        if (shift != pool->shift_ms[index]) {
            shift_record_times(pool, packet, shift - pool->shift_ms[index]);
            pool->shift_ms[index] = shift;
        }
    }

    switch (pool->config.version) {
    case 5:
        put32(p + 4, uptime);
        put32(p + 8, (guint32)(now_ms / 1000));
        put32(p + 12, (guint32)(now_ms % 1000) * 1000000u);
        put32(p + 16, pool->sequence);
        pool->sequence += packet->records;
        break;
    case 9:
        put32(p + 4, uptime);
        put32(p + 8, (guint32)(now_ms / 1000));
        put32(p + 12, pool->sequence);
        pool->sequence++;
        break;
    default:
        put32(p + 4, (guint32)(now_ms / 1000));
        put32(p + 8, pool->sequence);
        pool->sequence += packet->records;
        break;
    }
}

guint
ps_packet_pool_parse_version(const char *text)
{
    if (g_strcmp0(text, "5") == 0 || g_strcmp0(text, "v5") == 0)
        return 5;
    if (g_strcmp0(text, "9") == 0 || g_strcmp0(text, "v9") == 0)
        return 9;
    if (g_strcmp0(text, "10") == 0 || g_ascii_strcasecmp(text, "ipfix") == 0)
        return 10;
    return 0;
}

const char *
ps_packet_pool_version_name(guint version)
{
    return version == 5 ? "v5" : version == 9 ? "v9" : "ipfix";
}
