/* libFuzzer target: what the alerter reads back from Redis, where operators and other tools
 * can write too. The first byte picks the parser (see ps_fuzz_util_pick):
 *   o  an outbox entry (the rest as a C string) -> ps_outbox_entry_parse(), and an entry made
 *      from what it read (if UTF-8) must read back the same;
 *   s  the "state" field of ps:alert:<series> (the rest, as is) -> ps_state_parse();
 *   S  the same over a stored state of the right length and version: the rest overwrites it
 *      from its second byte, so mutations reach the fields;
 *   a  an HGETALL reply of a bucket (the rest split at newlines into its strings) ->
 *      ps_history_parse_active_series();
 *   t  a ZREVRANGE ... WITHSCORES reply (likewise) -> ps_message_facts_add_top().
 * A state that parses then goes through what the alerter does with it after a restart: the
 * level ring is rebuilt, a bucket is scored and stepped (an event becomes JSON), and the state
 * is written and must read back. No Redis: replies are made here as hiredis would hand them.
 * corpus/stored/regression-state-* place values at the offsets of PsSeriesState on x86-64 at
 * STATE_VERSION 2: when the struct changes, make them again (state.c's comments say what). */
#include "config.h"

#include <string.h>

#include "event.h"
#include "fuzz-util.h"
#include "history.h"
#include "message.h"
#include "outbox.h"
#include "state.h"

#define FUZZ_BUCKET 1700000040 /* a bucket start (minute buckets) */
#define FUZZ_STEP   60

/* Whatever the checks read goes here, so the compiler cannot drop the reads. */
static volatile guint64 fuzz_checksum;

static void
fuzz_outbox(const guint8 *data, gsize size)
{
    g_autofree gchar *raw = ps_fuzz_util_string(data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(PsOutboxEntry) entry = ps_outbox_entry_parse(raw, &error);
    g_autoptr(PsOutboxEntry) again = NULL;
    g_autoptr(PsOutboxEntry) made = NULL;

    /* json-glib decodes a lone surrogate escape ("\ud800") to bytes that are not UTF-8: such an
     * entry is still delivered as read, but an entry made of it cannot be read again */
    if (entry == NULL || !g_utf8_validate(entry->key, -1, NULL) ||
        !g_utf8_validate(entry->receiver, -1, NULL) || !g_utf8_validate(entry->body, -1, NULL))
        return;
    made = ps_outbox_entry_new(entry->key, entry->receiver, entry->created, entry->body);
    again = ps_outbox_entry_parse(made->raw, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again->key, ==, entry->key);
    g_assert_cmpstr(again->receiver, ==, entry->receiver);
    g_assert_cmpint(again->created, ==, entry->created);
    g_assert_cmpstr(again->body, ==, entry->body);
}

/* Every sample of history 10 on every metric; x a surge of 1000, or as usual. */
static void
fuzz_sample(PsSample *sample, double value)
{
    memset(sample, 0, sizeof(*sample));
    for (guint m = 0; m < PS_N_METRICS; m++)
        sample->value[m] = value;
}

static void
fuzz_bucket(PsHistory *history, PsSample *x, gboolean surge)
{
    ps_history_init(history);
    for (guint d = 0; d < PS_BASELINE_DAYS; d++) {
        for (guint s = 0; s < PS_BASELINE_SLOTS; s++)
            fuzz_sample(&history->same_time[d][s], 10);
    }
    for (guint k = 0; k < PS_BASELINE_RECENT; k++)
        fuzz_sample(&history->recent[k], 10);
    fuzz_sample(x, surge ? 1000 : 10);
}

/* What the alerter does with a loaded state: rebuild the level ring from recent buckets
 * (alerter.c), then score and step buckets and save the state again. */
static void
fuzz_use_state(PsSeriesState *state)
{
    PsDetectConfig config;
    PsHistory history;
    PsSample x;
    PsEvaluation evaluation;
    PsAlertEvent event;
    PsSeriesState back;
    g_autofree gchar *stored = NULL;
    gsize stored_len;

    ps_detect_config_init(&config);
    for (guint i = 0; i < 2; i++) {
        gint64 t = FUZZ_BUCKET + (gint64)i * FUZZ_STEP;
        fuzz_bucket(&history, &x, i == 0);
        ps_detect_mark_history(state, &history, t, FUZZ_STEP);
        ps_detect_evaluate(&config, state, &history, &x, &evaluation);
        if (i == 0)
            ps_detect_learn_level(state, &evaluation);
        if (ps_detect_step(&config, state, &evaluation, t, FUZZ_STEP, i == 1, &event) !=
            PS_EVENT_NONE) {
            g_autoptr(GString) json = g_string_new(NULL);
            g_autofree gchar *summary = ps_event_summary("tcp/445", &event);
            ps_event_json("tcp/445", i == 1, &event, json);
            fuzz_checksum += json->len + strlen(summary);
        }
    }
    stored = ps_state_format(state, &stored_len);
    g_assert(ps_state_parse(stored, stored_len, &back));
}

static void
fuzz_state(const guint8 *data, gsize size)
{
    g_autofree gchar *value = g_memdup2(data, size);
    PsSeriesState state;

    if (ps_state_parse(value, size, &state))
        fuzz_use_state(&state);
}

static void
fuzz_state_fields(const guint8 *data, gsize size)
{
    PsSeriesState initial, state;
    gsize len;
    g_autofree gchar *value = NULL;

    ps_series_state_init(&initial);
    initial.phase = PS_PHASE_OPEN;
    initial.severity = PS_SEVERITY_WARNING;
    initial.opened_by = PS_OPENED_BY_HITS;
    initial.opened_at = initial.last_event_at = FUZZ_BUCKET - 10 * FUZZ_STEP;
    value = ps_state_format(&initial, &len);
    memcpy(value + 1, data, MIN(size, len - 1));
    if (ps_state_parse(value, len, &state))
        fuzz_use_state(&state);
}

/* The input split at newlines, as an array reply of strings (freed by ps_history_reply_free). */
static redisReply *
fuzz_reply_new(const guint8 *data, gsize size)
{
    redisReply *reply = g_new0(redisReply, 1);
    g_autofree gchar *text = ps_fuzz_util_string(data, size);
    gchar **lines = g_strsplit(text, "\n", -1);

    reply->type = REDIS_REPLY_ARRAY;
    reply->elements = g_strv_length(lines);
    reply->element = g_new0(redisReply *, MAX(reply->elements, 1));
    for (gsize i = 0; i < reply->elements; i++) {
        redisReply *element = g_new0(redisReply, 1);
        element->type = REDIS_REPLY_STRING;
        element->len = strlen(lines[i]);
        element->str = g_memdup2(lines[i], element->len + 1); /* exactly its own length */
        reply->element[i] = element;
    }
    g_strfreev(lines);
    return reply;
}

static void
fuzz_active_series(const guint8 *data, gsize size)
{
    redisReply *reply = fuzz_reply_new(data, size);
    g_autoptr(GPtrArray) names = ps_history_parse_active_series(reply, 10, 50, 100);

    g_assert(names->len <= 100);
    for (guint i = 0; i < names->len; i++)
        g_assert(strlen(g_ptr_array_index(names, i)) < size);
    ps_history_reply_free(reply);
}

static void
fuzz_top_sources(const guint8 *data, gsize size)
{
    redisReply *reply = fuzz_reply_new(data, size);
    PsMessageFacts facts;
    PsAlertMessage message = {0};
    ps_message_facts_init(&facts);
    ps_message_facts_add_top(&facts, reply);
    ps_message_facts_apply(&facts, &message);
    for (guint i = 0; i < message.n_top_sources; i++)
        fuzz_checksum += strlen(message.top_sources[i].address) + message.top_sources[i].flows;
    g_assert(message.n_top_sources <= reply->elements / 2);
    ps_message_facts_clear(&facts);
    ps_history_reply_free(reply);
}

typedef void (*FuzzStoredFn)(const guint8 *data, gsize size);

/* In the order of the letters given to ps_fuzz_util_pick(), as fuzz-args.c picks its parsers. */
static const FuzzStoredFn parsers[] = {
    fuzz_outbox, fuzz_state, fuzz_state_fields, fuzz_active_series, fuzz_top_sources,
};
#define FUZZ_LETTERS "osSat"
G_STATIC_ASSERT(G_N_ELEMENTS(parsers) == sizeof(FUZZ_LETTERS) - 1);

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    gint pick = ps_fuzz_util_pick(data, size, FUZZ_LETTERS);

    if (pick < 0)
        return 0;
    ps_fuzz_util_quiet_logs();
    parsers[pick](data + 1, size - 1);
    return 0;
}
