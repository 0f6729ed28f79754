/* Helpers for the production-side tests of the collector (configuration, reload, metrics,
 * allow-list, privileges): configuration files in a temporary directory, the metrics endpoint
 * read over real HTTP, and NetFlow v5 sent from a chosen loopback source address. */
#pragma once

#include "integ-util.h"

#define PS_OPS_METRICS_TIMEOUT_MS 10000 /* until a metric reaches the value the test expects */

/* Writes contents to dir/name (replacing it); returns the path (free it). */
gchar *ps_ops_write_config(const char *dir, const char *name, const char *contents);

/* Runs the main context for ms milliseconds (children's pipes are read meanwhile). */
void ps_ops_pump(guint ms);

/* Runs the main context until a stderr line of child holds needle (TRUE), it exited, or
 * timeout_ms passed. */
gboolean ps_ops_wait_logged(PsTestChild *child, const char *needle, guint timeout_ms);

/* Runs program with args (NULL-terminated) to completion; NULL (test failed) if it does not
 * end in time. */
PsTestChild *ps_ops_run(const char *const *argv);

/* The port the collector logged for its metrics ("metrics on ..., port N"); 0 if none. */
guint16 ps_ops_metrics_port(const PsTestChild *collector);

/* GET http://127.0.0.1:port/path; the body, with the Content-Type in content_type (may be
 * NULL); NULL (with a test message) on failure. */
gchar *ps_ops_http_get(guint16 port, const char *path, gchar **content_type);

/* The value of the sample named exactly sample ("name" or "name{a=\"b\"}") in a Prometheus
 * text; -1 when absent. */
gdouble ps_ops_metric(const char *text, const char *sample);

/* Scrapes until sample equals expected or the bound passes; returns the last value seen. */
gdouble ps_ops_wait_metric(guint16 port, const char *sample, gdouble expected);

/* A UDP socket bound to source (a loopback address such as 127.0.0.2) and connected to
 * 127.0.0.1:port; -1 (test failed) on error. */
int ps_ops_udp_from(const char *source, guint16 port);

/* Sends one v5 datagram of n records (n <= 30), stamped now; its flows go to port 445 from
 * 198.18.0.x. sequence is the v5 flow sequence, advanced by n. Returns FALSE if it did not go
 * out. */
gboolean ps_ops_send_v5(int fd, guint32 *sequence, guint n);

/* Sums "tcp/445:flows" over every minute bucket hash in the Redis at socket path. */
guint64 ps_ops_redis_flows(const char *socket_path);
