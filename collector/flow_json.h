/* One flow record as one line of JSON (JSON Lines), for --read and --dump: what a router
 * really sent, after normalisation. Addresses as text, times as Unix milliseconds, packets
 * and bytes as exported (not scaled by sampling). */
#pragma once

#include "flow.h"

/* Appends the record and a newline to out. */
void ps_flow_json_append(const PsFlow *flow, GString *out);
