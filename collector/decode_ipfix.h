/* IPFIX, and NetFlow v9 converted by v9_convert.c, decoded through libfixbuf.
 *
 * Path taken: our own buffers go to fBufSetBuffer() one message at a time, on one fbSession_t
 * and fBuf_t per exporter, so templates and options templates are kept per (exporter,
 * observation domain / source id): libfixbuf keys external templates by domain within a
 * session. Before libfixbuf sees a message, ipfix_scan.c checks its structure; data sets whose
 * template is not known yet are cut out and held (a bounded number per exporter) until a
 * template set arrives, then decoded. Options records set the exporter's sampling interval and
 * system init time per domain.
 *
 * Data sets whose template libfixbuf holds and which a compiled plan can express (fixed-length,
 * not options: ipfix_plan.h) are decoded straight from the bytes; runs of the other sets
 * (templates, options, variable-length records) still go through fBufNext(), in message order. */
#pragma once

#include "decode.h"
#include "flow.h"
#include "v9_convert.h"

#define PS_IPFIX_MAX_HELD_MESSAGES 32
#define PS_IPFIX_MAX_HELD_BYTES    (256 * 1024)
#define PS_IPFIX_HELD_MAX_AGE_MS   (10 * 60 * 1000)
/* Observation domains (v9 source ids) per exporter: each costs template tables in libfixbuf,
 * so a sender cycling through ids must not grow memory without end. */
#define PS_IPFIX_MAX_DOMAINS 1024

typedef struct PsIpfixDecoder PsIpfixDecoder;
typedef struct PsIpfixSession PsIpfixSession;

/* What one message did, for the exporter's counters. */
typedef struct {
    guint32 domain;
    guint32 sequence;
    guint records;          /* flow records delivered to the sink from this message */
    guint options_records;  /* options records read (sampling, system init time) */
    guint held_records;     /* records delivered from earlier held sets */
    guint unknown_sets;     /* data sets held because their template is unknown */
    guint dropped_sets;     /* held sets given up (bound reached or too old) */
    guint bad_templates;    /* template sets refused by the scan or by libfixbuf */
    guint skipped_sets;     /* reserved set ids */
    gboolean sequence_known; /* all data sets decoded: records counts the sequence advance */
} PsIpfixStats;

/* What the message's times are relative to, and the sampling default for its exporter. */
typedef struct {
    gint64 arrival_ms;
    guint32 default_sampling; /* 0: none configured */
    const PsV9Header *v9;     /* the original v9 header, NULL for native IPFIX */
} PsIpfixInput;

/* One per process (or per test): owns the information model. sink gets every flow record. */
PsIpfixDecoder *ps_ipfix_decoder_new(PsFlowSink sink, gpointer user_data, GError **error);
void ps_ipfix_decoder_free(PsIpfixDecoder *decoder);

/* Data sets of fixed-length templates are decoded by a compiled plan (ipfix_plan.h) unless this
 * is turned off; then every record goes through fBufNext(). Both give the same flows (see
 * tests/test-ipfix-plan.c). On by default; the environment variable PS_IPFIX_FAST_PATH=0 turns
 * it off for decoders created afterwards. */
void ps_ipfix_decoder_set_fast_path(PsIpfixDecoder *decoder, gboolean enabled);

/* One per exporter address; freed with the exporter. */
PsIpfixSession *ps_ipfix_session_new(PsIpfixDecoder *decoder, const PsAddress *exporter,
                                     GError **error);
void ps_ipfix_session_free(PsIpfixSession *session);

/* Decodes one IPFIX message (len bytes from data, exactly one message). */
PsDecodeResult ps_ipfix_decode(PsIpfixSession *session, const guint8 *data, gsize len,
                               const PsIpfixInput *input, PsIpfixStats *stats);

/* Current sampling interval announced by options records for a domain, 0 when none. */
guint32 ps_ipfix_session_sampling(PsIpfixSession *session, guint32 domain);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsIpfixDecoder, ps_ipfix_decoder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsIpfixSession, ps_ipfix_session_free)
