#include "config.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "bucket.h"
#include "portproto.h"
#include "table_memory.h"

#define OTHER_KEY 0xffffffffu
#define TCP_SYN   0x02
#define TCP_ACK   0x10
#define INDEX_MIN 1024
#define PAIRS_MIN 4096
#define GOLDEN32  0x9e3779b1u
#define SERIES_MIN 256

/* What every flow touches comes first (key to the counters' syn field: 64 bytes), and a
 * series starts a cache line (the table is 64-byte aligned, the struct a multiple of 64), so a
 * flow costs one line of its series, not two: with 136-byte series most straddled two lines,
 * and aggregation took ~14% longer (tests/bench/README.md, session 13). */
typedef struct {
    _Alignas(64) guint32 key; /* direction << 24 | proto << 16 | port, or OTHER_KEY */
    gboolean dirty;
    PsHll destinations; /* updated only by a (series, destination) pair new to the bucket */
    PsCounts counts;    /* since the last take */
    PsHll sources;      /* updated only by a (series, source) pair new to the bucket */
    PsCounts taken;     /* the sum of what earlier takes handed out: counts + taken is the
                         * bucket's total for the hour roll-up, kept apart so that a flow
                         * updates one set of counters, not two */
} Series;
G_STATIC_ASSERT(offsetof(Series, counts) + offsetof(PsCounts, untracked) == 64);

/* One (series, source) pair of a bucket, for the top K, and so that a source seen again
 * does not touch the sketch again. 16 bytes, so that a probe is one cache line: the pair is
 * known by a 64-bit fingerprint of (series, address), the address itself is kept aside for the
 * top K (Bucket.pair_addresses). fingerprint 0 marks an empty slot.
 *
 * It also remembers where its last flow went: a source's flows on a port mostly go to one
 * destination, and a flow whose destination is its pair's last one needs no look at the seen
 * destinations (a random line of a table as large as this one): that destination was noted
 * when the last flow came. */
typedef enum {
    PAIR_SEEN, /* seen before in this bucket: the sketch already has it */
    PAIR_NEW,
    PAIR_FULL, /* the table is full: not tracked */
} PairResult;

typedef struct {
    guint64 fingerprint;
    guint32 flows;
    guint32 last_destination; /* destination_tag() of the pair's last flow */
} Pair;

/* A slot of the series index: the key beside the position, so a lookup touches one line. */
typedef struct {
    guint32 key;
    guint32 position; /* series index + 1, 0 empty */
} Slot;

typedef struct {
    gint64 start;
    Series *series; /* 64-byte aligned (grow_series) */
    guint n_series;
    guint series_capacity;
    Slot *index;    /* open addressing */
    guint index_mask;
    Pair *pairs;
    guint32 *pair_addresses; /* beside each slot of pairs: its index into addresses */
    guint pairs_mask;
    guint n_pairs;
    GArray *addresses;   /* PsAddress of each pair */
    GArray *pair_series; /* guint32 series index of each pair */
    guint64 *seen_destinations; /* fingerprints of (series, destination) pairs, 0 empty */
    guint seen_destinations_mask;
    guint n_seen_destinations;
} Bucket;

struct PsAggregate {
    PsAggregateConfig config;
    guint8 service_port_bits[65536 / 8]; /* ports below 1024 and the configured ones */
    PsNetwork *home_networks;
    GPtrArray *buckets;    /* Bucket, open ones; a handful at a time */
    gint64 closed_through; /* start of the newest closed bucket */
    guint pairs_hint;      /* pair table size the last closed bucket reached */
    guint seen_destinations_hint; /* the same for its seen destinations */
    GArray *watched;       /* guint32 keys (proto << 16 | port) of config.new_sources, sorted */
    PsAggregateStats stats;
};

void
ps_aggregate_config_init(PsAggregateConfig *config)
{
    memset(config, 0, sizeof(*config));
    config->step = 60;
    config->grace_s = 90;
    config->clock_tolerance_ms = 5 * 60 * 1000;
    config->retention_s = (gint64)PS_BUCKET_MINUTE_TTL_DAYS * 86400;
    config->max_series = 20000;
    config->max_sources = 1000000;
    config->top_k = 10;
}

gboolean
ps_network_parse(const char *text, PsNetwork *network, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(text, "/", 2);
    PsAddress address;
    guint64 prefix_len;
    guint max_len;

    if (parts[0] == NULL || !ps_address_parse(parts[0], &address)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s' is not a network: expected ADDRESS/PREFIX such as 10.0.0.0/8", text);
        return FALSE;
    }
    max_len = address.family == 4 ? 32 : 128;
    if (parts[1] == NULL)
        prefix_len = max_len;
    else if (!g_ascii_string_to_unsigned(parts[1], 10, 0, max_len, &prefix_len, NULL)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s': prefix length must be 0 to %u", text, max_len);
        return FALSE;
    }
    memset(network, 0, sizeof(*network));
    memcpy(network->network, address.bytes, 16);
    network->family = address.family;
    network->prefix_len = (guint8)prefix_len;
    return TRUE;
}

gboolean
ps_network_contains(const PsNetwork *network, const PsAddress *address)
{
    const guint8 *net = (const guint8 *)network->network;
    guint full = network->prefix_len / 8, rest = network->prefix_len % 8;

    if (address->family != network->family || memcmp(net, address->bytes, full) != 0)
        return FALSE;
    return rest == 0 || ((net[full] ^ address->bytes[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static void bucket_free(Bucket *bucket);

/* Frees a fingerprint table (the pairs, the seen destinations) of mask + 1 entries. */
static void
free_table(gpointer table, guint mask, gsize entry_size)
{
    if (table != NULL)
        ps_table_free(table, ((gsize)mask + 1) * entry_size);
}

static void
free_pairs(Pair *pairs, guint32 *pair_addresses, guint mask)
{
    free_table(pairs, mask, sizeof(Pair));
    free_table(pair_addresses, mask, sizeof(guint32));
}

void
ps_aggregate_set_classes(PsAggregate *aggregate, const PsAggregateConfig *config)
{
    /* the well-known ports are bits too, so that a flow's test is one lookup */
    memset(aggregate->service_port_bits, 0, sizeof(aggregate->service_port_bits));
    memset(aggregate->service_port_bits, 0xff, 1024 / 8);
    for (guint i = 0; i < config->n_service_ports; i++)
        aggregate->service_port_bits[config->service_ports[i] / 8] |=
            1 << (config->service_ports[i] % 8);
    g_free(aggregate->home_networks);
    aggregate->home_networks =
        g_memdup2(config->home_networks, config->n_home_networks * sizeof(PsNetwork));
    aggregate->config.home_networks = aggregate->home_networks;
    aggregate->config.n_home_networks = config->n_home_networks;
    aggregate->config.service_ports = NULL; /* kept as bits */
    aggregate->config.n_service_ports = config->n_service_ports;
}

static int
compare_key(gconstpointer a, gconstpointer b)
{
    guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

    return x < y ? -1 : x > y;
}

/* The series keys of the new_sources port names, sorted for is_watched(); names that do not
 * parse were refused when the settings were loaded, and are skipped here. */
static void
set_watched(PsAggregate *aggregate, const char *const *names)
{
    GArray *keys = g_array_new(FALSE, FALSE, sizeof(guint32));

    for (guint i = 0; names != NULL && names[i] != NULL; i++) {
        guint8 proto;
        guint16 port;
        guint32 key;
        if (!ps_portproto_parse(names[i], &proto, &port, NULL))
            continue;
        key = (guint32)proto << 16 | port;
        g_array_append_val(keys, key);
    }
    g_array_sort(keys, compare_key);
    aggregate->watched = keys;
    aggregate->config.new_sources = NULL; /* borrowed: not kept */
}

/* Whether the series of key (any direction) is one of new_sources. Called once per series of
 * a closing bucket, never per flow. */
static gboolean
is_watched(const PsAggregate *aggregate, guint32 key)
{
    guint32 port_key = key & 0xffffff; /* without the direction */

    if (key == OTHER_KEY || aggregate->watched->len == 0)
        return FALSE;
    return bsearch(&port_key, &g_array_index(aggregate->watched, guint32, 0),
                   aggregate->watched->len, sizeof(guint32), compare_key) != NULL;
}

PsAggregate *
ps_aggregate_new(const PsAggregateConfig *config)
{
    PsAggregate *aggregate = g_new0(PsAggregate, 1);

    aggregate->config = *config;
    ps_aggregate_set_classes(aggregate, config);
    set_watched(aggregate, config->new_sources);
    aggregate->buckets = g_ptr_array_new_with_free_func((GDestroyNotify)bucket_free);
    aggregate->closed_through = G_MININT64;
    return aggregate;
}

static void
series_clear(Series *series)
{
    ps_hll_clear(&series->sources);
    ps_hll_clear(&series->destinations);
}

static void
bucket_free(Bucket *bucket)
{
    for (guint i = 0; i < bucket->n_series; i++)
        series_clear(&bucket->series[i]);
    free_table(bucket->series, bucket->series_capacity - 1, sizeof(Series));
    g_free(bucket->index);
    free_pairs(bucket->pairs, bucket->pair_addresses, bucket->pairs_mask);
    free_table(bucket->seen_destinations, bucket->seen_destinations_mask, sizeof(guint64));
    g_clear_pointer(&bucket->addresses, g_array_unref); /* NULL once handed to a delta */
    g_clear_pointer(&bucket->pair_series, g_array_unref);
    g_free(bucket);
}

void
ps_aggregate_free(PsAggregate *aggregate)
{
    if (aggregate == NULL)
        return;
    g_ptr_array_unref(aggregate->buckets);
    g_free(aggregate->home_networks);
    g_array_unref(aggregate->watched);
    g_free(aggregate);
}

const PsAggregateStats *
ps_aggregate_stats(const PsAggregate *aggregate)
{
    return &aggregate->stats;
}

static gboolean
is_service_port(const PsAggregate *aggregate, guint16 port)
{
    return aggregate->service_port_bits[port / 8] >> (port % 8) & 1;
}

static gboolean
is_syn_only(const PsFlow *flow)
{
    return flow->proto == 6 && (flow->tcp_flags & TCP_SYN) && !(flow->tcp_flags & TCP_ACK);
}

/* The rule of schema/redis.md: the destination of a connection attempt; otherwise the
 * well-known side (below 1024 or a configured service port; the destination when both are);
 * otherwise the destination. Protocols without ports count under port 0. */
static guint16
service_port(const PsAggregate *aggregate, const PsFlow *flow, gboolean syn_only)
{
    if (!ps_portproto_has_ports(flow->proto))
        return 0;
    if (syn_only || is_service_port(aggregate, flow->dst_port))
        return flow->dst_port;
    if (is_service_port(aggregate, flow->src_port))
        return flow->src_port;
    return flow->dst_port;
}

static gboolean
is_home(const PsAggregate *aggregate, const PsAddress *address)
{
    for (guint i = 0; i < aggregate->config.n_home_networks; i++) {
        if (ps_network_contains(&aggregate->home_networks[i], address))
            return TRUE;
    }
    return FALSE;
}

static PsDirection
direction_of(const PsAggregate *aggregate, const PsFlow *flow)
{
    gboolean src_home, dst_home;

    if (aggregate->config.n_home_networks == 0)
        return PS_DIRECTION_ALL;
    src_home = is_home(aggregate, &flow->src);
    dst_home = is_home(aggregate, &flow->dst);
    if (src_home && dst_home)
        return PS_DIRECTION_INTERNAL;
    if (src_home)
        return PS_DIRECTION_OUT;
    if (dst_home)
        return PS_DIRECTION_IN;
    return PS_DIRECTION_ALL; /* transit: counted in the port's total only */
}

/* ---- buckets and their series table ---- */

static Bucket *
bucket_new(gint64 start)
{
    Bucket *bucket = g_new0(Bucket, 1);

    bucket->start = start;
    bucket->index_mask = INDEX_MIN - 1;
    bucket->index = g_new0(Slot, INDEX_MIN);
    bucket->addresses = g_array_new(FALSE, FALSE, sizeof(PsAddress));
    bucket->pair_series = g_array_new(FALSE, FALSE, sizeof(guint32));
    return bucket;
}

static guint
key_slot(guint32 key, guint mask)
{
    return (key * GOLDEN32) >> 7 & mask;
}

static void
grow_index(Bucket *bucket)
{
    guint capacity = (bucket->index_mask + 1) * 2;

    g_free(bucket->index);
    bucket->index = g_new0(Slot, capacity);
    bucket->index_mask = capacity - 1;
    for (guint i = 0; i < bucket->n_series; i++) {
        guint32 key = bucket->series[i].key;
        guint slot = key_slot(key, bucket->index_mask);
        while (bucket->index[slot].position != 0)
            slot = (slot + 1) & bucket->index_mask;
        bucket->index[slot] = (Slot){key, i + 1};
    }
}

/* Doubles the series table, keeping its alignment (which realloc would not). In huge pages
 * from 2 MiB (10,000 ports: 6 MiB): every flow touches its series at random, and with 4 KiB
 * pages most of those touches also missed the TLB (~3 ns a record at 10,000 ports). */
static void
grow_series(Bucket *bucket)
{
    guint capacity = MAX(SERIES_MIN, bucket->series_capacity * 2);
    Series *grown = ps_table_alloc0((gsize)capacity * sizeof(Series));

    if (bucket->n_series > 0)
        memcpy(grown, bucket->series, bucket->n_series * sizeof(Series));
    free_table(bucket->series, bucket->series_capacity - 1, sizeof(Series));
    bucket->series = grown;
    bucket->series_capacity = capacity;
}

static guint add_series(PsAggregate *aggregate, Bucket *bucket, guint32 key, guint slot);

/* The series of key in bucket, created if there is room; else the "other" series. Inline, and
 * the creation apart: nearly every flow finds its series in the first slot. */
static inline guint
find_series(PsAggregate *aggregate, Bucket *bucket, guint32 key)
{
    guint slot = key_slot(key, bucket->index_mask);

    while (bucket->index[slot].position != 0) {
        if (bucket->index[slot].key == key)
            return bucket->index[slot].position - 1;
        slot = (slot + 1) & bucket->index_mask;
    }
    return add_series(aggregate, bucket, key, slot);
}

/* Creates the series of key at the empty index slot, or counts it into "other". */
static G_GNUC_NO_INLINE guint
add_series(PsAggregate *aggregate, Bucket *bucket, guint32 key, guint slot)
{
    Series fresh;

    /* one slot is kept for "other", which may always be created */
    if (key != OTHER_KEY && bucket->n_series + 1 >= aggregate->config.max_series) {
        aggregate->stats.other_series++;
        return find_series(aggregate, bucket, OTHER_KEY);
    }
    memset(&fresh, 0, sizeof(fresh));
    fresh.key = key;
    if (bucket->n_series == bucket->series_capacity)
        grow_series(bucket);
    bucket->series[bucket->n_series++] = fresh;
    bucket->index[slot] = (Slot){key, bucket->n_series};
    if (bucket->n_series * 2 > bucket->index_mask)
        grow_index(bucket);
    return bucket->n_series - 1;
}

/* A new bucket's table starts as large as the last closed one's became: traffic is much the
 * same from one minute to the next, and doubling up to it from PAIRS_MIN would rehash half a
 * million pairs on the receive thread in the first seconds of every minute (at 100,000 sources
 * the last doublings took tens of milliseconds: datagrams waiting, at high rates lost). */
static guint
grown_capacity(guint old_capacity, guint first_capacity)
{
    return old_capacity == 0 ? MAX(PAIRS_MIN, first_capacity) : old_capacity * 2;
}

static guint64
fingerprint_at(const guint8 *table, guint slot, gsize entry_size)
{
    guint64 fingerprint;

    memcpy(&fingerprint, table + (gsize)slot * entry_size, sizeof(fingerprint));
    return fingerprint;
}

/* A table of capacity entries (a power of two) holding those of old, each entry_size bytes
 * and known by the 64-bit fingerprint it starts with (0: empty); frees old. A table kept
 * beside it, slot for slot (*beside, entries of beside_size; NULL: none), moves with it. */
static gpointer
rehashed(gpointer old, guint old_capacity, guint capacity, gsize entry_size, gpointer *beside,
         gsize beside_size)
{
    guint8 *table = ps_table_alloc0((gsize)capacity * entry_size);
    guint8 *moved = beside != NULL ? ps_table_alloc0((gsize)capacity * beside_size) : NULL;

    for (guint i = 0; i < old_capacity; i++) {
        guint64 fingerprint = fingerprint_at(old, i, entry_size);
        guint slot = fingerprint & (capacity - 1);
        if (fingerprint == 0)
            continue;
        while (fingerprint_at(table, slot, entry_size) != 0)
            slot = (slot + 1) & (capacity - 1);
        memcpy(table + (gsize)slot * entry_size, (guint8 *)old + (gsize)i * entry_size,
               entry_size);
        if (moved != NULL)
            memcpy(moved + (gsize)slot * beside_size, (guint8 *)*beside + (gsize)i * beside_size,
                   beside_size);
    }
    free_table(old, old_capacity - 1, entry_size);
    if (beside != NULL) {
        free_table(*beside, old_capacity - 1, beside_size);
        *beside = moved;
    }
    return table;
}

/* The fingerprint tables are kept at most half full, and stop growing at max entries: past
 * that, what does not fit is not remembered. */
static gboolean
table_should_grow(gconstpointer table, guint n, guint mask, guint max)
{
    return table == NULL || (n * 2 >= mask + 1 && n < max);
}

static gboolean
table_has_room(guint n, guint mask, guint max)
{
    return n < max && (n + 1) * 2 <= mask + 1;
}

static void
grow_pairs(Bucket *bucket, guint first_capacity)
{
    guint old_capacity = bucket->pairs == NULL ? 0 : bucket->pairs_mask + 1;
    guint capacity = grown_capacity(old_capacity, first_capacity);

    bucket->pairs = rehashed(bucket->pairs, old_capacity, capacity, sizeof(Pair),
                             (gpointer *)&bucket->pair_addresses, sizeof(guint32));
    bucket->pairs_mask = capacity - 1;
}

/* The pair's fingerprint: from the series key (known before the series is looked up, so the
 * slot can be prefetched) and the address's hash. */
static guint64
pair_fingerprint(guint32 key, guint64 address_hash)
{
    guint64 fingerprint = address_hash ^ ((guint64)key + 1) * 0x9e3779b97f4a7c15ULL;

    return fingerprint + (fingerprint == 0); /* 0 marks empty slots */
}

/* What a pair remembers of its last flow's destination: 32 bits of the (series, destination)
 * fingerprint. Two destinations of one pair share a tag once in 4 billion: the later one's
 * register may then go unset, far below the sketch's own error. */
static guint32
destination_tag(guint64 destination)
{
    return destination >> 32;
}

/* Notes a flow's (series, source) pair and counts its flows for the top K; *same_destination
 * tells whether a pair seen before had its last flow to this flow's destination. */
static PairResult
note_pair(PsAggregate *aggregate, Bucket *bucket, guint32 series, guint64 fingerprint,
          const PsAddress *address, guint32 destination, gboolean *same_destination)
{
    guint slot;

    if (table_should_grow(bucket->pairs, bucket->n_pairs, bucket->pairs_mask,
                          aggregate->config.max_sources))
        grow_pairs(bucket, aggregate->pairs_hint);
    slot = fingerprint & bucket->pairs_mask;
    while (bucket->pairs[slot].fingerprint != 0) {
        if (bucket->pairs[slot].fingerprint == fingerprint) {
            bucket->pairs[slot].flows++;
            *same_destination = bucket->pairs[slot].last_destination == destination;
            bucket->pairs[slot].last_destination = destination;
            return PAIR_SEEN;
        }
        slot = (slot + 1) & bucket->pairs_mask;
    }
    if (!table_has_room(bucket->n_pairs, bucket->pairs_mask, aggregate->config.max_sources))
        return PAIR_FULL;
    bucket->pairs[slot] =
        (Pair){.fingerprint = fingerprint, .flows = 1, .last_destination = destination};
    bucket->pair_addresses[slot] = bucket->addresses->len;
    g_array_append_val(bucket->addresses, *address);
    g_array_append_val(bucket->pair_series, series);
    bucket->n_pairs++;
    return PAIR_NEW;
}

/* Doubles the seen destinations table (first as large as the last closed bucket's). */
static void
grow_seen_destinations(Bucket *bucket, guint first_capacity)
{
    guint old_capacity = bucket->seen_destinations == NULL ? 0 : bucket->seen_destinations_mask + 1;
    guint capacity = grown_capacity(old_capacity, first_capacity);

    bucket->seen_destinations =
        rehashed(bucket->seen_destinations, old_capacity, capacity, sizeof(guint64), NULL, 0);
    bucket->seen_destinations_mask = capacity - 1;
}

/* Whether a flow's (series, destination) pair may be new to the bucket, so that its sketch
 * must be updated: FALSE only when it was seen before. The sketch's register would tell as
 * much, but it is found through the series (two misses in a row), where this slot is known
 * from the flow alone and asked for early. A full table answers TRUE: the sketch is updated,
 * nothing is lost. */
static gboolean
note_destination(PsAggregate *aggregate, Bucket *bucket, guint64 fingerprint)
{
    guint slot;

    if (table_should_grow(bucket->seen_destinations, bucket->n_seen_destinations,
                          bucket->seen_destinations_mask, aggregate->config.max_sources))
        grow_seen_destinations(bucket, aggregate->seen_destinations_hint);
    slot = fingerprint & bucket->seen_destinations_mask;
    while (bucket->seen_destinations[slot] != 0) {
        if (bucket->seen_destinations[slot] == fingerprint)
            return FALSE;
        slot = (slot + 1) & bucket->seen_destinations_mask;
    }
    if (!table_has_room(bucket->n_seen_destinations, bucket->seen_destinations_mask,
                        aggregate->config.max_sources))
        return TRUE;
    bucket->seen_destinations[slot] = fingerprint;
    bucket->n_seen_destinations++;
    return TRUE;
}

static Bucket *
find_bucket(PsAggregate *aggregate, gint64 start)
{
    Bucket *bucket;

    for (guint i = 0; i < aggregate->buckets->len; i++) {
        bucket = g_ptr_array_index(aggregate->buckets, i);
        if (bucket->start == start)
            return bucket;
    }
    bucket = bucket_new(start);
    g_ptr_array_add(aggregate->buckets, bucket);
    return bucket;
}

/* The time a flow counts at: its end time while the exporter's clock agrees with ours,
 * otherwise its arrival. */
static gint64
flow_time_ms(PsAggregate *aggregate, const PsFlow *flow, gint64 now_ms)
{
    gint64 time_ms = flow->end_ms;

    if (time_ms <= 0 || ABS(time_ms - now_ms) > aggregate->config.clock_tolerance_ms) {
        aggregate->stats.by_arrival_time += time_ms > 0;
        time_ms = now_ms;
    }
    return time_ms;
}

/* Bucket start for a flow whose time is in the bucket at own_start: that one, or the oldest
 * open one when it is closed already; -1 when it is older than the retention. */
static gint64
bucket_start_for(PsAggregate *aggregate, gint64 own_start, gint64 now_ms)
{
    guint step = aggregate->config.step;
    gint64 start = own_start;

    if (start <= aggregate->closed_through) {
        aggregate->stats.late++;
        start = MAX(ps_bucket_start(now_ms / 1000, step), aggregate->closed_through + step);
    }
    if (start < now_ms / 1000 - aggregate->config.retention_s)
        return -1;
    return start;
}

static guint64
address_hash(const PsAddress *address)
{
    if (address->family == 6)
        return ps_hll_hash(address->bytes, 16);
    return ps_hll_hash4(address->bytes);
}

/* A flow of a batch, with what can be computed before touching the tables. */
typedef struct {
    Bucket *bucket; /* NULL: dropped (too old) */
    guint32 key;
    guint index;
    gboolean syn_only;
    guint64 src_hash;
    guint64 dst_hash;
    guint64 fingerprint; /* of the (series, source) pair: pair_fingerprint(key, src_hash) */
    guint64 destination; /* of the (series, destination) pair: pair_fingerprint(key, dst_hash) */
} Prepared;

/* The bucket the last flow of a batch went to, with its start: the flows of a batch share a
 * receive time and nearly always a bucket, which then takes no division and no search. */
typedef struct {
    gint64 start;
    Bucket *bucket; /* NULL: none yet */
} LastBucket;

/* The open bucket a flow counted at time_ms goes to; NULL when it is too old. */
static Bucket *
bucket_for(PsAggregate *aggregate, gint64 time_ms, gint64 now_ms, LastBucket *last)
{
    gint64 time_s = time_ms / 1000, own_start, start;

    if (last->bucket != NULL && time_s >= last->start &&
        time_s < last->start + (gint64)aggregate->config.step)
        return last->bucket;
    own_start = ps_bucket_start(time_s, aggregate->config.step);
    start = bucket_start_for(aggregate, own_start, now_ms);
    if (start < 0) {
        aggregate->stats.too_old++;
        return NULL;
    }
    /* a late flow goes to another bucket than its time's: only on-time ones are remembered */
    if (start != own_start)
        return find_bucket(aggregate, start);
    *last = (LastBucket){start, find_bucket(aggregate, start)};
    return last->bucket;
}

static void
add_counts(PsCounts *counts, const PsFlow *flow, gboolean syn_only)
{
    guint64 sampling = flow->sampling > 0 ? flow->sampling : 1;

    counts->flows++;
    counts->packets += flow->packets * sampling;
    counts->bytes += flow->bytes * sampling;
    counts->syn += syn_only;
}

/* Counts a flow in the series at index of bucket; fingerprint is its (series, source) pair's,
 * destination its (series, destination) pair's. */
static inline void
add_to_series(PsAggregate *aggregate, Bucket *bucket, guint index, guint64 fingerprint,
              guint64 destination, const PsFlow *flow, const Prepared *p)
{
    Series *series = &bucket->series[index];
    PairResult source;
    gboolean same_destination = FALSE;

    add_counts(&series->counts, flow, p->syn_only);
    series->dirty = TRUE;
    /* a source already seen for this series in this bucket cannot change its sketch */
    source = note_pair(aggregate, bucket, index, fingerprint, &flow->src,
                       destination_tag(destination), &same_destination);
    if (source != PAIR_SEEN)
        ps_hll_add_hash(&series->sources, p->src_hash);
    if (source == PAIR_FULL) {
        series->counts.untracked++;
        aggregate->stats.untracked_sources++;
    }
    if (!same_destination && note_destination(aggregate, bucket, destination))
        ps_hll_add_hash(&series->destinations, p->dst_hash);
}

static void
prepare(PsAggregate *aggregate, const PsFlow *flow, gint64 now_ms, LastBucket *last, Prepared *p,
        gboolean *skewed)
{
    guint64 by_arrival = aggregate->stats.by_arrival_time;
    gint64 time_ms = flow_time_ms(aggregate, flow, now_ms);

    if (skewed != NULL)
        *skewed = aggregate->stats.by_arrival_time != by_arrival;
    p->bucket = bucket_for(aggregate, time_ms, now_ms, last);
    if (p->bucket == NULL)
        return;
    p->syn_only = is_syn_only(flow);
    p->key = (guint32)flow->proto << 16 | service_port(aggregate, flow, p->syn_only);
    p->src_hash = address_hash(&flow->src);
    p->dst_hash = address_hash(&flow->dst);
    p->fingerprint = pair_fingerprint(p->key, p->src_hash);
    p->destination = pair_fingerprint(p->key, p->dst_hash);
    /* the index slot and the pair's slot are usually cache misses: ask for them early. Not the
     * seen destinations' slot: most flows go where their pair's last flow went and never look
     * at it; asking for it for the flows whose pair's slot showed another destination cost ~3 ns
     * a record more than the few unasked misses (v5 benchmark, tests/bench/README.md) */
    __builtin_prefetch(&p->bucket->index[key_slot(p->key, p->bucket->index_mask)]);
    if (p->bucket->pairs != NULL)
        __builtin_prefetch(&p->bucket->pairs[p->fingerprint & p->bucket->pairs_mask]);
}

static void
add_prepared(PsAggregate *aggregate, const PsFlow *flow, const Prepared *p)
{
    PsDirection direction;

    aggregate->stats.flows++;
    add_to_series(aggregate, p->bucket, p->index, p->fingerprint, p->destination, flow, p);
    direction = direction_of(aggregate, flow);
    if (direction != PS_DIRECTION_ALL) {
        guint32 key = p->key | (guint32)direction << 24;
        add_to_series(aggregate, p->bucket, find_series(aggregate, p->bucket, key),
                      pair_fingerprint(key, p->src_hash), pair_fingerprint(key, p->dst_hash),
                      flow, p);
    }
}

void
ps_aggregate_add(PsAggregate *aggregate, const PsFlow *flow, gint64 now_ms)
{
    ps_aggregate_add_batch(aggregate, flow, 1, now_ms, NULL);
}

void
ps_aggregate_add_batch(PsAggregate *aggregate, const PsFlow *flows, guint n, gint64 now_ms,
                       gboolean *skewed)
{
    Prepared prepared[PS_AGGREGATE_BATCH];
    LastBucket last = {0, NULL};

    g_return_if_fail(n <= PS_AGGREGATE_BATCH);
    /* three passes so that each flow's cache misses overlap with the others' work */
    for (guint i = 0; i < n; i++)
        prepare(aggregate, &flows[i], now_ms, &last, &prepared[i],
                skewed != NULL ? &skewed[i] : NULL);
    for (guint i = 0; i < n; i++) {
        Prepared *p = &prepared[i];
        if (p->bucket == NULL)
            continue;
        p->index = find_series(aggregate, p->bucket, p->key);
        __builtin_prefetch(&p->bucket->series[p->index]);
    }
    /* no sketch is asked for: only a pair new to the bucket updates one, and in steady
     * traffic almost every pair has been seen */
    for (guint i = 0; i < n; i++) {
        if (prepared[i].bucket != NULL)
            add_prepared(aggregate, &flows[i], &prepared[i]);
    }
}

/* ---- taking deltas ---- */

static void
series_name(guint32 key, char name[PS_SERIES_STRLEN])
{
    if (key == OTHER_KEY)
        g_strlcpy(name, PS_SERIES_OTHER, PS_SERIES_STRLEN);
    else
        ps_series_format(key >> 16 & 0xff, key & 0xffff, key >> 24, name);
}

static int
compare_top(gconstpointer a, gconstpointer b)
{
    const PsTopSource *x = a, *y = b;

    if (x->flows != y->flows)
        return x->flows > y->flows ? -1 : 1;
    return memcmp(&x->source, &y->source, sizeof(PsAddress)); /* stable across runs */
}

/* top_sources() keeps each series' k best sources so far in a heap whose root is the worst of
 * them (the greatest by compare_top), so a closing bucket costs one pass over its pairs and
 * no list of every source: sorting half a million sources per bucket on the receive thread
 * took ~100 ms, long enough to lose datagrams at a few million records a second. */
static void
heap_swap(PsTopSource *heap, guint a, guint b)
{
    PsTopSource swap = heap[a];

    heap[a] = heap[b];
    heap[b] = swap;
}

static void
heap_sift_down(PsTopSource *heap, guint n, guint i)
{
    for (;;) {
        guint worst = i, left = 2 * i + 1, right = left + 1;
        if (left < n && compare_top(&heap[left], &heap[worst]) > 0)
            worst = left;
        if (right < n && compare_top(&heap[right], &heap[worst]) > 0)
            worst = right;
        if (worst == i)
            return;
        heap_swap(heap, i, worst);
        i = worst;
    }
}

static void
offer_top(GArray *top, guint k, const PsTopSource *candidate)
{
    PsTopSource *heap = &g_array_index(top, PsTopSource, 0);

    if (top->len < k) {
        guint i = top->len;
        g_array_append_val(top, *candidate);
        heap = &g_array_index(top, PsTopSource, 0);
        while (i > 0 && compare_top(&heap[i], &heap[(i - 1) / 2]) > 0) {
            heap_swap(heap, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
    } else if (k > 0 && compare_top(candidate, &heap[0]) < 0) {
        heap[0] = *candidate;
        heap_sift_down(heap, top->len, 0);
    }
}

/* What a closing bucket's top K is ranked from: its pair table, taken from the bucket. */
struct PsTopPending {
    Pair *pairs;
    guint32 *pair_addresses; /* beside each slot of pairs: its index into addresses */
    guint pairs_mask;
    GArray *addresses;   /* PsAddress of each pair */
    GArray *pair_series; /* guint32 series index of each pair */
    guint top_k;
};

static PsTopPending *
top_pending_take(const PsAggregate *aggregate, Bucket *bucket)
{
    PsTopPending *pending = g_new0(PsTopPending, 1);

    pending->pairs = g_steal_pointer(&bucket->pairs);
    pending->pair_addresses = g_steal_pointer(&bucket->pair_addresses);
    pending->pairs_mask = bucket->pairs_mask;
    pending->addresses = g_steal_pointer(&bucket->addresses);
    pending->pair_series = g_steal_pointer(&bucket->pair_series);
    pending->top_k = aggregate->config.top_k;
    return pending;
}

static void
top_pending_free(PsTopPending *pending)
{
    free_pairs(pending->pairs, pending->pair_addresses, pending->pairs_mask);
    g_array_unref(pending->addresses);
    g_array_unref(pending->pair_series);
    g_free(pending);
}

/* The pair table is read in slot order, its addresses and series were appended in arrival
 * order: without asking early every pair costs two misses in a row. */
#define TOP_PREFETCH_AHEAD 16

/* Always inline: GCC 12 takes a function whose only effect is a prefetch for one without
 * effects, and deletes its calls (until this was seen, it had deleted this one). */
G_ALWAYS_INLINE static inline void
prefetch_pair_source(const PsTopPending *pending, guint slot)
{
    guint32 address;

    if (slot > pending->pairs_mask || pending->pairs[slot].fingerprint == 0)
        return;
    address = pending->pair_addresses[slot];
    __builtin_prefetch(&g_array_index(pending->addresses, PsAddress, address));
    __builtin_prefetch(&g_array_index(pending->pair_series, guint32, address));
}

/* Top K sources of each of n_series series, from the pair table; on the way, the sources of
 * each series with a list in lists (n_series entries, NULL for the others) are appended to
 * it: every pair is a distinct (series, source), so each source comes once. */
static GPtrArray *
top_sources(const PsTopPending *pending, guint n_series, GArray **lists)
{
    GPtrArray *tops = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    guint k = pending->top_k;

    for (guint i = 0; i < n_series; i++)
        g_ptr_array_add(tops, g_array_sized_new(FALSE, FALSE, sizeof(PsTopSource), MIN(k, 16)));
    for (guint i = 0; pending->pairs != NULL && i <= pending->pairs_mask; i++) {
        const Pair *pair = &pending->pairs[i];
        PsTopSource top;
        guint32 series;
        prefetch_pair_source(pending, i + TOP_PREFETCH_AHEAD);
        if (pair->fingerprint == 0)
            continue;
        series = g_array_index(pending->pair_series, guint32, pending->pair_addresses[i]);
        top.source = g_array_index(pending->addresses, PsAddress, pending->pair_addresses[i]);
        top.flows = pair->flows;
        offer_top(g_ptr_array_index(tops, series), k, &top);
        if (lists[series] != NULL)
            g_array_append_val(lists[series], top.source);
    }
    for (guint i = 0; i < tops->len; i++)
        g_array_sort(g_ptr_array_index(tops, i), compare_top);
    return tops;
}

gsize
ps_bucket_delta_pending_bytes(const PsBucketDelta *delta)
{
    const PsTopPending *pending = delta->top_pending;

    if (pending == NULL)
        return 0;
    return sizeof(*pending) +
           (pending->pairs != NULL ? (pending->pairs_mask + 1) * (sizeof(Pair) + sizeof(guint32))
                                   : 0) +
           pending->addresses->len * (sizeof(PsAddress) + sizeof(guint32));
}

gsize
ps_bucket_delta_rank_top(PsBucketDelta *delta)
{
    g_autoptr(GPtrArray) tops = NULL;
    g_autofree GArray **lists = NULL;
    gsize released = ps_bucket_delta_pending_bytes(delta);

    if (delta->top_pending == NULL)
        return 0;
    lists = g_new0(GArray *, delta->series->len + 1);
    for (guint i = 0; i < delta->series->len; i++) {
        if (g_array_index(delta->series, PsSeriesDelta, i).watched)
            lists[i] = g_array_new(FALSE, FALSE, sizeof(PsAddress));
    }
    tops = top_sources(delta->top_pending, delta->series->len, lists);
    for (guint i = 0; i < delta->series->len; i++) {
        PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, i);
        GArray *top = g_ptr_array_index(tops, i);
        series->top = g_array_ref(top);
        series->source_list = lists[i]; /* ownership moves to the delta */
        released -= MIN(released, top->len * sizeof(PsTopSource));
        if (lists[i] != NULL)
            released -= MIN(released, lists[i]->len * sizeof(PsAddress));
    }
    g_clear_pointer(&delta->top_pending, top_pending_free);
    return released;
}

static void
add_taken(PsCounts *taken, const PsCounts *counts)
{
    taken->flows += counts->flows;
    taken->packets += counts->packets;
    taken->bytes += counts->bytes;
    taken->syn += counts->syn;
    taken->untracked += counts->untracked;
}

static PsBucketDelta *
take_bucket(const PsAggregate *aggregate, Bucket *bucket, gboolean closing)
{
    PsBucketDelta *delta = g_new0(PsBucketDelta, 1);

    delta->start = bucket->start;
    delta->step = aggregate->config.step;
    delta->closing = closing;
    delta->series = g_array_new(FALSE, TRUE, sizeof(PsSeriesDelta));
    for (guint i = 0; i < bucket->n_series; i++) {
        Series *series = &bucket->series[i];
        PsSeriesDelta out = {0};

        if (!series->dirty && !closing)
            continue;
        series_name(series->key, out.name);
        out.counts = series->counts;
        add_taken(&series->taken, &series->counts);
        out.total = series->taken;
        if (closing) {
            out.watched = is_watched(aggregate, series->key);
            /* once a bucket: see PsSeriesDelta; ownership moves with the delta */
            out.sources = series->sources;
            out.destinations = series->destinations;
            memset(&series->sources, 0, sizeof(PsHll));
            memset(&series->destinations, 0, sizeof(PsHll));
        }
        memset(&series->counts, 0, sizeof(series->counts));
        series->dirty = FALSE;
        g_array_append_val(delta->series, out);
    }
    /* the pair series indexes are those of delta->series: a closing delta has every series */
    if (closing)
        delta->top_pending = top_pending_take(aggregate, bucket);
    return delta;
}

/* The next bucket's tables start as large as those of the newest closed one. */
static void
remember_table_sizes(PsAggregate *aggregate, const Bucket *bucket)
{
    if (bucket->pairs != NULL)
        aggregate->pairs_hint = bucket->pairs_mask + 1;
    if (bucket->seen_destinations != NULL)
        aggregate->seen_destinations_hint = bucket->seen_destinations_mask + 1;
}

GPtrArray *
ps_aggregate_take(PsAggregate *aggregate, gint64 now_ms, gboolean close_all)
{
    GPtrArray *deltas = g_ptr_array_new_with_free_func((GDestroyNotify)ps_bucket_delta_free);
    guint step = aggregate->config.step;

    for (guint i = 0; i < aggregate->buckets->len;) {
        Bucket *bucket = g_ptr_array_index(aggregate->buckets, i);
        gboolean closing =
            close_all || now_ms / 1000 >= bucket->start + step + aggregate->config.grace_s;

        if (closing) {
            aggregate->closed_through = MAX(aggregate->closed_through, bucket->start);
            if (bucket->start >= aggregate->closed_through)
                remember_table_sizes(aggregate, bucket);
        }
        g_ptr_array_add(deltas, take_bucket(aggregate, bucket, closing));
        if (closing) {
            g_ptr_array_remove_index(aggregate->buckets, i); /* frees the bucket */
        } else {
            i++;
        }
    }
    return deltas;
}

void
ps_bucket_delta_free(PsBucketDelta *delta)
{
    for (guint i = 0; i < delta->series->len; i++) {
        PsSeriesDelta *series = &g_array_index(delta->series, PsSeriesDelta, i);
        ps_hll_clear(&series->sources);
        ps_hll_clear(&series->destinations);
        if (series->top != NULL)
            g_array_unref(series->top);
        if (series->source_list != NULL)
            g_array_unref(series->source_list);
    }
    g_array_unref(delta->series);
    g_clear_pointer(&delta->top_pending, top_pending_free);
    g_free(delta);
}
