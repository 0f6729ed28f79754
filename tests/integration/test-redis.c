/* What the collector writes to Redis, read back from a private redis-server: exact counters
 * per service port and direction, distinct counts, top sources, expiries and closed markers
 * for crafted NetFlow v5 and IPFIX packets; HyperLogLog accuracy (and equality with Redis's
 * own PFADD) for 10,000 sources; a real capture against the sums of its own --read output;
 * two collectors merging into one Redis.
 *
 * Crafted flows go through the collector's library in this process (PsDispatch -> PsStore,
 * whose flush thread writes Redis), with the flows' own times as the clock, so that buckets
 * are fixed and known. The capture goes through the real binary (`--read FILE --redis`). */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "bucket.h"
#include "builder.h"
#include "integ-util.h"
#include "keys.h"
#include "once.h"
#include "packets.h"
#include "portproto.h"
#include "redis-server.h"
#include "redis.h"
#include "store.h"

#define CLOSE_TIMEOUT_MS 30000
#define MINUTE_TTL_S     (PS_BUCKET_MINUTE_TTL_DAYS * 86400)
#define HOUR_TTL_S       (PS_BUCKET_HOUR_TTL_DAYS * 86400)
#define TTL_SLACK_S      120 /* a slow (sanitizer) run reads TTLs a little after writing */

/* The last two minutes of an hour, so that closing the second closes the hour too. */
#define HOUR   1699999200
#define B1     (HOUR + 3600 - 120)
#define B2     (HOUR + 3600 - 60)
#define V5_MAX 30 /* records per v5 datagram */

/* ---- a redis-server per test ---- */

typedef struct {
    PsTestRedis *redis;
    redisContext *context;
} Fixture;

static void
fixture_setup(Fixture *fixture, gconstpointer data)
{
    (void)data;
    fixture->redis = ps_test_redis_start();
    if (fixture->redis != NULL)
        fixture->context = ps_test_redis_connect(fixture->redis);
}

static void
fixture_teardown(Fixture *fixture, gconstpointer data)
{
    (void)data;
    g_clear_pointer(&fixture->context, redisFree);
    g_clear_pointer(&fixture->redis, ps_test_redis_free);
}

/* ---- the collector library in this process ---- */

typedef struct {
    PsDispatch *dispatch;
    PsStore *store;
    gint64 now_ms; /* arrival time of the packet being decoded */
    guint32 v5_sequence;
    guint32 ipfix_sequence;
} Collector;

static void
on_flow(const PsFlow *flow, gpointer user_data)
{
    Collector *collector = user_data;

    ps_store_add(collector->store, flow, collector->now_ms);
}

/* A store writing to the fixture's server as collector id, with the aggregation settings of
 * aggregate (NULL: defaults, top 3). */
static Collector *
collector_new(Fixture *fixture, const char *id, const PsAggregateConfig *aggregate)
{
    Collector *collector = g_new0(Collector, 1);
    PsAggregateConfig defaults;
    PsFlushConfig flush = {0};
    g_autoptr(GError) error = NULL;

    ps_aggregate_config_init(&defaults);
    defaults.top_k = 3;
    if (aggregate == NULL)
        aggregate = &defaults;
    collector->dispatch = ps_dispatch_new(on_flow, collector, &error);
    g_assert_no_error(error);
    g_assert_true(
        ps_redis_address_parse(ps_test_redis_socket(fixture->redis), &flush.address, &error));
    flush.prefix = PS_KEYS_DEFAULT_PREFIX;
    flush.collector_id = id;
    flush.minute_ttl_s = MINUTE_TTL_S;
    flush.hour_ttl_s = HOUR_TTL_S;
    flush.top_k = aggregate->top_k;
    flush.max_pending_bytes = 256 * 1024 * 1024;
    flush.timeout_ms = 5000;
    flush.backoff_max_ms = 1000;
    collector->store = ps_store_new(aggregate, &flush, collector->dispatch);
    ps_redis_address_clear(&flush.address);
    return collector;
}

static void
collector_packet(Collector *collector, const char *exporter, const PsPacket *packet,
                 gint64 arrival_ms)
{
    PsAddress address;

    g_assert_true(ps_address_parse(exporter, &address));
    collector->now_ms = arrival_ms;
    g_assert_cmpuint(
        ps_dispatch_packet(collector->dispatch, &address, packet->data, packet->len, arrival_ms),
        ==, packet->len);
}

/* Closes every bucket and waits until Redis has all of it. */
static void
collector_close(Collector *collector)
{
    PsFlushStats stats;

    g_assert_true(ps_store_close(collector->store, collector->now_ms, CLOSE_TIMEOUT_MS));
    ps_flush_get_stats(ps_store_flusher(collector->store), &stats);
    g_assert_cmpuint(stats.failures, ==, 0);
    g_assert_cmpuint(stats.reply_errors, ==, 0);
    g_assert_cmpuint(stats.dropped_batches, ==, 0);
}

static void
collector_free(Collector *collector)
{
    ps_store_free(collector->store);
    ps_dispatch_free(collector->dispatch);
    g_free(collector);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Collector, collector_free)

/* ---- crafted packets ---- */

typedef struct {
    const char *src;
    const char *dst;
    guint16 src_port;
    guint16 dst_port;
    guint8 proto;
    guint8 flags;
    guint32 packets;
    guint32 bytes;
} Record;

#define SYN     0x02
#define SYN_ACK 0x12
#define PSH_ACK 0x18
#define FULL    0x1b /* FIN SYN PSH ACK: a whole connection */

/* One v5 datagram of n records ending at unix_secs (uptime 1 h, records end at export). */
static void
v5_packet(PsPacket *packet, guint32 unix_secs, guint32 sequence, guint16 sampling_field,
          const Record *records, guint n)
{
    const guint32 uptime = 3600000;
    PsV5TestHeader header = {uptime, unix_secs, 0, sequence, 0, 0, sampling_field};
    PsV5TestRecord v5[V5_MAX];

    g_assert_cmpuint(n, <=, V5_MAX);
    for (guint i = 0; i < n; i++) {
        const Record *r = &records[i];
        v5[i] = (PsV5TestRecord){r->src,   r->dst,     r->src_port, r->dst_port,   r->proto,
                                 r->flags, r->packets, r->bytes,    uptime - 2000, uptime};
    }
    ps_packet_v5(packet, &header, n, v5, n);
}

static void
send_v5(Collector *collector, const char *exporter, guint32 unix_secs, guint16 sampling_field,
        const Record *records, guint n)
{
    PsPacket packet;

    for (guint i = 0; i < n; i += V5_MAX) {
        guint chunk = MIN(n - i, (guint)V5_MAX);
        v5_packet(&packet, unix_secs, collector->v5_sequence, sampling_field, records + i, chunk);
        collector->v5_sequence += chunk;
        collector_packet(collector, exporter, &packet, (gint64)unix_secs * 1000);
    }
}

/* IPFIX: addresses, ports, protocol, flags, packets (4), bytes (8), start and end in ms */
static const guint16 ipfix_fields[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2},  {4, 1},
                                          {6, 1}, {2, 4},  {1, 8}, {152, 8}, {153, 8}};
#define IPFIX_TEMPLATE 256

static void
send_ipfix(Collector *collector, const char *exporter, guint32 export_time, const Record *records,
           guint n)
{
    PsPacket packet;
    gsize set;

    if (collector->ipfix_sequence == 0) {
        ps_packet_ipfix_header(&packet, export_time, 0, 1);
        set = ps_packet_open_set(&packet, 2);
        ps_packet_template(&packet, IPFIX_TEMPLATE, G_N_ELEMENTS(ipfix_fields), ipfix_fields, NULL);
        ps_packet_close_set(&packet, set);
        ps_packet_ipfix_finish(&packet);
        collector_packet(collector, exporter, &packet, (gint64)export_time * 1000);
    }
    ps_packet_ipfix_header(&packet, export_time, collector->ipfix_sequence, 1);
    set = ps_packet_open_set(&packet, IPFIX_TEMPLATE);
    for (guint i = 0; i < n; i++) {
        const Record *r = &records[i];
        ps_packet_ipv4(&packet, r->src);
        ps_packet_ipv4(&packet, r->dst);
        ps_packet_u16(&packet, r->src_port);
        ps_packet_u16(&packet, r->dst_port);
        ps_packet_u8(&packet, r->proto);
        ps_packet_u8(&packet, r->flags);
        ps_packet_u32(&packet, r->packets);
        ps_packet_u64(&packet, r->bytes);
        ps_packet_u64(&packet, (guint64)export_time * 1000 - 3000);
        ps_packet_u64(&packet, (guint64)export_time * 1000 - 1000);
    }
    ps_packet_close_set(&packet, set);
    ps_packet_ipfix_finish(&packet);
    collector->ipfix_sequence += n;
    collector_packet(collector, exporter, &packet, (gint64)export_time * 1000);
}

/* Appends count copies of base. With n_src 0, src is the source address; otherwise the i-th
 * copy's source is src followed by src_first + i % n_src ("198.51.100." 10 20: .10 to .29).
 * Likewise the destination. The strings live in pool. */
static void
add_records(GArray *records, GPtrArray *pool, Record base, const char *src, guint src_first,
            guint n_src, const char *dst, guint dst_first, guint n_dst, guint count)
{
    for (guint i = 0; i < count; i++) {
        Record r = base;
        gchar *s = n_src == 0 ? g_strdup(src) : g_strdup_printf("%s%u", src, src_first + i % n_src);
        gchar *d = n_dst == 0 ? g_strdup(dst) : g_strdup_printf("%s%u", dst, dst_first + i % n_dst);
        g_ptr_array_add(pool, s);
        g_ptr_array_add(pool, d);
        r.src = s;
        r.dst = d;
        g_array_append_val(records, r);
    }
}

/* ---- reading back ---- */

static gint64
bucket_field(redisContext *context, guint step, gint64 start, const char *series,
             const char *metric)
{
    g_autofree gchar *key = ps_key_bucket(PS_KEYS_DEFAULT_PREFIX, step, start);
    g_autofree gchar *field = ps_field(series, metric);

    return ps_test_redis_hget_int(context, key, field);
}

static gboolean
bucket_has_field(redisContext *context, guint step, gint64 start, const char *series,
                 const char *metric)
{
    g_autofree gchar *key = ps_key_bucket(PS_KEYS_DEFAULT_PREFIX, step, start);
    g_autofree gchar *field = ps_field(series, metric);
    g_autoptr(redisReply) reply = ps_test_redis_command(context, "HEXISTS", key, field, NULL);

    g_assert_cmpint(reply->type, ==, REDIS_REPLY_INTEGER);
    return reply->integer == 1;
}

typedef struct {
    gint64 flows, pkts, bytes, syn, nsrc, ndst;
} Expected;

/* Asserts every counter of a series in a bucket; -1 skips a distinct count. */
static void
assert_series(redisContext *context, guint step, gint64 start, const char *series,
              Expected expected)
{
    const char *metrics[] = {"flows", "pkts", "bytes", "syn", "nsrc", "ndst"};
    const gint64 *values = &expected.flows;

    for (guint i = 0; i < G_N_ELEMENTS(metrics); i++) {
        gint64 got;
        if (values[i] < 0)
            continue;
        got = bucket_field(context, step, start, series, metrics[i]);
        if (got != values[i])
            g_test_message("ps:b:%u:%" G_GINT64_FORMAT " %s:%s is %" G_GINT64_FORMAT
                           ", expected %" G_GINT64_FORMAT,
                           step, start, series, metrics[i], got, values[i]);
        g_assert_cmpint(got, ==, values[i]);
        /* a zero count is no field at all (distinct counts are always written at close) */
        if (values[i] == 0 && i < 4)
            g_assert_false(bucket_has_field(context, step, start, series, metrics[i]));
    }
}

/* Asserts the top sorted set equals members (address, flows), heaviest first. */
static void
assert_top(redisContext *context, guint step, gint64 start, const char *series,
           const char *const *members, const guint *flows, guint n)
{
    g_autofree gchar *key =
        ps_key_bucket_series(PS_KEYS_DEFAULT_PREFIX, step, start, "top", series);
    g_autoptr(redisReply) reply =
        ps_test_redis_command(context, "ZRANGE", key, "0", "-1", "REV", "WITHSCORES", NULL);

    g_assert_cmpint(reply->type, ==, REDIS_REPLY_ARRAY);
    for (gsize i = 0; i + 1 < reply->elements; i += 2)
        g_test_message("%s: %s %s", key, reply->element[i]->str, reply->element[i + 1]->str);
    g_assert_cmpuint(reply->elements, ==, 2 * n);
    for (guint i = 0; i < n; i++) {
        g_autofree gchar *score = g_strdup_printf("%u", flows[i]);
        g_assert_cmpstr(reply->element[2 * i]->str, ==, members[i]);
        g_assert_cmpstr(reply->element[2 * i + 1]->str, ==, score);
    }
}

static gint64
pfcount(redisContext *context, const char *key)
{
    g_autoptr(redisReply) reply = ps_test_redis_command(context, "PFCOUNT", key, NULL);

    g_assert_cmpint(reply->type, ==, REDIS_REPLY_INTEGER);
    return reply->integer;
}

static gint64
series_pfcount(redisContext *context, guint step, gint64 start, const char *kind,
               const char *series)
{
    g_autofree gchar *key = ps_key_bucket_series(PS_KEYS_DEFAULT_PREFIX, step, start, kind, series);

    return pfcount(context, key);
}

/* PFADD of the given IPv4 addresses (as the collector hashes them: 4 raw bytes) into key. */
static void
pfadd_addresses(redisContext *context, const char *key, GPtrArray *addresses)
{
    for (guint i = 0; i < addresses->len; i++) {
        PsAddress address;
        const char *argv[] = {"PFADD", key, (const char *)address.bytes};
        gsize argv_len[] = {5, strlen(key), 4};
        g_autoptr(redisReply) reply = NULL;

        g_assert_true(ps_address_parse(g_ptr_array_index(addresses, i), &address));
        g_assert_cmpuint(address.family, ==, 4);
        reply = redisCommandArgv(context, 3, argv, argv_len);
        g_assert_nonnull(reply);
        g_assert_cmpint(reply->type, ==, REDIS_REPLY_INTEGER);
    }
}

static gint64
ttl(redisContext *context, const char *key)
{
    g_autoptr(redisReply) reply = ps_test_redis_command(context, "TTL", key, NULL);

    g_assert_cmpint(reply->type, ==, REDIS_REPLY_INTEGER);
    return reply->integer;
}

static gboolean
in_sorted_set(redisContext *context, const char *key, gint64 member)
{
    g_autofree gchar *text = g_strdup_printf("%" G_GINT64_FORMAT, member);
    g_autoptr(redisReply) reply = ps_test_redis_command(context, "ZSCORE", key, text, NULL);

    return reply->type == REDIS_REPLY_STRING && g_ascii_strtoll(reply->str, NULL, 10) == member;
}

/* Every key of the collector has the expiry of its kind: minute buckets 8 days, hour buckets
 * 400 days, the heartbeat a day; closed markers, exporter health and the schema version none.
 * Each of the eight bucket key kinds must have been seen at least once. */
static void
assert_expiries(redisContext *context, gboolean every_kind)
{
    g_autoptr(GPtrArray) keys = ps_test_redis_keys(context, PS_KEYS_DEFAULT_PREFIX "*");
    const char *kinds[] = {"ps:b:60:", ":src:", ":dst:", ":top:"};
    guint seen[2][4] = {{0}};

    g_assert_cmpuint(keys->len, >, 0);
    for (guint i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);
        gint64 left = ttl(context, key);
        gboolean minute = g_str_has_prefix(key, "ps:b:60:");
        gboolean hour = g_str_has_prefix(key, "ps:b:3600:");

        g_test_message("%s: TTL %" G_GINT64_FORMAT, key, left);
        g_assert_false(g_str_has_prefix(key, "ps:tmp:")); /* scratch keys are deleted */
        if (minute || hour) {
            gint64 full = minute ? MINUTE_TTL_S : HOUR_TTL_S;
            guint kind = 0;
            g_assert_cmpint(left, <=, full);
            g_assert_cmpint(left, >, full - TTL_SLACK_S);
            for (guint k = 1; k < G_N_ELEMENTS(kinds); k++) {
                if (strstr(key, kinds[k]) != NULL)
                    kind = k;
            }
            seen[hour][kind]++;
        } else if (g_str_has_prefix(key, "ps:collector:")) {
            g_assert_cmpint(left, <=, 86400);
            g_assert_cmpint(left, >, 86400 - TTL_SLACK_S);
        } else if (g_str_has_prefix(key, "ps:seen:")) {
            /* the default new_sources horizon (1 day) and two buckets */
            g_assert_cmpint(left, <=, 86400 + 2 * 60);
            g_assert_cmpint(left, >, 86400 + 2 * 60 - TTL_SLACK_S);
        } else {
            g_assert_true(g_str_has_prefix(key, "ps:closed:") ||
                          g_str_has_prefix(key, "ps:exporter:") || g_str_equal(key, "ps:schema") ||
                          g_str_equal(key, "ps:seen-since"));
            g_assert_cmpint(left, ==, -1);
        }
    }
    for (guint h = 0; every_kind && h < 2; h++) {
        for (guint k = 0; k < G_N_ELEMENTS(kinds); k++) {
            if (seen[h][k] == 0)
                g_test_message("no %s key of kind %s", h ? "hour" : "minute", kinds[k]);
            g_assert_cmpuint(seen[h][k], >, 0);
        }
    }
}

/* The heartbeat ps:collector:<id> names the collector's version and, after everything closed,
 * the last bucket it closed. */
static void
assert_heartbeat(redisContext *context, const char *id, gint64 last_closed)
{
    g_autofree gchar *key = ps_key_collector(PS_KEYS_DEFAULT_PREFIX, id);
    g_autoptr(redisReply) version = ps_test_redis_command(context, "HGET", key, "version", NULL);
    gint64 got = ps_test_redis_hget_int(context, key, "last_closed_bucket");

    g_assert_cmpint(version->type, ==, REDIS_REPLY_STRING);
    g_assert_cmpstr(version->str, ==, PS_VERSION);
    g_assert_cmpint(ps_test_redis_hget_int(context, key, "started"), >, 0);
    g_assert_cmpint(ps_test_redis_hget_int(context, key, "last_flush"), >, 0);
    g_assert_cmpint(got, ==, last_closed);
}

/* ---- (a) crafted flows ---- */

/* Two minute buckets B1 and B2, the last two of an hour. In B1, from v5 exporter 192.0.2.1:
 *   tcp/445: a SYN scan: 198.51.100.1 x7, .2 x5, .3 x3 (2 packets, 120 bytes each) and 20
 *            light sources 198.51.100.10-29 x1 (1 packet, 60 bytes) to 10.0.0.1-7; plus 2
 *            answers from 10.0.0.50:445 to 198.51.100.77:50123 (10 packets, 5000 bytes, no
 *            SYN): the well-known side wins.
 *   tcp/50000: SYN-only from port 80 to port 50000: the destination of an attempt wins.
 *   udp/123: from port 53 to port 123: both below 1024, the destination wins.
 *   tcp/50001: from 40000 to 50001, no SYN: neither is a service, the destination.
 *   tcp/8080: from 10.0.0.9:8080 to 198.51.100.5:40001: 8080 is a configured service port.
 *   icmp/0: protocols without ports count under port 0.
 * and from IPFIX exporter 192.0.2.2, configured as sampled 1 in 10:
 *   tcp/3389: 3 SYN flows 203.0.113.5 -> 10.0.0.20 (4 packets, 400 bytes: x10).
 * In B2: tcp/445 198.51.100.1 x4 SYN; tcp/22 2 full connections; and a v5 datagram whose
 * header says 1 in 100: udp/53, 2 packets and 150 bytes -> 200 and 15000. */
static void
test_crafted(Fixture *fixture, gconstpointer data)
{
    g_autoptr(GArray) b1 = g_array_new(FALSE, TRUE, sizeof(Record));
    g_autoptr(GArray) b2 = g_array_new(FALSE, TRUE, sizeof(Record));
    g_autoptr(GPtrArray) pool = g_ptr_array_new_with_free_func(g_free);
    const Record heavy = {
        .src_port = 40000, .dst_port = 445, .proto = 6, .flags = SYN, .packets = 2, .bytes = 120};
    const Record light = {
        .src_port = 40001, .dst_port = 445, .proto = 6, .flags = SYN, .packets = 1, .bytes = 60};
    const Record others[] = {
        {"10.0.0.50", "198.51.100.77", 445, 50123, 6, PSH_ACK, 10, 5000},
        {"10.0.0.50", "198.51.100.77", 445, 50123, 6, PSH_ACK, 10, 5000},
        {"192.0.2.80", "10.0.0.9", 80, 50000, 6, SYN, 1, 40},
        {"10.0.0.9", "192.0.2.123", 53, 123, 17, 0, 1, 76},
        {"10.0.0.9", "192.0.2.124", 40000, 50001, 6, PSH_ACK, 3, 300},
        {"10.0.0.9", "198.51.100.5", 8080, 40001, 6, PSH_ACK, 5, 700},
        {"10.0.0.9", "198.51.100.5", 0, 771, 1, 0, 1, 84},
    };
    const Record rdp[] = {
        {"203.0.113.5", "10.0.0.20", 50000, 3389, 6, SYN, 4, 400},
        {"203.0.113.5", "10.0.0.20", 50001, 3389, 6, SYN, 4, 400},
        {"203.0.113.5", "10.0.0.20", 50002, 3389, 6, SYN, 4, 400},
    };
    const Record ssh[] = {
        {"203.0.113.9", "10.0.0.2", 50000, 22, 6, FULL, 20, 3000},
        {"203.0.113.9", "10.0.0.2", 50001, 22, 6, FULL, 20, 3000},
    };
    const Record dns[] = {{"10.0.0.3", "192.0.2.53", 40000, 53, 17, 0, 2, 150}};
    const guint16 service_ports[] = {8080};
    PsAggregateConfig config;
    PsAddress ipfix_exporter;
    g_autoptr(Collector) collector = NULL;
    redisContext *context = fixture->context;
    const char *top_b1[] = {"198.51.100.1", "198.51.100.2", "198.51.100.3"};
    const guint top_b1_flows[] = {7, 5, 3};
    const char *top_b2[] = {"198.51.100.1"};
    const guint top_b2_flows[] = {4};
    const guint top_hour_flows[] = {11, 5, 3};
    const char *top_rdp[] = {"203.0.113.5"};
    const guint top_rdp_flows[] = {3};

    (void)data;
    if (fixture->redis == NULL)
        return;
    ps_aggregate_config_init(&config);
    config.top_k = 3;
    config.service_ports = service_ports;
    config.n_service_ports = G_N_ELEMENTS(service_ports);
    collector = collector_new(fixture, "crafted", &config);
    g_assert_true(ps_address_parse("192.0.2.2", &ipfix_exporter));
    ps_dispatch_set_sampling(collector->dispatch, &ipfix_exporter, 10);

    add_records(b1, pool, heavy, "198.51.100.1", 0, 0, "10.0.0.", 1, 7, 7);
    add_records(b1, pool, heavy, "198.51.100.2", 0, 0, "10.0.0.", 1, 7, 5);
    add_records(b1, pool, heavy, "198.51.100.3", 0, 0, "10.0.0.", 1, 7, 3);
    add_records(b1, pool, light, "198.51.100.", 10, 20, "10.0.0.1", 0, 0, 20);
    g_array_append_vals(b1, others, G_N_ELEMENTS(others));
    send_v5(collector, "192.0.2.1", B1 + 10, 0, &g_array_index(b1, Record, 0), b1->len);
    send_ipfix(collector, "192.0.2.2", B1 + 20, rdp, G_N_ELEMENTS(rdp));
    /* a flush in the middle: what follows arrives as a second delta of the same buckets */
    ps_store_flush(collector->store, (gint64)(B1 + 30) * 1000);
    add_records(b2, pool, heavy, "198.51.100.1", 0, 0, "10.0.0.", 1, 7, 4);
    for (guint i = 0; i < b2->len; i++) { /* B2's 445 flows: 1 packet, 60 bytes */
        g_array_index(b2, Record, i).packets = 1;
        g_array_index(b2, Record, i).bytes = 60;
    }
    g_array_append_vals(b2, ssh, G_N_ELEMENTS(ssh));
    send_v5(collector, "192.0.2.1", B2 + 5, 0, &g_array_index(b2, Record, 0), b2->len);
    send_v5(collector, "192.0.2.1", B2 + 6, 1u << 14 | 100, dns, G_N_ELEMENTS(dns));
    collector_close(collector);

    /* B1 tcp/445: 37 flows; 15 x 2 + 20 + 2 x 10 packets; 15 x 120 + 20 x 60 + 2 x 5000 bytes;
     * 35 SYN-only; 24 sources, 8 destinations */
    assert_series(context, 60, B1, "tcp/445", (Expected){37, 70, 13000, 35, 24, 8});
    assert_series(context, 60, B1, "tcp/50000", (Expected){1, 1, 40, 1, 1, 1});
    assert_series(context, 60, B1, "udp/123", (Expected){1, 1, 76, 0, 1, 1});
    assert_series(context, 60, B1, "tcp/50001", (Expected){1, 3, 300, 0, 1, 1});
    assert_series(context, 60, B1, "tcp/8080", (Expected){1, 5, 700, 0, 1, 1});
    assert_series(context, 60, B1, "icmp/0", (Expected){1, 1, 84, 0, 1, 1});
    assert_series(context, 60, B1, "tcp/3389", (Expected){3, 120, 12000, 3, 1, 1});
    g_assert_false(bucket_has_field(context, 60, B1, "tcp/40000", "flows"));
    g_assert_false(bucket_has_field(context, 60, B1, "tcp/445", "untracked"));
    assert_series(context, 60, B2, "tcp/445", (Expected){4, 4, 240, 4, 1, 4});
    assert_series(context, 60, B2, "tcp/22", (Expected){2, 40, 6000, 0, 1, 1});
    assert_series(context, 60, B2, "udp/53", (Expected){1, 200, 15000, 0, 1, 1});
    /* the hour: both minutes summed; its distinct counts are written when B2 closes it */
    assert_series(context, 3600, HOUR, "tcp/445", (Expected){41, 74, 13240, 39, 24, 8});
    assert_series(context, 3600, HOUR, "tcp/3389", (Expected){3, 120, 12000, 3, 1, 1});
    assert_series(context, 3600, HOUR, "udp/53", (Expected){1, 200, 15000, 0, 1, 1});
    g_assert_cmpint(series_pfcount(context, 60, B1, "src", "tcp/445"), ==, 24);
    g_assert_cmpint(series_pfcount(context, 3600, HOUR, "dst", "tcp/445"), ==, 8);

    assert_top(context, 60, B1, "tcp/445", top_b1, top_b1_flows, 3);
    assert_top(context, 60, B2, "tcp/445", top_b2, top_b2_flows, 1);
    assert_top(context, 3600, HOUR, "tcp/445", top_b1, top_hour_flows, 3);
    assert_top(context, 60, B1, "tcp/3389", top_rdp, top_rdp_flows, 1);

    g_assert_true(in_sorted_set(context, "ps:closed:60", B1));
    g_assert_true(in_sorted_set(context, "ps:closed:60", B2));
    g_assert_true(in_sorted_set(context, "ps:closed:3600", HOUR));
    assert_heartbeat(context, "crafted", B2);
    g_assert_cmpint(ps_test_redis_hget_int(context, "ps:exporter:192.0.2.1", "records"), ==,
                    b1->len + b2->len + 1);
    g_assert_cmpint(ps_test_redis_hget_int(context, "ps:exporter:192.0.2.2", "records"), ==, 3);
    g_assert_cmpint(ps_test_redis_hget_int(context, "ps:exporter:192.0.2.2", "sampling"), ==, 10);
    {
        g_autoptr(redisReply) schema = ps_test_redis_command(context, "GET", "ps:schema", NULL);
        g_assert_cmpint(schema->type, ==, REDIS_REPLY_STRING);
        g_assert_cmpstr(schema->str, ==, PS_SCHEMA_VERSION);
    }
    /* data quality: each bucket closed by one collector, no export loss */
    g_assert_cmpint(bucket_field(context, 60, B1, PS_QUALITY_SERIES, "collectors"), ==, 1);
    g_assert_cmpint(bucket_field(context, 60, B2, PS_QUALITY_SERIES, "collectors"), ==, 1);
    g_assert_false(bucket_has_field(context, 60, B1, PS_QUALITY_SERIES, "lost"));
    g_assert_false(bucket_has_field(context, 60, B2, PS_QUALITY_SERIES, "lost"));
    assert_expiries(context, TRUE);
}

/* With home network 10.0.0.0/8, one bucket, tcp/445:
 *   in:  198.51.100.1 scans 10.0.0.1-10, 198.51.100.2 scans 10.0.0.1-5 (SYN): 15 flows
 *   out: 10.0.0.5 -> 203.0.113.1-2, 10.0.0.6 -> 203.0.113.3 (full connections): 3 flows
 *   int: 10.0.0.7 -> 10.0.0.8 twice: 2 flows
 *   transit 198.51.100.9 -> 203.0.113.9: 1 flow, in the port total only. */
static void
test_direction(Fixture *fixture, gconstpointer data)
{
    g_autoptr(GArray) records = g_array_new(FALSE, TRUE, sizeof(Record));
    g_autoptr(GPtrArray) pool = g_ptr_array_new_with_free_func(g_free);
    const Record scan = {
        .src_port = 40000, .dst_port = 445, .proto = 6, .flags = SYN, .packets = 1, .bytes = 60};
    const Record conn = {.src_port = 40000,
                         .dst_port = 445,
                         .proto = 6,
                         .flags = FULL,
                         .packets = 10,
                         .bytes = 1000};
    PsNetwork home;
    PsAggregateConfig config;
    g_autoptr(GError) error = NULL;
    g_autoptr(Collector) collector = NULL;
    redisContext *context = fixture->context;
    const char *top_in[] = {"198.51.100.1", "198.51.100.2"};
    const guint top_in_flows[] = {10, 5};

    (void)data;
    if (fixture->redis == NULL)
        return;
    g_assert_true(ps_network_parse("10.0.0.0/8", &home, &error));
    ps_aggregate_config_init(&config);
    config.top_k = 3;
    config.home_networks = &home;
    config.n_home_networks = 1;
    collector = collector_new(fixture, "direction", &config);
    add_records(records, pool, scan, "198.51.100.1", 0, 0, "10.0.0.", 1, 10, 10);
    add_records(records, pool, scan, "198.51.100.2", 0, 0, "10.0.0.", 1, 5, 5);
    add_records(records, pool, conn, "10.0.0.5", 0, 0, "203.0.113.", 1, 2, 2);
    add_records(records, pool, conn, "10.0.0.6", 0, 0, "203.0.113.3", 0, 0, 1);
    add_records(records, pool, conn, "10.0.0.7", 0, 0, "10.0.0.8", 0, 0, 2);
    add_records(records, pool, conn, "198.51.100.9", 0, 0, "203.0.113.9", 0, 0, 1);
    send_v5(collector, "192.0.2.1", B1 + 1, 0, &g_array_index(records, Record, 0), records->len);
    collector_close(collector);

    assert_series(context, 60, B1, "tcp/445", (Expected){21, 75, 6900, 15, 6, 14});
    assert_series(context, 60, B1, "tcp/445@in", (Expected){15, 15, 900, 15, 2, 10});
    assert_series(context, 60, B1, "tcp/445@out", (Expected){3, 30, 3000, 0, 2, 3});
    assert_series(context, 60, B1, "tcp/445@int", (Expected){2, 20, 2000, 0, 1, 1});
    assert_series(context, 3600, HOUR, "tcp/445@in", (Expected){15, 15, 900, 15, -1, -1});
    assert_top(context, 60, B1, "tcp/445@in", top_in, top_in_flows, 2);
    g_assert_true(in_sorted_set(context, "ps:closed:60", B1));
}

/* Data quality fields land in the bucket of the flush time, which need not hold any flow:
 * here B1 has flows and B2 only a malformed datagram (a v5 header announcing 31 records).
 * Every bucket key must still expire. */
static void
test_quality_expiry(Fixture *fixture, gconstpointer data)
{
    const Record flow[] = {{"198.51.100.1", "10.0.0.1", 40000, 445, 6, SYN, 1, 60}};
    g_autoptr(Collector) collector = NULL;
    g_autofree gchar *b2 = ps_key_bucket(PS_KEYS_DEFAULT_PREFIX, 60, B2);
    PsPacket packet;
    gint64 left;

    (void)data;
    if (fixture->redis == NULL)
        return;
    collector = collector_new(fixture, "quality", NULL);
    send_v5(collector, "192.0.2.1", B1 + 1, 0, flow, 1);
    ps_store_flush(collector->store, (gint64)(B1 + 2) * 1000);
    v5_packet(&packet, B2 + 5, collector->v5_sequence, 0, flow, 1);
    packet.data[3] = 31; /* count past the v5 maximum: a decode error */
    collector->now_ms = (gint64)(B2 + 5) * 1000;
    (void)ps_dispatch_packet(collector->dispatch, &(PsAddress){0}, packet.data, packet.len,
                             collector->now_ms);
    collector_close(collector);

    g_assert_cmpint(bucket_field(fixture->context, 60, B1, "tcp/445", "flows"), ==, 1);
    g_assert_cmpint(bucket_field(fixture->context, 60, B2, PS_QUALITY_SERIES, "errors"), ==, 1);
    left = ttl(fixture->context, b2);
    g_test_message("%s: TTL %" G_GINT64_FORMAT, b2, left);
    g_assert_cmpint(left, >, MINUTE_TTL_S - TTL_SLACK_S);
}

/* ---- (b) 10,000 distinct sources ---- */

#define MANY_SOURCES 10000

static void
test_many_sources(Fixture *fixture, gconstpointer data)
{
    g_autoptr(GArray) records = g_array_new(FALSE, TRUE, sizeof(Record));
    g_autoptr(GPtrArray) pool = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(Collector) collector = NULL;
    redisContext *context = fixture->context;
    gint64 count, nsrc, reference;
    g_autofree gchar *src_key = NULL;

    (void)data;
    if (fixture->redis == NULL)
        return;
    collector = collector_new(fixture, "many", NULL);
    for (guint i = 0; i < MANY_SOURCES; i++) {
        Record r = {.dst = "10.0.0.1",
                    .src_port = 40000,
                    .dst_port = 445,
                    .proto = 6,
                    .flags = SYN,
                    .packets = 1,
                    .bytes = 60};
        gchar *src = g_strdup_printf("100.%u.%u.%u", 64 + i / 65536, i / 256 % 256, i % 256);
        g_ptr_array_add(sources, g_strdup(src));
        g_ptr_array_add(pool, src);
        r.src = src;
        g_array_append_val(records, r);
    }
    /* in four flushes: Redis must take the union of the four sketches */
    for (guint part = 0; part < 4; part++) {
        guint first = part * MANY_SOURCES / 4;
        send_v5(collector, "192.0.2.1", B1 + part, 0, &g_array_index(records, Record, first),
                MANY_SOURCES / 4);
        ps_store_flush(collector->store, (gint64)(B1 + part) * 1000 + 500);
    }
    collector_close(collector);

    assert_series(context, 60, B1, "tcp/445",
                  (Expected){MANY_SOURCES, MANY_SOURCES, 60 * MANY_SOURCES, MANY_SOURCES, -1, 1});
    count = series_pfcount(context, 60, B1, "src", "tcp/445");
    nsrc = bucket_field(context, 60, B1, "tcp/445", "nsrc");
    g_test_message("PFCOUNT %" G_GINT64_FORMAT ", nsrc %" G_GINT64_FORMAT, count, nsrc);
    g_assert_cmpint(ABS(count - MANY_SOURCES), <=, MANY_SOURCES / 50);
    g_assert_cmpint(ABS(nsrc - MANY_SOURCES), <=, MANY_SOURCES / 50);
    g_assert_cmpint(nsrc, ==, count);
    g_assert_cmpint(ABS(series_pfcount(context, 3600, HOUR, "src", "tcp/445") - MANY_SOURCES), <=,
                    MANY_SOURCES / 50);
    /* the collector's sketches are Redis's own: PFADD of the same members counts the same */
    pfadd_addresses(context, "reference", sources);
    reference = pfcount(context, "reference");
    g_assert_cmpint(count, ==, reference);
    src_key = ps_key_bucket_series(PS_KEYS_DEFAULT_PREFIX, 60, B1, "src", "tcp/445");
    {
        g_autoptr(redisReply) merged =
            ps_test_redis_command(context, "PFMERGE", "reference", "reference", src_key, NULL);
        g_assert_cmpint(merged->type, ==, REDIS_REPLY_STATUS);
    }
    g_assert_cmpint(pfcount(context, "reference"), ==, reference); /* nothing new in the union */
    /* top 10 of equal sources, each with its one flow */
    {
        g_autofree gchar *top =
            ps_key_bucket_series(PS_KEYS_DEFAULT_PREFIX, 60, B1, "top", "tcp/445");
        g_autoptr(redisReply) card = ps_test_redis_command(context, "ZCARD", top, NULL);
        g_assert_cmpint(card->integer, ==, 3);
    }
}

/* ---- (c) a real capture: Redis equals the sums of its own --read output ---- */

typedef struct {
    gint64 flows, pkts, bytes, syn;
} Totals;

static guint16
reference_service_port(guint8 proto, guint16 src_port, guint16 dst_port, guint8 flags)
{
    gboolean syn_only = proto == 6 && (flags & SYN) && !(flags & 0x10);

    if (proto != 6 && proto != 17 && proto != 132)
        return 0;
    if (syn_only || dst_port < 1024)
        return dst_port;
    if (src_port < 1024)
        return src_port;
    return dst_port;
}

/* Series -> Totals from --read JSON lines, by the rule of schema/keys.h, sampling applied. */
static GHashTable *
totals_from_records(GPtrArray *lines)
{
    GHashTable *totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    for (guint i = 0; i < lines->len; i++) {
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *o;
        char name[PS_PORTPROTO_STRLEN];
        Totals *t;
        gint64 sampling;
        guint8 proto;

        g_assert_true(json_parser_load_from_data(parser, g_ptr_array_index(lines, i), -1, NULL));
        o = json_node_get_object(json_parser_get_root(parser));
        proto = json_object_get_int_member(o, "proto");
        ps_portproto_format(proto,
                            reference_service_port(proto, json_object_get_int_member(o, "src_port"),
                                                   json_object_get_int_member(o, "dst_port"),
                                                   json_object_get_int_member(o, "tcp_flags")),
                            name);
        t = g_hash_table_lookup(totals, name);
        if (t == NULL) {
            t = g_new0(Totals, 1);
            g_hash_table_insert(totals, g_strdup(name), t);
        }
        sampling = MAX(json_object_get_int_member(o, "sampling"), 1);
        t->flows++;
        t->pkts += json_object_get_int_member(o, "packets") * sampling;
        t->bytes += json_object_get_int_member(o, "bytes") * sampling;
        t->syn += proto == 6 && (json_object_get_int_member(o, "tcp_flags") & 0x12) == SYN;
    }
    return totals;
}

/* Series -> Totals summed over every bucket hash of the step in Redis. */
static GHashTable *
totals_from_redis(redisContext *context, guint step)
{
    GHashTable *totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autofree gchar *pattern = g_strdup_printf("ps:b:%u:*", step);
    g_autoptr(GPtrArray) keys = ps_test_redis_keys(context, pattern);
    const char *metrics[] = {"flows", "pkts", "bytes", "syn"};

    for (guint i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);
        g_autoptr(redisReply) reply = NULL;
        if (strchr(key + strlen(pattern) - 1, ':') != NULL)
            continue; /* a sketch or top set */
        reply = ps_test_redis_command(context, "HGETALL", key, NULL);
        g_assert_cmpint(reply->type, ==, REDIS_REPLY_ARRAY);
        for (gsize f = 0; f + 1 < reply->elements; f += 2) {
            const char *field = reply->element[f]->str;
            const char *colon = strrchr(field, ':');
            g_autofree gchar *series = g_strndup(field, colon - field);
            Totals *t;
            for (guint m = 0; m < G_N_ELEMENTS(metrics); m++) {
                if (strcmp(colon + 1, metrics[m]) != 0)
                    continue;
                t = g_hash_table_lookup(totals, series);
                if (t == NULL) {
                    t = g_new0(Totals, 1);
                    g_hash_table_insert(totals, g_strdup(series), t);
                }
                (&t->flows)[m] += g_ascii_strtoll(reply->element[f + 1]->str, NULL, 10);
            }
        }
    }
    return totals;
}

static void
assert_same_totals(GHashTable *expected, GHashTable *got, const char *what)
{
    GHashTableIter iter;
    const char *series;
    const Totals *e;

    g_hash_table_iter_init(&iter, expected);
    while (g_hash_table_iter_next(&iter, (gpointer *)&series, (gpointer *)&e)) {
        const Totals *g = g_hash_table_lookup(got, series);
        Totals zero = {0};
        if (g == NULL)
            g = &zero;
        if (memcmp(e, g, sizeof(*e)) != 0)
            g_test_message("%s %s: expected %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
                           "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT ", Redis has %" G_GINT64_FORMAT
                           "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
                           what, series, e->flows, e->pkts, e->bytes, e->syn, g->flows, g->pkts,
                           g->bytes, g->syn);
        g_assert_cmpmem(e, sizeof(*e), g, sizeof(*g));
    }
    g_assert_cmpuint(g_hash_table_size(got), ==, g_hash_table_size(expected));
}

static void
test_capture(Fixture *fixture, gconstpointer data)
{
    const char *relative = data;
    g_autofree gchar *path = NULL;
    const char *collector_path;
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GPtrArray) stats = NULL;
    const char *files[1];
    g_autoptr(GHashTable) expected = NULL;
    g_autoptr(GHashTable) minutes = NULL;
    g_autoptr(GHashTable) hours = NULL;
    g_autoptr(PsTestChild) child = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree gchar *status = NULL;

    if (fixture->redis == NULL)
        return;
    path = ps_test_shared_file(relative);
    collector_path = ps_test_collector_path();
    if (path == NULL || collector_path == NULL)
        return;
    files[0] = path;
    g_assert_true(ps_test_collector_read(files, 1, &records, &stats));
    g_assert_cmpuint(records->len, >, 0);
    expected = totals_from_records(records);
    {
        const gchar *argv[] = {
            collector_path,   "--read",  path, "--redis", ps_test_redis_socket(fixture->redis),
            "--collector-id", "capture", NULL};
        child = ps_test_child_spawn(argv, &error);
        g_assert_no_error(error);
    }
    g_assert_true(ps_test_child_wait_exit(child, 30000));
    status = ps_test_child_describe_status(child);
    ps_test_child_log_stderr(child, "collector --read --redis");
    g_assert_cmpstr(status, ==, "exit 0");
    g_assert_cmpuint(child->out->len, ==, 0); /* records go to Redis, not stdout */
    minutes = totals_from_redis(fixture->context, 60);
    hours = totals_from_redis(fixture->context, 3600);
    g_test_message("%u records in %u series", records->len, g_hash_table_size(expected));
    assert_same_totals(expected, minutes, "minute buckets");
    assert_same_totals(expected, hours, "hour buckets");
    assert_expiries(fixture->context, FALSE);
    {
        g_autoptr(redisReply) closed =
            ps_test_redis_command(fixture->context, "ZCARD", "ps:closed:60", NULL);
        g_assert_cmpint(closed->integer, >, 0);
    }
}

/* ---- (d) two collectors, one Redis ---- */

/* Collector a: sources 198.51.100.1-30 -> 10.0.0.1-10, one flow each, and 198.51.100.25 six
 * more, 198.51.100.5 two more. Collector b: 198.51.100.21-50 -> 10.0.0.6-15 (as 10.0.0.%u with
 * offset), and 198.51.100.25 four more, 198.51.100.40 one more. Union: 50 sources, 15
 * destinations; top 2 of a {.25: 7, .5: 3}, of b {.25: 5, .40: 2}. */
static void
test_two_collectors(Fixture *fixture, gconstpointer data)
{
    g_autoptr(GArray) a_records = g_array_new(FALSE, TRUE, sizeof(Record));
    g_autoptr(GArray) b_records = g_array_new(FALSE, TRUE, sizeof(Record));
    g_autoptr(GPtrArray) pool = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) union_sources = g_ptr_array_new_with_free_func(g_free);
    const Record base = {
        .src_port = 40000, .dst_port = 445, .proto = 6, .flags = SYN, .packets = 3, .bytes = 180};
    PsAggregateConfig config;
    g_autoptr(Collector) a = NULL;
    g_autoptr(Collector) b = NULL;
    redisContext *context = fixture->context;
    const char *top[] = {"198.51.100.25", "198.51.100.5", "198.51.100.40"};
    const guint top_flows[] = {12, 3, 2};
    gint64 reference;

    (void)data;
    if (fixture->redis == NULL)
        return;
    ps_aggregate_config_init(&config);
    config.top_k = 2;
    a = collector_new(fixture, "a", &config);
    b = collector_new(fixture, "b", &config);
    add_records(a_records, pool, base, "198.51.100.", 1, 30, "10.0.0.", 1, 10, 30);
    add_records(a_records, pool, base, "198.51.100.25", 0, 0, "10.0.0.1", 0, 0, 6);
    add_records(a_records, pool, base, "198.51.100.5", 0, 0, "10.0.0.1", 0, 0, 2);
    for (guint i = 0; i < 30; i++) {
        Record r = base;
        gchar *src = g_strdup_printf("198.51.100.%u", 21 + i);
        gchar *dst = g_strdup_printf("10.0.0.%u", 6 + i % 10);
        g_ptr_array_add(pool, src);
        g_ptr_array_add(pool, dst);
        r.src = src;
        r.dst = dst;
        g_array_append_val(b_records, r);
    }
    add_records(b_records, pool, base, "198.51.100.25", 0, 0, "10.0.0.6", 0, 0, 4);
    add_records(b_records, pool, base, "198.51.100.40", 0, 0, "10.0.0.6", 0, 0, 1);
    for (guint i = 1; i <= 50; i++)
        g_ptr_array_add(union_sources, g_strdup_printf("198.51.100.%u", i));

    /* interleaved flushes, then a closes first and b second */
    send_v5(a, "192.0.2.1", B1 + 1, 0, &g_array_index(a_records, Record, 0), 20);
    send_v5(b, "192.0.2.2", B1 + 1, 0, &g_array_index(b_records, Record, 0), 15);
    ps_store_flush(a->store, (gint64)(B1 + 2) * 1000);
    ps_store_flush(b->store, (gint64)(B1 + 2) * 1000);
    send_v5(a, "192.0.2.1", B1 + 3, 0, &g_array_index(a_records, Record, 20), a_records->len - 20);
    send_v5(b, "192.0.2.2", B1 + 3, 0, &g_array_index(b_records, Record, 15), b_records->len - 15);
    collector_close(a);
    collector_close(b);

    g_assert_cmpuint(a_records->len, ==, 38);
    g_assert_cmpuint(b_records->len, ==, 35);
    assert_series(context, 60, B1, "tcp/445", (Expected){73, 219, 13140, 73, 50, 15});
    assert_series(context, 3600, HOUR, "tcp/445", (Expected){73, 219, 13140, 73, -1, -1});
    pfadd_addresses(context, "reference", union_sources);
    reference = pfcount(context, "reference");
    g_assert_cmpint(series_pfcount(context, 60, B1, "src", "tcp/445"), ==, reference);
    g_assert_cmpint(series_pfcount(context, 3600, HOUR, "src", "tcp/445"), ==, reference);
    g_assert_cmpint(series_pfcount(context, 60, B1, "dst", "tcp/445"), ==, 15);
    /* each writes its own top K; a source both saw adds up */
    assert_top(context, 60, B1, "tcp/445", top, top_flows, 3);
    g_assert_true(in_sorted_set(context, "ps:closed:60", B1));
    g_assert_cmpint(bucket_field(context, 60, B1, PS_QUALITY_SERIES, "collectors"), ==, 2);
    assert_heartbeat(context, "a", B1);
    assert_heartbeat(context, "b", B1);
}

/* once.h: after a lost reply the check kills the lost connection only while CLIENT LIST shows
 * it under the name it was given (a restarted Redis gives its id to somebody else), and tells
 * an applied transaction (its token set) from one that is not. */
static void
test_once_check(Fixture *fixture, gconstpointer data)
{
    g_autoptr(redisContext) lost = NULL;
    g_autoptr(redisContext) other = NULL;
    g_autoptr(redisContext) retry = NULL;
    g_autoptr(redisReply) reply = NULL;
    PsOnceClient lost_client, other_client, impostor;
    gboolean applied = TRUE;
    char id[24];

    (void)data;
    if (fixture->redis == NULL)
        return;
    lost = ps_test_redis_connect(fixture->redis);
    other = ps_test_redis_connect(fixture->redis);
    retry = ps_test_redis_connect(fixture->redis);
    ps_once_connected(lost, "portsurge-collector:t:1", &lost_client);
    ps_once_connected(other, "someone-else", &other_client);
    g_assert_cmpint(lost_client.id, >, 0);

    /* other's id under our name, as after a restart: left alone */
    impostor = other_client;
    g_strlcpy(impostor.name, "portsurge-collector:t:0", sizeof(impostor.name));
    g_assert_true(ps_once_check(retry, "ps:collector:t", "1.2.0", &impostor, &applied, NULL));
    g_assert_false(applied);
    reply = ps_test_redis_command(other, "PING", NULL);
    g_assert_cmpint(reply->type, ==, REDIS_REPLY_STATUS);
    g_clear_pointer(&reply, freeReplyObject);
    reply = ps_test_redis_command(retry, "UNWATCH", NULL);
    g_clear_pointer(&reply, freeReplyObject);

    /* the lost connection's transaction landed: the check says so and kills it */
    reply = ps_test_redis_command(fixture->context, "HSET", "ps:collector:t", PS_ONCE_FIELD,
                                  "1.2.0", NULL);
    g_clear_pointer(&reply, freeReplyObject);
    g_assert_true(ps_once_check(retry, "ps:collector:t", "1.2.0", &lost_client, &applied, NULL));
    g_assert_true(applied);
    g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, lost_client.id);
    reply = ps_test_redis_command(fixture->context, "CLIENT", "LIST", "ID", id, NULL);
    g_assert_cmpstr(reply->str, ==, ""); /* gone */
    g_clear_pointer(&reply, freeReplyObject);

    /* another token: not applied, and the key is watched until EXEC */
    g_assert_true(ps_once_check(retry, "ps:collector:t", "1.3.0", &lost_client, &applied, NULL));
    g_assert_false(applied);
    reply = ps_test_redis_command(fixture->context, "HSET", "ps:collector:t", PS_ONCE_FIELD,
                                  "1.3.0", NULL);
    g_clear_pointer(&reply, freeReplyObject);
    reply = ps_test_redis_command(retry, "MULTI", NULL);
    g_clear_pointer(&reply, freeReplyObject);
    reply = ps_test_redis_command(retry, "EXEC", NULL);
    g_assert_cmpint(reply->type, ==, REDIS_REPLY_NIL); /* refused: the lost one landed */
}

/* Redis URLs: an IPv6 host in brackets is taken out of them; a lone or unbalanced bracket is
 * refused (the configuration fuzzer found "[" read one byte before the host). */
static void
test_address_parse(void)
{
    const char *refused[] = {"redis://[", "redis://[:6379/0", "redis://[::1:6379", "redis://a]:1",
                             "redis://]"};
    PsRedisAddress address = {0};

    g_assert_true(ps_redis_address_parse("redis://[::1]:6380/2", &address, NULL));
    g_assert_cmpstr(address.host, ==, "::1");
    g_assert_cmpuint(address.port, ==, 6380);
    g_assert_cmpuint(address.db, ==, 2);
    ps_redis_address_clear(&address);
    for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autoptr(GError) error = NULL;
        g_test_message("%s", refused[i]);
        g_assert_false(ps_redis_address_parse(refused[i], &address, &error));
        g_assert_nonnull(error);
        ps_redis_address_clear(&address);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/redis/address-parse", test_address_parse);
    g_test_log_set_fatal_handler(ps_test_fatal_unless_libfixbuf, NULL);
    g_test_add("/redis/crafted/counters-top-expiry", Fixture, NULL, fixture_setup, test_crafted,
               fixture_teardown);
    g_test_add("/redis/once-check", Fixture, NULL, fixture_setup, test_once_check,
               fixture_teardown);
    g_test_add("/redis/crafted/direction", Fixture, NULL, fixture_setup, test_direction,
               fixture_teardown);
    g_test_add("/redis/crafted/quality-expiry", Fixture, NULL, fixture_setup, test_quality_expiry,
               fixture_teardown);
    g_test_add("/redis/distinct/10000-sources", Fixture, NULL, fixture_setup, test_many_sources,
               fixture_teardown);
    g_test_add("/redis/capture/nprobe-netflow9-3", Fixture,
               "graylog-plugin-netflow/nprobe-netflow9-3.pcap", fixture_setup, test_capture,
               fixture_teardown);
    g_test_add("/redis/capture/graylog-netflow5-sampled", Fixture,
               "graylog-plugin-netflow/netflow5.pcap", fixture_setup, test_capture,
               fixture_teardown);
    g_test_add("/redis/capture/pmacctd-netflow5", Fixture,
               "graylog-plugin-netflow/pmacctd-netflow5.pcap", fixture_setup, test_capture,
               fixture_teardown);
    g_test_add("/redis/capture/nprobe-v5-v9-two-exporters", Fixture,
               "graylog-plugin-netflow/nprobe-netflow9.pcap", fixture_setup, test_capture,
               fixture_teardown);
    g_test_add("/redis/merge/two-collectors", Fixture, NULL, fixture_setup, test_two_collectors,
               fixture_teardown);
    return g_test_run();
}
