#include "config.h"

#include "cursor.h"
#include "decode_v5.h"
#include "dispatch.h"
#include "ipfix_scan.h"
#include "v9_convert.h"

struct PsDispatch {
    PsFlowSink sink;
    gpointer user_data;
    PsIpfixDecoder *ipfix;
    GHashTable *exporters;        /* PsAddress -> PsExporter */
    GHashTable *sampling;         /* PsAddress -> configured interval */
    guint32 default_sampling;     /* 0: none configured */
    guint sampling_generation;    /* changes with every change to sampling */
    PsExporter *last_exporter;    /* the last packet's: most come from the same as the last */
    guint64 exporters_refused;
    PsFlowSlots slots;            /* reserve NULL: v5 flows are decoded to v5_flows */
    PsFlow v5_flows[PS_V5_MAX_RECORDS];
    guint8 converted[PS_IPFIX_MAX_LEN];
};

PsDispatch *
ps_dispatch_new(PsFlowSink sink, gpointer user_data, GError **error)
{
    g_autoptr(PsDispatch) dispatch = g_new0(PsDispatch, 1);

    dispatch->sink = sink;
    dispatch->user_data = user_data;
    dispatch->sampling_generation = 1; /* exporters start at 0: looked up the first time */
    dispatch->exporters = g_hash_table_new_full(ps_address_hash, ps_address_equal, NULL,
                                                (GDestroyNotify)ps_exporter_free);
    dispatch->sampling =
        g_hash_table_new_full(ps_address_hash, ps_address_equal, g_free, NULL);
    dispatch->ipfix = ps_ipfix_decoder_new(sink, user_data, error);
    if (dispatch->ipfix == NULL)
        return NULL;
    return g_steal_pointer(&dispatch);
}

void
ps_dispatch_free(PsDispatch *dispatch)
{
    if (dispatch == NULL)
        return;
    /* exporters hold libfixbuf sessions on the decoder's info model: free them first */
    g_hash_table_unref(dispatch->exporters);
    g_hash_table_unref(dispatch->sampling);
    ps_ipfix_decoder_free(dispatch->ipfix);
    g_free(dispatch);
}

void
ps_dispatch_set_flow_slots(PsDispatch *dispatch, const PsFlowSlots *slots)
{
    dispatch->slots = *slots;
}

void
ps_dispatch_set_sampling(PsDispatch *dispatch, const PsAddress *exporter, guint32 interval)
{
    dispatch->sampling_generation++;
    if (exporter == NULL) {
        dispatch->default_sampling = interval;
        return;
    }
    g_hash_table_replace(dispatch->sampling, g_memdup2(exporter, sizeof(*exporter)),
                         GUINT_TO_POINTER(interval));
}

GHashTable *
ps_dispatch_exporters(PsDispatch *dispatch)
{
    return dispatch->exporters;
}

guint64
ps_dispatch_exporters_refused(const PsDispatch *dispatch)
{
    return dispatch->exporters_refused;
}

/* The sampling configured for an exporter (0: none), looked up again only when the
 * configuration changed: per v5 record it took ~7% of the collector's CPU, and per packet,
 * with the exporter's own lookup, ~2% (v5 at full blast, tests/bench/README.md). */
static guint32
configured_sampling(PsDispatch *dispatch, PsExporter *exporter)
{
    if (exporter->configured_generation != dispatch->sampling_generation) {
        gpointer interval = g_hash_table_lookup(dispatch->sampling, &exporter->address);
        exporter->configured_sampling =
            interval != NULL ? GPOINTER_TO_UINT(interval) : dispatch->default_sampling;
        exporter->configured_generation = dispatch->sampling_generation;
    }
    return exporter->configured_sampling;
}

static PsExporter *
lookup_exporter(PsDispatch *dispatch, const PsAddress *address, gint64 arrival_ms)
{
    PsExporter *exporter = dispatch->last_exporter;

    /* exporters are kept until the dispatch is freed */
    if (exporter == NULL || !ps_address_equal(&exporter->address, address))
        exporter = g_hash_table_lookup(dispatch->exporters, address);
    if (exporter == NULL) {
        if (g_hash_table_size(dispatch->exporters) >= PS_DISPATCH_MAX_EXPORTERS) {
            dispatch->exporters_refused++;
            return NULL;
        }
        exporter = ps_exporter_new(address);
        exporter->first_seen_ms = arrival_ms;
        g_hash_table_insert(dispatch->exporters, &exporter->address, exporter);
    }
    exporter->last_seen_ms = arrival_ms;
    dispatch->last_exporter = exporter;
    return exporter;
}

/* Hands a packet's decoded flows on: written in place to the slots, or one by one to the
 * sink. */
static void
emit_flows(PsDispatch *dispatch, PsFlow *flows, guint n)
{
    if (dispatch->slots.commit != NULL) {
        dispatch->slots.commit(flows, n, dispatch->slots.user_data);
        return;
    }
    for (guint i = 0; i < n; i++)
        dispatch->sink(&flows[i], dispatch->user_data);
}

static gsize
decode_v5(PsDispatch *dispatch, PsExporter *exporter, const guint8 *data, gsize len)
{
    PsV5Header header;
    PsExporterCounters *counters = &exporter->counters[PS_VERSION_V5];
    gsize datagram_len = ps_decode_v5_datagram_length(data, len);
    PsFlow *flows = dispatch->slots.reserve != NULL
                        ? dispatch->slots.reserve(PS_V5_MAX_RECORDS, dispatch->slots.user_data)
                        : dispatch->v5_flows;
    PsDecodeResult result;

    result = ps_decode_v5(data, datagram_len > 0 ? MIN(datagram_len, len) : len,
                          &exporter->address, configured_sampling(dispatch, exporter),
                          &header, flows);
    if (result != PS_DECODE_OK) {
        counters->decode_errors++;
        return len;
    }
    exporter->sampling = flows[0].sampling; /* the same on every record of a packet */
    emit_flows(dispatch, flows, header.count);
    counters->records += header.count;
    ps_exporter_check_sequence(exporter, PS_VERSION_V5, (guint32)header.engine_type << 8 |
                               header.engine_id, header.sequence, header.count, TRUE);
    return datagram_len;
}

static gboolean
ensure_ipfix_session(PsDispatch *dispatch, PsExporter *exporter)
{
    g_autoptr(GError) error = NULL;

    if (exporter->ipfix != NULL)
        return TRUE;
    exporter->ipfix = ps_ipfix_session_new(dispatch->ipfix, &exporter->address, &error);
    if (exporter->ipfix == NULL)
        g_warning("cannot set up a libfixbuf session: %s", error->message);
    return exporter->ipfix != NULL;
}

static void
decode_ipfix_message(PsDispatch *dispatch, PsExporter *exporter, PsVersionSlot slot,
                     const guint8 *message, gsize message_len, const PsV9Header *v9,
                     gint64 arrival_ms, PsDecodeResult framing_result)
{
    PsIpfixInput input = {.arrival_ms = arrival_ms, .v9 = v9};
    PsIpfixStats stats = {0};
    PsDecodeResult result;

    input.default_sampling = configured_sampling(dispatch, exporter);
    result = ps_ipfix_decode(exporter->ipfix, message, message_len, &input, &stats);
    ps_exporter_add_ipfix_stats(exporter, slot, &stats);
    if (result != PS_DECODE_OK || framing_result != PS_DECODE_OK)
        exporter->counters[slot].decode_errors++;
    if (result == PS_DECODE_TRUNCATED && stats.records == 0)
        return;
    if (slot == PS_VERSION_V9)
        ps_exporter_check_sequence(exporter, slot, v9->source_id, v9->sequence, 1, TRUE);
    else
        ps_exporter_check_sequence(exporter, slot, stats.domain, stats.sequence,
                                   stats.records + stats.options_records, stats.sequence_known);
    exporter->sampling = ps_ipfix_session_sampling(exporter->ipfix, stats.domain);
    if (exporter->sampling == 0)
        exporter->sampling = MAX(input.default_sampling, 1);
}

static gsize
decode_v9(PsDispatch *dispatch, PsExporter *exporter, const guint8 *data, gsize len,
          gint64 arrival_ms)
{
    PsV9Header header;
    gsize converted_len;
    gsize consumed;
    PsDecodeResult result;

    result = ps_v9_to_ipfix(data, len, &header, dispatch->converted, &converted_len, &consumed);
    if (converted_len == 0 || !ensure_ipfix_session(dispatch, exporter)) {
        exporter->counters[PS_VERSION_V9].decode_errors++;
        return len;
    }
    decode_ipfix_message(dispatch, exporter, PS_VERSION_V9, dispatch->converted, converted_len,
                         &header, arrival_ms, result);
    return consumed;
}

static gsize
decode_ipfix(PsDispatch *dispatch, PsExporter *exporter, const guint8 *data, gsize len,
             gint64 arrival_ms)
{
    gsize message_len = ps_ipfix_message_length(data, len);

    if (message_len == 0 || message_len > len || !ensure_ipfix_session(dispatch, exporter)) {
        exporter->counters[PS_VERSION_IPFIX].decode_errors++;
        return len;
    }
    decode_ipfix_message(dispatch, exporter, PS_VERSION_IPFIX, data, message_len, NULL,
                         arrival_ms, PS_DECODE_OK);
    return message_len;
}

gsize
ps_dispatch_packet(PsDispatch *dispatch, const PsAddress *address, const guint8 *data, gsize len,
                   gint64 arrival_ms)
{
    PsExporter *exporter = lookup_exporter(dispatch, address, arrival_ms);
    guint16 version = ps_peek_u16(data, len, 0);
    PsVersionSlot slot = version == 5    ? PS_VERSION_V5
                         : version == 9  ? PS_VERSION_V9
                         : version == 10 ? PS_VERSION_IPFIX
                                         : PS_VERSION_UNKNOWN;

    if (exporter == NULL)
        return len;
    exporter->counters[slot].packets++;
    switch (slot) {
    case PS_VERSION_V5:
        return decode_v5(dispatch, exporter, data, len);
    case PS_VERSION_V9:
        return decode_v9(dispatch, exporter, data, len, arrival_ms);
    case PS_VERSION_IPFIX:
        return decode_ipfix(dispatch, exporter, data, len, arrival_ms);
    default:
        exporter->counters[slot].decode_errors++;
        return len;
    }
}

void
ps_dispatch_capture(PsDispatch *dispatch, const PsAddress *exporter, const guint8 *data, gsize len,
                    gint64 time_ms, gboolean whole_file)
{
    gsize offset = 0;

    do {
        gsize used = ps_dispatch_packet(dispatch, exporter, data + offset, len - offset, time_ms);
        if (used == 0)
            break;
        offset += used;
    } while (whole_file && len - offset >= 4);
}

const char *
ps_decode_result_to_string(PsDecodeResult result)
{
    switch (result) {
    case PS_DECODE_OK:
        return "ok";
    case PS_DECODE_TRUNCATED:
        return "truncated";
    case PS_DECODE_BAD_LENGTH:
        return "length or count disagrees with the packet";
    case PS_DECODE_BAD_VERSION:
        return "unknown version";
    case PS_DECODE_BAD_TEMPLATE:
        return "invalid template";
    case PS_DECODE_LIBFIXBUF:
        return "refused by libfixbuf";
    case PS_DECODE_TOO_MANY_DOMAINS:
        return "too many observation domains for one exporter";
    }
    return "?";
}
