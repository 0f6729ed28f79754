/* portsurge plot PORT... -o FILE.svg|FILE.png: the ports over a span on one chart, each with
 * its baseline band (the values the alerter's score would not call unusual, |z| below its
 * z_min) and a marker where an alert opened or escalated. */
#include "config.h"

#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
#include <stdio.h>

#include "chart.h"
#include "detect.h"
#include "expected.h"
#include "span.h"

#define PS_PLOT_DEFAULT_WIDTH  960
#define PS_PLOT_DEFAULT_HEIGHT 400
#define PS_PLOT_MIN_SIZE       100
#define PS_PLOT_MAX_SIZE       10000

typedef struct {
    PsSpanOptions span;
    gchar *output;
    gint width;
    gint height;
} PlotOptions;

static void
plot_options_clear(PlotOptions *o)
{
    ps_span_options_clear(&o->span);
    g_free(o->output);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PlotOptions, plot_options_clear)

/* The arrays one chart series points into. */
typedef struct {
    double *values, *expected, *low, *high;
    gboolean *present, *has_baseline;
} SeriesData;

static gboolean
parse_plot_options(PsCli *cli, PlotOptions *o, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output, "The chart: FILE.svg or FILE.png",
         "FILE"},
        {"width", 0, 0, G_OPTION_ARG_INT, &o->width, "Width in pixels (default 960)", "PX"},
        {"height", 0, 0, G_OPTION_ARG_INT, &o->height, "Height in pixels (default 400)", "PX"},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context =
        g_option_context_new("PORT... - a chart of ports with baseline band and alert markers");

    o->width = PS_PLOT_DEFAULT_WIDTH;
    o->height = PS_PLOT_DEFAULT_HEIGHT;
    ps_span_add_options(context, &o->span);
    g_option_context_add_main_entries(context, entries, NULL);
    if (!ps_cli_parse(cli, context, argc, argv, error))
        return FALSE;
    if (*argc < 2 || *argc - 1 > PS_CHART_MAX_SERIES || o->output == NULL) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE,
                    "expected 1 to %d ports and -o FILE.svg or -o FILE.png", PS_CHART_MAX_SERIES);
        return FALSE;
    }
    if (o->width < PS_PLOT_MIN_SIZE || o->width > PS_PLOT_MAX_SIZE ||
        o->height < PS_PLOT_MIN_SIZE || o->height > PS_PLOT_MAX_SIZE) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE,
                    "--width and --height take %d to %d pixels", PS_PLOT_MIN_SIZE,
                    PS_PLOT_MAX_SIZE);
        return FALSE;
    }
    for (int i = 1; i < *argc; i++)
        if (!ps_cli_series_check((*argv)[i], error))
            return FALSE;
    return TRUE;
}

static void
series_data_fill(const PsSpan *span, guint series, PsMetric metric, double z_limit,
                 SeriesData *data)
{
    guint n = MAX(1, span->n_points);

    data->values = g_new0(double, n);
    data->expected = g_new0(double, n);
    data->low = g_new0(double, n);
    data->high = g_new0(double, n);
    data->present = g_new0(gboolean, n);
    data->has_baseline = g_new0(gboolean, n);
    for (guint i = 0; i < span->n_points; i++) {
        const PsSample *sample = ps_query_range_sample(span->range, series, span->first + i);
        PsBaseline baseline;
        PsScore score;
        ps_expected_at(span->range, series, span->first + i, metric, &baseline, &score);
        data->present[i] = !(sample->flags & PS_SAMPLE_MISSING);
        data->values[i] = sample->value[metric];
        data->has_baseline[i] = baseline.n_candidates > 0;
        data->expected[i] = baseline.expected;
        ps_expected_band(&baseline, z_limit, &data->low[i], &data->high[i]);
    }
}

static void
series_data_clear(SeriesData *data)
{
    g_free(data->values);
    g_free(data->expected);
    g_free(data->low);
    g_free(data->high);
    g_free(data->present);
    g_free(data->has_baseline);
}

/* Opening and escalating events of the plotted ports. */
static GArray *
alert_markers(GPtrArray *alerts, GPtrArray *names)
{
    GArray *markers = g_array_new(FALSE, TRUE, sizeof(PsChartMarker));

    for (guint a = 0; a < alerts->len; a++) {
        const PsQueryAlert *alert = g_ptr_array_index(alerts, a);
        if (g_strcmp0(alert->event, "open") != 0 && g_strcmp0(alert->event, "escalate") != 0)
            continue;
        for (guint s = 0; s < names->len; s++) {
            if (g_str_equal(alert->series, g_ptr_array_index(names, s))) {
                PsChartMarker marker = {alert->bucket, s, alert->severity};
                g_array_append_val(markers, marker);
            }
        }
    }
    return markers;
}

static gboolean
write_surface(cairo_surface_t *surface, const char *path, gboolean png, GError **error)
{
    cairo_status_t status = png ? cairo_surface_write_to_png(surface, path)
                                : (cairo_surface_finish(surface), cairo_surface_status(surface));

    if (status != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_FAILED, "writing %s: %s", path,
                    cairo_status_to_string(status));
        return FALSE;
    }
    return TRUE;
}

static gboolean
render(const PlotOptions *o, const PsChart *chart, GError **error)
{
    gboolean png = g_str_has_suffix(o->output, ".png") || g_str_has_suffix(o->output, ".PNG");
    cairo_surface_t *surface;
    cairo_t *cr;
    gboolean ok;

    if (png) {
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, o->width, o->height);
    } else {
        surface = cairo_svg_surface_create(o->output, o->width, o->height);
        /* width="960px", not the default points, so the file says the size asked for */
        cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX);
    }
    cr = cairo_create(surface);
    ps_chart_draw(cr, chart, o->width, o->height);
    cairo_destroy(cr);
    ok = write_surface(surface, o->output, png, error);
    cairo_surface_destroy(surface);
    return ok;
}

static gboolean
output_kind_valid(const char *path, GError **error)
{
    g_autofree gchar *lower = g_ascii_strdown(path, -1);

    if (g_str_has_suffix(lower, ".svg") || g_str_has_suffix(lower, ".png"))
        return TRUE;
    g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE, "-o %s: the name must end in .svg or .png",
                path);
    return FALSE;
}

static gboolean
draw_span(const PsCli *cli, const PlotOptions *o, const PsSpan *span, GPtrArray *names,
          PsMetric metric, GError **error)
{
    PsDetectConfig detect;
    SeriesData data[PS_CHART_MAX_SERIES] = {0};
    PsChartSeries series[PS_CHART_MAX_SERIES] = {0};
    g_autoptr(GPtrArray) alerts =
        ps_query_alerts(&cli->query, ps_span_time(span, 0), span->until, NULL, error);
    g_autoptr(GArray) markers = NULL;
    g_autofree gchar *title = NULL;
    PsChart chart;
    gboolean ok;

    if (alerts == NULL)
        return FALSE;
    ps_detect_config_init(&detect);
    for (guint s = 0; s < names->len; s++) {
        series_data_fill(span, s, metric, detect.z_min, &data[s]);
        series[s] = (PsChartSeries){g_ptr_array_index(names, s),
                                    data[s].values,
                                    data[s].present,
                                    data[s].expected,
                                    data[s].low,
                                    data[s].high,
                                    data[s].has_baseline};
    }
    markers = alert_markers(alerts, names);
    title = g_strdup_printf("%s, %u points of %u s", ps_metric_name(metric), span->n_points,
                            span->step);
    chart = (PsChart){title,       ps_span_time(span, 0),
                      span->step,  span->n_points,
                      cli->local,  series,
                      names->len,  &g_array_index(markers, PsChartMarker, 0),
                      markers->len};
    ok = render(o, &chart, error);
    for (guint s = 0; s < names->len; s++)
        series_data_clear(&data[s]);
    return ok;
}

gboolean
ps_cli_plot(PsCli *cli, int argc, char **argv, GError **error)
{
    g_auto(PlotOptions) o = {0};
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    PsMetric metric;
    PsSpan span;
    gboolean ok;

    if (!parse_plot_options(cli, &o, &argc, &argv, error) || !output_kind_valid(o.output, error) ||
        !ps_span_metric(&o.span, &metric, error) || !ps_cli_open(cli, error))
        return FALSE;
    for (int i = 1; i < argc; i++)
        g_ptr_array_add(names, argv[i]);
    if (!ps_span_read(cli, &o.span, names, &span, error))
        return FALSE;
    ok = draw_span(cli, &o, &span, names, metric, error);
    ps_span_clear(&span);
    /* cairo and fontconfig keep font caches for the process's life; give them back so that
     * LeakSanitizer sees only our own allocations */
    cairo_debug_reset_static_data();
    FcFini();
    if (ok && cli->format == PS_CLI_FORMAT_TABLE)
        printf("%s: %u ports, %u points of %u s\n", o.output, names->len, span.n_points, span.step);
    return ok;
}
