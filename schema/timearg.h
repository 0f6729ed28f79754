/* Times and durations as operators type them on a command line, parsed the same way by every
 * program (the alerter's --replay, the portsurge CLI): a time is Unix seconds, ISO 8601
 * ("2023-11-14T21:00:00Z"; without a zone it is UTC; a bare date is its midnight), "now", or a
 * duration ago ("90m", "7d"); a duration is a number with a unit s, m, h, d or w (plain
 * seconds without one). */
#pragma once

#include <glib.h>

/* Parses a time relative to now; FALSE with a G_OPTION_ERROR_BAD_VALUE error naming the
 * accepted forms otherwise. */
gboolean ps_time_parse(const char *text, gint64 now, gint64 *time, GError **error);

/* Parses a positive duration into seconds; FALSE with error set otherwise. */
gboolean ps_duration_parse(const char *text, gint64 *seconds, GError **error);
