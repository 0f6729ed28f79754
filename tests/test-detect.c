/* The detector's opening rules on hand-made histories (alerting/detect.c is pure, so no Redis):
 * a watched port whose 3x surge scores about 3.3 a bucket (noise 0.29 on the log scale), too
 * little for the single-bucket threshold of 3.5, opens on the summed score of three buckets; not
 * in the buckets after a gap (a collector outage), and not on a long 1.7x excursion of a busy
 * port whose score is high but whose ratio is not; and not on ordinary traffic after a holiday
 * taught the level a low value (and, with that guard off, the incident resolves once the level
 * is back to normal); one scanner sweeping a quiet watched port opens sooner through
 * destinations per source, while fewer sources alone open nothing; and a port whose own
 * recent noise is heavy-tailed does not open on an excursion the size of its usual ones; a
 * wave of sources new to a quiet watched port opens sooner through the count of new sources,
 * where the collector counts them and a history of them exists. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "detect.h"

#define STEP 60
#define T0   1700000000

/* Noise of the warm-up buckets: at 20 sources, ratios (x + 5) / (20 + 5) of 1.34, 0.74, 1,
 * 1.18 and 0.82, so the level is 1 and the robust spread 1.4826 x ln(1 / 0.824) = 0.29. */
static const double noise[] = {1.42, 0.67, 1.0, 1.23, 0.78};

typedef struct {
    PsDetectConfig config;
    PsSeriesState state;
    PsHistory history;
    double base[PS_N_METRICS];
    guint8 flags; /* added to every sample's */
    gint64 bucket;
} Series;

/* A scanned watched port: mostly SYN-only flows, so every bucket is scan-shaped. */
static void
series_init(Series *s, double sources)
{
    ps_detect_config_init(&s->config);
    ps_series_state_init(&s->state);
    memset(s->base, 0, sizeof(s->base));
    s->flags = 0;
    s->base[PS_METRIC_SOURCES] = sources;
    s->base[PS_METRIC_SYN] = 1.5 * sources;
    s->base[PS_METRIC_DESTS] = sources;
    s->base[PS_METRIC_FLOWS] = 2 * sources;
    s->base[PS_METRIC_PACKETS] = 4 * sources;
    s->base[PS_METRIC_BYTES] = 240 * sources;
    ps_history_init(&s->history);
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        s->history.same_kind[d] = TRUE;
        for (guint k = 0; k < PS_BASELINE_SLOTS; k++) {
            for (guint m = 0; m < PS_N_METRICS; m++)
                s->history.same_time[d][k].value[m] = s->base[m];
            s->history.same_time[d][k].flags = 0;
        }
    }
    s->bucket = T0;
}

/* One bucket of factors[m] x the baseline of every metric m, or missing. */
static PsEventKind
series_step_each(Series *s, const double *factors, gboolean missing, PsAlertEvent *event)
{
    PsSample sample = {.flags = (missing ? PS_SAMPLE_MISSING : 0) | s->flags};
    PsEvaluation evaluation;
    PsEventKind kind;

    for (guint m = 0; m < PS_N_METRICS; m++)
        sample.value[m] = missing ? 0 : s->base[m] * factors[m];
    ps_detect_evaluate(&s->config, &s->state, &s->history, &sample, &evaluation);
    kind = ps_detect_step(&s->config, &s->state, &evaluation, s->bucket, STEP, TRUE, event);
    s->bucket += STEP;
    return kind;
}

/* One bucket of factor x the baseline on every metric (bytes: bytes_factor), or missing. */
static PsEventKind
series_step(Series *s, double factor, double bytes_factor, gboolean missing, PsAlertEvent *event)
{
    double factors[PS_N_METRICS];

    for (guint m = 0; m < PS_N_METRICS; m++)
        factors[m] = m == PS_METRIC_BYTES ? bytes_factor : factor;
    return series_step_each(s, factors, missing, event);
}

static void
warm_up(Series *s)
{
    PsAlertEvent event;

    for (guint i = 0; i < PS_BASELINE_RECENT; i++)
        g_assert_cmpint(series_step(s, noise[i % G_N_ELEMENTS(noise)], 1, FALSE, &event), ==,
                        PS_EVENT_NONE);
}

/* Buckets of a 3x surge (bytes flat: a scan) until an incident opens; 0 when none in limit. */
static guint
buckets_to_open(Series *s, guint limit, PsAlertEvent *event)
{
    for (guint i = 1; i <= limit; i++) {
        if (series_step(s, 3, 1, FALSE, event) == PS_EVENT_OPEN)
            return i;
    }
    return 0;
}

static void
test_summed_score_opens(void)
{
    Series s;
    PsAlertEvent event;

    series_init(&s, 20);
    g_assert_cmpfloat(s.config.watched_sum_z, >, 0); /* on by default */
    warm_up(&s);
    g_assert_cmpuint(buckets_to_open(&s, 10, &event), ==, 3);
    g_assert_cmpint(event.opened_by, ==, PS_OPENED_BY_HITS);
    g_assert_cmpint(event.severity, ==, PS_SEVERITY_MAJOR); /* a warning, one up: watched */
    /* each bucket on its own stays under the single-bucket threshold */
    g_assert_cmpfloat(event.evaluation.evidence, >, 3);
    g_assert_cmpfloat(event.evaluation.evidence, <, s.config.watched_z_min);
    g_assert_cmpfloat(event.evaluation.evidence_ratio, >=, 2.5);
}

static void
test_without_summed_score(void)
{
    Series s;
    PsAlertEvent event;

    series_init(&s, 20);
    s.config.watched_sum_z = 0;
    warm_up(&s);
    g_assert_cmpuint(buckets_to_open(&s, 3, &event), ==, 0);
}

static void
test_settles_after_gap(void)
{
    Series s;
    PsAlertEvent event;

    series_init(&s, 20);
    warm_up(&s);
    g_assert_cmpint(series_step(&s, 0, 0, TRUE, &event), ==, PS_EVENT_NONE);
    /* the surge is there from the first bucket after the gap; nothing opens while the
     * exporters may still be flushing their caches, then the summed score does */
    g_assert_cmpuint(buckets_to_open(&s, 30, &event), ==, s.config.gap_settle + 1);
}

static void
test_busy_port_small_ratio(void)
{
    Series s;
    PsAlertEvent event;

    /* 400 sources a minute with the same relative noise: 1.7x scores about 1.9 a bucket
     * here, so make the noise small enough that it scores far more */
    series_init(&s, 400);
    s.config.cusum_open = G_MAXDOUBLE; /* the slow path is for this, after a while: not tested */
    for (guint i = 0; i < PS_BASELINE_RECENT; i++)
        series_step(&s, 1 + 0.2 * (noise[i % G_N_ELEMENTS(noise)] - 1), 1, FALSE, &event);
    for (guint i = 0; i < 30; i++) {
        g_assert_cmpint(series_step(&s, 1.7, 1, FALSE, &event), ==, PS_EVENT_NONE);
        if (i < PS_DETECT_EVIDENCE) /* then the level starts to follow */
            g_assert_cmpfloat(s.state.evidence[0], >, 5);
    }
}

/* Buckets of factor x the baseline (small noise) until the incident resolves; 0 when not in
 * limit. */
static guint
buckets_to_resolve(Series *s, double factor, guint limit)
{
    PsAlertEvent event;

    for (guint i = 1; i <= limit; i++) {
        double wobble = 1 + 0.2 * (noise[i % G_N_ELEMENTS(noise)] - 1);
        if (series_step(s, factor * wobble, factor * wobble, FALSE, &event) == PS_EVENT_RESOLVE)
            return i;
    }
    return 0;
}

/* A busy port at 0.45x for a holiday learns a level of 0.5; back at work it runs 1.2x its
 * usual, 2.4x that level. Returns the bucket after the holiday that opened an incident, 0 when
 * none did in the first 100. */
static guint
holiday_then_busier(Series *s, double level_hit_max, double normal_ratio_min)
{
    PsAlertEvent event;

    series_init(s, 400);
    s->config.level_hit_max = level_hit_max;
    s->config.normal_ratio_min = normal_ratio_min;
    for (guint i = 0; i < 200; i++) {
        double wobble = 1 + 0.2 * (noise[i % G_N_ELEMENTS(noise)] - 1);
        g_assert_cmpint(series_step(s, 0.45 * wobble, 0.45 * wobble, FALSE, &event), ==,
                        PS_EVENT_NONE);
    }
    for (guint i = 1; i <= 100; i++) {
        if (series_step(s, 1.2, 1.2, FALSE, &event) == PS_EVENT_OPEN)
            return i;
    }
    return 0;
}

static void
test_holiday_recovery(void)
{
    Series s;

    /* 1.2x of what is normal at this time of day is no surge, whatever the level says */
    g_assert_cmpuint(holiday_then_busier(&s, 1, 1.3), ==, 0);
    /* without that guard it opens; hits and incident buckets teach the level up to normal,
     * so the incident resolves within an hour */
    g_assert_cmpuint(holiday_then_busier(&s, 1, 0), >, 0);
    g_assert_cmpuint(buckets_to_resolve(&s, 1.2, 60), >, 0);
    /* when they taught nothing, it stayed open */
    g_assert_cmpuint(holiday_then_busier(&s, 0, 0), >, 0);
    g_assert_cmpuint(buckets_to_resolve(&s, 1.2, 300), ==, 0);
}

/* After the warm-up, buckets of factors[m] x the baseline until an incident opens: the bucket
 * that opened it, 0 when none did within limit. */
static guint
warm_then_open(Series *s, const double *factors, guint limit)
{
    PsAlertEvent event;

    warm_up(s);
    for (guint i = 1; i <= limit; i++) {
        if (series_step_each(s, factors, FALSE, &event) == PS_EVENT_OPEN)
            return i;
    }
    return 0;
}

/* One scanner joins the 20 sources of a watched port and triples its SYN-only flows and
 * destinations (bytes flat); or, with scanner FALSE, half the sources go away and the
 * destinations stay. Returns the bucket that opened an incident, 0 when none in limit. */
static guint
one_scanner(Series *s, gboolean scanner, guint limit)
{
    static const double factors[PS_N_METRICS] = {21.0 / 20, 3, 3, 2.5, 1, 1, 1};
    static const double fewer[PS_N_METRICS] = {0.5, 1, 1, 1, 1, 1, 1};

    return warm_then_open(s, scanner ? factors : fewer, limit);
}

static void
test_one_scanner(void)
{
    Series s;

    /* destinations per source: 2.5x, z 4.6 (the counts' shared noise cancels), so two
     * buckets sum past the watched threshold; the weaker of SYN-only flows and destinations
     * scores about 3.4 a bucket and needs three */
    series_init(&s, 20);
    g_assert_cmpuint(one_scanner(&s, TRUE, 10), ==, 2);
    series_init(&s, 20);
    s.config.intensity_dests_ratio = 0;
    g_assert_cmpuint(one_scanner(&s, TRUE, 10), ==, 3);
    /* fewer sources raise the quotient as much, but the destinations did not rise */
    series_init(&s, 20);
    g_assert_cmpuint(one_scanner(&s, FALSE, 30), ==, 0);
}

/* A busy watched port whose recent buckets are mostly flat, with a bump to 1.7x and a dip to
 * 0.55x in every eight (neither is a hit, so both teach the level ring: a quarter of its
 * deviations are 0.5-0.6 on the log scale while its MAD is 0.03). Then `surge` x for `length`
 * buckets. Returns the bucket that opened an incident, 0 when none did. */
static guint
heavy_tailed_then(Series *s, double tail, double surge, guint length)
{
    static const double pattern[] = {1.7, 1.02, 0.98, 1.01, 0.55, 0.99, 1.03, 0.97};
    PsAlertEvent event;

    series_init(s, 400);
    s->config.recent_scale_tail = tail;
    for (guint i = 0; i < 3 * PS_BASELINE_RECENT; i++) {
        double factor = pattern[i % G_N_ELEMENTS(pattern)];
        g_assert_cmpint(series_step(s, factor, factor, FALSE, &event), ==, PS_EVENT_NONE);
    }
    for (guint i = 1; i <= length; i++) {
        if (series_step(s, surge, surge, FALSE, &event) == PS_EVENT_OPEN)
            return i;
    }
    return 0;
}

static void
test_heavy_tailed_noise(void)
{
    Series s;
    PsDetectConfig defaults;
    double tail;

    ps_detect_config_init(&defaults);
    tail = defaults.recent_scale_tail;

    /* the default spread takes the deviations' 0.9-quantile as the tail shows it (~0.36), so
     * two buckets at 2.3x score ~2.3 each: as ordinary for this port as its bumps */
    g_assert_cmpuint(heavy_tailed_then(&s, tail, 2.3, 2), ==, 0);
    /* the MAD alone (0.03, floored at 0.1) scores them 8: an incident on the port's own noise */
    g_assert_cmpuint(heavy_tailed_then(&s, 0, 2.3, 2), ==, 2);
    /* a real surge still opens at once */
    g_assert_cmpuint(heavy_tailed_then(&s, tail, 10, 3), >, 0);
    g_assert_cmpuint(heavy_tailed_then(&s, tail, 10, 3), <=, 2);
}

/* A quiet watched port (20 sources a minute, 6 of them new for a day) meets a wave of 40 new
 * scanners, 2 SYNs each: sources 3x, SYN-only flows and destinations ~3.7x, bytes 1.5x, new
 * sources 7.7x. With replaced TRUE its sources are as many as usual but 40 of them new (its
 * clients changed, nobody scans). Returns the bucket that opened an incident, 0 when none. */
static guint
new_wave(Series *s, gboolean replaced, guint limit)
{
    static const double wave[PS_N_METRICS] = {3, 110.0 / 30, 3.7, 3, 2, 1.5, 46.0 / 6};
    static const double changed[PS_N_METRICS] = {1, 1, 1, 1, 1, 1, 46.0 / 6};

    return warm_then_open(s, replaced ? changed : wave, limit);
}

/* The recent buckets too: the usual share of new sources is the last quarter hour's. */
static void
new_sources_init(Series *s, gboolean tracked_before)
{
    guint8 flags = tracked_before ? 0 : PS_SAMPLE_NO_NEW;

    series_init(s, 20);
    s->config.new_sources = 1; /* off by default */
    s->base[PS_METRIC_NEW] = 6;
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        for (guint k = 0; k < PS_BASELINE_SLOTS; k++) {
            s->history.same_time[d][k].value[PS_METRIC_NEW] = 6;
            s->history.same_time[d][k].flags |= flags;
        }
    }
    for (guint k = 0; k < PS_BASELINE_RECENT; k++) {
        s->history.recent[k] = s->history.same_time[0][0];
        s->history.recent[k].value[PS_METRIC_NEW] = k % 2 ? 5 : 7;
    }
}

static void
test_new_sources(void)
{
    Series s;

    /* new sources 7.7x score ~8 a bucket: two buckets sum past the watched threshold; the
     * counts alone (3x on 20 sources) need three */
    new_sources_init(&s, TRUE);
    g_assert_cmpuint(new_wave(&s, FALSE, 10), ==, 2);
    new_sources_init(&s, TRUE);
    s.config.new_sources = 0;
    g_assert_cmpuint(new_wave(&s, FALSE, 10), ==, 3);
    /* a collector that does not count them (no nnew field): the counts alone */
    new_sources_init(&s, TRUE);
    s.flags = PS_SAMPLE_NO_NEW;
    g_assert_cmpuint(new_wave(&s, FALSE, 10), ==, 3);
    /* counted only since today: no baseline of them yet, the counts alone */
    new_sources_init(&s, FALSE);
    g_assert_cmpuint(new_wave(&s, FALSE, 10), ==, 3);
    /* new sources without more sources: clients changed, nobody scans */
    new_sources_init(&s, TRUE);
    g_assert_cmpuint(new_wave(&s, TRUE, 30), ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/detect/summed-score-opens", test_summed_score_opens);
    g_test_add_func("/detect/without-summed-score", test_without_summed_score);
    g_test_add_func("/detect/settles-after-gap", test_settles_after_gap);
    g_test_add_func("/detect/busy-port-small-ratio", test_busy_port_small_ratio);
    g_test_add_func("/detect/holiday-recovery", test_holiday_recovery);
    g_test_add_func("/detect/one-scanner", test_one_scanner);
    g_test_add_func("/detect/heavy-tailed-noise", test_heavy_tailed_noise);
    g_test_add_func("/detect/new-sources", test_new_sources);
    return g_test_run();
}
