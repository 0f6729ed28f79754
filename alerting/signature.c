#include "config.h"

#include <string.h>

#include "signature.h"

gchar *
ps_signature_value(const char *secret, gint64 t, const char *body, gsize body_len)
{
    g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret, strlen(secret));
    g_autofree gchar *stamp = g_strdup_printf("%" G_GINT64_FORMAT, t);

    g_hmac_update(hmac, (const guchar *)stamp, -1);
    g_hmac_update(hmac, (const guchar *)".", 1);
    g_hmac_update(hmac, (const guchar *)body, (gssize)body_len);
    return g_strdup_printf("t=%s,v1=%s", stamp, g_hmac_get_string(hmac));
}
