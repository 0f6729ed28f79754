/* An incident event as webhook bodies: the generic payload (schema/alert.schema.json) and the
 * chat formats of Slack, Mattermost, Microsoft Teams and Discord, all built with json-glib.
 * The chat formats share one human explanation (ps_format_explanation) and one list of fields,
 * so every service says the same thing in its own shape.
 *
 * Pure: no I/O, no clock. notify.c posts the bodies; the caller gathers what the event does
 * not carry (top sources, the last hour for the sparkline) into a PsAlertMessage. */
#pragma once

#include "detect.h"

/* Ceilings of the chat services (their documented limits); longer text is cut. */
#define PS_FORMAT_SLACK_HEADER_MAX  150  /* Slack header block plain_text */
#define PS_FORMAT_SLACK_SECTION_MAX 3000 /* Slack section text */
#define PS_FORMAT_DISCORD_DESC_MAX  4096 /* Discord embed description */
#define PS_FORMAT_DISCORD_VALUE_MAX 1024 /* Discord embed field value */
#define PS_FORMAT_TOP_SOURCES_MAX   10   /* top sources reported, whatever the caller passes */
#define PS_FORMAT_SPARKLINE_MAX     120  /* values drawn in a sparkline (the last ones) */

typedef struct {
    const char *address;
    guint64 flows;
    gboolean is_new; /* not among the usual top sources (meaningful when usual_top_known) */
} PsTopSource;

/* Everything one message says. Borrowed: the caller owns every pointer and keeps them alive
 * while the format functions run. top_sources and last_hour may be NULL with a count of 0. */
typedef struct {
    const char *series; /* "tcp/445", "tcp/445@in", "broad-scan" */
    gboolean watched;
    const PsAlertEvent *event;
    const PsTopSource *top_sources; /* heaviest first */
    guint n_top_sources;
    gboolean usual_top_known; /* the usual top sources were read: is_new says something */
    const double *last_hour;  /* distinct sources per bucket, oldest first */
    guint n_last_hour;
    double baseline_value; /* expected distinct sources, as the caller reports it */
} PsAlertMessage;

/* Well-known name of a port ("smb" for 445), or NULL. Only ports that matter in surges. */
const char *ps_format_service_name(guint16 port);

/* The key a receiver drops repeats by: "<incident id>:<event kind>:<bucket>", the same on
 * every attempt and after a restart. Free with g_free. */
gchar *ps_format_idempotency_key(const char *series, const PsAlertEvent *event);

/* "all", "in", "out" or "int", from the series suffix (@in, @out, @int). */
const char *ps_format_direction(const char *series);

/* Unicode sparkline of values, one of ▁▂▃▄▅▆▇█ each, scaled from their minimum to their
 * maximum (all ▁ when flat); a value that is not finite is a space. Free with g_free. */
gchar *ps_format_sparkline(const double *values, guint n);

/* One paragraph for people, shared by the chat formats: what surged and by how much, the
 * baseline behind it, why it looks like a scan, who sent it, what to distrust, and the command
 * that shows more. Free with g_free. */
gchar *ps_format_explanation(const PsAlertMessage *message);

/* JSON bodies, free with g_free. The generic one follows schema/alert.schema.json. */
gchar *ps_format_generic(const PsAlertMessage *message);
/* Block Kit: header, section (explanation), section fields, context (cli). */
gchar *ps_format_slack(const PsAlertMessage *message);
/* Incoming webhook attachment with fields, colored by severity. */
gchar *ps_format_mattermost(const PsAlertMessage *message);
/* Adaptive Card 1.4 in a message attachment: what Teams Workflows (Power Automate) webhooks
 * accept now that Office 365 connectors and their MessageCard are retired. */
gchar *ps_format_teams(const PsAlertMessage *message);
/* One embed with fields and a numeric color. */
gchar *ps_format_discord(const PsAlertMessage *message);
