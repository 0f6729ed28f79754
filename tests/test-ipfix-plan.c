/* The compiled decode plans (ipfix_plan.c) give exactly the flows libfixbuf's fBufNext() gives.
 *
 * Every replay group of ../shared/testdata/flows (the README's replay order, and every other
 * packet file on its own) is decoded twice, with the fast path on and off, and the two PsFlow
 * sequences and the exporter counters must be identical. Crafted messages cover what the corpus
 * may not: reduced-length and over-long integers, IPv6, padding after the last record, a
 * template redefined in the middle of a message, and a template lacking fields after a record
 * that had them (libfixbuf zero-fills them, which is why decode_ipfix.c does not clear the
 * record itself). */
#include "config.h"

#include <string.h>

#include "builder.h"
#include "ipfix_plan.h"
#include "packets.h"

#define EXPORT_TIME 1700000000u

/* ---- helpers ---- */

static PsTestDecoder *
decoder_new(gboolean fast_path)
{
    /* dispatch.c creates the IPFIX decoder; the switch is read when it does */
    g_setenv("PS_IPFIX_FAST_PATH", fast_path ? "1" : "0", TRUE);
    return ps_test_decoder_new();
}

static void
assert_address_equal(const PsAddress *a, const PsAddress *b)
{
    g_assert_cmpuint(a->family, ==, b->family);
    g_assert_cmpmem(a->bytes, sizeof(a->bytes), b->bytes, sizeof(b->bytes));
}

/* Field by field (padding bytes between fields are not part of the record). */
static void
assert_flows_equal(GArray *fast, GArray *slow)
{
    g_assert_cmpuint(fast->len, ==, slow->len);
    for (guint i = 0; i < fast->len; i++) {
        const PsFlow *a = &g_array_index(fast, PsFlow, i);
        const PsFlow *b = &g_array_index(slow, PsFlow, i);

        assert_address_equal(&a->src, &b->src);
        assert_address_equal(&a->dst, &b->dst);
        assert_address_equal(&a->exporter, &b->exporter);
        g_assert_cmpuint(a->domain, ==, b->domain);
        g_assert_cmpuint(a->src_port, ==, b->src_port);
        g_assert_cmpuint(a->dst_port, ==, b->dst_port);
        g_assert_cmpuint(a->proto, ==, b->proto);
        g_assert_cmpuint(a->tcp_flags, ==, b->tcp_flags);
        g_assert_cmpuint(a->version, ==, b->version);
        g_assert_cmpuint(a->packets, ==, b->packets);
        g_assert_cmpuint(a->bytes, ==, b->bytes);
        g_assert_cmpint(a->start_ms, ==, b->start_ms);
        g_assert_cmpint(a->end_ms, ==, b->end_ms);
        g_assert_cmpuint(a->sampling, ==, b->sampling);
    }
}

static void
assert_decoders_equal(PsTestDecoder *fast, PsTestDecoder *slow)
{
    PsExporterCounters fast_total, slow_total;

    assert_flows_equal(fast->flows, slow->flows);
    ps_test_decoder_total(fast, &fast_total);
    ps_test_decoder_total(slow, &slow_total);
    g_assert_cmpmem(&fast_total, sizeof(fast_total), &slow_total, sizeof(slow_total));
}

/* ---- the corpus: every replay group ---- */

typedef struct {
    gchar *name;
    GPtrArray *files; /* relative to testdata/flows */
} CorpusGroup;

static void
corpus_group_free(gpointer data)
{
    CorpusGroup *group = data;

    g_free(group->name);
    g_ptr_array_unref(group->files);
    g_free(group);
}

/* "- `name`: `a` → `b` → `c`": the backquoted words after the name, in order. */
static CorpusGroup *
parse_replay_line(const char *line)
{
    g_auto(GStrv) parts = g_strsplit(line, "`", -1);
    CorpusGroup *group;

    if (g_strv_length(parts) < 4)
        return NULL;
    group = g_new0(CorpusGroup, 1);
    group->name = g_strdup(parts[1]);
    group->files = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 3; parts[i] != NULL; i += 2)
        g_ptr_array_add(group->files, g_strdup(parts[i]));
    return group;
}

/* The README's replay groups, then every packet file of its table not already in a group. */
static GPtrArray *
load_corpus_groups(const char *readme)
{
    g_autofree gchar *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GHashTable) grouped = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *groups = g_ptr_array_new_with_free_func(corpus_group_free);
    const char *section = "";

    if (!g_file_get_contents(readme, &text, NULL, NULL))
        return groups;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i] != NULL; i++) {
        const char *line = lines[i];

        if (g_str_has_prefix(line, "## ")) {
            section = line + 3;
        } else if (g_str_has_prefix(section, "Replay order") && g_str_has_prefix(line, "- `")) {
            CorpusGroup *group = parse_replay_line(line);
            if (group == NULL)
                continue;
            for (guint j = 0; j < group->files->len; j++)
                g_hash_table_add(grouped, g_ptr_array_index(group->files, j));
            g_ptr_array_add(groups, group);
        } else if (g_str_has_prefix(section, "Packet files") && g_str_has_prefix(line, "| `")) {
            const char *start = line + 3;
            const char *end = strchr(start, '`');
            g_autofree gchar *file = end != NULL ? g_strndup(start, end - start) : NULL;
            CorpusGroup *group;

            if (file == NULL || g_hash_table_contains(grouped, file))
                continue;
            group = g_new0(CorpusGroup, 1);
            group->name = g_strdup(file);
            group->files = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(group->files, g_steal_pointer(&file));
            g_ptr_array_add(groups, group);
        }
    }
    return groups;
}

/* Decodes a group's files in order as one exporter; NULL when a file is missing. */
static PsTestDecoder *
decode_group(const CorpusGroup *group, gboolean fast_path)
{
    g_autoptr(PsTestDecoder) decoder = decoder_new(fast_path);

    for (guint i = 0; i < group->files->len; i++) {
        g_autofree gchar *path = ps_test_shared_file(g_ptr_array_index(group->files, i));
        if (path == NULL)
            return NULL;
        /* a file --read cannot open is refused the same way on both paths */
        ps_test_decoder_file(decoder, path);
    }
    return g_steal_pointer(&decoder);
}

static void
test_corpus_group(gconstpointer data)
{
    const CorpusGroup *group = data;
    g_autoptr(PsTestDecoder) fast = decode_group(group, TRUE);
    g_autoptr(PsTestDecoder) slow = decode_group(group, FALSE);

    if (fast == NULL || slow == NULL)
        return;
    g_test_message("%s: %u flows", group->name, fast->flows->len);
    assert_decoders_equal(fast, slow);
}

static void
test_corpus_missing(void)
{
    g_test_skip("../shared/testdata/flows is absent: no corpus groups to compare");
}

/* ---- crafted messages ---- */

typedef struct {
    PsPacket packets[4];
    guint n;
} Messages;

/* Feeds the same messages to a decoder with and without plans; returns the one with. */
static PsTestDecoder *
decode_both(const Messages *messages)
{
    g_autoptr(PsTestDecoder) fast = decoder_new(TRUE);
    g_autoptr(PsTestDecoder) slow = decoder_new(FALSE);

    for (guint i = 0; i < messages->n; i++) {
        ps_test_decoder_packet(fast, NULL, messages->packets[i].data, messages->packets[i].len);
        ps_test_decoder_packet(slow, NULL, messages->packets[i].data, messages->packets[i].len);
    }
    assert_decoders_equal(fast, slow);
    return g_steal_pointer(&fast);
}

static const PsFlow *
flow_at(PsTestDecoder *decoder, guint i)
{
    g_assert_cmpuint(i, <, decoder->flows->len);
    return &g_array_index(decoder->flows, PsFlow, i);
}

static void
template_set(PsPacket *packet, guint16 template_id, guint n_fields, const guint16 (*fields)[2])
{
    gsize set = ps_packet_open_set(packet, 2);

    ps_packet_template(packet, template_id, n_fields, fields, NULL);
    ps_packet_close_set(packet, set);
}

/* octetDeltaCount in 4 bytes, packetDeltaCount in 2, tcpControlBits in 1, flowEndSysUpTime and
 * systemInitTimeMilliseconds at full length: reduced-length integers are zero-extended. */
static void
test_reduced_length(void)
{
    static const guint16 fields[][2] = {{8, 4}, {12, 4}, {1, 4}, {2, 2}, {6, 1}, {4, 1},
                                        {7, 2}, {11, 2}, {160, 8}, {22, 4}, {21, 4}};
    Messages messages = {.n = 1};
    PsPacket *packet = &messages.packets[0];
    g_autoptr(PsTestDecoder) decoder = NULL;
    gsize set;

    ps_packet_ipfix_header(packet, EXPORT_TIME, 0, 3);
    template_set(packet, 256, G_N_ELEMENTS(fields), fields);
    set = ps_packet_open_set(packet, 256);
    ps_packet_ipv4(packet, "192.0.2.10");
    ps_packet_ipv4(packet, "198.51.100.20");
    ps_packet_u32(packet, 0xfedcba98);
    ps_packet_u16(packet, 0xabcd);
    ps_packet_u8(packet, 0x12);
    ps_packet_u8(packet, 17);
    ps_packet_u16(packet, 53);
    ps_packet_u16(packet, 40000);
    ps_packet_u64(packet, (guint64)EXPORT_TIME * 1000 - 100000);
    ps_packet_u32(packet, 10000);
    ps_packet_u32(packet, 20000);
    ps_packet_close_set(packet, set);
    ps_packet_ipfix_finish(packet);
    decoder = decode_both(&messages);
    g_assert_cmpuint(decoder->flows->len, ==, 1);
    g_assert_cmpuint(flow_at(decoder, 0)->bytes, ==, 0xfedcba98);
    g_assert_cmpuint(flow_at(decoder, 0)->packets, ==, 0xabcd);
    g_assert_cmpuint(flow_at(decoder, 0)->tcp_flags, ==, 0x12);
    g_assert_cmpuint(flow_at(decoder, 0)->src_port, ==, 53);
    g_assert_cmpint(flow_at(decoder, 0)->start_ms, ==, (gint64)EXPORT_TIME * 1000 - 90000);
    g_assert_cmpint(flow_at(decoder, 0)->end_ms, ==, (gint64)EXPORT_TIME * 1000 - 80000);
}

/* Integers longer than the internal field (protocolIdentifier in 2 bytes, ports in 4): whatever
 * libfixbuf makes of them (it keeps the low-order bytes), the plan makes the same. */
static void
test_over_long(void)
{
    static const guint16 fields[][2] = {{8, 4}, {12, 4}, {4, 2}, {7, 4}, {11, 4}, {1, 8}};
    Messages messages = {.n = 1};
    PsPacket *packet = &messages.packets[0];
    g_autoptr(PsTestDecoder) decoder = NULL;
    gsize set;

    ps_packet_ipfix_header(packet, EXPORT_TIME, 0, 3);
    template_set(packet, 300, G_N_ELEMENTS(fields), fields);
    set = ps_packet_open_set(packet, 300);
    ps_packet_ipv4(packet, "192.0.2.10");
    ps_packet_ipv4(packet, "198.51.100.20");
    ps_packet_u16(packet, 0x0106);
    ps_packet_u32(packet, 0x00010050);
    ps_packet_u32(packet, 443);
    ps_packet_u64(packet, 1500);
    ps_packet_close_set(packet, set);
    ps_packet_ipfix_finish(packet);
    decoder = decode_both(&messages);
    g_test_message("over-long integers: %u flows", decoder->flows->len);
}

static void
test_ipv6(void)
{
    static const guint16 fields[][2] = {{27, 16}, {28, 16}, {7, 2}, {11, 2}, {4, 1},
                                        {1, 8},   {2, 8},   {152, 8}, {153, 8}};
    Messages messages = {.n = 2};
    g_autoptr(PsTestDecoder) decoder = NULL;
    char text[PS_ADDRESS_STRLEN];
    gsize set;

    ps_packet_ipfix_header(&messages.packets[0], EXPORT_TIME, 0, 0);
    template_set(&messages.packets[0], 400, G_N_ELEMENTS(fields), fields);
    ps_packet_ipfix_finish(&messages.packets[0]);
    ps_packet_ipfix_header(&messages.packets[1], EXPORT_TIME, 0, 0);
    set = ps_packet_open_set(&messages.packets[1], 400);
    for (guint i = 0; i < 3; i++) {
        ps_packet_ipv6(&messages.packets[1], "2001:db8::1");
        ps_packet_ipv6(&messages.packets[1], i == 1 ? "2001:db8:ffff::2" : "2001:db8::2");
        ps_packet_u16(&messages.packets[1], 50000 + i);
        ps_packet_u16(&messages.packets[1], 443);
        ps_packet_u8(&messages.packets[1], 6);
        ps_packet_u64(&messages.packets[1], 1000 * (i + 1));
        ps_packet_u64(&messages.packets[1], 10);
        ps_packet_u64(&messages.packets[1], (guint64)EXPORT_TIME * 1000 - 2000);
        ps_packet_u64(&messages.packets[1], (guint64)EXPORT_TIME * 1000 - 1000);
    }
    ps_packet_close_set(&messages.packets[1], set);
    ps_packet_ipfix_finish(&messages.packets[1]);
    decoder = decode_both(&messages);
    g_assert_cmpuint(decoder->flows->len, ==, 3);
    g_assert_cmpstr(ps_address_to_string(&flow_at(decoder, 1)->src, text), ==, "2001:db8::1");
    g_assert_cmpstr(ps_address_to_string(&flow_at(decoder, 1)->dst, text), ==,
                    "2001:db8:ffff::2");
    g_assert_cmpuint(flow_at(decoder, 2)->bytes, ==, 3000);
    g_assert_cmpuint(flow_at(decoder, 2)->src_port, ==, 50002);
}

/* 2 records of 13 bytes and 12 bytes of padding (less than a record): 2 flows, in two sets. */
static void
test_padding(void)
{
    static const guint16 fields[][2] = {{8, 4}, {12, 4}, {11, 2}, {4, 1}, {1, 2}};
    Messages messages = {.n = 1};
    PsPacket *packet = &messages.packets[0];
    g_autoptr(PsTestDecoder) decoder = NULL;

    ps_packet_ipfix_header(packet, EXPORT_TIME, 0, 0);
    template_set(packet, 500, G_N_ELEMENTS(fields), fields);
    for (guint s = 0; s < 2; s++) {
        gsize set = ps_packet_open_set(packet, 500);
        for (guint i = 0; i < 2; i++) {
            ps_packet_ipv4(packet, "192.0.2.1");
            ps_packet_ipv4(packet, "192.0.2.2");
            ps_packet_u16(packet, 80 + s * 2 + i);
            ps_packet_u8(packet, 6);
            ps_packet_u16(packet, 100);
        }
        for (guint i = 0; i < 12; i++)
            ps_packet_u8(packet, 0);
        ps_packet_close_set(packet, set);
    }
    ps_packet_ipfix_finish(packet);
    decoder = decode_both(&messages);
    g_assert_cmpuint(decoder->flows->len, ==, 4);
    g_assert_cmpuint(flow_at(decoder, 3)->dst_port, ==, 83);
}

/* Template 600 with ports and counters, a record; then, in one message, a record of 600, 600
 * redefined without them (and a different record length), and a record of the new 600: the
 * second record must see the new template and zeroes where the old one had values. */
static void
test_redefinition(void)
{
    static const guint16 full[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 8}, {2, 4}};
    static const guint16 bare[][2] = {{12, 4}, {8, 4}, {4, 1}};
    Messages messages = {.n = 2};
    g_autoptr(PsTestDecoder) decoder = NULL;
    char text[PS_ADDRESS_STRLEN];
    gsize set;

    ps_packet_ipfix_header(&messages.packets[0], EXPORT_TIME, 0, 0);
    template_set(&messages.packets[0], 600, G_N_ELEMENTS(full), full);
    ps_packet_ipfix_finish(&messages.packets[0]);
    ps_packet_ipfix_header(&messages.packets[1], EXPORT_TIME, 0, 0);
    set = ps_packet_open_set(&messages.packets[1], 600);
    ps_packet_ipv4(&messages.packets[1], "192.0.2.1");
    ps_packet_ipv4(&messages.packets[1], "192.0.2.2");
    ps_packet_u16(&messages.packets[1], 1234);
    ps_packet_u16(&messages.packets[1], 22);
    ps_packet_u8(&messages.packets[1], 6);
    ps_packet_u64(&messages.packets[1], 5000);
    ps_packet_u32(&messages.packets[1], 7);
    ps_packet_close_set(&messages.packets[1], set);
    template_set(&messages.packets[1], 600, G_N_ELEMENTS(bare), bare);
    set = ps_packet_open_set(&messages.packets[1], 600);
    ps_packet_ipv4(&messages.packets[1], "198.51.100.9");
    ps_packet_ipv4(&messages.packets[1], "203.0.113.9");
    ps_packet_u8(&messages.packets[1], 17);
    ps_packet_close_set(&messages.packets[1], set);
    ps_packet_ipfix_finish(&messages.packets[1]);
    decoder = decode_both(&messages);
    g_assert_cmpuint(decoder->flows->len, ==, 2);
    g_assert_cmpuint(flow_at(decoder, 0)->dst_port, ==, 22);
    g_assert_cmpuint(flow_at(decoder, 0)->bytes, ==, 5000);
    g_assert_cmpstr(ps_address_to_string(&flow_at(decoder, 1)->src, text), ==, "203.0.113.9");
    g_assert_cmpuint(flow_at(decoder, 1)->proto, ==, 17);
    g_assert_cmpuint(flow_at(decoder, 1)->dst_port, ==, 0);
    g_assert_cmpuint(flow_at(decoder, 1)->src_port, ==, 0);
    g_assert_cmpuint(flow_at(decoder, 1)->bytes, ==, 0);
    g_assert_cmpuint(flow_at(decoder, 1)->packets, ==, 0);
}

/* Why decode_ipfix.c does not clear the record before fBufNext(): in one message, a record of
 * a template with ports, counters, IPv6 addresses and times, then a record of a template with
 * none of them. Through libfixbuf alone (no plans), the second flow has zeroes: the transcoder
 * writes every field of the internal template, zero where the external template has none. */
static void
test_missing_fields_zeroed(void)
{
    static const guint16 rich[][2] = {{27, 16}, {28, 16}, {7, 2}, {11, 2}, {4, 1}, {6, 1},
                                      {1, 8},   {2, 8},   {152, 8}, {153, 8}, {34, 4}};
    static const guint16 poor[][2] = {{8, 4}, {12, 4}};
    g_autoptr(PsTestDecoder) decoder = decoder_new(FALSE);
    PsPacket packet;
    const PsFlow *flow;
    char text[PS_ADDRESS_STRLEN];
    gsize set;

    ps_packet_ipfix_header(&packet, EXPORT_TIME, 0, 0);
    template_set(&packet, 700, G_N_ELEMENTS(rich), rich);
    template_set(&packet, 701, G_N_ELEMENTS(poor), poor);
    set = ps_packet_open_set(&packet, 700);
    ps_packet_ipv6(&packet, "2001:db8::1");
    ps_packet_ipv6(&packet, "2001:db8::2");
    ps_packet_u16(&packet, 1234);
    ps_packet_u16(&packet, 443);
    ps_packet_u8(&packet, 6);
    ps_packet_u8(&packet, 0x18);
    ps_packet_u64(&packet, 9000);
    ps_packet_u64(&packet, 9);
    ps_packet_u64(&packet, (guint64)EXPORT_TIME * 1000 - 2000);
    ps_packet_u64(&packet, (guint64)EXPORT_TIME * 1000 - 1000);
    ps_packet_u32(&packet, 64);
    ps_packet_close_set(&packet, set);
    set = ps_packet_open_set(&packet, 701);
    ps_packet_ipv4(&packet, "192.0.2.7");
    ps_packet_ipv4(&packet, "192.0.2.8");
    ps_packet_close_set(&packet, set);
    ps_packet_ipfix_finish(&packet);
    ps_test_decoder_packet(decoder, NULL, packet.data, packet.len);

    g_assert_cmpuint(decoder->flows->len, ==, 2);
    g_assert_cmpuint(flow_at(decoder, 0)->bytes, ==, 9000);
    g_assert_cmpuint(flow_at(decoder, 0)->sampling, ==, 64);
    flow = flow_at(decoder, 1);
    g_assert_cmpstr(ps_address_to_string(&flow->src, text), ==, "192.0.2.7");
    g_assert_cmpuint(flow->src_port, ==, 0);
    g_assert_cmpuint(flow->dst_port, ==, 0);
    g_assert_cmpuint(flow->proto, ==, 0);
    g_assert_cmpuint(flow->tcp_flags, ==, 0);
    g_assert_cmpuint(flow->bytes, ==, 0);
    g_assert_cmpuint(flow->packets, ==, 0);
    g_assert_cmpint(flow->end_ms, ==, 0);
    g_assert_cmpuint(flow->sampling, ==, 1);
}

/* The plan itself: which templates get one, and its record length. */
static void
test_plan_coverage(void)
{
    static fbInfoElementSpec_t fixed[] = {{"sourceIPv4Address", 4, 0},
                                          {"octetDeltaCount", 4, 0},
                                          {"ingressInterface", 2, 0},
                                          FB_IESPEC_NULL};
    static fbInfoElementSpec_t varlen[] = {{"sourceIPv4Address", 4, 0},
                                           {"interfaceName", FB_IE_VARLEN, 0},
                                           FB_IESPEC_NULL};
    fbInfoModel_t *model = fbInfoModelAlloc();
    fbTemplate_t *internal = ps_ipfix_record_template(model, NULL);
    fbTemplate_t *template = fbTemplateAlloc(model);
    PsIpfixPlanTargets targets;
    PsIpfixPlan *plan;

    g_assert_nonnull(internal);
    g_assert_true(ps_ipfix_plan_targets_init(&targets, internal));
    g_assert_true(fbTemplateAppendSpecArray(template, fixed, 0, NULL));
    plan = ps_ipfix_plan_new(&targets, template);
    g_assert_nonnull(plan);
    g_assert_cmpuint(ps_ipfix_plan_record_len(plan), ==, 10);
    ps_ipfix_plan_free(plan);
    fbTemplateFreeUnused(template);

    template = fbTemplateAlloc(model);
    g_assert_true(fbTemplateAppendSpecArray(template, varlen, 0, NULL));
    g_assert_null(ps_ipfix_plan_new(&targets, template));
    fbTemplateFreeUnused(template);

    template = fbTemplateAlloc(model);
    g_assert_true(fbTemplateAppendSpecArray(template, fixed, 0, NULL));
    fbTemplateSetOptionsScope(template, 1);
    g_assert_null(ps_ipfix_plan_new(&targets, template));
    fbTemplateFreeUnused(template);

    fbTemplateFreeUnused(internal);
    fbInfoModelFree(model);
}

int
main(int argc, char **argv)
{
    const char *root = g_getenv("PS_SHARED_TESTDATA");
    g_autofree gchar *readme = root != NULL ? g_build_filename(root, "README.md", NULL) : NULL;
    g_autoptr(GPtrArray) groups = NULL;

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ipfix-plan/reduced-length", test_reduced_length);
    g_test_add_func("/ipfix-plan/over-long", test_over_long);
    g_test_add_func("/ipfix-plan/ipv6", test_ipv6);
    g_test_add_func("/ipfix-plan/padding", test_padding);
    g_test_add_func("/ipfix-plan/redefinition", test_redefinition);
    g_test_add_func("/ipfix-plan/missing-fields-zeroed", test_missing_fields_zeroed);
    g_test_add_func("/ipfix-plan/coverage", test_plan_coverage);
    groups = readme != NULL ? load_corpus_groups(readme) : g_ptr_array_new();
    if (groups->len == 0)
        g_test_add_func("/ipfix-plan/corpus/missing", test_corpus_missing);
    for (guint i = 0; i < groups->len; i++) {
        const CorpusGroup *group = g_ptr_array_index(groups, i);
        g_autofree gchar *name = g_strdup_printf("/ipfix-plan/corpus/%s", group->name);
        g_test_add_data_func(name, group, test_corpus_group);
    }
    return g_test_run();
}
