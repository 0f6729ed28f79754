/* The exporter allow-list: which sources may send export packets. A packet from anyone else
 * is dropped before it is decoded (a spoofed or misdirected source must not create exporter
 * state or template caches), counted per source in a bounded table, and logged at most once
 * per PS_ALLOWLIST_LOG_INTERVAL_MS so that a flood does not flood the log too.
 *
 * Used on the receive thread only; an empty list allows everyone. */
#pragma once

#include "aggregate.h"
#include "flow.h"

#define PS_ALLOWLIST_MAX_SOURCES     1024  /* rejected sources counted by address */
#define PS_ALLOWLIST_LOG_INTERVAL_MS 60000 /* between two log lines about rejections */

typedef struct {
    PsAddress source;
    guint64 packets;
} PsAllowlistRejected;

typedef struct PsAllowlist PsAllowlist;

PsAllowlist *ps_allowlist_new(void);
void ps_allowlist_free(PsAllowlist *allowlist);

/* Replaces the allowed networks (at start and on SIGHUP); the counts stay. NULL or empty:
 * everyone. FALSE with error, and the list unchanged, when one is not a network. */
gboolean ps_allowlist_set(PsAllowlist *allowlist, const char *const *networks, GError **error);

/* TRUE when sender may send. Otherwise counts the packet against sender (or, with the table
 * full, against "other") and logs if the last such line is old enough. */
gboolean ps_allowlist_check(PsAllowlist *allowlist, const PsAddress *sender, gint64 now_ms);

/* A copy of the per-source counts (PsAllowlistRejected); other gets what the table could not
 * hold. Free with g_array_unref(). */
GArray *ps_allowlist_rejected(const PsAllowlist *allowlist, guint64 *other);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsAllowlist, ps_allowlist_free)
