/* Tallies over one or more scored datasets (a seed set) and the tables the evaluation prints. */
#pragma once

#include "runner.h"

#define PS_REPORT_MAX_RUNS 16

/* The datasets of one seed set and what every method did on them. */
typedef struct {
    guint n;
    PsSimDataset *dataset[PS_REPORT_MAX_RUNS];
    PsRunResult *result[PS_REPORT_MAX_RUNS];
} PsReportPool;

/* Which injections to count: 0 / -1 mean any. */
typedef struct {
    double size;
    guint minutes;
    gint watched;
    double level_min, level_max;
    gint shape, concentrated, place;
} PsReportFilter;

typedef struct {
    guint total, found, within3, masked;
    GArray *delays; /* gint, of the found ones */
} PsReportTally;

void ps_report_filter_any(PsReportFilter *filter);
void ps_report_tally(const PsReportPool *pool, guint method, const PsReportFilter *filter,
                     PsReportTally *tally);
void ps_report_tally_clear(PsReportTally *tally);
double ps_report_false_rate(const PsReportPool *pool, guint method);
/* Delay percentile (0..1) of the found injections, in buckets; NAN when none. */
double ps_report_delay_quantile(const PsReportTally *tally, double q);

/* Comparison methods matched to a detector: for each family, the smallest k whose false rate on
 * the tuning pool is at most the detector's. */
typedef struct {
    guint fixed;     /* method index */
    guint ewma;      /* method index, the better alpha on the tuning pool */
    guint oracle;    /* method index: the bound, at the same false rate */
    guint oracle_at_target; /* the bound at the target, 1 false incident a week */
} PsReportMatch;

void ps_report_match(const PsRunConfig *config, const PsReportPool *tune, guint detector,
                     PsReportMatch *match);

const char *ps_report_method_name(const PsRunConfig *config, guint method, char *buffer,
                                  gsize size);

void ps_report_summary(const PsRunConfig *config, const PsReportPool *pool, const guint *methods,
                       guint n_methods, const PsReportPool *tune);
void ps_report_grid(const PsRunConfig *config, const PsReportPool *pool, guint method,
                    gint watched);
void ps_report_causes(const PsRunConfig *config, const PsReportPool *pool, const guint *methods,
                      guint n_methods);
void ps_report_misses(const PsReportPool *pool, guint method, double size);
void ps_report_false_list(const PsRunConfig *config, const PsReportPool *pool, guint detector,
                          guint limit);
