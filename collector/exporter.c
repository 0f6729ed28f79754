#include "config.h"

#include "exporter.h"

PsExporter *
ps_exporter_new(const PsAddress *address)
{
    PsExporter *exporter = g_new0(PsExporter, 1);

    exporter->address = *address;
    exporter->sampling = 1;
    exporter->sequences = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    return exporter;
}

void
ps_exporter_free(PsExporter *exporter)
{
    if (exporter == NULL)
        return;
    ps_ipfix_session_free(exporter->ipfix);
    g_hash_table_unref(exporter->sequences);
    g_free(exporter);
}

static PsSequenceState *
sequence_state(PsExporter *exporter, PsVersionSlot slot, guint32 domain)
{
    gint64 key = (gint64)slot << 32 | domain;
    PsSequenceState *state;

    if (exporter->last_sequence != NULL && exporter->last_sequence_key == key)
        return exporter->last_sequence; /* states are kept until the exporter is freed */
    state = g_hash_table_lookup(exporter->sequences, &key);
    if (state == NULL) {
        gint64 *stored_key;
        if (g_hash_table_size(exporter->sequences) >= PS_EXPORTER_MAX_SEQUENCES)
            return NULL;
        stored_key = g_new(gint64, 1);
        *stored_key = key;
        state = g_new0(PsSequenceState, 1);
        g_hash_table_insert(exporter->sequences, stored_key, state);
    }
    exporter->last_sequence_key = key;
    exporter->last_sequence = state;
    return state;
}

void
ps_exporter_check_sequence(PsExporter *exporter, PsVersionSlot slot, guint32 domain,
                           guint32 sequence, guint32 advance, gboolean advance_known)
{
    PsSequenceState *state = sequence_state(exporter, slot, domain);
    PsExporterCounters *counters = &exporter->counters[slot];
    guint32 distance;

    if (state == NULL)
        return; /* an exporter past the bound of domains: sequences not tracked */
    distance = sequence - state->next; /* wrap-safe, as nfdump does */

    if (state->have && distance != 0) {
        if (distance < 0x80000000u) {
            counters->sequence_gaps++;
            counters->sequence_lost += distance;
        } else if (-distance <= PS_SEQUENCE_REORDER_WINDOW) {
            counters->sequence_reordered++;
        } else {
            counters->restarts++;
        }
    }
    state->next = sequence + advance;
    state->have = advance_known;
}

void
ps_exporter_add_ipfix_stats(PsExporter *exporter, PsVersionSlot slot, const PsIpfixStats *stats)
{
    PsExporterCounters *counters = &exporter->counters[slot];

    counters->records += stats->records + stats->held_records;
    counters->options_records += stats->options_records;
    counters->held_records += stats->held_records;
    counters->unknown_template_sets += stats->unknown_sets;
    counters->dropped_sets += stats->dropped_sets;
    counters->bad_templates += stats->bad_templates;
    counters->skipped_sets += stats->skipped_sets;
}

void
ps_exporter_total(const PsExporter *exporter, PsExporterCounters *total)
{
    memset(total, 0, sizeof(*total));
    for (guint slot = 0; slot < PS_N_VERSIONS; slot++)
        ps_exporter_counters_add(total, &exporter->counters[slot]);
}

void
ps_exporter_counters_add(PsExporterCounters *sum, const PsExporterCounters *part)
{
    /* every field is a guint64 counter: add them as an array */
    guint64 *to = (guint64 *)sum;
    const guint64 *from = (const guint64 *)part;

    for (guint i = 0; i < sizeof(PsExporterCounters) / sizeof(guint64); i++)
        to[i] += from[i];
}

const char *
ps_version_slot_name(PsVersionSlot slot)
{
    static const char *names[PS_N_VERSIONS] = {"v5", "v9", "ipfix", "unknown"};

    return slot < PS_N_VERSIONS ? names[slot] : "?";
}
