#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"

#define MAD_TO_SIGMA 1.4826
#define SCALE_FLOOR  0.1
#define LEVEL_MIN    0.5
#define LEVEL_MAX    2.0
#define MAX_CANDIDATES (PS_BASELINE_DAYS * PS_BASELINE_SLOTS + PS_BASELINE_RECENT)

void
ps_history_init(PsHistory *history)
{
    memset(history, 0, sizeof(*history));
    for (guint d = 0; d < PS_BASELINE_DAYS; d++)
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++)
            history->same_time[d][s].flags = PS_SAMPLE_MISSING;
    for (guint k = 0; k < PS_BASELINE_RECENT; k++)
        history->recent[k].flags = PS_SAMPLE_MISSING;
    for (guint m = 0; m < PS_N_METRICS; m++)
        history->weekly[m] = 1.0;
}

static int
compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double
ps_median(double *values, guint n)
{
    if (n == 0)
        return 0;
    qsort(values, n, sizeof(double), compare_doubles);
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static gboolean
usable(const PsSample *sample)
{
    return !(sample->flags & (PS_SAMPLE_MISSING | PS_SAMPLE_IN_INCIDENT));
}

/* Same-time candidates; only days of today's kind when at least two such days have data. */
static guint
same_time_candidates(const PsHistory *history, PsMetric metric, double *out, guint *n_days)
{
    guint n = 0, kind_days = 0;
    gboolean has_data[PS_BASELINE_DAYS] = {FALSE};

    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++)
            has_data[d] |= usable(&history->same_time[d][s]);
        kind_days += has_data[d] && history->same_kind[d];
    }
    *n_days = 0;
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        if (!has_data[d] || (kind_days >= 2 && !history->same_kind[d]))
            continue;
        (*n_days)++;
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++) {
            if (usable(&history->same_time[d][s]))
                out[n++] = history->same_time[d][s].value[metric];
        }
    }
    return n;
}

static guint
recent_candidates(const PsHistory *history, PsMetric metric, double *out)
{
    guint n = 0;

    for (guint k = PS_BASELINE_RECENT_SKIP; k < PS_BASELINE_RECENT; k++) {
        if (usable(&history->recent[k]))
            out[n++] = history->recent[k].value[metric];
    }
    return n;
}

/* 1.4826 x MAD of ln(v + c): the spread of the candidates on the log scale. */
static double
log_scale_spread(const double *values, guint n)
{
    double logs[MAX_CANDIDATES], deviations[MAX_CANDIDATES];
    double center;

    for (guint i = 0; i < n; i++)
        logs[i] = log(values[i] + PS_BASELINE_PSEUDO);
    center = ps_median(logs, n);
    for (guint i = 0; i < n; i++)
        deviations[i] = fabs(logs[i] - center);
    return MAD_TO_SIGMA * ps_median(deviations, n);
}

void
ps_baseline_compute(const PsHistory *history, PsMetric metric, double level, PsBaseline *baseline)
{
    double candidates[MAX_CANDIDATES];
    guint n = same_time_candidates(history, metric, candidates, &baseline->n_days);
    double spread;

    baseline->young = baseline->n_days < PS_BASELINE_MATURE_DAYS;
    if (baseline->young) {
        n = recent_candidates(history, metric, candidates);
        level = 1.0; /* the recent buckets already are the recent level */
    }
    baseline->n_candidates = n;
    spread = n > 0 ? log_scale_spread(candidates, n) : 0;
    baseline->median = ps_median(candidates, n) * (baseline->young ? 1.0 : history->weekly[metric]);
    baseline->expected = baseline->median * CLAMP(level, LEVEL_MIN, LEVEL_MAX);
    /* Poisson-like floor: small counts are noisy even when the history is flat */
    baseline->scale = MAX(MAX(spread, 1.0 / sqrt(baseline->expected + PS_BASELINE_PSEUDO)),
                          SCALE_FLOOR);
}

void
ps_score(double x, const PsBaseline *baseline, PsScore *score)
{
    double c = PS_BASELINE_PSEUDO;

    score->z = (log(x + c) - log(baseline->expected + c)) / baseline->scale;
    score->ratio = (x + c) / (baseline->expected + c);
    score->excess = x - baseline->expected;
}

double
ps_level_factor(const double *ratios, guint n, guint min_count)
{
    double copy[PS_BASELINE_RECENT];

    if (n < min_count || n == 0)
        return 1.0;
    n = MIN(n, (guint)PS_BASELINE_RECENT);
    memcpy(copy, ratios, n * sizeof(double));
    return CLAMP(ps_median(copy, n), LEVEL_MIN, LEVEL_MAX);
}

const char *
ps_metric_name(PsMetric metric)
{
    static const char *names[PS_N_METRICS] = {"sources", "syn", "dests", "flows", "packets", "bytes"};

    return metric < PS_N_METRICS ? names[metric] : "?";
}
