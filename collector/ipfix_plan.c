#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ipfix_plan.h"

/* How one element is converted; mirrors libfixbuf's fbDecodeFixed() for our lengths. The
 * common cases get a loop of their own (no per-element dispatch); OP_SIZED and OP_BYTES cover
 * every other length. */
typedef enum {
    OP_BE64,        /* integer, 8 bytes to 8 */
    OP_BE32,        /* integer, 4 to 4 */
    OP_BE32_TO_64,  /* integer, 4 to 8 (NetFlow v9 counters) */
    OP_BE16,        /* integer, 2 to 2 */
    OP_U8,          /* integer, 1 to 1 */
    OP_U8_TO_16,    /* integer, 1 to 2 (tcpControlBits of v9 and older IPFIX exporters) */
    OP_COPY16,      /* 16 octets to 16 (IPv6 addresses) */
    OP_SIZED,       /* integer of other lengths: the last min(source, target) bytes */
    OP_BYTES,       /* other octets: the first min(source, target) bytes */
    N_OP_KINDS
} OpKind;

typedef struct {
    guint16 source;     /* offset in the data record (already past truncated bytes) */
    guint16 target;     /* offset in PsIpfixRecord */
    guint16 source_len; /* bytes read */
    guint8 target_len;
    guint8 kind;
} PlanOp;

struct PsIpfixPlan {
    guint16 record_len;
    guint n_ops;
    guint8 n_of_kind[N_OP_KINDS];
    PlanOp ops[PS_IPFIX_PLAN_MAX_TARGETS]; /* sorted by kind */
};

gboolean
ps_ipfix_plan_targets_init(PsIpfixPlanTargets *targets, fbTemplate_t *internal)
{
    guint32 n = fbTemplateCountElements(internal);
    guint offset = 0;

    if (n > PS_IPFIX_PLAN_MAX_TARGETS)
        return FALSE;
    targets->n = n;
    for (guint32 i = 0; i < n; i++) {
        const fbInfoElement_t *ie = fbTemplateGetIndexedIE(internal, i);
        gboolean endian = (ie->flags & FB_IE_F_ENDIAN) != 0;

        if (ie->ent != 0 || ie->len == FB_IE_VARLEN || ie->len > 16)
            return FALSE;
        if (endian && ie->len != 1 && ie->len != 2 && ie->len != 4 && ie->len != 8)
            return FALSE;
        targets->targets[i].num = ie->num;
        targets->targets[i].offset = offset;
        targets->targets[i].len = ie->len;
        targets->targets[i].endian = endian;
        offset += ie->len;
    }
    return offset == sizeof(PsIpfixRecord);
}

static OpKind
op_kind(gboolean endian, guint16 source_len, guint16 target_len)
{
    if (!endian)
        return source_len == 16 && target_len == 16 ? OP_COPY16 : OP_BYTES;
    if (source_len == target_len) {
        switch (target_len) {
        case 1:
            return OP_U8;
        case 2:
            return OP_BE16;
        case 4:
            return OP_BE32;
        default:
            return OP_BE64;
        }
    }
    if (source_len == 4 && target_len == 8)
        return OP_BE32_TO_64;
    if (source_len == 1 && target_len == 2)
        return OP_U8_TO_16;
    return OP_SIZED;
}

static gint
compare_ops(gconstpointer a, gconstpointer b)
{
    const PlanOp *op_a = a;
    const PlanOp *op_b = b;

    if (op_a->kind != op_b->kind)
        return op_a->kind < op_b->kind ? -1 : 1;
    return op_a->source < op_b->source ? -1 : op_a->source > op_b->source;
}

/* Adds the conversion of the element at offset (length len) into target i. */
static void
add_op(PsIpfixPlan *plan, const PsIpfixPlanTargets *targets, guint i, guint offset, guint16 len)
{
    PlanOp *op = &plan->ops[plan->n_ops++];
    guint16 target_len = targets->targets[i].len;
    guint16 used = MIN(len, target_len);

    op->target = targets->targets[i].offset;
    op->target_len = target_len;
    op->kind = op_kind(targets->targets[i].endian, len, target_len);
    op->source_len = used;
    /* libfixbuf keeps the low-order (last) bytes of a longer integer, the first of octets */
    op->source = offset + (targets->targets[i].endian ? len - used : 0);
    plan->n_of_kind[op->kind]++;
}

PsIpfixPlan *
ps_ipfix_plan_new(const PsIpfixPlanTargets *targets, fbTemplate_t *external)
{
    g_autofree PsIpfixPlan *plan = g_new0(PsIpfixPlan, 1);
    guint32 n = fbTemplateCountElements(external);
    guint64 used = 0; /* bit i: target i already taken by an earlier element */
    guint offset = 0;

    G_STATIC_ASSERT(PS_IPFIX_PLAN_MAX_TARGETS <= 64);
    if (n == 0 || fbTemplateGetOptionsScope(external) > 0)
        return NULL;
    for (guint32 j = 0; j < n; j++) {
        const fbInfoElement_t *ie = fbTemplateGetIndexedIE(external, j);

        if (ie->len == FB_IE_VARLEN)
            return NULL;
        for (guint i = 0; i < targets->n && ie->ent == 0; i++) {
            /* libfixbuf's transcode plan matches the first occurrence of an element */
            if (targets->targets[i].num != ie->num || (used & (G_GUINT64_CONSTANT(1) << i)))
                continue;
            used |= G_GUINT64_CONSTANT(1) << i;
            if (ie->len > 0)
                add_op(plan, targets, i, offset, ie->len);
            break;
        }
        offset += ie->len;
        if (offset > PS_IPFIX_PLAN_MAX_RECORD_LEN)
            return NULL;
    }
    if (offset == 0)
        return NULL;
    plan->record_len = offset;
    qsort(plan->ops, plan->n_ops, sizeof(PlanOp), compare_ops);
    return g_steal_pointer(&plan);
}

void
ps_ipfix_plan_free(PsIpfixPlan *plan)
{
    g_free(plan);
}

guint16
ps_ipfix_plan_record_len(const PsIpfixPlan *plan)
{
    return plan->record_len;
}

void
ps_ipfix_plan_prepare(const PsIpfixPlan *plan, PsIpfixRecord *record)
{
    (void)plan;
    memset(record, 0, sizeof(*record));
}

static guint64
read_be(const guint8 *bytes, guint len)
{
    guint64 value = 0;

    for (guint i = 0; i < len; i++)
        value = value << 8 | bytes[i];
    return value;
}

/* Stores value as a host-order integer of len bytes (1, 2, 4 or 8). */
static void
store_host(guint8 *target, guint len, guint64 value)
{
    guint8 u8 = value;
    guint16 u16 = value;
    guint32 u32 = value;

    switch (len) {
    case 1:
        memcpy(target, &u8, 1);
        break;
    case 2:
        memcpy(target, &u16, 2);
        break;
    case 4:
        memcpy(target, &u32, 4);
        break;
    default:
        memcpy(target, &value, 8);
        break;
    }
}

static guint64
load_be64(const guint8 *source)
{
    guint64 value;

    memcpy(&value, source, 8);
    return GUINT64_FROM_BE(value);
}

static guint32
load_be32(const guint8 *source)
{
    guint32 value;

    memcpy(&value, source, 4);
    return GUINT32_FROM_BE(value);
}

static guint16
load_be16(const guint8 *source)
{
    guint16 value;

    memcpy(&value, source, 2);
    return GUINT16_FROM_BE(value);
}

/* One loop per kind, in the order of OpKind: ops are sorted by kind. */
void
ps_ipfix_plan_decode(const PsIpfixPlan *plan, const guint8 *bytes, PsIpfixRecord *record)
{
    guint8 *base = (guint8 *)record;
    const PlanOp *op = plan->ops;
    const guint8 *n = plan->n_of_kind;

    for (const PlanOp *end = op + n[OP_BE64]; op < end; op++) {
        guint64 value = load_be64(bytes + op->source);
        memcpy(base + op->target, &value, 8);
    }
    for (const PlanOp *end = op + n[OP_BE32]; op < end; op++) {
        guint32 value = load_be32(bytes + op->source);
        memcpy(base + op->target, &value, 4);
    }
    for (const PlanOp *end = op + n[OP_BE32_TO_64]; op < end; op++) {
        guint64 value = load_be32(bytes + op->source);
        memcpy(base + op->target, &value, 8);
    }
    for (const PlanOp *end = op + n[OP_BE16]; op < end; op++) {
        guint16 value = load_be16(bytes + op->source);
        memcpy(base + op->target, &value, 2);
    }
    for (const PlanOp *end = op + n[OP_U8]; op < end; op++)
        base[op->target] = bytes[op->source];
    for (const PlanOp *end = op + n[OP_U8_TO_16]; op < end; op++) {
        guint16 value = bytes[op->source];
        memcpy(base + op->target, &value, 2);
    }
    for (const PlanOp *end = op + n[OP_COPY16]; op < end; op++)
        memcpy(base + op->target, bytes + op->source, 16);
    for (const PlanOp *end = op + n[OP_SIZED]; op < end; op++)
        store_host(base + op->target, op->target_len, read_be(bytes + op->source, op->source_len));
    for (const PlanOp *end = op + n[OP_BYTES]; op < end; op++)
        memcpy(base + op->target, bytes + op->source, op->source_len);
}
