/* Per exporter (one router or probe, by source address): counters per NetFlow/IPFIX version,
 * sequence tracking per (version, domain), and the libfixbuf session that holds its templates.
 *
 * Sequence numbers count differently per version: v5 counts flows, v9 export packets
 * (RFC 3954 5.1), IPFIX data records (RFC 7011 3.1). A gap is loss on the way; a large step
 * back is an exporter restart, after which counting starts afresh. */
#pragma once

#include "decode_ipfix.h"
#include "flow.h"

typedef enum {
    PS_VERSION_V5,
    PS_VERSION_V9,
    PS_VERSION_IPFIX,
    PS_VERSION_UNKNOWN,
    PS_N_VERSIONS
} PsVersionSlot;

/* Sequence states per exporter ((version, domain) pairs tracked); past it, not tracked. */
#define PS_EXPORTER_MAX_SEQUENCES 2048

/* Sequence steps back by less than this are reordering; more is a restart. */
#define PS_SEQUENCE_REORDER_WINDOW 1000

typedef struct {
    guint64 packets;
    guint64 records;
    guint64 options_records;
    guint64 decode_errors;
    guint64 unknown_template_sets; /* data sets that arrived before their template */
    guint64 held_records;          /* records decoded later, once the template came */
    guint64 dropped_sets;          /* held sets given up: bound reached or template never came */
    guint64 bad_templates;
    guint64 skipped_sets;          /* reserved set ids, data sets shorter than one record */
    guint64 sequence_gaps;         /* times the sequence jumped ahead */
    guint64 sequence_lost;         /* what the jumps skipped: flows, packets or records */
    guint64 sequence_reordered;
    guint64 restarts;
} PsExporterCounters;

typedef struct {
    guint32 next;
    gboolean have;
} PsSequenceState;

typedef struct {
    PsAddress address;
    gint64 first_seen_ms;
    gint64 last_seen_ms;
    guint32 sampling; /* last interval that applied to its records */
    guint64 clock_skewed; /* flows counted by arrival time: the exporter's clock is off */
    PsExporterCounters counters[PS_N_VERSIONS];
    GHashTable *sequences; /* (slot << 32 | domain) -> PsSequenceState */
    gint64 last_sequence_key;       /* the last packet's key in sequences, and its state: */
    PsSequenceState *last_sequence; /* most packets continue the last one's sequence */
    PsIpfixSession *ipfix; /* created with the first v9 or IPFIX packet */
    guint32 configured_sampling; /* the dispatch's configuration for it (0: none), */
    guint configured_generation; /* as of this generation of that configuration */
} PsExporter;

PsExporter *ps_exporter_new(const PsAddress *address);
void ps_exporter_free(PsExporter *exporter);

/* Records one export packet's sequence number. advance is what this packet adds to the count
 * (flows, 1 packet, or records); advance_known FALSE when part of it could not be counted, so
 * the next packet starts a fresh comparison instead of reporting a false gap. */
void ps_exporter_check_sequence(PsExporter *exporter, PsVersionSlot slot, guint32 domain,
                                guint32 sequence, guint32 advance, gboolean advance_known);

/* Adds an IPFIX/v9 message's outcome to the counters of slot. */
void ps_exporter_add_ipfix_stats(PsExporter *exporter, PsVersionSlot slot,
                                 const PsIpfixStats *stats);

/* Sum of the counters of every version. */
void ps_exporter_total(const PsExporter *exporter, PsExporterCounters *total);

/* Adds every counter of part to sum. */
void ps_exporter_counters_add(PsExporterCounters *sum, const PsExporterCounters *part);

const char *ps_version_slot_name(PsVersionSlot slot);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsExporter, ps_exporter_free)
