#include "config.h"

#include <stdio.h>
#include <string.h>

#include "portproto.h"

typedef struct {
    guint8 number;
    const char *name;
} ProtocolName;

static const ProtocolName protocol_names[] = {
    {1, "icmp"}, {6, "tcp"}, {17, "udp"}, {47, "gre"}, {50, "esp"}, {58, "icmp6"}, {132, "sctp"},
};

/* Writes value in decimal at out; returns the end. By hand, not snprintf: the collector names
 * every active series at each flush on its receive thread, and formatting was three quarters
 * of that take (tests/bench/README.md). */
static char *
put_decimal(char *out, guint value)
{
    char digits[10];
    guint n = 0;

    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (n > 0)
        *out++ = digits[--n];
    return out;
}

const char *
ps_portproto_format(guint8 proto, guint16 port, char buf[PS_PORTPROTO_STRLEN])
{
    char *end = buf;

    for (guint i = 0; i < G_N_ELEMENTS(protocol_names) && end == buf; i++) {
        if (protocol_names[i].number == proto) {
            gsize len = strlen(protocol_names[i].name);
            memcpy(buf, protocol_names[i].name, len);
            end = buf + len;
        }
    }
    if (end == buf) {
        memcpy(buf, "ip", 2);
        end = put_decimal(buf + 2, proto);
    }
    *end++ = '/';
    *put_decimal(end, port) = '\0';
    return buf;
}

static gboolean
parse_protocol(const char *name, gsize len, guint8 *proto)
{
    guint64 number;
    g_autofree gchar *copy = g_strndup(name, len);

    for (guint i = 0; i < G_N_ELEMENTS(protocol_names); i++) {
        if (strcmp(protocol_names[i].name, copy) == 0) {
            *proto = protocol_names[i].number;
            return TRUE;
        }
    }
    if (g_str_has_prefix(copy, "ip") &&
        g_ascii_string_to_unsigned(copy + 2, 10, 0, 255, &number, NULL)) {
        *proto = (guint8)number;
        return TRUE;
    }
    return FALSE;
}

gboolean
ps_portproto_parse(const char *text, guint8 *proto, guint16 *port, GError **error)
{
    const char *slash = strchr(text, '/');
    guint64 number;

    if (slash == NULL || !parse_protocol(text, slash - text, proto) ||
        !g_ascii_string_to_unsigned(slash + 1, 10, 0, 65535, &number, NULL)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s' is not a port: expected PROTOCOL/PORT such as tcp/445, udp/53 or icmp/0",
                    text);
        return FALSE;
    }
    *port = (guint16)number;
    if (!ps_portproto_has_ports(*proto) && *port != 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s': protocol %u has no ports, use port 0", text, *proto);
        return FALSE;
    }
    return TRUE;
}
