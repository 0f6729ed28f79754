#include "config.h"

#include "cursor.h"
#include "ipfix_scan.h"

#define IPFIX_TEMPLATE_SET 2
#define IPFIX_OPTIONS_SET  3
#define IPFIX_VARLEN       65535

/* Template ids defined or withdrawn earlier in this message, in order; the last word wins. */
typedef struct {
    guint n;
    gboolean all_withdrawn;
    guint16 ids[PS_SCAN_MAX_TEMPLATE_CHANGES];
    guint32 min_record_len[PS_SCAN_MAX_TEMPLATE_CHANGES]; /* 0: withdrawn */
} TemplateChanges;

static void
note_change(TemplateChanges *changes, guint16 template_id, guint32 min_record_len)
{
    if (changes->n < PS_SCAN_MAX_TEMPLATE_CHANGES) {
        changes->ids[changes->n] = template_id;
        changes->min_record_len[changes->n] = min_record_len;
        changes->n++;
    }
}

/* Shortest record of the template, 0 when the template is not known here. */
static guint32
template_min_record_len(const TemplateChanges *changes, guint32 domain, guint16 template_id,
                        PsTemplateKnownFn known, gpointer user_data)
{
    for (guint i = changes->n; i > 0; i--) {
        if (changes->ids[i - 1] == template_id)
            return changes->min_record_len[i - 1];
    }
    if (changes->all_withdrawn)
        return 0;
    return known(domain, template_id, user_data);
}

/* Reads one template record's fields; its shortest record length, or 0 when the fields do not
 * fit or describe an empty record (a zero-length record would make a data set an endless loop
 * of records). */
static guint32
read_template_fields(PsCursor *cursor, guint16 field_count)
{
    guint32 min_record_len = 0;

    if (field_count > PS_TEMPLATE_MAX_FIELDS)
        return FALSE;
    for (guint i = 0; i < field_count; i++) {
        guint16 type = ps_cursor_u16(cursor);
        guint16 length = ps_cursor_u16(cursor);

        if (type & 0x8000)
            ps_cursor_skip(cursor, 4); /* enterprise number */
        min_record_len += length == IPFIX_VARLEN ? 1 : length;
    }
    return cursor->overrun ? 0 : min_record_len;
}

/* Validates every template record of a set 2 or 3 and notes what it defines or withdraws. */
static gboolean
read_template_set(const guint8 *body, gsize body_len, gboolean options, TemplateChanges *changes)
{
    PsCursor cursor;
    gsize header_len = options ? 6 : 4;

    ps_cursor_init(&cursor, body, body_len);
    while (ps_cursor_remaining(&cursor) >= header_len) {
        guint16 template_id = ps_cursor_u16(&cursor);
        guint16 field_count = ps_cursor_u16(&cursor);
        guint16 scope_count = 0;

        if (field_count == 0) { /* withdrawal (RFC 7011 8.1); ids 2 and 3 withdraw all */
            if (template_id == IPFIX_TEMPLATE_SET || template_id == IPFIX_OPTIONS_SET)
                changes->all_withdrawn = TRUE;
            else if (template_id >= 256)
                note_change(changes, template_id, 0);
            else
                return FALSE;
            continue;
        }
        if (options)
            scope_count = ps_cursor_u16(&cursor);
        guint32 min_record_len;

        if (template_id < 256 || (options && (scope_count == 0 || scope_count > field_count)))
            return FALSE;
        min_record_len = read_template_fields(&cursor, field_count);
        if (min_record_len == 0)
            return FALSE;
        note_change(changes, template_id, min_record_len);
    }
    return TRUE;
}

static PsSetKind
classify_set(const guint8 *data, const PsSetInfo *set, PsIpfixScan *scan,
             TemplateChanges *changes, PsTemplateKnownFn known, gpointer user_data)
{
    const guint8 *body = data + set->offset + 4;
    gsize body_len = set->length - 4u;
    guint32 min_record_len;

    if (set->set_id == IPFIX_TEMPLATE_SET || set->set_id == IPFIX_OPTIONS_SET) {
        /* a bad record spoils its whole set: what follows it cannot be trusted either */
        TemplateChanges tentative = *changes;
        if (!read_template_set(body, body_len, set->set_id == IPFIX_OPTIONS_SET, &tentative)) {
            scan->n_bad_templates++;
            return PS_SET_SKIP;
        }
        *changes = tentative;
        scan->has_templates = TRUE;
        return PS_SET_TEMPLATES;
    }
    if (set->set_id < 256)
        return PS_SET_SKIP;
    min_record_len = template_min_record_len(changes, scan->domain, set->set_id, known, user_data);
    if (min_record_len == 0) {
        scan->n_unknown++;
        return PS_SET_DATA_UNKNOWN;
    }
    /* shorter than one record: padding or a lie, and libfixbuf would read past it */
    if (body_len < min_record_len)
        return PS_SET_SKIP;
    return PS_SET_DATA_KNOWN;
}

gsize
ps_ipfix_message_length(const guint8 *data, gsize len)
{
    guint16 length = ps_peek_u16(data, len, 2);

    if (len < 16 || ps_peek_u16(data, len, 0) != 10 || length < 16)
        return 0;
    return length;
}

PsDecodeResult
ps_ipfix_scan(const guint8 *data, gsize len, PsTemplateKnownFn known, gpointer user_data,
              PsIpfixScan *scan)
{
    PsCursor cursor;
    TemplateChanges *changes = g_alloca(sizeof(TemplateChanges));

    changes->n = 0;
    changes->all_withdrawn = FALSE;
    scan->n_sets = scan->n_unknown = scan->n_bad_templates = scan->n_skipped = 0;
    scan->has_templates = FALSE;

    ps_cursor_init(&cursor, data, len);
    ps_cursor_skip(&cursor, 2);
    scan->length = ps_cursor_u16(&cursor);
    scan->export_time = ps_cursor_u32(&cursor);
    scan->sequence = ps_cursor_u32(&cursor);
    scan->domain = ps_cursor_u32(&cursor);
    if (cursor.overrun || scan->length > len)
        return PS_DECODE_TRUNCATED;
    if (scan->length < 16)
        return PS_DECODE_BAD_LENGTH;
    cursor.len = scan->length;

    while (ps_cursor_remaining(&cursor) >= 4) {
        PsSetInfo *set = &scan->sets[scan->n_sets];

        set->offset = cursor.pos;
        set->set_id = ps_cursor_u16(&cursor);
        set->length = ps_cursor_u16(&cursor);
        /* nfdump: a set shorter than its header ends the message, the next cannot be found */
        if (set->length < 4)
            return PS_DECODE_BAD_LENGTH;
        if (set->length - 4u > ps_cursor_remaining(&cursor))
            return PS_DECODE_TRUNCATED;
        if (scan->n_sets == PS_IPFIX_MAX_SETS)
            return PS_DECODE_BAD_LENGTH;
        ps_cursor_skip(&cursor, set->length - 4u);
        set->kind = classify_set(data, set, scan, changes, known, user_data);
        if (set->kind == PS_SET_SKIP)
            scan->n_skipped++;
        scan->n_sets++;
    }
    return PS_DECODE_OK;
}
