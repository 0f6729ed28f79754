/* A Unicode sparkline: one block character (▁ to █) per column, scaled from 0 to the largest
 * value, a space where there is no data. More values than columns are grouped, each column
 * showing the largest value of its group, so a one-minute spike is never averaged away. */
#pragma once

#include <glib.h>

#define PS_SPARKLINE_MAX_WIDTH 120

/* values[i] with present[i] FALSE is missing. Caller frees. */
gchar *ps_sparkline(const double *values, const gboolean *present, guint n, guint width);
