/* The socket thread (collector/socket_reader.c) over real UDP sockets on loopback: every
 * datagram comes out whole, in order, with its sender and receive time (or is a counted
 * kernel drop, when the loaded machine did not schedule the thread in time); with the queue full
 * the thread stops reading and what the kernel then dropped is what is missing, exactly;
 * stopping hands out what was queued. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socket_reader.h"

#define SMALL_QUEUE (1 << 20) /* the bound's floor: a few blocks */
#define BIG_QUEUE   (64 << 20)
#define RCVBUF      (200 << 10) /* under the default net.core.rmem_max: no warning */
#define QUIET_MS    300         /* nothing more came for this long: everything queued is out */
#define LATE_MS     5000        /* an awaited datagram is lost after this long without any */

typedef struct {
    guint count;      /* datagrams handed out */
    guint next;       /* sequence number expected next */
    guint mismatches; /* out of order, wrong length or wrong bytes */
    gint64 first_ms, last_ms;
    PsAddress sender;
} Seen;

static PsSocket *
open_loopback(void)
{
    g_autoptr(GError) error = NULL;
    PsAddress address;
    PsSocket *listener;

    g_assert_true(ps_address_parse("127.0.0.1", &address));
    listener = ps_socket_open(&address, 0, RCVBUF, &error); /* 0: a free port */
    g_assert_no_error(error);
    return listener;
}

/* Datagram number seq: its length and every byte follow from seq. */
static gsize
datagram_len(guint seq, gsize max)
{
    return 4 + (seq * 7919u) % (max - 4);
}

static guint8
datagram_byte(guint seq, gsize i)
{
    return (guint8)(seq * 31u + i);
}

static void
send_datagrams(PsSocket *listener, guint from, guint count, gsize max_len)
{
    struct sockaddr_in to = {.sin_family = AF_INET};
    g_autofree guint8 *buf = g_malloc(max_len);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    g_assert_cmpint(fd, >=, 0);
    to.sin_port = htons(ps_socket_port(listener));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (guint seq = from; seq < from + count; seq++) {
        gsize len = datagram_len(seq, max_len);
        memcpy(buf, &seq, 4);
        for (gsize i = 4; i < len; i++)
            buf[i] = datagram_byte(seq, i);
        g_assert_cmpint(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), ==,
                        (gssize)len);
        if (seq % 16 == 15)
            g_usleep(200); /* paced: the kernel's buffer is not what this test is about */
    }
    close(fd);
}

static gboolean
datagram_intact(const guint8 *data, gsize len, guint seq, gsize max_len)
{
    if (len != datagram_len(seq, max_len))
        return FALSE;
    for (gsize i = 4; i < len; i++) {
        if (data[i] != datagram_byte(seq, i))
            return FALSE;
    }
    return TRUE;
}

typedef struct {
    Seen *seen;
    gsize max_len;
} Check;

static void
on_datagram(const PsAddress *sender, const guint8 *data, gsize len, gint64 received_ms,
            gpointer user_data)
{
    Check *check = user_data;
    Seen *seen = check->seen;
    guint seq;

    g_assert_cmpuint(len, >=, 4);
    memcpy(&seq, data, 4);
    /* with losses (a full queue) numbers may skip, never go back */
    if (seq < seen->next || !datagram_intact(data, len, seq, check->max_len))
        seen->mismatches++;
    seen->next = seq + 1;
    if (seen->count++ == 0)
        seen->first_ms = received_ms;
    seen->last_ms = received_ms;
    seen->sender = *sender;
}

/* Drains until datagram number last came out or nothing came for quiet_ms. */
static void
drain_until(PsSocketReader *reader, Seen *seen, gsize max_len, guint last, int quiet_ms)
{
    Check check = {seen, max_len};
    struct pollfd fd = {.fd = ps_socket_reader_fd(reader), .events = POLLIN};

    while (seen->next <= last && poll(&fd, 1, quiet_ms) > 0)
        ps_socket_reader_drain(reader, on_datagram, &check, 4);
}

typedef struct {
    PsSocket *listener;
    guint count;
    gsize max_len;
} Sending;

static gpointer
sending_thread(gpointer user_data)
{
    Sending *sending = user_data;

    send_datagrams(sending->listener, 0, sending->count, sending->max_len);
    g_usleep(50 * 1000);
    /* one more, after the kernel's buffer had time to empty: it gets through, and when it
     * has come out every earlier datagram is out or counted as a kernel drop */
    send_datagrams(sending->listener, sending->count, 1, sending->max_len);
    return NULL;
}

/* Read while they are sent, through the smallest ring: it wraps many times. On a loaded
 * machine the kernel may still drop a few (the thread was not scheduled in time): those
 * are counted (SO_MEMINFO), and the sender's last datagram gets through. */
static void
test_every_datagram_in_order(void)
{
    const guint sent = 20000;
    g_autoptr(PsSocket) listener = open_loopback();
    g_autoptr(GPtrArray) sockets = g_ptr_array_new();
    g_autoptr(PsSocketReader) reader = NULL;
    Seen seen = {0};
    PsAddress loopback;
    gint64 before_ms = g_get_real_time() / 1000;

    Sending sending = {listener, sent, 2000};
    GThread *sender;

    g_ptr_array_add(sockets, listener);
    reader = ps_socket_reader_start(sockets, SMALL_QUEUE);
    sender = g_thread_new("sender", sending_thread, &sending);
    drain_until(reader, &seen, 2000, sent, LATE_MS);
    g_thread_join(sender);
    g_assert_cmpuint(seen.next, ==, sent + 1);
    g_assert_cmpuint(seen.mismatches, ==, 0);
    g_assert_cmpuint(seen.count + ps_socket_kernel_drops(listener), ==, sent + 1);
    g_assert_cmpuint(seen.count, >, sent / 2); /* far more than the ring holds: it wrapped */
    g_assert_true(ps_address_parse("127.0.0.1", &loopback));
    g_assert_true(ps_address_equal(&seen.sender, &loopback));
    g_assert_cmpint(seen.first_ms, >=, before_ms);
    g_assert_cmpint(seen.last_ms, <=, g_get_real_time() / 1000);
}

/* Nobody drains while 60-kB datagrams arrive: the queue fills, the thread stops reading, the
 * kernel's buffer fills and drops. Every datagram is either handed out or a kernel drop. */
static void
test_full_queue_loses_only_what_is_counted(void)
{
    const gsize max_len = 60000;
    const guint sent = 400;
    g_autoptr(PsSocket) listener = open_loopback();
    g_autoptr(GPtrArray) sockets = g_ptr_array_new();
    g_autoptr(PsSocketReader) reader = NULL;
    Seen seen = {0};

    g_ptr_array_add(sockets, listener);
    reader = ps_socket_reader_start(sockets, SMALL_QUEUE);
    send_datagrams(listener, 0, sent, max_len);
    g_usleep(200 * 1000);
    g_assert_cmpuint(ps_socket_reader_queue_full(reader), >=, 1);
    /* full: less than two of the largest entries short of the whole ring */
    g_assert_cmpuint(ps_socket_reader_queued_bytes(reader), >, SMALL_QUEUE - 2 * (max_len + 64));
    drain_until(reader, &seen, max_len, G_MAXUINT, QUIET_MS);
    g_assert_cmpuint(ps_socket_reader_queued_bytes(reader), ==, 0);
    g_assert_cmpuint(seen.count, <, sent);
    /* one more gets through now that the queue has room */
    send_datagrams(listener, sent, 1, max_len);
    drain_until(reader, &seen, max_len, G_MAXUINT, QUIET_MS);
    g_assert_cmpuint(seen.mismatches, ==, 0);
    g_assert_cmpuint(seen.count + ps_socket_kernel_drops(listener), ==, sent + 1);
}

/* Nobody drains while 13 MiB arrive: past 8 MiB of backlog the thread writes entries past the
 * cache (streaming stores); every datagram still comes out whole and in order, whatever its
 * length's remainder of 16. */
static void
test_deep_queue_comes_out_whole(void)
{
    const gsize max_len = 12000;
    const guint sent = 2200;
    g_autoptr(PsSocket) listener = open_loopback();
    g_autoptr(GPtrArray) sockets = g_ptr_array_new();
    g_autoptr(PsSocketReader) reader = NULL;
    Seen seen = {0};

    g_ptr_array_add(sockets, listener);
    reader = ps_socket_reader_start(sockets, BIG_QUEUE);
    send_datagrams(listener, 0, sent, max_len);
    g_usleep(300 * 1000);
    send_datagrams(listener, sent, 1, max_len); /* the last: once it is out, all are */
    g_usleep(300 * 1000);
    g_assert_cmpuint(ps_socket_reader_queued_bytes(reader), >, 9 << 20);
    drain_until(reader, &seen, max_len, sent, LATE_MS);
    g_assert_cmpuint(seen.next, ==, sent + 1);
    g_assert_cmpuint(seen.mismatches, ==, 0);
    g_assert_cmpuint(seen.count + ps_socket_kernel_drops(listener), ==, sent + 1);
    g_assert_cmpuint(seen.count, >, sent - 100);
}

/* What the thread had queued when told to stop is still handed out. */
static void
test_stop_hands_out_the_queue(void)
{
    g_autoptr(PsSocket) listener = open_loopback();
    g_autoptr(GPtrArray) sockets = g_ptr_array_new();
    g_autoptr(PsSocketReader) reader = NULL;
    struct pollfd fd;
    Seen seen = {0};
    Check check = {&seen, 1400};

    g_ptr_array_add(sockets, listener);
    reader = ps_socket_reader_start(sockets, BIG_QUEUE);
    send_datagrams(listener, 0, 3000, 1400);
    fd = (struct pollfd){.fd = ps_socket_reader_fd(reader), .events = POLLIN};
    g_assert_cmpint(poll(&fd, 1, 5000), ==, 1);
    g_usleep(300 * 1000);
    send_datagrams(listener, 3000, 1, 1400); /* the last: once it is out, all are */
    g_usleep(300 * 1000); /* the thread has read everything by now */
    ps_socket_reader_stop(reader);
    ps_socket_reader_drain(reader, on_datagram, &check, G_MAXUINT);
    g_assert_cmpuint(seen.next, ==, 3001);
    g_assert_cmpuint(seen.count + ps_socket_kernel_drops(listener), ==, 3001);
    g_assert_cmpuint(seen.mismatches, ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/socket-reader/every-datagram-in-order", test_every_datagram_in_order);
    g_test_add_func("/socket-reader/full-queue-loses-only-what-is-counted",
                    test_full_queue_loses_only_what_is_counted);
    g_test_add_func("/socket-reader/deep-queue-comes-out-whole", test_deep_queue_comes_out_whole);
    g_test_add_func("/socket-reader/stop-hands-out-the-queue", test_stop_hands_out_the_queue);
    return g_test_run();
}
