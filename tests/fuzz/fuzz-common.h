/* What the three decoder fuzz targets share: one PsDispatch for the whole run, a sink that reads
 * every field of every flow (so a sanitizer sees any uninitialised or out-of-bounds value the
 * decoders hand out), and a fixed template packet that an input may ask to be fed first so
 * that mutated data sets reach libfixbuf instead of being held as "template unknown".
 *
 * Input convention for fuzz-v9 and fuzz-ipfix: if the top bit of the first byte is set, the
 * built-in template packet of that version is fed first, then the input with that bit cleared
 * (real v9 and IPFIX packets start with 0x00, so seeds taken from captures skip it). */
#pragma once

#include "dispatch.h"

/* The fixed template: id 256, 46-byte records (make-corpus.py writes matching data seeds):
 * sourceIPv4Address, destinationIPv4Address, sourceTransportPort, destinationTransportPort,
 * protocolIdentifier, tcpControlBits (1 byte), packetDeltaCount, octetDeltaCount (8 bytes),
 * flowStartMilliseconds, flowEndMilliseconds; plus options template 257 (scope
 * exportingProcessId; samplingInterval, systemInitTimeMilliseconds) and one options record. */
#define PS_FUZZ_TEMPLATE_ID 256
#define PS_FUZZ_WITH_TEMPLATE 0x80

typedef enum {
    PS_FUZZ_TEMPLATE_V9,
    PS_FUZZ_TEMPLATE_IPFIX,
} PsFuzzTemplate;

/* The dispatch every input goes through, created on first use and kept for the whole run (as
 * the collector keeps it), from exporter 192.0.2.1. */
PsDispatch *ps_fuzz_common_dispatch(void);

/* Feeds one fuzz input as one datagram; for v9 and IPFIX honours the template bit above. */
void ps_fuzz_common_run(const guint8 *data, gsize len, gboolean may_prefeed,
                        PsFuzzTemplate kind);

/* libFuzzer's entry point, defined by each fuzz-<parser>.c; driver.c calls it per file. */
int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);
