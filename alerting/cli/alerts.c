/* portsurge alerts: the alert history from the ps:alerts stream (every open, escalation,
 * reminder and resolution the alerter sent), with the numbers of its driving metric. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "output.h"

#define PS_ALERTS_DEFAULT_SINCE "1d"

typedef struct {
    gchar *since;
    gchar *until;
    gchar *port;
} AlertsOptions;

static void
alerts_options_clear(AlertsOptions *o)
{
    g_free(o->since);
    g_free(o->until);
    g_free(o->port);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(AlertsOptions, alerts_options_clear)

static gboolean
parse_alerts_options(PsCli *cli, AlertsOptions *o, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        {"since", 0, 0, G_OPTION_ARG_STRING, &o->since, "Start: 1d (default), 90m ago, ISO 8601",
         "TIME"},
        {"until", 0, 0, G_OPTION_ARG_STRING, &o->until, "End, exclusive (default now)", "TIME"},
        {"port", 0, 0, G_OPTION_ARG_STRING, &o->port, "Only this series, e.g. tcp/445", "PORT"},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context = g_option_context_new("- alert history");

    g_option_context_add_main_entries(context, entries, NULL);
    if (!ps_cli_parse(cli, context, argc, argv, error))
        return FALSE;
    if (*argc != 1) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE,
                    "alerts takes no arguments besides options (a port goes with --port)");
        return FALSE;
    }
    return o->port == NULL || ps_cli_series_check(o->port, error);
}

/* The event's "metrics"."sources" object, or NULL when the JSON is not the alerter's. */
static JsonObject *
sources_metric(JsonParser *parser, const char *json)
{
    JsonNode *root;
    JsonObject *object, *metrics;

    if (json == NULL || !json_parser_load_from_data(parser, json, -1, NULL))
        return NULL;
    root = json_parser_get_root(parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
        return NULL;
    object = json_node_get_object(root);
    metrics = json_object_get_object_member(object, "metrics");
    if (metrics == NULL || !json_object_has_member(metrics, "sources"))
        return NULL;
    return json_object_get_object_member(metrics, "sources");
}

static void
add_metric_cell(PsOutput *output, JsonObject *metric, const char *name, guint decimals)
{
    if (metric != NULL && json_object_has_member(metric, name))
        ps_output_number(output, json_object_get_double_member(metric, name), decimals);
    else
        ps_output_empty(output);
}

static void
add_alert(PsOutput *output, const PsQueryAlert *alert)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *sources = sources_metric(parser, alert->json);

    ps_output_row(output);
    ps_output_time(output, alert->bucket);
    ps_output_text(output, alert->event != NULL ? alert->event : "");
    ps_output_text(output, alert->series);
    ps_output_text(output, alert->severity != NULL ? alert->severity : "");
    ps_output_text(output, alert->id != NULL ? alert->id : "");
    add_metric_cell(output, sources, "value", 0);
    add_metric_cell(output, sources, "expected", 1);
    add_metric_cell(output, sources, "ratio", 2);
    add_metric_cell(output, sources, "z", 2);
}

gboolean
ps_cli_alerts(PsCli *cli, int argc, char **argv, GError **error)
{
    g_auto(AlertsOptions) o = {0};
    g_autoptr(GPtrArray) alerts = NULL;
    g_autoptr(PsOutput) output = NULL;
    gint64 since, until;

    if (!parse_alerts_options(cli, &o, &argc, &argv, error) ||
        !ps_cli_time_option(cli, "since", o.since != NULL ? o.since : PS_ALERTS_DEFAULT_SINCE, 0,
                            &since, error) ||
        !ps_cli_time_option(cli, "until", o.until, cli->now, &until, error) ||
        !ps_cli_open(cli, error))
        return FALSE;
    alerts = ps_query_alerts(&cli->query, since, until, o.port, error);
    if (alerts == NULL)
        return FALSE;
    output =
        ps_output_new(cli, (const char *const[]){"time", "event", "series", "severity", "incident",
                                                 "sources", "expected", "ratio", "z", NULL});
    for (guint i = 0; i < alerts->len; i++)
        add_alert(output, g_ptr_array_index(alerts, i));
    ps_output_print(output, stdout);
    return TRUE;
}
