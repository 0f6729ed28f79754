/* The time span of `series` and `plot`: --since, --until and --step turned into a range of
 * points read from Redis with the look-back their baselines need.
 *
 * Without --step the step follows the span: the minute buckets up to 6 hours, hours up to 60
 * days, days beyond; and hours whenever the span starts before the oldest minute bucket held,
 * so the hourly roll-ups (kept 400 days) serve what the minute buckets (8 days) no longer
 * hold. */
#pragma once

#include "cli.h"

#define PS_SPAN_DEFAULT_SINCE "7d"
#define PS_SPAN_MINUTES_UP_TO (6 * 3600)
#define PS_SPAN_HOURS_UP_TO   (60 * 86400)

typedef struct {
    gint64 since; /* as asked */
    gint64 until; /* exclusive */
    guint step;
    PsQueryRange *range; /* the shown points and the look-back before them */
    gint64 first;        /* point index of the first shown point in range */
    guint n_points;      /* shown points */
} PsSpan;

/* --since, --until, --step and --metric, as typed (owned). */
typedef struct {
    gchar *since;
    gchar *until;
    gchar *step;
    gchar *metric;
} PsSpanOptions;

/* Adds the span options to a command's main options. */
void ps_span_add_options(GOptionContext *context, PsSpanOptions *options);
/* The --metric asked for, flows without one. */
gboolean ps_span_metric(const PsSpanOptions *options, PsMetric *metric, GError **error);
void ps_span_options_clear(PsSpanOptions *options);

/* Reads names (strings) over the span; FALSE with a usage, Redis or no-data error. */
gboolean ps_span_read(const PsCli *cli, const PsSpanOptions *options, GPtrArray *names,
                      PsSpan *span, GError **error);

/* Start of shown point i. */
gint64 ps_span_time(const PsSpan *span, guint i);

void ps_span_clear(PsSpan *span);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PsSpanOptions, ps_span_options_clear)
