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

/* One 48-byte record, its length checked once (offsets: Cisco's NetFlow v5 record format).
 * Every v5 address is IPv4: flow's address families, and the address bytes past the first 4,
 * were set by the caller once for the whole packet. */
static void
read_record(PsCursor *cursor, const PsV5Header *header, gint64 export_ms, PsFlow *flow)
{
    const guint8 *record = ps_cursor_bytes(cursor, PS_V5_RECORD_LEN);

    if (record == NULL)
        return;
    memcpy(flow->src.bytes, record + 0, 4);
    memcpy(flow->dst.bytes, record + 4, 4);
    /* 8 nexthop, 12 input, 14 output: not kept */
    flow->packets = ps_span_u32(record, 16);
    flow->bytes = ps_span_u32(record, 20);
    flow->start_ms = uptime_to_unix_ms(header, export_ms, ps_span_u32(record, 24));
    flow->end_ms = uptime_to_unix_ms(header, export_ms, ps_span_u32(record, 28));
    flow->src_port = ps_span_u16(record, 32);
    flow->dst_port = ps_span_u16(record, 34);
    flow->tcp_flags = record[37]; /* 36 pad1 */
    flow->proto = record[38];
    /* 39 tos, 40 src_as, 42 dst_as, 44 src_mask, 45 dst_mask, 46 pad2: not kept */
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
ps_decode_v5(const guint8 *data, gsize len, const PsAddress *exporter, PsV5Header *header,
             PsFlowSink sink, gpointer user_data)
{
    PsCursor cursor;
    PsFlow flow = {0};
    gint64 export_ms;

    ps_cursor_init(&cursor, data, len);
    read_header(&cursor, header);
    if (cursor.overrun)
        return PS_DECODE_TRUNCATED;
    /* nfdump's rule: no count is trusted before it is checked against the bytes */
    if (header->count == 0 || header->count > PS_V5_MAX_RECORDS ||
        len < PS_V5_HEADER_LEN + (gsize)header->count * PS_V5_RECORD_LEN)
        return PS_DECODE_BAD_LENGTH;

    export_ms = export_unix_ms(header);
    flow.exporter = *exporter;
    flow.src.family = 4;
    flow.dst.family = 4;
    flow.version = 5;
    flow.domain = (guint32)header->engine_type << 8 | header->engine_id;
    flow.sampling = header->sampling_interval > 1 ? header->sampling_interval : 1;
    for (guint i = 0; i < header->count; i++) {
        read_record(&cursor, header, export_ms, &flow);
        sink(&flow, user_data);
    }
    return PS_DECODE_OK;
}
