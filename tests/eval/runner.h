/* Runs every method on every series of a dataset and scores what they opened.
 *
 * Methods: detector configurations (baseline.c + detect.c exactly as the alerter calls them,
 * with histories built from the simulated past as history.c builds them from Redis), a fixed
 * threshold (x > k x mean of the previous 7 days) and a plain EWMA z-score (z >= k), each of
 * the two over a range of k. They share the port rule (sources, or SYN-only flows and
 * destinations together), and the comparisons get the detector's life cycle: open on 3 hits in
 * 5 buckets, resolve after 10 buckets without a hit, a re-trigger within 30 minutes is the same
 * incident. Last, a reference that is no method, over a range of its threshold h: an oracle
 * told the simulated mean of the sources (run_oracle), what a detector could find at best; it
 * opens on its first hit.
 *
 * Scoring: an injection is found when an incident opens (or reopens) on its series between its
 * first bucket and PS_SIM_GRACE buckets after its last; delay is the number of surge buckets
 * seen when it opened (1: opened on the first). Any other new incident in the scored days is
 * false, attributed to the hard negative whose window it opened in. */
#pragma once

#include "detect.h"
#include "sim.h"

#define PS_RUN_MAX_DETECTORS 4
#define PS_RUN_FIXED_K       40
#define PS_RUN_EWMA_ALPHAS   2
#define PS_RUN_EWMA_K        40
#define PS_RUN_ORACLE_K      40
#define PS_RUN_DELAY_MISSED  (-1)
#define PS_RUN_DELAY_MASKED  (-2) /* an incident was already open when it started */

typedef struct {
    const char *name;
    PsDetectConfig config;
} PsRunDetector;

typedef struct {
    guint n_detectors;
    PsRunDetector detector[PS_RUN_MAX_DETECTORS];
    double fixed_k[PS_RUN_FIXED_K];
    double ewma_alpha[PS_RUN_EWMA_ALPHAS];
    double ewma_k[PS_RUN_EWMA_K];
    double oracle_h[PS_RUN_ORACLE_K]; /* CUSUM thresholds of the oracle (a bound, not a method) */
    guint warmup; /* buckets evaluated before the scored days, for state */
    guint threads;
    double trace_size; /* > 0: print the buckets of missed or late watched injections of this
                        * size, as the last detector scored them (diagnosis) */
    gint trace_series; /* >= 0: print the buckets of this series from trace_from on, as the
                        * last detector scored them (a false incident's diagnosis) */
    guint trace_from;
} PsRunConfig;

/* A false incident of a detector, for diagnosis. */
typedef struct {
    guint detector;
    guint series;
    guint bucket;
    PsSimCause cause;
    PsOpenedBy opened_by;
    double z, ratio;
    guint buckets; /* how long it stayed open (to resolution or the end) */
} PsRunFalse;

typedef struct {
    guint n_methods; /* detectors, then fixed k, then alpha x ewma k, then oracle h */
    guint n_injections;
    gint *delay;           /* [method * n_injections + injection] */
    guint *false_by_cause; /* [method * PS_SIM_N_CAUSES + cause] */
    guint64 *open_buckets; /* [method]: buckets spent in incidents (scored days) */
    GArray *false_incidents; /* PsRunFalse of the detectors */
    double weeks;            /* scored weeks */
    guint n_series;
} PsRunResult;

void ps_run_config_init(PsRunConfig *config);

guint ps_run_method_fixed(const PsRunConfig *config, guint k);
guint ps_run_method_ewma(const PsRunConfig *config, guint alpha, guint k);
guint ps_run_method_oracle(const PsRunConfig *config, guint k);

/* What the first detector saw at one bucket of one series, kept for the CPU benchmark: the
 * history as built (before marking), the sample and the series state before the bucket. */
typedef struct {
    PsHistory history;
    PsSample sample;
    PsSeriesState state;
    gint64 bucket;
    gboolean watched;
} PsRunSnapshot;

/* Runs every method on every series of dataset, on config->threads threads. When snapshots is
 * not NULL, n_snapshots of them are taken, spread evenly over series and scored buckets. Free
 * with ps_run_result_free(). */
PsRunResult *ps_run_dataset(const PsRunConfig *config, const PsSimDataset *dataset,
                            PsRunSnapshot *snapshots, guint n_snapshots);
void ps_run_result_free(PsRunResult *result);

/* False incidents per week per 500 series of a method (all causes). */
double ps_run_false_rate(const PsRunResult *result, guint method);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsRunResult, ps_run_result_free)
