#include "config.h"

#include "ipfix_record.h"

#define NTP_UNIX_EPOCH_DIFF 2208988800ULL /* seconds from 1900 to 1970 */

/* Order and sizes must match PsIpfixRecord exactly. */
static fbInfoElementSpec_t record_spec[] = {
    {"packetDeltaCount", 8, 0},
    {"octetDeltaCount", 8, 0},
    {"packetTotalCount", 8, 0},
    {"octetTotalCount", 8, 0},
    {"initiatorOctets", 8, 0},
    {"responderOctets", 8, 0},
    {"initiatorPackets", 8, 0},
    {"responderPackets", 8, 0},
    {"flowStartMilliseconds", 8, 0},
    {"flowEndMilliseconds", 8, 0},
    {"flowStartMicroseconds", 8, 0},
    {"flowEndMicroseconds", 8, 0},
    {"flowStartNanoseconds", 8, 0},
    {"flowEndNanoseconds", 8, 0},
    {"systemInitTimeMilliseconds", 8, 0},
    {"observationTimeMilliseconds", 8, 0},
    {"sourceIPv6Address", 16, 0},
    {"destinationIPv6Address", 16, 0},
    {"sourceIPv4Address", 4, 0},
    {"destinationIPv4Address", 4, 0},
    {"flowStartSeconds", 4, 0},
    {"flowEndSeconds", 4, 0},
    {"flowStartDeltaMicroseconds", 4, 0},
    {"flowEndDeltaMicroseconds", 4, 0},
    {"flowStartSysUpTime", 4, 0},
    {"flowEndSysUpTime", 4, 0},
    {"samplingInterval", 4, 0},
    {"samplerRandomInterval", 4, 0},
    {"samplingPacketInterval", 4, 0},
    {"samplingPacketSpace", 4, 0},
    {"sourceTransportPort", 2, 0},
    {"destinationTransportPort", 2, 0},
    {"tcpControlBits", 2, 0},
    {"icmpTypeCodeIPv4", 2, 0},
    {"icmpTypeCodeIPv6", 2, 0},
    {"protocolIdentifier", 1, 0},
    {"ipVersion", 1, 0},
    {"paddingOctets", 4, 0},
    FB_IESPEC_NULL};

G_STATIC_ASSERT(sizeof(PsIpfixRecord) == 224);

fbTemplate_t *
ps_ipfix_record_template(fbInfoModel_t *model, GError **error)
{
    fbTemplate_t *template = fbTemplateAlloc(model);

    if (!fbTemplateAppendSpecArray(template, record_spec, 0, error)) {
        fbTemplateFreeUnused(template);
        g_prefix_error(error, "internal template: ");
        return NULL;
    }
    return template;
}

guint32
ps_ipfix_record_sampling(const PsIpfixRecord *record)
{
    if (record->sampling_interval > 0)
        return record->sampling_interval;
    if (record->sampler_random_interval > 0)
        return record->sampler_random_interval;
    /* RFC 5477: sample samplingPacketInterval packets, then skip samplingPacketSpace */
    if (record->sampling_packet_interval > 0)
        return (record->sampling_packet_interval + record->sampling_packet_space) /
               record->sampling_packet_interval;
    return 0;
}

static gint64
ntp_to_unix_ms(guint64 ntp)
{
    guint64 seconds = ntp >> 32;
    guint64 fraction = ntp & 0xffffffffULL;

    if (seconds < NTP_UNIX_EPOCH_DIFF)
        return 0;
    return (gint64)(seconds - NTP_UNIX_EPOCH_DIFF) * 1000 + (gint64)((fraction * 1000) >> 32);
}

/* sysUpTime-relative time: v9 packets say the uptime at export time; IPFIX exporters give
 * systemInitTimeMilliseconds (in the record or an options record). Signed difference, as
 * uptime wraps after 49.7 days. */
static gint64
uptime_to_unix_ms(const PsRecordClock *clock, guint32 uptime_ms)
{
    if (clock->have_v9_uptime)
        return clock->export_ms - (gint32)(clock->v9_sys_uptime_ms - uptime_ms);
    if (clock->system_init_ms > 0) {
        /* a 32-bit uptime wraps every 2^32 ms: take the wrap that lands nearest the export */
        gint64 time_ms = clock->system_init_ms + uptime_ms;
        gint64 wraps = (clock->export_ms - time_ms + (1LL << 31)) >> 32;
        return wraps > 0 ? time_ms + (wraps << 32) : time_ms;
    }
    return 0;
}

static void
set_times(const PsIpfixRecord *record, const PsRecordClock *clock, PsFlow *flow)
{
    PsRecordClock own = *clock;

    if (record->system_init_ms > 0) {
        own.system_init_ms = (gint64)record->system_init_ms;
        own.have_v9_uptime = FALSE;
    }
    if (record->end_ms > 0) {
        flow->start_ms = (gint64)record->start_ms;
        flow->end_ms = (gint64)record->end_ms;
    } else if (record->end_s > 0) {
        flow->start_ms = (gint64)record->start_s * 1000;
        flow->end_ms = (gint64)record->end_s * 1000;
    } else if (record->end_us > 0) {
        flow->start_ms = ntp_to_unix_ms(record->start_us);
        flow->end_ms = ntp_to_unix_ms(record->end_us);
    } else if (record->end_ns > 0) {
        flow->start_ms = ntp_to_unix_ms(record->start_ns);
        flow->end_ms = ntp_to_unix_ms(record->end_ns);
    } else if (record->start_delta_us > 0 || record->end_delta_us > 0) {
        /* RFC 7011: microseconds before the export time of the message */
        flow->start_ms = clock->export_ms - record->start_delta_us / 1000;
        flow->end_ms = clock->export_ms - record->end_delta_us / 1000;
    } else if (record->end_uptime_ms > 0 || record->start_uptime_ms > 0) {
        flow->start_ms = uptime_to_unix_ms(&own, record->start_uptime_ms);
        flow->end_ms = uptime_to_unix_ms(&own, record->end_uptime_ms);
    } else if (record->observation_ms > 0) {
        /* Cisco ASA NSEL: one event time per record */
        flow->start_ms = flow->end_ms = (gint64)record->observation_ms;
    } else {
        flow->start_ms = flow->end_ms = 0;
    }
    if (flow->start_ms == 0)
        flow->start_ms = flow->end_ms; /* an end without a start: a one-packet flow */
}

static void
set_addresses(const PsIpfixRecord *record, PsFlow *flow)
{
    static const guint8 zero[16] = {0};

    if (record->src4 != 0 || record->dst4 != 0 ||
        (memcmp(record->src6, zero, 16) == 0 && memcmp(record->dst6, zero, 16) == 0)) {
        guint8 src[4], dst[4];
        for (guint i = 0; i < 4; i++) {
            src[i] = record->src4 >> (24 - 8 * i);
            dst[i] = record->dst4 >> (24 - 8 * i);
        }
        ps_address_set_ipv4(&flow->src, src);
        ps_address_set_ipv4(&flow->dst, dst);
    } else {
        ps_address_set_ipv6(&flow->src, record->src6);
        ps_address_set_ipv6(&flow->dst, record->dst6);
    }
}

void
ps_ipfix_record_to_flow(const PsIpfixRecord *record, const PsRecordClock *clock, PsFlow *flow)
{
    set_addresses(record, flow);
    flow->src_port = record->src_port;
    flow->dst_port = record->dst_port;
    flow->proto = record->proto;
    flow->tcp_flags = record->tcp_flags & 0xff;
    /* delta counters are what a collector sums; totals and NSEL counters where they are not */
    flow->packets = record->packet_delta   ? record->packet_delta
                    : record->packet_total ? record->packet_total
                                           : record->initiator_packets + record->responder_packets;
    flow->bytes = record->octet_delta   ? record->octet_delta
                  : record->octet_total ? record->octet_total
                                        : record->initiator_octets + record->responder_octets;
    set_times(record, clock, flow);
}
