#include "config.h"

#include "cursor.h"
#include "fuzz-common.h"

#define FUZZ_ARRIVAL_MS 1700000005000

/* Whatever the sink reads goes here, so the compiler cannot drop the reads. */
static volatile guint64 fuzz_checksum;

/* Reads every field, including the address text, so uninitialised or garbage values from a
 * decoder trip MSan/UBSan/ASan here rather than in aggregation code much later. */
static void
fuzz_sink(const PsFlow *flow, gpointer user_data)
{
    char text[PS_ADDRESS_STRLEN];
    guint64 sum = 0;
    const PsAddress *addresses[] = {&flow->src, &flow->dst, &flow->exporter};

    (void)user_data;
    for (guint i = 0; i < G_N_ELEMENTS(addresses); i++) {
        sum += addresses[i]->family;
        for (guint j = 0; j < sizeof(addresses[i]->bytes); j++)
            sum += addresses[i]->bytes[j];
        sum += strlen(ps_address_to_string(addresses[i], text));
    }
    sum += flow->domain + flow->src_port + flow->dst_port + flow->proto + flow->tcp_flags;
    sum += flow->version + flow->packets + flow->bytes + flow->sampling;
    sum += (guint64)flow->start_ms + (guint64)flow->end_ms;
    g_assert(flow->version == 5 || flow->version == 9 || flow->version == 10);
    g_assert(flow->sampling >= 1);
    fuzz_checksum += sum;
}

PsDispatch *
ps_fuzz_common_dispatch(void)
{
    static PsDispatch *dispatch;

    if (dispatch == NULL) {
        g_autoptr(GError) error = NULL;
        dispatch = ps_dispatch_new(fuzz_sink, NULL, &error);
        g_assert_no_error(error);
    }
    return dispatch;
}

static const PsAddress *
fuzz_exporter(void)
{
    static PsAddress address;

    if (address.family == 0)
        ps_address_parse("192.0.2.1", &address);
    return &address;
}

/* (type, length) pairs of template 256, then of options template 257 (scope first). */
static const guint16 data_fields[][2] = {
    {8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {2, 8}, {1, 8}, {152, 8}, {153, 8},
};
static const guint16 options_fields[][2] = {{144, 4}, {34, 4}, {160, 8}};

static gsize
put_fields(guint8 *at, const guint16 (*fields)[2], guint n)
{
    for (guint i = 0; i < n; i++) {
        ps_put_u16(at + 4 * i, fields[i][0]);
        ps_put_u16(at + 4 * i + 2, fields[i][1]);
    }
    return 4 * n;
}

/* An IPFIX message: template set, options template set, one options data record. */
static gsize
build_ipfix_templates(guint8 *out)
{
    gsize pos = 16;
    gsize set;

    ps_put_u16(out, 10);
    ps_put_u32(out + 4, FUZZ_ARRIVAL_MS / 1000);
    ps_put_u32(out + 8, 0);
    ps_put_u32(out + 12, 1);
    set = pos;
    ps_put_u16(out + pos, 2);
    ps_put_u16(out + pos + 4, PS_FUZZ_TEMPLATE_ID);
    ps_put_u16(out + pos + 6, G_N_ELEMENTS(data_fields));
    pos += 8 + put_fields(out + pos + 8, data_fields, G_N_ELEMENTS(data_fields));
    ps_put_u16(out + set + 2, pos - set);
    set = pos;
    ps_put_u16(out + pos, 3);
    ps_put_u16(out + pos + 4, PS_FUZZ_TEMPLATE_ID + 1);
    ps_put_u16(out + pos + 6, G_N_ELEMENTS(options_fields));
    ps_put_u16(out + pos + 8, 1);
    pos += 10 + put_fields(out + pos + 10, options_fields, G_N_ELEMENTS(options_fields));
    ps_put_u16(out + set + 2, pos - set);
    ps_put_u16(out + pos, PS_FUZZ_TEMPLATE_ID + 1);
    ps_put_u16(out + pos + 2, 4 + 16);
    ps_put_u32(out + pos + 4, 1);
    ps_put_u32(out + pos + 8, 100);
    ps_put_u32(out + pos + 12, (guint32)((FUZZ_ARRIVAL_MS - 3600000) >> 32));
    ps_put_u32(out + pos + 16, (guint32)(FUZZ_ARRIVAL_MS - 3600000));
    pos += 20;
    ps_put_u16(out + 2, pos);
    return pos;
}

/* The v9 form: template flowset 0 and options template flowset 1 (lengths in bytes), whose
 * record states only the sampling interval: v9 has no systemInitTimeMilliseconds. */
static gsize
build_v9_templates(guint8 *out)
{
    gsize pos = 20;
    gsize set;

    ps_put_u16(out, 9);
    ps_put_u16(out + 2, 2);
    ps_put_u32(out + 4, 3600000);
    ps_put_u32(out + 8, FUZZ_ARRIVAL_MS / 1000);
    ps_put_u32(out + 12, 0);
    ps_put_u32(out + 16, 1);
    set = pos;
    ps_put_u16(out + pos, 0);
    ps_put_u16(out + pos + 4, PS_FUZZ_TEMPLATE_ID);
    ps_put_u16(out + pos + 6, G_N_ELEMENTS(data_fields));
    pos += 8 + put_fields(out + pos + 8, data_fields, G_N_ELEMENTS(data_fields));
    ps_put_u16(out + set + 2, pos - set);
    set = pos;
    ps_put_u16(out + pos, 1);
    ps_put_u16(out + pos + 4, PS_FUZZ_TEMPLATE_ID + 1);
    ps_put_u16(out + pos + 6, 4);  /* scope bytes: System */
    ps_put_u16(out + pos + 8, 4);  /* option bytes: samplingInterval */
    ps_put_u16(out + pos + 10, 1); /* v9 scope type System */
    ps_put_u16(out + pos + 12, 4);
    pos += 14 + put_fields(out + pos + 14, options_fields + 1, 1);
    ps_put_u16(out + set + 2, pos - set);
    ps_put_u16(out + pos, PS_FUZZ_TEMPLATE_ID + 1);
    ps_put_u16(out + pos + 2, 4 + 4 + 4);
    ps_put_u32(out + pos + 4, 1);
    ps_put_u32(out + pos + 8, 100);
    pos += 12;
    return pos;
}

void
ps_fuzz_common_run(const guint8 *data, gsize len, gboolean may_prefeed, PsFuzzTemplate kind)
{
    PsDispatch *dispatch = ps_fuzz_common_dispatch();
    g_autofree guint8 *copy = NULL;

    if (may_prefeed && len > 0 && (data[0] & PS_FUZZ_WITH_TEMPLATE)) {
        guint8 templates[512];
        gsize templates_len = kind == PS_FUZZ_TEMPLATE_V9 ? build_v9_templates(templates)
                                                          : build_ipfix_templates(templates);

        ps_dispatch_packet(dispatch, fuzz_exporter(), templates, templates_len, FUZZ_ARRIVAL_MS);
        copy = g_memdup2(data, len);
        copy[0] &= ~PS_FUZZ_WITH_TEMPLATE;
        data = copy;
    }
    /* one datagram, as the socket hands it over: whatever ps_dispatch_packet() leaves unread
     * is not decoded further (files of concatenated datagrams are test-corpus territory) */
    ps_dispatch_packet(dispatch, fuzz_exporter(), data, len, FUZZ_ARRIVAL_MS);
}
