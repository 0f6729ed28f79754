/* Webhook bodies (alerting/format.c): the generic payload against schema/alert.schema.json,
 * walked with json-glib (required members and types, no external validator), each chat format's
 * documented top-level shape, the sparkline and the explanation. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <math.h>

#include "alert-schema.h"
#include "format.h"

static const PsTopSource top_sources[] = {
    {"203.0.113.7", 1200},
    {"198.51.100.23", 300},
};
static const double last_hour[] = {0, 1, 2, 3, 4, 5, 6, 7};

/* Values chosen so that none is an integer by accident: a lost fraction would show. */
static void
craft_evaluation(PsEvaluation *e)
{
    static const double value[PS_N_METRICS] = {812, 4100, 950, 4800, 5200, 312000};
    static const double expected[PS_N_METRICS] = {35.5, 120.25, 40.75, 600.5, 900.125, 2.5e6};
    static const double ratio[PS_N_METRICS] = {23.2, 34.1, 23.3, 8.0, 5.75, 0.125};
    static const double z[PS_N_METRICS] = {9.1, 10.5, 8.25, 4.5, 3.0, -0.75};

    memset(e, 0, sizeof(*e));
    for (guint m = 0; m < PS_N_METRICS; m++) {
        e->sample.value[m] = value[m];
        e->baseline[m].expected = expected[m];
        e->baseline[m].median = expected[m];
        e->baseline[m].n_candidates = 35;
        e->baseline[m].n_days = 7;
        e->score[m].ratio = ratio[m];
        e->score[m].z = z[m];
    }
    e->z = 9.1;
    e->ratio = 23.2;
    e->syn_share = 0.85;
    e->scan_shaped = TRUE;
}

static void
craft_open(PsAlertEvent *event)
{
    memset(event, 0, sizeof(*event));
    event->kind = PS_EVENT_OPEN;
    event->severity = PS_SEVERITY_MAJOR;
    event->bucket = 1700000000;
    event->opened_at = 1699999700;
    event->opened_by = PS_OPENED_BY_HITS;
    craft_evaluation(&event->evaluation);
    event->buckets = 6;
    event->scan_shaped = TRUE;
    event->degraded = TRUE;
}

static void
craft_resolve(PsAlertEvent *event)
{
    craft_open(event);
    event->kind = PS_EVENT_RESOLVE;
    event->bucket = 1699999700 + 3600;
    event->buckets = 60;
    event->peak_ratio = 23.5;
    event->peak[PS_METRIC_SOURCES] = 812;
    event->total[PS_METRIC_FLOWS] = 45678;
    event->scan_shaped = FALSE;
    event->degraded = FALSE;
    event->young = TRUE;
    event->evaluation.baseline[PS_METRIC_SOURCES].n_days = 2;
}

static void
message_open(PsAlertMessage *message, const PsAlertEvent *event)
{
    *message = (PsAlertMessage){
        .series = "tcp/445@in",
        .watched = TRUE,
        .event = event,
        .top_sources = top_sources,
        .n_top_sources = G_N_ELEMENTS(top_sources),
        .last_hour = last_hour,
        .n_last_hour = G_N_ELEMENTS(last_hour),
        .baseline_value = 35.5,
    };
}

/* resolve, on a port nobody watches, with nothing passed in by the caller */
static void
message_resolve(PsAlertMessage *message, const PsAlertEvent *event)
{
    *message = (PsAlertMessage){.series = "udp/53", .event = event, .baseline_value = 35.5};
}

static JsonNode *
parse(const char *json)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;

    g_assert_nonnull(json);
    json_parser_load_from_data(parser, json, -1, &error);
    g_assert_no_error(error);
    return json_node_copy(json_parser_get_root(parser));
}

static void
assert_metrics_equal(JsonObject *metrics, const PsEvaluation *e)
{
    for (guint m = 0; m < PS_N_METRICS; m++) {
        JsonObject *metric = json_object_get_object_member(metrics, ps_metric_name(m));

        g_assert_nonnull(metric);
        g_assert_cmpfloat(json_object_get_double_member(metric, "value"), ==, e->sample.value[m]);
        g_assert_cmpfloat(json_object_get_double_member(metric, "expected"), ==,
                          e->baseline[m].expected);
        g_assert_cmpfloat(json_object_get_double_member(metric, "ratio"), ==, e->score[m].ratio);
        g_assert_cmpfloat(json_object_get_double_member(metric, "z"), ==, e->score[m].z);
    }
}

static void
test_generic_open(void)
{
    PsAlertEvent event;
    PsAlertMessage message;
    craft_open(&event);
    message_open(&message, &event);
    g_autofree gchar *json = ps_format_generic(&message);
    g_autoptr(JsonNode) node = parse(json);
    JsonObject *o = json_node_get_object(node);

    ps_test_assert_valid_alert(node);
    g_assert_cmpstr(json_object_get_string_member(o, "id"), ==, "tcp/445@in@1699999700");
    g_assert_cmpstr(json_object_get_string_member(o, "idempotency_key"), ==,
                    "tcp/445@in@1699999700:open:1700000000");
    g_assert_cmpstr(json_object_get_string_member(o, "event"), ==, "open");
    g_assert_cmpstr(json_object_get_string_member(o, "severity"), ==, "major");
    g_assert_cmpstr(json_object_get_string_member(o, "protocol"), ==, "tcp");
    g_assert_cmpint(json_object_get_int_member(o, "port"), ==, 445);
    g_assert_cmpstr(json_object_get_string_member(o, "service"), ==, "smb");
    g_assert_cmpstr(json_object_get_string_member(o, "direction"), ==, "in");
    g_assert_cmpstr(json_object_get_string_member(o, "bucket"), ==, "2023-11-14T22:13:20Z");
    g_assert_cmpstr(json_object_get_string_member(o, "opened_at"), ==, "2023-11-14T22:08:20Z");
    g_assert_true(json_object_get_boolean_member(o, "watched"));
    assert_metrics_equal(json_object_get_object_member(o, "metrics"), &event.evaluation);

    JsonObject *baseline = json_object_get_object_member(o, "baseline");
    g_assert_cmpint(json_object_get_int_member(baseline, "days"), ==, 7);
    g_assert_cmpint(json_object_get_int_member(baseline, "candidates"), ==, 35);
    g_assert_cmpfloat(json_object_get_double_member(baseline, "value"), ==, 35.5);
    JsonObject *scan = json_object_get_object_member(o, "scan");
    g_assert_true(json_object_get_boolean_member(scan, "shaped"));
    g_assert_cmpfloat(json_object_get_double_member(scan, "syn_share"), ==, 0.85);
    g_assert_cmpfloat(json_object_get_double_member(scan, "dests_vs_bytes"), ==, 23.3 / 0.125);
    g_assert_true(json_object_get_boolean_member(json_object_get_object_member(o, "data_quality"),
                                                 "degraded"));
    g_assert_false(json_object_has_member(o, "resolution"));

    JsonArray *top = json_object_get_array_member(o, "top_sources");
    g_assert_cmpuint(json_array_get_length(top), ==, 2);
    JsonObject *first = json_array_get_object_element(top, 0);
    g_assert_cmpstr(json_object_get_string_member(first, "address"), ==, "203.0.113.7");
    g_assert_cmpint(json_object_get_int_member(first, "flows"), ==, 1200);
    g_assert_cmpstr(json_object_get_string_member(o, "sparkline"), ==, "▁▂▃▄▅▆▇█");
    g_assert_cmpstr(json_object_get_string_member(o, "cli"), ==,
                    "portsurge series tcp/445@in --since 1d");
}

static void
test_generic_resolve(void)
{
    PsAlertEvent event;
    PsAlertMessage message;
    craft_resolve(&event);
    message_resolve(&message, &event);
    g_autofree gchar *json = ps_format_generic(&message);
    g_autoptr(JsonNode) node = parse(json);
    JsonObject *o = json_node_get_object(node);

    ps_test_assert_valid_alert(node);
    g_assert_cmpstr(json_object_get_string_member(o, "event"), ==, "resolve");
    g_assert_cmpstr(json_object_get_string_member(o, "idempotency_key"), ==,
                    "udp/53@1699999700:resolve:1700003300");
    g_assert_cmpstr(json_object_get_string_member(o, "service"), ==, "dns");
    g_assert_cmpstr(json_object_get_string_member(o, "direction"), ==, "all");
    g_assert_false(json_object_get_boolean_member(o, "watched"));
    g_assert_true(
        json_object_get_boolean_member(json_object_get_object_member(o, "baseline"), "young"));
    assert_metrics_equal(json_object_get_object_member(o, "metrics"), &event.evaluation);

    /* the schema's if/then: resolve requires a resolution (the walker does not do if/then) */
    JsonObject *resolution = json_object_get_object_member(o, "resolution");
    g_assert_nonnull(resolution);
    g_assert_cmpint(json_object_get_int_member(resolution, "duration_s"), ==, 3600);
    g_assert_cmpfloat(json_object_get_double_member(resolution, "peak_ratio"), ==, 23.5);
    g_assert_cmpfloat(json_object_get_double_member(resolution, "peak_sources"), ==, 812);
    g_assert_cmpfloat(json_object_get_double_member(resolution, "total_flows"), ==, 45678);
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "top_sources")), ==, 0);
    g_assert_cmpstr(json_object_get_string_member(o, "sparkline"), ==, "");
}

/* a broad scan is no single port: protocol, port and service are null, and still valid */
static void
test_generic_broad_scan(void)
{
    PsAlertEvent event;
    PsAlertMessage message;
    craft_open(&event);
    message_open(&message, &event);
    message.series = "broad-scan";
    g_autofree gchar *json = ps_format_generic(&message);
    g_autoptr(JsonNode) node = parse(json);
    JsonObject *o = json_node_get_object(node);

    ps_test_assert_valid_alert(node);
    g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(o, "port")));
    g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(o, "protocol")));
    g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(o, "service")));
}

/* The formats under test, each run on the open and the resolve message. */
typedef gchar *(*FormatFn)(const PsAlertMessage *message);

static void
for_both_messages(FormatFn format, void (*check)(JsonObject *o, const PsAlertEvent *event))
{
    PsAlertEvent open_event, resolve_event;
    PsAlertMessage open_message, resolve_message;

    craft_open(&open_event);
    craft_resolve(&resolve_event);
    message_open(&open_message, &open_event);
    message_resolve(&resolve_message, &resolve_event);
    const PsAlertMessage *messages[] = {&open_message, &resolve_message};
    for (guint i = 0; i < G_N_ELEMENTS(messages); i++) {
        g_autofree gchar *json = format(messages[i]);
        g_autoptr(JsonNode) node = parse(json);

        g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
        check(json_node_get_object(node), messages[i]->event);
    }
}

static gboolean
holds_int(JsonObject *o, const char *name)
{
    JsonNode *node = json_object_get_member(o, name);

    return node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
           json_node_get_value_type(node) == G_TYPE_INT64;
}

static void
check_slack(JsonObject *o, const PsAlertEvent *event)
{
    JsonArray *blocks = json_object_get_array_member(o, "blocks");
    guint n = json_array_get_length(blocks);

    (void)event;
    g_assert_cmpuint(n, ==, 4);
    JsonObject *header = json_array_get_object_element(blocks, 0);
    g_assert_cmpstr(json_object_get_string_member(header, "type"), ==, "header");
    JsonObject *text = json_object_get_object_member(header, "text");
    g_assert_cmpstr(json_object_get_string_member(text, "type"), ==, "plain_text");
    g_assert_cmpint(g_utf8_strlen(json_object_get_string_member(text, "text"), -1), <=, 150);
    JsonObject *fields = json_array_get_object_element(blocks, 2);
    g_assert_cmpstr(json_object_get_string_member(fields, "type"), ==, "section");
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(fields, "fields")), >=, 1);
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(fields, "fields")), <=, 10);
    JsonObject *context = json_array_get_object_element(blocks, n - 1);
    g_assert_cmpstr(json_object_get_string_member(context, "type"), ==, "context");
}

static void
check_mattermost(JsonObject *o, const PsAlertEvent *event)
{
    JsonArray *attachments = json_object_get_array_member(o, "attachments");

    g_assert_cmpuint(json_array_get_length(attachments), ==, 1);
    JsonObject *attachment = json_array_get_object_element(attachments, 0);
    g_assert_cmpstr(json_object_get_string_member(attachment, "color"), ==,
                    event->kind == PS_EVENT_RESOLVE ? "#2EB67D" : "#E8720C");
    JsonArray *fields = json_object_get_array_member(attachment, "fields");
    g_assert_cmpuint(json_array_get_length(fields), >=, 1);
    JsonObject *field = json_array_get_object_element(fields, 0);
    g_assert_true(json_object_has_member(field, "title"));
    g_assert_true(json_object_has_member(field, "value"));
    g_assert_true(json_object_has_member(field, "short"));
}

static void
check_teams(JsonObject *o, const PsAlertEvent *event)
{
    (void)event;
    g_assert_cmpstr(json_object_get_string_member(o, "type"), ==, "message");
    JsonArray *attachments = json_object_get_array_member(o, "attachments");
    g_assert_cmpuint(json_array_get_length(attachments), ==, 1);
    JsonObject *attachment = json_array_get_object_element(attachments, 0);
    g_assert_cmpstr(json_object_get_string_member(attachment, "contentType"), ==,
                    "application/vnd.microsoft.card.adaptive");
    JsonObject *card = json_object_get_object_member(attachment, "content");
    g_assert_cmpstr(json_object_get_string_member(card, "type"), ==, "AdaptiveCard");
    g_assert_cmpstr(json_object_get_string_member(card, "version"), ==, "1.4");
    JsonArray *body = json_object_get_array_member(card, "body");
    g_assert_cmpuint(json_array_get_length(body), >=, 3);
    JsonObject *title = json_array_get_object_element(body, 0);
    g_assert_cmpstr(json_object_get_string_member(title, "type"), ==, "TextBlock");
    JsonObject *facts = json_array_get_object_element(body, 2);
    g_assert_cmpstr(json_object_get_string_member(facts, "type"), ==, "FactSet");
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(facts, "facts")), >=, 1);
}

static void
check_discord(JsonObject *o, const PsAlertEvent *event)
{
    JsonArray *embeds = json_object_get_array_member(o, "embeds");

    g_assert_cmpuint(json_array_get_length(embeds), ==, 1);
    JsonObject *embed = json_array_get_object_element(embeds, 0);
    g_assert_true(holds_int(embed, "color"));
    g_assert_cmpint(json_object_get_int_member(embed, "color"), ==,
                    event->kind == PS_EVENT_RESOLVE ? 0x2EB67D : 0xE8720C);
    JsonArray *fields = json_object_get_array_member(embed, "fields");
    g_assert_cmpuint(json_array_get_length(fields), >=, 1);
    g_assert_cmpuint(json_array_get_length(fields), <=, 25);
    JsonObject *field = json_array_get_object_element(fields, 0);
    g_assert_true(json_object_has_member(field, "name"));
    g_assert_true(json_object_has_member(field, "value"));
    g_assert_cmpint(g_utf8_strlen(json_object_get_string_member(embed, "description"), -1), <=,
                    4096);
}

static void
test_slack(void)
{
    for_both_messages(ps_format_slack, check_slack);
}

static void
test_mattermost(void)
{
    for_both_messages(ps_format_mattermost, check_mattermost);
}

static void
test_teams(void)
{
    for_both_messages(ps_format_teams, check_teams);
}

static void
test_discord(void)
{
    for_both_messages(ps_format_discord, check_discord);
}

static void
test_sparkline(void)
{
    static const struct {
        double values[8];
        guint n;
        const char *expected;
    } cases[] = {
        {{0, 1, 2, 3, 4, 5, 6, 7}, 8, "▁▂▃▄▅▆▇█"},
        {{70, 60, 50, 40, 30, 20, 10, 0}, 8, "█▇▆▅▄▃▂▁"},
        {{5, 5, 5}, 3, "▁▁▁"},
        {{0, 5, 10}, 3, "▁▅█"},
        {{0, NAN, 10}, 3, "▁ █"},
        {{0}, 0, ""},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree gchar *line = ps_format_sparkline(cases[i].values, cases[i].n);

        g_assert_cmpstr(line, ==, cases[i].expected);
    }
}

static void
test_explanation_open(void)
{
    PsAlertEvent event;
    PsAlertMessage message;
    craft_open(&event);
    message_open(&message, &event);
    g_autofree gchar *text = ps_format_explanation(&message);

    g_test_message("%s", text);
    g_assert_nonnull(strstr(text, "tcp/445"));
    g_assert_nonnull(strstr(text, "(smb)"));
    g_assert_nonnull(strstr(text, "inbound"));
    g_assert_nonnull(strstr(text, "distinct sources 812 vs 35.5 expected (x23.2, z 9.1)"));
    g_assert_nonnull(strstr(text, "Scan-shaped: 85% of flows SYN-only"));
    g_assert_nonnull(strstr(text, "203.0.113.7 (1200 flows, 25%)"));
    g_assert_nonnull(strstr(text, "exporters reported loss"));
    g_assert_nonnull(strstr(text, "portsurge series tcp/445@in --since 1d"));
    g_assert_null(strstr(text, "Resolved"));
}

static void
test_explanation_resolve(void)
{
    PsAlertEvent event;
    PsAlertMessage message;
    craft_resolve(&event);
    message_resolve(&message, &event);
    g_autofree gchar *text = ps_format_explanation(&message);

    g_test_message("%s", text);
    g_assert_nonnull(strstr(text, "udp/53 (dns)"));
    g_assert_nonnull(strstr(text, "Resolved after 60 min (60 buckets): peak x23.5, peak 812 "
                                  "sources, 45678 flows in total."));
    g_assert_nonnull(
        strstr(text, "the median of 35 recent buckets (young: 2 days of history, under 3"));
    g_assert_nonnull(strstr(text, "Not scan-shaped"));
    g_assert_null(strstr(text, "Top sources"));
}

static void
test_service_and_direction(void)
{
    g_assert_cmpstr(ps_format_service_name(445), ==, "smb");
    g_assert_cmpstr(ps_format_service_name(3389), ==, "rdp");
    g_assert_cmpstr(ps_format_service_name(139), ==, "netbios-ssn");
    g_assert_null(ps_format_service_name(9));
    g_assert_cmpstr(ps_format_direction("tcp/445"), ==, "all");
    g_assert_cmpstr(ps_format_direction("tcp/445@in"), ==, "in");
    g_assert_cmpstr(ps_format_direction("tcp/445@out"), ==, "out");
    g_assert_cmpstr(ps_format_direction("tcp/445@int"), ==, "int");
    g_assert_cmpstr(ps_format_direction("broad-scan"), ==, "all");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/format/generic/open", test_generic_open);
    g_test_add_func("/format/generic/resolve", test_generic_resolve);
    g_test_add_func("/format/generic/broad-scan", test_generic_broad_scan);
    g_test_add_func("/format/chat/slack", test_slack);
    g_test_add_func("/format/chat/mattermost", test_mattermost);
    g_test_add_func("/format/chat/teams", test_teams);
    g_test_add_func("/format/chat/discord", test_discord);
    g_test_add_func("/format/sparkline", test_sparkline);
    g_test_add_func("/format/explanation/open", test_explanation_open);
    g_test_add_func("/format/explanation/resolve", test_explanation_resolve);
    g_test_add_func("/format/service-and-direction", test_service_and_direction);
    return g_test_run();
}
