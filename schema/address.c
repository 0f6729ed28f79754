#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "flow.h"

const char *
ps_address_to_string(const PsAddress *address, char buf[PS_ADDRESS_STRLEN])
{
    buf[0] = '\0';
    if (address->family == 4)
        inet_ntop(AF_INET, address->bytes, buf, PS_ADDRESS_STRLEN);
    else if (address->family == 6)
        inet_ntop(AF_INET6, address->bytes, buf, PS_ADDRESS_STRLEN);
    return buf;
}

gboolean
ps_address_parse(const char *text, PsAddress *address)
{
    memset(address, 0, sizeof(*address));
    if (inet_pton(AF_INET, text, address->bytes) == 1) {
        address->family = 4;
        return TRUE;
    }
    if (inet_pton(AF_INET6, text, address->bytes) == 1) {
        address->family = 6;
        return TRUE;
    }
    return FALSE;
}

void
ps_address_set_ipv4(PsAddress *address, const guint8 bytes[4])
{
    memset(address, 0, sizeof(*address));
    address->family = 4;
    memcpy(address->bytes, bytes, 4);
}

void
ps_address_set_ipv6(PsAddress *address, const guint8 bytes[16])
{
    address->family = 6;
    memcpy(address->bytes, bytes, 16);
}

void
ps_address_unmap(PsAddress *address)
{
    static const guint8 mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    guint8 v4[4];

    if (address->family != 6 || memcmp(address->bytes, mapped_prefix, 12) != 0)
        return;
    memcpy(v4, address->bytes + 12, 4);
    ps_address_set_ipv4(address, v4);
}

gboolean
ps_address_equal(gconstpointer a, gconstpointer b)
{
    const PsAddress *x = a;
    const PsAddress *y = b;

    return x->family == y->family && memcmp(x->bytes, y->bytes, 16) == 0;
}

guint
ps_address_hash(gconstpointer address)
{
    const PsAddress *a = address;
    guint hash = 2166136261u; /* FNV-1a */

    hash = (hash ^ a->family) * 16777619u;
    for (guint i = 0; i < 16; i++)
        hash = (hash ^ a->bytes[i]) * 16777619u;
    return hash;
}
