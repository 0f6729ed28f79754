#include "config.h"

#include "alerter.h"
#include "message.h"
#include "notify.h"
#include "outbox.h"

static gboolean
anyone_wants(GPtrArray *receivers, const char *series, const PsAlertEvent *event)
{
    for (guint i = 0; receivers != NULL && i < receivers->len; i++) {
        if (ps_receiver_wants(g_ptr_array_index(receivers, i), series, event))
            return TRUE;
    }
    return FALSE;
}

GPtrArray *
ps_notify_entries(GPtrArray *receivers, redisContext *redis, const char *prefix, guint step,
                  const char *series, gboolean watched, const PsAlertEvent *event, GError **error)
{
    GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)ps_outbox_entry_free);
    PsMessageFacts facts = {0};
    PsAlertMessage message = {
        series, watched, event,
        NULL,   0,       FALSE,
        NULL,   0,       event->evaluation.baseline[PS_METRIC_SOURCES].expected};
    g_autofree gchar *key = ps_format_idempotency_key(series, event);
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;

    if (!anyone_wants(receivers, series, event))
        return entries;
    /* a broad scan has no series of its own in the buckets */
    if (!g_str_equal(series, PS_BROAD_SCAN_SERIES)) {
        if (!ps_message_facts_read(redis, prefix, step, series, event->bucket, &facts, error)) {
            ps_message_facts_clear(&facts);
            g_ptr_array_unref(entries);
            return NULL;
        }
        ps_message_facts_apply(&facts, &message);
    }
    for (guint i = 0; i < receivers->len; i++) {
        const PsReceiver *receiver = g_ptr_array_index(receivers, i);
        g_autofree gchar *body = NULL;
        if (!ps_receiver_wants(receiver, series, event))
            continue;
        body = ps_receiver_render(receiver, &message);
        g_ptr_array_add(entries, ps_outbox_entry_new(key, receiver->name, now, body));
    }
    ps_message_facts_clear(&facts);
    return entries;
}
