/* The alerter's Prometheus metrics: incidents by kind and severity, Redis errors, the last
 * bucket evaluated, and the courier's deliveries, failures, dead letters and outbox length.
 * Updated on the main loop, rendered on the metrics listener's thread: a lock between. */
#pragma once

#include "courier.h"
#include "detect.h"

typedef struct PsAlerterMetrics PsAlerterMetrics;

PsAlerterMetrics *ps_alerter_metrics_new(void);
void ps_alerter_metrics_free(PsAlerterMetrics *metrics);

void ps_alerter_metrics_set_courier(PsAlerterMetrics *metrics, PsCourier *courier);
void ps_alerter_metrics_event(PsAlerterMetrics *metrics, const PsAlertEvent *event);
void ps_alerter_metrics_redis_error(PsAlerterMetrics *metrics);
void ps_alerter_metrics_progress(PsAlerterMetrics *metrics, gint64 last_bucket);

/* A PsMetricsRenderFn: user_data is the PsAlerterMetrics. */
void ps_alerter_metrics_render(GString *out, gpointer user_data);
