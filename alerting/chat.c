/* The chat services' layouts of one message (format.h): Slack Block Kit, a Mattermost
 * attachment, a Teams Adaptive Card and a Discord embed, each from the same explanation and
 * field list as the others. */
#include "config.h"

#include <json-glib/json-glib.h>

#include "format_common.h"

/* The explanation with the sparkline of the last hour appended, when there is one. */
static gchar *
chat_text(const PsAlertMessage *message)
{
    g_autofree gchar *text = ps_format_explanation(message);
    g_autofree gchar *sparkline = ps_format_sparkline(message->last_hour, message->n_last_hour);

    if (sparkline[0] == '\0')
        return g_steal_pointer(&text);
    return g_strdup_printf("%s\nSources, last hour: %s", text, sparkline);
}

static void
slack_text_object(JsonBuilder *builder, const char *type, const char *text)
{
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "type", type);
    ps_format_add_string(builder, "text", text);
    json_builder_end_object(builder);
}

static void
slack_fields_block(JsonBuilder *builder, const PsAlertMessage *message)
{
    PsField fields[PS_FORMAT_N_FIELDS];
    guint n = ps_format_fields_collect(message, fields);

    json_builder_begin_object(builder);
    ps_format_add_string(builder, "type", "section");
    json_builder_set_member_name(builder, "fields");
    json_builder_begin_array(builder);
    for (guint i = 0; i < n; i++) {
        g_autofree gchar *text = g_strdup_printf("*%s*\n%s", fields[i].title, fields[i].value);
        slack_text_object(builder, "mrkdwn", text);
    }
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    ps_format_fields_free(fields, n);
}

gchar *
ps_format_slack(const PsAlertMessage *message)
{
    /* before the declarations below: they read the message */
    g_return_val_if_fail(message != NULL && message->series != NULL && message->event != NULL,
                         NULL);
    g_autoptr(JsonBuilder) builder = json_builder_new();
    g_autofree gchar *title = ps_format_title(message);
    g_autofree gchar *header = ps_format_cut(title, PS_FORMAT_SLACK_HEADER_MAX);
    g_autofree gchar *full = chat_text(message);
    g_autofree gchar *text = ps_format_cut(full, PS_FORMAT_SLACK_SECTION_MAX);
    g_autofree gchar *cli = ps_format_cli(message->series);
    g_autofree gchar *context = g_strdup_printf("More: `%s`", cli);

    json_builder_begin_object(builder);
    ps_format_add_string(builder, "text", title); /* notifications and clients without blocks */
    json_builder_set_member_name(builder, "blocks");
    json_builder_begin_array(builder);
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "type", "header");
    json_builder_set_member_name(builder, "text");
    slack_text_object(builder, "plain_text", header);
    json_builder_end_object(builder);
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "type", "section");
    json_builder_set_member_name(builder, "text");
    slack_text_object(builder, "mrkdwn", text);
    json_builder_end_object(builder);
    slack_fields_block(builder, message);
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "type", "context");
    json_builder_set_member_name(builder, "elements");
    json_builder_begin_array(builder);
    slack_text_object(builder, "mrkdwn", context);
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    return ps_format_json_text(builder);
}

gchar *
ps_format_mattermost(const PsAlertMessage *message)
{
    /* before the declarations below: they read the message */
    g_return_val_if_fail(message != NULL && message->series != NULL && message->event != NULL,
                         NULL);
    g_autoptr(JsonBuilder) builder = json_builder_new();
    g_autofree gchar *title = ps_format_title(message);
    g_autofree gchar *text = chat_text(message);
    g_autofree gchar *color = g_strdup_printf("#%06X", ps_format_color(message->event));
    g_autofree gchar *cli = ps_format_cli(message->series);
    PsField fields[PS_FORMAT_N_FIELDS];
    guint n = ps_format_fields_collect(message, fields);

    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "attachments");
    json_builder_begin_array(builder);
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "fallback", title);
    ps_format_add_string(builder, "color", color);
    ps_format_add_string(builder, "title", title);
    ps_format_add_string(builder, "text", text);
    json_builder_set_member_name(builder, "fields");
    json_builder_begin_array(builder);
    for (guint i = 0; i < n; i++) {
        json_builder_begin_object(builder);
        ps_format_add_bool(builder, "short", TRUE);
        ps_format_add_string(builder, "title", fields[i].title);
        ps_format_add_string(builder, "value", fields[i].value);
        json_builder_end_object(builder);
    }
    json_builder_end_array(builder);
    ps_format_add_string(builder, "footer", cli);
    json_builder_end_object(builder);
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    ps_format_fields_free(fields, n);
    return ps_format_json_text(builder);
}

/* Adaptive Cards have no free colors: heading colors are named by meaning. */
static const char *
teams_color(const PsAlertEvent *event)
{
    if (event->kind == PS_EVENT_RESOLVE)
        return "Good";
    return event->severity == PS_SEVERITY_WARNING ? "Warning" : "Attention";
}

/* color: NULL for body text */
static void
teams_text_block(JsonBuilder *builder, const char *text, const char *color)
{
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "type", "TextBlock");
    ps_format_add_string(builder, "text", text);
    ps_format_add_bool(builder, "wrap", TRUE);
    if (color != NULL) {
        ps_format_add_string(builder, "size", "Large");
        ps_format_add_string(builder, "weight", "Bolder");
        ps_format_add_string(builder, "color", color);
    }
    json_builder_end_object(builder);
}

static void
teams_fact_set(JsonBuilder *builder, const PsAlertMessage *message)
{
    PsField fields[PS_FORMAT_N_FIELDS];
    guint n = ps_format_fields_collect(message, fields);

    json_builder_begin_object(builder);
    ps_format_add_string(builder, "type", "FactSet");
    json_builder_set_member_name(builder, "facts");
    json_builder_begin_array(builder);
    for (guint i = 0; i < n; i++) {
        json_builder_begin_object(builder);
        ps_format_add_string(builder, "title", fields[i].title);
        ps_format_add_string(builder, "value", fields[i].value);
        json_builder_end_object(builder);
    }
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    ps_format_fields_free(fields, n);
}

static void
teams_card(JsonBuilder *builder, const PsAlertMessage *message)
{
    g_autofree gchar *title = ps_format_title(message);
    g_autofree gchar *text = chat_text(message);
    g_autofree gchar *cli = ps_format_cli(message->series);

    json_builder_begin_object(builder);
    ps_format_add_string(builder, "$schema", "http://adaptivecards.io/schemas/adaptive-card.json");
    ps_format_add_string(builder, "type", "AdaptiveCard");
    ps_format_add_string(builder, "version", "1.4");
    json_builder_set_member_name(builder, "body");
    json_builder_begin_array(builder);
    teams_text_block(builder, title, teams_color(message->event));
    teams_text_block(builder, text, NULL);
    teams_fact_set(builder, message);
    teams_text_block(builder, cli, NULL);
    json_builder_end_array(builder);
    json_builder_end_object(builder);
}

gchar *
ps_format_teams(const PsAlertMessage *message)
{
    /* before the declarations below: they read the message */
    g_return_val_if_fail(message != NULL && message->series != NULL && message->event != NULL,
                         NULL);
    g_autoptr(JsonBuilder) builder = json_builder_new();

    json_builder_begin_object(builder);
    ps_format_add_string(builder, "type", "message");
    json_builder_set_member_name(builder, "attachments");
    json_builder_begin_array(builder);
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "contentType", "application/vnd.microsoft.card.adaptive");
    ps_format_add_string(builder, "contentUrl", NULL);
    json_builder_set_member_name(builder, "content");
    teams_card(builder, message);
    json_builder_end_object(builder);
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    return ps_format_json_text(builder);
}

static void
discord_fields(JsonBuilder *builder, const PsAlertMessage *message)
{
    PsField fields[PS_FORMAT_N_FIELDS];
    guint n = ps_format_fields_collect(message, fields);

    json_builder_set_member_name(builder, "fields");
    json_builder_begin_array(builder);
    for (guint i = 0; i < n; i++) {
        g_autofree gchar *value = ps_format_cut(fields[i].value, PS_FORMAT_DISCORD_VALUE_MAX);

        json_builder_begin_object(builder);
        ps_format_add_string(builder, "name", fields[i].title);
        ps_format_add_string(builder, "value", value);
        ps_format_add_bool(builder, "inline", TRUE);
        json_builder_end_object(builder);
    }
    json_builder_end_array(builder);
    ps_format_fields_free(fields, n);
}

gchar *
ps_format_discord(const PsAlertMessage *message)
{
    /* before the declarations below: they read the message */
    g_return_val_if_fail(message != NULL && message->series != NULL && message->event != NULL,
                         NULL);
    g_autoptr(JsonBuilder) builder = json_builder_new();
    g_autofree gchar *title = ps_format_title(message);
    g_autofree gchar *full = chat_text(message);
    g_autofree gchar *text = ps_format_cut(full, PS_FORMAT_DISCORD_DESC_MAX);
    g_autofree gchar *timestamp = ps_format_iso8601(message->event->bucket);
    g_autofree gchar *cli = ps_format_cli(message->series);

    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "embeds");
    json_builder_begin_array(builder);
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "title", title);
    ps_format_add_string(builder, "description", text);
    ps_format_add_int(builder, "color", ps_format_color(message->event));
    ps_format_add_string(builder, "timestamp", timestamp);
    discord_fields(builder, message);
    json_builder_set_member_name(builder, "footer");
    json_builder_begin_object(builder);
    ps_format_add_string(builder, "text", cli);
    json_builder_end_object(builder);
    json_builder_end_object(builder);
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    return ps_format_json_text(builder);
}
