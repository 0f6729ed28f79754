#include "config.h"

#include <curl/curl.h>
#include <string.h>

#include "courier.h"
#include "outbox.h"
#include "signature.h"

#define TICK_MS            1000 /* longest sleep: new messages are seen within this */
#define OUTBOX_READ_LIMIT  1000 /* entries looked at per round; heads of lanes are early */
#define REDIS_TIMEOUT_MS   2000
#define RECONNECT_MAX_S    30
#define HTTP_CONNECT_MAX_S 10

typedef enum {
    OUTCOME_DELIVERED,
    OUTCOME_RETRY,   /* 5xx, 408, timeouts, refused connections */
    OUTCOME_WAIT,    /* 429 / 503: as long as Retry-After says */
    OUTCOME_REFUSED, /* another 4xx: the same request will never be accepted */
} Outcome;

typedef struct {
    gchar *name;
    PsReceiver *receiver; /* NULL once a reload removed it: the lane then only waits */
    CURL *easy;           /* the attempt in flight, or NULL */
    struct curl_slist *headers;
    PsOutboxEntry *entry;            /* the message of the attempt in flight */
    gchar *last_error;               /* of the last failed attempt, for the dead letter */
    gint64 not_before_us;            /* monotonic: backoff, Retry-After, rate limit */
    gboolean waiting;                /* has a message that waits for not_before_us */
    guint failures;                  /* consecutive, for the backoff */
    guint64 delivered, failed, dead; /* under the courier's lock */
} Lane;

struct PsCourier {
    PsCourierConfig config;
    gchar *prefix;
    PsRedisAddress address;
    GThread *thread;
    GMutex lock;                  /* counters and pending_receivers */
    GPtrArray *pending_receivers; /* a reload's receivers, taken up by the thread */
    GHashTable *lanes;            /* name -> Lane */
    CURLM *multi;
    redisContext *redis; /* the courier's own connection */
    gint64 reconnect_at_us;
    guint reconnect_failures;
    gint stopping;
    PsCourierCounters counters;
    GRand *rand;
};

void
ps_courier_config_init(PsCourierConfig *config)
{
    memset(config, 0, sizeof(*config));
    config->prefix = "ps:";
    config->dead_after_s = 6 * 3600;
    config->backoff_min_s = 2;
    config->backoff_max_s = 300;
    config->retry_after_max_s = 3600;
    config->max_outbox = 10000;
}

static void
lane_end_attempt(PsCourier *courier, Lane *lane)
{
    if (lane->easy != NULL) {
        curl_multi_remove_handle(courier->multi, lane->easy);
        curl_easy_cleanup(lane->easy);
        lane->easy = NULL;
    }
    g_clear_pointer(&lane->headers, curl_slist_free_all);
    g_clear_pointer(&lane->entry, ps_outbox_entry_free);
}

static void
lane_free(Lane *lane)
{
    g_free(lane->name);
    ps_receiver_free(lane->receiver);
    g_free(lane->last_error);
    g_free(lane);
}

static void
count(PsCourier *courier, guint64 *counter)
{
    g_mutex_lock(&courier->lock);
    (*counter)++;
    g_mutex_unlock(&courier->lock);
}

/* ---- receivers and lanes ---- */

static void
set_lane_receivers(PsCourier *courier, GPtrArray *receivers)
{
    GHashTableIter iter;
    Lane *lane;

    g_hash_table_iter_init(&iter, courier->lanes);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&lane))
        g_clear_pointer(&lane->receiver, ps_receiver_free);
    for (guint i = 0; i < receivers->len; i++) {
        const PsReceiver *receiver = g_ptr_array_index(receivers, i);
        lane = g_hash_table_lookup(courier->lanes, receiver->name);
        if (lane == NULL) {
            lane = g_new0(Lane, 1);
            lane->name = g_strdup(receiver->name);
            g_hash_table_insert(courier->lanes, lane->name, lane);
        }
        lane->receiver = ps_receiver_copy(receiver);
    }
}

static GPtrArray *
copy_receivers(GPtrArray *receivers)
{
    GPtrArray *copy = g_ptr_array_new_with_free_func((GDestroyNotify)ps_receiver_free);

    for (guint i = 0; receivers != NULL && i < receivers->len; i++)
        g_ptr_array_add(copy, ps_receiver_copy(g_ptr_array_index(receivers, i)));
    return copy;
}

static void
take_pending_receivers(PsCourier *courier)
{
    g_autoptr(GPtrArray) receivers = NULL;

    /* under the lock: ps_courier_foreach_lane may be walking the lanes */
    g_mutex_lock(&courier->lock);
    receivers = g_steal_pointer(&courier->pending_receivers);
    if (receivers != NULL)
        set_lane_receivers(courier, receivers);
    g_mutex_unlock(&courier->lock);
}

/* ---- Redis ---- */

static gboolean
connected(PsCourier *courier)
{
    g_autoptr(GError) error = NULL;
    gint64 now = g_get_monotonic_time();
    double wait_s;

    if (courier->redis != NULL)
        return TRUE;
    if (now < courier->reconnect_at_us)
        return FALSE;
    courier->redis = ps_redis_connect(&courier->address, REDIS_TIMEOUT_MS, &error);
    if (courier->redis != NULL) {
        if (courier->reconnect_failures > 0)
            g_message("courier: Redis is back; delivering the outbox");
        courier->reconnect_failures = 0;
        return TRUE;
    }
    if (courier->reconnect_failures++ == 0)
        g_warning("courier: %s; messages wait in the outbox", error->message);
    wait_s = MIN(RECONNECT_MAX_S, 1 << MIN(courier->reconnect_failures, 5));
    courier->reconnect_at_us = now + (gint64)(wait_s * G_USEC_PER_SEC);
    return FALSE;
}

static void
redis_failed(PsCourier *courier, const GError *error)
{
    g_warning("courier: %s; reconnecting", error->message);
    count(courier, &courier->counters.redis_errors);
    g_clear_pointer(&courier->redis, redisFree);
}

static gboolean
dead_letter(PsCourier *courier, Lane *lane, const PsOutboxEntry *entry, const char *reason)
{
    g_autoptr(GError) error = NULL;

    g_warning("webhook '%s': message %s moved to the dead letters (%soutbox:dead): %s",
              entry->receiver, entry->key, courier->prefix, reason);
    if (!ps_outbox_dead_letter(courier->redis, courier->prefix, entry->raw, reason, &error)) {
        redis_failed(courier, error);
        return FALSE;
    }
    g_mutex_lock(&courier->lock);
    courier->counters.dead_letters++;
    if (lane != NULL)
        lane->dead++;
    g_mutex_unlock(&courier->lock);
    return TRUE;
}

/* ---- one attempt ---- */

static size_t
discard_body(char *data, size_t size, size_t n, void *user_data)
{
    (void)data;
    (void)user_data;
    return size * n;
}

static struct curl_slist *
request_headers(const PsReceiver *receiver, const PsOutboxEntry *entry)
{
    struct curl_slist *headers = NULL;
    g_autofree gchar *key = g_strdup_printf("Idempotency-Key: %s", entry->key);

    headers = curl_slist_append(headers, "Content-Type: application/json; charset=utf-8");
    headers = curl_slist_append(headers, "User-Agent: portsurge-alerter/" PS_VERSION);
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    headers = curl_slist_append(headers, key);
    if (receiver->secret != NULL) {
        gint64 now = g_get_real_time() / G_USEC_PER_SEC;
        g_autofree gchar *value =
            ps_signature_value(receiver->secret, now, entry->body, strlen(entry->body));
        g_autofree gchar *header = g_strdup_printf(PS_SIGNATURE_HEADER ": %s", value);
        headers = curl_slist_append(headers, header);
    }
    return headers;
}

static CURL *
request_new(Lane *lane)
{
    const PsReceiver *receiver = lane->receiver;
    CURL *easy = curl_easy_init();

    curl_easy_setopt(easy, CURLOPT_URL, receiver->url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, lane->entry->body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(lane->entry->body));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, lane->headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, (long)receiver->timeout_s);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT,
                     (long)MIN(receiver->timeout_s, HTTP_CONNECT_MAX_S));
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L); /* always: a webhook carries secrets */
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (receiver->ca_file != NULL)
        curl_easy_setopt(easy, CURLOPT_CAINFO, receiver->ca_file);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, lane);
    return easy;
}

static void
delivered(PsCourier *courier, Lane *lane)
{
    g_autoptr(GError) error = NULL;

    g_debug("webhook '%s': message %s accepted", lane->name, lane->entry->key);
    lane->failures = 0;
    g_clear_pointer(&lane->last_error, g_free);
    g_mutex_lock(&courier->lock);
    courier->counters.delivered++;
    lane->delivered++;
    g_mutex_unlock(&courier->lock);
    /* if this fails the message goes again after the reconnect, with the same key */
    if (courier->redis != NULL &&
        !ps_outbox_remove(courier->redis, courier->prefix, lane->entry, &error))
        redis_failed(courier, error);
}

static void
start_attempt(PsCourier *courier, Lane *lane, PsOutboxEntry *entry)
{
    gint64 now = g_get_monotonic_time();

    lane->entry = entry;
    if (lane->receiver->max_per_minute > 0)
        lane->not_before_us = now + 60 * G_USEC_PER_SEC / lane->receiver->max_per_minute;
    if (lane->receiver->format == PS_RECEIVER_LOG) {
        g_message("alert for '%s' (%s): %s", lane->name, entry->key, entry->body);
        delivered(courier, lane);
        lane_end_attempt(courier, lane);
        return;
    }
    lane->headers = request_headers(lane->receiver, entry);
    lane->easy = request_new(lane);
    curl_multi_add_handle(courier->multi, lane->easy);
}

/* ---- outcomes ---- */

static Outcome
classify(CURLcode result, long status)
{
    if (result != CURLE_OK)
        return OUTCOME_RETRY;
    if (status >= 200 && status < 300)
        return OUTCOME_DELIVERED;
    if (status == 429 || status == 503)
        return OUTCOME_WAIT;
    if (status >= 400 && status < 500 && status != 408)
        return OUTCOME_REFUSED;
    return OUTCOME_RETRY;
}

/* Exponential, capped, with jitter so that lanes that failed together do not retry together. */
static double
backoff_s(PsCourier *courier, guint failures)
{
    double delay = courier->config.backoff_min_s * (double)(1u << MIN(failures - 1, 20u));

    delay = MIN(delay, courier->config.backoff_max_s);
    return delay * g_rand_double_range(courier->rand, 0.5, 1.0);
}

static void
failed(PsCourier *courier, Lane *lane, Outcome outcome, const char *what, curl_off_t retry_after)
{
    double wait_s = backoff_s(courier, ++lane->failures);

    if (outcome == OUTCOME_WAIT && retry_after > 0)
        wait_s = MIN((double)retry_after, courier->config.retry_after_max_s);
    lane->not_before_us =
        MAX(lane->not_before_us, g_get_monotonic_time() + (gint64)(wait_s * G_USEC_PER_SEC));
    g_free(lane->last_error);
    lane->last_error = g_strdup(what);
    g_mutex_lock(&courier->lock);
    courier->counters.failed_attempts++;
    lane->failed++;
    g_mutex_unlock(&courier->lock);
    g_warning("webhook '%s': %s (attempt %u); retrying message %s in %.1f s", lane->name, what,
              lane->failures, lane->entry->key, wait_s);
}

static void
finish_attempt(PsCourier *courier, Lane *lane, CURLcode result)
{
    long status = 0;
    curl_off_t retry_after = 0;
    g_autofree gchar *what = NULL;
    Outcome outcome;

    curl_easy_getinfo(lane->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(lane->easy, CURLINFO_RETRY_AFTER, &retry_after);
    outcome = classify(result, status);
    /* curl_easy_strerror only: the error buffer could name the URL */
    what = result != CURLE_OK ? g_strdup(curl_easy_strerror(result))
                              : g_strdup_printf("HTTP %ld", status);
    if (outcome == OUTCOME_DELIVERED) {
        delivered(courier, lane);
    } else if (outcome == OUTCOME_REFUSED) {
        g_autofree gchar *reason = g_strdup_printf("refused by the receiver: %s", what);
        if (courier->redis != NULL)
            dead_letter(courier, lane, lane->entry, reason);
    } else {
        failed(courier, lane, outcome, what, retry_after);
    }
    lane_end_attempt(courier, lane);
}

static void
collect_finished(PsCourier *courier)
{
    CURLMsg *message;
    int left;

    while ((message = curl_multi_info_read(courier->multi, &left)) != NULL) {
        Lane *lane = NULL;
        if (message->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&lane);
        finish_attempt(courier, lane, message->data.result);
    }
}

/* ---- one round over the outbox ---- */

static gboolean
too_old(PsCourier *courier, const PsOutboxEntry *entry)
{
    return g_get_real_time() / G_USEC_PER_SEC - entry->created > courier->config.dead_after_s;
}

static gchar *
too_old_reason(PsCourier *courier, Lane *lane)
{
    if (lane == NULL || lane->receiver == NULL)
        return g_strdup_printf("no receiver of that name is configured for %" G_GINT64_FORMAT " s",
                               courier->config.dead_after_s);
    return g_strdup_printf("undelivered for %" G_GINT64_FORMAT " s; last error: %s",
                           courier->config.dead_after_s,
                           lane->last_error != NULL ? lane->last_error : "none");
}

/* The message at the head of its lane: start it, wait, or give it up. TRUE: it stays the head. */
static gboolean
consider_head(PsCourier *courier, Lane *lane, GPtrArray *entries, guint i)
{
    PsOutboxEntry *entry = g_ptr_array_index(entries, i);

    if (lane != NULL && lane->easy != NULL)
        return TRUE; /* in flight: it is the oldest of its lane */
    if (too_old(courier, entry)) {
        g_autofree gchar *reason = too_old_reason(courier, lane);
        dead_letter(courier, lane, entry, reason);
        return FALSE;
    }
    if (lane == NULL || lane->receiver == NULL)
        return TRUE;
    if (g_get_monotonic_time() < lane->not_before_us) {
        lane->waiting = TRUE;
        return TRUE;
    }
    entries->pdata[i] = NULL; /* the lane owns it now */
    start_attempt(courier, lane, entry);
    return TRUE;
}

static void
trim_overflow(PsCourier *courier, GPtrArray *entries, gint64 length)
{
    gint64 excess = length - (gint64)courier->config.max_outbox;

    for (guint i = 0; excess > 0 && i < entries->len && courier->redis != NULL; i++, excess--) {
        PsOutboxEntry *entry = g_ptr_array_index(entries, i);
        Lane *lane = g_hash_table_lookup(courier->lanes, entry->receiver);
        if (lane != NULL && lane->entry != NULL && g_str_equal(lane->entry->raw, entry->raw))
            continue;
        if (dead_letter(courier, lane, entry, "the outbox is full"))
            entries->pdata[i] = NULL;
    }
}

static void
dispatch(PsCourier *courier)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) entries = NULL;
    g_autoptr(GHashTable) heads = g_hash_table_new(g_str_hash, g_str_equal);
    guint unreadable = 0;
    gint64 length = ps_outbox_length(courier->redis, courier->prefix, &error);

    if (length >= 0)
        entries =
            ps_outbox_read(courier->redis, courier->prefix, OUTBOX_READ_LIMIT, &unreadable, &error);
    if (entries == NULL) {
        redis_failed(courier, error);
        return;
    }
    g_mutex_lock(&courier->lock);
    courier->counters.outbox_length = length;
    courier->counters.dead_letters += unreadable;
    g_mutex_unlock(&courier->lock);
    trim_overflow(courier, entries, length);
    for (guint i = 0; i < entries->len && courier->redis != NULL; i++) {
        PsOutboxEntry *entry = g_ptr_array_index(entries, i);
        if (entry == NULL || g_hash_table_contains(heads, entry->receiver))
            continue; /* in order: only the oldest message of a lane moves */
        Lane *lane = g_hash_table_lookup(courier->lanes, entry->receiver);
        /* the lane's name: consider_head may hand the entry over, and the lane free it */
        const char *name = lane != NULL ? lane->name : entry->receiver;
        if (consider_head(courier, lane, entries, i))
            g_hash_table_add(heads, (gpointer)name);
    }
}

/* Until the soonest lane may go again, at most a tick. */
static int
poll_timeout_ms(PsCourier *courier)
{
    gint64 now = g_get_monotonic_time(), timeout_us = TICK_MS * 1000;
    GHashTableIter iter;
    Lane *lane;

    g_hash_table_iter_init(&iter, courier->lanes);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&lane)) {
        if (lane->waiting)
            timeout_us = MIN(timeout_us, MAX(lane->not_before_us - now, 0));
        lane->waiting = FALSE;
    }
    return (int)(timeout_us / 1000) + 1;
}

static gpointer
courier_run(gpointer data)
{
    PsCourier *courier = data;
    int running = 0;

    while (!g_atomic_int_get(&courier->stopping)) {
        take_pending_receivers(courier);
        curl_multi_perform(courier->multi, &running);
        collect_finished(courier);
        if (connected(courier))
            dispatch(courier);
        curl_multi_perform(courier->multi, &running);
        curl_multi_poll(courier->multi, NULL, 0, poll_timeout_ms(courier), NULL);
    }
    return NULL;
}

/* ---- life ---- */

PsCourier *
ps_courier_start(const PsCourierConfig *config, GPtrArray *receivers)
{
    PsCourier *courier = g_new0(PsCourier, 1);
    g_autoptr(GPtrArray) copy = copy_receivers(receivers);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    courier->config = *config;
    courier->prefix = g_strdup(config->prefix);
    courier->config.prefix = courier->prefix;
    courier->address = *config->address;
    courier->address.host = g_strdup(config->address->host);
    courier->address.unix_path = g_strdup(config->address->unix_path);
    courier->address.user = g_strdup(config->address->user);
    courier->address.password = g_strdup(config->address->password);
    courier->config.address = &courier->address;
    courier->counters.outbox_length = -1;
    g_mutex_init(&courier->lock);
    courier->lanes =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)lane_free);
    set_lane_receivers(courier, copy);
    courier->multi = curl_multi_init();
    courier->rand = g_rand_new();
    courier->thread = g_thread_new("courier", courier_run, courier);
    return courier;
}

void
ps_courier_stop(PsCourier *courier)
{
    GHashTableIter iter;
    Lane *lane;

    if (courier == NULL)
        return;
    g_atomic_int_set(&courier->stopping, 1);
    curl_multi_wakeup(courier->multi);
    g_thread_join(courier->thread);
    g_hash_table_iter_init(&iter, courier->lanes);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&lane))
        lane_end_attempt(courier, lane); /* the message stays in the outbox */
    g_hash_table_unref(courier->lanes);
    curl_multi_cleanup(courier->multi);
    g_clear_pointer(&courier->redis, redisFree);
    g_clear_pointer(&courier->pending_receivers, g_ptr_array_unref);
    ps_redis_address_clear(&courier->address);
    g_rand_free(courier->rand);
    g_mutex_clear(&courier->lock);
    g_free(courier->prefix);
    g_free(courier);
}

void
ps_courier_wake(PsCourier *courier)
{
    curl_multi_wakeup(courier->multi);
}

void
ps_courier_set_receivers(PsCourier *courier, GPtrArray *receivers)
{
    GPtrArray *copy = copy_receivers(receivers);

    g_mutex_lock(&courier->lock);
    g_clear_pointer(&courier->pending_receivers, g_ptr_array_unref);
    courier->pending_receivers = copy;
    g_mutex_unlock(&courier->lock);
    ps_courier_wake(courier);
}

void
ps_courier_counters(PsCourier *courier, PsCourierCounters *counters)
{
    g_mutex_lock(&courier->lock);
    *counters = courier->counters;
    g_mutex_unlock(&courier->lock);
}

void
ps_courier_foreach_lane(PsCourier *courier, PsCourierLaneFn fn, gpointer user_data)
{
    GHashTableIter iter;
    Lane *lane;

    g_mutex_lock(&courier->lock);
    g_hash_table_iter_init(&iter, courier->lanes);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&lane))
        fn(lane->name, lane->delivered, lane->failed, lane->dead, user_data);
    g_mutex_unlock(&courier->lock);
}
