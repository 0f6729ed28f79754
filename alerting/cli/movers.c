#include "config.h"

#include <math.h>
#include <string.h>

#include "history.h"
#include "movers.h"

/* total + bucket by the rule of every aggregate of buckets (query.h) */
static double
window_add(double total, double bucket, PsMetric metric)
{
    PsSample into = {0}, from = {0};

    into.value[metric] = total;
    from.value[metric] = bucket;
    ps_query_sample_add(&into, &from);
    return into.value[metric];
}

static void
add_bucket(PsMover *mover, const PsSample *sample, const PsHistory *history, PsMetric metric)
{
    PsBaseline baseline;
    PsScore score;

    if (sample->flags & PS_SAMPLE_MISSING)
        return;
    ps_baseline_compute(history, metric, 1.0, &baseline);
    ps_score(sample->value[metric], &baseline, &score);
    mover->value = window_add(mover->value, sample->value[metric], metric);
    mover->expected = window_add(mover->expected, baseline.expected, metric);
    if (!mover->scored || fabs(score.z) > fabs(mover->z))
        mover->z = score.z;
    mover->young |= baseline.young;
    mover->scored = TRUE;
}

static void
finish_ratio(PsMover *mover)
{
    PsBaseline window = {.expected = mover->expected, .scale = 1};
    PsScore score;

    ps_score(mover->value, &window, &score);
    mover->ratio = score.ratio;
}

gboolean
ps_movers_score(const PsQuery *query, GPtrArray *names, gint64 since, gint64 until, PsMetric metric,
                PsMover *movers, GError **error)
{
    PsHistoryReader reader = {query->redis, query->prefix, query->step};
    g_autoptr(GArray) buckets = ps_history_closed_buckets(&reader, since - 1, until - 1, error);
    g_autofree PsSample *samples = g_new0(PsSample, MAX(1, names->len));
    g_autofree PsHistory *histories = g_new0(PsHistory, MAX(1, names->len));

    if (buckets == NULL)
        return FALSE;
    memset(movers, 0, names->len * sizeof(PsMover));
    for (guint b = 0; b < buckets->len; b++) {
        if (!ps_history_read(&reader, g_array_index(buckets, gint64, b), names, samples, histories,
                             error))
            return FALSE;
        for (guint i = 0; i < names->len; i++)
            add_bucket(&movers[i], &samples[i], &histories[i], metric);
    }
    for (guint i = 0; i < names->len; i++)
        finish_ratio(&movers[i]);
    return TRUE;
}
