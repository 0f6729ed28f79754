/* Redis -> PsHistory: for one bucket t and a set of series, the bucket's own values and each
 * series' history (same time of day on the previous days, recent buckets, weekly correction
 * from hour roll-ups), read with a few pipelined HMGETs per bucket for all series at once.
 * A bucket that never closed is missing, not zero; a closed bucket without a series' fields
 * means zero for it. */
#pragma once

#include <hiredis/hiredis.h>

#include "baseline.h"

/* The bucket hash field of a metric ("nsrc", ..., "nnew": schema/redis.md). */
const char *ps_metric_field(PsMetric metric);

typedef struct {
    redisContext *redis; /* borrowed */
    const char *prefix;
    guint step;
} PsHistoryReader;

/* Reads x (bucket t) and the history of every series in names (strings). samples and
 * histories are arrays of names->len. FALSE with error on a Redis failure. */
gboolean ps_history_read(const PsHistoryReader *reader, gint64 t, GPtrArray *names,
                         PsSample *samples, PsHistory *histories, GError **error);

/* Closed buckets after `after` up to `until` (inclusive), oldest first (gint64 array). */
GArray *ps_history_closed_buckets(const PsHistoryReader *reader, gint64 after, gint64 until,
                                  GError **error);

/* Series of bucket t active enough to evaluate: at least min_sources distinct sources or
 * min_flows flows, the busiest first, at most max_series (strings, caller frees). */
GPtrArray *ps_history_active_series(const PsHistoryReader *reader, gint64 t, double min_sources,
                                    double min_flows, guint max_series, GError **error);

/* Frees a reply whose memory is glib's (g_new0, g_strdup): a one-level array of strings, as
 * this file copies the pipeline's replies and tests/fuzz/fuzz-stored.c makes them up. Not for
 * hiredis's own replies (freeReplyObject). */
void ps_history_reply_free(redisReply *reply);

/* The ranking of ps_history_active_series() from the bucket's HGETALL reply (an array of
 * strings: field "<series>:<metric>", value, ...). Pure (no Redis): tests/fuzz/fuzz-stored.c
 * feeds it made-up replies, since other tools can write these hashes. */
GPtrArray *ps_history_parse_active_series(const redisReply *reply, double min_sources,
                                          double min_flows, guint max_series);

/* TRUE when the day of t (UTC) is a Saturday or Sunday. */
gboolean ps_history_is_weekend(gint64 t);
