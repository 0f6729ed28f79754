#include "config.h"

#include "alerter_metrics.h"
#include "metrics.h"

#define N_KINDS      (PS_EVENT_RESOLVE + 1)
#define N_SEVERITIES (PS_SEVERITY_CRITICAL + 1)

struct PsAlerterMetrics {
    GMutex lock;
    PsCourier *courier; /* borrowed; set once before the listener starts */
    guint64 events[N_KINDS][N_SEVERITIES];
    guint64 redis_errors;
    gint64 last_bucket;
    gint64 started;
};

PsAlerterMetrics *
ps_alerter_metrics_new(void)
{
    PsAlerterMetrics *metrics = g_new0(PsAlerterMetrics, 1);

    g_mutex_init(&metrics->lock);
    metrics->started = g_get_real_time() / G_USEC_PER_SEC;
    return metrics;
}

void
ps_alerter_metrics_free(PsAlerterMetrics *metrics)
{
    if (metrics == NULL)
        return;
    g_mutex_clear(&metrics->lock);
    g_free(metrics);
}

void
ps_alerter_metrics_set_courier(PsAlerterMetrics *metrics, PsCourier *courier)
{
    g_mutex_lock(&metrics->lock);
    metrics->courier = courier;
    g_mutex_unlock(&metrics->lock);
}

void
ps_alerter_metrics_event(PsAlerterMetrics *metrics, const PsAlertEvent *event)
{
    if (metrics == NULL || event->kind >= N_KINDS || event->severity >= N_SEVERITIES)
        return;
    g_mutex_lock(&metrics->lock);
    metrics->events[event->kind][event->severity]++;
    g_mutex_unlock(&metrics->lock);
}

void
ps_alerter_metrics_redis_error(PsAlerterMetrics *metrics)
{
    g_mutex_lock(&metrics->lock);
    metrics->redis_errors++;
    g_mutex_unlock(&metrics->lock);
}

void
ps_alerter_metrics_progress(PsAlerterMetrics *metrics, gint64 last_bucket)
{
    g_mutex_lock(&metrics->lock);
    metrics->last_bucket = last_bucket;
    g_mutex_unlock(&metrics->lock);
}

static void
render_events(GString *out, PsAlerterMetrics *metrics)
{
    ps_metrics_family(out, "portsurge_alerter_alerts_total", "counter",
                      "Incident events by kind (open, escalate, remind, resolve) and severity");
    for (PsEventKind kind = PS_EVENT_OPEN; kind < N_KINDS; kind++) {
        for (PsSeverity severity = PS_SEVERITY_WARNING; severity < N_SEVERITIES; severity++)
            ps_metrics_sample_u64(out, "portsurge_alerter_alerts_total",
                                  metrics->events[kind][severity], "kind", ps_event_kind_name(kind),
                                  "severity", ps_severity_name(severity), NULL);
    }
}

static void
render_lane(const char *receiver, guint64 delivered, guint64 failed, guint64 dead,
            gpointer user_data)
{
    GString *out = user_data;

    ps_metrics_sample_u64(out, "portsurge_alerter_webhook_deliveries_total", delivered, "receiver",
                          receiver, "result", "delivered", NULL);
    ps_metrics_sample_u64(out, "portsurge_alerter_webhook_deliveries_total", failed, "receiver",
                          receiver, "result", "failed", NULL);
    ps_metrics_sample_u64(out, "portsurge_alerter_webhook_deliveries_total", dead, "receiver",
                          receiver, "result", "dead_letter", NULL);
}

static void
render_courier(GString *out, PsCourier *courier)
{
    PsCourierCounters counters;

    ps_courier_counters(courier, &counters);
    ps_metrics_family(out, "portsurge_alerter_webhook_deliveries_total", "counter",
                      "Webhook attempts by receiver (the name in the configuration) and result");
    ps_courier_foreach_lane(courier, render_lane, out);
    ps_metrics_family(out, "portsurge_alerter_dead_letters_total", "counter",
                      "Messages moved to the dead letters (ps:outbox:dead)");
    ps_metrics_sample_u64(out, "portsurge_alerter_dead_letters_total", counters.dead_letters, NULL);
    ps_metrics_family(out, "portsurge_alerter_outbox_length", "gauge",
                      "Messages waiting in ps:outbox at the courier's last look");
    ps_metrics_sample(out, "portsurge_alerter_outbox_length", (double)counters.outbox_length, NULL);
    ps_metrics_family(out, "portsurge_alerter_courier_redis_errors_total", "counter",
                      "Redis failures of the courier");
    ps_metrics_sample_u64(out, "portsurge_alerter_courier_redis_errors_total",
                          counters.redis_errors, NULL);
}

void
ps_alerter_metrics_render(GString *out, gpointer user_data)
{
    PsAlerterMetrics *metrics = user_data;

    g_mutex_lock(&metrics->lock);
    ps_metrics_family(out, "portsurge_alerter_info", "gauge", "Version of the running alerter");
    ps_metrics_sample(out, "portsurge_alerter_info", 1, "version", PS_VERSION, NULL);
    ps_metrics_family(out, "process_start_time_seconds", "gauge", "Start time, Unix seconds");
    ps_metrics_sample(out, "process_start_time_seconds", (double)metrics->started, NULL);
    render_events(out, metrics);
    ps_metrics_family(out, "portsurge_alerter_redis_errors_total", "counter",
                      "Redis failures while evaluating buckets");
    ps_metrics_sample_u64(out, "portsurge_alerter_redis_errors_total", metrics->redis_errors, NULL);
    ps_metrics_family(out, "portsurge_alerter_last_bucket_timestamp_seconds", "gauge",
                      "Start of the last bucket evaluated, Unix seconds");
    ps_metrics_sample(out, "portsurge_alerter_last_bucket_timestamp_seconds",
                      (double)metrics->last_bucket, NULL);
    if (metrics->courier != NULL)
        render_courier(out, metrics->courier);
    g_mutex_unlock(&metrics->lock);
}
