/* The simulated world the evaluation scores detectors on: sites (collectors of different sizes)
 * with a hundred or so ports each, per-minute buckets over a few weeks, seasonality, drift,
 * holidays, noise, and two kinds of events with ground truth:
 *
 * - injections (surges to be found): 1.5x to 20x, 5 min to 24 h, step, ramp or burst, from many
 *   new sources or from a few sources sending many SYN-only flows; none before the scored days;
 * - hard negatives (not to be alerted on): a flash crowd on 443, a new single-source nightly
 *   backup to 445, a collector outage and its recovery burst, random missing buckets, a sampling
 *   change on every port of one site, and permanent +50% steps on a few series.
 *
 * A dataset is a seed: ps_sim_dataset_new() draws the sites, series and event schedule;
 * ps_sim_series_fill() draws one series' buckets. Series are independent given the dataset and
 * each has its own random stream, so they can be filled in any order and on any thread. */
#pragma once

#include <glib.h>

#include "baseline.h"

#define PS_SIM_STEP          60
#define PS_SIM_DAY           1440 /* buckets per day */
#define PS_SIM_T0            G_GINT64_CONSTANT(1704067200) /* Monday 2024-01-01 00:00 UTC */
#define PS_SIM_MAX_SITES     16
#define PS_SIM_GRACE         5 /* buckets after an injection ends that still count as found */
#define PS_SIM_AR_PHI        0.95 /* the traffic's AR(1) log noise, from one minute to the next */

typedef enum {
    PS_SIM_SHAPE_STEP,
    PS_SIM_SHAPE_RAMP,  /* linear rise over the first third (at least one bucket) */
    PS_SIM_SHAPE_BURST, /* 2 buckets on, 2 off */
    PS_SIM_N_SHAPES
} PsSimShape;

typedef enum {
    PS_SIM_PLACE_PEAK,    /* weekday, the series' daily peak hour */
    PS_SIM_PLACE_TROUGH,  /* weekday, the daily trough hour */
    PS_SIM_PLACE_WEEKEND, /* any time on Saturday or Sunday */
    PS_SIM_PLACE_ANY,
    PS_SIM_N_PLACES
} PsSimPlace;

/* Why a bucket may look unusual without being a surge; a false incident opening there is
 * attributed to it. */
typedef enum {
    PS_SIM_CAUSE_NONE,
    PS_SIM_CAUSE_FLASH,    /* flash crowd on 443 (+30 min) */
    PS_SIM_CAUSE_BACKUP,   /* nightly single-source backup to 445 (+30 min) */
    PS_SIM_CAUSE_OUTAGE,   /* collector outage and recovery (+60 min) */
    PS_SIM_CAUSE_STEP,     /* permanent +50% step (the day after it, and days 3-4 after it) */
    PS_SIM_CAUSE_SAMPLING, /* sampling change on the site (the 8 days after it) */
    PS_SIM_CAUSE_HOLIDAY,  /* the holiday and the day after it */
    PS_SIM_N_CAUSES
} PsSimCause;

typedef struct {
    guint series;
    guint start, end; /* bucket indexes, end exclusive */
    double size;      /* multiplier of the series' traffic */
    guint minutes;
    PsSimShape shape;
    gboolean concentrated; /* a few sources, many SYN-only flows (else many new sources) */
    PsSimPlace place;
    double level; /* distinct sources per bucket expected at the start without the surge */
} PsSimInjection;

typedef struct {
    guint port;
    guint site;
    gboolean watched;
    gboolean scan;      /* scanner-dominated background (watched ports) */
    double level;       /* distinct sources per bucket at the daily mean */
    double amp1, amp2;  /* daily harmonics */
    double peak_hour;
    double phase2;
    double weekend;     /* weekend factor */
    double weekday[5];  /* Monday .. Friday */
    double human;       /* share that takes holidays off */
    double ar_sigma;    /* stationary sd of the AR(1) log noise */
    double theta;       /* negative-binomial size of distinct sources */
    double flows_per_source;
    double syn_share;
    double dest_space;  /* addresses a scanner can hit */
    double servers;     /* addresses that serve the port */
    double packets_per_flow, bytes_per_packet;
    double drift;       /* log growth per week */
    gint step_at;       /* bucket of a permanent +50% step, -1 none */
    gboolean flash;     /* 443: gets the site's flash crowd */
    gboolean backup;    /* 445: gets the site's nightly backup */
    double new_share;   /* share of the background's sources unseen on the port for a day */
    double new_sigma;   /* stationary sd of the AR(1) noise on that share's log-odds */
} PsSimSeriesParams;

typedef struct {
    guint64 seed;
    guint n_sites;
    guint ports_per_site;
    guint days;
    guint scored_from_day;
    guint n_buckets;
    guint scored_from; /* first scored bucket */
    guint holiday_day[2];
    gint outage_at[PS_SIM_MAX_SITES]; /* start of the 20-minute outage */
    gint flash_at[PS_SIM_MAX_SITES];
    guint backup_from_day;
    gint sampling_site, sampling_at;
    guint8 *site_missing[PS_SIM_MAX_SITES]; /* random missing buckets, per site */
    double only_size;
    double new_share_min, new_share_max; /* watched ports' background share of new sources */
    guint n_series;
    PsSimSeriesParams *series;
    GArray *injections; /* PsSimInjection, ordered by series then start */
    guint *first_injection; /* [series]: index into injections; [n_series] = total */
} PsSimDataset;

/* One series' buckets. */
typedef struct {
    guint n;
    PsSample *sample;   /* flags has PS_SAMPLE_MISSING for missing buckets */
    guint8 *cause;      /* PsSimCause per bucket */
    float *expected;    /* distinct sources expected before any event */
    float *known_mean;  /* distinct sources expected given every hard negative (outage and
                         * recovery, flash crowd, backup, sampling change) but no injection and
                         * no noise: what an oracle knows (runner.c run_oracle) */
    float *known_syn;   /* the same of SYN-only flows */
} PsSimSeries;

/* Draws a dataset. sites x ports_per_site series, days days, injections from scored_from_day;
 * only_size > 0 makes every injection that size (a probe of one size: more of them per run,
 * the same shapes, durations, placements and gaps); watched ports' background has a share of
 * sources new for a day drawn in [new_share_min, new_share_max]. */
PsSimDataset *ps_sim_dataset_new(guint64 seed, guint n_sites, guint ports_per_site, guint days,
                                 guint scored_from_day, double only_size, double new_share_min,
                                 double new_share_max);

/* The first bucket at which the injection is at its full size: its start, except for a ramp,
 * which gets there at the end of its rise. Delays are counted from here. */
guint ps_sim_injection_full(const PsSimInjection *injection);
void ps_sim_dataset_free(PsSimDataset *dataset);

/* Fills series (allocated by the caller with ps_sim_series_init) with series index's buckets. */
void ps_sim_series_init(PsSimSeries *series, guint n);
void ps_sim_series_clear(PsSimSeries *series);
void ps_sim_series_fill(const PsSimDataset *dataset, guint index, PsSimSeries *series);

/* Distinct sources per bucket expected at bucket i of series index without noise or events
 * (seasonality, drift, holiday and step included). */
double ps_sim_expected(const PsSimDataset *dataset, guint index, guint i);

/* Whether bucket i is on a weekend; gint64 bucket start of index i. */
gboolean ps_sim_weekend(guint i);
gint64 ps_sim_time(guint i);

const char *ps_sim_cause_name(PsSimCause cause);
const char *ps_sim_shape_name(PsSimShape shape);
const char *ps_sim_place_name(PsSimPlace place);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsSimDataset, ps_sim_dataset_free)
