/* What format.c (the generic payload and the explanation) shares with chat.c (the chat
 * services' layouts): the list of fields every chat shows, and small json-glib writers. Not
 * for use outside the two. */
#pragma once

#include <json-glib/json-glib.h>

#include "format.h"

/* Slack's attachment palette; resolve is always green whatever the severity was. */
#define PS_FORMAT_COLOR_WARNING  0xECB22E
#define PS_FORMAT_COLOR_MAJOR    0xE8720C
#define PS_FORMAT_COLOR_CRITICAL 0xD0021B
#define PS_FORMAT_COLOR_RESOLVE  0x2EB67D

#define PS_FORMAT_N_FIELDS 7

/* One line of a chat message's field list: the same facts for every service. */
typedef struct {
    const char *title;
    gchar *value;
} PsField;

/* The facts every chat format lists; returns how many were filled. */
guint ps_format_fields_collect(const PsAlertMessage *message, PsField fields[PS_FORMAT_N_FIELDS]);
void ps_format_fields_free(PsField *fields, guint n);

/* "[CRITICAL] Port surge opened: tcp/445 (smb)"; free with g_free. */
gchar *ps_format_title(const PsAlertMessage *message);
/* text cut to max characters (an ellipsis marks the cut); free with g_free. */
gchar *ps_format_cut(const char *text, glong max);
/* The portsurge command that shows the series; free with g_free. */
gchar *ps_format_cli(const char *series);
/* RGB color of the event (severity, or green for a resolution). */
guint ps_format_color(const PsAlertEvent *event);
/* ISO 8601 UTC; free with g_free. */
gchar *ps_format_iso8601(gint64 unix_seconds);

gchar *ps_format_json_text(JsonBuilder *builder);
void ps_format_add_string(JsonBuilder *builder, const char *name, const char *value);
void ps_format_add_double(JsonBuilder *builder, const char *name, double value);
void ps_format_add_int(JsonBuilder *builder, const char *name, gint64 value);
void ps_format_add_bool(JsonBuilder *builder, const char *name, gboolean value);
