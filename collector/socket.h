/* UDP receive for export packets: bind IPv4/IPv6 (dual-stack for "[::]"), a large receive
 * buffer, and batches of datagrams per system call (recvmmsg). The kernel's own drop counter
 * (SO_MEMINFO) is asked for by the statistics, so loss before we ever saw a packet is counted
 * too. */
#pragma once

#include "flow.h"

#define PS_SOCKET_BATCH        64
#define PS_SOCKET_DATAGRAM_MAX 65536

typedef struct PsSocket PsSocket;

/* Called for every datagram of a batch. */
typedef void (*PsDatagramFn)(const PsAddress *sender, const guint8 *data, gsize len,
                             gpointer user_data);

/* Parses "ADDR:PORT", "[ADDR]:PORT" or ":PORT" (all addresses, dual-stack). */
gboolean ps_socket_parse_listen(const char *text, PsAddress *address, guint16 *port,
                                GError **error);

/* Binds a non-blocking UDP socket. rcvbuf is the receive buffer to ask for; a warning is
 * logged when the kernel grants less (raise net.core.rmem_max). */
PsSocket *ps_socket_open(const PsAddress *address, guint16 port, gsize rcvbuf, GError **error);
void ps_socket_close(PsSocket *socket);
int ps_socket_fd(const PsSocket *socket);
guint16 ps_socket_port(const PsSocket *socket);
/* The receive buffer the kernel granted, in bytes. */
gsize ps_socket_rcvbuf(const PsSocket *socket);

/* Reads every datagram waiting (up to max_batches batches); returns how many it read. */
guint ps_socket_drain(PsSocket *socket, PsDatagramFn fn, gpointer user_data, guint max_batches);

/* Datagrams the kernel dropped on this socket because its buffer was full. */
guint64 ps_socket_kernel_drops(const PsSocket *socket);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsSocket, ps_socket_close)
