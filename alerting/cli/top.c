/* portsurge top: the busiest ports of a window by one metric, and the ports furthest from
 * their baseline (the alerter's baseline code, see movers.h). */
#include "config.h"

#include <math.h>
#include <stdio.h>

#include "movers.h"
#include "output.h"

#define PS_TOP_DEFAULT_WINDOW 900
#define PS_TOP_DEFAULT_LIMIT  10

typedef struct {
    gchar *at;
    gchar *window;
    gchar *by;
    gint limit;
} TopOptions;

static void
top_options_clear(TopOptions *o)
{
    g_free(o->at);
    g_free(o->window);
    g_free(o->by);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TopOptions, top_options_clear)

typedef struct {
    const char *series;
    double value;
    PsMover mover;
} Ranked;

static gboolean
parse_top_options(PsCli *cli, TopOptions *o, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        {"at", 0, 0, G_OPTION_ARG_STRING, &o->at,
         "End of the window (default: the newest closed bucket)", "TIME"},
        {"window", 0, 0, G_OPTION_ARG_STRING, &o->window, "Window length (default 15m)", "SPAN"},
        {"by", 0, 0, G_OPTION_ARG_STRING, &o->by,
         "flows (default), sources, dests, syn, packets, bytes or new_sources", "METRIC"},
        {"limit", 0, 0, G_OPTION_ARG_INT, &o->limit, "Ports in each list (default 10)", "N"},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context =
        g_option_context_new("- the busiest ports, and the biggest movers against their baseline");

    o->limit = PS_TOP_DEFAULT_LIMIT;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!ps_cli_parse(cli, context, argc, argv, error))
        return FALSE;
    if (*argc != 1 || o->limit <= 0) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_USAGE,
                    *argc != 1 ? "top takes no arguments besides options"
                               : "--limit takes a positive number");
        return FALSE;
    }
    return TRUE;
}

/* The window (since, until] as bucket starts [since, until): ending with the bucket of `at`. */
static gboolean
window_of(PsCli *cli, const TopOptions *o, gint64 *since, gint64 *until, GError **error)
{
    gint64 oldest, newest, at, length;

    if (!ps_query_extent(&cli->query, cli->query.step, &oldest, &newest, error) ||
        !ps_cli_time_option(cli, "at", o->at, newest, &at, error) ||
        !ps_cli_duration_option("window", o->window, PS_TOP_DEFAULT_WINDOW, &length, error))
        return FALSE;
    *until = at - ((at % cli->query.step) + cli->query.step) % cli->query.step + cli->query.step;
    *since = *until - MAX(length, (gint64)cli->query.step);
    return TRUE;
}

static int
compare_value(gconstpointer a, gconstpointer b)
{
    const Ranked *x = a, *y = b;

    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return g_strcmp0(x->series, y->series);
}

static int
compare_movement(gconstpointer a, gconstpointer b)
{
    const Ranked *x = a, *y = b;
    double dx = x->mover.scored ? fabs(x->mover.z) : -1,
           dy = y->mover.scored ? fabs(y->mover.z) : -1;

    if (dx != dy)
        return dx > dy ? -1 : 1;
    return compare_value(a, b);
}

/* Every series of the window, busiest first. */
static GArray *
rank_totals(GHashTable *totals, PsMetric metric)
{
    GArray *ranked = g_array_sized_new(FALSE, TRUE, sizeof(Ranked), g_hash_table_size(totals));
    GHashTableIter iter;
    gpointer name, sample;

    g_hash_table_iter_init(&iter, totals);
    while (g_hash_table_iter_next(&iter, &name, &sample)) {
        Ranked entry = {name, ((PsSample *)sample)->value[metric], {0}};
        g_array_append_val(ranked, entry);
    }
    g_array_sort(ranked, compare_value);
    return ranked;
}

/* Scores the busiest PS_MOVERS_MAX_SERIES against their baselines. */
static gboolean
score_ranked(PsCli *cli, GArray *ranked, gint64 since, gint64 until, PsMetric metric,
             GError **error)
{
    guint n = MIN(ranked->len, PS_MOVERS_MAX_SERIES);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autofree PsMover *movers = g_new0(PsMover, MAX(1, n));

    for (guint i = 0; i < n; i++)
        g_ptr_array_add(names, (gpointer)g_array_index(ranked, Ranked, i).series);
    if (!ps_movers_score(&cli->query, names, since, until, metric, movers, error))
        return FALSE;
    for (guint i = 0; i < n; i++)
        g_array_index(ranked, Ranked, i).mover = movers[i];
    return TRUE;
}

static void
add_ranked_rows(PsOutput *output, GArray *ranked, guint limit)
{
    for (guint i = 0; i < ranked->len && i < limit; i++) {
        const Ranked *entry = &g_array_index(ranked, Ranked, i);
        ps_output_row(output);
        ps_output_number(output, i + 1, 0);
        ps_output_text(output, entry->series);
        ps_output_number(output, entry->value, 0);
        if (entry->mover.scored) {
            ps_output_number(output, entry->mover.expected, 1);
            ps_output_number(output, entry->mover.ratio, 2);
            ps_output_number(output, entry->mover.z, 2);
            ps_output_text(output, entry->mover.young ? "young" : "");
        } else {
            for (guint c = 0; c < 4; c++)
                ps_output_empty(output);
        }
    }
}

static void
print_top(PsCli *cli, GArray *ranked, PsMetric metric, gint64 since, gint64 until, guint n_buckets,
          guint limit)
{
    g_autoptr(PsOutput) output =
        ps_output_new(cli, (const char *const[]){"rank", "series", ps_metric_name(metric),
                                                 "expected", "ratio", "z", "baseline", NULL});
    g_autofree gchar *from = ps_cli_format_time(cli, since);
    g_autofree gchar *to = ps_cli_format_time(cli, until);
    g_autofree gchar *title = g_strdup_printf("Busiest ports by %s, %s to %s (%u buckets)",
                                              ps_metric_name(metric), from, to, n_buckets);

    ps_output_section(output, "busiest", title);
    add_ranked_rows(output, ranked, limit);
    g_array_sort(ranked, compare_movement);
    ps_output_section(output, "movers", "Biggest movers against their baseline (|z|)");
    add_ranked_rows(output, ranked, limit);
    ps_output_print(output, stdout);
}

gboolean
ps_cli_top(PsCli *cli, int argc, char **argv, GError **error)
{
    g_auto(TopOptions) o = {0};
    PsMetric metric = PS_METRIC_FLOWS;
    g_autoptr(GHashTable) totals = NULL;
    g_autoptr(GArray) ranked = NULL;
    gint64 since, until;
    guint n_buckets = 0;

    if (!parse_top_options(cli, &o, &argc, &argv, error) ||
        (o.by != NULL && !ps_cli_metric_parse(o.by, &metric, error)) || !ps_cli_open(cli, error) ||
        !window_of(cli, &o, &since, &until, error))
        return FALSE;
    totals = ps_query_totals(&cli->query, since, until, &n_buckets, error);
    if (totals == NULL)
        return FALSE;
    if (n_buckets == 0) {
        ps_cli_set_no_data(cli, since, until, error);
        return FALSE;
    }
    ranked = rank_totals(totals, metric);
    if (!score_ranked(cli, ranked, since, until, metric, error))
        return FALSE;
    print_top(cli, ranked, metric, since, until, n_buckets, (guint)o.limit);
    return TRUE;
}
