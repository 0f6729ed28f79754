#include "config.h"

#include <math.h>
#include <string.h>

#include "baseline.h"

#define MAD_TO_SIGMA   1.4826
#define SCALE_FLOOR    0.1
#define LEVEL_MIN      0.5
#define LEVEL_MAX      2.0
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

/* The k-th smallest (from 0) of values, by Hoare's selection: linear on average, where a sort
 * of every candidate list was most of the detector's CPU time. Reorders values so that every
 * element after k is >= it. */
static double
select_kth(double *values, guint n, guint k)
{
    gint lo = 0, hi = (gint)n - 1, target = (gint)k;

    while (lo < hi) {
        double pivot = values[lo + (hi - lo) / 2];
        gint i = lo, j = hi;
        while (i <= j) {
            while (values[i] < pivot)
                i++;
            while (values[j] > pivot)
                j--;
            if (i <= j) {
                double swap = values[i];
                values[i++] = values[j];
                values[j--] = swap;
            }
        }
        if (target <= j)
            hi = j;
        else if (target >= i)
            lo = i;
        else
            break; /* between the partitions: equal to the pivot */
    }
    return values[target];
}

double
ps_median(double *values, guint n)
{
    double upper, lower;

    if (n == 0)
        return 0;
    upper = select_kth(values, n, n / 2);
    if (n % 2 == 1)
        return upper;
    lower = values[0]; /* the largest of the elements before n / 2 */
    for (guint i = 1; i < n / 2; i++)
        lower = MAX(lower, values[i]);
    return (lower + upper) / 2;
}

#define INTENSITY (-1) /* candidates of the scan intensity (ln) rather than of a metric */

double
ps_intensity_of(const PsSample *sample)
{
    return (sample->value[PS_METRIC_DESTS] + PS_BASELINE_PSEUDO) /
           (sample->value[PS_METRIC_SOURCES] + PS_BASELINE_PSEUDO);
}

static double
candidate(const PsSample *sample, int what)
{
    return what == INTENSITY ? log(ps_intensity_of(sample)) : sample->value[what];
}

static gboolean
usable(const PsSample *sample, int what)
{
    guint8 unusable = PS_SAMPLE_MISSING | PS_SAMPLE_IN_INCIDENT;

    /* a bucket without a count of new sources is no candidate for it, so a series the
     * collector only began to track has a young baseline of new sources */
    if (what == PS_METRIC_NEW)
        unusable |= PS_SAMPLE_NO_NEW;
    return !(sample->flags & unusable);
}

/* Same-time candidates; only days of today's kind when at least two such days have data.
 * data_days counts every day with data: maturity is about how much history there is, not
 * about how many days today's kind kept (a weekend has only two of them in a week). */
static guint
same_time_candidates(const PsHistory *history, int what, double *out, guint *n_days,
                     guint *data_days)
{
    guint n = 0, kind_days = 0;
    gboolean has_data[PS_BASELINE_DAYS] = {FALSE};

    *data_days = 0;
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++)
            has_data[d] |= usable(&history->same_time[d][s], what);
        kind_days += has_data[d] && history->same_kind[d];
        *data_days += has_data[d];
    }
    *n_days = 0;
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        if (!has_data[d] || (kind_days >= 2 && !history->same_kind[d]))
            continue;
        (*n_days)++;
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++) {
            if (usable(&history->same_time[d][s], what))
                out[n++] = candidate(&history->same_time[d][s], what);
        }
    }
    return n;
}

static guint
recent_candidates(const PsHistory *history, int what, double *out)
{
    guint n = 0;

    for (guint k = PS_BASELINE_RECENT_SKIP; k < PS_BASELINE_RECENT; k++) {
        if (usable(&history->recent[k], what))
            out[n++] = candidate(&history->recent[k], what);
    }
    return n;
}

/* The standard normal quantile of p in (0.5, 1), by Tukey's lambda approximation (within
 * 0.2% over 0.75 .. 0.99, enough for a scale). */
static double
normal_quantile(double p)
{
    return 4.91 * (pow(p, 0.14) - pow(1 - p, 0.14));
}

/* 1.4826 x MAD of values already on the log scale (reorders them). With tail in (0.5, 1), at
 * least the tail-quantile of the absolute deviations over the normal's: the same for Gaussian
 * noise, larger for heavy-tailed noise, whose MAD understates how far its tail reaches. */
static double
robust_spread(double *logs, guint n, double tail)
{
    double deviations[MAX_CANDIDATES];
    double center = ps_median(logs, n), spread;

    for (guint i = 0; i < n; i++)
        deviations[i] = fabs(logs[i] - center);
    spread = MAD_TO_SIGMA * ps_median(deviations, n);
    if (tail > 0.5 && tail < 1 && n >= 10)
        spread = MAX(spread, select_kth(deviations, n, (guint)(tail * (n - 1))) /
                                 normal_quantile((1 + tail) / 2));
    return spread;
}

/* 1.4826 x MAD of ln(v + c): the spread of the candidates on the log scale. */
static double
log_scale_spread(const double *values, guint n)
{
    double logs[MAX_CANDIDATES];

    for (guint i = 0; i < n; i++)
        logs[i] = log(values[i] + PS_BASELINE_PSEUDO);
    return robust_spread(logs, n, 0);
}

/* Poisson-like floor: small counts are noisy even when the history is flat. */
static double
scale_floor(double expected)
{
    return MAX(1.0 / sqrt(expected + PS_BASELINE_PSEUDO), SCALE_FLOOR);
}

/* The same-time candidates, or the recent ones while the history is young (marked in
 * baseline with the counts of days and candidates). */
static guint
gather_candidates(const PsHistory *history, int what, double *out, PsBaseline *baseline)
{
    guint data_days;
    guint n = same_time_candidates(history, what, out, &baseline->n_days, &data_days);

    baseline->young = data_days < PS_BASELINE_MATURE_DAYS || baseline->n_days == 0;
    if (baseline->young)
        n = recent_candidates(history, what, out);
    baseline->n_candidates = n;
    return n;
}

void
ps_baseline_compute(const PsHistory *history, PsMetric metric, double level, PsBaseline *baseline)
{
    double candidates[MAX_CANDIDATES];
    guint n = gather_candidates(history, metric, candidates, baseline);
    double spread;

    if (baseline->young)
        level = 1.0; /* the recent buckets already are the recent level */
    spread = n > 0 ? log_scale_spread(candidates, n) : 0;
    baseline->candidate_scale = spread;
    baseline->median = ps_median(candidates, n) * (baseline->young ? 1.0 : history->weekly[metric]);
    baseline->expected = baseline->median * CLAMP(level, LEVEL_MIN, LEVEL_MAX);
    baseline->scale = MAX(spread, scale_floor(baseline->expected));
}

void
ps_baseline_intensity(const PsHistory *history, const PsBaseline *sources, const PsBaseline *dests,
                      double recent_scale, PsBaseline *baseline)
{
    double logs[MAX_CANDIDATES];
    guint n = gather_candidates(history, INTENSITY, logs, baseline);

    baseline->median = n > 0 ? exp(ps_median(logs, n)) : 1.0;
    baseline->expected = baseline->median;
    baseline->candidate_scale = n > 0 ? robust_spread(logs, n, 0) : 0;
    baseline->scale =
        recent_scale > 0 && !baseline->young ? recent_scale : baseline->candidate_scale;
    baseline->scale =
        MAX(baseline->scale, MAX(scale_floor(sources->expected), scale_floor(dests->expected)));
}

void
ps_score_intensity(const PsSample *x, const PsBaseline *baseline, PsScore *score)
{
    double intensity = ps_intensity_of(x);

    score->z = log(intensity / baseline->expected) / baseline->scale;
    score->ratio = intensity / baseline->expected;
    score->excess = 0;
}

void
ps_baseline_use_recent_scale(PsBaseline *baseline, double recent_scale)
{
    if (recent_scale <= 0 || baseline->young)
        return;
    baseline->scale = MAX(recent_scale, scale_floor(baseline->expected));
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

double
ps_level_spread(const double *ratios, guint n, guint min_count, double tail)
{
    return ps_level_spread_quotient(ratios, NULL, n, min_count, tail);
}

double
ps_level_spread_quotient(const double *a, const double *b, guint n, guint min_count, double tail)
{
    double logs[MAX_CANDIDATES];

    if (n < min_count || n == 0)
        return 0;
    n = MIN(n, (guint)PS_BASELINE_RECENT);
    for (guint i = 0; i < n; i++)
        logs[i] = log(b != NULL ? a[i] / b[i] : a[i]);
    return robust_spread(logs, n, tail);
}

const char *
ps_metric_name(PsMetric metric)
{
    static const char *names[PS_N_METRICS] = {"sources", "syn",   "dests",      "flows",
                                              "packets", "bytes", "new_sources"};

    return metric < PS_N_METRICS ? names[metric] : "?";
}
