/* ps-blast: sends pre-built NetFlow v5, v9 or IPFIX packets to 127.0.0.1:PORT, at a target rate
 * in records per second or as fast as it can, for a number of seconds, and prints what it sent
 * as one JSON line on stdout. v9 and IPFIX start with a template packet and repeat it every
 * --template-interval seconds, as exporters do, so a collector recovers from lost templates.
 *
 * Only loopback: there is deliberately no option for another destination. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "packet_pool.h"

#define BLAST_MAX_BATCH     64      /* datagrams per sendmmsg */
#define BLAST_BATCHES_PER_S 2000    /* pacing granularity at a target rate */
#define BLAST_SNDBUF        (4 << 20)

typedef struct {
    gint port;
    gchar *version;
    gdouble rate;
    gdouble duration;
    gint records;
    gint pool;
    gint sources;
    gint dst_ports;
    gint64 seed;
    gdouble template_interval;
    gint batch;
    gboolean live_times;
} BlastOptions;

typedef struct {
    guint64 packets;
    guint64 template_packets;
    guint64 records;
    guint64 bytes;
    guint64 send_errors;
    gint64 max_behind_ns;   /* the furthest the sender fell behind its schedule at a rate */
    guint64 behind_1ms;     /* batches sent more than 1 ms late: catching up in a burst */
} BlastCounters;

static volatile sig_atomic_t stop_requested;

static void
on_stop_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static gint64
monotonic_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (gint64)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void
sleep_until_ns(gint64 deadline_ns)
{
    struct timespec until = {.tv_sec = deadline_ns / 1000000000,
                             .tv_nsec = deadline_ns % 1000000000};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR &&
           !stop_requested)
        ;
}

static int
open_loopback_socket(guint16 port, GError **error)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int sndbuf = BLAST_SNDBUF;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "socket: %s",
                    g_strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    /* connected: the route is looked up once, not per datagram */
    if (connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "connect 127.0.0.1:%u: %s", port, g_strerror(errno));
        return -1;
    }
    return fd;
}

/* Sends n datagrams, retrying what the kernel did not take; counts what went out. */
static void
send_all(int fd, struct mmsghdr *messages, guint n, BlastCounters *counters)
{
    guint done = 0;

    while (done < n && !stop_requested) {
        int sent = sendmmsg(fd, messages + done, n - done, 0);
        if (sent < 0) {
            /* ECONNREFUSED: an ICMP error for an earlier datagram (nobody listening yet) */
            counters->send_errors++;
            if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED)
                return;
            continue;
        }
        for (int i = 0; i < sent; i++)
            counters->bytes += messages[done + i].msg_len;
        done += (guint)sent;
    }
}

static void
send_template(int fd, PsPacketPool *pool, BlastCounters *counters)
{
    struct iovec iov = {.iov_base = pool->template_packet.data,
                        .iov_len = pool->template_packet.len};
    struct mmsghdr message = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};

    ps_packet_pool_stamp(pool, &pool->template_packet, g_get_real_time() / 1000);
    send_all(fd, &message, 1, counters);
    counters->template_packets++;
}

/* Datagrams per sendmmsg: at a target rate about BLAST_BATCHES_PER_S batches a second, so
 * bursts stay short; flat out, the most the option allows. */
static guint
batch_size(const BlastOptions *options)
{
    gdouble packets_per_s = options->rate / options->records;

    if (options->rate <= 0)
        return (guint)options->batch;
    return (guint)CLAMP(packets_per_s / BLAST_BATCHES_PER_S, 1, options->batch);
}

/* A sender that fell behind (its CPU taken by something else) catches up in a burst faster
 * than the rate: how far behind it got tells a collector's loss from the sender's burst. */
static void
note_lateness(BlastCounters *counters, gint64 behind_ns)
{
    counters->max_behind_ns = MAX(counters->max_behind_ns, behind_ns);
    if (behind_ns > 1000000)
        counters->behind_1ms++;
}

static void
blast(int fd, PsPacketPool *pool, const BlastOptions *options, BlastCounters *counters)
{
    struct mmsghdr messages[BLAST_MAX_BATCH];
    struct iovec iov[BLAST_MAX_BATCH];
    guint batch = batch_size(options);
    gint64 start_ns = monotonic_ns();
    gint64 end_ns = start_ns + (gint64)(options->duration * 1e9);
    gint64 template_ns = (gint64)(options->template_interval * 1e9);
    gint64 next_template_ns = start_ns;
    guint next = 0;

    memset(messages, 0, sizeof(messages));
    for (gint64 now_ns = start_ns; now_ns < end_ns && !stop_requested; now_ns = monotonic_ns()) {
        gint64 now_ms = g_get_real_time() / 1000;

        if (pool->template_packet.len > 0 && now_ns >= next_template_ns) {
            send_template(fd, pool, counters);
            next_template_ns = now_ns + template_ns;
        }
        if (options->rate > 0) {
            gint64 due_ns = start_ns + (gint64)(counters->records * 1e9 / options->rate);
            if (due_ns > now_ns) {
                sleep_until_ns(MIN(due_ns, end_ns));
                continue;
            }
            note_lateness(counters, now_ns - due_ns);
        }
        for (guint i = 0; i < batch; i++) {
            PsPacket *packet = &pool->packets[next];
            next = next + 1 == pool->config.packets ? 0 : next + 1;
            ps_packet_pool_stamp(pool, packet, now_ms);
            iov[i].iov_base = packet->data;
            iov[i].iov_len = packet->len;
            messages[i].msg_hdr.msg_iov = &iov[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            counters->records += packet->records;
        }
        send_all(fd, messages, batch, counters);
        counters->packets += batch;
    }
}

static gboolean
parse_options(BlastOptions *options, int *argc, char ***argv, GError **error)
{
    GOptionEntry entries[] = {
        {"port", 'p', 0, G_OPTION_ARG_INT, &options->port, "UDP port on 127.0.0.1 (required)",
         "PORT"},
        {"version", 'V', 0, G_OPTION_ARG_STRING, &options->version,
         "v5, v9 or ipfix (default v9)", "VERSION"},
        {"rate", 'r', 0, G_OPTION_ARG_DOUBLE, &options->rate,
         "Records per second; 0 (default): as fast as possible", "RECORDS"},
        {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &options->duration,
         "Seconds to send (default 5)", "S"},
        {"records", 0, 0, G_OPTION_ARG_INT, &options->records,
         "Records per data packet (default 30)", "N"},
        {"pool", 0, 0, G_OPTION_ARG_INT, &options->pool,
         "Distinct data packets to cycle through (default 8192)", "N"},
        {"sources", 0, 0, G_OPTION_ARG_INT, &options->sources,
         "Distinct source addresses (default 100000)", "N"},
        {"dst-ports", 0, 0, G_OPTION_ARG_INT, &options->dst_ports,
         "Distinct destination ports (default 10000)", "N"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &options->seed, "PRNG seed (default 1)", "N"},
        {"template-interval", 0, 0, G_OPTION_ARG_DOUBLE, &options->template_interval,
         "Seconds between template packets, v9 and IPFIX (default 1)", "S"},
        {"batch", 0, 0, G_OPTION_ARG_INT, &options->batch,
         "Most datagrams per sendmmsg (default 32)", "N"},
        {"live-times", 0, 0, G_OPTION_ARG_NONE, &options->live_times,
         "Move record times with the clock: flows end up to a minute before they are sent "
         "(default: up to a minute before ps-blast started)", NULL},
        G_OPTION_ENTRY_NULL};
    g_autoptr(GOptionContext) context =
        g_option_context_new("- send NetFlow/IPFIX packets to 127.0.0.1 for benchmarks");

    options->duration = 5;
    options->records = PS_PACKET_POOL_MAX_RECORDS;
    options->pool = 8192;
    options->sources = 100000;
    options->dst_ports = 10000;
    options->seed = 1;
    options->template_interval = 1;
    options->batch = 32;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, argc, argv, error))
        return FALSE;
    if (options->port < 1 || options->port > 65535 || options->rate < 0 ||
        options->duration <= 0 || options->template_interval <= 0 || options->batch < 1 ||
        options->batch > BLAST_MAX_BATCH) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--port 1..65535, --batch 1..%d, positive --duration and "
                    "--template-interval, --rate >= 0",
                    BLAST_MAX_BATCH);
        return FALSE;
    }
    return TRUE;
}

static void
print_result(const PsPacketPool *pool, const BlastOptions *options,
             const BlastCounters *counters, gdouble seconds)
{
    struct rusage usage;
    gdouble cpu;

    getrusage(RUSAGE_SELF, &usage);
    cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
          (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    printf("{\"version\":\"%s\",\"port\":%d,\"target_rate\":%.0f,\"seconds\":%.3f,"
           "\"packets\":%" G_GUINT64_FORMAT ",\"template_packets\":%" G_GUINT64_FORMAT
           ",\"records\":%" G_GUINT64_FORMAT ",\"bytes\":%" G_GUINT64_FORMAT
           ",\"send_errors\":%" G_GUINT64_FORMAT ",\"records_per_second\":%.0f"
           ",\"records_per_packet\":%u,\"pool_packets\":%u,\"live_times\":%s"
           ",\"sender_cpu_seconds\":%.3f"
           ",\"max_behind_ms\":%.3f,\"batches_behind_1ms\":%" G_GUINT64_FORMAT "}\n",
           ps_packet_pool_version_name(pool->config.version), options->port, options->rate,
           seconds, counters->packets, counters->template_packets, counters->records,
           counters->bytes, counters->send_errors, counters->records / seconds,
           pool->config.records_per_packet, pool->config.packets,
           pool->live ? "true" : "false", cpu, counters->max_behind_ns / 1e6,
           counters->behind_1ms);
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    BlastOptions options = {0};
    BlastCounters counters = {0};
    PsPacketPoolConfig config;
    g_autoptr(GError) error = NULL;
    g_autoptr(PsPacketPool) pool = NULL;
    struct sigaction action = {.sa_handler = on_stop_signal};
    guint version;
    gint64 start_ns;
    int fd;

    if (!parse_options(&options, &argc, &argv, &error)) {
        g_printerr("ps-blast: %s\n", error->message);
        return 2;
    }
    version = ps_packet_pool_parse_version(options.version != NULL ? options.version : "v9");
    if (version == 0) {
        g_printerr("ps-blast: --version %s: expected v5, v9 or ipfix\n", options.version);
        return 2;
    }
    ps_packet_pool_defaults(&config, version);
    config.records_per_packet = (guint)MAX(options.records, 0);
    config.packets = (guint)MAX(options.pool, 0);
    config.sources = (guint)MAX(options.sources, 0);
    config.dst_ports = (guint)MAX(options.dst_ports, 0);
    config.seed = (guint64)options.seed;
    pool = ps_packet_pool_new(&config, g_get_real_time() / 1000, &error);
    if (pool == NULL) {
        g_printerr("ps-blast: %s\n", error->message);
        return 2;
    }
    if (options.live_times)
        ps_packet_pool_set_live(pool);
    fd = open_loopback_socket((guint16)options.port, &error);
    if (fd < 0) {
        g_printerr("ps-blast: %s\n", error->message);
        return 1;
    }
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    start_ns = monotonic_ns();
    blast(fd, pool, &options, &counters);
    print_result(pool, &options, &counters, (monotonic_ns() - start_ns) / 1e9);
    close(fd);
    return EXIT_SUCCESS;
}
