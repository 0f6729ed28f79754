/* The baseline of every point of a series, computed by the alerter's own baseline code
 * (baseline.c) from a history filled out of the range itself: the same time of day on the
 * previous days (±PS_BASELINE_WINDOW points) and the recent points. So `series` and `plot`
 * need one pipelined read of the range plus its look-back, not a history read per point.
 *
 * Differences from the alerter, which evaluates one bucket with history.c: no weekly
 * correction (factor 1), no recent-level factor (1), and no incident exclusion; the expected
 * values are therefore what the alerter's baseline says before those adjustments. */
#pragma once

#include "query.h"

/* Seconds of history a range must reach back before its first point for the baselines of
 * points of the given step. */
gint64 ps_expected_lookback(guint step);

/* Baseline and score of series at point p of range, for metric. */
void ps_expected_at(const PsQueryRange *range, guint series, gint64 point, PsMetric metric,
                    PsBaseline *baseline, PsScore *score);

/* The values the alerter's score would call z_limit away from the baseline: the band drawn
 * around it. */
void ps_expected_band(const PsBaseline *baseline, double z_limit, double *low, double *high);
