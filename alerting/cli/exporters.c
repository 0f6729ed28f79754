/* portsurge exporters: the health of every exporter from ps:exporter:<address>, which each
 * collector rewrites at every flush with its counters since it started.
 *
 * records_per_s is the average since that collector started (ps:collector:<id> "started"):
 * the hash holds totals, not rates. loss_pct is lost / (records + lost): sequence_lost counts
 * what the sequence numbers skipped (flows for v5, export packets for v9, records for IPFIX),
 * so for v9 it is an estimate. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hashes.h"
#include "keys.h"
#include "output.h"

/* collector id -> its "started" time (gint64 in a pointer-sized box). */
static GHashTable *
collector_starts(const PsCli *cli, GError **error)
{
    g_autofree gchar *pattern = ps_key_collector(cli->query.prefix, "*");
    g_autoptr(GPtrArray) keys = ps_hashes_scan(cli->redis, pattern, error);
    g_autoptr(GPtrArray) hashes = keys != NULL ? ps_hashes_read(cli->redis, keys, error) : NULL;
    GHashTable *starts;
    gsize prefix_len = strlen(pattern) - 1;

    if (hashes == NULL)
        return NULL;
    starts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < hashes->len; i++) {
        gint64 started = (gint64)ps_hashes_number(g_ptr_array_index(hashes, i), "started");
        g_hash_table_insert(starts, g_strdup((const char *)g_ptr_array_index(keys, i) + prefix_len),
                            g_memdup2(&started, sizeof(started)));
    }
    return starts;
}

static void
add_rate(PsOutput *output, double records, gint64 last_seen, const gint64 *started)
{
    if (started == NULL || *started <= 0 || last_seen <= *started)
        ps_output_empty(output);
    else
        ps_output_number(output, records / (double)(last_seen - *started), 1);
}

static void
add_exporter(PsOutput *output, const PsCli *cli, const char *address, GHashTable *hash,
             GHashTable *starts)
{
    const char *collector = g_hash_table_lookup(hash, "collector");
    gint64 last_seen = (gint64)ps_hashes_number(hash, "last_seen");
    double records = ps_hashes_number(hash, "records");
    double lost = ps_hashes_number(hash, "sequence_lost");

    ps_output_row(output);
    ps_output_text(output, address);
    ps_output_text(output, collector != NULL ? collector : "");
    ps_output_time(output, last_seen);
    ps_output_number(output, (double)(cli->now - last_seen), 0);
    ps_output_number(output, ps_hashes_number(hash, "packets"), 0);
    ps_output_number(output, records, 0);
    add_rate(output, records, last_seen,
             collector != NULL ? g_hash_table_lookup(starts, collector) : NULL);
    ps_output_number(output, ps_hashes_number(hash, "errors"), 0);
    ps_output_number(output, ps_hashes_number(hash, "unknown_templates"), 0);
    ps_output_number(output, ps_hashes_number(hash, "sequence_gaps"), 0);
    ps_output_number(output, lost, 0);
    ps_output_number(output, records + lost > 0 ? 100 * lost / (records + lost) : 0, 2);
    ps_output_number(output, ps_hashes_number(hash, "sampling"), 0);
}

gboolean
ps_cli_exporters(PsCli *cli, int argc, char **argv, GError **error)
{
    g_autoptr(GOptionContext) context = g_option_context_new("- the health of every exporter");
    g_autoptr(PsOutput) output = NULL;
    g_autoptr(GPtrArray) keys = NULL, hashes = NULL;
    g_autoptr(GHashTable) starts = NULL;
    g_autofree gchar *pattern = NULL;

    if (!ps_cli_parse(cli, context, &argc, &argv, error) || !ps_cli_open(cli, error))
        return FALSE;
    pattern = ps_key_exporter(cli->query.prefix, "*");
    keys = ps_hashes_scan(cli->redis, pattern, error);
    hashes = keys != NULL ? ps_hashes_read(cli->redis, keys, error) : NULL;
    starts = hashes != NULL ? collector_starts(cli, error) : NULL;
    if (starts == NULL)
        return FALSE;
    output = ps_output_new(
        cli, (const char *const[]){"exporter", "collector", "last_seen", "age_s", "packets",
                                   "records", "records_per_s", "errors", "unknown_templates",
                                   "sequence_gaps", "lost", "loss_pct", "sampling", NULL});
    for (guint i = 0; i < hashes->len; i++)
        add_exporter(output, cli, (const char *)g_ptr_array_index(keys, i) + strlen(pattern) - 1,
                     g_ptr_array_index(hashes, i), starts);
    ps_output_print(output, stdout);
    if (hashes->len == 0 && cli->format == PS_CLI_FORMAT_TABLE)
        printf("(no exporter has been seen: no %s key)\n", pattern);
    return TRUE;
}
