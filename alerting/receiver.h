/* A receiver of alert messages: one chat webhook (or the log), what it wants to hear about
 * and in which format. Pure: matching and rendering only; courier.c does the HTTP. */
#pragma once

#include "format.h"

typedef enum {
    PS_RECEIVER_GENERIC, /* schema/alert.schema.json */
    PS_RECEIVER_SLACK,
    PS_RECEIVER_MATTERMOST,
    PS_RECEIVER_TEAMS,
    PS_RECEIVER_DISCORD,
    PS_RECEIVER_LOG, /* printed to the log: to try portsurge without a chat */
} PsReceiverFormat;

#define PS_RECEIVER_TIMEOUT_S      10
#define PS_RECEIVER_MAX_PER_MINUTE 30 /* Slack allows about one message a second */

typedef struct {
    gchar *name; /* [webhook NAME]; the only thing logs say about a receiver */
    gchar *url;  /* secret: never logged */
    PsReceiverFormat format;
    PsSeverity min_severity;
    gchar **series; /* only these ports ("tcp/445"; NULL: all); directions included */
    gchar *secret;  /* HMAC-SHA256 signature key, NULL: unsigned */
    gchar *ca_file; /* extra CA bundle for TLS verification, NULL: the system's */
    guint timeout_s;
    guint max_per_minute; /* messages started per minute at most */
} PsReceiver;

/* "generic", "json" (same), "slack", "mattermost", "teams", "discord", "log". */
gboolean ps_receiver_format_parse(const char *text, PsReceiverFormat *format);
const char *ps_receiver_format_name(PsReceiverFormat format);

/* "warning", "major" or "critical". */
gboolean ps_receiver_severity_parse(const char *text, PsSeverity *severity);

/* Does the receiver want this event? Severity at least its minimum (a resolution is wanted
 * when its incident was), series in its list (a broad scan passes every list: it touches
 * many ports at once). */
gboolean ps_receiver_wants(const PsReceiver *receiver, const char *series,
                           const PsAlertEvent *event);

/* The message's body in the receiver's format (the log receiver gets the explanation).
 * Free with g_free. */
gchar *ps_receiver_render(const PsReceiver *receiver, const PsAlertMessage *message);

PsReceiver *ps_receiver_copy(const PsReceiver *receiver);
void ps_receiver_free(PsReceiver *receiver);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsReceiver, ps_receiver_free)
