/* Redis key and field names: the public contract between the collector, the alerter, the CLI
 * and any operator with redis-cli. schema/redis.md documents each one; this file is the only
 * place that spells them. Every name starts with a configurable prefix ("ps:").
 *
 * A series is a service port, optionally seen from one direction: "tcp/445" counts every flow
 * of the port, "tcp/445@in", "tcp/445@out" and "tcp/445@int" only inbound, outbound and
 * internal flows (with home networks configured). "other" collects ports past the memory cap. */
#pragma once

#include <glib.h>

#define PS_SCHEMA_VERSION      "1"
#define PS_KEYS_DEFAULT_PREFIX "ps:"
#define PS_SERIES_OTHER        "other"
/* Not a port: the bucket's data quality, fields "_q:lost" (export packets lost on the way),
 * "_q:unknown" (data sets without template), "_q:errors" (malformed packets), and
 * "_q:collectors" (collectors that closed the bucket). */
#define PS_QUALITY_SERIES "_q"
/* The ports a worm or a scan goes for first: the alerter's default watched ports and the
 * collector's default new_sources list (series port names, every direction of each). */
#define PS_DEFAULT_WATCHED                                                                         \
    "tcp/445,tcp/139,tcp/135,tcp/3389,tcp/22,tcp/23,tcp/1433,tcp/3306,tcp/5900,tcp/6379"

typedef enum {
    PS_DIRECTION_ALL = 0,
    PS_DIRECTION_IN,       /* from outside the home networks into them */
    PS_DIRECTION_OUT,      /* from inside to outside */
    PS_DIRECTION_INTERNAL, /* both ends inside */
    PS_N_DIRECTIONS
} PsDirection;

#define PS_SERIES_STRLEN 24

/* "tcp/445", "tcp/445@in", ... into buf. */
const char *ps_series_format(guint8 proto, guint16 port, PsDirection direction,
                             char buf[PS_SERIES_STRLEN]);

/* "ps:schema": the schema version, a string. */
gchar *ps_key_schema(const char *prefix);
/* "ps:b:60:1700000040": the bucket's hash of counters. */
gchar *ps_key_bucket(const char *prefix, guint step, gint64 start);
/* "ps:b:60:1700000040:src:tcp/445" (kind "src", "dst": HyperLogLog; "top": sorted set). */
gchar *ps_key_bucket_series(const char *prefix, guint step, gint64 start, const char *kind,
                            const char *series);
/* The same appended to out (thousands of keys a bucket, without an allocation each). */
void ps_key_bucket_series_append(GString *out, const char *prefix, guint step, gint64 start,
                                 const char *kind, const char *series);
/* "ps:closed:60": sorted set of closed bucket starts. */
gchar *ps_key_closed(const char *prefix, guint step);
/* "ps:collector:<id>" heartbeat hash; "ps:exporter:<address>" health hash. */
gchar *ps_key_collector(const char *prefix, const char *id);
gchar *ps_key_exporter(const char *prefix, const char *address);
/* "ps:alerter": the alerter's progress hash. */
gchar *ps_key_alerter(const char *prefix);
/* ps:outbox (alert messages not yet accepted by their receiver) and ps:outbox:dead. */
gchar *ps_key_outbox(const char *prefix);
gchar *ps_key_outbox_dead(const char *prefix);
/* "ps:seen:tcp/445": sorted set of the sources seen on a watched series lately (address ->
 * start of the last bucket it was seen in), to tell the sources new to it (field "nnew"). */
gchar *ps_key_seen(const char *prefix, const char *series);
/* "ps:seen-since": hash, series -> start of the first bucket its seen set tracked. */
gchar *ps_key_seen_since(const char *prefix);

/* "tcp/445:flows": a counter field of the bucket hash. Metrics: flows, pkts, bytes, syn,
 * untracked; written at close: nsrc, ndst, and nnew (watched series). */
gchar *ps_field(const char *series, const char *metric);
void ps_field_append(GString *out, const char *series, const char *metric);
