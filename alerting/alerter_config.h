/* The alerter's configuration: the [alerter] section, one [webhook NAME] section per receiver
 * and the shared [redis] section of portsurge.conf, with their command-line options. Loaded
 * at start and again on SIGHUP; a reload with an error keeps the running configuration. */
#pragma once

#include "alerter.h"
#include "conffile.h"
#include "courier.h"
#include "keys.h" /* PS_DEFAULT_WATCHED, shared with the collector's new_sources */
#include "redis_config.h"

typedef struct {
    gchar **watch;
    gint64 bucket;
    gint64 interval;
    gint64 min_sources;
    gint64 min_flows;
    gint64 max_series;
    gint64 broad_scan_ports;
    gchar *z_min; /* numbers kept as text: the tables have no floating type */
    gchar *ratio_min;
    gchar *watched_z_min;
    gchar *watched_sum_z;
    gboolean new_sources_route;
    gint64 cooldown;
    gint64 reminder;
    gint64 dead_letter_after;
    gint64 max_outbox;
    gchar *metrics;
    gboolean verbose;
} PsAlerterSettings;

extern const PsConffileSection ps_alerter_config_section;
extern const PsConffileSection ps_webhook_config_section;

/* Everything one load gives. */
typedef struct {
    PsAlerterSettings settings;
    PsRedisConfig redis;
    PsRedisAddress address;
    PsAlerterConfig alerter; /* points into settings and owns receivers */
    PsCourierConfig courier;
    GPtrArray *receivers; /* PsReceiver */
} PsAlerterConfiguration;

/* Loads path (NULL: defaults only) and applies the command line. FALSE with error naming the
 * file, line and key, or the option, and what is expected. */
gboolean ps_alerter_configuration_load(PsAlerterConfiguration *configuration, const char *path,
                                       const PsConffileOptions *options, GError **error);
/* The same from a file already read (NULL: defaults only); the fuzz target's way in. */
gboolean ps_alerter_configuration_from_file(PsAlerterConfiguration *configuration,
                                            const PsConffile *file,
                                            const PsConffileOptions *options, GError **error);
void ps_alerter_configuration_clear(PsAlerterConfiguration *configuration);

/* Recomputes alerter and courier from settings and redis: after the struct was copied (they
 * point into it) or its values changed. */
void ps_alerter_configuration_refresh(PsAlerterConfiguration *configuration);

/* Gives loaded the running values of what a reload cannot change. */
void ps_alerter_configuration_keep_restart_values(PsAlerterConfiguration *loaded,
                                                  const PsAlerterConfiguration *running);

/* What a reload cannot change (bucket, Redis, metrics listener), as one message, or NULL when
 * nothing of that kind differs. Free with g_free. */
gchar *ps_alerter_configuration_restart_needed(const PsAlerterConfiguration *running,
                                               const PsAlerterConfiguration *loaded);
