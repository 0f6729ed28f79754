/* In-memory aggregation: the service-port rule, scaling by sampling, SYN-only flows,
 * directions, bucket placement (exporter clock, late flows, retention), the memory caps, top
 * sources, and what a take hands over. Pure: no Redis. */
#include "config.h"

#include "aggregate.h"
#include "table_memory.h"

#define START  1699999980LL          /* a minute bucket: a multiple of 60 */
#define NOW_MS ((START + 30) * 1000) /* 30 s into it */

static PsFlow
make_flow(const char *src, const char *dst, guint8 proto, guint16 src_port, guint16 dst_port,
          guint8 flags)
{
    PsFlow flow = {0};

    g_assert_true(ps_address_parse(src, &flow.src));
    g_assert_true(ps_address_parse(dst, &flow.dst));
    flow.proto = proto;
    flow.src_port = src_port;
    flow.dst_port = dst_port;
    flow.tcp_flags = flags;
    flow.packets = 3;
    flow.bytes = 180;
    flow.sampling = 1;
    flow.start_ms = flow.end_ms = NOW_MS - 1000;
    return flow;
}

/* The one delta series called name in the deltas (of any bucket), or NULL. */
static const PsSeriesDelta *
find_series(GPtrArray *deltas, gint64 start, const char *name)
{
    for (guint i = 0; i < deltas->len; i++) {
        PsBucketDelta *delta = g_ptr_array_index(deltas, i);
        for (guint j = 0; j < delta->series->len && (start < 0 || delta->start == start); j++) {
            const PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, j);
            if (g_str_equal(series->name, name))
                return series;
        }
    }
    return NULL;
}

/* What the flush thread does with a take: ranks the top K of the buckets it closes. */
static GPtrArray *
take_ranked(PsAggregate *aggregate, gint64 now_ms, gboolean close_all)
{
    GPtrArray *deltas = ps_aggregate_take(aggregate, now_ms, close_all);

    for (guint i = 0; i < deltas->len; i++)
        ps_bucket_delta_rank_top(g_ptr_array_index(deltas, i));
    return deltas;
}

typedef struct {
    const char *name;
    guint8 proto;
    guint16 src_port;
    guint16 dst_port;
    guint8 flags;
    const char *series;
} ServiceCase;

static const ServiceCase service_cases[] = {
    {"syn-to-high-port", 6, 445, 40000, 0x02, "tcp/40000"}, /* an attempt: its destination */
    {"reply-from-service", 6, 445, 51000, 0x18, "tcp/445"}, /* the well-known side */
    {"request-to-service", 6, 51000, 445, 0x18, "tcp/445"},
    {"both-well-known", 17, 123, 53, 0, "udp/53"},            /* the destination when both */
    {"both-high", 17, 40000, 50000, 0, "udp/50000"},          /* else the destination */
    {"configured-service", 6, 8080, 52000, 0x10, "tcp/8080"}, /* --service-port 8080 */
    {"icmp-has-no-port", 1, 0, 0x0800, 0, "icmp/0"},
    {"esp", 50, 0, 0, 0, "esp/0"},
};

static void
test_service_port(gconstpointer data)
{
    const ServiceCase *c = data;
    static const guint16 services[] = {8080};
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    PsFlow flow =
        make_flow("198.51.100.1", "10.0.0.1", c->proto, c->src_port, c->dst_port, c->flags);

    ps_aggregate_config_init(&config);
    config.service_ports = services;
    config.n_service_ports = 1;
    aggregate = ps_aggregate_new(&config);
    ps_aggregate_add(aggregate, &flow, NOW_MS);
    deltas = ps_aggregate_take(aggregate, NOW_MS, FALSE);
    g_assert_nonnull(find_series(deltas, -1, c->series));
}

static void
test_counts(void)
{
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    const PsSeriesDelta *series;
    PsFlow scan = make_flow("198.51.100.1", "10.0.0.1", 6, 40000, 445, 0x02);
    PsFlow session = make_flow("198.51.100.2", "10.0.0.2", 6, 40001, 445, 0x1b);

    ps_aggregate_config_init(&config);
    aggregate = ps_aggregate_new(&config);
    session.sampling = 100;
    ps_aggregate_add(aggregate, &scan, NOW_MS);
    ps_aggregate_add(aggregate, &scan, NOW_MS);
    ps_aggregate_add(aggregate, &session, NOW_MS);
    deltas = ps_aggregate_take(aggregate, NOW_MS, FALSE);
    series = find_series(deltas, START, "tcp/445");
    g_assert_nonnull(series);
    g_assert_cmpuint(series->counts.flows, ==, 3);
    g_assert_cmpuint(series->counts.packets, ==, 3 + 3 + 300); /* scaled by sampling */
    g_assert_cmpuint(series->counts.bytes, ==, 180 + 180 + 18000);
    g_assert_cmpuint(series->counts.syn, ==, 2); /* SYN without ACK only */
    /* sketches and top sources only when the bucket closes */
    g_assert_cmpuint(ps_hll_estimate(&series->sources), ==, 0);
    g_assert_cmpuint(ps_hll_estimate(&series->destinations), ==, 0);
    g_assert_null(series->top);
    g_ptr_array_unref(g_steal_pointer(&deltas));
    /* a take hands over: the next one has nothing new */
    deltas = ps_aggregate_take(aggregate, NOW_MS, FALSE);
    g_assert_null(find_series(deltas, -1, "tcp/445"));
    g_ptr_array_unref(g_steal_pointer(&deltas));
    ps_aggregate_add(aggregate, &scan, NOW_MS);
    deltas = ps_aggregate_take(aggregate, NOW_MS, TRUE);
    series = find_series(deltas, START, "tcp/445");
    g_assert_cmpuint(series->counts.flows, ==, 1);
    g_assert_cmpuint(series->total.flows, ==, 4);
    g_assert_cmpuint(ps_hll_estimate(&series->sources), ==, 2); /* the bucket's, not the take's */
    g_assert_cmpuint(ps_hll_estimate(&series->destinations), ==, 2);
}

static void
test_directions(void)
{
    PsAggregateConfig config;
    PsNetwork home;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    PsFlow inbound = make_flow("198.51.100.1", "10.0.0.1", 6, 40000, 445, 0x02);
    PsFlow outbound = make_flow("10.0.0.7", "203.0.113.5", 6, 40000, 445, 0x02);
    PsFlow internal = make_flow("10.0.0.7", "10.0.0.8", 6, 40000, 445, 0x02);
    PsFlow transit = make_flow("198.51.100.1", "203.0.113.5", 6, 40000, 445, 0x02);

    g_assert_true(ps_network_parse("10.0.0.0/8", &home, NULL));
    ps_aggregate_config_init(&config);
    config.home_networks = &home;
    config.n_home_networks = 1;
    aggregate = ps_aggregate_new(&config);
    ps_aggregate_add(aggregate, &inbound, NOW_MS);
    ps_aggregate_add(aggregate, &outbound, NOW_MS);
    ps_aggregate_add(aggregate, &outbound, NOW_MS);
    ps_aggregate_add(aggregate, &internal, NOW_MS);
    ps_aggregate_add(aggregate, &transit, NOW_MS);
    deltas = ps_aggregate_take(aggregate, NOW_MS, FALSE);
    g_assert_cmpuint(find_series(deltas, -1, "tcp/445")->counts.flows, ==, 5);
    g_assert_cmpuint(find_series(deltas, -1, "tcp/445@in")->counts.flows, ==, 1);
    g_assert_cmpuint(find_series(deltas, -1, "tcp/445@out")->counts.flows, ==, 2);
    g_assert_cmpuint(find_series(deltas, -1, "tcp/445@int")->counts.flows, ==, 1);
}

static void
test_networks(void)
{
    PsNetwork network;
    PsAddress address;

    g_assert_true(ps_network_parse("192.0.2.128/25", &network, NULL));
    g_assert_true(ps_address_parse("192.0.2.200", &address));
    g_assert_true(ps_network_contains(&network, &address));
    g_assert_true(ps_address_parse("192.0.2.100", &address));
    g_assert_false(ps_network_contains(&network, &address));
    g_assert_true(ps_network_parse("2001:db8::/32", &network, NULL));
    g_assert_true(ps_address_parse("2001:db8:ffff::1", &address));
    g_assert_true(ps_network_contains(&network, &address));
    g_assert_false(ps_network_parse("10.0.0.0/33", &network, NULL));
    g_assert_false(ps_network_parse("not-a-network", &network, NULL));
}

static void
test_bucket_placement(void)
{
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    PsFlow on_time = make_flow("198.51.100.1", "10.0.0.1", 17, 40000, 53, 0);
    PsFlow previous = on_time, skewed = on_time, ancient = on_time;

    ps_aggregate_config_init(&config);
    aggregate = ps_aggregate_new(&config);
    previous.end_ms = NOW_MS - 45000; /* previous minute, clock agrees: counted there */
    skewed.end_ms = NOW_MS - 3600000; /* an hour off: counted when it arrived */
    ancient.end_ms = 0;
    ps_aggregate_add(aggregate, &on_time, NOW_MS);
    ps_aggregate_add(aggregate, &previous, NOW_MS);
    ps_aggregate_add(aggregate, &skewed, NOW_MS);
    ps_aggregate_add(aggregate, &ancient, NOW_MS - 9LL * 86400 * 1000 + 1); /* replayed: */
    deltas = ps_aggregate_take(aggregate, NOW_MS, FALSE);
    g_assert_cmpuint(find_series(deltas, START, "udp/53")->counts.flows, ==, 2);
    g_assert_cmpuint(find_series(deltas, START - 60, "udp/53")->counts.flows, ==, 1);
    g_assert_cmpuint(ps_aggregate_stats(aggregate)->by_arrival_time, ==, 1);
    g_assert_cmpuint(ps_aggregate_stats(aggregate)->flows, ==, 4);
}

static void
test_close_and_late(void)
{
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    PsFlow flow = make_flow("198.51.100.1", "10.0.0.1", 17, 40000, 53, 0);
    gint64 after_grace = (START + 60 + 90) * 1000;

    ps_aggregate_config_init(&config);
    aggregate = ps_aggregate_new(&config);
    ps_aggregate_add(aggregate, &flow, NOW_MS);
    deltas = ps_aggregate_take(aggregate, after_grace - 1000, FALSE);
    g_assert_false(((PsBucketDelta *)g_ptr_array_index(deltas, 0))->closing);
    g_ptr_array_unref(g_steal_pointer(&deltas));
    deltas = ps_aggregate_take(aggregate, after_grace, FALSE);
    g_assert_cmpuint(deltas->len, ==, 1);
    g_assert_true(((PsBucketDelta *)g_ptr_array_index(deltas, 0))->closing);
    /* a closing bucket lists every series, even those without news, for the final counts */
    g_assert_nonnull(find_series(deltas, START, "udp/53"));
    g_ptr_array_unref(g_steal_pointer(&deltas));
    /* a flow for the closed bucket is counted late, in a bucket still open */
    ps_aggregate_add(aggregate, &flow, after_grace);
    deltas = ps_aggregate_take(aggregate, after_grace, FALSE);
    g_assert_null(find_series(deltas, START, "udp/53"));
    g_assert_cmpuint(find_series(deltas, START + 120, "udp/53")->counts.flows, ==, 1);
    g_assert_cmpuint(ps_aggregate_stats(aggregate)->late, ==, 1);
}

static void
test_caps_and_top(void)
{
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    const PsSeriesDelta *series;
    char address[PS_ADDRESS_STRLEN];

    ps_aggregate_config_init(&config);
    config.max_series = 3; /* two ports and "other" */
    config.max_sources = 8;
    config.top_k = 3;
    aggregate = ps_aggregate_new(&config);
    for (guint i = 0; i < 20; i++) {
        /* source 10.0.0.i sends i+1 flows to tcp/445: the top 3 are .19, .18, .17 */
        g_autofree gchar *src = g_strdup_printf("10.0.0.%u", i);
        PsFlow flow = make_flow(src, "192.0.2.1", 6, 40000, 445, 0x02);
        for (guint j = 0; j <= i; j++)
            ps_aggregate_add(aggregate, &flow, NOW_MS);
    }
    for (guint port = 1; port <= 3; port++) {
        PsFlow flow = make_flow("10.9.9.9", "192.0.2.1", 17, 40000, port, 0);
        ps_aggregate_add(aggregate, &flow, NOW_MS);
    }
    deltas = ps_aggregate_take(aggregate, NOW_MS, TRUE);
    /* the take leaves the ranking to the flush thread: the pair table goes with the delta */
    series = find_series(deltas, -1, "tcp/445");
    g_assert_null(series->top);
    g_assert_cmpuint(ps_bucket_delta_pending_bytes(g_ptr_array_index(deltas, 0)), >, 0);
    g_assert_cmpuint(ps_bucket_delta_rank_top(g_ptr_array_index(deltas, 0)), >, 0);
    g_assert_cmpuint(ps_bucket_delta_pending_bytes(g_ptr_array_index(deltas, 0)), ==, 0);
    g_assert_cmpuint(ps_bucket_delta_rank_top(g_ptr_array_index(deltas, 0)), ==, 0);
    g_assert_nonnull(find_series(deltas, -1, "udp/1"));
    g_assert_null(find_series(deltas, -1, "udp/2"));
    g_assert_cmpuint(find_series(deltas, -1, "other")->counts.flows, ==, 2);
    g_assert_cmpuint(ps_aggregate_stats(aggregate)->other_series, ==, 2);
    series = find_series(deltas, -1, "tcp/445");
    g_assert_cmpuint(series->counts.flows, ==, 210);
    /* only 8 pairs fit: sources 10.0.0.0 .. 10.0.0.7 are tracked; the flows of the rest are
     * untracked (still counted, not in the top K) */
    g_assert_cmpuint(series->counts.untracked, ==, 210 - 36);
    g_assert_cmpuint(ps_hll_estimate(&series->sources), ==, 20); /* sketches have no cap */
    g_assert_cmpuint(series->top->len, ==, 3);
    g_assert_cmpstr(
        ps_address_to_string(&g_array_index(series->top, PsTopSource, 0).source, address), ==,
        "10.0.0.7");
    g_assert_cmpuint(g_array_index(series->top, PsTopSource, 0).flows, ==, 8);
    g_assert_cmpuint(g_array_index(series->top, PsTopSource, 2).flows, ==, 6);
}

/* Destinations have no cap: past max_sources the (series, destination) pairs are no longer
 * remembered, and every flow then updates the sketch itself. */
static void
test_destinations_past_cap(void)
{
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    const PsSeriesDelta *series;

    ps_aggregate_config_init(&config);
    config.max_sources = 8;
    aggregate = ps_aggregate_new(&config);
    for (guint round = 0; round < 3; round++) {
        for (guint i = 0; i < 40; i++) {
            g_autofree gchar *dst = g_strdup_printf("192.0.2.%u", i);
            PsFlow flow = make_flow("10.0.0.1", dst, 6, 40000, 445, 0x02);
            ps_aggregate_add(aggregate, &flow, NOW_MS);
        }
    }
    deltas = ps_aggregate_take(aggregate, NOW_MS, TRUE);
    series = find_series(deltas, -1, "tcp/445");
    g_assert_cmpuint(series->counts.flows, ==, 120);
    g_assert_cmpuint(ps_hll_estimate(&series->destinations), ==, 40);
    g_assert_cmpuint(ps_hll_estimate(&series->sources), ==, 1);
}

/* A pair remembers its last flow's destination, and a flow to that destination skips the
 * seen destinations: destinations that come back, alternate or repeat within one batch all
 * count once, and a new one after them counts. */
static void
test_destinations_of_one_pair(void)
{
    static const guint pattern[] = {1, 1, 2, 1, 3, 2, 3, 3, 1, 2, 4, 4, 1};
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    PsFlow flows[G_N_ELEMENTS(pattern) + 1];
    const PsSeriesDelta *series;

    ps_aggregate_config_init(&config);
    aggregate = ps_aggregate_new(&config);
    for (guint i = 0; i < G_N_ELEMENTS(pattern); i++) {
        g_autofree gchar *dst = g_strdup_printf("192.0.2.%u", pattern[i]);
        flows[i] = make_flow("10.0.0.1", dst, 6, 40000, 445, 0x02);
    }
    flows[G_N_ELEMENTS(pattern)] = make_flow("10.0.0.2", "192.0.2.5", 6, 40000, 445, 0x02);
    /* once as one batch (the pair's slot read before its flows are counted), then flow by flow */
    ps_aggregate_add_batch(aggregate, flows, G_N_ELEMENTS(flows), NOW_MS, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(flows); i++)
        ps_aggregate_add(aggregate, &flows[i], NOW_MS);
    deltas = ps_aggregate_take(aggregate, NOW_MS, TRUE);
    series = find_series(deltas, -1, "tcp/445");
    g_assert_cmpuint(series->counts.flows, ==, 2 * G_N_ELEMENTS(flows));
    g_assert_cmpuint(ps_hll_estimate(&series->destinations), ==, 5);
    g_assert_cmpuint(ps_hll_estimate(&series->sources), ==, 2);
}

static void
test_top_without_cap(void)
{
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    const PsSeriesDelta *series;
    char address[PS_ADDRESS_STRLEN];

    ps_aggregate_config_init(&config);
    aggregate = ps_aggregate_new(&config);
    for (guint i = 0; i < 5000; i++) {
        /* many light sources, and 3 heavy ones */
        g_autofree gchar *src = g_strdup_printf("172.16.%u.%u", i / 256, i % 256);
        PsFlow flow = make_flow(src, "192.0.2.1", 6, 40000, 3389, 0x02);
        guint repeat = i == 4000 ? 50 : i == 17 ? 40 : i == 2500 ? 30 : 1;
        for (guint j = 0; j < repeat; j++)
            ps_aggregate_add(aggregate, &flow, NOW_MS);
    }
    deltas = take_ranked(aggregate, NOW_MS, TRUE);
    series = find_series(deltas, -1, "tcp/3389");
    g_assert_cmpuint(series->counts.untracked, ==, 0);
    g_assert_cmpuint(series->top->len, ==, 10);
    g_assert_cmpstr(
        ps_address_to_string(&g_array_index(series->top, PsTopSource, 0).source, address), ==,
        "172.16.15.160");
    g_assert_cmpuint(g_array_index(series->top, PsTopSource, 1).flows, ==, 40);
    g_assert_cmpuint(g_array_index(series->top, PsTopSource, 2).flows, ==, 30);
    g_assert_cmpuint(g_array_index(series->top, PsTopSource, 3).flows, ==, 1);
    /* 5000 distinct sources: the sketch's estimate within 2% */
    g_assert_cmpuint(ps_hll_estimate(&series->sources), >=, 4900);
    g_assert_cmpuint(ps_hll_estimate(&series->sources), <=, 5100);
}

/* The pair bound reached after a take, with IPv4 and IPv6 sources mixed: the first
 * max_sources pairs in flow order are tracked, whatever else the implementation batches or
 * defers (a restructure that applies pairs later must keep this). */
static void
test_cap_with_waiting_flows(void)
{
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) first = NULL;
    g_autoptr(GPtrArray) last = NULL;
    const PsSeriesDelta *series;
    guint64 untracked;
    char address[PS_ADDRESS_STRLEN];

    ps_aggregate_config_init(&config);
    config.max_sources = 6000;
    config.top_k = 3;
    aggregate = ps_aggregate_new(&config);
    for (guint i = 0; i < 9000; i++) {
        /* source i once; the last IPv4 sources of the first 6000 pairs a second time */
        g_autofree gchar *src = i % 7 == 3 ? g_strdup_printf("2001:db8::%x", i)
                                           : g_strdup_printf("10.%u.%u.1", i / 256, i % 256);
        PsFlow flow = make_flow(src, "192.0.2.1", 6, 40000, 22, 0x02);
        ps_aggregate_add(aggregate, &flow, NOW_MS);
        if (i == 4000)
            first = ps_aggregate_take(aggregate, NOW_MS, FALSE);
    }
    for (guint i = 5990; i < 6000; i++) {
        g_autofree gchar *src = g_strdup_printf("10.%u.%u.1", i / 256, i % 256);
        PsFlow flow = make_flow(src, "192.0.2.1", 6, 40000, 22, 0x02);
        if (i % 7 == 3)
            continue;
        ps_aggregate_add(aggregate, &flow, NOW_MS);
    }
    series = find_series(first, -1, "tcp/22");
    g_assert_cmpuint(series->counts.flows, ==, 4001);
    g_assert_cmpuint(series->counts.untracked, ==, 0);
    last = take_ranked(aggregate, NOW_MS, TRUE);
    series = find_series(last, -1, "tcp/22");
    g_assert_cmpuint(ps_hll_estimate(&series->sources), >=, 8800); /* 9000 sources */
    g_assert_cmpuint(ps_hll_estimate(&series->sources), <=, 9200);
    untracked = series->total.untracked;
    g_assert_cmpuint(untracked, ==, 3000);
    g_assert_cmpuint(ps_aggregate_stats(aggregate)->untracked_sources, ==, 3000);
    /* the heaviest: the sources sent twice (5990 .. 5999, the last pairs that fit), lowest
     * address first among equals */
    g_assert_cmpuint(series->top->len, ==, 3);
    g_assert_cmpuint(g_array_index(series->top, PsTopSource, 0).flows, ==, 2);
    g_assert_cmpuint(g_array_index(series->top, PsTopSource, 2).flows, ==, 2);
    g_assert_cmpstr(
        ps_address_to_string(&g_array_index(series->top, PsTopSource, 0).source, address), ==,
        "10.23.102.1");
}

/* The last octets of a source list of 198.51.100.x addresses, as bits. */
static guint
source_bits(const GArray *list)
{
    guint bits = 0;

    for (guint i = 0; i < list->len; i++) {
        const PsAddress *address = &g_array_index(list, PsAddress, i);
        g_assert_cmpuint(address->family, ==, 4);
        g_assert_cmpuint(address->bytes[2], ==, 100);
        g_assert_false(bits & 1u << address->bytes[3]); /* each source once */
        bits |= 1u << address->bytes[3];
    }
    return bits;
}

/* A watched port's series (every direction) list their distinct sources once ranked, each
 * source once however many flows it sent; other series list none. Past max_sources a series
 * lists what the pair table holds. */
static void
test_source_lists(void)
{
    static const char *const watched[] = {"tcp/445", NULL};
    PsNetwork home;
    PsAggregateConfig config;
    g_autoptr(PsAggregate) aggregate = NULL;
    g_autoptr(GPtrArray) deltas = NULL;
    const PsSeriesDelta *series;

    g_assert_true(ps_network_parse("10.0.0.0/8", &home, NULL));
    ps_aggregate_config_init(&config);
    config.new_sources = watched;
    config.home_networks = &home;
    config.n_home_networks = 1;
    /* pairs in order tcp/445, tcp/445@in per source: the third source's @in pair misses */
    config.max_sources = 5;
    aggregate = ps_aggregate_new(&config);
    for (guint i = 0; i < 6; i++) {
        g_autofree gchar *src = g_strdup_printf("198.51.100.%u", i % 3 + 1);
        PsFlow scan = make_flow(src, "10.0.0.1", 6, 40000, 445, 0x02);
        ps_aggregate_add(aggregate, &scan, NOW_MS);
    }
    for (guint i = 0; i < 3; i++) {
        g_autofree gchar *src = g_strdup_printf("198.51.100.%u", i + 1);
        PsFlow web = make_flow(src, "10.0.0.1", 6, 40000, 80, 0x02);
        ps_aggregate_add(aggregate, &web, NOW_MS);
    }
    deltas = ps_aggregate_take(aggregate, NOW_MS, FALSE);
    g_assert_null(find_series(deltas, START, "tcp/445")->source_list); /* not closing */
    g_ptr_array_unref(g_steal_pointer(&deltas));
    deltas = take_ranked(aggregate, NOW_MS, TRUE);
    series = find_series(deltas, START, "tcp/445");
    g_assert_true(series->watched);
    g_assert_cmpuint(source_bits(series->source_list), ==, 0xe); /* .1 .2 .3 */
    series = find_series(deltas, START, "tcp/445@in");
    g_assert_true(series->watched);
    g_assert_cmpuint(source_bits(series->source_list), ==, 0x6); /* .3 missed the cap */
    g_assert_cmpuint(series->total.untracked, ==, 2);
    series = find_series(deltas, START, "tcp/80");
    g_assert_false(series->watched);
    g_assert_null(series->source_list);
}

/* The pair table's memory: zeroed and writable at every size, below a huge page (malloc) and
 * above (mapped on a 2 MiB boundary, a size that is not a multiple of it). */
static void
test_table_memory(void)
{
    const gsize sizes[] = {64, 4096 * 16, ((gsize)2 << 20) + 4096 * 16, (gsize)16 << 20};

    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        guint8 *table = ps_table_alloc0(sizes[i]);
        for (gsize at = 0; at < sizes[i]; at += 4096) {
            g_assert_cmpuint(table[at], ==, 0);
            table[at] = 1;
        }
        g_assert_cmpuint(table[sizes[i] - 1], ==, 0);
        table[sizes[i] - 1] = 1;
        if (sizes[i] >= ((gsize)2 << 20))
            g_assert_cmpuint((guintptr)table % ((gsize)2 << 20), ==, 0);
        ps_table_free(table, sizes[i]);
    }
    ps_table_free(NULL, (gsize)16 << 20);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(service_cases); i++) {
        g_autofree gchar *name =
            g_strdup_printf("/aggregate/service-port/%s", service_cases[i].name);
        g_test_add_data_func(name, &service_cases[i], test_service_port);
    }
    g_test_add_func("/aggregate/counts", test_counts);
    g_test_add_func("/aggregate/directions", test_directions);
    g_test_add_func("/aggregate/networks", test_networks);
    g_test_add_func("/aggregate/bucket-placement", test_bucket_placement);
    g_test_add_func("/aggregate/close-and-late", test_close_and_late);
    g_test_add_func("/aggregate/caps-and-top", test_caps_and_top);
    g_test_add_func("/aggregate/destinations-past-cap", test_destinations_past_cap);
    g_test_add_func("/aggregate/destinations-of-one-pair", test_destinations_of_one_pair);
    g_test_add_func("/aggregate/top-sources", test_top_without_cap);
    g_test_add_func("/aggregate/cap-with-waiting-flows", test_cap_with_waiting_flows);
    g_test_add_func("/aggregate/source-lists", test_source_lists);
    g_test_add_func("/aggregate/table-memory", test_table_memory);
    return g_test_run();
}
