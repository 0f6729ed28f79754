/* NetFlow v9 (RFC 3954) rewritten as an IPFIX message (RFC 7011) so that one libfixbuf path
 * decodes both.
 *
 * Why our own conversion and not libfixbuf's v9 translator: the translator lives in
 * fbCollector, and fBufSetBuffer() (how we hand libfixbuf our recvmmsg buffers) sets the
 * collector to NULL (libfixbuf src/fbuf.c). The formats differ only in framing: the header
 * (20 bytes, sysUptime + unix_secs) becomes a 16-byte IPFIX header, flowset 0 becomes set 2,
 * flowset 1 (options templates counted in bytes, v9 scope types) becomes set 3, data
 * flowsets are copied. v9 field types with the top bit set are vendor types, not enterprise
 * elements; they get an explicit enterprise number so IPFIX parsing stays aligned. */
#pragma once

#include "decode.h"

#define PS_V9_HEADER_LEN    20
#define PS_IPFIX_HEADER_LEN 16
#define PS_IPFIX_MAX_LEN    65535
/* Enterprise number given to v9 vendor field types (top bit set) so that libfixbuf keeps them
 * apart from IANA elements; 32473 is the documentation PEN of RFC 5612. */
#define PS_V9_VENDOR_PEN 32473

typedef struct {
    guint16 count;
    guint32 sys_uptime_ms;
    guint32 unix_secs;
    guint32 sequence;
    guint32 source_id;
} PsV9Header;

/* Converts the v9 datagram at data into an IPFIX message in out (capacity PS_IPFIX_MAX_LEN).
 * *consumed is how many input bytes belonged to this datagram (a file may hold several).
 * A malformed flowset ends the conversion: the flowsets before it are kept in out and the
 * result says what was wrong. */
PsDecodeResult ps_v9_to_ipfix(const guint8 *data, gsize len, PsV9Header *header, guint8 *out,
                              gsize *out_len, gsize *consumed);
