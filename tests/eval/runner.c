#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runner.h"

#define WEEK_BUCKETS  (7 * PS_SIM_DAY)
#define OPEN_HITS     3 /* the comparisons' life cycle, as the detector's defaults */
#define OPEN_WINDOW   5
#define QUIET_BUCKETS 10
#define COOLDOWN      30
#define EWMA_SD_FLOOR 1.0 /* counts: a series that never moved must not divide by zero */

typedef enum { EVENT_NEW, EVENT_REOPEN, EVENT_CLOSE } EventKind;

typedef struct {
    guint bucket;
    EventKind kind;
    PsOpenedBy opened_by;
    float z, ratio;
} Event;

/* The comparisons' incident life cycle. */
typedef struct {
    guint32 hits;
    gboolean open;
    guint quiet;
    gint resolved_at;
    guint open_hits; /* hits in OPEN_WINDOW buckets that open an incident */
} Machine;

typedef struct {
    const PsRunConfig *config;
    const PsSimDataset *dataset;
    PsRunResult *result;
    PsRunSnapshot *snapshots;
    guint n_snapshots;
    guint per_series;
    GMutex lock;
} Job;

void
ps_run_config_init(PsRunConfig *config)
{
    memset(config, 0, sizeof(*config));
    config->trace_series = -1;
    config->n_detectors = 1;
    config->detector[0].name = "detector";
    ps_detect_config_init(&config->detector[0].config);
    for (guint k = 0; k < PS_RUN_FIXED_K; k++) /* 1.2 .. 40, geometric */
        config->fixed_k[k] = 1.2 * pow(40 / 1.2, (double)k / (PS_RUN_FIXED_K - 1));
    config->ewma_alpha[0] = 0.02;
    config->ewma_alpha[1] = 0.1;
    for (guint k = 0; k < PS_RUN_EWMA_K; k++) /* 2 .. 200 */
        config->ewma_k[k] = 2 * pow(100, (double)k / (PS_RUN_EWMA_K - 1));
    for (guint k = 0; k < PS_RUN_ORACLE_K; k++) /* 2 .. 100 */
        config->oracle_h[k] = 2 * pow(50, (double)k / (PS_RUN_ORACLE_K - 1));
    config->warmup = 180;
    config->threads = g_get_num_processors();
}

guint
ps_run_method_fixed(const PsRunConfig *config, guint k)
{
    return config->n_detectors + k;
}

guint
ps_run_method_ewma(const PsRunConfig *config, guint alpha, guint k)
{
    return config->n_detectors + PS_RUN_FIXED_K + alpha * PS_RUN_EWMA_K + k;
}

guint
ps_run_method_oracle(const PsRunConfig *config, guint k)
{
    return ps_run_method_ewma(config, PS_RUN_EWMA_ALPHAS, 0) + k;
}

/* As history.c reads Redis: minute t +- 2 on each of the previous 7 days, flagged same kind when
 * weekday-ness matches, and the 65 buckets before t. Outside the simulation: missing. */
static void
build_history(const PsSimSeries *series, guint i, PsHistory *history)
{
    gboolean weekend = ps_sim_weekend(i);

    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        gint center = (gint)i - (gint)(d + 1) * PS_SIM_DAY;
        history->same_kind[d] = center >= 0 && ps_sim_weekend(center) == weekend;
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++) {
            gint j = center + (gint)s - PS_BASELINE_WINDOW;
            if (j >= 0 && (guint)j < series->n) {
                history->same_time[d][s] = series->sample[j];
            } else {
                memset(&history->same_time[d][s], 0, sizeof(PsSample));
                history->same_time[d][s].flags = PS_SAMPLE_MISSING;
            }
        }
    }
    for (guint k = 0; k < PS_BASELINE_RECENT; k++) {
        if (i >= k + 1) {
            history->recent[k] = series->sample[i - k - 1];
        } else {
            memset(&history->recent[k], 0, sizeof(PsSample));
            history->recent[k].flags = PS_SAMPLE_MISSING;
        }
    }
    for (guint m = 0; m < PS_N_METRICS; m++)
        history->weekly[m] = 1.0; /* no hour-of-week correction: see README.md */
}

static void
push_event(GArray *events, guint bucket, EventKind kind, PsOpenedBy by, double z, double ratio)
{
    Event event = {bucket, kind, by, (float)z, (float)ratio};

    g_array_append_val(events, event);
}

static void
take_snapshot(Job *job, guint index, guint i, const PsHistory *history, const PsSample *sample,
              const PsSeriesState *state)
{
    guint first = job->dataset->scored_from, n = job->dataset->n_buckets;

    for (guint k = 0; k < job->per_series; k++) {
        guint slot = index * job->per_series + k;
        guint at = first + (k + 1) * (n - first) / (job->per_series + 1) + index % 97;
        if (at != i || slot >= job->n_snapshots)
            continue;
        job->snapshots[slot].history = *history;
        job->snapshots[slot].sample = *sample;
        job->snapshots[slot].state = *state;
        job->snapshots[slot].bucket = ps_sim_time(i);
        job->snapshots[slot].watched = job->dataset->series[index].watched;
    }
}

#define TRACE_BUCKETS        8
#define TRACE_SERIES_BUCKETS 30

/* Which traced injection bucket i belongs to (its first TRACE_BUCKETS), or -1. */
static gint
traced_injection(const Job *job, guint index, guint i)
{
    const PsSimDataset *dataset = job->dataset;

    if (job->config->trace_size <= 0 || !dataset->series[index].watched)
        return -1;
    for (guint j = dataset->first_injection[index]; j < dataset->first_injection[index + 1]; j++) {
        const PsSimInjection *injection = &g_array_index(dataset->injections, PsSimInjection, j);
        if (injection->size == job->config->trace_size && i >= injection->start &&
            i < injection->start + TRACE_BUCKETS)
            return (gint)j;
    }
    return -1;
}

static void
trace_bucket(GString *out, guint i, const PsEvaluation *evaluation, PsEventKind kind)
{
    g_string_append_printf(out, "  %5u", i);
    for (guint m = 0; m < PS_N_METRICS; m++) {
        if (m >= PS_N_DETECT_METRICS && m != PS_METRIC_NEW)
            continue; /* context only */
        g_string_append_printf(out, " | %s %5.0f b %6.1f z %5.1f r %4.1f s %.2f/%.2f%s%s",
                               ps_metric_name(m), evaluation->sample.value[m],
                               evaluation->baseline[m].expected, evaluation->score[m].z,
                               evaluation->score[m].ratio, evaluation->baseline[m].scale,
                               evaluation->baseline[m].candidate_scale,
                               evaluation->baseline[m].young ? "y" : "",
                               m < PS_N_DETECT_METRICS && evaluation->hit[m] ? "*" : " ");
    }
    g_string_append_printf(out, " | novelty z %.1f r %.1f, with sources %.1f",
                           evaluation->novelty.z, evaluation->novelty.ratio,
                           evaluation->new_sources_z);
    g_string_append_printf(out, " | hit %d scan %d %s\n", evaluation->port_hit,
                           evaluation->scan_shaped, ps_event_kind_name(kind));
}

/* Bucket i of series index is among the ones --trace-series asked for. */
static gboolean
traced_bucket(const Job *job, guint index, guint i)
{
    return job->config->trace_series == (gint)index && i >= job->config->trace_from &&
           i < job->config->trace_from + TRACE_SERIES_BUCKETS;
}

static void
run_detector(Job *job, guint d, guint index, const PsSimSeries *series, GArray *events,
             GString **traces)
{
    const PsDetectConfig *config = &job->config->detector[d].config;
    gboolean watched = job->dataset->series[index].watched;
    guint from = job->dataset->scored_from - job->config->warmup;
    PsSeriesState state;
    PsHistory history;
    PsEvaluation evaluation;
    PsAlertEvent event;

    ps_series_state_init(&state);
    for (guint i = from; i < series->n; i++) {
        gint64 t = ps_sim_time(i);
        PsEventKind kind;

        build_history(series, i, &history);
        if (d == 0 && job->snapshots != NULL)
            take_snapshot(job, index, i, &history, &series->sample[i], &state);
        ps_detect_mark_history(&state, &history, t, PS_SIM_STEP);
        ps_detect_evaluate(config, &state, &history, &series->sample[i], &evaluation);
        kind = ps_detect_step(config, &state, &evaluation, t, PS_SIM_STEP, watched, &event);
        if (traces != NULL && traced_injection(job, index, i) >= 0) {
            guint j = (guint)traced_injection(job, index, i) - job->dataset->first_injection[index];
            if (traces[j] == NULL)
                traces[j] = g_string_new(NULL);
            trace_bucket(traces[j], i, &evaluation, kind);
        }
        if (traces != NULL && traced_bucket(job, index, i)) {
            g_autoptr(GString) line = g_string_new(NULL);
            trace_bucket(line, i, &evaluation, kind);
            g_mutex_lock(&job->lock);
            printf("series %u%s", index, line->str);
            g_mutex_unlock(&job->lock);
        }
        if (kind == PS_EVENT_OPEN)
            push_event(events, i, event.reopened ? EVENT_REOPEN : EVENT_NEW, event.opened_by,
                       evaluation.z, evaluation.ratio);
        else if (kind == PS_EVENT_RESOLVE)
            push_event(events, i, EVENT_CLOSE, 0, evaluation.z, evaluation.ratio);
    }
}

static void
machine_step(Machine *machine, gboolean hit, guint i, GArray *events, double score)
{
    machine->hits = machine->hits << 1 | (hit ? 1 : 0);
    if (machine->open) {
        machine->quiet = hit ? 0 : machine->quiet + 1;
        if (machine->quiet >= QUIET_BUCKETS) {
            machine->open = FALSE;
            machine->resolved_at = (gint)i;
            push_event(events, i, EVENT_CLOSE, 0, score, 0);
        }
        return;
    }
    if (hit && (guint)__builtin_popcount(machine->hits & ((1u << OPEN_WINDOW) - 1)) >= machine->open_hits) {
        gboolean reopen = machine->resolved_at >= 0 && (gint)i - machine->resolved_at < COOLDOWN;
        machine->open = TRUE;
        machine->quiet = 0;
        push_event(events, i, reopen ? EVENT_REOPEN : EVENT_NEW, PS_OPENED_BY_HITS, score, 0);
    }
}

/* The port rule on per-metric scores: sources, or SYN-only and destinations together. */
static double
port_score(double sources, double syn, double dests)
{
    return MAX(sources, MIN(syn, dests));
}

static const PsMetric port_metrics[3] = {PS_METRIC_SOURCES, PS_METRIC_SYN, PS_METRIC_DESTS};

/* x > k x mean of the 7 days before (every bucket, surges included: it is plain). */
static void
run_fixed(Job *job, const PsSimSeries *series, GArray **events)
{
    guint n = series->n, from = job->dataset->scored_from - job->config->warmup;
    g_autofree double *sum = g_new0(double, 3 * (n + 1));
    g_autofree guint *count = g_new0(guint, n + 1);
    Machine machine[PS_RUN_FIXED_K];

    for (guint i = 0; i < n; i++) {
        gboolean present = !(series->sample[i].flags & PS_SAMPLE_MISSING);
        count[i + 1] = count[i] + present;
        for (guint m = 0; m < 3; m++)
            sum[3 * (i + 1) + m] = sum[3 * i + m] + series->sample[i].value[port_metrics[m]];
    }
    for (guint k = 0; k < PS_RUN_FIXED_K; k++)
        machine[k] = (Machine){0, FALSE, 0, -1, OPEN_HITS};
    for (guint i = from; i < n; i++) {
        guint lo = i >= WEEK_BUCKETS ? i - WEEK_BUCKETS : 0, c = count[i] - count[lo];
        double ratio[3], score = 0;
        gboolean present = !(series->sample[i].flags & PS_SAMPLE_MISSING);

        for (guint m = 0; c > 0 && m < 3; m++) {
            double mean = (sum[3 * i + m] - sum[3 * lo + m]) / c;
            ratio[m] = series->sample[i].value[port_metrics[m]] / MAX(mean, 1e-9);
        }
        if (present && c > 0)
            score = port_score(ratio[0], ratio[1], ratio[2]);
        for (guint k = 0; k < PS_RUN_FIXED_K; k++)
            machine_step(&machine[k], score > job->config->fixed_k[k], i, events[k], score);
    }
}

/* z = (x - mean) / sd with mean and variance updated by EWMA on every present bucket. */
static void
run_ewma(Job *job, guint a, const PsSimSeries *series, GArray **events)
{
    double alpha = job->config->ewma_alpha[a], mean[3] = {0}, var[3] = {0};
    guint from = job->dataset->scored_from - job->config->warmup;
    gboolean started = FALSE;
    Machine machine[PS_RUN_EWMA_K];

    for (guint k = 0; k < PS_RUN_EWMA_K; k++)
        machine[k] = (Machine){0, FALSE, 0, -1, OPEN_HITS};
    for (guint i = 0; i < series->n; i++) {
        const PsSample *sample = &series->sample[i];
        double z[3], score = 0;
        gboolean present = !(sample->flags & PS_SAMPLE_MISSING);

        for (guint m = 0; present && m < 3; m++) {
            double x = sample->value[port_metrics[m]], diff = x - mean[m];
            if (!started) {
                mean[m] = x;
                diff = 0;
            }
            z[m] = diff / MAX(sqrt(var[m]), EWMA_SD_FLOOR);
            mean[m] += alpha * diff;
            var[m] = (1 - alpha) * (var[m] + alpha * diff * diff);
        }
        if (present && started)
            score = port_score(z[0], z[1], z[2]);
        started |= present;
        if (i < from)
            continue;
        for (guint k = 0; k < PS_RUN_EWMA_K; k++)
            machine_step(&machine[k], score >= job->config->ewma_k[k], i, events[k], score);
    }
}

/* Log-probability of count x under a negative binomial of this mean and dispersion (the
 * squared coefficient of variation beyond Poisson's, 1 / size). */
static double
log_negbin(double x, double mean, double dispersion)
{
    double size = 1 / dispersion;

    return lgamma(x + size) - lgamma(size) - lgamma(x + 1) + size * log(size / (size + mean)) +
           x * log(mean / (size + mean));
}

/* Not a detector anyone could run: a reference for what one could do. It is told each bucket's
 * mean distinct sources and SYN-only flows given every hard negative (sim.c known_mean and
 * known_syn: seasonality, drift, holiday, step, outage and recovery, flash crowd, backup,
 * sampling change) and the noise's parameters (the AR(1) log noise's sd, the negative
 * binomial's size, flows per source and their SYN-only share), so it knows everything but the
 * noise itself and the injections. It runs two CUSUMs of log-likelihood ratios, the
 * sequential test that finds a change of known size fastest for a given false-alarm rate:
 *
 * - sources: "ORACLE_SIZE times the mean" against "the mean" (a distributed surge: new
 *   sources, Poisson, as sim.c draws them);
 * - SYN-only flows: "the mean plus (ORACLE_SIZE - 1) times the flows of the usual sources, all
 *   SYN-only" against "the mean" (a concentrated scan: a few sources, as many flows as a
 *   3x surge would bring).
 *
 * Both are negative binomials whose dispersion includes the AR(1) noise's stationary variance.
 * An incident opens on the first bucket either CUSUM reaches h. It does not use destinations,
 * and it does not track the AR(1) noise: a version with a Kalman filter that learned the noise
 * while the CUSUM was at 0 also learned the first third of every ramp (the likelihood ratio of
 * 3x is negative at 1.3x) and missed 15% of the surges at 50 sources a minute and more, where
 * this one misses 1-2%. */
#define ORACLE_SIZE      3.0
#define FLOWS_DISPERSION (1 / 50.0) /* sim.c: flows are NB(sources x flows per source, 50) */

/* The CUSUM's increment: log-likelihood of count x with `extra` more on top of mean against
 * mean alone. The mean's own dispersion beyond Poisson's is own; the extra is Poisson; the
 * AR(1) noise (ar_var) multiplies both. */
static double
oracle_llr(double x, double mean, double own, double extra, double ar_var)
{
    double surge = mean + extra;

    return log_negbin(x, surge, mean * mean * own / (surge * surge) + ar_var) -
           log_negbin(x, mean, own + ar_var);
}

static void
run_oracle(Job *job, guint index, const PsSimSeries *series, GArray **events)
{
    const PsSimSeriesParams *p = &job->dataset->series[index];
    guint from = job->dataset->scored_from - job->config->warmup;
    double ar_var = p->ar_sigma * p->ar_sigma, sources_cusum = 0, syn_cusum = 0;
    Machine machine[PS_RUN_ORACLE_K];

    for (guint k = 0; k < PS_RUN_ORACLE_K; k++)
        machine[k] = (Machine){0, FALSE, 0, -1, 1};
    for (guint i = 0; i < series->n; i++) {
        const PsSample *sample = &series->sample[i];
        double mean = series->known_mean[i], syn = series->known_syn[i];

        if (!(sample->flags & PS_SAMPLE_MISSING) && mean > 0 && syn > 0) {
            sources_cusum = MAX(0, sources_cusum + oracle_llr(sample->value[PS_METRIC_SOURCES],
                                                              mean, 1 / p->theta,
                                                              (ORACLE_SIZE - 1) * mean, ar_var));
            syn_cusum = MAX(0, syn_cusum + oracle_llr(sample->value[PS_METRIC_SYN], syn,
                                                      1 / p->theta + FLOWS_DISPERSION,
                                                      (ORACLE_SIZE - 1) * syn / p->syn_share,
                                                      ar_var));
        }
        if (i < from)
            continue;
        for (guint k = 0; k < PS_RUN_ORACLE_K; k++)
            machine_step(&machine[k], MAX(sources_cusum, syn_cusum) >= job->config->oracle_h[k], i,
                         events[k], MAX(sources_cusum, syn_cusum));
    }
}

static gboolean
in_injection(const PsSimInjection *injections, guint n, guint bucket)
{
    for (guint j = 0; j < n; j++) {
        if (bucket >= injections[j].start && bucket <= injections[j].end + PS_SIM_GRACE)
            return TRUE;
    }
    return FALSE;
}

/* Delay of one injection from the method's events; missed or masked. */
static gint
injection_delay(const PsSimInjection *injection, const GArray *events)
{
    gboolean open = FALSE;

    for (guint e = 0; e < events->len; e++) {
        const Event *event = &g_array_index(events, Event, e);
        if (event->bucket < injection->start) {
            open = event->kind != EVENT_CLOSE;
            continue;
        }
        if (event->bucket > injection->end + PS_SIM_GRACE)
            break;
        /* a ramp is timed from when it reaches its size; an opening before that is 1 */
        if (event->kind != EVENT_CLOSE)
            return (gint)MAX(event->bucket, ps_sim_injection_full(injection)) -
                   (gint)ps_sim_injection_full(injection) + 1;
    }
    return open ? PS_RUN_DELAY_MASKED : PS_RUN_DELAY_MISSED;
}

static void
score_method(Job *job, guint method, guint index, const PsSimSeries *series, const GArray *events,
             guint *false_by_cause, GArray *false_incidents)
{
    const PsSimDataset *dataset = job->dataset;
    guint first = dataset->first_injection[index];
    guint n_injections = dataset->first_injection[index + 1] - first;
    const PsSimInjection *injections =
        &g_array_index(dataset->injections, PsSimInjection, first);
    guint64 open_buckets = 0;
    gint opened = -1;

    for (guint j = 0; j < n_injections; j++)
        job->result->delay[method * job->result->n_injections + first + j] =
            injection_delay(&injections[j], events);
    for (guint e = 0; e < events->len; e++) {
        const Event *event = &g_array_index(events, Event, e);
        if (event->kind == EVENT_CLOSE) {
            if (opened >= 0)
                open_buckets += event->bucket - MAX((guint)opened, dataset->scored_from);
            opened = -1;
            continue;
        }
        if (opened < 0 || event->kind == EVENT_NEW)
            opened = (gint)MAX(event->bucket, dataset->scored_from);
        if (event->kind != EVENT_NEW || event->bucket < dataset->scored_from ||
            in_injection(injections, n_injections, event->bucket))
            continue;
        false_by_cause[method * PS_SIM_N_CAUSES + series->cause[event->bucket]]++;
        if (method < job->config->n_detectors) {
            PsRunFalse entry = {method, index, event->bucket, series->cause[event->bucket],
                                event->opened_by, event->z, event->ratio, 0};
            for (guint c = e + 1; c < events->len; c++) {
                const Event *close = &g_array_index(events, Event, c);
                if (close->kind == EVENT_CLOSE) {
                    entry.buckets = close->bucket - event->bucket;
                    break;
                }
            }
            if (entry.buckets == 0)
                entry.buckets = series->n - event->bucket;
            g_array_append_val(false_incidents, entry);
        }
    }
    if (opened >= 0)
        open_buckets += series->n - (guint)opened;
    job->result->open_buckets[method] += open_buckets; /* under job->lock: see run_series */
}

/* The traces of the injections the traced detector missed or found late (under job->lock). */
static void
print_traces(const Job *job, guint index, GString **traces, guint method)
{
    guint first = job->dataset->first_injection[index];

    for (guint j = 0; j < job->dataset->first_injection[index + 1] - first; j++) {
        const PsSimInjection *injection =
            &g_array_index(job->dataset->injections, PsSimInjection, first + j);
        gint delay = job->result->delay[method * job->result->n_injections + first + j];
        if (traces[j] == NULL)
            continue;
        if (delay < 1 || delay > 3)
            printf("trace series %u port %u level %.1f: %gx %u min %s %s %s, delay %d\n%s",
                   index, job->dataset->series[index].port, injection->level, injection->size,
                   injection->minutes, ps_sim_shape_name(injection->shape),
                   injection->concentrated ? "concentrated" : "distributed",
                   ps_sim_place_name(injection->place), delay, traces[j]->str);
        g_string_free(traces[j], TRUE);
    }
}

/* The injections of a traced series, so that its trace can be read against them. */
static void
print_injections(Job *job, guint index)
{
    g_mutex_lock(&job->lock);
    for (guint j = job->dataset->first_injection[index]; j < job->dataset->first_injection[index + 1];
         j++) {
        const PsSimInjection *injection = &g_array_index(job->dataset->injections, PsSimInjection, j);
        printf("series %u injection buckets %u..%u: %gx %u min %s %s %s\n", index, injection->start,
               injection->end, injection->size, injection->minutes,
               ps_sim_shape_name(injection->shape),
               injection->concentrated ? "concentrated" : "distributed",
               ps_sim_place_name(injection->place));
    }
    g_mutex_unlock(&job->lock);
}

static void
run_series(gpointer data, gpointer user_data)
{
    Job *job = user_data;
    guint index = GPOINTER_TO_UINT(data) - 1, n_methods = job->result->n_methods;
    PsSimSeries series;
    g_autofree GArray **events = g_new0(GArray *, n_methods);
    g_autofree guint *false_by_cause = g_new0(guint, n_methods * PS_SIM_N_CAUSES);
    g_autoptr(GArray) false_incidents = g_array_new(FALSE, FALSE, sizeof(PsRunFalse));

    ps_sim_series_init(&series, job->dataset->n_buckets);
    ps_sim_series_fill(job->dataset, index, &series);
    for (guint m = 0; m < n_methods; m++)
        events[m] = g_array_new(FALSE, FALSE, sizeof(Event));
    guint first = job->dataset->first_injection[index];
    guint n_injections = job->dataset->first_injection[index + 1] - first;
    guint traced = job->config->n_detectors - 1;
    g_autofree GString **traces = g_new0(GString *, n_injections + 1);

    if (job->config->trace_series == (gint)index)
        print_injections(job, index);
    for (guint d = 0; d < job->config->n_detectors; d++)
        run_detector(job, d, index, &series, events[d], d == traced ? traces : NULL);
    run_fixed(job, &series, events + ps_run_method_fixed(job->config, 0));
    for (guint a = 0; a < PS_RUN_EWMA_ALPHAS; a++)
        run_ewma(job, a, &series, events + ps_run_method_ewma(job->config, a, 0));
    run_oracle(job, index, &series, events + ps_run_method_oracle(job->config, 0));
    g_mutex_lock(&job->lock);
    for (guint m = 0; m < n_methods; m++)
        score_method(job, m, index, &series, events[m], false_by_cause, false_incidents);
    for (guint c = 0; c < n_methods * PS_SIM_N_CAUSES; c++)
        job->result->false_by_cause[c] += false_by_cause[c];
    g_array_append_vals(job->result->false_incidents, false_incidents->data,
                        false_incidents->len);
    print_traces(job, index, traces, traced);
    g_mutex_unlock(&job->lock);
    for (guint m = 0; m < n_methods; m++)
        g_array_unref(events[m]);
    ps_sim_series_clear(&series);
}

static gint
compare_false(gconstpointer a, gconstpointer b)
{
    const PsRunFalse *x = a, *y = b;

    if (x->detector != y->detector)
        return x->detector < y->detector ? -1 : 1;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

PsRunResult *
ps_run_dataset(const PsRunConfig *config, const PsSimDataset *dataset,
               PsRunSnapshot *snapshots, guint n_snapshots)
{
    PsRunResult *result = g_new0(PsRunResult, 1);
    Job job = {config, dataset, result, snapshots, n_snapshots, 0};
    GThreadPool *pool;

    result->n_methods = ps_run_method_oracle(config, PS_RUN_ORACLE_K);
    result->n_injections = dataset->injections->len;
    result->delay = g_new0(gint, (gsize)result->n_methods * MAX(result->n_injections, 1u));
    result->false_by_cause = g_new0(guint, result->n_methods * PS_SIM_N_CAUSES);
    result->open_buckets = g_new0(guint64, result->n_methods);
    result->false_incidents = g_array_new(FALSE, FALSE, sizeof(PsRunFalse));
    result->weeks = (double)(dataset->n_buckets - dataset->scored_from) / WEEK_BUCKETS;
    result->n_series = dataset->n_series;
    job.per_series = snapshots != NULL ? (n_snapshots + dataset->n_series - 1) / dataset->n_series : 0;
    g_mutex_init(&job.lock);
    pool = g_thread_pool_new(run_series, &job, MAX(config->threads, 1u), TRUE, NULL);
    for (guint i = 0; i < dataset->n_series; i++)
        g_thread_pool_push(pool, GUINT_TO_POINTER(i + 1), NULL);
    g_thread_pool_free(pool, FALSE, TRUE);
    g_mutex_clear(&job.lock);
    g_array_sort(result->false_incidents, compare_false); /* thread order is not stable */
    return result;
}

void
ps_run_result_free(PsRunResult *result)
{
    if (result == NULL)
        return;
    g_free(result->delay);
    g_free(result->false_by_cause);
    g_free(result->open_buckets);
    g_array_unref(result->false_incidents);
    g_free(result);
}

double
ps_run_false_rate(const PsRunResult *result, guint method)
{
    guint total = 0;

    for (guint c = 0; c < PS_SIM_N_CAUSES; c++)
        total += result->false_by_cause[method * PS_SIM_N_CAUSES + c];
    return total / result->weeks * 500.0 / result->n_series;
}
