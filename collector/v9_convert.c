#include "config.h"

#include "cursor.h"
#include "v9_convert.h"

#define V9_TEMPLATE_FLOWSET 0
#define V9_OPTIONS_FLOWSET  1
#define IPFIX_TEMPLATE_SET  2
#define IPFIX_OPTIONS_SET   3

typedef struct {
    guint8 *out;
    gsize len;
    gboolean overflow;
} Writer;

static void
write_u16(Writer *writer, guint16 value)
{
    if (writer->len + 2 > PS_IPFIX_MAX_LEN) {
        writer->overflow = TRUE;
        return;
    }
    ps_put_u16(writer->out + writer->len, value);
    writer->len += 2;
}

static void
write_u32(Writer *writer, guint32 value)
{
    write_u16(writer, value >> 16);
    write_u16(writer, value & 0xffff);
}

static void
write_bytes(Writer *writer, const guint8 *bytes, gsize n)
{
    if (writer->len + n > PS_IPFIX_MAX_LEN) {
        writer->overflow = TRUE;
        return;
    }
    memcpy(writer->out + writer->len, bytes, n);
    writer->len += n;
}

/* v9 option scope types (RFC 3954 6.2) mapped to the IPFIX elements that mean the same. */
static guint16
scope_type_to_ipfix(guint16 v9_type)
{
    switch (v9_type) {
    case 1: /* System */
        return 144; /* exportingProcessId */
    case 2: /* Interface */
        return 10; /* ingressInterface */
    case 3: /* Line Card */
        return 141; /* lineCardId */
    case 4: /* Cache */
        return 145; /* templateId: no better match exists */
    case 5: /* Template */
        return 145; /* templateId */
    default:
        return v9_type;
    }
}

static void
write_field(Writer *writer, guint16 type, guint16 length)
{
    write_u16(writer, type);
    write_u16(writer, length);
    if (type & 0x8000)
        write_u32(writer, PS_V9_VENDOR_PEN);
}

/* Template flowset body: records of (id, count, count x (type, length)). */
static PsDecodeResult
convert_templates(PsCursor *body, Writer *writer)
{
    while (ps_cursor_remaining(body) >= 4) {
        guint16 template_id = ps_cursor_u16(body);
        guint16 field_count = ps_cursor_u16(body);

        if (template_id == 0 && field_count == 0)
            break; /* padding */
        /* v9 has no withdrawal: a template of no fields is broken, and passing it on would
         * read as an IPFIX withdrawal */
        if (template_id < 256 || field_count == 0 ||
            (gsize)field_count * 4 > ps_cursor_remaining(body))
            return PS_DECODE_BAD_TEMPLATE;
        write_u16(writer, template_id);
        write_u16(writer, field_count);
        for (guint i = 0; i < field_count; i++) {
            guint16 type = ps_cursor_u16(body);
            write_field(writer, type, ps_cursor_u16(body));
        }
    }
    return PS_DECODE_OK;
}

/* Options template flowset body: (id, scope length, option length) in bytes, not counts. */
static PsDecodeResult
convert_options_templates(PsCursor *body, Writer *writer)
{
    while (ps_cursor_remaining(body) >= 6) {
        guint16 template_id = ps_cursor_u16(body);
        guint16 scope_len = ps_cursor_u16(body);
        guint16 option_len = ps_cursor_u16(body);

        if (template_id == 0 && scope_len == 0 && option_len == 0)
            break; /* padding */
        if (template_id < 256 || scope_len % 4 != 0 || option_len % 4 != 0 || scope_len == 0 ||
            (gsize)scope_len + option_len > ps_cursor_remaining(body))
            return PS_DECODE_BAD_TEMPLATE;
        write_u16(writer, template_id);
        write_u16(writer, (scope_len + option_len) / 4);
        write_u16(writer, scope_len / 4);
        for (guint i = 0; i < scope_len / 4u; i++) {
            guint16 type = ps_cursor_u16(body);
            write_field(writer, scope_type_to_ipfix(type), ps_cursor_u16(body));
        }
        for (guint i = 0; i < option_len / 4u; i++) {
            guint16 type = ps_cursor_u16(body);
            write_field(writer, type, ps_cursor_u16(body));
        }
    }
    return PS_DECODE_OK;
}

static PsDecodeResult
convert_flowset(guint16 flowset_id, const guint8 *body, gsize body_len, Writer *writer)
{
    PsCursor cursor;
    gsize set_start = writer->len;
    PsDecodeResult result = PS_DECODE_OK;

    if (flowset_id > V9_OPTIONS_FLOWSET && flowset_id < 256)
        return PS_DECODE_OK; /* reserved flowset ids: skipped, as RFC 3954 asks */
    ps_cursor_init(&cursor, body, body_len);
    write_u16(writer, flowset_id == V9_TEMPLATE_FLOWSET  ? IPFIX_TEMPLATE_SET
                      : flowset_id == V9_OPTIONS_FLOWSET ? IPFIX_OPTIONS_SET
                                                         : flowset_id);
    write_u16(writer, 0); /* length, patched below */
    if (flowset_id == V9_TEMPLATE_FLOWSET)
        result = convert_templates(&cursor, writer);
    else if (flowset_id == V9_OPTIONS_FLOWSET)
        result = convert_options_templates(&cursor, writer);
    else
        write_bytes(writer, body, body_len);
    if (result != PS_DECODE_OK || writer->overflow) {
        writer->len = set_start; /* drop the half-written set */
        return result != PS_DECODE_OK ? result : PS_DECODE_BAD_LENGTH;
    }
    if (writer->len - set_start == 4)
        writer->len = set_start; /* a template flowset of padding only */
    else
        ps_put_u16(writer->out + set_start + 2, writer->len - set_start);
    return PS_DECODE_OK;
}

static void
read_header(PsCursor *cursor, PsV9Header *header)
{
    ps_cursor_skip(cursor, 2);
    header->count = ps_cursor_u16(cursor);
    header->sys_uptime_ms = ps_cursor_u32(cursor);
    header->unix_secs = ps_cursor_u32(cursor);
    header->sequence = ps_cursor_u32(cursor);
    header->source_id = ps_cursor_u32(cursor);
}

PsDecodeResult
ps_v9_to_ipfix(const guint8 *data, gsize len, PsV9Header *header, guint8 *out, gsize *out_len,
               gsize *consumed)
{
    PsCursor cursor;
    Writer writer = {.out = out, .len = PS_IPFIX_HEADER_LEN};
    PsDecodeResult result = PS_DECODE_OK;

    ps_cursor_init(&cursor, data, len);
    read_header(&cursor, header);
    *out_len = 0;
    *consumed = len;
    if (cursor.overrun)
        return PS_DECODE_TRUNCATED;

    while (ps_cursor_remaining(&cursor) >= 4) {
        gsize at = cursor.pos;
        guint16 flowset_id = ps_cursor_u16(&cursor);
        guint16 flowset_len = ps_cursor_u16(&cursor);

        if (flowset_id == 9 && len - at >= PS_V9_HEADER_LEN) {
            *consumed = at; /* flowset id 9 is reserved: the next datagram of a file starts */
            break;
        }
        if (flowset_id == 0 && flowset_len == 0)
            break; /* zero fill after the last flowset (Palo Alto PAN-OS 8.1) */
        if (flowset_len < 4) {
            result = PS_DECODE_BAD_LENGTH;
            break;
        }
        if (flowset_len - 4u > ps_cursor_remaining(&cursor)) {
            result = PS_DECODE_TRUNCATED;
            break;
        }
        result = convert_flowset(flowset_id, data + cursor.pos, flowset_len - 4u, &writer);
        if (result != PS_DECODE_OK)
            break;
        ps_cursor_skip(&cursor, flowset_len - 4u);
    }

    ps_put_u16(out, 10);
    ps_put_u16(out + 2, writer.len);
    ps_put_u32(out + 4, header->unix_secs);
    ps_put_u32(out + 8, header->sequence);
    ps_put_u32(out + 12, header->source_id);
    *out_len = writer.len;
    return result;
}
