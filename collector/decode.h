/* What every decoder returns for one export packet, and the per-packet facts the exporter
 * bookkeeping needs. Per-packet trouble is never logged or allocated: it becomes a result
 * code that the caller counts (see exporter.h). */
#pragma once

#include <glib.h>

typedef enum {
    PS_DECODE_OK = 0,
    PS_DECODE_TRUNCATED,      /* header or record runs past the datagram */
    PS_DECODE_BAD_LENGTH,     /* a length or count field disagrees with the bytes */
    PS_DECODE_BAD_VERSION,    /* not NetFlow v5, v9 or IPFIX */
    PS_DECODE_BAD_TEMPLATE,   /* a template that cannot be right (no fields fit, ...) */
    PS_DECODE_LIBFIXBUF,      /* libfixbuf refused the message */
    PS_DECODE_TOO_MANY_DOMAINS, /* an exporter past PS_IPFIX_MAX_DOMAINS observation domains */
} PsDecodeResult;

/* Human text for a result, for logs and --dump summaries. */
const char *ps_decode_result_to_string(PsDecodeResult result);
