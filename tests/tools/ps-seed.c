/* ps-seed: writes synthetic history into Redis through the schema library, as the collector
 * would have: minute buckets (closed) and their hour roll-ups for a set of ports, with a daily
 * and weekly rhythm and noise, and optional surges. For the alerter's tests, its --replay, and
 * the demo. Deterministic for a given --seed. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bucket.h"
#include "keys.h"
#include "redis.h"

typedef struct {
    gchar *series;
    gint64 start;
    gint64 duration;
    double factor;
    double syn_share; /* SYN-only share of the surge's extra flows */
} Surge;

typedef struct {
    gchar *redis;
    gchar *prefix;
    gchar *ports;
    gchar **surges;
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
    /* SERIES@START+SECONDS*FACTOR, e.g. tcp/445@1700000000+1800*10 */
    g_auto(GStrv) at = g_strsplit(text, "@", 2);
    gchar *plus, *star;

    if (at[1] == NULL || (plus = strchr(at[1], '+')) == NULL || (star = strchr(plus, '*')) == NULL)
        return FALSE;
    surge->series = g_strdup(at[0]);
    surge->start = g_ascii_strtoll(at[1], NULL, 10);
    surge->duration = g_ascii_strtoll(plus + 1, NULL, 10);
    surge->factor = g_ascii_strtod(star + 1, NULL);
    surge->syn_share = 0.9;
    return surge->factor > 0 && surge->duration > 0;
}

static double
surge_factor(const Surge *surges, guint n, const char *series, gint64 t)
{
    for (guint i = 0; i < n; i++) {
        if (g_str_equal(surges[i].series, series) && t >= surges[i].start &&
            t < surges[i].start + surges[i].duration)
            return surges[i].factor;
    }
    return 1.0;
}

static void
write_bucket(PsRedisPipeline *pipeline, const char *prefix, guint step, gint64 t, const char *series,
             double sources, double flows, double syn, guint ttl_days)
{
    g_autofree gchar *key = ps_key_bucket(prefix, step, t);
    g_autofree gchar *closed = ps_key_closed(prefix, step);
    const char *metrics[] = {"nsrc", "ndst", "flows", "syn", "pkts", "bytes"};
    double values[] = {sources, MAX(1, sources * 0.4), flows, syn, flows * 4, flows * 400};
    g_autofree gchar *start = g_strdup_printf("%" G_GINT64_FORMAT, t);
    g_autofree gchar *ttl = g_strdup_printf("%u", ttl_days * 86400);

    for (guint m = 0; m < G_N_ELEMENTS(metrics); m++) {
        g_autofree gchar *field = ps_field(series, metrics[m]);
        g_autofree gchar *value = g_strdup_printf("%.0f", values[m]);
        ps_redis_pipeline_command(pipeline, "HINCRBY", key, field, value, NULL);
    }
    ps_redis_pipeline_command(pipeline, "EXPIRE", key, ttl, NULL);
    ps_redis_pipeline_command(pipeline, "ZADD", closed, start, start, NULL);
}

int
main(int argc, char **argv)
{
    Options o = {.days = 21, .seed = 1, .level = 30};
    GOptionEntry entries[] = {
        {"redis", 0, 0, G_OPTION_ARG_STRING, &o.redis, "Redis URL or socket", "URL"},
        {"prefix", 0, 0, G_OPTION_ARG_STRING, &o.prefix, "Key prefix (ps:)", "P"},
        {"ports", 0, 0, G_OPTION_ARG_STRING, &o.ports, "Series, comma separated", "LIST"},
        {"days", 0, 0, G_OPTION_ARG_INT, &o.days, "Days of history (21)", "N"},
        {"end", 0, 0, G_OPTION_ARG_INT64, &o.end, "End (exclusive), Unix seconds (now)", "T"},
        {"seed", 0, 0, G_OPTION_ARG_INT, &o.seed, "Random seed (1)", "N"},
        {"level", 0, 0, G_OPTION_ARG_DOUBLE, &o.level, "Mean sources per minute (30)", "N"},
        {"surge", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.surges,
         "SERIES@START+SECONDS*FACTOR, repeatable", "SURGE"},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context = g_option_context_new("- write synthetic history");
    g_autoptr(GError) error = NULL;
    PsRedisAddress address;
    g_autoptr(redisContext) redis = NULL;
    g_auto(GStrv) series = NULL;
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
    rand = g_rand_new_with_seed(o.seed);
    if (o.end == 0)
        o.end = ps_bucket_start(g_get_real_time() / G_USEC_PER_SEC, 60);
    first = ps_bucket_start(o.end - (gint64)o.days * 86400, 3600);
    for (gint64 hour = first; hour < o.end; hour += 3600) {
        PsRedisPipeline pipeline;
        ps_redis_pipeline_init(&pipeline, redis);
        for (guint s = 0; series[s] != NULL; s++) {
            double hour_sources = 0, hour_flows = 0, hour_syn = 0;
            for (gint64 t = hour; t < hour + 3600 && t < o.end; t += 60) {
                double factor = surge_factor((Surge *)surges->data, surges->len, series[s], t);
                double base = poisson(rand, normal_sources(o.level, t));
                double sources = factor > 1 ? floor(base * factor) : base;
                double flows = base * 3 + (factor > 1 ? (factor - 1) * base * 3 : 0);
                double syn = base * 0.3 + (factor > 1 ? (factor - 1) * base * 3 * 0.9 : 0);
                write_bucket(&pipeline, prefix, 60, t, series[s], sources, flows, syn, 8);
                hour_sources += sources * 0.5; /* distinct over an hour: fewer than the sum */
                hour_flows += flows;
                hour_syn += syn;
            }
            if (hour + 3600 <= o.end)
                write_bucket(&pipeline, prefix, 3600, hour, series[s], hour_sources, hour_flows,
                             hour_syn, 400);
        }
        if (!ps_redis_pipeline_finish(&pipeline, NULL, NULL, &error)) {
            g_printerr("%s\n", error->message);
            return 1;
        }
        ps_redis_pipeline_clear(&pipeline);
    }
    printf("seeded %u series, %d days, up to %" G_GINT64_FORMAT "\n", g_strv_length(series), o.days,
           o.end);
    return 0;
}
