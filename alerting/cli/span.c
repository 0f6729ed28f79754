#include "config.h"

#include <string.h>

#include "bucket.h"
#include "expected.h"
#include "span.h"

void
ps_span_add_options(GOptionContext *context, PsSpanOptions *options)
{
    GOptionEntry entries[] = {{"since", 0, 0, G_OPTION_ARG_STRING, &options->since,
                               "Start: 7d (default), 90m ago, ISO 8601", "TIME"},
                              {"until", 0, 0, G_OPTION_ARG_STRING, &options->until,
                               "End, exclusive (default now)", "TIME"},
                              {"step", 0, 0, G_OPTION_ARG_STRING, &options->step,
                               "Point length: 1m, 1h, 1d ... (default: from the span)", "STEP"},
                              {"metric", 0, 0, G_OPTION_ARG_STRING, &options->metric,
                               "flows (default), sources, dests, syn, packets, bytes or new_sources", "METRIC"},
                              G_OPTION_ENTRY_NULL};

    g_option_context_add_main_entries(context, entries, NULL);
}

gboolean
ps_span_metric(const PsSpanOptions *options, PsMetric *metric, GError **error)
{
    *metric = PS_METRIC_FLOWS;
    return options->metric == NULL || ps_cli_metric_parse(options->metric, metric, error);
}

void
ps_span_options_clear(PsSpanOptions *options)
{
    g_clear_pointer(&options->since, g_free);
    g_clear_pointer(&options->until, g_free);
    g_clear_pointer(&options->step, g_free);
    g_clear_pointer(&options->metric, g_free);
}

static gboolean
step_valid(const PsCli *cli, gint64 step, GError **error)
{
    gboolean fits = step > 0 && step <= 86400 && 86400 % step == 0 &&
                    step % (step >= PS_BUCKET_HOUR ? PS_BUCKET_HOUR : cli->query.step) == 0;

    if (!fits)
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE,
                    "--step %" G_GINT64_FORMAT " s: expected a multiple of the %u s bucket (or of "
                    "an hour) that divides a day, such as 1m, 5m, 1h or 1d",
                    step, cli->query.step);
    return fits;
}

/* The step for a span when none is asked for (see span.h). */
static gboolean
automatic_step(const PsCli *cli, gint64 since, gint64 until, gint64 *step, GError **error)
{
    gint64 oldest = 0, newest = 0;

    if (!ps_query_extent(&cli->query, cli->query.step, &oldest, &newest, error))
        return FALSE;
    if (until - since > PS_SPAN_HOURS_UP_TO)
        *step = 86400;
    else if (until - since > PS_SPAN_MINUTES_UP_TO || newest == 0 || since < oldest)
        *step = PS_BUCKET_HOUR;
    else
        *step = cli->query.step;
    return TRUE;
}

static gboolean
parse_span(const PsCli *cli, const PsSpanOptions *options, PsSpan *span, GError **error)
{
    gint64 step = 0;

    if (!ps_cli_time_option(cli, "since",
                            options->since != NULL ? options->since : PS_SPAN_DEFAULT_SINCE, 0,
                            &span->since, error) ||
        !ps_cli_time_option(cli, "until", options->until, cli->now, &span->until, error))
        return FALSE;
    if (span->until <= span->since) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE, "--until must be later than --since");
        return FALSE;
    }
    if (options->step != NULL) {
        if (!ps_cli_duration_option("step", options->step, 0, &step, error) ||
            !step_valid(cli, step, error))
            return FALSE;
    } else if (!automatic_step(cli, span->since, span->until, &step, error)) {
        return FALSE;
    }
    span->step = (guint)step;
    return TRUE;
}

gboolean
ps_span_read(const PsCli *cli, const PsSpanOptions *options, GPtrArray *names, PsSpan *span,
             GError **error)
{
    gint64 first, lookback;

    memset(span, 0, sizeof(*span));
    if (!parse_span(cli, options, span, error))
        return FALSE;
    first = ps_bucket_start(span->since, span->step);
    lookback = ps_expected_lookback(span->step);
    span->range =
        ps_query_range_read(&cli->query, names, first - lookback, span->until, span->step, error);
    if (span->range == NULL)
        return FALSE;
    span->first = (first - span->range->since) / span->step;
    span->n_points = span->range->n_points - (guint)span->first;
    for (guint i = 0; i < span->n_points; i++)
        for (guint s = 0; s < names->len; s++)
            if (!(ps_query_range_sample(span->range, s, span->first + i)->flags &
                  PS_SAMPLE_MISSING))
                return TRUE;
    ps_span_clear(span);
    ps_cli_set_no_data(cli, span->since, span->until, error);
    return FALSE;
}

gint64
ps_span_time(const PsSpan *span, guint i)
{
    return span->range->since + (span->first + (gint64)i) * span->step;
}

void
ps_span_clear(PsSpan *span)
{
    g_clear_pointer(&span->range, ps_query_range_free);
}
