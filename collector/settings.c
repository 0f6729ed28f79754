#include "config.h"

#include <string.h>

#include "bucket.h"
#include "flush.h"
#include "logging.h"
#include "metrics.h"
#include "portproto.h"
#include "settings.h"
#include "socket.h"
#include "timearg.h"

#define NEW_SOURCES_HORIZON_MAX_S (366 * 86400)

/* ---- checks beyond type and range: each says what is expected ---- */

static gboolean
check_listen(const char *value, GError **error)
{
    PsAddress address;
    guint16 port;

    return ps_socket_parse_listen(value, &address, &port, error);
}

static gboolean
check_network(const char *value, GError **error)
{
    PsNetwork network;

    return ps_network_parse(value, &network, error);
}

static gboolean
check_bucket(const char *value, GError **error)
{
    guint64 step = g_ascii_strtoull(value, NULL, 10);

    if (ps_bucket_step_valid((guint)step))
        return TRUE;
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "expected 10 to 3600 seconds dividing an hour (10, 15, 30, 60, 300, ...), got "
                "'%s'",
                value);
    return FALSE;
}

static gboolean
check_service_port(const char *value, GError **error)
{
    if (g_ascii_string_to_unsigned(value, 10, 1, 65535, NULL, NULL))
        return TRUE;
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "expected a port from 1 to 65535, got '%s'", value);
    return FALSE;
}

/* A port of new_sources: the port alone, since every direction of it is tracked. */
static gboolean
check_new_sources_port(const char *value, GError **error)
{
    guint8 proto;
    guint16 port;

    if (strchr(value, '@') != NULL) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s': name the port only, such as tcp/445: its directions (@in, @out, @int) "
                    "are tracked with it",
                    value);
        return FALSE;
    }
    return ps_portproto_parse(value, &proto, &port, error);
}

static gboolean
check_horizon(const char *value, GError **error)
{
    gint64 seconds;

    if (!ps_duration_parse(value, &seconds, error))
        return FALSE;
    if (seconds <= NEW_SOURCES_HORIZON_MAX_S)
        return TRUE;
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "'%s': at most 366 days, such as 1d or 7d", value);
    return FALSE;
}

#define C(field) G_STRUCT_OFFSET(PsCollectorSettings, field)
#define L        PS_CONFFILE_LIVE

/* Order is the order of --help and of contrib/portsurge.conf. */
static const PsConffileKey collector_keys[] = {
    {"listen", PS_CONFFILE_LIST, C(listen), "[::]:2055, [::]:4739", 0, 0, 0, NULL, "ADDR:PORT",
     "UDP address to receive NetFlow/IPFIX on, repeatable ([::] is dual-stack)", NULL,
     check_listen},
    {"rcvbuf", PS_CONFFILE_INT, C(rcvbuf), "33554432", 4096, G_MAXINT32, 0, NULL, "BYTES",
     "Socket receive buffer to ask for", NULL, NULL},
    {"receive_queue", PS_CONFFILE_INT, C(receive_queue), "67108864", 1048576, G_MAXINT32, 0, NULL,
     "BYTES", "Datagrams received but not yet decoded, held in memory at most", NULL, NULL},
    {"allow", PS_CONFFILE_LIST, C(allow), NULL, 0, 0, L, NULL, "CIDR",
     "Exporters allowed to send, repeatable; others are dropped and counted (default: all)", NULL,
     check_network},
    {"sampling", PS_CONFFILE_INT, C(sampling), "1", 1, G_MAXINT32, L, NULL, "N",
     "Sampling interval to assume when an exporter does not say", NULL, NULL},
    {"stats_interval", PS_CONFFILE_INT, C(stats_interval), "60", 1, 86400, L, NULL, "S",
     "Seconds between per-exporter summaries in the log", NULL, NULL},
    {"metrics", PS_CONFFILE_STRING, C(metrics), NULL, 0, 0, 0, NULL, "ADDR:PORT",
     "Serve Prometheus metrics over HTTP at /metrics (default: off)", NULL,
     ps_metrics_parse_listen},
    {"user", PS_CONFFILE_STRING, C(user), NULL, 0, 0, 0, NULL, "NAME",
     "Started as root: become this user after binding (default: portsurge if it exists)", NULL,
     NULL},
    {"log_level", PS_CONFFILE_STRING, C(log_level), "message", 0, 0, L, NULL, "LEVEL",
     "warning, message, info or debug", NULL, ps_logging_check_level},
    {"collector_id", PS_CONFFILE_STRING, C(collector_id), NULL, 0, 0, 0, NULL, "ID",
     "Name of this collector in Redis (default: host name)", NULL, NULL},
    {"bucket", PS_CONFFILE_INT, C(bucket), "60", 1, 3600, 0, NULL, "S",
     "Bucket length in seconds, dividing an hour", NULL, check_bucket},
    {"flush_interval", PS_CONFFILE_INT, C(flush_interval), "5", 1, 3600, L, NULL, "S",
     "Seconds between writes to Redis", NULL, NULL},
    {"grace", PS_CONFFILE_INT, C(grace), "90", 0, 86400, 0, NULL, "S",
     "Seconds a bucket stays open for late flows after it ends", NULL, NULL},
    {"home_networks", PS_CONFFILE_LIST, C(home_networks), NULL, 0, 0, L, "home-network", "CIDR",
     "Your own networks, repeatable: counts are also kept inbound, outbound and internal "
     "(default: none)",
     NULL, check_network},
    {"service_ports", PS_CONFFILE_LIST, C(service_ports), NULL, 0, 0, L, "service-port", "PORT",
     "Ports of 1024 and above to treat as service (well-known) ports, repeatable "
     "(default: none)",
     NULL, check_service_port},
    {"top_k", PS_CONFFILE_INT, C(top_k), "10", 1, 1000, 0, NULL, "K",
     "Heaviest sources kept per port and bucket", NULL, NULL},
    {"max_series", PS_CONFFILE_INT, C(max_series), "20000", 2, 10000000, 0, NULL, "N",
     "Ports tracked per bucket; the rest count as 'other'", NULL, NULL},
    {"max_sources", PS_CONFFILE_INT, C(max_sources), "1000000", 1, 100000000, 0, NULL, "N",
     "(port, source) pairs tracked per bucket for the top K", NULL, NULL},
    {"new_sources", PS_CONFFILE_LIST, C(new_sources), PS_DEFAULT_WATCHED, 0, 0, 0, NULL, "PORT",
     "Ports whose sources new to them are counted per bucket (field nnew), repeatable; empty: "
     "none",
     NULL, check_new_sources_port},
    {"new_sources_horizon", PS_CONFFILE_STRING, C(new_sources_horizon), "1d", 0, 0, 0, NULL,
     "DURATION", "A source not seen on the port for this long counts as new again", NULL,
     check_horizon},
    {"new_sources_max", PS_CONFFILE_INT, C(new_sources_max), "50000", 1, 10000000, 0, NULL, "N",
     "Sources remembered per port for new_sources; beyond, the longest unseen are forgotten", NULL,
     NULL},
    {"max_pending", PS_CONFFILE_INT, C(max_pending), "268435456", 1, G_GINT64_CONSTANT(1) << 40, 0,
     NULL, "BYTES",
     "Bytes of flushes held while Redis is down; beyond, the oldest is dropped and counted", NULL,
     NULL},
    {"redis_chunk", PS_CONFFILE_INT, C(redis_chunk), G_STRINGIFY(PS_FLUSH_CHUNK_SERIES), 1,
     10000000, 0, NULL, "N",
     "Ports per Redis transaction: a flush goes as several, paced, so Redis is never held long",
     NULL, NULL},
    {"clock_tolerance", PS_CONFFILE_INT, C(clock_tolerance), "300", 1, 86400, 0, NULL, "S",
     "Seconds an exporter's clock may be off before arrival time is used", NULL, NULL},
    {"minute_ttl_days", PS_CONFFILE_INT, C(minute_ttl_days), G_STRINGIFY(PS_BUCKET_MINUTE_TTL_DAYS),
     1, 3650, 0, NULL, "DAYS", "Days minute buckets are kept", NULL, NULL},
    {"hour_ttl_days", PS_CONFFILE_INT, C(hour_ttl_days), G_STRINGIFY(PS_BUCKET_HOUR_TTL_DAYS), 1,
     3650, 0, NULL, "DAYS", "Days hour buckets are kept", NULL, NULL},
};

#undef C
#undef L

static const PsConffileSection collector_section = {"collector", FALSE, collector_keys,
                                                    G_N_ELEMENTS(collector_keys)};

static const PsConffileSection *const sections[] = {&collector_section, &ps_redis_config_section,
                                                    NULL};

/* Where a section's values live in the settings. */
static gpointer
section_target(PsCollectorSettings *settings, const PsConffileSection *section)
{
    return section == &ps_redis_config_section ? (gpointer)&settings->redis : (gpointer)settings;
}

static gconstpointer
section_target_const(const PsCollectorSettings *settings, const PsConffileSection *section)
{
    return section == &ps_redis_config_section ? (gconstpointer)&settings->redis
                                               : (gconstpointer)settings;
}

PsConffileOptions *
ps_settings_options_new(void)
{
    return ps_conffile_options_new(sections);
}

void
ps_settings_free(PsCollectorSettings *settings)
{
    if (settings == NULL)
        return;
    for (guint i = 0; sections[i] != NULL; i++)
        ps_conffile_clear(sections[i], section_target(settings, sections[i]));
    g_free(settings);
}

PsCollectorSettings *
ps_settings_load(const char *path, const PsConffileOptions *options, gboolean verbose,
                 GError **error)
{
    g_autoptr(PsCollectorSettings) settings = g_new0(PsCollectorSettings, 1);
    g_autoptr(PsConffile) file = NULL;

    if (path != NULL) {
        file = ps_conffile_load(path, error);
        if (file == NULL || !ps_conffile_check_groups(file, ps_conffile_known_groups, error))
            return NULL;
    }
    for (guint i = 0; sections[i] != NULL; i++) {
        gpointer target = section_target(settings, sections[i]);
        ps_conffile_defaults(sections[i], target);
        if (!ps_conffile_apply(file, sections[i], sections[i]->name, target, error) ||
            !ps_conffile_options_apply(options, sections[i], target, error))
            return NULL;
    }
    if (verbose) {
        g_free(settings->log_level);
        settings->log_level = g_strdup("info");
    }
    return g_steal_pointer(&settings);
}

guint
ps_settings_keep_restart_keys(PsCollectorSettings *next, const PsCollectorSettings *running)
{
    guint kept = 0;

    for (guint s = 0; sections[s] != NULL; s++) {
        gpointer to = section_target(next, sections[s]);
        gconstpointer from = section_target_const(running, sections[s]);
        for (guint i = 0; i < sections[s]->n_keys; i++) {
            const PsConffileKey *key = &sections[s]->keys[i];
            g_autofree gchar *wanted = NULL;
            g_autofree gchar *kept_value = NULL;
            if ((key->flags & PS_CONFFILE_LIVE) || ps_conffile_equal(key, to, from))
                continue;
            wanted = ps_conffile_format(key, to);
            kept_value = ps_conffile_format(key, from);
            g_warning("reload: [%s] %s = %s needs a restart; keeping %s", sections[s]->name,
                      key->key, wanted, kept_value);
            ps_conffile_copy(key, to, from);
            kept++;
        }
    }
    return kept;
}

void
ps_settings_classes(const PsCollectorSettings *settings, PsAggregateConfig *config,
                    GArray *networks, GArray *ports)
{
    g_array_set_size(networks, 0);
    g_array_set_size(ports, 0);
    for (guint i = 0; settings->home_networks != NULL && settings->home_networks[i] != NULL; i++) {
        PsNetwork network;
        if (ps_network_parse(settings->home_networks[i], &network, NULL))
            g_array_append_val(networks, network);
    }
    for (guint i = 0; settings->service_ports != NULL && settings->service_ports[i] != NULL; i++) {
        guint16 port = (guint16)g_ascii_strtoull(settings->service_ports[i], NULL, 10);
        g_array_append_val(ports, port);
    }
    config->home_networks = networks->len > 0 ? &g_array_index(networks, PsNetwork, 0) : NULL;
    config->n_home_networks = networks->len;
    config->service_ports = ports->len > 0 ? &g_array_index(ports, guint16, 0) : NULL;
    config->n_service_ports = ports->len;
}

void
ps_settings_aggregate_config(const PsCollectorSettings *settings, PsAggregateConfig *config,
                             GArray *networks, GArray *ports)
{
    ps_aggregate_config_init(config);
    config->step = (guint)settings->bucket;
    config->grace_s = (guint)settings->grace;
    config->clock_tolerance_ms = settings->clock_tolerance * 1000;
    config->retention_s = settings->minute_ttl_days * 86400;
    config->max_series = (guint)settings->max_series;
    config->max_sources = (guint)settings->max_sources;
    config->top_k = (guint)settings->top_k;
    config->new_sources = (const char *const *)settings->new_sources;
    ps_settings_classes(settings, config, networks, ports);
}

guint
ps_settings_new_sources_horizon(const PsCollectorSettings *settings)
{
    gint64 seconds = 0;

    if (settings->new_sources_horizon == NULL ||
        !ps_duration_parse(settings->new_sources_horizon, &seconds, NULL))
        return 0;
    return (guint)MIN(seconds, NEW_SOURCES_HORIZON_MAX_S);
}
