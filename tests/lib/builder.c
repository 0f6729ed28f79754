#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "builder.h"

void
ps_packet_u8(PsPacket *packet, guint8 value)
{
    g_assert_cmpuint(packet->len, <, sizeof(packet->data));
    packet->data[packet->len++] = value;
}

void
ps_packet_u16(PsPacket *packet, guint16 value)
{
    ps_packet_u8(packet, value >> 8);
    ps_packet_u8(packet, value & 0xff);
}

void
ps_packet_u32(PsPacket *packet, guint32 value)
{
    ps_packet_u16(packet, value >> 16);
    ps_packet_u16(packet, value & 0xffff);
}

void
ps_packet_u64(PsPacket *packet, guint64 value)
{
    ps_packet_u32(packet, value >> 32);
    ps_packet_u32(packet, value & 0xffffffffu);
}

void
ps_packet_bytes(PsPacket *packet, const void *bytes, gsize len)
{
    g_assert_cmpuint(packet->len + len, <=, sizeof(packet->data));
    memcpy(packet->data + packet->len, bytes, len);
    packet->len += len;
}

void
ps_packet_ipv4(PsPacket *packet, const char *address)
{
    guint8 bytes[4];

    g_assert_cmpint(inet_pton(AF_INET, address, bytes), ==, 1);
    ps_packet_bytes(packet, bytes, 4);
}

void
ps_packet_ipv6(PsPacket *packet, const char *address)
{
    guint8 bytes[16];

    g_assert_cmpint(inet_pton(AF_INET6, address, bytes), ==, 1);
    ps_packet_bytes(packet, bytes, 16);
}

void
ps_packet_ipfix_header(PsPacket *packet, guint32 export_time, guint32 sequence, guint32 domain)
{
    packet->len = 0;
    ps_packet_u16(packet, 10);
    ps_packet_u16(packet, 0);
    ps_packet_u32(packet, export_time);
    ps_packet_u32(packet, sequence);
    ps_packet_u32(packet, domain);
}

void
ps_packet_ipfix_finish(PsPacket *packet)
{
    packet->data[2] = packet->len >> 8;
    packet->data[3] = packet->len & 0xff;
}

void
ps_packet_v9_header(PsPacket *packet, guint16 count, guint32 sys_uptime_ms, guint32 unix_secs,
                    guint32 sequence, guint32 source_id)
{
    packet->len = 0;
    ps_packet_u16(packet, 9);
    ps_packet_u16(packet, count);
    ps_packet_u32(packet, sys_uptime_ms);
    ps_packet_u32(packet, unix_secs);
    ps_packet_u32(packet, sequence);
    ps_packet_u32(packet, source_id);
}

gsize
ps_packet_open_set(PsPacket *packet, guint16 set_id)
{
    gsize start = packet->len;

    ps_packet_u16(packet, set_id);
    ps_packet_u16(packet, 0);
    return start;
}

void
ps_packet_close_set(PsPacket *packet, gsize start)
{
    gsize len = packet->len - start;

    packet->data[start + 2] = len >> 8;
    packet->data[start + 3] = len & 0xff;
}

void
ps_packet_template(PsPacket *packet, guint16 template_id, guint n_fields,
                   const guint16 (*fields)[2], const guint32 *pens)
{
    ps_packet_u16(packet, template_id);
    ps_packet_u16(packet, n_fields);
    for (guint i = 0; i < n_fields; i++) {
        ps_packet_u16(packet, fields[i][0]);
        ps_packet_u16(packet, fields[i][1]);
        if (fields[i][0] & 0x8000)
            ps_packet_u32(packet, *pens++);
    }
}

void
ps_packet_v5(PsPacket *packet, const PsV5TestHeader *header, guint16 count,
             const PsV5TestRecord *records, guint n)
{
    packet->len = 0;
    ps_packet_u16(packet, 5);
    ps_packet_u16(packet, count);
    ps_packet_u32(packet, header->sys_uptime_ms);
    ps_packet_u32(packet, header->unix_secs);
    ps_packet_u32(packet, header->unix_nsecs);
    ps_packet_u32(packet, header->sequence);
    ps_packet_u8(packet, header->engine_type);
    ps_packet_u8(packet, header->engine_id);
    ps_packet_u16(packet, header->sampling);
    for (guint i = 0; i < n; i++) {
        const PsV5TestRecord *r = &records[i];
        ps_packet_ipv4(packet, r->src);
        ps_packet_ipv4(packet, r->dst);
        ps_packet_u32(packet, 0); /* nexthop */
        ps_packet_u16(packet, 1); /* input */
        ps_packet_u16(packet, 2); /* output */
        ps_packet_u32(packet, r->packets);
        ps_packet_u32(packet, r->bytes);
        ps_packet_u32(packet, r->first_uptime_ms);
        ps_packet_u32(packet, r->last_uptime_ms);
        ps_packet_u16(packet, r->src_port);
        ps_packet_u16(packet, r->dst_port);
        ps_packet_u8(packet, 0); /* pad1 */
        ps_packet_u8(packet, r->tcp_flags);
        ps_packet_u8(packet, r->proto);
        ps_packet_bytes(packet, "\0\0\0\0\0\0\0\0\0", 9); /* tos, ASes, masks, pad2 */
    }
}
