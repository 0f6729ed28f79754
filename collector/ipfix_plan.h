/* Compiled decode plans: the fast path for data sets of fixed-length templates.
 *
 * libfixbuf stays the parser of every template and options template and the authority for
 * which templates exist; a plan is built from a template libfixbuf accepted (its new-template
 * callback, see decode_ipfix.c) and lives exactly as long as that template, as the template's
 * context. It lists, for each element of the internal record (PsIpfixRecord) that the external
 * template carries, where it is in the record's bytes and how libfixbuf's transcoder would
 * convert it (fbDecodeFixed: big-endian integers reduced or truncated to the internal length,
 * octet arrays copied and zero-filled), so a data set decodes in a tight loop without
 * fBufNext(). Templates the plan cannot express exactly (variable-length elements, options
 * templates, records longer than PS_IPFIX_PLAN_MAX_RECORD_LEN) get no plan and stay on the
 * libfixbuf path. */
#pragma once

#include <fixbuf/public.h>

#include "ipfix_record.h"

#define PS_IPFIX_PLAN_MAX_TARGETS     64    /* elements of the internal template */
#define PS_IPFIX_PLAN_MAX_RECORD_LEN  65535 /* a data record of a fixed-length template */

/* Where each element of the internal template goes in PsIpfixRecord; built once per decoder. */
typedef struct {
    guint n;
    struct {
        guint16 num;
        guint16 offset; /* in PsIpfixRecord */
        guint16 len;
        gboolean endian; /* FB_IE_F_ENDIAN: an integer, converted to host order */
    } targets[PS_IPFIX_PLAN_MAX_TARGETS];
} PsIpfixPlanTargets;

typedef struct PsIpfixPlan PsIpfixPlan;

/* Reads the element layout of the internal template (the one ps_ipfix_record_template() built);
 * FALSE when it is not one a plan can fill (never for ours). */
gboolean ps_ipfix_plan_targets_init(PsIpfixPlanTargets *targets, fbTemplate_t *internal);

/* A plan for decoding records of the external template into PsIpfixRecord, or NULL when the
 * template has variable-length elements, is an options template, or is empty. */
PsIpfixPlan *ps_ipfix_plan_new(const PsIpfixPlanTargets *targets, fbTemplate_t *external);
void ps_ipfix_plan_free(PsIpfixPlan *plan);

/* Length of one data record of the plan's template: the set body holds body_len / record_len
 * records, the rest is padding. */
guint16 ps_ipfix_plan_record_len(const PsIpfixPlan *plan);

/* Zeroes the fields of record the plan never writes; call once before a run of
 * ps_ipfix_plan_decode() into the same record. */
void ps_ipfix_plan_prepare(const PsIpfixPlan *plan, PsIpfixRecord *record);

/* Decodes the record_len bytes at bytes into record, as libfixbuf would transcode them.
 * Writes every field the template carries; the others keep what ps_ipfix_plan_prepare() left. */
void ps_ipfix_plan_decode(const PsIpfixPlan *plan, const guint8 *bytes, PsIpfixRecord *record);
