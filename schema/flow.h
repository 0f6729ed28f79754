/* PsFlow: the one normalised flow record every decoder produces (NetFlow v5, v9, IPFIX).
 *
 * It is the contract between the decoders and everything downstream (the JSON dump, the
 * aggregation): a decoder fills every field it can and leaves the rest zero. Packets and
 * bytes are as exported (not scaled); `sampling` is the interval (1 in N) that applied to
 * the record, 1 when unsampled or unknown, so a consumer scales by it. */
#pragma once

#include <glib.h>

typedef struct {
    guint8 family; /* 0 (none), 4 or 6 */
    guint8 bytes[16]; /* IPv4 in the first 4 bytes */
} PsAddress;

typedef struct {
    PsAddress src;
    PsAddress dst;
    PsAddress exporter;
    guint32 domain; /* IPFIX observation domain, v9 source id, v5 engine type << 8 | id */
    guint16 src_port;
    guint16 dst_port;
    guint8 proto;
    guint8 tcp_flags;
    guint8 version; /* 5, 9 or 10 */
    guint64 packets;
    guint64 bytes;
    gint64 start_ms; /* Unix milliseconds; 0 when the exporter gave no time */
    gint64 end_ms;
    guint32 sampling;
} PsFlow;

/* Called by a decoder once per decoded flow record; the record is only valid during the call. */
typedef void (*PsFlowSink)(const PsFlow *flow, gpointer user_data);

#define PS_ADDRESS_STRLEN 46 /* INET6_ADDRSTRLEN */

/* Formats an address as text ("192.0.2.1", "2001:db8::1"; "" for none) into buf. */
const char *ps_address_to_string(const PsAddress *address, char buf[PS_ADDRESS_STRLEN]);

/* Parses "192.0.2.1" or "2001:db8::1"; FALSE when it is neither. */
gboolean ps_address_parse(const char *text, PsAddress *address);

/* Fills an address from 4 or 16 network-order bytes. */
void ps_address_set_ipv4(PsAddress *address, const guint8 bytes[4]);
void ps_address_set_ipv6(PsAddress *address, const guint8 bytes[16]);

/* A v4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for IPv4
 * senders) becomes plain IPv4, so an exporter is the same whichever socket it reached. */
void ps_address_unmap(PsAddress *address);

gboolean ps_address_equal(gconstpointer a, gconstpointer b);
guint ps_address_hash(gconstpointer address);
