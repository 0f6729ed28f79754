#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "socket_reader.h"

/* The queue is one ring of queue_bytes: entries (a header, then the datagram, 8-byte aligned)
 * written by the socket thread and read by the main thread, each side owning its position.
 * Positions only grow; their difference is what waits. An entry that would cross the end
 * goes at the start, after a WRAP mark (or nothing, when not even a header fits). */
#define ENTRY_ALIGN 16 /* so that an entry can be written 16 bytes at a time (write_streaming) */
#define WRAP_MARK   G_MAXUINT32

#define MAX_BATCHES_PER_SOCKET 64 /* then look at the other sockets */
/* A wakeup that found fewer datagrams than this waits COALESCE_MS before the next look, when
 * every socket's buffer holds at least COALESCE_RCVBUF: see receive_thread() */
#define COALESCE_BELOW  PS_SOCKET_BATCH
#define COALESCE_MS     4
#define COALESCE_RCVBUF (4 << 20) /* 4 ms of 1 GB/s */
#define FULL_WAIT_MS    1
#define RESTART_FROM    (4 << 20)
#define PUBLISH_BYTES   (256 << 10)
/* The main thread prefetches the ring this far ahead of what it reads: a backlog lies in
 * memory written long ago, and the hardware's own prefetcher stops at every page */
#define PREFETCH_AHEAD (8 << 10)
#define CACHE_LINE     64
/* Entries written this far ahead of the main thread's reads are written past the cache: it
 * will not read them before they have left it (this VM's share of the cache is ~8 MiB) */
#define STREAM_FROM (8 << 20)

typedef struct {
    _Alignas(ENTRY_ALIGN) guint32 len; /* or WRAP_MARK */
    guint32 reserved;
    gint64 received_ms;
    PsAddress sender;
} Entry;
G_STATIC_ASSERT(sizeof(Entry) % ENTRY_ALIGN == 0);

/* The fields each thread writes sit on cache lines of their own: in production the two
 * threads run on different cores, and a line written by one is taken from the other. */
struct PsSocketReader {
    /* set before the thread starts, read by both */
    GPtrArray *sockets;
    GThread *thread;
    int ready_fd; /* eventfd: datagrams wait for the main thread */
    int stop_fd;  /* eventfd: wakes the thread to stop */
    gboolean coalesce;
    guint8 *ring;
    gsize size;         /* a power of two: positions map to the ring by a mask */
    gsize restart_from; /* see queue_datagram() */
    gint stopping;

    /* the socket thread's */
    _Alignas(CACHE_LINE) guint64 written; /* written up to here, published or not */
    guint64 tail_seen;                    /* tail when it last looked */
    gint64 wakeup_ms;                     /* when this wakeup's datagrams were read */
    guint64 queue_full;                   /* read by the main thread for the statistics */

    /* published up to here: the socket thread stores, the main thread loads */
    _Alignas(CACHE_LINE) guint64 head;
    /* read up to here: the main thread stores, the socket thread loads */
    _Alignas(CACHE_LINE) guint64 tail;
};

static void
signal_fd(int fd)
{
    guint64 one = 1;

    while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

static void
clear_fd(int fd)
{
    guint64 value;

    while (read(fd, &value, sizeof(value)) < 0 && errno == EINTR)
        ;
}

static gsize
entry_size(gsize len)
{
    return sizeof(Entry) + ((len + ENTRY_ALIGN - 1) & ~(gsize)(ENTRY_ALIGN - 1));
}

/* ---- on the socket thread ---- */

/* Makes what was written visible, waking the main thread when it had found the ring empty.
 * Once per PUBLISH_BYTES and per socket drain, not per datagram: each is a full barrier. */
static void
publish(PsSocketReader *self)
{
    guint64 previous = self->head;

    if (self->written == previous)
        return;
#ifdef __SSE2__
    _mm_sfence(); /* streaming stores are not ordered with others: done before they are shown */
#endif
    __atomic_store_n(&self->head, self->written, __ATOMIC_SEQ_CST);
    /* the main thread stops reading only at tail == head: if it stopped at the old head it may
     * be asleep, and only this signal wakes it */
    self->tail_seen = __atomic_load_n(&self->tail, __ATOMIC_SEQ_CST);
    if (self->tail_seen == previous)
        signal_fd(self->ready_fd);
}

/* Copies len bytes to `to` (ENTRY_ALIGN-aligned, with room up to the next multiple of it) with
 * streaming stores, which write whole lines without reading them first. Into a full ring
 * (the main thread far behind, at full blast) an ordinary copy reads every line it writes from
 * memory first. */
static void
write_streaming(guint8 *to, const guint8 *from, gsize len)
{
#ifdef __SSE2__
    gsize whole = len & ~(gsize)15;
    __m128i last = _mm_setzero_si128();

    for (gsize i = 0; i < whole; i += 16)
        _mm_stream_si128((__m128i *)(void *)(to + i),
                         _mm_loadu_si128((const __m128i *)(const void *)(from + i)));
    if (whole < len) {
        memcpy(&last, from + whole, len - whole); /* the rest, without reading past from */
        _mm_stream_si128((__m128i *)(void *)(to + whole), last);
    }
#else
    memcpy(to, from, len);
#endif
}

/* Writes an entry and its datagram at `to`; past the cache when the main thread is far
 * behind. */
static void
write_entry(PsSocketReader *self, guint8 *to, const Entry *entry, const guint8 *data)
{
    if (self->written - self->tail_seen < STREAM_FROM) {
        memcpy(to, entry, sizeof(*entry));
        memcpy(to + sizeof(*entry), data, entry->len);
        return;
    }
    write_streaming(to, (const guint8 *)entry, sizeof(*entry));
    write_streaming(to + sizeof(*entry), data, entry->len);
}

/* Waits until need bytes are free at position `at` (counting the wait once); FALSE when
 * stopping first. */
static gboolean
make_room(PsSocketReader *self, guint64 at, gsize need)
{
    gboolean counted = FALSE;

    if (at + need - self->tail_seen <= self->size)
        return TRUE;
    publish(self); /* what waits must be visible, or the main thread never makes room */
    for (;;) {
        struct pollfd stop = {.fd = self->stop_fd, .events = POLLIN};
        self->tail_seen = __atomic_load_n(&self->tail, __ATOMIC_SEQ_CST);
        if (at + need - self->tail_seen <= self->size)
            return TRUE;
        if (g_atomic_int_get(&self->stopping))
            return FALSE;
        if (!counted)
            __atomic_add_fetch(&self->queue_full, 1, __ATOMIC_RELAXED);
        counted = TRUE;
        poll(&stop, 1, FULL_WAIT_MS);
    }
}

/* Is the ring empty? Asked only before the first entry since the last publish. */
static gboolean
ring_empty(PsSocketReader *self)
{
    if (self->written != self->head)
        return FALSE;
    self->tail_seen = __atomic_load_n(&self->tail, __ATOMIC_SEQ_CST);
    return self->tail_seen == self->written;
}

static void
queue_datagram(const PsAddress *sender, const guint8 *data, gsize len, gpointer user_data)
{
    PsSocketReader *self = user_data;
    guint64 at = self->written;
    gsize need = entry_size(len), skip = 0, index = at & (self->size - 1);

    /* An empty ring starts again at its beginning once past restart_from, so that a main
     * thread that keeps up touches only its first pages. Until the main thread passes the
     * WRAP mark, the room left is what lies before its place: restart_from, at least. An
     * entry that would cross the end goes to the beginning too. */
    if (self->size - index < need || (index >= self->restart_from && ring_empty(self)))
        skip = self->size - index;
    if (!make_room(self, at, skip + need))
        return; /* stopping with the queue full: the kernel would have dropped it too */
    if (skip >= sizeof(Entry))
        ((Entry *)(void *)(self->ring + index))->len = WRAP_MARK;
    at += skip;
    write_entry(self, self->ring + (at & (self->size - 1)),
                &(Entry){.len = (guint32)len, .received_ms = self->wakeup_ms, .sender = *sender},
                data);
    self->written = at + need;
    if (self->written - self->head >= PUBLISH_BYTES)
        publish(self);
}

/* Waits until a socket is readable or the thread is told to stop (timeout_ms -1: no limit);
 * fills revents in fds (sockets first, the stop eventfd last). */
static void
wait_readable(PsSocketReader *self, struct pollfd *fds, int timeout_ms)
{
    guint n = self->sockets->len;

    for (guint i = 0; i < n; i++)
        fds[i] = (struct pollfd){.fd = ps_socket_fd(g_ptr_array_index(self->sockets, i)),
                                 .events = POLLIN};
    fds[n] = (struct pollfd){.fd = self->stop_fd, .events = POLLIN};
    if (timeout_ms >= 0) /* coalescing: only the stop signal may cut the wait short */
        poll(&fds[n], 1, timeout_ms);
    else
        poll(fds, n + 1, -1);
}

static guint
read_ready_sockets(PsSocketReader *self, const struct pollfd *fds)
{
    guint received = 0;

    self->wakeup_ms = g_get_real_time() / 1000;
    for (guint i = 0; i < self->sockets->len; i++) {
        if (fds[i].revents & POLLIN)
            received += ps_socket_drain(g_ptr_array_index(self->sockets, i), queue_datagram, self,
                                        MAX_BATCHES_PER_SOCKET);
    }
    publish(self);
    return received;
}

static gpointer
receive_thread(gpointer user_data)
{
    PsSocketReader *self = user_data;
    g_autofree struct pollfd *fds = g_new0(struct pollfd, self->sockets->len + 1);

    while (!g_atomic_int_get(&self->stopping)) {
        guint received;

        wait_readable(self, fds, -1);
        received = read_ready_sockets(self, fds);
        /* A steady stream wakes us for every datagram or two, and each wakeup (poll,
         * recvmmsg, a handover) costs more than decoding the datagram: at 33,000 datagrams a
         * second, 40% of the receive CPU. Looking again 4 ms later lets the kernel gather
         * them (tests/bench/README.md); a buffer of 4 MiB holds 4 ms of 1 GB/s, and flows
         * wait minutes for their bucket anyway. */
        if (self->coalesce && received > 0 && received < COALESCE_BELOW)
            wait_readable(self, fds, COALESCE_MS);
    }
    return NULL;
}

/* ---- on the main thread ---- */

static gsize
power_of_two_at_most(gsize n)
{
    gsize power = 1;

    while (power <= n / 2)
        power *= 2;
    return power;
}

PsSocketReader *
ps_socket_reader_start(GPtrArray *sockets, gsize queue_bytes)
{
    PsSocketReader *self = g_aligned_alloc0(1, sizeof(PsSocketReader), CACHE_LINE);

    self->sockets = g_ptr_array_ref(sockets);
    self->ready_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->ready_fd < 0 || self->stop_fd < 0)
        g_error("eventfd: %s", g_strerror(errno)); /* only when out of descriptors at start */
    /* any datagram fits; pages are touched only as far as a backlog reaches */
    self->size = power_of_two_at_most(MAX(queue_bytes, 2 * entry_size(PS_SOCKET_DATAGRAM_MAX)));
    self->ring = g_aligned_alloc(1, self->size, CACHE_LINE); /* entries: ENTRY_ALIGN */
    self->restart_from = MIN(self->size / 2, RESTART_FROM);
    self->coalesce = sockets->len > 0;
    for (guint i = 0; i < sockets->len; i++)
        self->coalesce &= ps_socket_rcvbuf(g_ptr_array_index(sockets, i)) >= COALESCE_RCVBUF;
    self->thread = g_thread_new("ps-socket", receive_thread, self);
    return self;
}

int
ps_socket_reader_fd(const PsSocketReader *self)
{
    return self->ready_fd;
}

/* Prefetches the ring's lines from `from` up to `to` into the L2 cache, not the L1: the
 * aggregation's own prefetches need the L1's few line buffers (v5 full blast into Redis,
 * alternated: 0.082-0.088 CPU-s per million records against 0.084-0.092; into the L1 only,
 * 0.10-0.11); returns how far it got. */
static guint64
prefetch_ahead(const PsSocketReader *self, guint64 from, guint64 to)
{
    for (from &= ~(guint64)(CACHE_LINE - 1); from < to; from += CACHE_LINE)
        __builtin_prefetch(self->ring + (from & (self->size - 1)), 0, 1);
    return from;
}

guint
ps_socket_reader_drain(PsSocketReader *self, PsQueuedFn fn, gpointer user_data, guint max_datagrams)
{
    guint total = 0;
    guint64 tail = self->tail, head, prefetched = 0;

    /* cleared before looking: whatever is published from now on signals it again */
    clear_fd(self->ready_fd);
    head = __atomic_load_n(&self->head, __ATOMIC_SEQ_CST);
    while (total < max_datagrams) {
        gsize index = tail & (self->size - 1), to_end = self->size - index;
        const Entry *entry = (const Entry *)(const void *)(self->ring + index);
        if (tail == head) {
            /* make room, then look again: stop only on an empty ring (see publish) */
            __atomic_store_n(&self->tail, tail, __ATOMIC_SEQ_CST);
            head = __atomic_load_n(&self->head, __ATOMIC_SEQ_CST);
            if (tail == head)
                return total;
            continue;
        }
        if (to_end < sizeof(Entry) || entry->len == WRAP_MARK) {
            tail += to_end;
            continue;
        }
        prefetched = prefetch_ahead(self, MAX(prefetched, tail), MIN(tail + PREFETCH_AHEAD, head));
        fn(&entry->sender, (const guint8 *)(entry + 1), entry->len, entry->received_ms, user_data);
        tail += entry_size(entry->len);
        total++;
        if (total % PS_SOCKET_BATCH == 0) /* room for the socket thread as we go */
            __atomic_store_n(&self->tail, tail, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&self->tail, tail, __ATOMIC_SEQ_CST);
    signal_fd(self->ready_fd); /* more may wait: come back after timers and signals */
    return total;
}

guint64
ps_socket_reader_queue_full(const PsSocketReader *self)
{
    return self == NULL ? 0 : __atomic_load_n(&self->queue_full, __ATOMIC_RELAXED);
}

guint64
ps_socket_reader_queued_bytes(const PsSocketReader *self)
{
    guint64 tail, head;

    if (self == NULL)
        return 0;
    tail = __atomic_load_n(&self->tail, __ATOMIC_ACQUIRE);
    head = __atomic_load_n(&self->head, __ATOMIC_ACQUIRE);
    return head > tail ? head - tail : 0; /* read apart: the tail may pass the head read before */
}

void
ps_socket_reader_stop(PsSocketReader *self)
{
    if (self->thread == NULL)
        return;
    g_atomic_int_set(&self->stopping, 1);
    signal_fd(self->stop_fd);
    g_thread_join(self->thread);
    self->thread = NULL;
}

void
ps_socket_reader_free(PsSocketReader *self)
{
    if (self == NULL)
        return;
    ps_socket_reader_stop(self);
    close(self->ready_fd);
    close(self->stop_fd);
    g_aligned_free(self->ring);
    g_ptr_array_unref(self->sockets);
    g_aligned_free(self);
}
