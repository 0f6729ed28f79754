/* The socket thread: reads every socket as soon as the kernel has datagrams and queues
 * them, in a ring of bounded size, for the main thread that decodes and counts them.
 *
 * Decoding and aggregation pause now and then (a new minute's first flows, the first takes
 * of a bucket, the flush thread's ranking on the same CPU). With them on the receive path
 * those pauses filled the socket's buffer and the kernel dropped datagrams at half the CPU
 * (tests/bench/README.md, session 17). Here the socket is emptied by a thread that does
 * nothing else, and the backlog waits in memory bounded by `receive_queue`. When the queue is
 * full the thread stops reading: the kernel's buffer fills and its drops are counted as
 * before (SO_MEMINFO), and the times the queue was full are counted too. */
#pragma once

#include "socket.h"

typedef struct PsSocketReader PsSocketReader;

/* Called on the main thread for every queued datagram, with the time it was received. */
typedef void (*PsQueuedFn)(const PsAddress *sender, const guint8 *data, gsize len,
                           gint64 received_ms, gpointer user_data);

/* Starts reading sockets (an array of PsSocket, not owned, left alone until
 * ps_socket_reader_stop) with at most queue_bytes of datagrams waiting. */
PsSocketReader *ps_socket_reader_start(GPtrArray *sockets, gsize queue_bytes);

/* Readable (an eventfd) while datagrams wait: watch it from the main loop. */
int ps_socket_reader_fd(const PsSocketReader *reader);

/* On the main thread: hands every waiting datagram to fn, at most max_datagrams of them
 * (the fd stays readable when more may wait). Returns how many it handed over. */
guint ps_socket_reader_drain(PsSocketReader *reader, PsQueuedFn fn, gpointer user_data,
                             guint max_datagrams);

/* Times the thread found the queue full and stopped reading until the main thread made room (0 for
 * NULL: no reader yet). */
guint64 ps_socket_reader_queue_full(const PsSocketReader *reader);
/* Bytes queued and not yet handed out (headers and padding included), from any thread (0 for
 * NULL). */
guint64 ps_socket_reader_queued_bytes(const PsSocketReader *reader);

/* Stops and joins the thread; what it had queued is still handed out by the next
 * ps_socket_reader_drain (call it before ps_socket_reader_free so nothing received is lost). */
void ps_socket_reader_stop(PsSocketReader *reader);
void ps_socket_reader_free(PsSocketReader *reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsSocketReader, ps_socket_reader_free)
