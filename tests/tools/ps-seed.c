/* ps-seed: writes synthetic history into Redis through the schema library, as the collector
 * would have: minute buckets (closed) and their hour roll-ups for a set of ports, with a daily
 * and weekly rhythm and noise, and optional surges. For the alerter's tests, its --replay, and
 * the demo. Deterministic for a given --seed. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bucket.h"
#include "keys.h"
#include "redis.h"

typedef enum {
    SURGE_SCAN,   /* many sources, unanswered SYNs to many destinations */
    SURGE_CROWD,  /* a flash crowd: more sources, connections complete, same servers */
    SURGE_BACKUP, /* one source moving a lot of bytes */
} SurgeKind;

typedef struct {
    SurgeKind kind;
    gchar *series;
    gint64 start;
    gint64 duration;
    double factor;
} Surge;

typedef struct {
    double sources, dests, flows, syn, packets, bytes;
    double fresh; /* sources unseen on the port for a day (nnew), for --new-sources series */
} Values;

#define RECOVERY_S      1200 /* after an outage, the backlog arrives: 1.5x for 20 minutes */
#define RECOVERY_FACTOR 1.5

typedef struct {
    gchar *redis;
    gchar *prefix;
    gchar *ports;
    gchar **surges;
    gchar **outages;
    gchar *new_sources; /* series whose buckets get nnew, comma separated */
    gdouble new_share;
    gint days;
    gint64 end;
    gint seed;
    gdouble level;
} Options;

/* Normal rate of sources for a port at time t: a daily cosine, quieter weekends. */
static double
normal_sources(double level, gint64 t)
{
    double hour = (double)(t % 86400) / 3600.0;
    gint64 day = t / 86400;
    gboolean weekend = ((day + 3) % 7) >= 5;
    double daily = 1.0 + 0.6 * cos((hour - 14.0) / 24.0 * 2 * G_PI);

    return level * daily * (weekend ? 0.5 : 1.0);
}

static double
poisson(GRand *rand, double mean)
{
    /* normal approximation with a floor: fine for a simulator, and fast */
    double value = mean + sqrt(mean) * (g_rand_double(rand) + g_rand_double(rand) +
                                        g_rand_double(rand) - 1.5) * 2.0;
    return MAX(0, floor(value + 0.5));
}

static gboolean
parse_surge(const char *text, Surge *surge)
{
    /* [KIND:]SERIES@START+SECONDS*FACTOR, e.g. scan:tcp/445@1700000000+1800*10 */
    static const char *kinds[] = {"scan:", "crowd:", "backup:"};
    g_auto(GStrv) at = NULL;
    gchar *plus, *star;

    surge->kind = SURGE_SCAN;
    for (guint k = 0; k < G_N_ELEMENTS(kinds); k++) {
        if (g_str_has_prefix(text, kinds[k])) {
            surge->kind = k;
            text += strlen(kinds[k]);
        }
    }
    at = g_strsplit(text, "@", 2);
    if (at[1] == NULL || (plus = strchr(at[1], '+')) == NULL || (star = strchr(plus, '*')) == NULL)
        return FALSE;
    surge->series = g_strdup(at[0]);
    surge->start = g_ascii_strtoll(at[1], NULL, 10);
    surge->duration = g_ascii_strtoll(plus + 1, NULL, 10);
    surge->factor = g_ascii_strtod(star + 1, NULL);
    return surge->factor > 0 && surge->duration > 0;
}

/* A bucket's normal values from its mean number of sources, then what surges do to them. */
static Values
normal_values(GRand *rand, double mean_sources, double new_share)
{
    Values v;

    v.sources = poisson(rand, mean_sources);
    v.dests = MAX(1, floor(v.sources * 0.4));
    v.flows = v.sources * 3;
    v.syn = floor(v.flows * 0.1);
    v.packets = v.flows * 8;
    v.bytes = v.flows * 900;
    v.fresh = floor(v.sources * new_share);
    return v;
}

static void
apply_surge(const Surge *surge, Values *v)
{
    double f = surge->factor, extra_flows;

    switch (surge->kind) {
    case SURGE_SCAN: /* new sources each sending unanswered SYNs to many hosts */
        extra_flows = (f - 1) * v->flows;
        v->fresh += floor(v->sources * f) - v->sources;
        v->sources = floor(v->sources * f);
        v->dests = floor(v->dests * f);
        v->flows += extra_flows;
        v->syn += floor(extra_flows * 0.9);
        v->packets += extra_flows;
        v->bytes += extra_flows * 60;
        break;
    case SURGE_CROWD: /* everything scales, the SYN share and the servers stay; half of the
                       * crowd has not come here for a day */
        v->fresh += floor((f - 1) * v->sources * 0.5);
        v->sources = floor(v->sources * f);
        v->flows *= f;
        v->syn = floor(v->syn * f);
        v->packets *= f;
        v->bytes *= f;
        break;
    case SURGE_BACKUP:
        v->sources += 1;
        v->dests += 1;
        v->flows += 4;
        v->packets += 1e6 * f;
        v->bytes += 1.4e9 * f;
        break;
    }
}

static void
scale_values(Values *v, double factor)
{
    v->sources = floor(v->sources * factor);
    v->fresh = floor(v->fresh * factor);
    v->dests = floor(v->dests * factor);
    v->flows *= factor;
    v->syn = floor(v->syn * factor);
    v->packets *= factor;
    v->bytes *= factor;
}

/* TRUE when bucket t lies in an outage (START+SECONDS): the collector wrote nothing. */
static gboolean
in_outage(gchar **outages, gint64 t, double *recovery)
{
    *recovery = 1.0;
    for (guint i = 0; outages != NULL && outages[i] != NULL; i++) {
        gint64 start = g_ascii_strtoll(outages[i], NULL, 10);
        const char *plus = strchr(outages[i], '+');
        gint64 end = start + (plus != NULL ? g_ascii_strtoll(plus + 1, NULL, 10) : 0);
        if (t >= start && t < end)
            return TRUE;
        if (t >= end && t < end + RECOVERY_S)
            *recovery = RECOVERY_FACTOR;
    }
    return FALSE;
}

/* The top sources of a minute: a scanning source tops every port it scans. */
static void
write_top(PsRedisPipeline *pipeline, const char *prefix, gint64 t, const char *series,
          const Values *v, GArray *surges, const char *name)
{
    g_autofree gchar *key = ps_key_bucket_series(prefix, 60, t, "top", series);
    g_autofree gchar *normal = g_strdup_printf("%.0f", MAX(1, v->flows / 20));

    ps_redis_pipeline_command(pipeline, "ZADD", key, normal, "192.0.2.10", NULL);
    for (guint i = 0; i < surges->len; i++) {
        const Surge *surge = &g_array_index(surges, Surge, i);
        if (surge->kind == SURGE_SCAN && g_str_equal(surge->series, name) && t >= surge->start &&
            t < surge->start + surge->duration) {
            g_autofree gchar *flows = g_strdup_printf("%.0f", v->syn / 2);
            ps_redis_pipeline_command(pipeline, "ZADD", key, flows, "203.0.113.66", NULL);
        }
    }
    ps_redis_pipeline_command(pipeline, "EXPIRE", key, "691200", NULL);
}

/* counts_new: the collector counts this series' new sources (minute buckets only). */
static void
write_bucket(PsRedisPipeline *pipeline, const char *prefix, guint step, gint64 t, const char *series,
             const Values *v, guint ttl_days, gboolean counts_new)
{
    g_autofree gchar *key = ps_key_bucket(prefix, step, t);
    g_autofree gchar *closed = ps_key_closed(prefix, step);
    const char *metrics[] = {"nsrc", "ndst", "flows", "syn", "pkts", "bytes"};
    double values[] = {v->sources, v->dests, v->flows, v->syn, v->packets, v->bytes};
    g_autofree gchar *start = g_strdup_printf("%" G_GINT64_FORMAT, t);
    g_autofree gchar *ttl = g_strdup_printf("%u", ttl_days * 86400);

    for (guint m = 0; m < G_N_ELEMENTS(metrics); m++) {
        g_autofree gchar *field = ps_field(series, metrics[m]);
        g_autofree gchar *value = g_strdup_printf("%.0f", values[m]);
        ps_redis_pipeline_command(pipeline, "HINCRBY", key, field, value, NULL);
    }
    if (counts_new) {
        g_autofree gchar *field = ps_field(series, "nnew");
        g_autofree gchar *value = g_strdup_printf("%.0f", MIN(v->fresh, v->sources));
        ps_redis_pipeline_command(pipeline, "HINCRBY", key, field, value, NULL);
    }
    ps_redis_pipeline_command(pipeline, "EXPIRE", key, ttl, NULL);
    ps_redis_pipeline_command(pipeline, "ZADD", closed, start, start, NULL);
}

int
main(int argc, char **argv)
{
    Options o = {.days = 21, .seed = 1, .level = 30, .new_share = 0.3};
    GOptionEntry entries[] = {
        {"redis", 0, 0, G_OPTION_ARG_STRING, &o.redis, "Redis URL or socket", "URL"},
        {"prefix", 0, 0, G_OPTION_ARG_STRING, &o.prefix, "Key prefix (ps:)", "P"},
        {"ports", 0, 0, G_OPTION_ARG_STRING, &o.ports, "Series, comma separated", "LIST"},
        {"days", 0, 0, G_OPTION_ARG_INT, &o.days, "Days of history (21)", "N"},
        {"end", 0, 0, G_OPTION_ARG_INT64, &o.end, "End (exclusive), Unix seconds (now)", "T"},
        {"seed", 0, 0, G_OPTION_ARG_INT, &o.seed, "Random seed (1)", "N"},
        {"level", 0, 0, G_OPTION_ARG_DOUBLE, &o.level, "Mean sources per minute (30)", "N"},
        {"surge", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.surges,
         "[scan|crowd|backup:]SERIES@START+SECONDS*FACTOR, repeatable", "SURGE"},
        {"new-sources", 0, 0, G_OPTION_ARG_STRING, &o.new_sources,
         "Series whose minute buckets count sources new for a day (nnew), comma separated",
         "LIST"},
        {"new-share", 0, 0, G_OPTION_ARG_DOUBLE, &o.new_share,
         "Share of the usual sources that are new (0.3); a scan's are all new", "F"},
        {"outage", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.outages,
         "START+SECONDS: no buckets written, then 20 minutes at 1.5x, repeatable", "OUTAGE"},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context = g_option_context_new("- write synthetic history");
    g_autoptr(GError) error = NULL;
    PsRedisAddress address;
    g_autoptr(redisContext) redis = NULL;
    g_auto(GStrv) series = NULL;
    g_auto(GStrv) counting_new = NULL;
    g_autoptr(GArray) surges = g_array_new(FALSE, TRUE, sizeof(Surge));
    g_autoptr(GRand) rand = NULL;
    const char *prefix;
    gint64 first;

    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error) || o.redis == NULL ||
        !ps_redis_address_parse(o.redis, &address, &error)) {
        g_printerr("%s\n", error != NULL ? error->message : "--redis is required");
        return 2;
    }
    for (guint i = 0; o.surges != NULL && o.surges[i] != NULL; i++) {
        Surge surge;
        if (!parse_surge(o.surges[i], &surge)) {
            g_printerr("--surge %s: expected SERIES@START+SECONDS*FACTOR\n", o.surges[i]);
            return 2;
        }
        g_array_append_val(surges, surge);
    }
    redis = ps_redis_connect(&address, 5000, &error);
    if (redis == NULL) {
        g_printerr("%s\n", error->message);
        return 1;
    }
    prefix = o.prefix != NULL ? o.prefix : PS_KEYS_DEFAULT_PREFIX;
    series = g_strsplit(o.ports != NULL ? o.ports : "tcp/445,tcp/443,udp/53,tcp/22", ",", -1);
    counting_new = g_strsplit(o.new_sources != NULL ? o.new_sources : "", ",", -1);
    rand = g_rand_new_with_seed(o.seed);
    if (o.end == 0)
        o.end = ps_bucket_start(g_get_real_time() / G_USEC_PER_SEC, 60);
    first = ps_bucket_start(o.end - (gint64)o.days * 86400, 3600);
    for (gint64 hour = first; hour < o.end; hour += 3600) {
        PsRedisPipeline pipeline;
        ps_redis_pipeline_init(&pipeline, redis);
        for (guint s = 0; series[s] != NULL; s++) {
            Values hour_total = {0};
            for (gint64 t = hour; t < hour + 3600 && t < o.end; t += 60) {
                Values v = normal_values(rand, normal_sources(o.level, t), o.new_share);
                double recovery;
                for (guint i = 0; i < surges->len; i++) {
                    const Surge *surge = &g_array_index(surges, Surge, i);
                    if (g_str_equal(surge->series, series[s]) && t >= surge->start &&
                        t < surge->start + surge->duration)
                        apply_surge(surge, &v);
                }
                if (in_outage(o.outages, t, &recovery))
                    continue;
                write_top(&pipeline, prefix, t, series[s], &v, surges, series[s]);
                scale_values(&v, recovery);
                write_bucket(&pipeline, prefix, 60, t, series[s], &v, 8,
                             g_strv_contains((const gchar *const *)counting_new, series[s]));
                /* distinct counts over an hour are fewer than the sum of its minutes */
                hour_total.sources += v.sources * 0.5;
                hour_total.dests += v.dests * 0.5;
                hour_total.flows += v.flows;
                hour_total.syn += v.syn;
                hour_total.packets += v.packets;
                hour_total.bytes += v.bytes;
            }
            if (hour + 3600 <= o.end)
                write_bucket(&pipeline, prefix, 3600, hour, series[s], &hour_total, 400, FALSE);
        }
        if (!ps_redis_pipeline_finish(&pipeline, NULL, NULL, &error)) {
            g_printerr("%s\n", error->message);
            return 1;
        }
        ps_redis_pipeline_clear(&pipeline);
    }
    printf("seeded %u series, %d days, up to %" G_GINT64_FORMAT "\n", g_strv_length(series), o.days,
           o.end);
    for (guint i = 0; i < surges->len; i++)
        g_free(g_array_index(surges, Surge, i).series);
    ps_redis_address_clear(&address);
    g_free(o.redis);
    g_free(o.prefix);
    g_free(o.ports);
    g_free(o.new_sources);
    g_strfreev(o.surges);
    g_strfreev(o.outages);
    return 0;
}
