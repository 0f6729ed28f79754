#include "config.h"

#include "sparkline.h"

static const char *blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

static double
largest(const double *values, const gboolean *present, guint n)
{
    double max = 0;

    for (guint i = 0; i < n; i++)
        if (present[i])
            max = MAX(max, values[i]);
    return max;
}

/* The block of one column: the largest present value of values[first .. last). */
static const char *
column_block(const double *values, const gboolean *present, guint first, guint last, double max)
{
    gboolean any = FALSE;
    double value = 0;
    guint level;

    for (guint i = first; i < last; i++) {
        if (present[i]) {
            value = any ? MAX(value, values[i]) : values[i];
            any = TRUE;
        }
    }
    if (!any)
        return " ";
    level = max > 0 ? (guint)(value / max * (G_N_ELEMENTS(blocks) - 1) + 0.5) : 0;
    return blocks[MIN(level, G_N_ELEMENTS(blocks) - 1)];
}

gchar *
ps_sparkline(const double *values, const gboolean *present, guint n, guint width)
{
    GString *line = g_string_new(NULL);
    double max = largest(values, present, n);
    guint columns = MIN(n, MIN(MAX(width, 1), PS_SPARKLINE_MAX_WIDTH));

    for (guint c = 0; c < columns; c++) {
        guint first = (guint)((guint64)c * n / columns);
        guint last = (guint)((guint64)(c + 1) * n / columns);
        g_string_append(line, column_block(values, present, first, last, max));
    }
    return g_string_free(line, FALSE);
}
