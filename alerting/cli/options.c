/* Options every command shares, and the parsing of their values: times, durations, series,
 * metrics. */
#include "config.h"

#include <string.h>

#include "cli.h"
#include "portproto.h"
#include "timearg.h"

G_DEFINE_QUARK(ps_cli_error_quark, ps_cli_error)

static const char *format_names[] = {"table", "csv", "json"};
static const char *direction_suffixes[] = {"in", "out", "int"};

void
ps_cli_add_common_options(GOptionContext *context, PsCli *cli)
{
    GOptionEntry entries[] = {
        {"redis", 0, 0, G_OPTION_ARG_STRING, &cli->redis_url,
         "Redis: redis://[user:password@]host:port/db or a unix socket path "
         "(default " PS_CLI_DEFAULT_REDIS "; password also from PS_REDIS_PASSWORD)",
         "URL"},
        {"prefix", 0, 0, G_OPTION_ARG_STRING, &cli->prefix, "Redis key prefix (default ps:)",
         "PREFIX"},
        {"format", 0, 0, G_OPTION_ARG_STRING, &cli->format_name,
         "Output: table (default), csv or json", "FORMAT"},
        {"local", 0, 0, G_OPTION_ARG_NONE, &cli->local, "Times in the local zone, not UTC", NULL},
        {"bucket", 0, 0, G_OPTION_ARG_INT, &cli->bucket,
         "Bucket length the collector uses (default 60)", "S"},
        G_OPTION_ENTRY_NULL};
    GOptionGroup *group = g_option_group_new(
        "common", "Options of every command:", "Show the common options", NULL, NULL);

    g_option_group_add_entries(group, entries);
    g_option_context_add_group(context, group);
}

static gboolean
parse_format(PsCli *cli, GError **error)
{
    if (cli->format_name == NULL)
        return TRUE;
    for (guint i = 0; i < G_N_ELEMENTS(format_names); i++) {
        if (g_str_equal(cli->format_name, format_names[i])) {
            cli->format = (PsCliFormat)i;
            return TRUE;
        }
    }
    g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE, "--format %s: expected table, csv or json",
                cli->format_name);
    return FALSE;
}

gboolean
ps_cli_parse(PsCli *cli, GOptionContext *context, int *argc, char ***argv, GError **error)
{
    cli->bucket = 60;
    ps_cli_add_common_options(context, cli);
    if (!g_option_context_parse(context, argc, argv, error) || !parse_format(cli, error))
        return FALSE;
    if (cli->bucket < 10 || cli->bucket > 3600 || 3600 % cli->bucket != 0) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE,
                    "--bucket %d: expected 10 to 3600 seconds, dividing an hour", cli->bucket);
        return FALSE;
    }
    return TRUE;
}

gboolean
ps_cli_time_option(const PsCli *cli, const char *option, const char *text, gint64 fallback,
                   gint64 *time, GError **error)
{
    if (text == NULL) {
        *time = fallback;
        return TRUE;
    }
    if (!ps_time_parse(text, cli->now, time, error)) {
        g_prefix_error(error, "--%s: ", option);
        return FALSE;
    }
    return TRUE;
}

gboolean
ps_cli_duration_option(const char *option, const char *text, gint64 fallback, gint64 *seconds,
                       GError **error)
{
    if (text == NULL) {
        *seconds = fallback;
        return TRUE;
    }
    if (!ps_duration_parse(text, seconds, error)) {
        g_prefix_error(error, "--%s: ", option);
        return FALSE;
    }
    return TRUE;
}

static gboolean
direction_valid(const char *suffix)
{
    for (guint i = 0; i < G_N_ELEMENTS(direction_suffixes); i++)
        if (g_str_equal(suffix, direction_suffixes[i]))
            return TRUE;
    return FALSE;
}

gboolean
ps_cli_series_check(const char *series, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(series, "@", 2);
    guint8 proto;
    guint16 port;

    /* g_strsplit() of "" is an empty vector: parts[0] was NULL (found by fuzz-args) */
    if (!ps_portproto_parse(parts[0] != NULL ? parts[0] : "", &proto, &port, error))
        return FALSE;
    if (parts[1] != NULL && !direction_valid(parts[1])) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s': the direction after @ is in, out or int", series);
        return FALSE;
    }
    return TRUE;
}

gboolean
ps_cli_metric_parse(const char *text, PsMetric *metric, GError **error)
{
    for (guint m = 0; m < PS_N_METRICS; m++) {
        if (g_str_equal(text, ps_metric_name(m))) {
            *metric = (PsMetric)m;
            return TRUE;
        }
    }
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "'%s' is not a metric: expected sources, dests, flows, syn, packets, bytes or new_sources",
                text);
    return FALSE;
}

gchar *
ps_cli_format_time(const PsCli *cli, gint64 time)
{
    g_autoptr(GDateTime) when =
        cli->local ? g_date_time_new_from_unix_local(time) : g_date_time_new_from_unix_utc(time);

    if (when == NULL)
        return g_strdup_printf("%" G_GINT64_FORMAT, time);
    return cli->local ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%S%:z")
                      : g_date_time_format(when, "%Y-%m-%dT%H:%M:%SZ");
}
