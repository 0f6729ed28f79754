#include "config.h"

#include "stats.h"

GHashTable *
ps_stats_new(void)
{
    return g_hash_table_new_full(ps_address_hash, ps_address_equal, g_free, g_free);
}

static void
log_exporter(const PsExporter *exporter, PsExporterCounters *previous, gint64 interval_s)
{
    char name[PS_ADDRESS_STRLEN];
    PsExporterCounters now;
    guint64 problems;

    ps_exporter_total(exporter, &now);
    if (now.packets == previous->packets)
        return;
    problems = (now.decode_errors - previous->decode_errors) +
               (now.unknown_template_sets - previous->unknown_template_sets) +
               (now.sequence_gaps - previous->sequence_gaps);
    ps_address_to_string(&exporter->address, name);
    if (problems > 0)
        g_warning("%s: in the last %" G_GINT64_FORMAT " s: %" G_GUINT64_FORMAT
                  " packets, %" G_GUINT64_FORMAT " records, %" G_GUINT64_FORMAT
                  " malformed packets, %" G_GUINT64_FORMAT
                  " data sets before their template, %" G_GUINT64_FORMAT
                  " sequence gaps (%" G_GUINT64_FORMAT " lost)",
                  name, interval_s, now.packets - previous->packets,
                  now.records - previous->records, now.decode_errors - previous->decode_errors,
                  now.unknown_template_sets - previous->unknown_template_sets,
                  now.sequence_gaps - previous->sequence_gaps,
                  now.sequence_lost - previous->sequence_lost);
    else
        g_info("%s: in the last %" G_GINT64_FORMAT " s: %" G_GUINT64_FORMAT
               " packets, %" G_GUINT64_FORMAT " records, sampling 1:%u",
               name, interval_s, now.packets - previous->packets, now.records - previous->records,
               exporter->sampling);
    *previous = now;
}

void
ps_stats_log(PsDispatch *dispatch, GHashTable *previous, gint64 interval_s)
{
    GHashTableIter iter;
    PsExporter *exporter;

    g_hash_table_iter_init(&iter, ps_dispatch_exporters(dispatch));
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&exporter)) {
        PsExporterCounters *last = g_hash_table_lookup(previous, &exporter->address);
        if (last == NULL) {
            last = g_new0(PsExporterCounters, 1);
            g_hash_table_insert(previous, g_memdup2(&exporter->address, sizeof(PsAddress)), last);
        }
        log_exporter(exporter, last, interval_s);
    }
}

void
ps_stats_exporter_json(const PsExporter *exporter, GString *out)
{
    char name[PS_ADDRESS_STRLEN];

    g_string_append_printf(out, "{\"exporter\":\"%s\"", ps_address_to_string(&exporter->address, name));
    for (guint slot = 0; slot < PS_N_VERSIONS; slot++) {
        const PsExporterCounters *c = &exporter->counters[slot];
        if (c->packets == 0)
            continue;
        g_string_append_printf(
            out,
            ",\"%s\":{\"packets\":%" G_GUINT64_FORMAT ",\"records\":%" G_GUINT64_FORMAT
            ",\"options_records\":%" G_GUINT64_FORMAT ",\"decode_errors\":%" G_GUINT64_FORMAT
            ",\"unknown_template_sets\":%" G_GUINT64_FORMAT ",\"held_records\":%" G_GUINT64_FORMAT
            ",\"dropped_sets\":%" G_GUINT64_FORMAT ",\"bad_templates\":%" G_GUINT64_FORMAT
            ",\"skipped_sets\":%" G_GUINT64_FORMAT
            ",\"sequence_gaps\":%" G_GUINT64_FORMAT ",\"sequence_lost\":%" G_GUINT64_FORMAT
            ",\"restarts\":%" G_GUINT64_FORMAT "}",
            ps_version_slot_name(slot), c->packets, c->records, c->options_records,
            c->decode_errors, c->unknown_template_sets, c->held_records, c->dropped_sets,
            c->bad_templates, c->skipped_sets, c->sequence_gaps, c->sequence_lost, c->restarts);
    }
    g_string_append_printf(out, ",\"sampling\":%u}\n", exporter->sampling);
}
