#include "config.h"

#include <string.h>

#include "cursor.h"
#include "decode_v5.h"

static void
read_header(PsCursor *cursor, PsV5Header *header)
{
    guint16 sampling;

    ps_cursor_skip(cursor, 2); /* version, checked by the dispatcher */
    header->count = ps_cursor_u16(cursor);
    header->sys_uptime_ms = ps_cursor_u32(cursor);
    header->unix_secs = ps_cursor_u32(cursor);
    header->unix_nsecs = ps_cursor_u32(cursor);
    header->sequence = ps_cursor_u32(cursor);
    header->engine_type = ps_cursor_u8(cursor);
    header->engine_id = ps_cursor_u8(cursor);
    sampling = ps_cursor_u16(cursor);
    header->sampling_mode = sampling >> 14;
    header->sampling_interval = sampling & 0x3fff;
}

/* First and Last are sysUptime (ms) at the flow's first and last packet; the header says
 * what sysUptime was at unix_secs/unix_nsecs. Signed difference: Last may be a little
 * after the header's uptime on some exporters, and uptime wraps after 49.7 days. */
static gint64
export_unix_ms(const PsV5Header *header)
{
    return (gint64)header->unix_secs * 1000 + header->unix_nsecs / 1000000;
}

static gint64
uptime_to_unix_ms(const PsV5Header *header, gint64 export_ms, guint32 uptime_ms)
{
    gint32 age_ms = (gint32)(header->sys_uptime_ms - uptime_ms);

    return export_ms - age_ms;
}

/* The fields of a packet's records that its header sets. */
typedef struct {
    const PsAddress *exporter;
    guint32 domain;
    guint32 sampling;
    gint64 export_ms;
} PacketFields;

/* One 48-byte record (offsets: Cisco's NetFlow v5 record format; its length checked by the
 * caller) into every field of flow, field by field, nothing read back. The aggregation reads
 * the flow next, and a load that spans several recent stores waits until all of them reach
 * the cache, queued behind the aggregation's own stores that miss: a struct copied in whole,
 * then patched, cost ~12% more of the collector's CPU at full blast (tests/bench/README.md). */
static void
read_record(const guint8 *record, const PsV5Header *header, const PacketFields *packet,
            PsFlow *flow)
{
    memset(&flow->src, 0, sizeof(flow->src));
    memset(&flow->dst, 0, sizeof(flow->dst));
    flow->src.family = 4;
    flow->dst.family = 4;
    memcpy(flow->src.bytes, record + 0, 4);
    memcpy(flow->dst.bytes, record + 4, 4);
    /* 8 nexthop, 12 input, 14 output: not kept */
    flow->packets = ps_span_u32(record, 16);
    flow->bytes = ps_span_u32(record, 20);
    flow->start_ms = uptime_to_unix_ms(header, packet->export_ms, ps_span_u32(record, 24));
    flow->end_ms = uptime_to_unix_ms(header, packet->export_ms, ps_span_u32(record, 28));
    flow->src_port = ps_span_u16(record, 32);
    flow->dst_port = ps_span_u16(record, 34);
    flow->tcp_flags = record[37]; /* 36 pad1 */
    flow->proto = record[38];
    /* 39 tos, 40 src_as, 42 dst_as, 44 src_mask, 45 dst_mask, 46 pad2: not kept */
    flow->exporter = *packet->exporter;
    flow->domain = packet->domain;
    flow->version = 5;
    flow->sampling = packet->sampling;
}

gsize
ps_decode_v5_datagram_length(const guint8 *data, gsize len)
{
    guint16 count = ps_peek_u16(data, len, 2);

    if (len < PS_V5_HEADER_LEN || count == 0 || count > PS_V5_MAX_RECORDS)
        return 0;
    return PS_V5_HEADER_LEN + (gsize)count * PS_V5_RECORD_LEN;
}

PsDecodeResult
ps_decode_v5(const guint8 *data, gsize len, const PsAddress *exporter, guint32 assumed_sampling,
             PsV5Header *header, PsFlow flows[PS_V5_MAX_RECORDS])
{
    PsCursor cursor;
    PacketFields packet = {.exporter = exporter};

    ps_cursor_init(&cursor, data, len);
    read_header(&cursor, header);
    if (cursor.overrun)
        return PS_DECODE_TRUNCATED;
    /* nfdump's rule: no count is trusted before it is checked against the bytes */
    if (header->count == 0 || header->count > PS_V5_MAX_RECORDS ||
        len < PS_V5_HEADER_LEN + (gsize)header->count * PS_V5_RECORD_LEN)
        return PS_DECODE_BAD_LENGTH;

    packet.export_ms = export_unix_ms(header);
    packet.domain = (guint32)header->engine_type << 8 | header->engine_id;
    packet.sampling = header->sampling_interval > 1 ? header->sampling_interval
                                                    : MAX(assumed_sampling, 1);
    for (guint i = 0; i < header->count; i++)
        read_record(data + PS_V5_HEADER_LEN + (gsize)i * PS_V5_RECORD_LEN, header, &packet,
                    &flows[i]);
    return PS_DECODE_OK;
}
