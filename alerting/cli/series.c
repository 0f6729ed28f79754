/* portsurge series PORT: the history of one port at a step, its baseline beside it, and a
 * sparkline under the table. */
#include "config.h"

#include <stdio.h>

#include "expected.h"
#include "output.h"
#include "span.h"
#include "sparkline.h"

static gboolean
parse_series_options(PsCli *cli, PsSpanOptions *o, int *argc, char ***argv, GError **error)
{
    g_autoptr(GOptionContext) context =
        g_option_context_new("PORT - the history of a port, e.g. tcp/445 or tcp/445@in");

    ps_span_add_options(context, o);
    if (!ps_cli_parse(cli, context, argc, argv, error))
        return FALSE;
    if (*argc != 2) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE, "expected one port, e.g. tcp/445");
        return FALSE;
    }
    return ps_cli_series_check((*argv)[1], error);
}

static void
add_point(PsOutput *output, const PsSpan *span, guint i, PsMetric metric)
{
    const PsSample *sample = ps_query_range_sample(span->range, 0, span->first + i);
    PsBaseline baseline;
    PsScore score;

    ps_expected_at(span->range, 0, span->first + i, metric, &baseline, &score);
    ps_output_row(output);
    ps_output_time(output, ps_span_time(span, i));
    if ((sample->flags & PS_SAMPLE_MISSING) || !ps_metric_known(sample, metric)) {
        ps_output_empty(output);
        ps_output_number(output, baseline.expected, 1);
        ps_output_empty(output);
        ps_output_empty(output);
    } else {
        ps_output_number(output, sample->value[metric], 0);
        ps_output_number(output, baseline.expected, 1);
        ps_output_number(output, score.ratio, 2);
        ps_output_number(output, score.z, 2);
    }
    ps_output_text(output, baseline.young ? "young" : "");
}

static void
print_sparkline(const PsSpan *span, const char *series, PsMetric metric)
{
    g_autofree double *values = g_new0(double, MAX(1, span->n_points));
    g_autofree gboolean *present = g_new0(gboolean, MAX(1, span->n_points));
    g_autofree gchar *line = NULL;
    double max = 0;

    for (guint i = 0; i < span->n_points; i++) {
        const PsSample *sample = ps_query_range_sample(span->range, 0, span->first + i);
        present[i] = !(sample->flags & PS_SAMPLE_MISSING) && ps_metric_known(sample, metric);
        values[i] = sample->value[metric];
        max = present[i] ? MAX(max, values[i]) : max;
    }
    line = ps_sparkline(values, present, span->n_points, PS_SPARKLINE_MAX_WIDTH);
    printf("\n%s %s, %u points of %u s, max %.0f\n%s\n", series, ps_metric_name(metric),
           span->n_points, span->step, max, line);
}

gboolean
ps_cli_series(PsCli *cli, int argc, char **argv, GError **error)
{
    g_auto(PsSpanOptions) o = {0};
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autoptr(PsOutput) output = NULL;
    PsMetric metric;
    PsSpan span;

    if (!parse_series_options(cli, &o, &argc, &argv, error) ||
        !ps_span_metric(&o, &metric, error) || !ps_cli_open(cli, error))
        return FALSE;
    g_ptr_array_add(names, argv[1]);
    if (!ps_span_read(cli, &o, names, &span, error))
        return FALSE;
    output = ps_output_new(cli, (const char *const[]){"time", ps_metric_name(metric), "expected",
                                                      "ratio", "z", "baseline", NULL});
    for (guint i = 0; i < span.n_points; i++)
        add_point(output, &span, i, metric);
    ps_output_print(output, stdout);
    if (cli->format == PS_CLI_FORMAT_TABLE)
        print_sparkline(&span, argv[1], metric);
    ps_span_clear(&span);
    return TRUE;
}
