/* The collector's configuration: [collector] and [redis] of portsurge.conf, overridden by the
 * command line (conffile.h does the reading; this file holds the collector's key table).
 *
 * Loaded once at start and again on every SIGHUP into a fresh PsCollectorSettings: a reload
 * that fails leaves the running one untouched, and keys that cannot change while running
 * (listen addresses, bucket length, Redis, ...) keep their running value with a warning. */
#pragma once

#include "aggregate.h"
#include "conffile.h"
#include "redis_config.h"

#define PS_SETTINGS_DEFAULT_PATH PS_CONFFILE_DEFAULT_PATH

typedef struct {
    /* [collector] */
    gchar **listen;
    gint64 rcvbuf;
    gint64 receive_queue;
    gint64 sampling;
    gint64 stats_interval;
    gchar **allow;
    gchar *metrics;
    gchar *user;
    gchar *log_level;
    gchar *collector_id;
    gint64 bucket;
    gint64 flush_interval;
    gint64 grace;
    gchar **home_networks;
    gchar **service_ports;
    gint64 top_k;
    gint64 max_series;
    gint64 max_sources;
    gchar **new_sources;
    gchar *new_sources_horizon; /* a duration as typed ("1d"): ps_settings_new_sources_horizon */
    gint64 new_sources_max;
    gint64 max_pending;
    gint64 redis_chunk;
    gint64 clock_tolerance;
    gint64 minute_ttl_days;
    gint64 hour_ttl_days;
    /* [redis] */
    PsRedisConfig redis;
} PsCollectorSettings;

/* The command-line options of every key; keep until the last ps_settings_load(). */
PsConffileOptions *ps_settings_options_new(void);

/* Defaults, then path (NULL: none), then the command line, then --verbose (log level info).
 * NULL with error (FILE:LINE: [section] key: what is expected) on anything wrong. */
PsCollectorSettings *ps_settings_load(const char *path, const PsConffileOptions *options,
                                      gboolean verbose, GError **error);
void ps_settings_free(PsCollectorSettings *settings);

/* For a reload: every key that cannot change while running and differs in next gets the
 * running value back, with a warning naming it ("needs a restart"). Returns how many. */
guint ps_settings_keep_restart_keys(PsCollectorSettings *next, const PsCollectorSettings *running);

/* Fills the live part of an aggregation config (home networks, service ports) into the two
 * arrays (PsNetwork, guint16) that config then points at; the values were checked at load. */
void ps_settings_classes(const PsCollectorSettings *settings, PsAggregateConfig *config,
                         GArray *networks, GArray *ports);

/* The whole aggregation config (classes included, into the arrays as above). */
void ps_settings_aggregate_config(const PsCollectorSettings *settings, PsAggregateConfig *config,
                                  GArray *networks, GArray *ports);

/* new_sources_horizon in seconds (checked at load). */
guint ps_settings_new_sources_horizon(const PsCollectorSettings *settings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsCollectorSettings, ps_settings_free)
