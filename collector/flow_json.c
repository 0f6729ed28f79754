#include "config.h"

#include "flow_json.h"

void
ps_flow_json_append(const PsFlow *flow, GString *out)
{
    char exporter[PS_ADDRESS_STRLEN], src[PS_ADDRESS_STRLEN], dst[PS_ADDRESS_STRLEN];

    g_string_append_printf(
        out,
        "{\"exporter\":\"%s\",\"version\":%u,\"domain\":%u,\"src_addr\":\"%s\","
        "\"dst_addr\":\"%s\",\"src_port\":%u,\"dst_port\":%u,\"proto\":%u,\"tcp_flags\":%u,"
        "\"packets\":%" G_GUINT64_FORMAT ",\"bytes\":%" G_GUINT64_FORMAT ",\"start\":%" G_GINT64_FORMAT
        ",\"end\":%" G_GINT64_FORMAT ",\"sampling\":%u}\n",
        ps_address_to_string(&flow->exporter, exporter), flow->version, flow->domain,
        ps_address_to_string(&flow->src, src), ps_address_to_string(&flow->dst, dst),
        flow->src_port, flow->dst_port, flow->proto, flow->tcp_flags, flow->packets, flow->bytes,
        flow->start_ms, flow->end_ms, flow->sampling);
}
