/* Bounds-checked big-endian reads: the only way the decoders touch packet bytes.
 *
 * A read past the end returns 0 and sets `overrun`, so a decoder can read a whole header and
 * check once, instead of checking before every field. Nothing is cast to a struct: datagrams
 * are unaligned and may lie about their lengths. */
#pragma once

#include <glib.h>
#include <string.h>

typedef struct {
    const guint8 *data;
    gsize len;
    gsize pos;
    gboolean overrun;
} PsCursor;

static inline void
ps_cursor_init(PsCursor *cursor, const guint8 *data, gsize len)
{
    cursor->data = data;
    cursor->len = len;
    cursor->pos = 0;
    cursor->overrun = FALSE;
}

static inline gsize
ps_cursor_remaining(const PsCursor *cursor)
{
    return cursor->len - cursor->pos;
}

/* TRUE when n more bytes can be read; otherwise marks the cursor overrun. */
static inline gboolean
ps_cursor_take(PsCursor *cursor, gsize n)
{
    if (cursor->overrun || n > cursor->len - cursor->pos) {
        cursor->overrun = TRUE;
        return FALSE;
    }
    return TRUE;
}

static inline const guint8 *
ps_cursor_bytes(PsCursor *cursor, gsize n)
{
    const guint8 *at;

    if (!ps_cursor_take(cursor, n))
        return NULL;
    at = cursor->data + cursor->pos;
    cursor->pos += n;
    return at;
}

static inline void
ps_cursor_skip(PsCursor *cursor, gsize n)
{
    (void)ps_cursor_bytes(cursor, n);
}

static inline guint8
ps_cursor_u8(PsCursor *cursor)
{
    const guint8 *p = ps_cursor_bytes(cursor, 1);
    return p ? p[0] : 0;
}

static inline guint16
ps_cursor_u16(PsCursor *cursor)
{
    const guint8 *p = ps_cursor_bytes(cursor, 2);
    return p ? (guint16)(p[0] << 8 | p[1]) : 0;
}

static inline guint32
ps_cursor_u32(PsCursor *cursor)
{
    const guint8 *p = ps_cursor_bytes(cursor, 4);
    return p ? (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3] : 0;
}

/* Big-endian reads inside a span ps_cursor_bytes() returned, whose length is already
 * checked: a fixed-size record is checked once, not field by field. */
static inline guint16
ps_span_u16(const guint8 *span, gsize offset)
{
    return (guint16)(span[offset] << 8 | span[offset + 1]);
}

static inline guint32
ps_span_u32(const guint8 *span, gsize offset)
{
    return (guint32)span[offset] << 24 | (guint32)span[offset + 1] << 16 |
           (guint32)span[offset + 2] << 8 | span[offset + 3];
}

/* Reads without moving: 0 when fewer than 2 bytes are left at offset. */
static inline guint16
ps_peek_u16(const guint8 *data, gsize len, gsize offset)
{
    if (offset > len || len - offset < 2)
        return 0;
    return (guint16)(data[offset] << 8 | data[offset + 1]);
}

static inline void
ps_put_u16(guint8 *at, guint16 value)
{
    at[0] = value >> 8;
    at[1] = value & 0xff;
}

static inline void
ps_put_u32(guint8 *at, guint32 value)
{
    at[0] = value >> 24;
    at[1] = (value >> 16) & 0xff;
    at[2] = (value >> 8) & 0xff;
    at[3] = value & 0xff;
}
