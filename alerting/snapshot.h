/* The detector states of a bucket's series as they were before it, so that a bucket whose
 * saving to Redis failed can be evaluated again from where it began: stepping a state twice
 * for one bucket loses its events (an incident already open opens no more) or repeats them. */
#pragma once

#include <glib.h>

typedef struct PsSnapshot PsSnapshot;

/* Copies the states (series -> PsSeriesState) of names, noting those that do not exist yet. */
PsSnapshot *ps_snapshot_take(GHashTable *states, GPtrArray *names);

/* Puts the copies back into states and removes the series that did not exist. */
void ps_snapshot_restore(const PsSnapshot *snapshot, GHashTable *states);

void ps_snapshot_free(PsSnapshot *snapshot);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsSnapshot, ps_snapshot_free)
