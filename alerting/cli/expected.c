#include "config.h"

#include <math.h>

#include "expected.h"
#include "history.h"

gint64
ps_expected_lookback(guint step)
{
    gint64 same_time = (gint64)PS_BASELINE_DAYS * 86400 + (gint64)PS_BASELINE_WINDOW * step;
    gint64 recent = (gint64)PS_BASELINE_RECENT * step;

    return MAX(same_time, recent);
}

/* The history of point p as history.c would have filled it for a bucket of this step. */
static void
fill_history(const PsQueryRange *range, guint series, gint64 point, PsHistory *history)
{
    gint64 t = range->since + point * (gint64)range->step;
    gint64 per_day = 86400 / range->step; /* steps divide a day: 1m, 1h, 1d ... */
    gboolean weekend = ps_history_is_weekend(t);

    ps_history_init(history);
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        history->same_kind[d] = ps_history_is_weekend(t - (gint64)(d + 1) * 86400) == weekend;
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++) {
            gint64 p = point - (gint64)(d + 1) * per_day + ((gint64)s - PS_BASELINE_WINDOW);
            history->same_time[d][s] = *ps_query_range_sample(range, series, p);
        }
    }
    for (guint k = 0; k < PS_BASELINE_RECENT; k++)
        history->recent[k] = *ps_query_range_sample(range, series, point - (gint64)(k + 1));
}

void
ps_expected_at(const PsQueryRange *range, guint series, gint64 point, PsMetric metric,
               PsBaseline *baseline, PsScore *score)
{
    PsHistory history;

    fill_history(range, series, point, &history);
    ps_baseline_compute(&history, metric, 1.0, baseline);
    ps_score(ps_query_range_sample(range, series, point)->value[metric], baseline, score);
}

void
ps_expected_band(const PsBaseline *baseline, double z_limit, double *low, double *high)
{
    /* the inverse of ps_score: ln(x + c) = ln(expected + c) +- z * scale */
    double center = log(baseline->expected + PS_BASELINE_PSEUDO);

    *low = MAX(0, exp(center - z_limit * baseline->scale) - PS_BASELINE_PSEUDO);
    *high = exp(center + z_limit * baseline->scale) - PS_BASELINE_PSEUDO;
}
