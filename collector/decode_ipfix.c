#include "config.h"

#include <fixbuf/public.h>
#include <string.h>

#include "cursor.h"
#include "decode_ipfix.h"
#include "ipfix_record.h"
#include "ipfix_scan.h"

#define INTERNAL_TEMPLATE_ID 256

/* From libfixbuf's private.h (exported by libfixbuf.so.9). libfixbuf checks IPFIX sequence
 * numbers itself and warns on every mismatch; exporter.c already counts gaps per exporter and
 * domain, so the session is told the sequence to expect before each message. */
void fbSessionSetSequence(fbSession_t *session, uint32_t sequence);

struct PsIpfixDecoder {
    fbInfoModel_t *model;
    PsFlowSink sink;
    gpointer user_data;
    PsIpfixScan scan; /* scratch, too large for the stack of every call */
    guint8 rebuilt[PS_IPFIX_MAX_LEN];
};

/* Per observation domain: what options records told us. */
typedef struct {
    guint32 sampling;
    gint64 system_init_ms;
} DomainState;

/* Data sets that came before their template, kept as a message of their own. */
typedef struct {
    guint8 *bytes;
    gsize len;
    guint n_sets;
    gboolean have_v9;
    PsV9Header v9;
    PsIpfixInput input;
} HeldMessage;

struct PsIpfixSession {
    PsIpfixDecoder *decoder;
    PsAddress exporter;
    fbSession_t *session;
    fBuf_t *fbuf;
    GHashTable *domains; /* domain -> DomainState */
    GQueue held;         /* HeldMessage, oldest first */
    gsize held_bytes;
};

static void
held_message_free(HeldMessage *held)
{
    g_free(held->bytes);
    g_free(held);
}

/* libfixbuf logs per-message trouble (sequence mismatches, skipped sets) with g_warning and
 * no log domain; we count those ourselves, per exporter, so its messages become debug output
 * instead of one warning per packet. Our own logging is structured and not affected. */
static void
quiet_libfixbuf_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
                    gpointer data)
{
    (void)domain;
    (void)level;
    (void)data;
    g_debug("libfixbuf: %s", message);
}

PsIpfixDecoder *
ps_ipfix_decoder_new(PsFlowSink sink, gpointer user_data, GError **error)
{
    PsIpfixDecoder *decoder = g_new0(PsIpfixDecoder, 1);

    static gsize log_handler_set = 0;

    (void)error;
    if (g_once_init_enter(&log_handler_set)) {
        g_log_set_handler(NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO,
                          quiet_libfixbuf_log, NULL);
        g_once_init_leave(&log_handler_set, 1);
    }
    decoder->model = fbInfoModelAlloc();
    decoder->sink = sink;
    decoder->user_data = user_data;
    return decoder;
}

void
ps_ipfix_decoder_free(PsIpfixDecoder *decoder)
{
    if (decoder == NULL)
        return;
    fbInfoModelFree(decoder->model);
    g_free(decoder);
}

PsIpfixSession *
ps_ipfix_session_new(PsIpfixDecoder *decoder, const PsAddress *exporter, GError **error)
{
    g_autoptr(PsIpfixSession) session = g_new0(PsIpfixSession, 1);
    fbTemplate_t *template;

    session->decoder = decoder;
    session->exporter = *exporter;
    session->domains = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    g_queue_init(&session->held);
    session->session = fbSessionAlloc(decoder->model);
    template = ps_ipfix_record_template(decoder->model, error);
    if (template == NULL)
        return NULL;
    if (fbSessionAddTemplate(session->session, TRUE, INTERNAL_TEMPLATE_ID, template, error) == 0) {
        fbTemplateFreeUnused(template);
        return NULL;
    }
    session->fbuf = fBufAllocForCollection(session->session, NULL);
    fBufSetAutomaticMode(session->fbuf, FALSE);
    if (!fBufSetInternalTemplate(session->fbuf, INTERNAL_TEMPLATE_ID, error))
        return NULL;
    return g_steal_pointer(&session);
}

void
ps_ipfix_session_free(PsIpfixSession *session)
{
    if (session == NULL)
        return;
    g_queue_clear_full(&session->held, (GDestroyNotify)held_message_free);
    if (session->fbuf != NULL)
        fBufFree(session->fbuf); /* frees the session too */
    else if (session->session != NULL)
        fbSessionFree(session->session);
    g_hash_table_unref(session->domains);
    g_free(session);
}

static DomainState *
domain_state(PsIpfixSession *session, guint32 domain)
{
    DomainState *state = g_hash_table_lookup(session->domains, GUINT_TO_POINTER(domain));

    if (state == NULL) {
        state = g_new0(DomainState, 1);
        g_hash_table_insert(session->domains, GUINT_TO_POINTER(domain), state);
    }
    return state;
}

guint32
ps_ipfix_session_sampling(PsIpfixSession *session, guint32 domain)
{
    DomainState *state = g_hash_table_lookup(session->domains, GUINT_TO_POINTER(domain));

    return state != NULL ? state->sampling : 0;
}

static guint32
template_known(guint32 domain, guint16 template_id, gpointer user_data)
{
    PsIpfixSession *session = user_data;
    fbTemplate_t *template;
    guint32 n_elements;
    guint32 min_record_len = 0;

    fbSessionSetDomain(session->session, domain);
    template = fbSessionGetTemplate(session->session, FALSE, template_id, NULL);
    n_elements = template != NULL ? fbTemplateCountElements(template) : 0;
    for (guint32 i = 0; i < n_elements; i++) {
        guint16 length = fbTemplateGetIndexedIE(template, i)->len;
        min_record_len += length == FB_IE_VARLEN ? 1 : length;
    }
    /* 0 also for a template of no elements: libfixbuf would read empty records forever */
    return min_record_len;
}

/* An options record: remember what it says about sampling and the exporter's clock. */
static void
read_options_record(PsIpfixSession *session, guint32 domain, const PsIpfixRecord *record)
{
    DomainState *state = domain_state(session, domain);
    guint32 sampling = ps_ipfix_record_sampling(record);

    if (sampling > 0)
        state->sampling = sampling;
    if (record->system_init_ms > 0)
        state->system_init_ms = (gint64)record->system_init_ms;
}

static guint32
record_sampling(PsIpfixSession *session, guint32 domain, const PsIpfixRecord *record,
                const PsIpfixInput *input)
{
    guint32 sampling = ps_ipfix_record_sampling(record);
    DomainState *state;

    if (sampling > 0)
        return sampling;
    state = g_hash_table_lookup(session->domains, GUINT_TO_POINTER(domain));
    if (state != NULL && state->sampling > 0)
        return state->sampling;
    return input->default_sampling > 0 ? input->default_sampling : 1;
}

static void
emit_flow(PsIpfixSession *session, guint32 domain, const PsIpfixRecord *record,
          const PsIpfixInput *input, guint32 export_time)
{
    PsFlow flow = {0};
    PsRecordClock clock = {0};
    DomainState *state = g_hash_table_lookup(session->domains, GUINT_TO_POINTER(domain));

    clock.export_ms = (gint64)export_time * 1000;
    clock.system_init_ms = state != NULL ? state->system_init_ms : 0;
    if (input->v9 != NULL) {
        clock.have_v9_uptime = TRUE;
        clock.v9_sys_uptime_ms = input->v9->sys_uptime_ms;
    }
    ps_ipfix_record_to_flow(record, &clock, &flow);
    flow.exporter = session->exporter;
    flow.version = input->v9 != NULL ? 9 : 10;
    flow.domain = domain;
    flow.sampling = record_sampling(session, domain, record, input);
    session->decoder->sink(&flow, session->decoder->user_data);
}

/* Runs libfixbuf over one clean message; FALSE when it gave up part-way. */
static gboolean
read_records(PsIpfixSession *session, const guint8 *data, gsize len, guint32 domain,
             guint32 export_time, const PsIpfixInput *input, PsIpfixStats *stats)
{
    PsIpfixRecord record;

    fbSessionSetDomain(session->session, domain);
    fbSessionSetSequence(session->session, (guint32)ps_peek_u16(data, len, 8) << 16 |
                                               ps_peek_u16(data, len, 10));
    /* libfixbuf forgets the previous message (msgbase, setbase) only at its end: after any
     * other error fBufNext() would go on in the old, maybe freed, buffer with a template it
     * may have dropped (fuzz-ipfix crash). fBufSetCollector(NULL) is the public call that
     * rewinds; fBufSetBuffer() does not. */
    fBufSetCollector(session->fbuf, NULL);
    fBufSetBuffer(session->fbuf, (uint8_t *)data, len);
    /* every record takes at least one byte: more records than bytes means libfixbuf is
     * looping on a template it should have refused */
    for (gsize n = 0; n <= len; n++) {
        g_autoptr(GError) error = NULL;
        size_t record_len = sizeof(record);
        fbTemplate_t *template;

        memset(&record, 0, sizeof(record));
        if (!fBufNext(session->fbuf, (uint8_t *)&record, &record_len, &error))
            return g_error_matches(error, FB_ERROR_DOMAIN, FB_ERROR_EOM) ||
                   g_error_matches(error, FB_ERROR_DOMAIN, FB_ERROR_BUFSZ);
        template = fBufGetCollectionTemplate(session->fbuf, NULL);
        if (template != NULL && fbTemplateGetOptionsScope(template) > 0) {
            read_options_record(session, domain, &record);
            stats->options_records++;
            continue;
        }
        emit_flow(session, domain, &record, input, export_time);
        stats->records++;
    }
    return FALSE;
}

/* Copies the header and the sets of the given kinds into out; returns the new length. */
static gsize
rebuild_message(const guint8 *data, const PsIpfixScan *scan, guint kinds_mask, guint8 *out,
                guint *n_sets)
{
    gsize len = PS_IPFIX_HEADER_LEN;

    memcpy(out, data, PS_IPFIX_HEADER_LEN);
    *n_sets = 0;
    for (guint i = 0; i < scan->n_sets; i++) {
        const PsSetInfo *set = &scan->sets[i];
        if (!(kinds_mask & (1u << set->kind)))
            continue;
        memcpy(out + len, data + set->offset, set->length);
        len += set->length;
        (*n_sets)++;
    }
    ps_put_u16(out + 2, len);
    return len;
}

static void
drop_oldest_held(PsIpfixSession *session, PsIpfixStats *stats)
{
    HeldMessage *held = g_queue_pop_head(&session->held);

    session->held_bytes -= held->len;
    stats->dropped_sets += held->n_sets;
    held_message_free(held);
}

static void
hold_unknown_sets(PsIpfixSession *session, const guint8 *data, const PsIpfixScan *scan,
                  const PsIpfixInput *input, PsIpfixStats *stats)
{
    HeldMessage *held = g_new0(HeldMessage, 1);
    guint8 *out = session->decoder->rebuilt;

    held->len = rebuild_message(data, scan, 1u << PS_SET_DATA_UNKNOWN, out, &held->n_sets);
    held->bytes = g_memdup2(out, held->len);
    held->input = *input;
    if (input->v9 != NULL) {
        held->v9 = *input->v9;
        held->have_v9 = TRUE;
    }
    while (session->held.length >= PS_IPFIX_MAX_HELD_MESSAGES ||
           (session->held.length > 0 && session->held_bytes + held->len > PS_IPFIX_MAX_HELD_BYTES))
        drop_oldest_held(session, stats);
    g_queue_push_tail(&session->held, held);
    session->held_bytes += held->len;
}

static PsDecodeResult decode_message(PsIpfixSession *session, const guint8 *data, gsize len,
                                     const PsIpfixInput *input, PsIpfixStats *stats,
                                     gboolean may_hold);

/* After new templates: decode what was held for them; what is still unknown stays held. */
static void
retry_held(PsIpfixSession *session, gint64 now_ms, PsIpfixStats *stats)
{
    guint n = session->held.length;

    for (guint i = 0; i < n; i++) {
        HeldMessage *held = g_queue_pop_head(&session->held);
        PsIpfixStats held_stats = {0};

        session->held_bytes -= held->len;
        held->input.v9 = held->have_v9 ? &held->v9 : NULL;
        if (now_ms - held->input.arrival_ms > PS_IPFIX_HELD_MAX_AGE_MS) {
            stats->dropped_sets += held->n_sets;
        } else {
            decode_message(session, held->bytes, held->len, &held->input, &held_stats, FALSE);
            stats->held_records += held_stats.records;
            if (held_stats.unknown_sets > 0) {
                /* still waiting: held again, counted once when it first arrived */
                hold_unknown_sets(session, held->bytes, &session->decoder->scan, &held->input,
                                  stats);
            }
        }
        held_message_free(held);
    }
}

static PsDecodeResult
decode_message(PsIpfixSession *session, const guint8 *data, gsize len, const PsIpfixInput *input,
               PsIpfixStats *stats, gboolean may_hold)
{
    PsIpfixScan *scan = &session->decoder->scan;
    PsDecodeResult result = ps_ipfix_scan(data, len, template_known, session, scan);
    const guint8 *clean = data;
    gsize clean_len = len;
    guint n_sets;
    guint32 domain = scan->domain;
    guint32 export_time = scan->export_time;

    if (result == PS_DECODE_TRUNCATED && scan->n_sets == 0)
        return result;
    stats->domain = domain;
    stats->sequence = scan->sequence;
    stats->bad_templates += scan->n_bad_templates;
    stats->skipped_sets += scan->n_skipped - scan->n_bad_templates;
    stats->unknown_sets += scan->n_unknown;
    if (scan->n_unknown > 0 || scan->n_skipped > 0 || result != PS_DECODE_OK) {
        if (scan->n_unknown > 0 && may_hold)
            hold_unknown_sets(session, data, scan, input, stats);
        clean = session->decoder->rebuilt;
        clean_len = rebuild_message(data, scan,
                                    1u << PS_SET_TEMPLATES | 1u << PS_SET_DATA_KNOWN,
                                    session->decoder->rebuilt, &n_sets);
    }
    stats->sequence_known = scan->n_unknown == 0 && result == PS_DECODE_OK;
    if (!read_records(session, clean, clean_len, domain, export_time, input, stats) &&
        result == PS_DECODE_OK)
        result = PS_DECODE_LIBFIXBUF;
    return result;
}

PsDecodeResult
ps_ipfix_decode(PsIpfixSession *session, const guint8 *data, gsize len, const PsIpfixInput *input,
                PsIpfixStats *stats)
{
    PsDecodeResult result = decode_message(session, data, len, input, stats, TRUE);
    gboolean has_templates = session->decoder->scan.has_templates;

    if (has_templates && session->held.length > 0)
        retry_held(session, input->arrival_ms, stats);
    return result;
}
