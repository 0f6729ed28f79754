/* An incident event as text: one JSON object (JSON Lines for --replay --format json, the
 * fields of the ps:alerts stream entry), and one human line for the log. */
#pragma once

#include "detect.h"

/* Incident id: "<series>@<opened_at>", the same for every event of one incident. */
gchar *ps_event_id(const char *series, const PsAlertEvent *event);

/* Appends the event as one line of JSON to out. */
void ps_event_json(const char *series, gboolean watched, const PsAlertEvent *event, GString *out);

/* "OPEN tcp/445 major: sources 812 vs 35 expected (x23.0, z 9.1), scan-shaped" */
gchar *ps_event_summary(const char *series, const PsAlertEvent *event);
