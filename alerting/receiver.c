#include "config.h"

#include <string.h>

#include "alerter.h"
#include "receiver.h"

static const char *format_names[] = {
    [PS_RECEIVER_GENERIC] = "generic",       [PS_RECEIVER_SLACK] = "slack",
    [PS_RECEIVER_MATTERMOST] = "mattermost", [PS_RECEIVER_TEAMS] = "teams",
    [PS_RECEIVER_DISCORD] = "discord",       [PS_RECEIVER_LOG] = "log",
};

gboolean
ps_receiver_format_parse(const char *text, PsReceiverFormat *format)
{
    if (g_strcmp0(text, "json") == 0) {
        *format = PS_RECEIVER_GENERIC;
        return TRUE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(format_names); i++) {
        if (g_strcmp0(text, format_names[i]) == 0) {
            *format = (PsReceiverFormat)i;
            return TRUE;
        }
    }
    return FALSE;
}

const char *
ps_receiver_format_name(PsReceiverFormat format)
{
    return (guint)format < G_N_ELEMENTS(format_names) ? format_names[format] : "?";
}

gboolean
ps_receiver_severity_parse(const char *text, PsSeverity *severity)
{
    for (PsSeverity s = PS_SEVERITY_WARNING; s <= PS_SEVERITY_CRITICAL; s++) {
        if (g_strcmp0(text, ps_severity_name(s)) == 0) {
            *severity = s;
            return TRUE;
        }
    }
    return FALSE;
}

/* "tcp/445@in" is in a list naming "tcp/445" or "tcp/445@in". */
static gboolean
series_listed(gchar **list, const char *series)
{
    gsize base = strcspn(series, "@");

    for (guint i = 0; list[i] != NULL; i++) {
        if (g_str_equal(list[i], series) ||
            (strlen(list[i]) == base && strncmp(list[i], series, base) == 0))
            return TRUE;
    }
    return FALSE;
}

gboolean
ps_receiver_wants(const PsReceiver *receiver, const char *series, const PsAlertEvent *event)
{
    if (event->severity < receiver->min_severity)
        return FALSE;
    if (receiver->series == NULL || g_str_equal(series, PS_BROAD_SCAN_SERIES))
        return TRUE;
    return series_listed(receiver->series, series);
}

gchar *
ps_receiver_render(const PsReceiver *receiver, const PsAlertMessage *message)
{
    switch (receiver->format) {
    case PS_RECEIVER_SLACK:
        return ps_format_slack(message);
    case PS_RECEIVER_MATTERMOST:
        return ps_format_mattermost(message);
    case PS_RECEIVER_TEAMS:
        return ps_format_teams(message);
    case PS_RECEIVER_DISCORD:
        return ps_format_discord(message);
    case PS_RECEIVER_LOG:
        return ps_format_explanation(message);
    case PS_RECEIVER_GENERIC:
    default:
        return ps_format_generic(message);
    }
}

PsReceiver *
ps_receiver_copy(const PsReceiver *receiver)
{
    PsReceiver *copy = g_new(PsReceiver, 1);

    *copy = *receiver;
    copy->name = g_strdup(receiver->name);
    copy->url = g_strdup(receiver->url);
    copy->series = g_strdupv(receiver->series);
    copy->secret = g_strdup(receiver->secret);
    copy->ca_file = g_strdup(receiver->ca_file);
    return copy;
}

void
ps_receiver_free(PsReceiver *receiver)
{
    if (receiver == NULL)
        return;
    g_free(receiver->name);
    if (receiver->url != NULL)
        memset(receiver->url, 0, strlen(receiver->url)); /* a secret: not left in freed memory */
    g_free(receiver->url);
    if (receiver->secret != NULL)
        memset(receiver->secret, 0, strlen(receiver->secret));
    g_free(receiver->secret);
    g_strfreev(receiver->series);
    g_free(receiver->ca_file);
    g_free(receiver);
}
