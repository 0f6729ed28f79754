/* A structural pass over an IPFIX message (RFC 7011), before libfixbuf sees it.
 *
 * It checks every length against the bytes, validates each template record (fields fit the
 * set, a sane field count, a record that is not empty, options scope counts), and sorts the
 * sets into templates, data sets whose template is known, data sets whose template is not
 * (yet) known, and sets to skip. decode_ipfix.c uses the result to hand libfixbuf only what it
 * can decode and to hold back data that arrived before its template. Pure: no I/O, no state
 * beyond the callback that says whether a template id is already known. */
#pragma once

#include "decode.h"

#define PS_IPFIX_MAX_SETS       1024 /* per message; 65535 bytes of 4-byte empty sets is 16k */
#define PS_TEMPLATE_MAX_FIELDS  512  /* no real exporter sends more; libfixbuf copes badly */
#define PS_SCAN_MAX_TEMPLATE_CHANGES 512

typedef enum {
    PS_SET_TEMPLATES,     /* set 2 or 3 whose template records are all valid */
    PS_SET_DATA_KNOWN,    /* data set whose template exists (before or earlier in message) */
    PS_SET_DATA_UNKNOWN,  /* data set whose template is not known at its position */
    PS_SET_SKIP,          /* reserved set id, invalid template set, data set under one record */
} PsSetKind;

typedef struct {
    guint16 offset; /* from the start of the message */
    guint16 length; /* including the 4-byte set header */
    guint16 set_id;
    guint8 kind; /* PsSetKind */
} PsSetInfo;

typedef struct {
    guint16 length; /* from the header: bytes of this message */
    guint32 export_time;
    guint32 sequence;
    guint32 domain;
    guint n_sets;
    guint n_unknown;       /* data sets of kind PS_SET_DATA_UNKNOWN */
    guint n_bad_templates; /* template sets skipped for an invalid record */
    guint n_skipped;       /* sets skipped: bad templates and reserved ids */
    gboolean has_templates;
    PsSetInfo sets[PS_IPFIX_MAX_SETS];
} PsIpfixScan;

/* The shortest record of template_id if it is already known in the message's observation
 * domain (variable-length fields count 1 byte), 0 when it is not known. */
typedef guint32 (*PsTemplateKnownFn)(guint32 domain, guint16 template_id, gpointer user_data);

/* Scans the IPFIX message at data. On a malformed set the scan stops there: the sets before
 * it stay in scan and the result names the fault. Returns PS_DECODE_OK for a clean message. */
PsDecodeResult ps_ipfix_scan(const guint8 *data, gsize len, PsTemplateKnownFn known,
                             gpointer user_data, PsIpfixScan *scan);

/* Length of the IPFIX message at data (from its header), 0 if it cannot be one. */
gsize ps_ipfix_message_length(const guint8 *data, gsize len);
