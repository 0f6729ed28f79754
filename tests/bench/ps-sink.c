/* ps-sink: the floor for any collector. A bare recvmmsg loop on 127.0.0.1:PORT that reads
 * datagrams and counts the data records in them from the header alone (v5 and v9 count field;
 * IPFIX: --records per data message, as ps-blast sends them), decoding nothing. On SIGTERM or
 * SIGINT it prints its counters as one JSON line on stdout. */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SINK_BATCH        64
#define SINK_DATAGRAM_MAX 65536
#define SINK_RCVBUF       (4 << 20)

typedef struct {
    guint64 packets;
    guint64 records;
    guint64 bytes;
    guint32 kernel_drops;
} SinkCounters;

static volatile sig_atomic_t stop_requested;

static void
on_stop_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static guint
read16(const guint8 *p)
{
    return (guint)p[0] << 8 | p[1];
}

/* Data records in one export packet: template-only packets count none. */
static guint
count_records(const guint8 *data, gsize len, guint ipfix_records)
{
    if (len < 20)
        return 0;
    switch (read16(data)) {
    case 5:
        return read16(data + 2);
    case 9:
        return len >= 24 && read16(data + 20) >= 256 ? read16(data + 2) : 0;
    case 10:
        return read16(data + 16) >= 256 ? ipfix_records : 0;
    default:
        return 0;
    }
}

static int
open_socket(guint16 port, gint rcvbuf)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int on = 1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
read_drops(struct msghdr *header, SinkCounters *counters)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(header); c != NULL; c = CMSG_NXTHDR(header, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
            memcpy(&counters->kernel_drops, CMSG_DATA(c), sizeof(guint32));
    }
}

static void
receive_loop(int fd, guint ipfix_records, SinkCounters *counters)
{
    static guint8 buffers[SINK_BATCH][SINK_DATAGRAM_MAX];
    static guint8 control[SINK_BATCH][CMSG_SPACE(sizeof(guint32))];
    struct mmsghdr messages[SINK_BATCH];
    struct iovec iov[SINK_BATCH];

    while (!stop_requested) {
        int n;
        memset(messages, 0, sizeof(messages));
        for (guint i = 0; i < SINK_BATCH; i++) {
            iov[i].iov_base = buffers[i];
            iov[i].iov_len = SINK_DATAGRAM_MAX;
            messages[i].msg_hdr.msg_iov = &iov[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            messages[i].msg_hdr.msg_control = control[i];
            messages[i].msg_hdr.msg_controllen = sizeof(control[i]);
        }
        n = recvmmsg(fd, messages, SINK_BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("ps-sink: recvmmsg");
            return;
        }
        for (int i = 0; i < n; i++) {
            counters->packets++;
            counters->bytes += messages[i].msg_len;
            counters->records += count_records(buffers[i], messages[i].msg_len, ipfix_records);
        }
        read_drops(&messages[n - 1].msg_hdr, counters);
    }
}

int
main(int argc, char **argv)
{
    SinkCounters counters = {0};
    struct sigaction action = {.sa_handler = on_stop_signal}; /* no SA_RESTART: EINTR stops */
    gint64 port = argc > 1 ? g_ascii_strtoll(argv[1], NULL, 10) : 0;
    guint ipfix_records = argc > 2 ? (guint)g_ascii_strtoull(argv[2], NULL, 10) : 30;
    gint rcvbuf = argc > 3 ? (gint)g_ascii_strtoll(argv[3], NULL, 10) : SINK_RCVBUF;
    int fd;

    if (port < 1 || port > 65535 || rcvbuf <= 0) {
        g_printerr("usage: ps-sink PORT [IPFIX-RECORDS-PER-MESSAGE [RCVBUF]]\n");
        return 2;
    }
    fd = open_socket((guint16)port, rcvbuf);
    if (fd < 0) {
        g_printerr("ps-sink: 127.0.0.1:%" G_GINT64_FORMAT ": %s\n", port, g_strerror(errno));
        return 1;
    }
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    receive_loop(fd, ipfix_records, &counters);
    printf("{\"packets\":%" G_GUINT64_FORMAT ",\"records\":%" G_GUINT64_FORMAT
           ",\"bytes\":%" G_GUINT64_FORMAT ",\"kernel_drops\":%u}\n",
           counters.packets, counters.records, counters.bytes, counters.kernel_drops);
    close(fd);
    return EXIT_SUCCESS;
}
