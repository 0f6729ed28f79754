/* Is this bucket a surge for this series, and what does that do to its incident?
 *
 * ps_detect_evaluate scores a bucket against the baselines (baseline.h) of every metric and
 * decides whether it is a hit: score, ratio and absolute excess all past their thresholds and
 * a minimum volume met, for distinct sources, or for SYN-only flows and distinct destinations
 * together (a scan touches many hosts with unanswered SYNs). ps_detect_step runs the incident
 * life cycle: open on a few hits in a short window, at once on a huge single-bucket jump, or
 * through a CUSUM for modest surges lasting hours; escalate, remind, resolve after a run of
 * quiet buckets, and reopen the same incident when it re-triggers during the cooldown.
 *
 * Pure: no I/O, no clock (the bucket start is the time). The alerter, its --replay, the CLI and
 * the evaluation program all run these same functions. */
#pragma once

#include "baseline.h"

typedef enum {
    PS_SEVERITY_NONE,
    PS_SEVERITY_WARNING,
    PS_SEVERITY_MAJOR,
    PS_SEVERITY_CRITICAL,
} PsSeverity;

typedef enum {
    PS_EVENT_NONE,
    PS_EVENT_OPEN,
    PS_EVENT_ESCALATE,
    PS_EVENT_REMIND,
    PS_EVENT_RESOLVE,
} PsEventKind;

typedef enum {
    PS_PHASE_IDLE,
    PS_PHASE_OPEN,
    PS_PHASE_COOLDOWN, /* resolved recently: a new surge reopens the same incident */
} PsPhase;

typedef enum {
    PS_OPENED_BY_HITS = 1, /* open_hits of the last open_window buckets */
    PS_OPENED_BY_JUMP,     /* one huge bucket */
    PS_OPENED_BY_CUSUM,    /* a modest surge that lasted */
} PsOpenedBy;

typedef struct {
    double z_min;                           /* 4 */
    double ratio_min;                       /* 2 */
    double watched_z_min;                   /* 3.5: watched ports hit at this score ... */
    double watched_ratio_min;               /* ... and ratio 2 (the same guards) */
    double young_z_min;                     /* 6: stricter while the baseline is young */
    double young_ratio_min;                 /* 3 */
    double excess_min[PS_N_DETECT_METRICS]; /* sources 10, syn 50, dests 20, flows 100 */
    double volume_min[PS_N_DETECT_METRICS]; /* sources 10, syn 20, dests 10, flows 50 */
    double normal_ratio_min;                /* 1.3: and at least this times the same-time
                                             * median before the level factor (0: off) */
    guint open_hits;                        /* 3 ... */
    guint open_window;                      /* ... of the last 5 buckets */
    guint watched_open_hits;                /* 0: off; else watched ports also open on this
                                             * many hits ... */
    guint watched_open_window;              /* ... of the last 2 buckets, on watched ports */
    double watched_sum_z;                   /* 5.5 (0: off): watched ports also open when the
                                             * port evidence of the last 2 or 3 buckets sums
                                             * to this times sqrt(buckets) ... */
    double watched_sum_each_z;              /* ... every one of them at least 2.5 ... */
    double watched_sum_ratio;               /* ... and a ratio of 2 to its baseline */
    double watched_sum_cap;                 /* 6: one bucket counts at most this much */
    guint gap_settle;                       /* 15: buckets after a missing one during which
                                             * only a jump opens (exporters flush their caches
                                             * after a collector outage) */
    guint recent_scale;                     /* 1: z divides by the recent residual spread
                                             * (ps_level_spread) once the level is known;
                                             * 0: by the candidates' spread */
    double recent_scale_tail;               /* 0.9; 0: that spread is 1.4826 x MAD; in (0.5, 1):
                                             * at least this quantile of the deviations over
                                             * the normal's (heavy tails) */
    double jump_z;                          /* 8 */
    double jump_ratio;                      /* 10 */
    double cusum_cap;                       /* 6: z counted at most this much per bucket */
    double cusum_slack;                     /* 2 */
    double cusum_open;                      /* 20 */
    double cusum_ratio;                     /* 1.5 */
    double quiet_z;                         /* 2 */
    double quiet_ratio;                     /* 1.3 */
    guint quiet_buckets;                    /* 10 */
    gint64 cooldown_s;                      /* 1800 */
    gint64 reminder_s;                      /* 3600; 0: no reminders */
    double major_ratio;                     /* 5 (with z >= major_z) */
    double major_z;                         /* 6 */
    double major_excess_sources;            /* 500 */
    double critical_ratio;                  /* 20 */
    guint level_min_buckets;                /* 15: level factor needs this many recent ratios */
    double level_hit_max;                   /* 1: hits and the buckets of an open incident
                                             * teach the level at most this times the level in
                                             * use or normal, whichever is higher (0: they do
                                             * not teach) */
    double level_rise_max;                  /* 1.5: a bucket teaches the level at most this
                                             * times the level in use (0: no limit) */
    double intensity_dests_ratio;           /* 1.5 (0: off): the scan-intensity route (one
                                             * scanner sweeping: destinations per source up
                                             * past z_min and ratio_min) also needs the
                                             * destinations this far above their baseline */
    guint new_sources;                      /* 0 (1: on): the new-sources route (a scan-shaped
                                             * bucket whose sources rose and are newer than
                                             * usual: the sources' z and the novelty's together
                                             * past z_min, new sources past ratio_min, with the
                                             * sources' volume and excess guards) ... */
    double novelty_z_min;                   /* ... the novelty alone past 2.5 ... */
    double novelty_ratio_min;               /* ... and 1.5 times the new sources the recent
                                             * share predicts */
    gint64 exclusion_s;                     /* 86400: incident buckets kept out of baselines */
} PsDetectConfig;

#define PS_DETECT_EXCLUSIONS 4
#define PS_DETECT_EVIDENCE   3 /* buckets a summed score looks back over */

/* Everything known about one series between buckets. Small, and kept in Redis by state.c. */
typedef struct {
    PsPhase phase;
    PsSeverity severity;
    PsOpenedBy opened_by;
    gint64 opened_at;     /* bucket start of the first bucket of the incident */
    gint64 last_event_at; /* bucket of the last message sent (for reminders) */
    gint64 resolved_at;
    guint32 hits; /* bit i: bucket t-i was a hit */
    /* port evidence and its ratio of bucket t-i, for the watched ports' summed score */
    double evidence[PS_DETECT_EVIDENCE];
    double evidence_ratio[PS_DETECT_EVIDENCE];
    guint since_gap; /* buckets since the last missing one (saturates) */
    double cusum;
    guint quiet;
    guint buckets; /* buckets of the open incident */
    double peak_ratio;
    double peak[PS_N_STATE_METRICS];
    double total[PS_N_STATE_METRICS];
    gboolean young;    /* some bucket of the incident had a young baseline */
    gboolean degraded; /* some bucket rested on degraded data */
    gboolean scan_shaped;
    /* recent x / baseline-median ratios per metric, for the level factor (ring) */
    double level[PS_N_STATE_METRICS][PS_BASELINE_RECENT];
    guint n_level;
    guint level_next;
    /* incident intervals kept out of baselines */
    gint64 excluded_from[PS_DETECT_EXCLUSIONS];
    gint64 excluded_to[PS_DETECT_EXCLUSIONS];
    /* part of a broad scan (many ports opening at once from the same sources): its events
     * are reported once for all ports, by the alerter */
    gint64 broad_scan_at;
} PsSeriesState;

/* One bucket scored. */
typedef struct {
    PsSample sample;
    PsBaseline baseline[PS_N_METRICS];
    PsScore score[PS_N_METRICS];
    gboolean hit[PS_N_DETECT_METRICS];
    gboolean port_hit;
    gboolean watched_hit; /* port_hit, or a hit by the watched-port thresholds */
    gboolean quiet;
    gboolean jump;
    double z; /* the driving score: sources, or the weaker of syn and dests */
    /* the port rule as a number: z of its strongest route whose volume and excess guards
     * pass (sources when scan-shaped, the weaker of syn and dests, or the scan intensity),
     * and that route's ratio; 0 and 1 when none passes or the baseline is young */
    double evidence;
    double evidence_ratio;
    double ratio;
    double syn_share;
    gboolean scan_shaped;
    /* destinations per source against their own baseline (not scored while young) */
    PsBaseline intensity_baseline;
    PsScore intensity;
    /* new sources beyond the port's usual share of new ones among this bucket's sources:
     * z = (new - share x sources) / its noise, ratio = new / (share x sources) (0 and 1 when
     * not counted or young). Given the sources, it does not move when more of the usual
     * sources come, only when they are newer than usual. */
    PsScore novelty;
    double new_sources_z; /* the sources' z and the novelty's together (Stouffer) */
} PsEvaluation;

typedef struct {
    PsEventKind kind;
    PsSeverity severity;
    gint64 bucket;
    gint64 opened_at;
    PsOpenedBy opened_by;
    PsEvaluation evaluation; /* the bucket that caused the event */
    guint buckets;
    double peak_ratio;
    double peak[PS_N_STATE_METRICS];
    double total[PS_N_STATE_METRICS];
    gboolean young;
    gboolean degraded;
    gboolean scan_shaped;
    gboolean reopened; /* re-triggered during the cooldown: same incident */
} PsAlertEvent;

void ps_detect_config_init(PsDetectConfig *config);

/* Marks the samples of history that fall into excluded incident intervals. t is the bucket
 * the history surrounds, step its length. */
void ps_detect_mark_history(const PsSeriesState *state, PsHistory *history, gint64 t, guint step);

/* Scores sample x (bucket t) against history. */
void ps_detect_evaluate(const PsDetectConfig *config, const PsSeriesState *state,
                        const PsHistory *history, const PsSample *x, PsEvaluation *evaluation);

/* Advances the series' incident by one bucket; fills event and returns its kind (NONE when
 * nothing is to be said). watched ports rank one severity higher. */
PsEventKind ps_detect_step(const PsDetectConfig *config, PsSeriesState *state,
                           const PsEvaluation *evaluation, gint64 bucket, guint step,
                           gboolean watched, PsAlertEvent *event);

/* Feeds the level factor from a bucket without running the incident life cycle: how the
 * alerter warms up after a start, from the buckets it did not see. */
void ps_detect_learn_level(PsSeriesState *state, const PsEvaluation *evaluation);

void ps_series_state_init(PsSeriesState *state);

const char *ps_severity_name(PsSeverity severity);
const char *ps_event_kind_name(PsEventKind kind);
