/* The real collector on 127.0.0.1 writing to a private redis-server, fed crafted NetFlow v5
 * over UDP at a steady pace, through what happens to a collector in production:
 *   - Redis goes away for 30 s and comes back: nothing is lost (flushes were held in memory
 *     and written after the recovery; a transaction is never applied twice);
 *   - the outage is longer than --max-pending can hold: what is lost is exactly what the
 *     collector says it dropped;
 *   - SIGTERM in the middle of a bucket: the open bucket is closed and written before exit;
 *   - Redis applies a transaction but its reply is lost (a proxy drops it): the collector
 *     times out, reconnects, finds the transaction in and does not apply it again.
 * Redis is stopped with SHUTDOWN SAVE and restarted from its dump, as a Redis with
 * persistence would come back, so that Redis itself loses nothing across the outage.
 *
 * "Sent" is counted by this program; the collector's --dump output (one line per record
 * received) tells UDP loss (an environment problem) apart from loss in the collector. */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "integ-util.h"
#include "redis-proxy.h"
#include "redis-server.h"
#include "redis.h"

#define PACKETS_PER_SECOND  20
#define RECORDS_PER_PACKET  10
#define DISTINCT_SOURCES    500
#define RECOVERY_TIMEOUT_MS 45000 /* the collector's backoff reaches 30 s: allow one full wait */
#define START_ATTEMPTS      5     /* port races with other programs */
#define STOP_TIMEOUT_MS     30000 /* SIGTERM: close buckets, write them (15 s bound in main.c) */
#define REPLY_LOST_MS       12000 /* the collector's 5 s Redis timeout, its backoff, a retry */

typedef struct {
    guint64 flows;
    guint64 packets;
    guint64 bytes;
    guint64 syn;
} Totals;

typedef struct {
    PsTestRedis *redis;
    PsTestProxy *proxy; /* between the collector and Redis, or NULL */
    PsTestChild *collector;
    int fd;
    guint16 port;
    guint32 sequence; /* v5: flows sent so far */
    Totals sent;
} Stream;

/* ---- the main context: the collector's pipes are read while we wait ---- */

static gboolean
on_timer(gpointer user_data)
{
    gboolean *fired = user_data;

    *fired = TRUE;
    return G_SOURCE_REMOVE;
}

/* Runs the main context for ms milliseconds. */
static void
pump(guint ms)
{
    gboolean fired = FALSE;

    g_timeout_add(ms, on_timer, &fired);
    while (!fired)
        g_main_context_iteration(NULL, TRUE);
}

/* Runs the main context until the collector's stderr has a line with needle (TRUE), it
 * exited, or timeout_ms passed. */
static gboolean
pump_until_logged(PsTestChild *child, const char *needle, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    while (ps_test_lines_count(child->err, needle) == 0 && !child->exited &&
           g_get_monotonic_time() < deadline)
        pump(50);
    return ps_test_lines_count(child->err, needle) > 0;
}

/* ---- sending ---- */

static void
put_u16(guint8 *p, guint16 v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static void
put_u32(guint8 *p, guint32 v)
{
    put_u16(p, v >> 16);
    put_u16(p + 2, v & 0xffff);
}

/* One v5 datagram stamped with the current time; its records end at export time. Record n
 * (counting over the stream) is a SYN from 198.18.x.y (DISTINCT_SOURCES of them) to
 * 10.0.0.1:445 with 1 to 3 packets of 60 bytes, every fifth one a full connection instead. */
static gsize
build_packet(Stream *stream, guint8 *data)
{
    gint64 now_us = g_get_real_time();
    const guint32 uptime = 3600000;

    memset(data, 0, 24 + 48 * RECORDS_PER_PACKET);
    put_u16(data, 5);
    put_u16(data + 2, RECORDS_PER_PACKET);
    put_u32(data + 4, uptime);
    put_u32(data + 8, (guint32)(now_us / G_USEC_PER_SEC));
    put_u32(data + 12, (guint32)(now_us % G_USEC_PER_SEC * 1000));
    put_u32(data + 16, stream->sequence);
    for (guint i = 0; i < RECORDS_PER_PACKET; i++) {
        guint8 *r = data + 24 + 48 * i;
        guint32 n = stream->sequence + i;
        guint32 source = n % DISTINCT_SOURCES;
        guint32 packets = 1 + n % 3;
        gboolean full = n % 5 == 4;

        put_u32(r, 198u << 24 | 18u << 16 | source); /* 198.18.x.y */
        put_u32(r + 4, 10u << 24 | 1);               /* 10.0.0.1 */
        put_u32(r + 16, packets);
        put_u32(r + 20, packets * 60);
        put_u32(r + 24, uptime - 1000);
        put_u32(r + 28, uptime);
        put_u16(r + 32, 40000 + n % 20000);
        put_u16(r + 34, 445);
        r[37] = full ? 0x1b : 0x02;
        r[38] = 6;
        stream->sent.flows++;
        stream->sent.packets += packets;
        stream->sent.bytes += packets * 60;
        stream->sent.syn += !full;
    }
    stream->sequence += RECORDS_PER_PACKET;
    return 24 + 48 * RECORDS_PER_PACKET;
}

/* Sends PACKETS_PER_SECOND datagrams a second for ms milliseconds, reading the collector's
 * pipes in between (a full stdout pipe would stall its receive loop). */
static void
send_for(Stream *stream, guint ms)
{
    guint8 data[24 + 48 * RECORDS_PER_PACKET];
    gint64 start = g_get_monotonic_time();
    guint n = ms * PACKETS_PER_SECOND / 1000;

    for (guint i = 0; i < n; i++) {
        gint64 due = start + (gint64)i * G_USEC_PER_SEC / PACKETS_PER_SECOND;
        gint64 wait_us = due - g_get_monotonic_time();
        gsize len;
        if (wait_us > 1000)
            pump(wait_us / 1000);
        while (g_main_context_iteration(NULL, FALSE))
            ;
        len = build_packet(stream, data);
        if (!ps_test_udp_send(stream->fd, data, len)) {
            g_autofree gchar *status = NULL;
            pump(200);
            status = ps_test_child_describe_status(stream->collector);
            ps_test_child_log_stderr(stream->collector, "collector");
            g_test_message("the collector is gone: %s", status);
        }
        if (stream->collector->exited) {
            g_autofree gchar *status = ps_test_child_describe_status(stream->collector);
            ps_test_child_log_stderr(stream->collector, "collector");
            g_test_message("the collector is gone: %s", status);
        }
        g_assert_false(stream->collector->exited);
    }
}

/* ---- Redis ---- */

/* Sums tcp/445 over every minute (or hour) bucket hash. */
static Totals
series_totals(PsTestRedis *redis, guint step, const char *series)
{
    g_autoptr(redisContext) context = ps_test_redis_connect(redis);
    g_autofree gchar *pattern = g_strdup_printf("ps:b:%u:*", step);
    g_autofree gchar *flows = g_strdup_printf("%s:flows", series);
    g_autofree gchar *pkts = g_strdup_printf("%s:pkts", series);
    g_autofree gchar *bytes = g_strdup_printf("%s:bytes", series);
    g_autofree gchar *syn = g_strdup_printf("%s:syn", series);
    g_autoptr(GPtrArray) keys = NULL;
    Totals totals = {0};

    g_assert_nonnull(context);
    keys = ps_test_redis_keys(context, pattern);
    for (guint i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);
        if (strchr(key + strlen(pattern) - 1, ':') != NULL)
            continue; /* a sketch or a top set */
        totals.flows += ps_test_redis_hget_int(context, key, flows);
        totals.packets += ps_test_redis_hget_int(context, key, pkts);
        totals.bytes += ps_test_redis_hget_int(context, key, bytes);
        totals.syn += ps_test_redis_hget_int(context, key, syn);
    }
    return totals;
}

static Totals
redis_totals(PsTestRedis *redis, guint step)
{
    return series_totals(redis, step, "tcp/445");
}

/* Every minute bucket with data is closed: in ps:closed:60, with distinct counts equal to its
 * sketches' PFCOUNT. Returns how many buckets there were. */
static guint
assert_buckets_closed(PsTestRedis *redis)
{
    g_autoptr(redisContext) context = ps_test_redis_connect(redis);
    g_autoptr(GPtrArray) keys = NULL;
    guint buckets = 0;

    g_assert_nonnull(context);
    keys = ps_test_redis_keys(context, "ps:b:60:*");
    for (guint i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);
        const char *start = key + strlen("ps:b:60:");
        g_autofree gchar *src = g_strdup_printf("%s:src:tcp/445", key);
        g_autoptr(redisReply) closed = NULL;
        g_autoptr(redisReply) count = NULL;
        if (strchr(start, ':') != NULL)
            continue;
        buckets++;
        closed = ps_test_redis_command(context, "ZSCORE", "ps:closed:60", start, NULL);
        if (closed->type != REDIS_REPLY_STRING)
            g_test_message("bucket %s is not in ps:closed:60", start);
        g_assert_cmpint(closed->type, ==, REDIS_REPLY_STRING);
        count = ps_test_redis_command(context, "PFCOUNT", src, NULL);
        g_assert_cmpint(count->type, ==, REDIS_REPLY_INTEGER);
        g_assert_cmpint(count->integer, >, 0);
        g_assert_cmpint(ps_test_redis_hget_int(context, key, "tcp/445:nsrc"), ==, count->integer);
        g_assert_cmpint(ps_test_redis_hget_int(context, key, "tcp/445:ndst"), ==, 1);
    }
    return buckets;
}

static void
log_totals(const char *what, const Totals *t)
{
    g_test_message("%s: %" G_GUINT64_FORMAT " flows, %" G_GUINT64_FORMAT
                   " packets, %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " SYN",
                   what, t->flows, t->packets, t->bytes, t->syn);
}

/* ---- the collector ---- */

/* Starts `collector --dump --stats options --listen 127.0.0.1:PORT` on a free port and waits
 * until it listens; retries with another port if one was taken meanwhile. NULL (test failed)
 * when it never starts. */
static PsTestChild *
collector_spawn(Stream *stream, const char *const *options)
{
    g_autofree gchar *program = g_strdup(ps_test_collector_path());

    for (guint attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) error = NULL;
        g_autoptr(PsTestChild) child = NULL;

        stream->port = ps_test_free_udp_port("127.0.0.1");
        g_assert_cmpuint(stream->port, >, 0);
        g_ptr_array_add(argv, g_strdup(program));
        g_ptr_array_add(argv, g_strdup("--dump"));
        g_ptr_array_add(argv, g_strdup("--stats"));
        for (guint i = 0; options[i] != NULL; i++)
            g_ptr_array_add(argv, g_strdup(options[i]));
        g_ptr_array_add(argv, g_strdup("--listen"));
        g_ptr_array_add(argv, g_strdup_printf("127.0.0.1:%u", stream->port));
        g_ptr_array_add(argv, NULL);
        child = ps_test_child_spawn((const gchar *const *)argv->pdata, &error);
        g_assert_no_error(error);
        if (pump_until_logged(child, "listening on", PS_TEST_START_TIMEOUT_MS))
            return g_steal_pointer(&child);
        ps_test_child_log_stderr(child, "collector");
        g_test_message("the collector did not start (attempt %u); trying another port",
                       attempt + 1);
    }
    g_test_fail_printf("the collector did not start listening in %d attempts", START_ATTEMPTS);
    return NULL;
}

/* Starts Redis and the collector (--dump, so records received can be counted, flushing every
 * second, plus extra options), through a proxy that can lose replies if asked; FALSE when the
 * test was skipped or failed. */
static gboolean
stream_start_via(Stream *stream, const char *const *extra, gboolean proxied)
{
    g_autoptr(GPtrArray) options = g_ptr_array_new();
    g_autofree gchar *proxy_path = NULL;

    memset(stream, 0, sizeof(*stream));
    stream->fd = -1;
    if (ps_test_collector_path() == NULL)
        return FALSE;
    stream->redis = ps_test_redis_start();
    if (stream->redis == NULL)
        return FALSE;
    if (proxied) {
        proxy_path = g_build_filename(ps_test_redis_dir(stream->redis), "proxy.sock", NULL);
        stream->proxy = ps_test_proxy_new(ps_test_redis_socket(stream->redis), proxy_path);
        if (stream->proxy == NULL)
            return FALSE;
    }
    g_ptr_array_add(options, "--redis");
    g_ptr_array_add(options, proxied ? proxy_path : (gpointer)ps_test_redis_socket(stream->redis));
    g_ptr_array_add(options, "--flush-interval");
    g_ptr_array_add(options, "1");
    g_ptr_array_add(options, "--collector-id");
    g_ptr_array_add(options, "live");
    for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
        g_ptr_array_add(options, (gpointer)extra[i]);
    g_ptr_array_add(options, NULL);
    stream->collector = collector_spawn(stream, (const char *const *)options->pdata);
    if (stream->collector == NULL)
        return FALSE;
    stream->fd = ps_test_udp_connect("127.0.0.1", stream->port);
    return stream->fd >= 0;
}

static gboolean
stream_start(Stream *stream, const char *const *extra)
{
    return stream_start_via(stream, extra, FALSE);
}

static void
stream_clear(Stream *stream)
{
    if (stream->fd >= 0)
        close(stream->fd);
    g_clear_pointer(&stream->collector, ps_test_child_free);
    g_clear_pointer(&stream->proxy, ps_test_proxy_free);
    g_clear_pointer(&stream->redis, ps_test_redis_free);
}

/* SIGTERM, a clean exit within the bound, and every record sent received. */
static void
stream_stop(Stream *stream)
{
    g_autofree gchar *status = NULL;
    gboolean stopped = ps_test_child_stop(stream->collector, SIGTERM, STOP_TIMEOUT_MS);

    status = ps_test_child_describe_status(stream->collector);
    if (!stopped || !ps_test_child_exited_cleanly(stream->collector))
        ps_test_child_log_stderr(stream->collector, "collector");
    g_assert_true(stopped);
    g_assert_cmpstr(status, ==, "exit 0");
    g_assert_cmpuint(ps_test_lines_count(stream->collector->err, "stopping"), ==, 1);
    /* --dump printed one line per record: what UDP delivered */
    if (stream->collector->out->len != stream->sent.flows)
        g_test_message("sent %" G_GUINT64_FORMAT " records, the collector received %u: UDP loss "
                       "on loopback (a loaded machine), not a collector bug",
                       stream->sent.flows, stream->collector->out->len);
    g_assert_cmpuint(stream->collector->out->len, ==, stream->sent.flows);
}

static void
assert_totals_equal(const Totals *expected, const Totals *got)
{
    g_assert_cmpuint(got->flows, ==, expected->flows);
    g_assert_cmpuint(got->packets, ==, expected->packets);
    g_assert_cmpuint(got->bytes, ==, expected->bytes);
    g_assert_cmpuint(got->syn, ==, expected->syn);
}

/* ---- the tests ---- */

/* Sums "dropped N flows (P packets, B bytes)" over the collector's log. */
static Totals
reported_drops(const GPtrArray *lines)
{
    Totals dropped = {0};

    for (guint i = 0; i < lines->len; i++) {
        const char *at = strstr(g_ptr_array_index(lines, i), "dropped ");
        guint64 flows, packets, bytes;
        if (at == NULL || sscanf(at,
                                 "dropped %" G_GUINT64_FORMAT " flows (%" G_GUINT64_FORMAT
                                 " packets, %" G_GUINT64_FORMAT " bytes)",
                                 &flows, &packets, &bytes) != 3)
            continue;
        dropped.flows += flows;
        dropped.packets += packets;
        dropped.bytes += bytes;
    }
    return dropped;
}

static void
test_outage(void)
{
    Stream stream;
    Totals before, minutes, hours;

    if (!stream_start(&stream, NULL)) {
        stream_clear(&stream);
        return;
    }
    send_for(&stream, 5000);
    pump(1500);
    before = redis_totals(stream.redis, 60);
    log_totals("in Redis before the outage", &before);
    g_assert_cmpuint(before.flows, >, 0); /* it was writing before */

    g_assert_true(ps_test_redis_stop(stream.redis, TRUE));
    send_for(&stream, 30000);
    g_assert_true(ps_test_redis_restart(stream.redis));
    send_for(&stream, 5000);
    log_totals("sent", &stream.sent);
    g_assert_true(pump_until_logged(stream.collector, "holding flushes in memory", 1000));
    if (!pump_until_logged(stream.collector, "Redis is back", RECOVERY_TIMEOUT_MS))
        ps_test_child_log_stderr(stream.collector, "collector");
    g_assert_cmpuint(ps_test_lines_count(stream.collector->err, "Redis is back"), ==, 1);
    pump(1500);
    stream_stop(&stream);
    ps_test_child_log_stderr(stream.collector, "collector");
    g_assert_cmpuint(reported_drops(stream.collector->err).flows, ==, 0);

    minutes = redis_totals(stream.redis, 60);
    hours = redis_totals(stream.redis, 3600);
    log_totals("in Redis (minutes)", &minutes);
    assert_totals_equal(&stream.sent, &minutes);
    assert_totals_equal(&stream.sent, &hours);
    g_assert_cmpuint(assert_buckets_closed(stream.redis), >, 0);
    stream_clear(&stream);
}

static void
test_memory_bound(void)
{
    const char *extra[] = {"--max-pending", "1", NULL};
    Stream stream;
    Totals minutes, dropped, lost;

    if (!stream_start(&stream, extra)) {
        stream_clear(&stream);
        return;
    }
    send_for(&stream, 3000);
    pump(1500);
    g_assert_true(ps_test_redis_stop(stream.redis, TRUE));
    send_for(&stream, 8000);
    g_assert_true(ps_test_redis_restart(stream.redis));
    send_for(&stream, 2000);
    if (!pump_until_logged(stream.collector, "Redis is back", RECOVERY_TIMEOUT_MS))
        ps_test_child_log_stderr(stream.collector, "collector");
    g_assert_cmpuint(ps_test_lines_count(stream.collector->err, "Redis is back"), ==, 1);
    pump(1500);
    stream_stop(&stream);
    ps_test_child_log_stderr(stream.collector, "collector");

    minutes = redis_totals(stream.redis, 60);
    dropped = reported_drops(stream.collector->err);
    log_totals("sent", &stream.sent);
    log_totals("in Redis", &minutes);
    log_totals("reported dropped", &dropped);
    /* an 8 s outage at one flush a second cannot be held in 1 byte */
    g_assert_cmpuint(dropped.flows, >, 0);
    g_assert_cmpuint(minutes.flows, >, 0);
    lost.flows = stream.sent.flows - minutes.flows;
    lost.packets = stream.sent.packets - minutes.packets;
    lost.bytes = stream.sent.bytes - minutes.bytes;
    g_assert_cmpuint(lost.flows, ==, dropped.flows);
    g_assert_cmpuint(lost.packets, ==, dropped.packets);
    g_assert_cmpuint(lost.bytes, ==, dropped.bytes);
    stream_clear(&stream);
}

/* Redis goes away while the collector writes to it: the collector must go on receiving and
 * holding flushes. hiredis writes with write(2), so a peer that closed its end raises SIGPIPE;
 * a daemon that does not ignore SIGPIPE dies of it. */
static void
test_redis_gone(void)
{
    Stream stream;
    g_autofree gchar *status = NULL;

    if (!stream_start(&stream, NULL)) {
        stream_clear(&stream);
        return;
    }
    send_for(&stream, 1500);
    pump(1200); /* at least one flush went through: the connection is open */
    g_assert_true(ps_test_redis_stop(stream.redis, FALSE));
    /* the next flush writes to the dead connection; keep sending meanwhile */
    for (guint i = 0; i < 30 && !stream.collector->exited; i++) {
        guint8 data[24 + 48 * RECORDS_PER_PACKET];
        gsize len = build_packet(&stream, data);
        (void)ps_test_udp_send(stream.fd, data, len);
        pump(100);
    }
    status = ps_test_child_describe_status(stream.collector);
    g_test_message("collector after 3 s without Redis: %s", status);
    g_assert_cmpstr(status, ==, "running");
    g_assert_cmpuint(ps_test_lines_count(stream.collector->err, "holding flushes in memory"), ==,
                     1);
    stream_clear(&stream);
}

static void
test_sigterm_mid_bucket(void)
{
    const char *extra[] = {"--bucket", "60", NULL};
    Stream stream;
    Totals minutes;

    if (!stream_start(&stream, extra)) {
        stream_clear(&stream);
        return;
    }
    /* the last datagram leaves right before SIGTERM: its flows are in no flush yet */
    send_for(&stream, 4000);
    stream_stop(&stream);
    minutes = redis_totals(stream.redis, 60);
    log_totals("sent", &stream.sent);
    log_totals("in Redis", &minutes);
    assert_totals_equal(&stream.sent, &minutes);
    g_assert_cmpuint(assert_buckets_closed(stream.redis), >, 0);
    stream_clear(&stream);
}

#define APPLIED_ONCE "reply was lost had been applied"

/* Totals in minute and hour buckets equal what was sent; every bucket closed. */
static void
assert_all_written(Stream *stream)
{
    Totals minutes = redis_totals(stream->redis, 60), hours = redis_totals(stream->redis, 3600);

    log_totals("sent", &stream->sent);
    log_totals("in Redis (minutes)", &minutes);
    log_totals("in Redis (hours)", &hours);
    assert_totals_equal(&stream->sent, &minutes);
    assert_totals_equal(&stream->sent, &hours);
    g_assert_cmpuint(assert_buckets_closed(stream->redis), >, 0);
}

/* Chunked: one series per transaction, and with the destination in a home network two series
 * (tcp/445 and tcp/445@in), so that a flush and a closing are two transactions each. */
static const char *const chunked[] = {"--redis-chunk", "1", "--home-network", "10.0.0.0/8", NULL};

/* With chunked, the inbound series holds what the port does. */
static void
assert_direction_written(Stream *stream, const char *const *extra)
{
    Totals minutes, hours;

    if (extra != chunked)
        return;
    minutes = series_totals(stream->redis, 60, "tcp/445@in");
    hours = series_totals(stream->redis, 3600, "tcp/445@in");
    assert_totals_equal(&stream->sent, &minutes);
    assert_totals_equal(&stream->sent, &hours);
}

/* A flush's counters transaction (its EXEC) reaches Redis, its replies do not. */
static void
run_counters_reply_lost(const char *const *extra)
{
    Stream stream;

    if (!stream_start_via(&stream, extra, TRUE)) {
        stream_clear(&stream);
        return;
    }
    send_for(&stream, 2500);
    ps_test_proxy_lose_replies_after(stream.proxy, "$4\r\nEXEC\r\n");
    send_for(&stream, 2000);
    g_assert_cmpuint(ps_test_proxy_failed(stream.proxy), ==, 1);
    if (!pump_until_logged(stream.collector, APPLIED_ONCE, REPLY_LOST_MS))
        ps_test_child_log_stderr(stream.collector, "collector");
    send_for(&stream, 2000);
    stream_stop(&stream);
    ps_test_child_log_stderr(stream.collector, "collector");
    assert_all_written(&stream);
    assert_direction_written(&stream, extra);
    g_assert_cmpuint(ps_test_lines_count(stream.collector->err, APPLIED_ONCE), ==, 1);
    stream_clear(&stream);
}

static void
test_counters_reply_lost(void)
{
    run_counters_reply_lost(NULL);
}

static void
test_counters_reply_lost_chunked(void)
{
    run_counters_reply_lost(chunked);
}

/* At exit, the (last) transaction closing a minute bucket (top sources, hour roll-up, closed
 * marker) reaches Redis, its replies do not. */
static void
run_close_reply_lost(const char *const *extra)
{
    Stream stream;

    if (!stream_start_via(&stream, extra, TRUE)) {
        stream_clear(&stream);
        return;
    }
    send_for(&stream, 3000);
    ps_test_proxy_lose_replies_after(stream.proxy, "ps:closed:60");
    stream_stop(&stream);
    ps_test_child_log_stderr(stream.collector, "collector");
    g_assert_cmpuint(ps_test_proxy_failed(stream.proxy), ==, 1);
    assert_all_written(&stream);
    assert_direction_written(&stream, extra);
    g_assert_cmpuint(ps_test_lines_count(stream.collector->err, APPLIED_ONCE), ==, 1);
    stream_clear(&stream);
}

static void
test_close_reply_lost(void)
{
    run_close_reply_lost(NULL);
}

static void
test_close_reply_lost_chunked(void)
{
    run_close_reply_lost(chunked);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/collector-redis/redis-gone", test_redis_gone);
    g_test_add_func("/collector-redis/outage-30s", test_outage);
    g_test_add_func("/collector-redis/max-pending-drops", test_memory_bound);
    g_test_add_func("/collector-redis/counters-reply-lost", test_counters_reply_lost);
    g_test_add_func("/collector-redis/close-reply-lost", test_close_reply_lost);
    g_test_add_func("/collector-redis/counters-reply-lost-chunked",
                    test_counters_reply_lost_chunked);
    g_test_add_func("/collector-redis/close-reply-lost-chunked", test_close_reply_lost_chunked);
    g_test_add_func("/collector-redis/sigterm-mid-bucket", test_sigterm_mid_bucket);
    return g_test_run();
}
