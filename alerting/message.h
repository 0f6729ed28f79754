/* What an alert message says beyond its event, read from Redis when the event is saved: the
 * top sources of the bucket, which of them are new against the usual top sources of the same
 * bucket on the previous days, and distinct sources over the last hour for the sparkline.
 * One pipelined round trip. */
#pragma once

#include <hiredis/hiredis.h>

#include "format.h"

#define PS_MESSAGE_USUAL_DAYS 7 /* the usual top sources: same bucket, this many days back */

typedef struct {
    GPtrArray *addresses; /* owns the strings top points to */
    GArray *top;          /* PsTopSource, heaviest first */
    gboolean usual_top_known;
    GArray *last_hour; /* double, oldest first; NAN where a bucket is missing */
} PsMessageFacts;

/* Empty facts: no top sources, no last hour. Clear with ps_message_facts_clear(). */
void ps_message_facts_init(PsMessageFacts *facts);

/* Adds the top sources of a ZREVRANGE ... WITHSCORES reply (address, flows, address, flows,
 * ...; heaviest first) to facts. Pure (no Redis): tests/fuzz/fuzz-stored.c feeds it made-up
 * replies, since other tools can write these keys. */
void ps_message_facts_add_top(PsMessageFacts *facts, const redisReply *reply);

/* Reads the facts (initialising them) in one pipelined round trip; clear them after, even on
 * failure. */
gboolean ps_message_facts_read(redisContext *redis, const char *prefix, guint step,
                               const char *series, gint64 t, PsMessageFacts *facts, GError **error);
void ps_message_facts_clear(PsMessageFacts *facts);

/* Points message's top sources and last hour at facts (which must outlive message). */
void ps_message_facts_apply(const PsMessageFacts *facts, PsAlertMessage *message);
