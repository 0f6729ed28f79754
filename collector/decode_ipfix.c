#include "config.h"

#include <fixbuf/public.h>
#include <string.h>

#include "cursor.h"
#include "decode_ipfix.h"
#include "ipfix_plan.h"
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
    gboolean fast_path;          /* decode data sets with a plan without fBufNext() */
    PsIpfixPlanTargets targets;  /* the internal record's layout, for building plans */
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

/* What every record of one message shares, looked up once per message. */
typedef struct {
    PsIpfixSession *session;
    const PsIpfixInput *input;
    PsIpfixStats *stats;
    DomainState *state; /* NULL until an options record of the domain arrives */
    PsRecordClock clock;
    guint32 domain;
    guint32 sequence;
    guint8 version;
    gboolean clean; /* the scan kept every set: libfixbuf may read the message as it is */
} MessageContext;

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
    g_autoptr(PsIpfixDecoder) decoder = g_new0(PsIpfixDecoder, 1);
    fbTemplate_t *internal;
    gboolean targets_ok;

    static gsize log_handler_set = 0;

    if (g_once_init_enter(&log_handler_set)) {
        g_log_set_handler(NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO,
                          quiet_libfixbuf_log, NULL);
        g_once_init_leave(&log_handler_set, 1);
    }
    decoder->model = fbInfoModelAlloc();
    decoder->sink = sink;
    decoder->user_data = user_data;
    internal = ps_ipfix_record_template(decoder->model, error);
    if (internal == NULL)
        return NULL;
    targets_ok = ps_ipfix_plan_targets_init(&decoder->targets, internal);
    fbTemplateFreeUnused(internal);
    /* a debugging switch, for comparing the two paths on live traffic */
    decoder->fast_path = targets_ok && g_strcmp0(g_getenv("PS_IPFIX_FAST_PATH"), "0") != 0;
    return g_steal_pointer(&decoder);
}

void
ps_ipfix_decoder_set_fast_path(PsIpfixDecoder *decoder, gboolean enabled)
{
    g_return_if_fail(decoder != NULL);
    decoder->fast_path = enabled && decoder->targets.n > 0;
}

void
ps_ipfix_decoder_free(PsIpfixDecoder *decoder)
{
    if (decoder == NULL)
        return;
    fbInfoModelFree(decoder->model);
    g_free(decoder);
}

static void
free_plan(void *template_context, void *app_context)
{
    (void)app_context;
    ps_ipfix_plan_free(template_context);
}

/* libfixbuf's new-template callback: the plan becomes the template's context, so it is freed
 * with the template when libfixbuf replaces or withdraws it, and a data set always finds the
 * plan of the template libfixbuf holds for its (domain, id) at that point of the message. */
static void
attach_plan(fbSession_t *session, uint16_t template_id, fbTemplate_t *template,
            void *app_context, void **template_context, fbTemplateCtxFree_fn *free_context)
{
    PsIpfixDecoder *decoder = app_context;

    (void)session;
    (void)template_id;
    if (decoder->targets.n == 0)
        return;
    *template_context = ps_ipfix_plan_new(&decoder->targets, template);
    *free_context = *template_context != NULL ? free_plan : NULL;
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
    /* before any fBufNext(): every external template gets its plan as it arrives */
    fbSessionAddNewTemplateCallback(session->session, attach_plan, decoder);
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

guint32
ps_ipfix_session_sampling(PsIpfixSession *session, guint32 domain)
{
    DomainState *state = g_hash_table_lookup(session->domains, GUINT_TO_POINTER(domain));

    return state != NULL ? state->sampling : 0;
}

/* Length of every record of a template without variable-length elements, 0 for one with. */
static guint32
fixed_record_len(fbTemplate_t *template)
{
    const PsIpfixPlan *plan = fbTemplateGetContext(template);
    guint32 n_elements = fbTemplateCountElements(template);
    guint32 record_len = 0;

    if (plan != NULL)
        return ps_ipfix_plan_record_len(plan);
    for (guint32 i = 0; i < n_elements; i++) {
        guint16 length = fbTemplateGetIndexedIE(template, i)->len;
        if (length == FB_IE_VARLEN)
            return 0;
        record_len += length;
    }
    return record_len;
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
    if (template != NULL && fbTemplateGetContext(template) != NULL)
        return ps_ipfix_plan_record_len(fbTemplateGetContext(template));
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
read_options_record(MessageContext *context, const PsIpfixRecord *record)
{
    guint32 sampling = ps_ipfix_record_sampling(record);
    DomainState *state = context->state;

    if (state == NULL) {
        state = g_new0(DomainState, 1);
        g_hash_table_insert(context->session->domains, GUINT_TO_POINTER(context->domain), state);
        context->state = state;
    }
    if (sampling > 0)
        state->sampling = sampling;
    if (record->system_init_ms > 0)
        state->system_init_ms = (gint64)record->system_init_ms;
}

static guint32
record_sampling(const MessageContext *context, const PsIpfixRecord *record)
{
    guint32 sampling = ps_ipfix_record_sampling(record);

    if (sampling > 0)
        return sampling;
    if (context->state != NULL && context->state->sampling > 0)
        return context->state->sampling;
    return context->input->default_sampling > 0 ? context->input->default_sampling : 1;
}

static void
emit_flow(const MessageContext *context, const PsIpfixRecord *record)
{
    PsFlow flow = {0};
    PsRecordClock clock = context->clock;
    PsIpfixDecoder *decoder = context->session->decoder;

    /* read per record: an options record earlier in the message may have set it */
    clock.system_init_ms = context->state != NULL ? context->state->system_init_ms : 0;
    ps_ipfix_record_to_flow(record, &clock, &flow);
    flow.exporter = context->session->exporter;
    flow.version = context->version;
    flow.domain = context->domain;
    flow.sampling = record_sampling(context, record);
    decoder->sink(&flow, decoder->user_data);
}

/* Copies the header and the sets first..end - 1 of the given kinds into out; returns the new
 * length. */
static gsize
rebuild_message(const guint8 *data, const PsIpfixScan *scan, guint first, guint end,
                guint kinds_mask, guint8 *out, guint *n_sets)
{
    gsize len = PS_IPFIX_HEADER_LEN;

    memcpy(out, data, PS_IPFIX_HEADER_LEN);
    *n_sets = 0;
    for (guint i = first; i < end; i++) {
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

/* How many records libfixbuf will read from sets first..end - 1, or -1 when it cannot be known
 * beforehand (template sets among them, variable-length records). libfixbuf reads
 * body / record length records from a data set of a fixed-length template and skips the rest
 * as padding, so counting lets us stop before the fBufNext() that would only build an
 * end-of-message GError. */
static gssize
expected_records(const MessageContext *context, const PsIpfixScan *scan, guint first, guint end)
{
    gssize expected = 0;

    for (guint i = first; i < end; i++) {
        const PsSetInfo *set = &scan->sets[i];
        fbTemplate_t *template;
        guint32 record_len;

        if (set->kind == PS_SET_TEMPLATES)
            return -1;
        if (set->kind != PS_SET_DATA_KNOWN)
            continue;
        template = fbSessionGetTemplate(context->session->session, FALSE, set->set_id, NULL);
        record_len = template != NULL ? fixed_record_len(template) : 0;
        if (record_len == 0)
            return -1;
        expected += (set->length - 4u) / record_len;
    }
    return expected;
}

/* Runs libfixbuf over sets first..end - 1 of the message (templates and data sets whose template
 * is known); FALSE when it gave up part-way. */
static gboolean
read_records(MessageContext *context, const guint8 *data, gsize len, const PsIpfixScan *scan,
             guint first, guint end)
{
    PsIpfixSession *session = context->session;
    PsIpfixRecord record;
    gssize expected;
    guint n_sets = scan->n_sets;

    fbSessionSetDomain(session->session, context->domain);
    expected = expected_records(context, scan, first, end);
    if (expected == 0)
        return TRUE;
    if (!context->clean || first > 0 || end < scan->n_sets) {
        len = rebuild_message(data, scan, first, end,
                              1u << PS_SET_TEMPLATES | 1u << PS_SET_DATA_KNOWN,
                              session->decoder->rebuilt, &n_sets);
        data = session->decoder->rebuilt;
    }
    if (n_sets == 0)
        return TRUE;
    fbSessionSetSequence(session->session, context->sequence);
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

        if (expected >= 0 && n == (gsize)expected)
            return TRUE;
        /* no memset: libfixbuf writes every field of the internal template, zeroes for the
         * ones the external template lacks (fbTranscodeZero; tested in test-ipfix-plan.c) */
        if (!fBufNext(session->fbuf, (uint8_t *)&record, &record_len, &error))
            return g_error_matches(error, FB_ERROR_DOMAIN, FB_ERROR_EOM) ||
                   g_error_matches(error, FB_ERROR_DOMAIN, FB_ERROR_BUFSZ);
        template = fBufGetCollectionTemplate(session->fbuf, NULL);
        if (template != NULL && fbTemplateGetOptionsScope(template) > 0) {
            read_options_record(context, &record);
            context->stats->options_records++;
            continue;
        }
        emit_flow(context, &record);
        context->stats->records++;
    }
    return FALSE;
}

/* The fast path: every record of a data set whose template has a plan, straight from the
 * bytes. The scan checked that the set lies within the message; the remainder after the last
 * whole record is padding, as libfixbuf treats it. */
static void
decode_planned_set(MessageContext *context, const PsIpfixPlan *plan, const guint8 *body,
                   gsize body_len)
{
    guint16 record_len = ps_ipfix_plan_record_len(plan);
    gsize n_records = body_len / record_len;
    PsIpfixRecord record;

    ps_ipfix_plan_prepare(plan, &record);
    for (gsize i = 0; i < n_records; i++) {
        ps_ipfix_plan_decode(plan, body + i * record_len, &record);
        emit_flow(context, &record);
    }
    context->stats->records += n_records;
}

/* The plan of the template libfixbuf holds now for a data set's id, NULL when there is none. */
static const PsIpfixPlan *
current_plan(const MessageContext *context, guint16 set_id)
{
    fbTemplate_t *template;

    if (!context->session->decoder->fast_path)
        return NULL;
    fbSessionSetDomain(context->session->session, context->domain);
    template = fbSessionGetTemplate(context->session->session, FALSE, set_id, NULL);
    return template != NULL ? fbTemplateGetContext(template) : NULL;
}

/* Decodes the kept sets of a scanned message in order: runs of sets without a plan (templates,
 * options, variable-length records) go to libfixbuf, and are handed over before any later set
 * is looked at so that a data set sees the templates that precede it; data sets with a plan
 * are decoded directly. FALSE when libfixbuf gave up part-way (the rest is not read). */
static gboolean
decode_sets(MessageContext *context, const guint8 *data, gsize len, const PsIpfixScan *scan)
{
    guint first = 0; /* first set not yet decoded */
    gboolean templates_pending = FALSE;

    for (guint i = 0; i < scan->n_sets; i++) {
        const PsSetInfo *set = &scan->sets[i];
        const PsIpfixPlan *plan;

        if (set->kind == PS_SET_TEMPLATES)
            templates_pending = TRUE;
        if (set->kind != PS_SET_DATA_KNOWN || !context->session->decoder->fast_path)
            continue;
        if (templates_pending) {
            if (!read_records(context, data, len, scan, first, i))
                return FALSE;
            first = i;
            templates_pending = FALSE;
        }
        plan = current_plan(context, set->set_id);
        if (plan == NULL)
            continue;
        if (first < i && !read_records(context, data, len, scan, first, i))
            return FALSE;
        decode_planned_set(context, plan, data + set->offset + 4, set->length - 4u);
        first = i + 1;
    }
    return first >= scan->n_sets || read_records(context, data, len, scan, first, scan->n_sets);
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

    held->len = rebuild_message(data, scan, 0, scan->n_sets, 1u << PS_SET_DATA_UNKNOWN, out,
                                &held->n_sets);
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
    PsDecodeResult result;
    MessageContext context = {.session = session, .input = input, .stats = stats};
    guint32 domain = (guint32)ps_peek_u16(data, len, 12) << 16 | ps_peek_u16(data, len, 14);

    if (!g_hash_table_contains(session->domains, GUINT_TO_POINTER(domain))) {
        if (g_hash_table_size(session->domains) >= PS_IPFIX_MAX_DOMAINS)
            return PS_DECODE_TOO_MANY_DOMAINS;
        g_hash_table_insert(session->domains, GUINT_TO_POINTER(domain), g_new0(DomainState, 1));
    }
    result = ps_ipfix_scan(data, len, template_known, session, scan);

    if (result == PS_DECODE_TRUNCATED && scan->n_sets == 0)
        return result;
    stats->domain = scan->domain;
    stats->sequence = scan->sequence;
    stats->bad_templates += scan->n_bad_templates;
    stats->skipped_sets += scan->n_skipped - scan->n_bad_templates;
    stats->unknown_sets += scan->n_unknown;
    if (scan->n_unknown > 0 && may_hold)
        hold_unknown_sets(session, data, scan, input, stats);
    stats->sequence_known = scan->n_unknown == 0 && result == PS_DECODE_OK;

    context.domain = scan->domain;
    context.sequence = scan->sequence;
    context.state = g_hash_table_lookup(session->domains, GUINT_TO_POINTER(scan->domain));
    context.clean = scan->n_unknown == 0 && scan->n_skipped == 0 && result == PS_DECODE_OK;
    context.version = input->v9 != NULL ? 9 : 10;
    context.clock.export_ms = (gint64)scan->export_time * 1000;
    if (input->v9 != NULL) {
        context.clock.have_v9_uptime = TRUE;
        context.clock.v9_sys_uptime_ms = input->v9->sys_uptime_ms;
    }
    if (!decode_sets(&context, data, len, scan) && result == PS_DECODE_OK)
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
