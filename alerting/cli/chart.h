/* Drawing a chart with cairo, on any surface (image for PNG, SVG): each series as a line, its
 * baseline as a dashed line inside a band, and alert markers as vertical lines. No I/O and no
 * Redis: plot.c gathers the numbers, this draws them.
 *
 * Each series line is drawn as one path per run of present points (move_to, then line_to per
 * point) in the series' palette colour, so the drawn points are exactly the data points: the
 * tests read them back from the SVG. */
#pragma once

#include <cairo.h>
#include <glib.h>

#define PS_CHART_MAX_SERIES 6 /* the palette */

typedef struct {
    const char *name;
    const double *values; /* n_points; ignored where !present */
    const gboolean *present;
    const double *expected; /* n_points; ignored where !has_baseline */
    const double *low;      /* the band */
    const double *high;
    const gboolean *has_baseline;
} PsChartSeries;

typedef struct {
    gint64 time;
    guint series;         /* index into the chart's series */
    const char *severity; /* warning, major, critical */
} PsChartMarker;

typedef struct {
    const char *title;
    gint64 first; /* start of point 0 */
    guint step;
    guint n_points;
    gboolean local; /* time labels in the local zone */
    const PsChartSeries *series;
    guint n_series;
    const PsChartMarker *markers;
    guint n_markers;
} PsChart;

/* The palette colour of series i as 0..1 RGB. */
void ps_chart_color(guint i, double rgb[3]);

/* Draws the chart over the whole width x height of the context's surface. */
void ps_chart_draw(cairo_t *cr, const PsChart *chart, double width, double height);
