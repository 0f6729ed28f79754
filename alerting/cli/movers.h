/* How far each series of a window is from its baseline, computed exactly as the alerter does
 * for each bucket: ps_history_read (history.c) and ps_baseline_compute / ps_score
 * (baseline.c), with a level factor of 1 since the CLI keeps no incident state. Over a window
 * of several buckets, value and expected add up by the query.h rule (sum of counters, largest
 * distinct count), and z is the bucket z of largest magnitude: a five-minute surge in a
 * fifteen-minute window shows at its full strength. */
#pragma once

#include "query.h"

#define PS_MOVERS_MAX_SERIES 100 /* series scored per window: the busiest */

typedef struct {
    double value;
    double expected;
    double ratio; /* (value + c) / (expected + c), as ps_score defines it */
    double z;
    gboolean young;
    gboolean scored; /* FALSE when no bucket of the window could be scored */
} PsMover;

/* Scores names (strings) over the closed buckets of [since, until) for metric; movers is an
 * array of names->len. FALSE with error on a Redis failure. */
gboolean ps_movers_score(const PsQuery *query, GPtrArray *names, gint64 since, gint64 until,
                         PsMetric metric, PsMover *movers, GError **error);
