#include "config.h"

#include <math.h>
#include <string.h>

#include "rng.h"
#include "sim.h"

#define WEEK            (7 * PS_SIM_DAY)
#define OUTAGE_BUCKETS  20
#define RECOVERY_BUCKETS 15
#define FLASH_BUCKETS   120
#define BACKUP_HOUR     2
#define BACKUP_BUCKETS  60
#define STEP_FACTOR     1.5
#define SAMPLING_KEEP   0.65 /* share of distinct sources/destinations left at half the rate */
#define MISSING_RATE    0.0005
#define NEW_PHI         0.98 /* scanning campaigns come and go over an hour or so */
#define NEW_FLASH_SHARE 0.5  /* a flash crowd's clients: half of them new to the port */
#define NEW_STEP_TAU    60.0 /* the sources of a lasting step stop being new within hours */

static const guint watched_ports[] = {445, 139, 135, 3389, 22, 23, 1433, 3306, 5900, 6379};
/* sources per minute at the daily mean at a site of scale 1 (a /16 facing the Internet) */
static const double watched_levels[] = {300, 25, 30, 80, 80, 200, 40, 30, 25, 30};
static const guint service_ports[] = {443, 80,  53,   123,  25,   8080, 8443, 993, 587,  3128,
                                      1194, 161, 500, 4500, 5060, 1723, 110,  143, 465, 9200};
static const double service_levels[] = {400, 200, 100, 40};

gint64
ps_sim_time(guint i)
{
    return PS_SIM_T0 + (gint64)i * PS_SIM_STEP;
}

gboolean
ps_sim_weekend(guint i)
{
    return (i / PS_SIM_DAY) % 7 >= 5;
}

static gboolean
is_holiday(const PsSimDataset *dataset, guint day)
{
    return day == dataset->holiday_day[0] || day == dataset->holiday_day[1];
}

static double
day_jitter(const PsSimDataset *dataset, guint index, guint day)
{
    PsRng rng;

    ps_rng_seed(&rng, dataset->seed * 1000003u + index * 7919u + day + 17);
    return exp(0.05 * ps_rng_normal(&rng));
}

double
ps_sim_expected(const PsSimDataset *dataset, guint index, guint i)
{
    const PsSimSeriesParams *p = &dataset->series[index];
    guint day = i / PS_SIM_DAY, dow = day % 7;
    double hour = (double)(i % PS_SIM_DAY) / 60.0;
    double shape = 1 + p->amp1 * cos(2 * G_PI * (hour - p->peak_hour) / 24) +
                   p->amp2 * cos(4 * G_PI * (hour - p->phase2) / 24);
    double factor = dow < 5 ? p->weekday[dow] : p->weekend;

    if (is_holiday(dataset, day))
        factor *= 1 - 0.6 * p->human;
    factor *= exp(p->drift * i / WEEK) * day_jitter(dataset, index, day);
    if (p->step_at >= 0 && i >= (guint)p->step_at)
        factor *= STEP_FACTOR;
    return p->level * MAX(shape, 0.1) * factor;
}

static void
draw_watched(PsRng *rng, PsSimSeriesParams *p, guint k, double scale)
{
    p->port = watched_ports[k];
    p->watched = p->scan = TRUE;
    p->level = watched_levels[k] * scale;
    p->amp1 = ps_rng_uniform(rng, 0.05, 0.25);
    p->amp2 = ps_rng_uniform(rng, 0, 0.05);
    p->weekend = ps_rng_uniform(rng, 0.85, 1.05);
    p->human = ps_rng_uniform(rng, 0, 0.15);
    p->syn_share = ps_rng_uniform(rng, 0.6, 0.9);
    p->flows_per_source = ps_rng_uniform(rng, 1.2, 2.5);
    p->servers = ps_rng_uniform(rng, 2, 30);
}

static void
draw_other(PsRng *rng, PsSimSeriesParams *p, guint k, double scale)
{
    gboolean service = k < G_N_ELEMENTS(service_ports);

    p->port = service ? service_ports[k] : 1024 + ps_rng_below(rng, 64000);
    if (service)
        p->level = (k < G_N_ELEMENTS(service_levels) ? service_levels[k]
                                                     : exp(ps_rng_uniform(rng, log(3), log(60)))) *
                   scale;
    else
        p->level = exp(ps_rng_uniform(rng, log(0.5), log(40))) * scale;
    p->amp1 = ps_rng_uniform(rng, service ? 0.3 : 0, service ? 0.8 : 0.6);
    p->amp2 = ps_rng_uniform(rng, 0.0, 0.2);
    p->weekend = ps_rng_uniform(rng, service ? 0.4 : 0.5, service ? 0.9 : 1.0);
    p->human = ps_rng_uniform(rng, service ? 0.5 : 0, service ? 1 : 0.8);
    p->syn_share = service ? ps_rng_uniform(rng, 0.02, 0.15) : ps_rng_uniform(rng, 0.1, 0.8);
    p->flows_per_source = service ? ps_rng_uniform(rng, 2, 8) : ps_rng_uniform(rng, 1, 5);
    p->servers = service ? ps_rng_uniform(rng, 2, 50) : ps_rng_uniform(rng, 1, 10);
    p->flash = p->port == 443;
}

/* New sources, from a stream of their own so that every other draw stays what it was before
 * they were simulated (the same datasets, comparable runs). The shares are assumptions: a
 * watched port facing the Internet sees scanners, many of them back within a day, a service
 * port mostly its returning clients (tests/eval/README.md, session 9). */
static void
draw_new_sources(const PsSimDataset *dataset, guint index, PsSimSeriesParams *p)
{
    PsRng rng;
    gboolean service = !p->scan && p->port < 1024;

    ps_rng_seed(&rng, dataset->seed * 0x2545F4914F6CDD1Dull + index * 104729u + 5);
    if (p->scan)
        p->new_share = ps_rng_uniform(&rng, dataset->new_share_min, dataset->new_share_max);
    else
        p->new_share = service ? ps_rng_uniform(&rng, 0.05, 0.3) : ps_rng_uniform(&rng, 0.1, 0.6);
    p->new_sigma = ps_rng_uniform(&rng, 0.2, 0.5);
}

static void
draw_series(PsRng *rng, PsSimDataset *dataset, guint index, double scale)
{
    PsSimSeriesParams *p = &dataset->series[index];
    guint k = index % dataset->ports_per_site;
    guint n_watched = MIN(dataset->ports_per_site / 2, G_N_ELEMENTS(watched_ports));

    memset(p, 0, sizeof(*p));
    p->site = index / dataset->ports_per_site;
    if (k < n_watched)
        draw_watched(rng, p, k, scale);
    else
        draw_other(rng, p, k - n_watched, scale);
    p->peak_hour = p->scan ? ps_rng_uniform(rng, 0, 24) : 14 + 2 * ps_rng_normal(rng);
    p->phase2 = ps_rng_uniform(rng, 0, 24);
    for (guint d = 0; d < 5; d++)
        p->weekday[d] = ps_rng_uniform(rng, 0.93, 1.07);
    p->ar_sigma = ps_rng_uniform(rng, 0.05, 0.15);
    p->theta = exp(ps_rng_uniform(rng, log(20), log(200)));
    p->dest_space = 65536 * scale;
    p->packets_per_flow = ps_rng_uniform(rng, 5, 30);
    p->bytes_per_packet = ps_rng_uniform(rng, 100, 1200);
    p->drift = ps_rng_uniform(rng, -0.15, 0.15);
    p->backup = p->port == 445;
    p->step_at = -1;
    if (ps_rng_uniform(rng, 0, 1) < 0.03)
        p->step_at = dataset->scored_from +
                     ps_rng_below(rng, dataset->n_buckets - dataset->scored_from - PS_SIM_DAY);
    draw_new_sources(dataset, index, p);
}

/* The next bucket at or after cursor where an injection of this placement may start. */
static guint
place_start(PsRng *rng, const PsSimSeriesParams *p, PsSimPlace place, guint cursor)
{
    double hour = place == PS_SIM_PLACE_TROUGH ? p->peak_hour + 12 : p->peak_hour;
    guint minute = ((guint)(fmod(hour, 24) * 60) + PS_SIM_DAY - 30 + ps_rng_below(rng, 60)) %
                   PS_SIM_DAY;
    guint day = cursor / PS_SIM_DAY;

    switch (place) {
    case PS_SIM_PLACE_PEAK:
    case PS_SIM_PLACE_TROUGH:
        while (day % 7 >= 5 || day * PS_SIM_DAY + minute < cursor)
            day++;
        return day * PS_SIM_DAY + minute;
    case PS_SIM_PLACE_WEEKEND:
        minute = ps_rng_below(rng, PS_SIM_DAY);
        while (day % 7 < 5 || day * PS_SIM_DAY + minute < cursor)
            day++;
        return day * PS_SIM_DAY + minute;
    default:
        return cursor;
    }
}

/* Whether [start, end) touches the site's outage or flash crowd windows (injections there
 * would measure those events, not the detector). */
static gboolean
collides(const PsSimDataset *dataset, guint site, guint start, guint end)
{
    gint a = dataset->outage_at[site], f = dataset->flash_at[site];

    return ((gint)end > a - 60 && (gint)start < a + OUTAGE_BUCKETS + RECOVERY_BUCKETS + 120) ||
           ((gint)end > f - 60 && (gint)start < f + FLASH_BUCKETS + 120);
}

static void
schedule_series(PsRng *rng, PsSimDataset *dataset, guint index)
{
    static const double sizes[] = {1.5, 2, 3, 5, 10, 20};
    static const guint minutes[] = {5, 30, 180, 1440};
    const PsSimSeriesParams *p = &dataset->series[index];
    double gap_min = p->watched ? 6 * 60 : 24 * 60, gap_max = p->watched ? 48 * 60 : 96 * 60;
    guint cursor = dataset->scored_from + (guint)ps_rng_uniform(rng, 60, gap_max);

    for (;;) {
        PsSimInjection injection = {.series = index};
        injection.size = sizes[ps_rng_below(rng, G_N_ELEMENTS(sizes))];
        if (dataset->only_size > 0)
            injection.size = dataset->only_size;
        injection.minutes = minutes[ps_rng_below(rng, G_N_ELEMENTS(minutes))];
        injection.shape = ps_rng_below(rng, PS_SIM_N_SHAPES);
        injection.concentrated = ps_rng_below(rng, 2);
        injection.place = ps_rng_below(rng, PS_SIM_N_PLACES);
        injection.start = place_start(rng, p, injection.place, cursor);
        injection.end = injection.start + injection.minutes;
        if (injection.end + 2 * PS_SIM_GRACE >= dataset->n_buckets)
            break;
        if (collides(dataset, p->site, injection.start, injection.end)) {
            cursor = injection.end + 60;
            continue;
        }
        injection.level = ps_sim_expected(dataset, index, injection.start);
        g_array_append_val(dataset->injections, injection);
        cursor = injection.end + (guint)ps_rng_uniform(rng, gap_min, gap_max);
    }
}

static void
draw_site_events(PsRng *rng, PsSimDataset *dataset, guint site)
{
    guint span = dataset->n_buckets - dataset->scored_from - 2 * PS_SIM_DAY;

    dataset->outage_at[site] = dataset->scored_from + ps_rng_below(rng, span);
    /* flash crowds happen in busy hours: 10:00 - 20:00 on some scored day */
    dataset->flash_at[site] = (dataset->scored_from / PS_SIM_DAY + ps_rng_below(rng, span / PS_SIM_DAY)) *
                                  PS_SIM_DAY +
                              600 + ps_rng_below(rng, 600);
    dataset->site_missing[site] = g_new0(guint8, dataset->n_buckets);
    for (guint i = 0; i < dataset->n_buckets; i++)
        dataset->site_missing[site][i] = ps_rng_uniform(rng, 0, 1) < MISSING_RATE;
}

PsSimDataset *
ps_sim_dataset_new(guint64 seed, guint n_sites, guint ports_per_site, guint days,
                   guint scored_from_day, double only_size, double new_share_min,
                   double new_share_max)
{
    PsSimDataset *dataset = g_new0(PsSimDataset, 1);
    PsRng rng;
    double scale[PS_SIM_MAX_SITES];

    g_return_val_if_fail(n_sites <= PS_SIM_MAX_SITES && days > scored_from_day + 3, NULL);
    ps_rng_seed(&rng, seed);
    dataset->seed = seed;
    dataset->only_size = only_size;
    dataset->new_share_min = new_share_min;
    dataset->new_share_max = new_share_max;
    dataset->n_sites = n_sites;
    dataset->ports_per_site = ports_per_site;
    dataset->days = days;
    dataset->scored_from_day = scored_from_day;
    dataset->n_buckets = days * PS_SIM_DAY;
    dataset->scored_from = scored_from_day * PS_SIM_DAY;
    /* one weekday holiday in the history, one in the scored days */
    dataset->holiday_day[0] = 7 + 1 + ps_rng_below(&rng, 3);
    dataset->holiday_day[1] = scored_from_day + 1 + ps_rng_below(&rng, 3);
    dataset->backup_from_day = scored_from_day + 1;
    for (guint s = 0; s < n_sites; s++) {
        scale[s] = s == 0 ? 1.0 : exp(ps_rng_uniform(&rng, log(0.4), log(2.5)));
        draw_site_events(&rng, dataset, s);
    }
    dataset->sampling_site = ps_rng_below(&rng, n_sites);
    dataset->sampling_at = dataset->scored_from + ps_rng_below(&rng, 3 * PS_SIM_DAY);
    dataset->n_series = n_sites * ports_per_site;
    dataset->series = g_new0(PsSimSeriesParams, dataset->n_series);
    dataset->injections = g_array_new(FALSE, TRUE, sizeof(PsSimInjection));
    dataset->first_injection = g_new0(guint, dataset->n_series + 1);
    for (guint i = 0; i < dataset->n_series; i++)
        draw_series(&rng, dataset, i, scale[i / ports_per_site]);
    for (guint i = 0; i < dataset->n_series; i++) {
        dataset->first_injection[i] = dataset->injections->len;
        /* every watched series, and one in ten of the others */
        if (dataset->series[i].watched || ps_rng_below(&rng, 10) == 0)
            schedule_series(&rng, dataset, i);
    }
    dataset->first_injection[dataset->n_series] = dataset->injections->len;
    return dataset;
}

void
ps_sim_dataset_free(PsSimDataset *dataset)
{
    if (dataset == NULL)
        return;
    for (guint s = 0; s < dataset->n_sites; s++)
        g_free(dataset->site_missing[s]);
    g_free(dataset->series);
    g_array_unref(dataset->injections);
    g_free(dataset->first_injection);
    g_free(dataset);
}

void
ps_sim_series_init(PsSimSeries *series, guint n)
{
    series->n = n;
    series->sample = g_new0(PsSample, n);
    series->cause = g_new0(guint8, n);
    series->expected = g_new0(float, n);
    series->known_mean = g_new0(float, n);
    series->known_syn = g_new0(float, n);
}

void
ps_sim_series_clear(PsSimSeries *series)
{
    g_clear_pointer(&series->sample, g_free);
    g_clear_pointer(&series->cause, g_free);
    g_clear_pointer(&series->expected, g_free);
    g_clear_pointer(&series->known_mean, g_free);
    g_clear_pointer(&series->known_syn, g_free);
}

/* Buckets a ramp takes to reach its size. */
static guint
ramp_rise(const PsSimInjection *injection)
{
    return MAX(injection->minutes / 3, 1u);
}

guint
ps_sim_injection_full(const PsSimInjection *injection)
{
    if (injection->shape != PS_SIM_SHAPE_RAMP)
        return injection->start;
    return injection->start + ramp_rise(injection) - 1;
}

/* Multiplier of the injection's extra traffic at bucket i: 0 outside, up to size - 1. */
static double
injection_extra(const PsSimInjection *injection, guint i)
{
    guint k = i - injection->start;

    if (i < injection->start || i >= injection->end)
        return 0;
    switch (injection->shape) {
    case PS_SIM_SHAPE_RAMP:
        return (injection->size - 1) * MIN(1.0, (double)(k + 1) / ramp_rise(injection));
    case PS_SIM_SHAPE_BURST:
        return k % 4 < 2 ? injection->size - 1 : 0;
    default:
        return injection->size - 1;
    }
}

/* Traffic of one bucket before it is turned into metrics. */
typedef struct {
    double sources, injected, flash, fresh, new_sources, flows, syn, scan_syn, extra_dests, extra_packets, extra_bytes;
} Traffic;

/* Share of an injection's sources at bucket i that the port has not seen for a day. A few
 * concentrated scanners are new in their first bucket only. A distributed wave's are new
 * while its pool of sources is not yet covered: a bot scanning the whole address space comes
 * back to one /16 every few minutes to hours, so the share decays with a time constant drawn
 * per injection from 5 to 120 buckets (an internal worm's hosts scan every minute: they are new
 * once, and the share is that of hosts newly infected, which a growing wave keeps high). */
static double
injection_new_share(const PsSimDataset *dataset, const PsSimInjection *injection, guint i)
{
    PsRng rng;
    double tau;

    if (injection->concentrated)
        return i == injection->start ? 1 : 0;
    ps_rng_seed(&rng, dataset->seed * 0x9E3779B97F4A7C15ull + injection->series * 7u +
                          injection->start * 31u + 3);
    tau = exp(ps_rng_uniform(&rng, log(5), log(120)));
    return exp(-(double)(i - injection->start) / tau);
}

static void
add_surge(PsRng *rng, const PsSimSeriesParams *p, const PsSimInjection *injection, double m,
          double rate, Traffic *traffic)
{
    double syn;

    if (m <= 0)
        return;
    if (injection->concentrated) {
        double sources = 1 + ps_rng_below(rng, 3);
        traffic->sources += sources;
        traffic->injected += sources;
        syn = ps_rng_poisson(rng, m * rate * p->flows_per_source);
    } else {
        double sources = ps_rng_poisson(rng, m * rate);
        traffic->sources += sources;
        traffic->injected += sources;
        syn = ps_rng_poisson(rng, 2 * sources);
    }
    traffic->flows += syn;
    traffic->syn += syn;
    traffic->scan_syn += syn;
}

static double
thin(PsRng *rng, double count, double keep)
{
    double sd = sqrt(count * keep * (1 - keep));

    return MAX(0, round(count * keep + sd * ps_rng_normal(rng)));
}

static void
to_sample(PsRng *rng, const PsSimSeriesParams *p, const Traffic *traffic, double keep,
          PsSample *sample)
{
    double other = traffic->flows - traffic->scan_syn;
    double dests = p->dest_space * (1 - exp(-traffic->scan_syn / p->dest_space)) +
                   p->servers * (1 - exp(-other / p->servers)) + traffic->extra_dests;
    double plain = traffic->flows - traffic->syn;

    dests = MAX(0, round(dests + 0.3 * sqrt(dests) * ps_rng_normal(rng)));
    sample->value[PS_METRIC_SOURCES] = keep < 1 ? thin(rng, traffic->sources, keep) : traffic->sources;
    sample->value[PS_METRIC_NEW] = MIN(traffic->new_sources, sample->value[PS_METRIC_SOURCES]);
    sample->value[PS_METRIC_DESTS] = keep < 1 ? thin(rng, dests, keep) : dests;
    sample->value[PS_METRIC_SYN] = traffic->syn;
    sample->value[PS_METRIC_FLOWS] = traffic->flows;
    sample->value[PS_METRIC_PACKETS] =
        round(traffic->syn * 1.3 + plain * p->packets_per_flow) + traffic->extra_packets;
    sample->value[PS_METRIC_BYTES] =
        round(traffic->syn * 1.3 * 60 + plain * p->packets_per_flow * p->bytes_per_packet) +
        traffic->extra_bytes;
    sample->flags = 0;
}

/* Sources unseen on the port for a day, from the new-sources stream alone: the background's
 * share (its log-odds wander, campaigns come and go), the injection's, half a flash crowd's,
 * and the first sources of a lasting step. */
static void
count_new_sources(PsRng *rng, const PsSimDataset *dataset, const PsSimSeriesParams *p,
                  const PsSimInjection *injection, guint i, double background, double logit,
                  double keep, Traffic *traffic)
{
    double base = log(p->new_share / (1 - p->new_share));
    double share = 1 / (1 + exp(-(base + logit)));
    double fresh = traffic->fresh;

    if (injection != NULL && i >= injection->start && i < injection->end)
        fresh += thin(rng, traffic->injected, injection_new_share(dataset, injection, i));
    if (p->step_at >= 0 && i >= (guint)p->step_at)
        fresh += thin(rng, background / 3, exp(-(double)(i - (guint)p->step_at) / NEW_STEP_TAU));
    traffic->new_sources =
        thin(rng, background, share) + thin(rng, traffic->flash, NEW_FLASH_SHARE) + fresh;
    if (keep < 1)
        traffic->new_sources = thin(rng, traffic->new_sources, keep);
}

/* Multiplier of the whole series' traffic after a collector outage; sets missing in it. */
static double
event_factor(const PsSimDataset *dataset, const PsSimSeriesParams *p, guint i, gboolean *missing)
{
    gint a = dataset->outage_at[p->site], k;
    double factor = 1;

    *missing = dataset->site_missing[p->site][i] != 0;
    k = (gint)i - a;
    if (k >= 0 && k < OUTAGE_BUCKETS)
        *missing = TRUE;
    k -= OUTAGE_BUCKETS;
    if (k >= 0 && k < RECOVERY_BUCKETS) /* exporters flush what they cached */
        factor *= k < 5 ? 1.5 : 1.5 - 0.5 * (k - 4) / (RECOVERY_BUCKETS - 5);
    return factor;
}

/* The flash crowd's extra clients at bucket i, as a multiple of the series' rate (0 outside it):
 * rising over 10 minutes to twice the usual, so three times the clients, for two hours. */
static double
flash_multiplier(const PsSimDataset *dataset, const PsSimSeriesParams *p, guint i)
{
    gint k = (gint)i - dataset->flash_at[p->site];

    if (!p->flash || k < 0 || k >= FLASH_BUCKETS)
        return 0;
    return 2 * MIN(1.0, MIN((k + 1) / 10.0, (FLASH_BUCKETS - k) / 20.0));
}

/* A flash crowd: three times the clients of 443 for two hours, to the same servers, with the
 * usual share of failed handshakes. */
static void
add_flash(PsRng *rng, const PsSimDataset *dataset, const PsSimSeriesParams *p, guint i,
          double rate, Traffic *traffic)
{
    double m = flash_multiplier(dataset, p, i), sources, flows;

    if (m <= 0)
        return;
    sources = ps_rng_negbin(rng, m * rate, p->theta);
    flows = ps_rng_negbin(rng, sources * p->flows_per_source, 50);
    traffic->sources += sources;
    traffic->flash += sources;
    traffic->flows += flows;
    traffic->syn += thin(rng, flows, p->syn_share);
}

static PsSimCause
cause_of(const PsSimDataset *dataset, const PsSimSeriesParams *p, guint i)
{
    gint a = dataset->outage_at[p->site], f = dataset->flash_at[p->site];
    guint day = i / PS_SIM_DAY, minute = i % PS_SIM_DAY;

    if ((gint)i >= a && (gint)i < a + OUTAGE_BUCKETS + RECOVERY_BUCKETS + 60)
        return PS_SIM_CAUSE_OUTAGE;
    if (p->flash && (gint)i >= f && (gint)i < f + FLASH_BUCKETS + 30)
        return PS_SIM_CAUSE_FLASH;
    if (p->backup && day >= dataset->backup_from_day && minute >= BACKUP_HOUR * 60 &&
        minute < BACKUP_HOUR * 60 + BACKUP_BUCKETS + 30)
        return PS_SIM_CAUSE_BACKUP;
    if (p->step_at >= 0 && i >= (guint)p->step_at && i < (guint)p->step_at + 5 * PS_SIM_DAY)
        return PS_SIM_CAUSE_STEP;
    if ((gint)p->site == dataset->sampling_site && (gint)i >= dataset->sampling_at &&
        (gint)i < dataset->sampling_at + 8 * PS_SIM_DAY)
        return PS_SIM_CAUSE_SAMPLING;
    if (is_holiday(dataset, day) || (day > 0 && is_holiday(dataset, day - 1)))
        return PS_SIM_CAUSE_HOLIDAY;
    return PS_SIM_CAUSE_NONE;
}

static gboolean
backup_running(const PsSimDataset *dataset, const PsSimSeriesParams *p, guint i)
{
    guint day = i / PS_SIM_DAY, minute = i % PS_SIM_DAY;

    return p->backup && day >= dataset->backup_from_day && minute >= BACKUP_HOUR * 60 &&
           minute < BACKUP_HOUR * 60 + BACKUP_BUCKETS;
}

static void
add_backup(PsRng *rng, const PsSimDataset *dataset, const PsSimSeriesParams *p, guint i,
           Traffic *traffic)
{
    guint day = i / PS_SIM_DAY, minute = i % PS_SIM_DAY;
    double flows;

    if (!backup_running(dataset, p, i))
        return;
    /* one host, one file server, many SMB sessions moving a lot of data */
    flows = ps_rng_poisson(rng, 400);
    traffic->sources += 1;
    traffic->fresh += day == dataset->backup_from_day && minute == BACKUP_HOUR * 60;
    traffic->flows += flows;
    traffic->syn += ps_rng_poisson(rng, 2);
    traffic->extra_dests += 1;
    traffic->extra_packets += flows * 2000;
    traffic->extra_bytes += flows * 2000 * 1400;
}

void
ps_sim_series_fill(const PsSimDataset *dataset, guint index, PsSimSeries *series)
{
    const PsSimSeriesParams *p = &dataset->series[index];
    const PsSimInjection *injections =
        &g_array_index(dataset->injections, PsSimInjection, dataset->first_injection[index]);
    guint n_injections = dataset->first_injection[index + 1] - dataset->first_injection[index];
    guint next = 0;
    double ar = 0, innovation = p->ar_sigma * sqrt(1 - PS_SIM_AR_PHI * PS_SIM_AR_PHI);
    double new_logit = 0, new_innovation = p->new_sigma * sqrt(1 - NEW_PHI * NEW_PHI);
    PsRng rng, new_rng;

    g_return_if_fail(series->n == dataset->n_buckets);
    ps_rng_seed(&rng, dataset->seed * 0x9E3779B97F4A7C15ull + index + 1);
    ps_rng_seed(&new_rng, dataset->seed * 0xD1B54A32D192ED03ull + index + 11);
    for (guint i = 0; i < dataset->n_buckets; i++) {
        double expected = ps_sim_expected(dataset, index, i), rate, keep = 1, sources;
        gboolean missing;
        double factor = event_factor(dataset, p, i, &missing);
        Traffic traffic = {0};

        ar = PS_SIM_AR_PHI * ar + innovation * ps_rng_normal(&rng);
        rate = expected * exp(ar);
        series->expected[i] = expected;
        series->cause[i] = cause_of(dataset, p, i);
        sources = ps_rng_negbin(&rng, rate * factor, p->theta);
        traffic.sources = sources;
        traffic.flows = MAX(sources, ps_rng_negbin(&rng, sources * p->flows_per_source, 50));
        traffic.syn = thin(&rng, traffic.flows, p->syn_share);
        traffic.scan_syn = p->scan ? traffic.syn : 0.3 * traffic.syn;
        while (next < n_injections && injections[next].end <= i)
            next++;
        if (next < n_injections)
            add_surge(&rng, p, &injections[next], injection_extra(&injections[next], i), rate,
                      &traffic);
        add_backup(&rng, dataset, p, i, &traffic);
        add_flash(&rng, dataset, p, i, rate, &traffic);
        if ((gint)p->site == dataset->sampling_site && (gint)i >= dataset->sampling_at)
            keep = SAMPLING_KEEP;
        series->known_mean[i] =
            (expected * (factor + flash_multiplier(dataset, p, i)) + backup_running(dataset, p, i)) *
            keep;
        /* flows per source, their SYN-only share, the backup's 2 a minute; not thinned by the
         * sampling change (to_sample) */
        series->known_syn[i] =
            expected * (factor + flash_multiplier(dataset, p, i)) * p->flows_per_source *
                p->syn_share +
            2 * backup_running(dataset, p, i);
        new_logit = NEW_PHI * new_logit + new_innovation * ps_rng_normal(&new_rng);
        count_new_sources(&new_rng, dataset, p, next < n_injections ? &injections[next] : NULL, i,
                          sources, new_logit, keep, &traffic);
        to_sample(&rng, p, &traffic, keep, &series->sample[i]);
        if (missing) {
            memset(&series->sample[i], 0, sizeof(PsSample));
            series->sample[i].flags = PS_SAMPLE_MISSING;
        }
    }
}

const char *
ps_sim_cause_name(PsSimCause cause)
{
    static const char *names[PS_SIM_N_CAUSES] = {"background", "flash-443", "backup-445",
                                                 "outage",     "step+50%",  "sampling",
                                                 "holiday"};

    return cause < PS_SIM_N_CAUSES ? names[cause] : "?";
}

const char *
ps_sim_shape_name(PsSimShape shape)
{
    static const char *names[PS_SIM_N_SHAPES] = {"step", "ramp", "burst"};

    return shape < PS_SIM_N_SHAPES ? names[shape] : "?";
}

const char *
ps_sim_place_name(PsSimPlace place)
{
    static const char *names[PS_SIM_N_PLACES] = {"peak", "trough", "weekend", "any"};

    return place < PS_SIM_N_PLACES ? names[place] : "?";
}
