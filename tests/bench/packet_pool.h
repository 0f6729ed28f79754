/* Pre-built export packets for the benchmarks: NetFlow v5, v9 and IPFIX datagrams as a typical
 * router sends them, built once from a deterministic PRNG so every run (and every collector in
 * a run) sees the same records.
 *
 * A pool holds n data packets of records_per_packet records each, plus, for v9 and IPFIX, one
 * template packet that must be sent first and again now and then. Records draw their source
 * from `sources` IPv4 addresses, their destination from `destinations` addresses and their
 * destination port from `dst_ports` ports (skewed: low ports and the first ports of the table
 * are the busiest), so an aggregating collector sees realistic cardinality.
 *
 * Before a packet is sent (or decoded) ps_packet_pool_stamp() writes its header's export time,
 * uptime and sequence number, so sequence tracking in the collector sees an exporter that loses
 * nothing. Record times are fixed at build time (flows that ended up to a minute before it),
 * unless the pool is live (ps_packet_pool_set_live()): then the stamp also moves every record's
 * times forward, in whole seconds, so flows keep ending up to a minute before they are sent and
 * a long run fills every minute bucket it spans, as a router's export does. */
#pragma once

#include <glib.h>

#define PS_PACKET_POOL_MAX_RECORDS 30   /* the v5 limit; v9 and IPFIX use the same */
#define PS_PACKET_POOL_MAX_BYTES   2048 /* 30 IPFIX records of 62 bytes + headers */
#define PS_PACKET_POOL_MAX_PACKETS (1 << 20)

/* Errors of ps_packet_pool_new(): the configuration is out of range. */
#define PS_PACKET_POOL_ERROR (ps_packet_pool_error_quark())
GQuark ps_packet_pool_error_quark(void);

typedef struct {
    guint8 *data;
    gsize len;
    guint records; /* data records; 0 for a template packet */
} PsPacket;

typedef struct {
    guint version;            /* 5, 9 or 10 */
    guint records_per_packet; /* 1 .. PS_PACKET_POOL_MAX_RECORDS */
    guint packets;            /* data packets in the pool */
    guint sources;            /* distinct source addresses to draw from */
    guint destinations;       /* distinct destination addresses */
    guint dst_ports;          /* distinct destination ports */
    guint64 seed;
} PsPacketPoolConfig;

typedef struct {
    PsPacketPoolConfig config;
    PsPacket template_packet; /* len 0 for v5 */
    PsPacket *packets;        /* config.packets of them */
    guint8 *storage;
    gint64 boot_ms;    /* exporter boot time: sysUptime is counted from it */
    guint32 sequence;  /* next sequence number, as the version counts it */
    gint64 built_ms;   /* the now_ms the record times are relative to */
    gboolean live;     /* stamp moves record times along with the clock */
    gint64 *shift_ms;  /* per data packet: how far its record times have been moved */
} PsPacketPool;

/* Fills config with the defaults for version: 30 records per packet, 8192 packets, 100,000
 * sources, 4096 destinations, 10,000 destination ports, seed 1. */
void ps_packet_pool_defaults(PsPacketPoolConfig *config, guint version);

/* Builds a pool; FALSE (and error set) when config is out of range. now_ms is the Unix time
 * the record times are relative to. Free with ps_packet_pool_free(). */
PsPacketPool *ps_packet_pool_new(const PsPacketPoolConfig *config, gint64 now_ms,
                                 GError **error);
void ps_packet_pool_free(PsPacketPool *pool);

/* Makes ps_packet_pool_stamp() move record times with the clock (see above). Call once, before
 * the first stamp; the records stay the same flows, only their times move. */
void ps_packet_pool_set_live(PsPacketPool *pool);

/* Writes export time, uptime and the next sequence number into packet's header (packet is the
 * pool's template packet or one of its data packets) and advances the sequence: by the records
 * for v5 and IPFIX, by one packet for v9 (RFC 3954 5.1, RFC 7011 3.1); in a live pool it also
 * moves the record times to now_ms's second. Call just before the packet is sent. */
void ps_packet_pool_stamp(PsPacketPool *pool, PsPacket *packet, gint64 now_ms);

/* Parses "5", "v5", "9", "v9", "10", "ipfix"; 0 when it is none of them. */
guint ps_packet_pool_parse_version(const char *text);

/* "v5", "v9" or "ipfix". */
const char *ps_packet_pool_version_name(guint version);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsPacketPool, ps_packet_pool_free)
