/* An event becomes messages: one outbox entry per receiver that wants it, rendered in that
 * receiver's format from the event and the facts read from Redis (message.c). The alerter
 * saves the entries with the event (outbox.c); the courier delivers them (courier.c). */
#pragma once

#include <hiredis/hiredis.h>

#include "receiver.h"

/* PsOutboxEntry pointers (possibly none); NULL with error when Redis failed. */
GPtrArray *ps_notify_entries(GPtrArray *receivers, redisContext *redis, const char *prefix,
                             guint step, const char *series, gboolean watched,
                             const PsAlertEvent *event, GError **error);
