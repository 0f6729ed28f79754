#include "config.h"

#include <math.h>

#include "chart.h"

#define MARGIN_LEFT   70.0
#define MARGIN_RIGHT  20.0
#define MARGIN_TOP    34.0
#define MARGIN_BOTTOM 40.0
#define FONT_SIZE     11.0
#define Y_TICKS       5
#define X_TICKS       6
#define BAND_ALPHA    0.15

/* Tableau-like colours, far apart from each other and from the marker red of critical. */
static const guint8 palette[PS_CHART_MAX_SERIES][3] = {
    {31, 119, 180}, {44, 160, 44}, {148, 103, 189}, {255, 127, 14}, {140, 86, 75}, {23, 190, 207},
};

typedef struct {
    double x0, y0, width, height; /* the plot area */
    double y_max;
    guint n_points;
} Frame;

void
ps_chart_color(guint i, double rgb[3])
{
    for (guint c = 0; c < 3; c++)
        rgb[c] = palette[i % PS_CHART_MAX_SERIES][c] / 255.0;
}

static void
set_color(cairo_t *cr, guint i, double alpha)
{
    double rgb[3];

    ps_chart_color(i, rgb);
    cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], alpha);
}

static double
frame_x(const Frame *frame, double point)
{
    if (frame->n_points < 2)
        return frame->x0 + frame->width / 2;
    return frame->x0 + point * frame->width / (frame->n_points - 1);
}

static double
frame_y(const Frame *frame, double value)
{
    double clipped = CLAMP(value, 0, frame->y_max);

    return frame->y0 + frame->height - clipped / frame->y_max * frame->height;
}

/* A round top for the value axis, just above the largest value, whose fifths read well. */
static double
nice_max(double value)
{
    double power, steps[] = {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};

    if (value <= 0)
        return 1;
    power = pow(10, floor(log10(value)));
    for (guint i = 0; i < G_N_ELEMENTS(steps); i++)
        if (steps[i] * power >= value)
            return steps[i] * power;
    return 10 * power;
}

static double
largest_value(const PsChart *chart)
{
    double max = 0;

    for (guint s = 0; s < chart->n_series; s++) {
        const PsChartSeries *series = &chart->series[s];
        for (guint i = 0; i < chart->n_points; i++) {
            if (series->present[i])
                max = MAX(max, series->values[i]);
            if (series->has_baseline[i])
                max = MAX(max, series->expected[i]);
        }
    }
    return max;
}

static void
draw_text(cairo_t *cr, double x, double y, const char *text, double align)
{
    cairo_text_extents_t extents;

    cairo_text_extents(cr, text, &extents);
    cairo_move_to(cr, x - extents.width * align, y);
    cairo_show_text(cr, text);
}

static void
draw_value_axis(cairo_t *cr, const Frame *frame)
{
    cairo_set_line_width(cr, 1);
    for (guint t = 0; t <= Y_TICKS; t++) {
        double value = frame->y_max * t / Y_TICKS;
        double y = frame_y(frame, value);
        g_autofree gchar *label = g_strdup_printf("%.6g", value);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, frame->x0, y);
        cairo_line_to(cr, frame->x0 + frame->width, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        draw_text(cr, frame->x0 - 6, y + FONT_SIZE / 3, label, 1.0);
    }
}

static void
draw_time_axis(cairo_t *cr, const Frame *frame, const PsChart *chart)
{
    guint ticks = MIN(X_TICKS, MAX(frame->n_points, 1));

    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    for (guint t = 0; t < ticks; t++) {
        double point = ticks > 1 ? (double)t * (frame->n_points - 1) / (ticks - 1) : 0;
        gint64 time = chart->first + (gint64)(point + 0.5) * chart->step;
        g_autoptr(GDateTime) when = chart->local ? g_date_time_new_from_unix_local(time)
                                                 : g_date_time_new_from_unix_utc(time);
        g_autofree gchar *label = when != NULL ? g_date_time_format(when, "%m-%d %H:%M") : NULL;
        /* the outer labels align with the plot's edges, so none is cut off */
        double align = ticks < 2 ? 0.5 : t == 0 ? 0 : t + 1 == ticks ? 1 : 0.5;
        if (label != NULL)
            draw_text(cr, frame_x(frame, point), frame->y0 + frame->height + 18, label, align);
    }
}

/* The band between low and high, one closed shape per run of points with a baseline. */
static void
draw_band(cairo_t *cr, const Frame *frame, const PsChartSeries *series, guint index)
{
    guint i = 0;

    set_color(cr, index, BAND_ALPHA);
    while (i < frame->n_points) {
        guint start = i, end;
        if (!series->has_baseline[i]) {
            i++;
            continue;
        }
        while (i < frame->n_points && series->has_baseline[i])
            i++;
        end = i;
        cairo_move_to(cr, frame_x(frame, start), frame_y(frame, series->high[start]));
        for (guint p = start + 1; p < end; p++)
            cairo_line_to(cr, frame_x(frame, p), frame_y(frame, series->high[p]));
        for (guint p = end; p-- > start;)
            cairo_line_to(cr, frame_x(frame, p), frame_y(frame, series->low[p]));
        cairo_close_path(cr);
        cairo_fill(cr);
    }
}

/* A polyline of values where defined[i], broken where not. */
static void
draw_runs(cairo_t *cr, const Frame *frame, const double *values, const gboolean *defined)
{
    gboolean drawing = FALSE;

    for (guint i = 0; i < frame->n_points; i++) {
        if (!defined[i]) {
            drawing = FALSE;
            continue;
        }
        if (drawing)
            cairo_line_to(cr, frame_x(frame, i), frame_y(frame, values[i]));
        else
            cairo_move_to(cr, frame_x(frame, i), frame_y(frame, values[i]));
        drawing = TRUE;
    }
    cairo_stroke(cr);
}

static void
draw_series(cairo_t *cr, const Frame *frame, const PsChartSeries *series, guint index)
{
    static const double dash[] = {4, 3};

    set_color(cr, index, 0.8);
    cairo_set_line_width(cr, 1);
    cairo_set_dash(cr, dash, G_N_ELEMENTS(dash), 0);
    draw_runs(cr, frame, series->expected, series->has_baseline);
    cairo_set_dash(cr, NULL, 0, 0);
    set_color(cr, index, 1);
    cairo_set_line_width(cr, 1.5);
    draw_runs(cr, frame, series->values, series->present);
}

static void
severity_color(cairo_t *cr, const char *severity)
{
    if (g_strcmp0(severity, "critical") == 0)
        cairo_set_source_rgb(cr, 0.84, 0.15, 0.16);
    else if (g_strcmp0(severity, "major") == 0)
        cairo_set_source_rgb(cr, 0.93, 0.45, 0.0);
    else
        cairo_set_source_rgb(cr, 0.85, 0.75, 0.0);
}

/* A vertical line at the alert's bucket and a triangle above the plot area. */
static void
draw_markers(cairo_t *cr, const Frame *frame, const PsChart *chart)
{
    for (guint m = 0; m < chart->n_markers; m++) {
        const PsChartMarker *marker = &chart->markers[m];
        double point = (double)(marker->time - chart->first) / chart->step;
        double x = frame_x(frame, point);
        if (point < 0 || point > MAX(frame->n_points, 1) - 1)
            continue;
        severity_color(cr, marker->severity);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, x, frame->y0);
        cairo_line_to(cr, x, frame->y0 + frame->height);
        cairo_stroke(cr);
        cairo_move_to(cr, x - 5, frame->y0 - 8);
        cairo_line_to(cr, x + 5, frame->y0 - 8);
        cairo_line_to(cr, x, frame->y0);
        cairo_close_path(cr);
        cairo_fill(cr);
    }
}

static void
draw_legend(cairo_t *cr, const Frame *frame, const PsChart *chart)
{
    double x = frame->x0;

    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    draw_text(cr, x, 16, chart->title, 0);
    x = frame->x0 + frame->width;
    for (guint s = chart->n_series; s-- > 0;) {
        cairo_text_extents_t extents;
        cairo_text_extents(cr, chart->series[s].name, &extents);
        x -= extents.width + 26;
        set_color(cr, s, 1);
        cairo_rectangle(cr, x, 8, 12, 8);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        draw_text(cr, x + 16, 16, chart->series[s].name, 0);
    }
}

void
ps_chart_draw(cairo_t *cr, const PsChart *chart, double width, double height)
{
    Frame frame = {MARGIN_LEFT,
                   MARGIN_TOP,
                   MAX(1, width - MARGIN_LEFT - MARGIN_RIGHT),
                   MAX(1, height - MARGIN_TOP - MARGIN_BOTTOM),
                   1,
                   chart->n_points};

    frame.y_max = nice_max(largest_value(chart) * 1.05);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, FONT_SIZE);
    draw_value_axis(cr, &frame);
    draw_time_axis(cr, &frame, chart);
    for (guint s = 0; s < chart->n_series; s++)
        draw_band(cr, &frame, &chart->series[s], s);
    draw_markers(cr, &frame, chart);
    for (guint s = 0; s < chart->n_series; s++)
        draw_series(cr, &frame, &chart->series[s], s);
    draw_legend(cr, &frame, chart);
}
