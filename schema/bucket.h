/* Time buckets: a bucket is named by its start (Unix seconds, a multiple of its step). Minute
 * buckets (step 60 by default, 10 s to 1 h allowed) roll up into hour buckets (step 3600). */
#pragma once

#include <glib.h>

#define PS_BUCKET_HOUR            3600
#define PS_BUCKET_STEP_MIN        10
#define PS_BUCKET_STEP_MAX        3600
#define PS_BUCKET_MINUTE_TTL_DAYS 8
#define PS_BUCKET_HOUR_TTL_DAYS   400

/* Start of the bucket of the given step that holds time_s. */
static inline gint64
ps_bucket_start(gint64 time_s, guint step)
{
    gint64 start = time_s - time_s % (gint64)step;
    return time_s < 0 && time_s % (gint64)step != 0 ? start - step : start;
}

/* TRUE for a step that divides an hour evenly (so minute buckets roll up into hours). */
gboolean ps_bucket_step_valid(guint step);
