/* NetFlow v5 by hand (libfixbuf lacks it): a 24-byte header and up to 30 records of 48 bytes.
 * Cisco's format; no RFC. The record count is checked against the datagram length before any
 * record is read, and times are turned into Unix milliseconds from sysUptime and unix_secs. */
#pragma once

#include "decode.h"
#include "flow.h"

#define PS_V5_HEADER_LEN  24
#define PS_V5_RECORD_LEN  48
#define PS_V5_MAX_RECORDS 30 /* Cisco's limit; larger counts are lies */

typedef struct {
    guint16 count;
    guint32 sys_uptime_ms;
    guint32 unix_secs;
    guint32 unix_nsecs;
    guint32 sequence;
    guint8 engine_type;
    guint8 engine_id;
    guint8 sampling_mode;      /* top 2 bits of the sampling field */
    guint16 sampling_interval; /* low 14 bits; 0 means unsampled */
} PsV5Header;

/* Decodes one v5 datagram: fills header, and header->count flows when PS_DECODE_OK (on any
 * error flows is left undefined). Records carry the header's sampling interval, or
 * assumed_sampling (0 or 1: unsampled) when the header says none. */
PsDecodeResult ps_decode_v5(const guint8 *data, gsize len, const PsAddress *exporter,
                            guint32 assumed_sampling, PsV5Header *header,
                            PsFlow flows[PS_V5_MAX_RECORDS]);

/* Length of the v5 datagram that starts at data (header + count records), 0 if it cannot be
 * one; used to split files of concatenated datagrams. */
gsize ps_decode_v5_datagram_length(const guint8 *data, gsize len);
