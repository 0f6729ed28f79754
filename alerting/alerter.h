/* The alerter's engine: for each closed bucket, which series to look at (watched ports, ports
 * active enough, series with an incident), their history from Redis, the pure detector, and
 * the events. Live and --replay run this same code; replay keeps state in memory only. */
#pragma once

#include <hiredis/hiredis.h>

#include "detect.h"

typedef struct {
    PsDetectConfig detect;
    const char *prefix;
    guint step;
    gchar **watched;        /* series names ("tcp/445"); directions of them are watched too */
    double min_sources;     /* a port is evaluated when its bucket has this many sources ... */
    double min_flows;       /* ... or this many flows */
    guint max_series;       /* busiest first, besides the watched ones */
    guint broad_scan_ports; /* more ports than this opening in one bucket with the same top
                             * sources are one "broad scan" incident (20) */
    GPtrArray *receivers;   /* PsReceiver: messages for them go to the outbox with each event
                             * (live only); NULL: none. Referenced, not copied. */
} PsAlerterConfig;

/* The series name under which a broad scan is reported. */
#define PS_BROAD_SCAN_SERIES "broad-scan"

/* Called for every event, in order. */
typedef void (*PsEventFn)(const char *series, gboolean watched, const PsAlertEvent *event,
                          const char *json, gpointer user_data);

typedef struct PsAlerter PsAlerter;

/* persist: write state, events and progress to Redis (live); FALSE for --replay. */
PsAlerter *ps_alerter_new(const PsAlerterConfig *config, redisContext *redis, gboolean persist,
                          PsEventFn fn, gpointer user_data);
void ps_alerter_free(PsAlerter *alerter);

/* Loads saved incident state and the last bucket evaluated (live). */
gboolean ps_alerter_restore(PsAlerter *alerter, gint64 *last_bucket, GError **error);

/* Rebuilds level factors from the buckets before `before`, without events. */
gboolean ps_alerter_warm_up(PsAlerter *alerter, gint64 before, GError **error);

/* Evaluates bucket t (closed) and emits its events. */
gboolean ps_alerter_process(PsAlerter *alerter, gint64 t, GError **error);

/* Evaluates every closed bucket after `after` up to `until`; returns the last one seen. */
gboolean ps_alerter_run(PsAlerter *alerter, gint64 after, gint64 until, gint64 *last,
                        GError **error);

/* Time of the evaluation of one bucket in the last call, in CPU microseconds (pure part). */
gint64 ps_alerter_last_cpu_us(const PsAlerter *alerter);

/* The Redis connection to use from now on (a new one, after a reconnect): named after the
 * alerter (CLIENT SETNAME) so that a bucket whose saving failed can be settled (once.h). */
void ps_alerter_set_redis(PsAlerter *alerter, redisContext *redis);

/* Sets a new configuration (after a reload); state is kept. */
void ps_alerter_set_config(PsAlerter *alerter, const PsAlerterConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsAlerter, ps_alerter_free)
