/* What is normal for one series at one bucket, from its own history: the same time of day on
 * the previous days (a few buckets either side, days of the same kind preferred), a weekly
 * correction from hourly roll-ups, and a recent-level factor that absorbs slow drift and
 * holidays. Robust statistics on a log scale with a pseudo-count: median and MAD, never mean
 * and standard deviation. With less than PS_BASELINE_MATURE_DAYS of history the recent
 * buckets stand in, and the baseline is marked young.
 *
 * Pure: no I/O, no clock. history.c fills a PsHistory from Redis; the evaluation program
 * fills it from a simulation; both call the same functions. */
#pragma once

#include <glib.h>

typedef enum {
    PS_METRIC_SOURCES, /* distinct sources */
    PS_METRIC_SYN,     /* SYN-only flows */
    PS_METRIC_DESTS,   /* distinct destinations */
    PS_METRIC_FLOWS,
    PS_METRIC_PACKETS,
    PS_METRIC_BYTES,
    PS_METRIC_NEW, /* distinct sources new to the series (unseen for a day): only where the
                    * collector tracks them (PS_SAMPLE_NO_NEW otherwise) */
    PS_N_METRICS
} PsMetric;

/* Metrics the stored series state keeps rings, peaks and totals of: all but new sources, which
 * borrow the sources' (they are a share of them), so the state in Redis kept its layout. */
#define PS_N_STATE_METRICS PS_METRIC_NEW

#define PS_N_DETECT_METRICS 4 /* sources, syn, dests, flows drive detection; the rest is context   \
                               */

#define PS_BASELINE_DAYS        7
#define PS_BASELINE_WINDOW      2 /* buckets either side of the same time of day */
#define PS_BASELINE_SLOTS       (2 * PS_BASELINE_WINDOW + 1)
#define PS_BASELINE_RECENT      65 /* buckets t-1 .. t-65 */
#define PS_BASELINE_RECENT_SKIP 4  /* the young baseline uses t-5 .. t-65 */
#define PS_BASELINE_MATURE_DAYS 3
#define PS_BASELINE_PSEUDO      5.0

typedef enum {
    PS_SAMPLE_MISSING = 1 << 0,     /* no data (bucket not closed, collector down) */
    PS_SAMPLE_DEGRADED = 1 << 1,    /* exporters reported loss: values may be low */
    PS_SAMPLE_IN_INCIDENT = 1 << 2, /* inside an open incident: kept out of baselines */
    PS_SAMPLE_NO_NEW = 1 << 3, /* no count of new sources (not tracked, or not yet a horizon
                                * of it): value[PS_METRIC_NEW] means nothing */
} PsSampleFlags;

typedef struct {
    double value[PS_N_METRICS];
    guint8 flags;
} PsSample;

/* Whether a sample's value of metric means something (new sources are not always counted). */
static inline gboolean
ps_metric_known(const PsSample *sample, PsMetric metric)
{
    return metric != PS_METRIC_NEW || !(sample->flags & PS_SAMPLE_NO_NEW);
}

/* One series' history around bucket t. */
typedef struct {
    PsSample same_time[PS_BASELINE_DAYS][PS_BASELINE_SLOTS]; /* [day-1][offset+window] */
    gboolean same_kind[PS_BASELINE_DAYS]; /* that day is the same kind (weekday, weekend) */
    PsSample recent[PS_BASELINE_RECENT];  /* [k-1] is bucket t-k */
    double weekly[PS_N_METRICS];          /* hour-of-week correction, 1 when unknown */
} PsHistory;

typedef struct {
    double median;          /* of the candidates, times the weekly correction */
    double expected;        /* median times the level factor: what x is compared with */
    double scale;           /* robust spread on the log scale: what z divides by */
    double candidate_scale; /* the candidates' own spread (scale unless a recent one is used) */
    guint n_candidates;
    guint n_days;   /* days that contributed */
    gboolean young; /* short history: recent buckets stood in */
} PsBaseline;

typedef struct {
    double z;      /* (ln(x+c) - ln(b+c)) / s */
    double ratio;  /* (x+c) / (b+c) */
    double excess; /* x - b */
} PsScore;

/* A history with every sample missing and weekly factors of 1. */
void ps_history_init(PsHistory *history);

/* Baseline of metric for the bucket the history surrounds; level is the recent-level factor
 * (1 when unknown), applied after clipping to [0.5, 2]. */
void ps_baseline_compute(const PsHistory *history, PsMetric metric, double level,
                         PsBaseline *baseline);

/* Replaces the scale by recent_scale (ps_level_spread), kept above the Poisson-like floor; a
 * no-op when recent_scale is 0 or the baseline is young. Why: the candidates' spread mixes
 * day-to-day level changes, which the level factor already corrects, into the noise, so z
 * of a 3x surge on a few tens of sources stayed under 4. */
void ps_baseline_use_recent_scale(PsBaseline *baseline, double recent_scale);

void ps_score(double x, const PsBaseline *baseline, PsScore *score);

/* Median of n values (reorders them). */
double ps_median(double *values, guint n);

/* Median of the level ratios x/b of recent buckets, clipped to [0.5, 2]; 1 with fewer than
 * min_count ratios. */
double ps_level_factor(const double *ratios, guint n, guint min_count);

/* Robust spread (1.4826 x MAD) of ln(ratios): how far the recent buckets strayed from their
 * own level, the noise left once the level factor is applied; 0 with fewer than min_count.
 * tail in (0.5, 1): at least the tail-quantile of the absolute deviations scaled as for
 * Gaussian noise (heavy-tailed noise gets the larger spread its tail shows); 0: MAD only. */
double ps_level_spread(const double *ratios, guint n, guint min_count, double tail);

/* Scan intensity of a sample: distinct destinations per distinct source, (dests + c) /
 * (sources + c). One scanner sweeping a network multiplies it; more of the usual traffic (a
 * busy hour, drift, an exporter flushing its cache, a sampling change) leaves it where it was,
 * so its noise is less than either count's: what they share cancels. */
double ps_intensity_of(const PsSample *sample);

/* Baseline of the scan intensity: median and spread of ln(intensity) over the same candidates
 * as a metric's (no level factor: a ratio of two counts has no level). The scale is
 * recent_scale when it is > 0 and the baseline is not young (as ps_baseline_use_recent_scale),
 * else the candidates' spread, and at least the larger of the two counts' Poisson-like floors
 * (from their baselines). */
void ps_baseline_intensity(const PsHistory *history, const PsBaseline *sources,
                           const PsBaseline *dests, double recent_scale, PsBaseline *baseline);

/* Intensity score of x against its baseline: z on the log scale and the ratio (no excess). */
void ps_score_intensity(const PsSample *x, const PsBaseline *baseline, PsScore *score);

/* Robust spread of ln(a_i / b_i) over two level rings (ps_level_spread of their quotient; b
 * NULL: of a alone): the recent noise of the intensity; 0 with fewer than min_count. */
double ps_level_spread_quotient(const double *a, const double *b, guint n, guint min_count,
                                double tail);

const char *ps_metric_name(PsMetric metric);
