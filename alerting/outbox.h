/* The outbox in Redis: messages waiting for their receiver (ps:outbox, a list, oldest first)
 * and the ones given up on (ps:outbox:dead). The alerter appends a message in the same
 * MULTI/EXEC that saves the incident state, so an event is either saved with its messages or
 * not at all; the courier removes a message only once its receiver accepted it. Each entry is
 * one JSON object: {"key", "receiver", "created", "body"}. */
#pragma once

#include <hiredis/hiredis.h>

#include "redis.h"

typedef struct {
    gchar *raw;      /* the entry as stored: LREM matches it byte for byte */
    gchar *key;      /* idempotency key: the same on every attempt, also after a restart */
    gchar *receiver; /* the receiver's name */
    gint64 created;  /* Unix seconds, when the event was saved */
    gchar *body;     /* rendered for the receiver's format */
} PsOutboxEntry;

PsOutboxEntry *ps_outbox_entry_new(const char *key, const char *receiver, gint64 created,
                                   const char *body);
/* NULL with error when raw is not an entry. */
PsOutboxEntry *ps_outbox_entry_parse(const char *raw, GError **error);
void ps_outbox_entry_free(PsOutboxEntry *entry);

/* Appends RPUSH of the entry to a pipeline (the alerter's MULTI). */
void ps_outbox_append(PsRedisPipeline *pipeline, const char *prefix, const PsOutboxEntry *entry);

/* The oldest `limit` entries, oldest first. An entry that cannot be read is moved to the
 * dead letters at once (it would block its place forever) and counted in *unreadable. */
GPtrArray *ps_outbox_read(redisContext *redis, const char *prefix, guint limit, guint *unreadable,
                          GError **error);

/* Removes an entry its receiver accepted. */
gboolean ps_outbox_remove(redisContext *redis, const char *prefix, const PsOutboxEntry *entry,
                          GError **error);

/* Moves an entry to ps:outbox:dead, with why and when: {"reason", "dead_at", "entry"}. */
gboolean ps_outbox_dead_letter(redisContext *redis, const char *prefix, const char *raw,
                               const char *reason, GError **error);

/* LLEN of the outbox, -1 on error. */
gint64 ps_outbox_length(redisContext *redis, const char *prefix, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsOutboxEntry, ps_outbox_entry_free)
