#include "config.h"

#include "event.h"

gchar *
ps_event_id(const char *series, const PsAlertEvent *event)
{
    return g_strdup_printf("%s@%" G_GINT64_FORMAT, series, event->opened_at);
}

static void
append_metric(GString *out, const PsEvaluation *evaluation, PsMetric metric)
{
    const PsBaseline *baseline = &evaluation->baseline[metric];
    const PsScore *score = &evaluation->score[metric];

    if (!ps_metric_known(&evaluation->sample, metric))
        return;
    g_string_append_printf(out,
                           "%s\"%s\":{\"value\":%.0f,\"expected\":%.1f,\"ratio\":%.2f,\"z\":%.2f}",
                           metric == 0 ? "" : ",", ps_metric_name(metric),
                           evaluation->sample.value[metric], baseline->expected, score->ratio,
                           score->z);
}

void
ps_event_json(const char *series, gboolean watched, const PsAlertEvent *event, GString *out)
{
    g_autofree gchar *id = ps_event_id(series, event);
    const PsEvaluation *e = &event->evaluation;
    const PsBaseline *b = &e->baseline[PS_METRIC_SOURCES];
    static const char *opened_by[] = {"", "hits", "jump", "cusum"};

    g_string_append_printf(
        out,
        "{\"id\":\"%s\",\"event\":\"%s\",\"series\":\"%s\",\"severity\":\"%s\",\"watched\":%s,"
        "\"bucket\":%" G_GINT64_FORMAT ",\"opened_at\":%" G_GINT64_FORMAT
        ",\"opened_by\":\"%s\",\"reopened\":%s,\"buckets\":%u,\"scan_shaped\":%s,"
        "\"syn_share\":%.2f,\"dests_per_source\":%.2f,\"baseline\":{\"young\":%s,\"days\":%u,\"candidates\":%u},"
        "\"degraded\":%s,\"peak_ratio\":%.2f,\"peak_sources\":%.0f,\"total_flows\":%.0f,"
        "\"metrics\":{",
        id, ps_event_kind_name(event->kind), series, ps_severity_name(event->severity),
        watched ? "true" : "false", event->bucket, event->opened_at,
        opened_by[event->opened_by <= PS_OPENED_BY_CUSUM ? event->opened_by : 0],
        event->reopened ? "true" : "false", event->buckets, event->scan_shaped ? "true" : "false",
        e->syn_share, e->intensity.ratio, event->young ? "true" : "false", b->n_days, b->n_candidates,
        event->degraded ? "true" : "false", event->peak_ratio, event->peak[PS_METRIC_SOURCES],
        event->total[PS_METRIC_FLOWS]);
    for (guint m = 0; m < PS_N_METRICS; m++)
        append_metric(out, e, m);
    g_string_append(out, "}}\n");
}

gchar *
ps_event_summary(const char *series, const PsAlertEvent *event)
{
    const PsEvaluation *e = &event->evaluation;
    PsMetric driver = e->score[PS_METRIC_SOURCES].z >= e->z ? PS_METRIC_SOURCES : PS_METRIC_SYN;

    return g_strdup_printf("%s %s %s: %s %.0f vs %.1f expected (x%.1f, z %.1f)%s%s%s",
                           ps_event_kind_name(event->kind), series,
                           ps_severity_name(event->severity), ps_metric_name(driver),
                           e->sample.value[driver], e->baseline[driver].expected,
                           e->score[driver].ratio, e->score[driver].z,
                           event->scan_shaped ? ", scan-shaped" : "",
                           event->young ? ", young baseline" : "",
                           event->degraded ? ", data degraded" : "");
}
