/* The signature a webhook receiver checks to know a message came from us and is fresh:
 *
 *   X-Portsurge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * The timestamp is inside the signed text, so a receiver rejects a replayed request by
 * refusing a t older than a few minutes, and an altered body or timestamp by the HMAC.
 * A receiver's recipe (README, "Webhooks"): split the header on ',', recompute the HMAC over
 * t + "." + the raw body with the shared secret, compare in constant time, check |now - t|. */
#pragma once

#include <glib.h>

#define PS_SIGNATURE_HEADER "X-Portsurge-Signature"

/* The header's value (without the name) for body at time t. Free with g_free. */
gchar *ps_signature_value(const char *secret, gint64 t, const char *body, gsize body_len);
