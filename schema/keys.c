#include "config.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "portproto.h"

const char *
ps_series_format(guint8 proto, guint16 port, PsDirection direction, char buf[PS_SERIES_STRLEN])
{
    static const char *suffixes[PS_N_DIRECTIONS] = {"", "@in", "@out", "@int"};
    const char *suffix = suffixes[direction < PS_N_DIRECTIONS ? direction : 0];

    G_STATIC_ASSERT(PS_SERIES_STRLEN >= PS_PORTPROTO_STRLEN + 4);
    /* no snprintf: see ps_portproto_format */
    ps_portproto_format(proto, port, buf);
    memcpy(buf + strlen(buf), suffix, strlen(suffix) + 1);
    return buf;
}

gchar *
ps_key_schema(const char *prefix)
{
    return g_strdup_printf("%sschema", prefix);
}

gchar *
ps_key_bucket(const char *prefix, guint step, gint64 start)
{
    return g_strdup_printf("%sb:%u:%" G_GINT64_FORMAT, prefix, step, start);
}

void
ps_key_bucket_series_append(GString *out, const char *prefix, guint step, gint64 start,
                            const char *kind, const char *series)
{
    g_string_append_printf(out, "%sb:%u:%" G_GINT64_FORMAT ":%s:%s", prefix, step, start, kind,
                           series);
}

gchar *
ps_key_bucket_series(const char *prefix, guint step, gint64 start, const char *kind,
                     const char *series)
{
    GString *key = g_string_new(NULL);

    ps_key_bucket_series_append(key, prefix, step, start, kind, series);
    return g_string_free(key, FALSE);
}

gchar *
ps_key_closed(const char *prefix, guint step)
{
    return g_strdup_printf("%sclosed:%u", prefix, step);
}

gchar *
ps_key_collector(const char *prefix, const char *id)
{
    return g_strdup_printf("%scollector:%s", prefix, id);
}

gchar *
ps_key_exporter(const char *prefix, const char *address)
{
    return g_strdup_printf("%sexporter:%s", prefix, address);
}

gchar *
ps_key_alerter(const char *prefix)
{
    return g_strdup_printf("%salerter", prefix);
}

gchar *
ps_key_outbox(const char *prefix)
{
    return g_strdup_printf("%soutbox", prefix);
}

gchar *
ps_key_outbox_dead(const char *prefix)
{
    return g_strdup_printf("%soutbox:dead", prefix);
}

gchar *
ps_key_seen(const char *prefix, const char *series)
{
    return g_strdup_printf("%sseen:%s", prefix, series);
}

gchar *
ps_key_seen_since(const char *prefix)
{
    return g_strdup_printf("%sseen-since", prefix);
}

void
ps_field_append(GString *out, const char *series, const char *metric)
{
    g_string_append(out, series);
    g_string_append_c(out, ':');
    g_string_append(out, metric);
}

gchar *
ps_field(const char *series, const char *metric)
{
    GString *field = g_string_new(NULL);

    ps_field_append(field, series, metric);
    return g_string_free(field, FALSE);
}
