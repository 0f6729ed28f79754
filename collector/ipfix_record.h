/* The fixed record libfixbuf transcodes every IPFIX (and converted v9) data record into, and
 * its conversion to a PsFlow.
 *
 * One internal template names every element a flow collector needs, in every form exporters
 * use (delta and total counters, NSEL initiator/responder counters, seconds, milliseconds,
 * micro- and nanoseconds, delta microseconds, sysUpTime), so the transcoder does the
 * per-template work and normalisation is plain C on one struct. Fields an external template
 * lacks are left zero. Layout is packed by hand: 8-byte fields first, then 16, 4, 2, 1. */
#pragma once

#include <fixbuf/public.h>

#include "flow.h"

typedef struct {
    guint64 packet_delta;
    guint64 octet_delta;
    guint64 packet_total;
    guint64 octet_total;
    guint64 initiator_octets;
    guint64 responder_octets;
    guint64 initiator_packets;
    guint64 responder_packets;
    guint64 start_ms;
    guint64 end_ms;
    guint64 start_us; /* NTP format, RFC 7011 6.1.9 */
    guint64 end_us;
    guint64 start_ns;
    guint64 end_ns;
    guint64 system_init_ms;
    guint64 observation_ms;
    guint8 src6[16];
    guint8 dst6[16];
    guint32 src4; /* host order: libfixbuf decodes ipv4Address as an integer */
    guint32 dst4;
    guint32 start_s;
    guint32 end_s;
    guint32 start_delta_us;
    guint32 end_delta_us;
    guint32 start_uptime_ms;
    guint32 end_uptime_ms;
    guint32 sampling_interval;
    guint32 sampler_random_interval;
    guint32 sampling_packet_interval;
    guint32 sampling_packet_space;
    guint16 src_port;
    guint16 dst_port;
    guint16 tcp_flags;
    guint16 icmp_type_code4;
    guint16 icmp_type_code6;
    guint8 proto;
    guint8 ip_version;
    guint8 padding[4];
} PsIpfixRecord;

/* What a record's times are relative to, from the message that carried it. */
typedef struct {
    gint64 export_ms;         /* message export time */
    gint64 system_init_ms;    /* 0 when unknown */
    gboolean have_v9_uptime;  /* v9: sysUptime from the packet header */
    guint32 v9_sys_uptime_ms;
} PsRecordClock;

/* Builds the internal template matching PsIpfixRecord for a session's info model. */
fbTemplate_t *ps_ipfix_record_template(fbInfoModel_t *model, GError **error);

/* Sampling interval stated by an (options or data) record, 0 when it states none. */
guint32 ps_ipfix_record_sampling(const PsIpfixRecord *record);

/* Fills flow's addresses, ports, protocol, flags, counters and times from a data record. */
void ps_ipfix_record_to_flow(const PsIpfixRecord *record, const PsRecordClock *clock,
                             PsFlow *flow);
