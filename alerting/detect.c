#include "config.h"

#include <math.h>
#include <string.h>

#include "detect.h"

#define LEVEL_RISE_MAX 1.5 /* default of level_rise_max: see feed_level() */
#define LEVEL_HIT_MAX  1.0 /* default of level_hit_max: see teach_level() */

void
ps_detect_config_init(PsDetectConfig *config)
{
    static const double excess[PS_N_DETECT_METRICS] = {10, 50, 20, 100};
    static const double volume[PS_N_DETECT_METRICS] = {10, 20, 10, 50};

    memset(config, 0, sizeof(*config));
    config->z_min = 4;
    config->ratio_min = 2;
    /* 3 opened 11 false incidents a week (tuning seed) with the MAD alone as the recent
     * spread; with the tail quantile below, 3.5 costs nothing in false incidents and finds
     * 3x surges on watched ports sooner (tests/eval/README.md, session 8) */
    config->watched_z_min = 3.5;
    config->watched_ratio_min = 2;
    config->young_z_min = 6;
    config->young_ratio_min = 3;
    memcpy(config->excess_min, excess, sizeof(excess));
    memcpy(config->volume_min, volume, sizeof(volume));
    config->normal_ratio_min = 1.3;
    config->open_hits = 3;
    config->open_window = 5;
    config->watched_open_hits = 0; /* 2 of 2: subsumed by the summed score, and noisier */
    config->watched_open_window = 2;
    /* tuned by tests/eval: 5 opened 3-5 false incidents a week per 500 series, a window ratio
     * (geometric mean) of 2 instead of every bucket's 6-18 */
    config->watched_sum_z = 5.5;
    config->watched_sum_each_z = 2.5;
    config->watched_sum_ratio = 2;
    config->watched_sum_cap = 6;
    config->gap_settle = 15;
    config->recent_scale = 1;
    /* tuned by tests/eval (session 8): the MAD alone let a port's own heavy-tailed noise
     * (dips, moderate bumps, holidays) score 4-7 in the recent spread's units; the
     * 0.9-quantile cut false incidents from 1.67 to 0.33 a week on three held-out weeks, and
     * from 12.5 to 4.7 on the 3x probe */
    config->recent_scale_tail = 0.9;
    config->level_rise_max = LEVEL_RISE_MAX;
    config->level_hit_max = LEVEL_HIT_MAX;
    config->intensity_dests_ratio = 1.5;
    /* off: on the simulated weeks it found 3x surges sooner only as much as a lower
     * threshold would, at the same cost in false incidents (tests/eval/README.md, session 9);
     * real history may differ: [alerter] new_sources_route and --replay tell */
    config->new_sources = 0;
    config->novelty_z_min = 2.5;
    config->novelty_ratio_min = 1.5;
    config->jump_z = 8;
    config->jump_ratio = 10;
    config->cusum_cap = 6;
    /* tuned by tests/eval (held-out seeds): slack 1 / open 10 / ratio 1.3 opened ~350 false
     * incidents a week per 500 series on ordinary drift; these keep the slow path for real
     * slow scans at 2 a week */
    config->cusum_slack = 2;
    config->cusum_open = 20;
    config->cusum_ratio = 1.5;
    config->quiet_z = 2;
    config->quiet_ratio = 1.3;
    config->quiet_buckets = 10;
    config->cooldown_s = 1800;
    config->reminder_s = 3600;
    config->major_ratio = 5;
    config->major_z = 6;
    config->major_excess_sources = 500;
    config->critical_ratio = 20;
    config->level_min_buckets = 15;
    config->exclusion_s = 86400;
}

void
ps_series_state_init(PsSeriesState *state)
{
    memset(state, 0, sizeof(*state));
    state->since_gap = G_MAXUINT16; /* no gap seen */
}

static gboolean
excluded(const PsSeriesState *state, gint64 bucket)
{
    for (guint i = 0; i < PS_DETECT_EXCLUSIONS; i++) {
        if (state->excluded_to[i] > 0 && bucket >= state->excluded_from[i] &&
            bucket <= state->excluded_to[i])
            return TRUE;
    }
    return FALSE;
}

void
ps_detect_mark_history(const PsSeriesState *state, PsHistory *history, gint64 t, guint step)
{
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++) {
            gint64 bucket = t - (gint64)(d + 1) * 86400 + ((gint64)s - PS_BASELINE_WINDOW) * step;
            if (excluded(state, bucket))
                history->same_time[d][s].flags |= PS_SAMPLE_IN_INCIDENT;
        }
    }
    for (guint k = 0; k < PS_BASELINE_RECENT; k++) {
        if (excluded(state, t - (gint64)(k + 1) * step))
            history->recent[k].flags |= PS_SAMPLE_IN_INCIDENT;
    }
}

/* The level ring of a metric: new sources, a share of the sources, follow the sources' level
 * (PS_N_STATE_METRICS). */
static const double *
ring_of(const PsSeriesState *state, PsMetric metric)
{
    return state->level[metric < PS_N_STATE_METRICS ? metric : PS_METRIC_SOURCES];
}

/* Level factor of a metric: median recent x / baseline-median. A surge does not raise its
 * own baseline: hits and incident buckets teach it no higher than normal (teach_level). */
static double
level_of(const PsDetectConfig *config, const PsSeriesState *state, PsMetric metric)
{
    return ps_level_factor(ring_of(state, metric), MIN(state->n_level, PS_BASELINE_RECENT),
                           config->level_min_buckets);
}

/* Spread of the same ring around its median: the noise the level factor leaves. */
static double
recent_scale_of(const PsDetectConfig *config, const PsSeriesState *state, PsMetric metric)
{
    return ps_level_spread(ring_of(state, metric), MIN(state->n_level, PS_BASELINE_RECENT),
                           config->level_min_buckets, config->recent_scale_tail);
}

/* Whether a metric is above what is normal at this time of day, before the level factor: a
 * level learned low (a holiday, a quiet week) compares ordinary traffic with half of it, and
 * the morning after a holiday looked like a 2x surge on every busy port. */
static gboolean
above_normal(const PsDetectConfig *config, const PsEvaluation *evaluation, PsMetric metric)
{
    double c = PS_BASELINE_PSEUDO;

    return (evaluation->sample.value[metric] + c) / (evaluation->baseline[metric].median + c) >=
           config->normal_ratio_min;
}

/* Whether a metric's volume, excess and above-normal guards pass (its score and ratio against
 * the levelled baseline are not looked at). */
static gboolean
metric_counts(const PsDetectConfig *config, const PsEvaluation *evaluation, PsMetric metric)
{
    return evaluation->score[metric].excess >= config->excess_min[metric] &&
           evaluation->sample.value[metric] >= config->volume_min[metric] &&
           above_normal(config, evaluation, metric);
}

/* Score, ratio, excess and volume of one metric past their thresholds; z_min and ratio_min
 * give way to the stricter young ones while the baseline is young. */
static gboolean
metric_hit(const PsDetectConfig *config, const PsEvaluation *evaluation, PsMetric metric,
           double z_min, double ratio_min)
{
    const PsScore *score = &evaluation->score[metric];
    gboolean young = evaluation->baseline[metric].young;

    return score->z >= (young ? MAX(z_min, config->young_z_min) : z_min) &&
           score->ratio >= (young ? MAX(ratio_min, config->young_ratio_min) : ratio_min) &&
           metric_counts(config, evaluation, metric);
}

/* Whether the scan-intensity route's guards pass: SYN-only flows and destinations past their
 * volume, excess and above-normal guards, and destinations really up (intensity also rises
 * when sources fall). */
static gboolean
intensity_counts(const PsDetectConfig *config, const PsEvaluation *evaluation)
{
    return config->intensity_dests_ratio > 0 && !evaluation->intensity_baseline.young &&
           evaluation->score[PS_METRIC_DESTS].ratio >= config->intensity_dests_ratio &&
           metric_counts(config, evaluation, PS_METRIC_SYN) &&
           metric_counts(config, evaluation, PS_METRIC_DESTS);
}

/* Whether the new-sources route's guards pass: a count the collector vouches for, against a
 * grown-up baseline of it, in a scan-shaped bucket, with the sources past their volume,
 * excess and above-normal guards and more new ones than usual. */
static gboolean
new_sources_count(const PsDetectConfig *config, const PsEvaluation *evaluation)
{
    return config->new_sources && evaluation->scan_shaped &&
           !(evaluation->sample.flags & PS_SAMPLE_NO_NEW) &&
           !evaluation->baseline[PS_METRIC_NEW].young &&
           evaluation->novelty.z >= config->novelty_z_min &&
           evaluation->novelty.ratio >= config->novelty_ratio_min &&
           metric_counts(config, evaluation, PS_METRIC_SOURCES) &&
           above_normal(config, evaluation, PS_METRIC_NEW);
}

/* The port rule: distinct sources in a scan-shaped bucket, SYN-only flows and distinct
 * destinations together (a few sources scanning many new addresses barely move sources), or
 * destinations per source (one scanner: the counts' common noise cancels in the quotient, so
 * a 3x sweep on a quiet port stands out where each count alone scores 3). */
static gboolean
port_rule(const PsDetectConfig *config, const PsEvaluation *evaluation, double z_min,
          double ratio_min)
{
    return (metric_hit(config, evaluation, PS_METRIC_SOURCES, z_min, ratio_min) &&
            evaluation->scan_shaped) ||
           (metric_hit(config, evaluation, PS_METRIC_SYN, z_min, ratio_min) &&
            metric_hit(config, evaluation, PS_METRIC_DESTS, z_min, ratio_min)) ||
           (evaluation->intensity.z >= z_min && evaluation->intensity.ratio >= ratio_min &&
            intensity_counts(config, evaluation)) ||
           (evaluation->new_sources_z >= z_min &&
            evaluation->score[PS_METRIC_NEW].ratio >= ratio_min &&
            new_sources_count(config, evaluation));
}

/* The port rule as a number rather than a yes or no, so that several buckets of modest
 * scores can add up (see watched_sum_z). */
static void
port_evidence(const PsDetectConfig *config, PsEvaluation *evaluation)
{
    const PsScore *score = evaluation->score;

    evaluation->evidence = 0;
    evaluation->evidence_ratio = 1;
    if (evaluation->baseline[PS_METRIC_SOURCES].young)
        return; /* young baselines open only on the strict single-bucket thresholds */
    if (evaluation->scan_shaped && metric_counts(config, evaluation, PS_METRIC_SOURCES) &&
        score[PS_METRIC_SOURCES].z > evaluation->evidence) {
        evaluation->evidence = score[PS_METRIC_SOURCES].z;
        evaluation->evidence_ratio = score[PS_METRIC_SOURCES].ratio;
    }
    if (metric_counts(config, evaluation, PS_METRIC_SYN) &&
        metric_counts(config, evaluation, PS_METRIC_DESTS) &&
        MIN(score[PS_METRIC_SYN].z, score[PS_METRIC_DESTS].z) > evaluation->evidence) {
        evaluation->evidence = MIN(score[PS_METRIC_SYN].z, score[PS_METRIC_DESTS].z);
        evaluation->evidence_ratio = MIN(score[PS_METRIC_SYN].ratio, score[PS_METRIC_DESTS].ratio);
    }
    if (intensity_counts(config, evaluation) && evaluation->intensity.z > evaluation->evidence) {
        evaluation->evidence = evaluation->intensity.z;
        evaluation->evidence_ratio = evaluation->intensity.ratio;
    }
    if (new_sources_count(config, evaluation) && evaluation->new_sources_z > evaluation->evidence) {
        evaluation->evidence = evaluation->new_sources_z;
        evaluation->evidence_ratio = score[PS_METRIC_NEW].ratio;
    }
}

/* Destinations per source against their same-time baseline, z over the recent spread of
 * their quotient once the level rings know it. */
static void
score_intensity(const PsDetectConfig *config, const PsSeriesState *state, const PsHistory *history,
                PsEvaluation *evaluation)
{
    PsBaseline *baseline = &evaluation->intensity_baseline;
    guint n = MIN(state->n_level, PS_BASELINE_RECENT);
    double recent =
        ps_level_spread_quotient(state->level[PS_METRIC_DESTS], state->level[PS_METRIC_SOURCES], n,
                                 config->level_min_buckets, config->recent_scale_tail);

    ps_baseline_intensity(history, &evaluation->baseline[PS_METRIC_SOURCES],
                          &evaluation->baseline[PS_METRIC_DESTS], config->recent_scale ? recent : 0,
                          baseline);
    ps_score_intensity(&evaluation->sample, baseline, &evaluation->intensity);
}

#define NOVELTY_SHARE_BUCKETS 15 /* recent buckets the usual share of new sources is pooled over */
#define NOVELTY_MIN_BUCKETS   10
#define CHI2_1_MEDIAN         0.455 /* median of a chi-square with one degree of freedom */

static gboolean
novelty_usable(const PsSample *sample)
{
    return !(sample->flags &
             (PS_SAMPLE_MISSING | PS_SAMPLE_IN_INCIDENT | PS_SAMPLE_NO_NEW | PS_SAMPLE_DEGRADED));
}

/* The share of new sources among sources over the recent buckets t-5 .. t-19 (the first
 * buckets of a surge not yet open are not its own baseline); negative when too few. */
static double
recent_new_share(const PsHistory *history)
{
    double fresh = 0, sources = 0;
    guint n = 0;

    for (guint k = PS_BASELINE_RECENT_SKIP; k < PS_BASELINE_RECENT_SKIP + NOVELTY_SHARE_BUCKETS;
         k++) {
        if (!novelty_usable(&history->recent[k]))
            continue;
        fresh += history->recent[k].value[PS_METRIC_NEW];
        sources += history->recent[k].value[PS_METRIC_SOURCES];
        n++;
    }
    return n >= NOVELTY_MIN_BUCKETS && sources > 0 ? CLAMP(fresh / sources, 0.02, 0.98) : -1;
}

/* How much more the recent buckets' new sources strayed from that share than a binomial
 * would (at least 1): the share itself wanders as scanning campaigns come and go. */
static double
novelty_dispersion(const PsHistory *history, double share)
{
    double ratios[PS_BASELINE_RECENT];
    guint n = 0;

    for (guint k = PS_BASELINE_RECENT_SKIP; k < PS_BASELINE_RECENT; k++) {
        const PsSample *sample = &history->recent[k];
        double sources = sample->value[PS_METRIC_SOURCES];
        if (!novelty_usable(sample) || sources < 1)
            continue;
        double deviation = sample->value[PS_METRIC_NEW] - share * sources;
        ratios[n++] = deviation * deviation / (sources * share * (1 - share)) / CHI2_1_MEDIAN;
    }
    return n >= NOVELTY_MIN_BUCKETS ? MAX(ps_median(ratios, n), 1.0) : -1;
}

/* New sources against the share of them among this bucket's sources that the port had in the
 * last quarter of an hour: a binomial test, widened by how much more the recent buckets
 * strayed. More of the usual traffic (a busy hour, the port's own scanners coming back) leaves
 * it near 0; a wave of scanners the port has not seen moves it even where the sources' own
 * count is too noisy to tell. Given the sources it is independent of their score, so the two
 * add (new_sources_z). */
static void
score_novelty(const PsDetectConfig *config, const PsHistory *history, PsEvaluation *evaluation)
{
    double n = evaluation->sample.value[PS_METRIC_NEW];
    double s = evaluation->sample.value[PS_METRIC_SOURCES];
    double share, dispersion, expected;

    evaluation->novelty.ratio = 1;
    if (!config->new_sources || (evaluation->sample.flags & PS_SAMPLE_NO_NEW) || s < 1)
        return;
    share = recent_new_share(history);
    dispersion = share > 0 ? novelty_dispersion(history, share) : -1;
    if (dispersion < 0)
        return;
    expected = share * s;
    evaluation->novelty.z = (n - expected) / MAX(sqrt(s * share * (1 - share) * dispersion), 1.0);
    evaluation->novelty.ratio = (n + 1) / (expected + 1);
    evaluation->novelty.excess = n - expected;
    evaluation->new_sources_z =
        (evaluation->score[PS_METRIC_SOURCES].z + evaluation->novelty.z) / G_SQRT2;
}

void
ps_detect_evaluate(const PsDetectConfig *config, const PsSeriesState *state,
                   const PsHistory *history, const PsSample *x, PsEvaluation *evaluation)
{
    const PsScore *sources, *syn, *dests;
    double flows, bytes_ratio;

    memset(evaluation, 0, sizeof(*evaluation));
    evaluation->sample = *x;
    for (guint m = 0; m < PS_N_METRICS; m++) {
        if (!ps_metric_known(x, m))
            continue; /* most series: the collector counts new sources of watched ones only */
        ps_baseline_compute(history, m, level_of(config, state, m), &evaluation->baseline[m]);
        if (config->recent_scale)
            ps_baseline_use_recent_scale(&evaluation->baseline[m],
                                         recent_scale_of(config, state, m));
        ps_score(x->value[m], &evaluation->baseline[m], &evaluation->score[m]);
    }
    score_intensity(config, state, history, evaluation);
    score_novelty(config, history, evaluation);
    for (guint m = 0; m < PS_N_DETECT_METRICS; m++)
        evaluation->hit[m] = metric_hit(config, evaluation, m, config->z_min, config->ratio_min);
    sources = &evaluation->score[PS_METRIC_SOURCES];
    syn = &evaluation->score[PS_METRIC_SYN];
    dests = &evaluation->score[PS_METRIC_DESTS];

    flows = x->value[PS_METRIC_FLOWS];
    evaluation->syn_share = flows > 0 ? x->value[PS_METRIC_SYN] / flows : 0;
    bytes_ratio = evaluation->score[PS_METRIC_BYTES].ratio;
    /* Scan-shaped: mostly unanswered SYNs, SYNs rising faster than flows, or destinations
     * rising faster than bytes. A flash crowd (sources up, connections completing, the same
     * servers) is not, nor is a backup (bytes up, one source). */
    evaluation->scan_shaped = evaluation->syn_share >= 0.5 ||
                              syn->ratio >= 1.5 * evaluation->score[PS_METRIC_FLOWS].ratio ||
                              dests->ratio > 1.5 * bytes_ratio;
    evaluation->port_hit = port_rule(config, evaluation, config->z_min, config->ratio_min);
    evaluation->watched_hit =
        evaluation->port_hit ||
        port_rule(config, evaluation, config->watched_z_min, config->watched_ratio_min);

    /* the driving score: sources, or a scan that shows in SYNs and destinations together */
    if (sources->z >= MIN(syn->z, dests->z)) {
        evaluation->z = sources->z;
        evaluation->ratio = sources->ratio;
    } else {
        evaluation->z = MIN(syn->z, dests->z);
        evaluation->ratio = MIN(syn->ratio, dests->ratio);
    }
    port_evidence(config, evaluation);
    evaluation->jump = evaluation->port_hit && evaluation->z >= config->jump_z &&
                       evaluation->ratio >= config->jump_ratio;
    evaluation->quiet = evaluation->z < config->quiet_z || evaluation->ratio < config->quiet_ratio;
}

static PsSeverity
severity_of(const PsDetectConfig *config, const PsEvaluation *evaluation, gboolean watched,
            gboolean slow)
{
    PsSeverity severity = PS_SEVERITY_WARNING;

    if (!slow && ((evaluation->ratio >= config->major_ratio && evaluation->z >= config->major_z) ||
                  evaluation->score[PS_METRIC_SOURCES].excess >= config->major_excess_sources))
        severity = PS_SEVERITY_MAJOR;
    if (!slow && evaluation->ratio >= config->critical_ratio)
        severity = PS_SEVERITY_CRITICAL;
    if (watched && severity < PS_SEVERITY_CRITICAL)
        severity++;
    return severity;
}

/* Teaches the level ring one bucket. A ratio above the level in use counts at most
 * rise_max times it (0: no limit): the level follows drift and steps up within an hour or two, yet
 * a surge that ramps up over an hour can no longer lift its own baseline (with the ring fed as is,
 * a 3x ramp over 60 minutes met a level of 2 and showed as 1.5x). Falls are taken at once
 * (holidays, outages of exporters, sampling changes). */
static void
feed_level(PsSeriesState *state, const PsEvaluation *evaluation, double rise_max)
{
    for (guint m = 0; m < PS_N_STATE_METRICS; m++) {
        const PsBaseline *baseline = &evaluation->baseline[m];
        double b = baseline->median;
        double level = b > 0 ? baseline->expected / b : 1.0;
        double ratio =
            (evaluation->sample.value[m] + PS_BASELINE_PSEUDO) / (b + PS_BASELINE_PSEUDO);
        if (rise_max > 0)
            ratio = MIN(ratio, rise_max * MAX(level, 1.0));
        state->level[m][state->level_next] = ratio;
    }
    state->level_next = (state->level_next + 1) % PS_BASELINE_RECENT;
    state->n_level = MIN(state->n_level + 1, (guint)PS_BASELINE_RECENT);
}

static void
track_incident(PsSeriesState *state, const PsEvaluation *evaluation)
{
    state->buckets++;
    state->peak_ratio = MAX(state->peak_ratio, evaluation->ratio);
    for (guint m = 0; m < PS_N_STATE_METRICS; m++) {
        state->peak[m] = MAX(state->peak[m], evaluation->sample.value[m]);
        state->total[m] += evaluation->sample.value[m];
    }
    state->young |= evaluation->baseline[PS_METRIC_SOURCES].young;
    state->degraded |= (evaluation->sample.flags & PS_SAMPLE_DEGRADED) != 0;
    state->scan_shaped |= evaluation->scan_shaped && evaluation->port_hit;
}

static void
fill_event(const PsSeriesState *state, const PsEvaluation *evaluation, PsEventKind kind,
           gint64 bucket, PsAlertEvent *event)
{
    memset(event, 0, sizeof(*event));
    event->kind = kind;
    event->severity = state->severity;
    event->bucket = bucket;
    event->opened_at = state->opened_at;
    event->opened_by = state->opened_by;
    event->evaluation = *evaluation;
    event->buckets = state->buckets;
    event->peak_ratio = state->peak_ratio;
    memcpy(event->peak, state->peak, sizeof(event->peak));
    memcpy(event->total, state->total, sizeof(event->total));
    event->young = state->young;
    event->degraded = state->degraded;
    event->scan_shaped = state->scan_shaped;
}

/* Whether the bucket is a hit for this series: watched ports have their own thresholds. */
static gboolean
is_hit(const PsEvaluation *evaluation, gboolean watched)
{
    return watched ? evaluation->watched_hit : evaluation->port_hit;
}

static guint
recent_hits(const PsSeriesState *state, guint window)
{
    return __builtin_popcount(state->hits & ((1u << window) - 1));
}

/* Watched ports: the last 2 or 3 buckets all above their baselines and their scores together
 * far above: a 3x surge at 20-50 sources a minute, where the noise is 0.3 on the log scale,
 * scores about 3.5 a bucket and rarely passes a single-bucket threshold of 4 twice in a row,
 * yet three such buckets in a row almost never happen by chance. */
static gboolean
evidence_adds_up(const PsDetectConfig *config, const PsSeriesState *state)
{
    double sum = 0;

    for (guint w = 1; w <= PS_DETECT_EVIDENCE; w++) {
        guint i = w - 1;
        /* every bucket of the window past the ratio: a busy port's long 1.7x excursion
         * scores high, but is not the surge this path is for */
        if (state->evidence[i] < config->watched_sum_each_z ||
            state->evidence_ratio[i] < config->watched_sum_ratio)
            return FALSE;
        sum += MIN(state->evidence[i], config->watched_sum_cap);
        if (w >= 2 && sum >= config->watched_sum_z * sqrt(w))
            return TRUE;
    }
    return FALSE;
}

static void
remember_evidence(PsSeriesState *state, const PsEvaluation *evaluation)
{
    gboolean missing = (evaluation->sample.flags & PS_SAMPLE_MISSING) != 0;

    memmove(&state->evidence[1], &state->evidence[0],
            (PS_DETECT_EVIDENCE - 1) * sizeof(state->evidence[0]));
    memmove(&state->evidence_ratio[1], &state->evidence_ratio[0],
            (PS_DETECT_EVIDENCE - 1) * sizeof(state->evidence_ratio[0]));
    state->evidence[0] = missing ? 0 : evaluation->evidence;
    state->evidence_ratio[0] = missing ? 1 : evaluation->evidence_ratio;
    state->since_gap = missing ? 0 : MIN(state->since_gap + 1, G_MAXUINT16);
}

/* Which path, if any, opens an incident at this bucket. */
static PsOpenedBy
opening(const PsDetectConfig *config, const PsSeriesState *state, const PsEvaluation *evaluation,
        gboolean watched)
{
    if (evaluation->jump)
        return PS_OPENED_BY_JUMP;
    /* after a collector outage exporters flush what they cached: the first buckets are
     * inflated for every port at once, and only a jump is clear enough to open on */
    if (state->since_gap <= config->gap_settle)
        return 0;
    if (is_hit(evaluation, watched) && recent_hits(state, config->open_window) >= config->open_hits)
        return PS_OPENED_BY_HITS;
    /* watched ports trade a little false-alarm rate for speed: a burst (2 buckets on, 2 off)
     * never gets 3 hits in 5 before its fifth bucket */
    if (watched && config->watched_open_hits > 0 && evaluation->watched_hit &&
        recent_hits(state, config->watched_open_window) >= config->watched_open_hits)
        return PS_OPENED_BY_HITS;
    if (watched && config->watched_sum_z > 0 && evidence_adds_up(config, state))
        return PS_OPENED_BY_HITS;
    if (state->cusum >= config->cusum_open && evaluation->ratio >= config->cusum_ratio &&
        evaluation->scan_shaped &&
        (evaluation->sample.value[PS_METRIC_SOURCES] >= config->volume_min[PS_METRIC_SOURCES] ||
         evaluation->sample.value[PS_METRIC_SYN] >= config->volume_min[PS_METRIC_SYN]) &&
        (above_normal(config, evaluation, PS_METRIC_SOURCES) ||
         above_normal(config, evaluation, PS_METRIC_SYN)))
        return PS_OPENED_BY_CUSUM;
    return 0;
}

static void
start_exclusion(PsSeriesState *state, gint64 bucket)
{
    guint oldest = 0;

    for (guint i = 1; i < PS_DETECT_EXCLUSIONS; i++) {
        if (state->excluded_from[i] < state->excluded_from[oldest])
            oldest = i;
    }
    state->excluded_from[oldest] = bucket;
    state->excluded_to[oldest] = bucket;
}

static void
extend_exclusion(const PsDetectConfig *config, PsSeriesState *state, gint64 bucket)
{
    for (guint i = 0; i < PS_DETECT_EXCLUSIONS; i++) {
        if (state->excluded_from[i] == state->opened_at &&
            bucket - state->opened_at < config->exclusion_s)
            state->excluded_to[i] = bucket;
    }
}

static PsEventKind
open_incident(const PsDetectConfig *config, PsSeriesState *state, const PsEvaluation *evaluation,
              PsOpenedBy by, gint64 bucket, gboolean watched, PsAlertEvent *event)
{
    gboolean reopened = state->phase == PS_PHASE_COOLDOWN;

    if (!reopened) {
        state->broad_scan_at = 0;
        state->opened_at = bucket;
        state->buckets = 0;
        state->peak_ratio = 0;
        memset(state->peak, 0, sizeof(state->peak));
        memset(state->total, 0, sizeof(state->total));
        state->young = state->degraded = state->scan_shaped = FALSE;
        start_exclusion(state, bucket);
    }
    state->phase = PS_PHASE_OPEN;
    state->opened_by = by;
    state->quiet = 0;
    /* a CUSUM opening of a bucket that is a hit anyway is sized like any hit */
    state->severity =
        severity_of(config, evaluation, watched, by == PS_OPENED_BY_CUSUM && !evaluation->port_hit);
    track_incident(state, evaluation);
    state->last_event_at = bucket;
    fill_event(state, evaluation, PS_EVENT_OPEN, bucket, event);
    event->reopened = reopened;
    return PS_EVENT_OPEN;
}

static PsEventKind
step_open(const PsDetectConfig *config, PsSeriesState *state, const PsEvaluation *evaluation,
          gint64 bucket, gboolean watched, PsAlertEvent *event)
{
    PsSeverity severity;

    track_incident(state, evaluation);
    extend_exclusion(config, state, bucket);
    state->quiet = evaluation->quiet ? state->quiet + 1 : 0;
    if (state->quiet >= config->quiet_buckets) {
        state->phase = PS_PHASE_COOLDOWN;
        state->resolved_at = bucket;
        state->cusum = 0;
        fill_event(state, evaluation, PS_EVENT_RESOLVE, bucket, event);
        return PS_EVENT_RESOLVE;
    }
    severity =
        evaluation->port_hit ? severity_of(config, evaluation, watched, FALSE) : PS_SEVERITY_NONE;
    if (severity > state->severity) {
        state->severity = severity;
        state->last_event_at = bucket;
        fill_event(state, evaluation, PS_EVENT_ESCALATE, bucket, event);
        return PS_EVENT_ESCALATE;
    }
    if (config->reminder_s > 0 && bucket - state->last_event_at >= config->reminder_s) {
        state->last_event_at = bucket;
        fill_event(state, evaluation, PS_EVENT_REMIND, bucket, event);
        return PS_EVENT_REMIND;
    }
    return PS_EVENT_NONE;
}

/* The level factor the bucket was scored with (distinct sources). */
static double
level_in_use(const PsEvaluation *evaluation)
{
    const PsBaseline *baseline = &evaluation->baseline[PS_METRIC_SOURCES];

    return baseline->median > 0 ? baseline->expected / baseline->median : 1.0;
}

/* Which buckets teach the level, and how much. Normal ones at most level_rise_max times the
 * level in use. Hits and the buckets of an open incident only while the level is below normal,
 * and then at most up to normal (level_hit_max 1): they bring a level learned low (a holiday,
 * exporters down) back, but never lift a baseline above normal, so a surge still cannot teach
 * itself. When they taught nothing, ordinary traffic after a holiday met a level learned on
 * the holiday, looked like a 2x surge and kept its incident open for days. At a level of 1 or
 * more they teach nothing, as before: capped at the level, they only pushed out what the
 * first buckets of a lasting change had taught, and kept false incidents open longer (the
 * 3x probe of tests/eval: 17 false a week instead of 14). Missing buckets and the inflated
 * ones after a gap teach nothing. */
static void
teach_level_within(PsSeriesState *state, const PsEvaluation *evaluation, gboolean hit_or_open,
                   double rise_max, double hit_max)
{
    if (evaluation->sample.flags & PS_SAMPLE_MISSING)
        return;
    if (!hit_or_open)
        feed_level(state, evaluation, rise_max);
    else if (hit_max > 0 && level_in_use(evaluation) < 1)
        feed_level(state, evaluation, hit_max);
}

static void
teach_level(const PsDetectConfig *config, PsSeriesState *state, const PsEvaluation *evaluation,
            gboolean hit_or_open)
{
    if (state->since_gap > config->gap_settle)
        teach_level_within(state, evaluation, hit_or_open, config->level_rise_max,
                           config->level_hit_max);
}

PsEventKind
ps_detect_step(const PsDetectConfig *config, PsSeriesState *state, const PsEvaluation *evaluation,
               gint64 bucket, guint step, gboolean watched, PsAlertEvent *event)
{
    PsEventKind kind = PS_EVENT_NONE;
    PsOpenedBy by;

    (void)step;
    memset(event, 0, sizeof(*event));
    state->hits = state->hits << 1 | (is_hit(evaluation, watched) ? 1 : 0);
    remember_evidence(state, evaluation);
    state->cusum =
        MAX(0, state->cusum + MIN(evaluation->z, config->cusum_cap) - config->cusum_slack);
    if (state->phase == PS_PHASE_OPEN) {
        kind = step_open(config, state, evaluation, bucket, watched, event);
        teach_level(config, state, evaluation, TRUE);
        return kind;
    }
    if (state->phase == PS_PHASE_COOLDOWN && bucket - state->resolved_at >= config->cooldown_s)
        state->phase = PS_PHASE_IDLE;
    by = opening(config, state, evaluation, watched);
    if (by != 0)
        kind = open_incident(config, state, evaluation, by, bucket, watched, event);
    teach_level(config, state, evaluation, by != 0 || is_hit(evaluation, watched));
    return kind;
}

void
ps_detect_learn_level(PsSeriesState *state, const PsEvaluation *evaluation)
{
    /* no config here: the default limits */
    teach_level_within(state, evaluation, evaluation->port_hit, LEVEL_RISE_MAX, LEVEL_HIT_MAX);
}

const char *
ps_severity_name(PsSeverity severity)
{
    static const char *names[] = {"none", "warning", "major", "critical"};

    return severity <= PS_SEVERITY_CRITICAL ? names[severity] : "?";
}

const char *
ps_event_kind_name(PsEventKind kind)
{
    static const char *names[] = {"none", "open", "escalate", "remind", "resolve"};

    return kind <= PS_EVENT_RESOLVE ? names[kind] : "?";
}
