/* Builds export packets byte by byte for tests: big-endian writers, IPFIX/v9 headers and sets
 * whose lengths are patched when they are closed. */
#pragma once

#include <glib.h>

typedef struct {
    guint8 data[65536];
    gsize len;
} PsPacket;

void ps_packet_u8(PsPacket *packet, guint8 value);
void ps_packet_u16(PsPacket *packet, guint16 value);
void ps_packet_u32(PsPacket *packet, guint32 value);
void ps_packet_u64(PsPacket *packet, guint64 value);
void ps_packet_bytes(PsPacket *packet, const void *bytes, gsize len);
void ps_packet_ipv4(PsPacket *packet, const char *address);
void ps_packet_ipv6(PsPacket *packet, const char *address);

/* IPFIX: header first, then sets; finish patches the message length. */
void ps_packet_ipfix_header(PsPacket *packet, guint32 export_time, guint32 sequence,
                            guint32 domain);
void ps_packet_ipfix_finish(PsPacket *packet);

/* NetFlow v9 header (count is not checked by decoders, but filled for realism). */
void ps_packet_v9_header(PsPacket *packet, guint16 count, guint32 sys_uptime_ms,
                         guint32 unix_secs, guint32 sequence, guint32 source_id);

/* Opens a set (or v9 flowset) with the given id; returns where it starts for close_set. */
gsize ps_packet_open_set(PsPacket *packet, guint16 set_id);
void ps_packet_close_set(PsPacket *packet, gsize start);

/* NetFlow v5 (Cisco's format): the header, then count records of 48 bytes. */
typedef struct {
    guint32 sys_uptime_ms;
    guint32 unix_secs;
    guint32 unix_nsecs;
    guint32 sequence;
    guint8 engine_type;
    guint8 engine_id;
    guint16 sampling; /* mode << 14 | interval */
} PsV5TestHeader;

typedef struct {
    const char *src;
    const char *dst;
    guint16 src_port;
    guint16 dst_port;
    guint8 proto;
    guint8 tcp_flags;
    guint32 packets;
    guint32 bytes;
    guint32 first_uptime_ms;
    guint32 last_uptime_ms;
} PsV5TestRecord;

/* A whole v5 datagram: the header says count records (it may lie), n follow. */
void ps_packet_v5(PsPacket *packet, const PsV5TestHeader *header, guint16 count,
                  const PsV5TestRecord *records, guint n);

/* A template record: id, then (element id, length) pairs; an element id with the top bit set
 * is followed by the enterprise number given in pens (consumed in order). */
void ps_packet_template(PsPacket *packet, guint16 template_id, guint n_fields,
                        const guint16 (*fields)[2], const guint32 *pens);
