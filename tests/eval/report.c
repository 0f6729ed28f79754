#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "report.h"

static const double sizes[] = {1.5, 2, 3, 5, 10, 20};
static const guint durations[] = {5, 30, 180, 1440};

void
ps_report_filter_any(PsReportFilter *filter)
{
    *filter = (PsReportFilter){0, 0, -1, 0, G_MAXDOUBLE, -1, -1, -1};
}

static gboolean
filter_accepts(const PsReportFilter *filter, const PsSimDataset *dataset,
               const PsSimInjection *injection)
{
    return (filter->size == 0 || injection->size == filter->size) &&
           (filter->minutes == 0 || injection->minutes == filter->minutes) &&
           (filter->watched < 0 ||
            dataset->series[injection->series].watched == (gboolean)filter->watched) &&
           injection->level >= filter->level_min && injection->level < filter->level_max &&
           (filter->shape < 0 || (gint)injection->shape == filter->shape) &&
           (filter->concentrated < 0 || injection->concentrated == (gboolean)filter->concentrated) &&
           (filter->place < 0 || (gint)injection->place == filter->place);
}

void
ps_report_tally(const PsReportPool *pool, guint method, const PsReportFilter *filter,
                PsReportTally *tally)
{
    tally->total = tally->found = tally->within3 = tally->masked = 0;
    tally->delays = g_array_new(FALSE, FALSE, sizeof(gint));
    for (guint r = 0; r < pool->n; r++) {
        const PsRunResult *result = pool->result[r];
        for (guint j = 0; j < result->n_injections; j++) {
            const PsSimInjection *injection =
                &g_array_index(pool->dataset[r]->injections, PsSimInjection, j);
            gint delay = result->delay[method * result->n_injections + j];
            if (!filter_accepts(filter, pool->dataset[r], injection))
                continue;
            tally->total++;
            tally->masked += delay == PS_RUN_DELAY_MASKED;
            if (delay <= 0)
                continue;
            tally->found++;
            tally->within3 += delay <= 3;
            g_array_append_val(tally->delays, delay);
        }
    }
}

void
ps_report_tally_clear(PsReportTally *tally)
{
    g_clear_pointer(&tally->delays, g_array_unref);
}

static gint
compare_ints(gconstpointer a, gconstpointer b)
{
    return *(const gint *)a - *(const gint *)b;
}

double
ps_report_delay_quantile(const PsReportTally *tally, double q)
{
    guint n = tally->delays->len;

    if (n == 0)
        return NAN;
    g_array_sort(tally->delays, compare_ints);
    return g_array_index(tally->delays, gint, MIN((guint)(q * n), n - 1));
}

double
ps_report_false_rate(const PsReportPool *pool, guint method)
{
    double incidents = 0, weeks = 0;

    for (guint r = 0; r < pool->n; r++) {
        const PsRunResult *result = pool->result[r];
        for (guint c = 0; c < PS_SIM_N_CAUSES; c++)
            incidents += result->false_by_cause[method * PS_SIM_N_CAUSES + c];
        weeks += result->weeks * result->n_series / 500.0;
    }
    return weeks > 0 ? incidents / weeks : 0;
}

static double
recall(const PsReportPool *pool, guint method)
{
    PsReportFilter filter;
    PsReportTally tally;
    double value;

    ps_report_filter_any(&filter);
    ps_report_tally(pool, method, &filter, &tally);
    value = tally.total ? (double)tally.found / tally.total : 0;
    ps_report_tally_clear(&tally);
    return value;
}

/* Smallest k (methods first .. first + n - 1, k increasing) at most target false incidents. */
static guint
match_family(const PsReportPool *tune, guint first, guint n, double target)
{
    for (guint k = 0; k < n; k++) {
        if (ps_report_false_rate(tune, first + k) <= target)
            return first + k;
    }
    return first + n - 1;
}

void
ps_report_match(const PsRunConfig *config, const PsReportPool *tune, guint detector,
                PsReportMatch *match)
{
    double target = ps_report_false_rate(tune, detector), best = -1;

    match->fixed = match_family(tune, ps_run_method_fixed(config, 0), PS_RUN_FIXED_K, target);
    for (guint a = 0; a < PS_RUN_EWMA_ALPHAS; a++) {
        guint method = match_family(tune, ps_run_method_ewma(config, a, 0), PS_RUN_EWMA_K, target);
        double value = recall(tune, method);
        if (value > best) {
            best = value;
            match->ewma = method;
        }
    }
    match->oracle = match_family(tune, ps_run_method_oracle(config, 0), PS_RUN_ORACLE_K, target);
    match->oracle_at_target =
        match_family(tune, ps_run_method_oracle(config, 0), PS_RUN_ORACLE_K, 1.0);
}

const char *
ps_report_method_name(const PsRunConfig *config, guint method, char *buffer, gsize size)
{
    guint fixed = ps_run_method_fixed(config, 0), ewma = ps_run_method_ewma(config, 0, 0);
    guint oracle = ps_run_method_oracle(config, 0);

    if (method < config->n_detectors)
        g_snprintf(buffer, size, "%s", config->detector[method].name);
    else if (method < ewma)
        g_snprintf(buffer, size, "fixed k=%.2f", config->fixed_k[method - fixed]);
    else if (method >= oracle)
        g_snprintf(buffer, size, "oracle (bound) h=%.1f", config->oracle_h[method - oracle]);
    else
        g_snprintf(buffer, size, "ewma a=%.2f z>=%.1f",
                   config->ewma_alpha[(method - ewma) / PS_RUN_EWMA_K],
                   config->ewma_k[(method - ewma) % PS_RUN_EWMA_K]);
    return buffer;
}

static void
print_percent(guint part, guint whole)
{
    if (whole == 0)
        printf(" %11s", "-");
    else
        printf(" %5.1f%% %4u", 100.0 * part / whole, whole);
}

void
ps_report_summary(const PsRunConfig *config, const PsReportPool *pool, const guint *methods,
                  guint n_methods, const PsReportPool *tune)
{
    printf("| %-24s | %9s | %9s | %12s | %12s | %12s | %12s | %5s | %4s |\n", "method",
           "false/wk", "tune f/wk", "recall all", "watched all", "3x watched", "3x w. <=3",
           "d.med", "d.90");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (guint i = 0; i < n_methods; i++) {
        char name[64];
        PsReportFilter filter;
        PsReportTally all, watched, three;

        ps_report_filter_any(&filter);
        ps_report_tally(pool, methods[i], &filter, &all);
        filter.watched = 1;
        ps_report_tally(pool, methods[i], &filter, &watched);
        filter.size = 3;
        ps_report_tally(pool, methods[i], &filter, &three);
        printf("| %-24s | %9.2f | %9.2f |", ps_report_method_name(config, methods[i], name, sizeof(name)),
               ps_report_false_rate(pool, methods[i]),
               tune != NULL ? ps_report_false_rate(tune, methods[i]) : NAN);
        print_percent(all.found, all.total);
        printf(" |");
        print_percent(watched.found, watched.total);
        printf(" |");
        print_percent(three.found, three.total);
        printf(" |");
        print_percent(three.within3, three.total);
        printf(" | %5.0f | %4.0f |\n", ps_report_delay_quantile(&all, 0.5),
               ps_report_delay_quantile(&all, 0.9));
        ps_report_tally_clear(&all);
        ps_report_tally_clear(&watched);
        ps_report_tally_clear(&three);
    }
}

void
ps_report_grid(const PsRunConfig *config, const PsReportPool *pool, guint method, gint watched)
{
    char name[64];

    printf("\nrecall by size x duration, %s, %s series (found%% n; delay median/p90 in buckets)\n\n",
           ps_report_method_name(config, method, name, sizeof(name)),
           watched == 1 ? "watched" : watched == 0 ? "other" : "all");
    printf("| size |");
    for (guint d = 0; d < G_N_ELEMENTS(durations); d++)
        printf(" %19u min |", durations[d]);
    printf("\n|---|---:|---:|---:|---:|\n");
    for (guint s = 0; s < G_N_ELEMENTS(sizes); s++) {
        printf("| %4gx |", sizes[s]);
        for (guint d = 0; d < G_N_ELEMENTS(durations); d++) {
            PsReportFilter filter;
            PsReportTally tally;
            ps_report_filter_any(&filter);
            filter.size = sizes[s];
            filter.minutes = durations[d];
            filter.watched = watched;
            ps_report_tally(pool, method, &filter, &tally);
            print_percent(tally.found, tally.total);
            printf(" %3.0f/%-4.0f |", ps_report_delay_quantile(&tally, 0.5),
                   ps_report_delay_quantile(&tally, 0.9));
            ps_report_tally_clear(&tally);
        }
        printf("\n");
    }
}

void
ps_report_causes(const PsRunConfig *config, const PsReportPool *pool, const guint *methods,
                 guint n_methods)
{
    printf("\nfalse incidents by cause (count over the pool; per week per 500 series in the last "
           "column)\n\n| %-24s |", "method");
    for (guint c = 0; c < PS_SIM_N_CAUSES; c++)
        printf(" %10s |", ps_sim_cause_name(c));
    printf(" %8s |\n|---|", "per wk");
    for (guint c = 0; c <= PS_SIM_N_CAUSES; c++)
        printf("---:|");
    printf("\n");
    for (guint i = 0; i < n_methods; i++) {
        char name[64];
        printf("| %-24s |", ps_report_method_name(config, methods[i], name, sizeof(name)));
        for (guint c = 0; c < PS_SIM_N_CAUSES; c++) {
            guint count = 0;
            for (guint r = 0; r < pool->n; r++)
                count += pool->result[r]->false_by_cause[methods[i] * PS_SIM_N_CAUSES + c];
            printf(" %10u |", count);
        }
        printf(" %8.2f |\n", ps_report_false_rate(pool, methods[i]));
    }
}

static void
print_miss_row(const PsReportPool *pool, guint method, const char *label, PsReportFilter *filter)
{
    PsReportTally tally;

    ps_report_tally(pool, method, filter, &tally);
    printf("| %-26s |", label);
    print_percent(tally.found, tally.total);
    printf(" |");
    print_percent(tally.within3, tally.total);
    printf(" | %6u |\n", tally.masked);
    ps_report_tally_clear(&tally);
}

void
ps_report_misses(const PsReportPool *pool, guint method, double size)
{
    static const double bands[] = {0, 10, 20, 50, 100, 1000, G_MAXDOUBLE};
    PsReportFilter filter;
    char label[64];

    printf("\n%gx surges on watched series, by kind (found; found within 3 buckets; masked: "
           "an incident was already open)\n\n| %-26s | %11s | %11s | %6s |\n|---|---:|---:|---:|\n",
           size, "slice", "found", "<=3", "masked");
    for (guint b = 0; b + 1 < G_N_ELEMENTS(bands); b++) {
        ps_report_filter_any(&filter);
        filter.size = size;
        filter.watched = 1;
        filter.level_min = bands[b];
        filter.level_max = bands[b + 1];
        g_snprintf(label, sizeof(label), "sources/min %g..%g", bands[b],
                   bands[b + 1] > 1e9 ? INFINITY : bands[b + 1]);
        print_miss_row(pool, method, label, &filter);
    }
    for (gint s = 0; s < PS_SIM_N_SHAPES; s++) {
        ps_report_filter_any(&filter);
        filter.size = size;
        filter.watched = 1;
        filter.shape = s;
        print_miss_row(pool, method, ps_sim_shape_name(s), &filter);
    }
    for (gint c = 0; c < 2; c++) {
        ps_report_filter_any(&filter);
        filter.size = size;
        filter.watched = 1;
        filter.concentrated = c;
        print_miss_row(pool, method, c ? "concentrated (syn+dests)" : "distributed (sources)",
                       &filter);
    }
    for (gint p = 0; p < PS_SIM_N_PLACES; p++) {
        ps_report_filter_any(&filter);
        filter.size = size;
        filter.watched = 1;
        filter.place = p;
        print_miss_row(pool, method, ps_sim_place_name(p), &filter);
    }
}

void
ps_report_false_list(const PsRunConfig *config, const PsReportPool *pool, guint detector,
                     guint limit)
{
    static const char *by[] = {"?", "hits", "jump", "cusum"};
    guint shown = 0;

    printf("\nfalse incidents of %s (first %u)\n", config->detector[detector].name, limit);
    for (guint r = 0; r < pool->n; r++) {
        const GArray *list = pool->result[r]->false_incidents;
        for (guint i = 0; i < list->len && shown < limit; i++) {
            const PsRunFalse *entry = &g_array_index(list, PsRunFalse, i);
            const PsSimSeriesParams *p = &pool->dataset[r]->series[entry->series];
            if (entry->detector != detector)
                continue;
            printf("  seed %" G_GUINT64_FORMAT " series %u (site %u port %u%s, %.1f src/min) "
                   "day %u %02u:%02u %s by %s z %.1f ratio %.2f, open %u buckets\n",
                   pool->dataset[r]->seed, entry->series, p->site, p->port,
                   p->watched ? " watched" : "", p->level, entry->bucket / PS_SIM_DAY,
                   entry->bucket % PS_SIM_DAY / 60, entry->bucket % 60,
                   ps_sim_cause_name(entry->cause), by[MIN(entry->opened_by, 3u)], entry->z,
                   entry->ratio, entry->buckets);
            shown++;
        }
    }
}
