#include "config.h"

#include <string.h>
#include <time.h>

#include "alerter.h"
#include "event.h"
#include "history.h"
#include "keys.h"
#include "notify.h"
#include "once.h"
#include "outbox.h"
#include "redis.h"
#include "snapshot.h"
#include "state.h"

#define TOKEN_LEN 48

struct PsAlerter {
    PsAlerterConfig config;
    gchar *prefix;
    gchar **watched;
    redisContext *redis;
    gboolean persist;
    PsEventFn fn;
    gpointer user_data;
    GHashTable *states; /* series -> PsSeriesState */
    gint64 last_cpu_us;
    gint64 started_us;
    guint connections;
    PsOnceClient client; /* the connection (live), named for once.h */
    PsOnceClient lost;   /* the one a bucket's saving failed on */
    /* a bucket whose saving failed: the next run asks Redis whether it is in */
    gint64 unsaved_t;
    PsSnapshot *unsaved_before; /* its series' states before it; NULL: none */
    GPtrArray *unsaved_emitted; /* its events, reported if it is in */
};

static void
copy_config(PsAlerter *alerter, const PsAlerterConfig *config)
{
    g_free(alerter->prefix);
    g_strfreev(alerter->watched);
    g_clear_pointer(&alerter->config.receivers, g_ptr_array_unref);
    alerter->config = *config;
    if (config->receivers != NULL)
        g_ptr_array_ref(config->receivers);
    alerter->prefix = g_strdup(config->prefix);
    alerter->watched = g_strdupv(config->watched);
    alerter->config.prefix = alerter->prefix;
    alerter->config.watched = alerter->watched;
}

PsAlerter *
ps_alerter_new(const PsAlerterConfig *config, redisContext *redis, gboolean persist, PsEventFn fn,
               gpointer user_data)
{
    PsAlerter *alerter = g_new0(PsAlerter, 1);

    copy_config(alerter, config);
    alerter->redis = redis;
    alerter->persist = persist;
    alerter->fn = fn;
    alerter->user_data = user_data;
    alerter->states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    alerter->started_us = g_get_real_time();
    if (redis != NULL)
        ps_alerter_set_redis(alerter, redis);
    return alerter;
}

static void
clear_unsaved(PsAlerter *alerter)
{
    g_clear_pointer(&alerter->unsaved_before, ps_snapshot_free);
    g_clear_pointer(&alerter->unsaved_emitted, g_ptr_array_unref);
    alerter->unsaved_t = 0;
}

void
ps_alerter_free(PsAlerter *alerter)
{
    if (alerter == NULL)
        return;
    g_hash_table_unref(alerter->states);
    clear_unsaved(alerter);
    g_clear_pointer(&alerter->config.receivers, g_ptr_array_unref);
    g_free(alerter->prefix);
    g_strfreev(alerter->watched);
    g_free(alerter);
}

void
ps_alerter_set_redis(PsAlerter *alerter, redisContext *redis)
{
    g_autofree gchar *name = NULL;

    alerter->redis = redis;
    if (!alerter->persist)
        return;
    name = g_strdup_printf("portsurge-alerter:%" G_GINT64_FORMAT ":%u",
                           alerter->started_us / G_USEC_PER_SEC, ++alerter->connections);
    ps_once_connected(redis, name, &alerter->client);
}

void
ps_alerter_set_config(PsAlerter *alerter, const PsAlerterConfig *config)
{
    copy_config(alerter, config);
}

gint64
ps_alerter_last_cpu_us(const PsAlerter *alerter)
{
    return alerter->last_cpu_us;
}

gboolean
ps_alerter_restore(PsAlerter *alerter, gint64 *last_bucket, GError **error)
{
    *last_bucket = ps_state_last_bucket(alerter->redis, alerter->prefix);
    return ps_state_load(alerter->redis, alerter->prefix, alerter->states, error);
}

static gboolean
is_watched(const PsAlerter *alerter, const char *series)
{
    const char *at = strchr(series, '@');
    gsize len = at != NULL ? (gsize)(at - series) : strlen(series);

    for (guint i = 0; alerter->watched != NULL && alerter->watched[i] != NULL; i++) {
        if (strlen(alerter->watched[i]) == len && strncmp(alerter->watched[i], series, len) == 0)
            return TRUE;
    }
    return FALSE;
}

static void
add_name(GPtrArray *names, GHashTable *seen, const char *name)
{
    if (g_hash_table_contains(seen, name))
        return;
    g_hash_table_add(seen, (gpointer)name);
    g_ptr_array_add(names, g_strdup(name));
}

/* Watched ports, ports active in bucket t, and every series with an incident. */
static GPtrArray *
series_to_evaluate(PsAlerter *alerter, const PsHistoryReader *reader, gint64 t, GError **error)
{
    g_autoptr(GPtrArray) active =
        ps_history_active_series(reader, t, alerter->config.min_sources, alerter->config.min_flows,
                                 alerter->config.max_series, error);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter iter;
    const char *name;
    PsSeriesState *state;

    if (active == NULL) {
        g_ptr_array_unref(names);
        return NULL;
    }
    for (guint i = 0; alerter->watched != NULL && alerter->watched[i] != NULL; i++)
        add_name(names, seen, alerter->watched[i]);
    for (guint i = 0; i < active->len; i++)
        add_name(names, seen, g_ptr_array_index(active, i));
    g_hash_table_iter_init(&iter, alerter->states);
    while (g_hash_table_iter_next(&iter, (gpointer *)&name, (gpointer *)&state)) {
        if (state->phase != PS_PHASE_IDLE)
            add_name(names, seen, name);
    }
    return names;
}

static PsSeriesState *
state_of(PsAlerter *alerter, const char *series)
{
    PsSeriesState *state = g_hash_table_lookup(alerter->states, series);

    if (state == NULL) {
        state = g_new(PsSeriesState, 1);
        ps_series_state_init(state);
        g_hash_table_insert(alerter->states, g_strdup(series), state);
    }
    return state;
}

static gint64
cpu_now_us(void)
{
    struct timespec now;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (gint64)now.tv_sec * G_USEC_PER_SEC + now.tv_nsec / 1000;
}

/* Reads bucket t for names; NULL arrays on error. */
static gboolean
read_bucket(PsAlerter *alerter, gint64 t, GPtrArray *names, PsSample **samples,
            PsHistory **histories, GError **error)
{
    PsHistoryReader reader = {alerter->redis, alerter->prefix, alerter->config.step};

    *samples = g_new0(PsSample, MAX(names->len, 1));
    *histories = g_new0(PsHistory, MAX(names->len, 1));
    return ps_history_read(&reader, t, names, *samples, *histories, error);
}

gboolean
ps_alerter_warm_up(PsAlerter *alerter, gint64 before, GError **error)
{
    guint step = alerter->config.step;

    for (gint64 t = before - (gint64)PS_BASELINE_RECENT * step; t < before; t += step) {
        PsHistoryReader reader = {alerter->redis, alerter->prefix, step};
        g_autoptr(GPtrArray) names = series_to_evaluate(alerter, &reader, t, error);
        g_autofree PsSample *samples = NULL;
        g_autofree PsHistory *histories = NULL;

        if (names == NULL || !read_bucket(alerter, t, names, &samples, &histories, error))
            return FALSE;
        for (guint i = 0; i < names->len; i++) {
            PsSeriesState *state = state_of(alerter, g_ptr_array_index(names, i));
            PsEvaluation evaluation;
            ps_detect_mark_history(state, &histories[i], t, step);
            ps_detect_evaluate(&alerter->config.detect, state, &histories[i], &samples[i],
                               &evaluation);
            ps_detect_learn_level(state, &evaluation);
        }
    }
    return TRUE;
}

typedef struct {
    gchar *series;
    gboolean watched;
    PsAlertEvent event;
    gchar *json;
} Emitted;

static void
emitted_free(Emitted *emitted)
{
    g_free(emitted->series);
    g_free(emitted->json);
    g_free(emitted);
}

/* The messages of the bucket's events for the receivers, read and rendered before the MULTI
 * that saves them with the events. */
static GPtrArray *
messages_of(PsAlerter *alerter, GPtrArray *emitted, GError **error)
{
    GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)ps_outbox_entry_free);

    for (guint i = 0; i < emitted->len && alerter->config.receivers != NULL; i++) {
        Emitted *e = g_ptr_array_index(emitted, i);
        g_autoptr(GPtrArray) entries =
            ps_notify_entries(alerter->config.receivers, alerter->redis, alerter->prefix,
                              alerter->config.step, e->series, e->watched, &e->event, error);
        if (entries == NULL) {
            g_ptr_array_unref(all);
            return NULL;
        }
        g_ptr_array_extend_and_steal(all, g_steal_pointer(&entries));
    }
    return all;
}

/* The token of bucket t's saving (once.h). */
static void
unsaved_token(const PsAlerter *alerter, gint64 t, char token[TOKEN_LEN])
{
    g_snprintf(token, TOKEN_LEN, "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, alerter->started_us, t);
}

static gboolean
persist(PsAlerter *alerter, gint64 t, GPtrArray *names, GPtrArray *emitted, GError **error)
{
    g_autoptr(GPtrArray) messages = messages_of(alerter, emitted, error);
    g_autofree gchar *progress = ps_key_alerter(alerter->prefix);
    char token[TOKEN_LEN];
    PsRedisPipeline pipeline;
    PsOnceExec exec;
    gboolean ok;

    if (messages == NULL)
        return FALSE;
    ps_redis_pipeline_init(&pipeline, alerter->redis);
    ps_redis_pipeline_command(&pipeline, "MULTI", NULL);
    for (guint i = 0; i < names->len; i++) {
        const char *series = g_ptr_array_index(names, i);
        ps_state_append_series(&pipeline, alerter->prefix, series, state_of(alerter, series));
    }
    for (guint i = 0; i < emitted->len; i++) {
        Emitted *e = g_ptr_array_index(emitted, i);
        ps_state_append_event(&pipeline, alerter->prefix, e->series, e->json, &e->event);
    }
    for (guint i = 0; i < messages->len; i++)
        ps_outbox_append(&pipeline, alerter->prefix, g_ptr_array_index(messages, i));
    ps_state_append_progress(&pipeline, alerter->prefix, t);
    unsaved_token(alerter, t, token);
    ps_once_mark(&pipeline, progress, token);
    ps_once_exec(&pipeline, &exec);
    ok = ps_redis_pipeline_run(&pipeline, ps_once_on_reply, &exec, "saving alert state", error) &&
         ps_once_exec_applied(&exec, "saving alert state", error);
    return ok;
}

static void
report(PsAlerter *alerter, GPtrArray *emitted)
{
    for (guint i = 0; i < emitted->len; i++) {
        Emitted *e = g_ptr_array_index(emitted, i);
        alerter->fn(e->series, e->watched, &e->event, e->json, alerter->user_data);
    }
}

/* Whether bucket t, whose saving failed, is in Redis after all (its reply was lost): then its
 * states and events stand, and the events are reported now; otherwise its series' states are
 * put back as they were before it, and it is evaluated again. */
static gboolean
settle_unsaved(PsAlerter *alerter, gint64 *after, GError **error)
{
    g_autofree gchar *progress = ps_key_alerter(alerter->prefix);
    char token[TOKEN_LEN];
    gboolean applied;

    unsaved_token(alerter, alerter->unsaved_t, token);
    if (!ps_once_check(alerter->redis, progress, token, &alerter->lost, &applied, error))
        return FALSE;
    if (applied) {
        g_message("bucket %" G_GINT64_FORMAT " was saved although its reply was lost",
                  alerter->unsaved_t);
        report(alerter, alerter->unsaved_emitted);
        *after = MAX(*after, alerter->unsaved_t);
    } else {
        ps_snapshot_restore(alerter->unsaved_before, alerter->states);
    }
    clear_unsaved(alerter);
    return TRUE;
}

/* TRUE while any member of the broad scan that began at `at` is still open. */
static gboolean
broad_scan_open(PsAlerter *alerter, gint64 at)
{
    GHashTableIter iter;
    PsSeriesState *state;

    g_hash_table_iter_init(&iter, alerter->states);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&state)) {
        if (state->broad_scan_at == at && state->phase == PS_PHASE_OPEN)
            return TRUE;
    }
    return FALSE;
}

/* Top sources of a series in bucket t (strings), from the collector's top sorted set. */
static GPtrArray *
top_sources(PsAlerter *alerter, gint64 t, const char *series)
{
    g_autofree gchar *key =
        ps_key_bucket_series(alerter->prefix, alerter->config.step, t, "top", series);
    const char *argv[] = {"ZREVRANGE", key, "0", "9"};
    g_autoptr(redisReply) reply = redisCommandArgv(alerter->redis, 4, argv, NULL);
    GPtrArray *sources = g_ptr_array_new_with_free_func(g_free);

    for (gsize i = 0; reply != NULL && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++)
        g_ptr_array_add(sources, g_strdup(reply->element[i]->str));
    return sources;
}

/* Sources among the top of at least half the opened ports: the same scanners everywhere. */
static GPtrArray *
shared_sources(PsAlerter *alerter, gint64 t, GPtrArray *opened)
{
    g_autoptr(GHashTable) counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GPtrArray *shared = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter iter;
    gpointer source, count;

    for (guint i = 0; i < opened->len; i++) {
        Emitted *e = g_ptr_array_index(opened, i);
        g_autoptr(GPtrArray) top = top_sources(alerter, t, e->series);
        for (guint j = 0; j < top->len; j++) {
            gpointer old = g_hash_table_lookup(counts, g_ptr_array_index(top, j));
            g_hash_table_replace(counts, g_strdup(g_ptr_array_index(top, j)),
                                 GUINT_TO_POINTER(GPOINTER_TO_UINT(old) + 1));
        }
    }
    g_hash_table_iter_init(&iter, counts);
    while (g_hash_table_iter_next(&iter, &source, &count)) {
        if (GPOINTER_TO_UINT(count) * 2 >= opened->len)
            g_ptr_array_add(shared, g_strdup(source));
    }
    return shared;
}

static Emitted *
broad_scan_event(const Emitted *first, PsEventKind kind, gint64 t, GPtrArray *ports,
                 GPtrArray *sources)
{
    Emitted *broad = g_new0(Emitted, 1);
    GString *json = g_string_new(NULL);

    broad->series = g_strdup(PS_BROAD_SCAN_SERIES);
    broad->event = first->event;
    broad->event.kind = kind;
    broad->event.bucket = t;
    broad->watched = TRUE;
    g_string_append_printf(json,
                           "{\"id\":\"%s@%" G_GINT64_FORMAT "\",\"event\":\"%s\",\"series\":\"%s\","
                           "\"severity\":\"critical\",\"bucket\":%" G_GINT64_FORMAT ",\"ports\":[",
                           PS_BROAD_SCAN_SERIES, broad->event.opened_at, ps_event_kind_name(kind),
                           PS_BROAD_SCAN_SERIES, t);
    for (guint i = 0; ports != NULL && i < ports->len; i++)
        g_string_append_printf(json, "%s\"%s\"", i > 0 ? "," : "",
                               (const char *)g_ptr_array_index(ports, i));
    g_string_append(json, "],\"sources\":[");
    for (guint i = 0; sources != NULL && i < sources->len; i++)
        g_string_append_printf(json, "%s\"%s\"", i > 0 ? "," : "",
                               (const char *)g_ptr_array_index(sources, i));
    g_string_append(json, "]}");
    broad->event.severity = PS_SEVERITY_CRITICAL;
    broad->json = g_string_free(json, FALSE);
    return broad;
}

static gboolean
shares_a_source(PsAlerter *alerter, gint64 t, const char *series, GPtrArray *shared)
{
    g_autoptr(GPtrArray) top = top_sources(alerter, t, series);

    for (guint i = 0; i < top->len; i++)
        for (guint j = 0; j < shared->len; j++)
            if (g_str_equal(g_ptr_array_index(top, i), g_ptr_array_index(shared, j)))
                return TRUE;
    return FALSE;
}

/* The members of a new broad scan: the ports opening now, and those that opened a few buckets
 * earlier from the same sources (a scan does not reach every port in the same minute). */
static GPtrArray *
absorb_members(PsAlerter *alerter, gint64 t, GPtrArray *opened, GPtrArray *shared)
{
    GPtrArray *ports = g_ptr_array_new_with_free_func(g_free);
    gint64 window = (gint64)alerter->config.detect.open_window * alerter->config.step;
    GHashTableIter iter;
    const char *name;
    PsSeriesState *state;

    for (guint i = 0; i < opened->len; i++) {
        const char *series = ((Emitted *)g_ptr_array_index(opened, i))->series;
        state_of(alerter, series)->broad_scan_at = t;
        g_ptr_array_add(ports, g_strdup(series));
    }
    g_hash_table_iter_init(&iter, alerter->states);
    while (g_hash_table_iter_next(&iter, (gpointer *)&name, (gpointer *)&state)) {
        if (state->phase == PS_PHASE_OPEN && state->broad_scan_at == 0 &&
            state->opened_at >= t - window && shares_a_source(alerter, t, name, shared)) {
            state->broad_scan_at = t;
            g_ptr_array_add(ports, g_strdup(name));
        }
    }
    return ports;
}

/* Many ports opening in one bucket from the same sources: one broad-scan incident instead of
 * a message per port; its members stay quiet until the last of them resolves. */
static void
merge_broad_scan(PsAlerter *alerter, gint64 t, GPtrArray *emitted)
{
    g_autoptr(GPtrArray) opened = g_ptr_array_new();
    g_autoptr(GPtrArray) shared = NULL;
    g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func((GDestroyNotify)emitted_free);
    gboolean member_resolved = FALSE;
    gint64 resolved_scan = 0;

    for (guint i = 0; i < emitted->len; i++) {
        Emitted *e = g_ptr_array_index(emitted, i);
        if (e->event.kind == PS_EVENT_OPEN && !e->event.reopened)
            g_ptr_array_add(opened, e);
    }
    if (opened->len > alerter->config.broad_scan_ports && alerter->config.broad_scan_ports > 0) {
        shared = shared_sources(alerter, t, opened);
        if (shared->len == 0)
            g_ptr_array_set_size(opened, 0);
    } else {
        g_ptr_array_set_size(opened, 0);
    }
    if (opened->len > 0) {
        g_autoptr(GPtrArray) ports = absorb_members(alerter, t, opened, shared);
        g_ptr_array_add(
            kept, broad_scan_event(g_ptr_array_index(opened, 0), PS_EVENT_OPEN, t, ports, shared));
    }
    /* members of a broad scan say nothing on their own */
    while (emitted->len > 0) {
        Emitted *e = g_ptr_array_steal_index(emitted, 0);
        PsSeriesState *state = state_of(alerter, e->series);
        if (state->broad_scan_at == 0) {
            g_ptr_array_add(kept, e);
            continue;
        }
        if (e->event.kind == PS_EVENT_RESOLVE) {
            member_resolved = TRUE;
            resolved_scan = state->broad_scan_at;
        }
        emitted_free(e);
    }
    if (member_resolved && !broad_scan_open(alerter, resolved_scan)) {
        Emitted first = {0};
        first.event.opened_at = resolved_scan;
        g_ptr_array_add(kept, broad_scan_event(&first, PS_EVENT_RESOLVE, t, NULL, NULL));
    }
    while (kept->len > 0)
        g_ptr_array_add(emitted, g_ptr_array_steal_index(kept, 0));
}

gboolean
ps_alerter_process(PsAlerter *alerter, gint64 t, GError **error)
{
    PsHistoryReader reader = {alerter->redis, alerter->prefix, alerter->config.step};
    g_autoptr(GPtrArray) names = series_to_evaluate(alerter, &reader, t, error);
    g_autoptr(GPtrArray) emitted = g_ptr_array_new_with_free_func((GDestroyNotify)emitted_free);
    g_autofree PsSample *samples = NULL;
    g_autofree PsHistory *histories = NULL;
    g_autoptr(PsSnapshot) before = NULL;
    gint64 cpu_start;

    if (names == NULL || !read_bucket(alerter, t, names, &samples, &histories, error))
        return FALSE;
    if (alerter->persist)
        before = ps_snapshot_take(alerter->states, names);
    cpu_start = cpu_now_us();
    for (guint i = 0; i < names->len; i++) {
        const char *series = g_ptr_array_index(names, i);
        PsSeriesState *state = state_of(alerter, series);
        gboolean watched = is_watched(alerter, series);
        PsEvaluation evaluation;
        Emitted *e = g_new0(Emitted, 1);

        ps_detect_mark_history(state, &histories[i], t, alerter->config.step);
        ps_detect_evaluate(&alerter->config.detect, state, &histories[i], &samples[i], &evaluation);
        if (ps_detect_step(&alerter->config.detect, state, &evaluation, t, alerter->config.step,
                           watched, &e->event) == PS_EVENT_NONE) {
            g_free(e);
            continue;
        }
        GString *json = g_string_new(NULL);
        ps_event_json(series, watched, &e->event, json);
        g_string_truncate(json, json->len - 1); /* no newline inside the stream */
        e->series = g_strdup(series);
        e->watched = watched;
        e->json = g_string_free(json, FALSE);
        g_ptr_array_add(emitted, e);
    }
    alerter->last_cpu_us = cpu_now_us() - cpu_start;
    merge_broad_scan(alerter, t, emitted);
    /* state first: an event is reported only once it is saved, so a restart repeats none */
    if (alerter->persist && !persist(alerter, t, names, emitted, error)) {
        alerter->unsaved_t = t;
        alerter->unsaved_before = g_steal_pointer(&before);
        alerter->unsaved_emitted = g_steal_pointer(&emitted);
        alerter->lost = alerter->client;
        return FALSE;
    }
    report(alerter, emitted);
    return TRUE;
}

gboolean
ps_alerter_run(PsAlerter *alerter, gint64 after, gint64 until, gint64 *last, GError **error)
{
    PsHistoryReader reader = {alerter->redis, alerter->prefix, alerter->config.step};
    g_autoptr(GArray) buckets = NULL;

    *last = after;
    if (alerter->unsaved_before != NULL && !settle_unsaved(alerter, &after, error))
        return FALSE;
    *last = after;
    buckets = ps_history_closed_buckets(&reader, after, until, error);
    if (buckets == NULL)
        return FALSE;
    for (guint i = 0; i < buckets->len; i++) {
        gint64 t = g_array_index(buckets, gint64, i);
        if (!ps_alerter_process(alerter, t, error))
            return FALSE;
        *last = t;
    }
    return TRUE;
}
