/* eval-detect: scores the surge detector (alerting/baseline.c, alerting/detect.c) on simulated
 * weeks of hundreds of ports against a fixed threshold and an EWMA z-score, tuned on one set of
 * seeds and reported on another; then times evaluate + step for 10,000 series. See README.md. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "report.h"
#include "settings.h"

typedef struct {
    gboolean quick;
    gint sites, ports, days, scored_from_day, threads, bench, list_false;
    double trace_size, only_size;
    gchar *new_share; /* MIN,MAX */
    double new_share_min, new_share_max;
    char *trace_series;
    char *tune_seeds, *test_seeds;
    char **candidates;
} Options;

static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
wall_seconds(void)
{
    return g_get_monotonic_time() / 1e6;
}

static gboolean parse_new_share(Options *options, GError **error);
static gboolean check_sizes(const Options *options, GError **error);

static gboolean
parse_options(int argc, char **argv, Options *options, GError **error)
{
    GOptionEntry entries[] = {
        {"quick", 'q', 0, G_OPTION_ARG_NONE, &options->quick, "small world: 2 sites x 50 series, 21 days (about 2 min)", NULL},
        {"sites", 0, 0, G_OPTION_ARG_INT, &options->sites, "sites (collectors) [5]", "N"},
        {"ports", 0, 0, G_OPTION_ARG_INT, &options->ports, "series per site [100]", "N"},
        {"days", 0, 0, G_OPTION_ARG_INT, &options->days, "simulated days [21]", "N"},
        {"scored-from", 0, 0, G_OPTION_ARG_INT, &options->scored_from_day,
         "first scored day; injections start there [14]", "DAY"},
        {"tune-seeds", 0, 0, G_OPTION_ARG_STRING, &options->tune_seeds, "tuning seeds [1]",
         "A,B"},
        {"test-seeds", 0, 0, G_OPTION_ARG_STRING, &options->test_seeds,
         "held-out seeds [101]", "A,B"},
        {"candidate", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &options->candidates,
         "a detector configuration to score beside the defaults (repeatable)",
         "field=value,..."},
        {"threads", 0, 0, G_OPTION_ARG_INT, &options->threads, "worker threads [cores]", "N"},
        {"bench", 0, 0, G_OPTION_ARG_INT, &options->bench,
         "series in the CPU benchmark, 0: none [10000]", "N"},
        {"list-false", 0, 0, G_OPTION_ARG_INT, &options->list_false,
         "list this many false incidents per detector [0]", "N"},
        {"only-size", 0, 0, G_OPTION_ARG_DOUBLE, &options->only_size,
         "every injection this size (a probe with many more of them) [the mix]", "SIZE"},
        {"new-share", 0, 0, G_OPTION_ARG_STRING, &options->new_share,
         "watched ports' background: share of their sources unseen for a day, drawn per series "
         "from MIN to MAX [0.2,0.6]",
         "MIN,MAX"},
        {"trace", 0, 0, G_OPTION_ARG_DOUBLE, &options->trace_size,
         "print the buckets of watched injections of this size the last detector missed or "
         "found late",
         "SIZE"},
        {"trace-series", 0, 0, G_OPTION_ARG_STRING, &options->trace_series,
         "print 30 buckets of series INDEX from BUCKET on (e.g. a false incident of --list-false: "
         "BUCKET = day x 1440 + minute), as the last detector scored them",
         "INDEX:BUCKET"},
        {NULL}};
    g_autoptr(GOptionContext) context = g_option_context_new("- score the surge detector");

    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, error))
        return FALSE;
    if (options->tune_seeds == NULL) /* defaults set here: GOption drops what it replaces */
        options->tune_seeds = g_strdup("1");
    if (options->test_seeds == NULL)
        options->test_seeds = g_strdup("101");
    if (options->quick) {
        options->sites = options->sites ? options->sites : 2;
        options->ports = options->ports ? options->ports : 50;
        options->days = options->days ? options->days : 21;
        options->bench = options->bench >= 0 ? options->bench : 2000;
    }
    options->sites = options->sites ? options->sites : 5;
    options->ports = options->ports ? options->ports : 100;
    options->days = options->days ? options->days : 21;
    options->scored_from_day = options->scored_from_day ? options->scored_from_day : 14;
    options->bench = options->bench >= 0 ? options->bench : 10000;
    return parse_new_share(options, error) && check_sizes(options, error);
}

/* --new-share MIN,MAX: two shares, 0 < MIN <= MAX < 1. */
static gboolean
parse_new_share(Options *options, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(options->new_share ? options->new_share : "0.2,0.6", ",", -1);

    if (g_strv_length(parts) == 2) {
        options->new_share_min = g_ascii_strtod(parts[0], NULL);
        options->new_share_max = g_ascii_strtod(parts[1], NULL);
        if (options->new_share_min > 0 && options->new_share_min <= options->new_share_max &&
            options->new_share_max < 1)
            return TRUE;
    }
    g_set_error(error, PS_EVAL_ERROR, PS_EVAL_ERROR_SETTING,
                "--new-share: expected MIN,MAX with 0 < MIN <= MAX < 1");
    return FALSE;
}

static gboolean
check_sizes(const Options *options, GError **error)
{
    if (options->sites > PS_SIM_MAX_SITES || options->ports < 20 ||
        options->days < options->scored_from_day + 5 || options->scored_from_day < 8) {
        g_set_error(error, PS_EVAL_ERROR, PS_EVAL_ERROR_SETTING,
                    "need sites <= %d, ports >= 20, scored-from >= 8 and days >= scored-from + 5",
                    PS_SIM_MAX_SITES);
        return FALSE;
    }
    return TRUE;
}

static gboolean
setup_config(const Options *options, PsRunConfig *config, GError **error)
{
    ps_run_config_init(config);
    if (options->threads > 0)
        config->threads = options->threads;
    config->trace_size = options->trace_size;
    if (options->trace_series != NULL &&
        sscanf(options->trace_series, "%d:%u", &config->trace_series, &config->trace_from) != 2) {
        g_set_error(error, PS_EVAL_ERROR, PS_EVAL_ERROR_SETTING,
                    "--trace-series takes INDEX:BUCKET, not '%s'", options->trace_series);
        return FALSE;
    }
    for (guint i = 0; options->candidates != NULL && options->candidates[i] != NULL; i++) {
        PsRunDetector *detector = &config->detector[config->n_detectors];
        if (config->n_detectors == PS_RUN_MAX_DETECTORS) {
            g_set_error(error, PS_EVAL_ERROR, PS_EVAL_ERROR_SETTING, "at most %d candidates",
                        PS_RUN_MAX_DETECTORS - 1);
            return FALSE;
        }
        ps_detect_config_init(&detector->config);
        if (!ps_settings_apply(&detector->config, options->candidates[i], error)) {
            g_prefix_error(error, "--candidate %s: ", options->candidates[i]);
            return FALSE;
        }
        detector->name = g_strdup_printf("candidate %u", config->n_detectors);
        config->n_detectors++;
    }
    return TRUE;
}

/* Builds and scores the datasets of a comma-separated seed list. */
static gboolean
run_pool(const Options *options, const PsRunConfig *config, const char *seeds, const char *label,
         PsReportPool *pool, PsRunSnapshot *snapshots, guint n_snapshots, GError **error)
{
    g_auto(GStrv) items = g_strsplit(seeds, ",", -1);

    pool->n = 0;
    for (guint i = 0; items[i] != NULL && items[i][0] != '\0'; i++) {
        guint64 seed = g_ascii_strtoull(items[i], NULL, 10);
        double wall = wall_seconds(), cpu = cpu_seconds();
        if (pool->n == PS_REPORT_MAX_RUNS) {
            g_set_error(error, PS_EVAL_ERROR, PS_EVAL_ERROR_SETTING, "at most %d seeds per set",
                        PS_REPORT_MAX_RUNS);
            return FALSE;
        }
        pool->dataset[pool->n] = ps_sim_dataset_new(seed, options->sites, options->ports,
                                                    options->days, options->scored_from_day,
                                                    options->only_size, options->new_share_min,
                                                    options->new_share_max);
        pool->result[pool->n] = ps_run_dataset(config, pool->dataset[pool->n],
                                               pool->n == 0 ? snapshots : NULL, n_snapshots);
        fprintf(stderr, "%s seed %" G_GUINT64_FORMAT ": %u series, %u injections, %.1f s wall, "
                "%.1f s CPU\n", label, seed, pool->dataset[pool->n]->n_series,
                pool->dataset[pool->n]->injections->len, wall_seconds() - wall,
                cpu_seconds() - cpu);
        pool->n++;
    }
    return TRUE;
}

static void
pool_clear(PsReportPool *pool)
{
    for (guint i = 0; i < pool->n; i++) {
        ps_run_result_free(pool->result[i]);
        ps_sim_dataset_free(pool->dataset[i]);
    }
    pool->n = 0;
}

/* CPU time of ps_detect_evaluate + ps_detect_step over the snapshots (histories built and
 * marked beforehand, as the alerter has them after reading Redis). */
static void
bench(const PsRunConfig *config, const PsRunSnapshot *snapshots, guint n)
{
    const PsDetectConfig *detect = &config->detector[config->n_detectors - 1].config;
    g_autofree PsHistory *histories = g_new(PsHistory, n);
    g_autofree PsSeriesState *states = g_new(PsSeriesState, n);
    double best = G_MAXDOUBLE, mark = 0;
    guint opened = 0;

    for (guint round = 0; round < 3; round++) {
        PsEvaluation evaluation;
        PsAlertEvent event;
        double start = cpu_seconds(), used;
        for (guint i = 0; i < n; i++) {
            histories[i] = snapshots[i].history;
            states[i] = snapshots[i].state;
        }
        start = cpu_seconds();
        for (guint i = 0; i < n; i++)
            ps_detect_mark_history(&states[i], &histories[i], snapshots[i].bucket, PS_SIM_STEP);
        mark = cpu_seconds() - start;
        start = cpu_seconds();
        for (guint i = 0; i < n; i++) {
            ps_detect_evaluate(detect, &states[i], &histories[i], &snapshots[i].sample,
                               &evaluation);
            opened += ps_detect_step(detect, &states[i], &evaluation, snapshots[i].bucket,
                                     PS_SIM_STEP, snapshots[i].watched, &event) == PS_EVENT_OPEN;
        }
        used = cpu_seconds() - start;
        best = MIN(best, used);
    }
    printf("\nCPU: evaluate + step of %u series for one bucket: %.3f s (best of 3, one thread; "
           "%.1f us per series); mark_history %.4f s; %u opens\n",
           n, best, best / n * 1e6, mark, opened / 3);
}

static void
print_settings(const PsRunConfig *config)
{
    for (guint d = 0; d < config->n_detectors; d++) {
        g_autoptr(GString) text = g_string_new(NULL);
        ps_settings_describe(&config->detector[d].config, text);
        printf("- %s: %s\n", config->detector[d].name,
               text->len ? text->str : "ps_detect_config_init() defaults");
    }
}

/* Share of the 3x surges on watched series with sources/min in [low, high) (concentrated: -1
 * any, 0 distributed, 1 concentrated) that method found within 3 buckets, as "found% n". */
static void
append_within3(GString *line, const PsReportPool *pool, guint method, gint concentrated,
               double low, double high)
{
    PsReportFilter filter;
    PsReportTally tally;

    ps_report_filter_any(&filter);
    filter.size = 3;
    filter.watched = 1;
    filter.concentrated = concentrated;
    filter.level_min = low;
    filter.level_max = high;
    ps_report_tally(pool, method, &filter, &tally);
    if (tally.total == 0)
        g_string_append_printf(line, " | %11s", "-");
    else
        g_string_append_printf(line, " | %5.1f%% %4u", 100.0 * tally.within3 / tally.total,
                               tally.total);
    ps_report_tally_clear(&tally);
}

/* The oracle (runner.c run_oracle) over its thresholds: what a detector told everything but the
 * noise finds of the 3x surges on watched series within 3 buckets, at each false rate; then
 * its rows at the target of 1 false incident a week on the tuning seeds. The
 * detector's row first, for comparison. */
static void
report_bound(const PsRunConfig *config, const PsReportPool *tune, const PsReportPool *test,
             const PsReportMatch *match)
{
    static const double bands[] = {0, 20, 50, G_MAXDOUBLE};
    char name[64];

    printf("\nthe bound: 3x surges on watched series found within 3 buckets, held-out\n"
           "\n| method | false/wk | tune f/wk | all | distributed | concentrated | <20/min | "
           "20..50 | >=50 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (guint k = 0; k <= PS_RUN_ORACLE_K; k++) {
        guint method = k == 0 ? 0 : ps_run_method_oracle(config, k - 1);
        double false_rate = ps_report_false_rate(test, method);
        g_autoptr(GString) line = g_string_new(NULL);
        if (k > 0 && (false_rate > 30 || (k - 1) % 2 != 0))
            continue;
        ps_report_method_name(config, method, name, sizeof(name));
        g_string_append_printf(line, "| %s | %.2f | %.2f", name, false_rate,
                               ps_report_false_rate(tune, method));
        for (gint kind = -1; kind <= 1; kind++)
            append_within3(line, test, method, kind, 0, G_MAXDOUBLE);
        for (guint b = 0; b + 1 < G_N_ELEMENTS(bands); b++)
            append_within3(line, test, method, -1, bands[b], bands[b + 1]);
        printf("%s |\n", line->str);
    }
    ps_report_method_name(config, match->oracle_at_target, name, sizeof(name));
    printf("\nthe bound at the target, 1 false incident a week on the tuning seeds: %s, %.2f false "
           "a week held-out (tuning %.2f):",
           name, ps_report_false_rate(test, match->oracle_at_target),
           ps_report_false_rate(tune, match->oracle_at_target));
    ps_report_misses(test, match->oracle_at_target, 3);
}

static void
report(const Options *options, const PsRunConfig *config, const PsReportPool *tune,
       const PsReportPool *test)
{
    guint methods[4 * PS_RUN_MAX_DETECTORS], n = 0;
    PsReportMatch match;

    printf("# eval-detect: %d sites x %d series, %d days (scored from day %d), tune seeds %s, "
           "held-out seeds %s\n\n",
           options->sites, options->ports, options->days, options->scored_from_day,
           options->tune_seeds, options->test_seeds);
    print_settings(config);
    for (guint d = 0; d < config->n_detectors; d++) {
        ps_report_match(config, tune, d, &match);
        methods[n++] = d;
        methods[n++] = match.fixed;
        methods[n++] = match.ewma;
        methods[n++] = match.oracle;
    }
    printf("\nheld-out seeds; comparisons matched on the tuning seeds to the false rate of the "
           "detector row above them; the oracle is a bound, not a method (it knows the simulated "
           "mean); false/wk is per 500 series; recall cells: found%% n\n\n");
    ps_report_summary(config, test, methods, n, tune);
    for (guint i = 0; i < n; i++) {
        if (methods[i] < ps_run_method_oracle(config, 0))
            ps_report_grid(config, test, methods[i], -1);
    }
    ps_report_causes(config, test, methods, n);
    for (guint d = 0; d < config->n_detectors; d++) {
        printf("\n%s:", config->detector[d].name);
        ps_report_misses(test, d, 3);
        if (options->list_false > 0)
            ps_report_false_list(config, test, d, options->list_false);
    }
    report_bound(config, tune, test, &match);
}

int
main(int argc, char **argv)
{
    Options options = {.bench = -1};
    PsRunConfig config;
    PsReportPool tune = {0}, test = {0};
    g_autoptr(GError) error = NULL;
    g_autofree PsRunSnapshot *snapshots = NULL;
    double wall = wall_seconds();

    if (!parse_options(argc, argv, &options, &error) || !setup_config(&options, &config, &error)) {
        fprintf(stderr, "eval-detect: %s\n", error->message);
        return 2;
    }
    if (options.bench > 0)
        snapshots = g_new0(PsRunSnapshot, options.bench);
    /* --test-seeds '': tuning only, the tables then describe the tuning seeds */
    if (!run_pool(&options, &config, options.tune_seeds, "tune", &tune,
                  options.test_seeds[0] == '\0' ? snapshots : NULL, options.bench, &error) ||
        !run_pool(&options, &config, options.test_seeds, "test", &test, snapshots,
                  options.bench, &error)) {
        fprintf(stderr, "eval-detect: %s\n", error->message);
        return 2;
    }
    report(&options, &config, &tune, test.n > 0 ? &test : &tune);
    if (options.bench > 0)
        bench(&config, snapshots, options.bench);
    printf("\ntotal %.0f s wall\n", wall_seconds() - wall);
    pool_clear(&tune);
    pool_clear(&test);
    g_free(options.tune_seeds);
    g_free(options.test_seeds);
    return 0;
}
