/* Metrics in the Prometheus text format (exposition format 0.0.4), for every program.
 *
 * Two halves. Writers append one metric family (# HELP, # TYPE) and its samples to a GString,
 * escaping label values; a fixed-size histogram can be copied by value into a snapshot. And
 * an HTTP listener (libmicrohttpd, on a thread of its own) that answers GET /metrics by
 * calling the program back for the text: the callback runs on the listener's thread, so the
 * program hands it a snapshot (never its live tables) and its hot path never waits for a
 * scrape. */
#pragma once

#include <glib.h>

#define PS_METRICS_ERROR ps_metrics_error_quark()
GQuark ps_metrics_error_quark(void);

typedef enum {
    PS_METRICS_ERROR_ADDRESS, /* the listen address cannot be parsed */
    PS_METRICS_ERROR_LISTEN,  /* the listener cannot start (port taken, ...) */
} PsMetricsError;

#define PS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PS_METRICS_MAX_BUCKETS  16 /* histogram bounds, besides +Inf */
#define PS_METRICS_MAX_CLIENTS  16 /* concurrent scrapes */
#define PS_METRICS_TIMEOUT_S    10 /* idle connection */

/* ---- writers ---- */

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram, summary). */
void ps_metrics_family(GString *out, const char *name, const char *type, const char *help);

/* One sample: name{label="value",...} value. Labels are name/value pairs ended by NULL; a
 * value is escaped (backslash, double quote, newline) as the format requires. */
void ps_metrics_sample(GString *out, const char *name, double value, ...) G_GNUC_NULL_TERMINATED;
/* Counters as exact integers (a double loses them past 2^53). */
void ps_metrics_sample_u64(GString *out, const char *name, guint64 value,
                           ...) G_GNUC_NULL_TERMINATED;

/* Appends value escaped for a label. */
void ps_metrics_escape_label(GString *out, const char *value);

typedef struct {
    guint n_bounds;
    double bounds[PS_METRICS_MAX_BUCKETS];      /* upper bounds, increasing */
    guint64 counts[PS_METRICS_MAX_BUCKETS + 1]; /* per bucket (not cumulative); last: +Inf */
    guint64 count;
    double sum;
} PsMetricsHistogram;

void ps_metrics_histogram_init(PsMetricsHistogram *histogram, const double *bounds, guint n);
void ps_metrics_histogram_observe(PsMetricsHistogram *histogram, double value);
/* The family with its _bucket (cumulative, le="..."), _sum and _count samples. */
void ps_metrics_histogram_write(GString *out, const char *name, const char *help,
                                const PsMetricsHistogram *histogram);

/* ---- the listener ---- */

/* Called on the listener's thread for each scrape: append the whole text to out. */
typedef void (*PsMetricsRenderFn)(GString *out, gpointer user_data);

typedef struct PsMetricsServer PsMetricsServer;

/* Parses "ADDR:PORT", "[ADDR]:PORT" or ":PORT" (every address); port 0 picks a free one. */
gboolean ps_metrics_parse_listen(const char *text, GError **error);

/* Listens on listen (as above) and serves GET /metrics (and /) from render; other paths get
 * 404, other methods 405. NULL with error when the address is bad or cannot be bound. */
PsMetricsServer *ps_metrics_server_start(const char *listen, PsMetricsRenderFn render,
                                         gpointer user_data, GError **error);
/* The port bound (the one picked for port 0). */
guint16 ps_metrics_server_port(const PsMetricsServer *server);
/* Closes the listener and waits for scrapes in progress. */
void ps_metrics_server_stop(PsMetricsServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsMetricsServer, ps_metrics_server_stop)
