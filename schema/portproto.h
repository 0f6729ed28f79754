/* "tcp/445" <-> (protocol, port): the name of a service port in Redis keys, fields and the CLI.
 * Protocols without ports (ICMP, GRE, ...) use port 0: "icmp/0". Protocols without a common
 * name are "ip<number>", e.g. "ip50/0" for ESP. */
#pragma once

#include <glib.h>

#define PS_PORTPROTO_STRLEN 16 /* "ip255/65535" and a NUL */

/* Protocols whose flows carry ports that mean a service. Inline: every flow asks. */
static inline gboolean
ps_portproto_has_ports(guint8 proto)
{
    return proto == 6 || proto == 17 || proto == 132;
}

/* Writes "tcp/445" into buf and returns it. */
const char *ps_portproto_format(guint8 proto, guint16 port, char buf[PS_PORTPROTO_STRLEN]);

/* Parses "tcp/445", "udp/53", "icmp/0", "ip50/0"; FALSE with error set when it is not one. */
gboolean ps_portproto_parse(const char *text, guint8 *proto, guint16 *port, GError **error);
