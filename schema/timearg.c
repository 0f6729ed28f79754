#include "config.h"

#include <string.h>

#include "timearg.h"

/* Ten years: more than any key lives, and far from overflowing a gint64 of seconds. */
#define PS_DURATION_MAX_S (10LL * 366 * 86400)

typedef struct {
    char unit;
    gint64 seconds;
} DurationUnit;

static const DurationUnit duration_units[] = {
    {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400},
};

/* Seconds of a number followed by at most one unit letter; FALSE when text is not one. */
static gboolean
duration_seconds(const char *text, gint64 *seconds)
{
    gsize len = strlen(text);
    gint64 unit = 1;
    guint64 number;
    g_autofree gchar *digits = NULL;

    if (len == 0)
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(duration_units); i++) {
        if (text[len - 1] == duration_units[i].unit) {
            unit = duration_units[i].seconds;
            len--;
            /* one letter only: without the break "s" went on to read text[-1] (fuzz-args)
             * and "5ms" was taken for 5 minutes */
            break;
        }
    }
    digits = g_strndup(text, len);
    if (!g_ascii_string_to_unsigned(digits, 10, 1, PS_DURATION_MAX_S / unit, &number, NULL))
        return FALSE;
    *seconds = (gint64)number * unit;
    return TRUE;
}

gboolean
ps_duration_parse(const char *text, gint64 *seconds, GError **error)
{
    if (!duration_seconds(text, seconds)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s' is not a duration: use a number with s, m, h, d or w, such as 90m or 7d",
                    text);
        return FALSE;
    }
    return TRUE;
}

/* ISO 8601 with UTC as the default zone; a bare date (2023-11-14) means its midnight. */
static gboolean
iso8601_seconds(const char *text, gint64 *time)
{
    g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
    g_autofree gchar *full =
        strlen(text) == 10 ? g_strconcat(text, "T00:00:00Z", NULL) : g_strdup(text);
    g_autoptr(GDateTime) parsed = g_date_time_new_from_iso8601(full, utc);

    if (parsed == NULL)
        return FALSE;
    *time = g_date_time_to_unix(parsed);
    return TRUE;
}

gboolean
ps_time_parse(const char *text, gint64 now, gint64 *time, GError **error)
{
    guint64 unix_seconds;
    gint64 ago;

    if (g_str_equal(text, "now")) {
        *time = now;
        return TRUE;
    }
    /* plain digits are Unix seconds, not a duration in seconds ago */
    if (g_ascii_string_to_unsigned(text, 10, 0, G_MAXINT64, &unix_seconds, NULL)) {
        *time = (gint64)unix_seconds;
        return TRUE;
    }
    if (duration_seconds(text, &ago)) {
        *time = now - ago;
        return TRUE;
    }
    if (iso8601_seconds(text, time))
        return TRUE;
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "'%s' is not a time: use now, 90m/12h/7d ago, ISO 8601 (2023-11-14T21:00:00Z) "
                "or Unix seconds",
                text);
    return FALSE;
}
