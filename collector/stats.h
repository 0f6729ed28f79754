/* Self-metrics of the decoding side: per exporter and version, what came in and what went
 * wrong, as one summary line per exporter per interval instead of a log line per packet. */
#pragma once

#include "dispatch.h"

/* Logs, for each exporter with activity since the last call, the change of its counters;
 * problems (decode errors, unknown templates, sequence gaps) at warning level. previous keeps
 * the last snapshot between calls (PsAddress -> counters); create it with ps_stats_new(). */
void ps_stats_log(PsDispatch *dispatch, GHashTable *previous, gint64 interval_s);
GHashTable *ps_stats_new(void);

/* Formats one exporter's totals as JSON (for --read summaries and tests). */
void ps_stats_exporter_json(const PsExporter *exporter, GString *out);
