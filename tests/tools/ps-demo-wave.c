/* ps-demo-wave: sends a scan wave on tcp/445 to a collector as real NetFlow v5 packets, for
 * `contrib/run.sh --demo`: for each of the last --minutes minutes, flows that ended in that
 * minute (so a collector with a short grace closes those buckets at its next flush): the
 * usual traffic (a few dozen sources completing SMB sessions) and a worm's scan (hundreds of
 * sources, SYN-only, each to new addresses). The exporter's clock is ours, so the records'
 * end times are believed. Only ever sends to 127.0.0.1. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "builder.h"

#define RECORDS_PER_PACKET 30
#define UPTIME_BASE_MS     (3600u * 1000u) /* the "router" booted an hour ago */

typedef struct {
    gint port;
    gint minutes;
    gint sources;
    gint normal;
    gint seed;
} Options;

typedef struct {
    int fd;
    struct sockaddr_in to;
    GArray *records;    /* PsV5TestRecord waiting for a packet */
    GPtrArray *strings; /* addresses the records point to */
    guint32 sequence;
    gint64 now;
    guint64 sent;
} Sender;

static void
send_packet(Sender *sender)
{
    g_autofree PsPacket *packet = g_new0(PsPacket, 1);
    PsV5TestHeader header = {UPTIME_BASE_MS, (guint32)sender->now, 0, sender->sequence, 0, 0, 0};
    guint n = sender->records->len;

    if (n == 0)
        return;
    ps_packet_v5(packet, &header, (guint16)n, &g_array_index(sender->records, PsV5TestRecord, 0),
                 n);
    if (sendto(sender->fd, packet->data, packet->len, 0, (struct sockaddr *)&sender->to,
               sizeof(sender->to)) < 0)
        perror("ps-demo-wave: sendto");
    sender->sequence += n;
    sender->sent += n;
    g_array_set_size(sender->records, 0);
    g_ptr_array_set_size(sender->strings, 0);
    g_usleep(200); /* a router's pace, not a flood: nothing is lost in the socket */
}

/* One flow that ended `ago_ms` before now. */
static void
add_flow(Sender *sender, gchar *src, gchar *dst, guint8 flags, guint32 packets, guint32 bytes,
         guint32 ago_ms)
{
    PsV5TestRecord record = {src,
                             dst,
                             (guint16)(49152 + g_random_int_range(0, 16000)),
                             445,
                             6,
                             flags,
                             packets,
                             bytes,
                             UPTIME_BASE_MS - ago_ms - 500,
                             UPTIME_BASE_MS - ago_ms};

    g_ptr_array_add(sender->strings, src);
    g_ptr_array_add(sender->strings, dst);
    g_array_append_val(sender->records, record);
    if (sender->records->len == RECORDS_PER_PACKET)
        send_packet(sender);
}

/* The flows of the minute `minute` minutes back (1: the last whole minute). */
static void
send_minute(Sender *sender, const Options *o, gint minute)
{
    gint64 minute_start = (sender->now / 60 - minute) * 60;

    for (gint i = 0; i < o->normal; i++) { /* file servers in use: whole sessions */
        guint32 ago =
            (guint32)((sender->now - minute_start) * 1000 - g_random_int_range(1000, 59000));
        add_flow(sender, g_strdup_printf("10.1.%d.%d", i / 200, 10 + i % 200),
                 g_strdup_printf("10.0.0.%d", 2 + i % 4), 0x1b, 40, 24000, ago);
    }
    for (gint i = 0; i < o->sources; i++) { /* the worm: SYNs to random neighbours */
        for (gint probe = 0; probe < 3; probe++) {
            guint32 ago =
                (guint32)((sender->now - minute_start) * 1000 - g_random_int_range(1000, 59000));
            add_flow(sender, g_strdup_printf("198.51.%d.%d", 100 + i / 250, 1 + i % 250),
                     g_strdup_printf("10.%d.%d.%d", 2 + minute, g_random_int_range(0, 256),
                                     g_random_int_range(1, 255)),
                     0x02, 1, 60, ago);
        }
    }
    send_packet(sender);
}

int
main(int argc, char **argv)
{
    Options o = {2055, 3, 400, 30, 1};
    GOptionEntry entries[] = {
        {"port", 0, 0, G_OPTION_ARG_INT, &o.port, "Collector's UDP port on 127.0.0.1 (2055)", "P"},
        {"minutes", 0, 0, G_OPTION_ARG_INT, &o.minutes, "Minutes of wave, ending now (3)", "N"},
        {"sources", 0, 0, G_OPTION_ARG_INT, &o.sources, "Scanning sources per minute (400)", "N"},
        {"normal", 0, 0, G_OPTION_ARG_INT, &o.normal, "Usual sources per minute (30)", "N"},
        {"seed", 0, 0, G_OPTION_ARG_INT, &o.seed, "Random seed (1)", "N"},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context =
        g_option_context_new("- a scan wave on tcp/445 as NetFlow v5");
    g_autoptr(GError) error = NULL;
    Sender sender = {0};

    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error) || o.port <= 0 || o.port > 65535 ||
        o.minutes <= 0 || o.minutes > 4) {
        fprintf(stderr, "ps-demo-wave: %s\n",
                error != NULL ? error->message : "--port 1-65535, --minutes 1-4");
        return 2;
    }
    g_random_set_seed((guint32)o.seed);
    sender.fd = socket(AF_INET, SOCK_DGRAM, 0);
    sender.to.sin_family = AF_INET;
    sender.to.sin_port = htons((guint16)o.port);
    sender.to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sender.records = g_array_new(FALSE, TRUE, sizeof(PsV5TestRecord));
    sender.strings = g_ptr_array_new_with_free_func(g_free);
    sender.now = g_get_real_time() / G_USEC_PER_SEC;
    for (gint minute = o.minutes; minute >= 1; minute--)
        send_minute(&sender, &o, minute);
    printf("ps-demo-wave: %" G_GUINT64_FORMAT " flows in %d minute(s) to 127.0.0.1:%d\n",
           sender.sent, o.minutes, o.port);
    close(sender.fd);
    g_array_unref(sender.records);
    g_ptr_array_unref(sender.strings);
    return EXIT_SUCCESS;
}
