#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socket.h"

struct PsSocket {
    int fd;
    guint16 port;
    gsize rcvbuf; /* receive buffer granted */
    struct mmsghdr messages[PS_SOCKET_BATCH];
    struct iovec iov[PS_SOCKET_BATCH];
    struct sockaddr_storage senders[PS_SOCKET_BATCH];
    guint8 *buffers; /* PS_SOCKET_BATCH x PS_SOCKET_DATAGRAM_MAX */
};

gboolean
ps_socket_parse_listen(const char *text, PsAddress *address, guint16 *port, GError **error)
{
    const char *colon = strrchr(text, ':');
    g_autofree gchar *host = NULL;
    guint64 number;

    if (colon == NULL || !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &number, NULL)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "listen address '%s': expected ADDR:PORT, [ADDR]:PORT or :PORT", text);
        return FALSE;
    }
    *port = (guint16)number;
    host = g_strndup(text, colon - text);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (host[0] == '\0')
        return ps_address_parse("::", address);
    if (!ps_address_parse(host, address)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "listen address '%s': '%s' is not an IPv4 or IPv6 address", text, host);
        return FALSE;
    }
    return TRUE;
}

static socklen_t
to_sockaddr(const PsAddress *address, guint16 port, struct sockaddr_storage *storage)
{
    memset(storage, 0, sizeof(*storage));
    if (address->family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)storage;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        memcpy(&in->sin_addr, address->bytes, 4);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)storage;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    memcpy(&in6->sin6_addr, address->bytes, 16);
    return sizeof(*in6);
}

/* Returns the buffer granted, in bytes of datagrams (half what the kernel reports). */
static gsize
set_receive_buffer(int fd, gsize rcvbuf, const char *name)
{
    int wanted = (int)MIN(rcvbuf, (gsize)G_MAXINT / 2);
    int granted = 0;
    socklen_t len = sizeof(granted);

    /* SO_RCVBUFFORCE passes net.core.rmem_max when we have CAP_NET_ADMIN */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &wanted, sizeof(wanted)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &wanted, sizeof(wanted));
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len);
    /* the kernel reports double what it accounts for (socket(7)) */
    if ((gsize)granted / 2 < (gsize)wanted)
        g_warning("%s: receive buffer is %d bytes, %d asked for: bursts may be lost; raise "
                  "net.core.rmem_max",
                  name, granted / 2, wanted);
    return (gsize)granted / 2;
}

PsSocket *
ps_socket_open(const PsAddress *address, guint16 port, gsize rcvbuf, GError **error)
{
    g_autoptr(PsSocket) self = g_new0(PsSocket, 1);
    struct sockaddr_storage storage;
    socklen_t len = to_sockaddr(address, port, &storage);
    char text[PS_ADDRESS_STRLEN];
    g_autofree gchar *name = g_strdup_printf("[%s]:%u", ps_address_to_string(address, text), port);
    int off = 0;

    self->fd = socket(storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (self->fd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: socket: %s", name,
                    g_strerror(errno));
        return NULL;
    }
    if (storage.ss_family == AF_INET6)
        setsockopt(self->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)); /* dual-stack */
    if (bind(self->fd, (struct sockaddr *)&storage, len) != 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: bind: %s", name,
                    g_strerror(errno));
        return NULL;
    }
    if (port == 0) {
        len = sizeof(storage);
        getsockname(self->fd, (struct sockaddr *)&storage, &len);
        port = ntohs(((struct sockaddr_in *)&storage)->sin_port); /* same offset for v6 */
    }
    self->port = port;
    self->rcvbuf = set_receive_buffer(self->fd, rcvbuf, name);
    self->buffers = g_malloc((gsize)PS_SOCKET_BATCH * PS_SOCKET_DATAGRAM_MAX);
    return g_steal_pointer(&self);
}

void
ps_socket_close(PsSocket *self)
{
    if (self == NULL)
        return;
    if (self->fd >= 0)
        close(self->fd);
    g_free(self->buffers);
    g_free(self);
}

int
ps_socket_fd(const PsSocket *self)
{
    return self->fd;
}

gsize
ps_socket_rcvbuf(const PsSocket *self)
{
    return self->rcvbuf;
}

guint16
ps_socket_port(const PsSocket *self)
{
    return self->port;
}

/* Asked for when wanted (SO_MEMINFO), not carried by every datagram (SO_RXQ_OVFL), whose
 * control message took ~4% of the collector's samples at full blast (end to end, the
 * difference was within the noise). */
guint64
ps_socket_kernel_drops(const PsSocket *self)
{
    guint32 meminfo[SK_MEMINFO_VARS] = {0};
    socklen_t len = sizeof(meminfo);

    if (getsockopt(self->fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) != 0 ||
        len <= SK_MEMINFO_DROPS * sizeof(guint32))
        return 0;
    return meminfo[SK_MEMINFO_DROPS];
}

static void
prepare_batch(PsSocket *self)
{
    for (guint i = 0; i < PS_SOCKET_BATCH; i++) {
        struct msghdr *header = &self->messages[i].msg_hdr;
        self->iov[i].iov_base = self->buffers + (gsize)i * PS_SOCKET_DATAGRAM_MAX;
        self->iov[i].iov_len = PS_SOCKET_DATAGRAM_MAX;
        header->msg_name = &self->senders[i];
        header->msg_namelen = sizeof(self->senders[i]);
        header->msg_iov = &self->iov[i];
        header->msg_iovlen = 1;
        header->msg_control = NULL;
        header->msg_controllen = 0;
        header->msg_flags = 0;
    }
}

static void
sender_address(const struct sockaddr_storage *storage, PsAddress *address)
{
    if (storage->ss_family == AF_INET)
        ps_address_set_ipv4(address,
                            (const guint8 *)&((const struct sockaddr_in *)storage)->sin_addr);
    else
        ps_address_set_ipv6(address,
                            (const guint8 *)&((const struct sockaddr_in6 *)storage)->sin6_addr);
    ps_address_unmap(address);
}

guint
ps_socket_drain(PsSocket *self, PsDatagramFn fn, gpointer user_data, guint max_batches)
{
    guint total = 0;

    for (guint batch = 0; batch < max_batches; batch++) {
        int n;

        prepare_batch(self);
        n = recvmmsg(self->fd, self->messages, PS_SOCKET_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            PsAddress sender;
            sender_address(&self->senders[i], &sender);
            fn(&sender, self->iov[i].iov_base, self->messages[i].msg_len, user_data);
        }
        total += n;
        if (n < PS_SOCKET_BATCH)
            break;
    }
    return total;
}
