#include "config.h"

#include "allowlist.h"

struct PsAllowlist {
    GArray *networks;   /* PsNetwork */
    GHashTable *counts; /* &entry->source -> entry (PsAllowlistRejected): source is the
                         * first member, so freeing the key frees the entry */
    guint64 other;      /* rejected packets from sources past the table's bound */
    gint64 last_log_ms;
    guint64 unlogged; /* rejected since the last log line */
};

PsAllowlist *
ps_allowlist_new(void)
{
    PsAllowlist *allowlist = g_new0(PsAllowlist, 1);

    allowlist->networks = g_array_new(FALSE, TRUE, sizeof(PsNetwork));
    allowlist->counts = g_hash_table_new_full(ps_address_hash, ps_address_equal, g_free, NULL);
    allowlist->last_log_ms = G_MININT64 / 2;
    return allowlist;
}

void
ps_allowlist_free(PsAllowlist *allowlist)
{
    if (allowlist == NULL)
        return;
    g_array_unref(allowlist->networks);
    g_hash_table_unref(allowlist->counts);
    g_free(allowlist);
}

gboolean
ps_allowlist_set(PsAllowlist *allowlist, const char *const *networks, GError **error)
{
    g_autoptr(GArray) parsed = g_array_new(FALSE, TRUE, sizeof(PsNetwork));

    for (guint i = 0; networks != NULL && networks[i] != NULL; i++) {
        PsNetwork network;
        if (!ps_network_parse(networks[i], &network, error)) {
            g_prefix_error(error, "allow: ");
            return FALSE;
        }
        g_array_append_val(parsed, network);
    }
    g_array_unref(allowlist->networks);
    allowlist->networks = g_steal_pointer(&parsed);
    return TRUE;
}

static gboolean
allowed(const PsAllowlist *allowlist, const PsAddress *sender)
{
    if (allowlist->networks->len == 0)
        return TRUE;
    for (guint i = 0; i < allowlist->networks->len; i++) {
        if (ps_network_contains(&g_array_index(allowlist->networks, PsNetwork, i), sender))
            return TRUE;
    }
    return FALSE;
}

static void
count(PsAllowlist *allowlist, const PsAddress *sender)
{
    PsAllowlistRejected *entry = g_hash_table_lookup(allowlist->counts, sender);

    if (entry == NULL && g_hash_table_size(allowlist->counts) >= PS_ALLOWLIST_MAX_SOURCES) {
        allowlist->other++;
        return;
    }
    if (entry == NULL) {
        entry = g_new0(PsAllowlistRejected, 1);
        entry->source = *sender;
        g_hash_table_insert(allowlist->counts, &entry->source, entry);
    }
    entry->packets++;
}

static void
maybe_log(PsAllowlist *allowlist, const PsAddress *sender, gint64 now_ms)
{
    char text[PS_ADDRESS_STRLEN];

    allowlist->unlogged++;
    if (now_ms - allowlist->last_log_ms < PS_ALLOWLIST_LOG_INTERVAL_MS)
        return;
    g_warning("%s: export packet dropped, this exporter is not in the allow-list "
              "(%" G_GUINT64_FORMAT " rejected packets since the last such message)",
              ps_address_to_string(sender, text), allowlist->unlogged);
    allowlist->unlogged = 0;
    allowlist->last_log_ms = now_ms;
}

gboolean
ps_allowlist_check(PsAllowlist *allowlist, const PsAddress *sender, gint64 now_ms)
{
    if (allowed(allowlist, sender))
        return TRUE;
    count(allowlist, sender);
    maybe_log(allowlist, sender, now_ms);
    return FALSE;
}

GArray *
ps_allowlist_rejected(const PsAllowlist *allowlist, guint64 *other)
{
    GArray *rejected = g_array_new(FALSE, TRUE, sizeof(PsAllowlistRejected));
    GHashTableIter iter;
    PsAllowlistRejected *entry;

    g_hash_table_iter_init(&iter, allowlist->counts);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&entry)) {
        g_array_append_val(rejected, *entry);
    }
    *other = allowlist->other;
    return rejected;
}
