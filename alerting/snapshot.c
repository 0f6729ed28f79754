#include "config.h"

#include "detect.h"
#include "snapshot.h"

struct PsSnapshot {
    GHashTable *before; /* series -> PsSeriesState copy, or NULL: did not exist */
};

PsSnapshot *
ps_snapshot_take(GHashTable *states, GPtrArray *names)
{
    PsSnapshot *snapshot = g_new0(PsSnapshot, 1);

    snapshot->before = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < names->len; i++) {
        const char *series = g_ptr_array_index(names, i);
        const PsSeriesState *state = g_hash_table_lookup(states, series);
        g_hash_table_replace(snapshot->before, g_strdup(series),
                             state != NULL ? g_memdup2(state, sizeof(*state)) : NULL);
    }
    return snapshot;
}

void
ps_snapshot_restore(const PsSnapshot *snapshot, GHashTable *states)
{
    GHashTableIter iter;
    const char *series;
    const PsSeriesState *state;

    g_hash_table_iter_init(&iter, snapshot->before);
    while (g_hash_table_iter_next(&iter, (gpointer *)&series, (gpointer *)&state)) {
        if (state == NULL)
            g_hash_table_remove(states, series);
        else
            g_hash_table_replace(states, g_strdup(series), g_memdup2(state, sizeof(*state)));
    }
}

void
ps_snapshot_free(PsSnapshot *snapshot)
{
    if (snapshot == NULL)
        return;
    g_hash_table_unref(snapshot->before);
    g_free(snapshot);
}
