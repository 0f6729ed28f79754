/* Read-only questions to the Redis schema that are bigger than one key: a series over a time
 * range, the busiest series of a window, the alert stream, the extent of the data held. The
 * portsurge CLI asks them. (The alerter's messages read a bucket's top sources with the rest
 * of what they say, in one round trip: message.c.)
 *
 * Every range is read with pipelined requests (PS_QUERY_PIPELINE_BATCH commands per round
 * trip), never one round trip per bucket, and only for buckets the closed sets
 * (ps:closed:<step>) name: a bucket that never closed is missing, not zero, exactly as the
 * alerter sees it (history.c). A closed bucket without a series' fields means zero for it.
 *
 * Points longer than a stored bucket add up their buckets: counters (flows, packets, bytes,
 * SYN-only) are summed; distinct counts (sources, destinations) cannot be summed, so a point
 * holds the largest of its buckets' (a lower bound of the true union). Points of an hour or
 * more are read from the hourly roll-ups (ps:b:3600:*), which live 400 days instead of 8. */
#pragma once

#include <hiredis/hiredis.h>

#include "baseline.h"

#define PS_QUERY_PIPELINE_BATCH 1000    /* commands per round trip */
#define PS_QUERY_MAX_POINTS     1000000 /* points per series: a ceiling on memory */

typedef struct {
    redisContext *redis; /* borrowed */
    const char *prefix;
    guint step; /* the collector's bucket length (60) */
} PsQuery;

/* Every series of names over [since, until), one point per step. */
typedef struct {
    gint64 since;      /* start of the first point (a multiple of step) */
    guint step;        /* seconds per point */
    guint source_step; /* stored buckets read: the minute step, or 3600 */
    guint n_points;
    guint n_series;
    guint n_closed;    /* stored buckets that were read */
    PsSample *samples; /* [series * n_points + point]; PS_SAMPLE_MISSING when none closed */
} PsQueryRange;

/* Reads names (strings) over [since, until) at step (a multiple of the minute step, and of an
 * hour when it is one or longer). Caller frees with ps_query_range_free. NULL with error set on
 * a Redis failure or a step that does not fit. */
PsQueryRange *ps_query_range_read(const PsQuery *query, GPtrArray *names, gint64 since,
                                  gint64 until, guint step, GError **error);
void ps_query_range_free(PsQueryRange *range);

/* The sample of series i at point p (p may be outside the range: a missing sample). */
const PsSample *ps_query_range_sample(const PsQueryRange *range, guint series, gint64 point);

/* Adds bucket `from` into the point `into` with the rule above (sum counters, largest distinct
 * count); a missing `from` changes nothing. */
void ps_query_sample_add(PsSample *into, const PsSample *from);

/* Totals of every series seen in the closed minute buckets of [since, until): series name ->
 * PsSample, by the rule above; "other" and the quality fields are left out. *n_buckets counts
 * the closed buckets read. NULL with error on a Redis failure. */
GHashTable *ps_query_totals(const PsQuery *query, gint64 since, gint64 until, guint *n_buckets,
                            GError **error);

/* Oldest and newest closed bucket of the given step; both 0 when none is held. */
gboolean ps_query_extent(const PsQuery *query, guint step, gint64 *oldest, gint64 *newest,
                         GError **error);

/* One entry of the ps:alerts stream (state.c writes them). */
typedef struct {
    gchar *stream_id;
    gint64 bucket;
    gchar *id;    /* incident: "<series>@<opened_at>" */
    gchar *event; /* open, escalate, remind, resolve */
    gchar *series;
    gchar *severity;
    gchar *json; /* the event as sent (event.c) */
} PsQueryAlert;

/* Alert events whose bucket lies in [since, until), oldest first, of one series (NULL: all).
 * A GPtrArray of PsQueryAlert that frees them. NULL with error on a Redis failure. */
GPtrArray *ps_query_alerts(const PsQuery *query, gint64 since, gint64 until, const char *series,
                           GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsQueryRange, ps_query_range_free)
