/* Offline input for --read: pcap/pcapng captures (every UDP payload, with the packet's source
 * address as the exporter) and raw export files (datagrams as they came off the wire, one or
 * several concatenated; the dispatcher splits them). */
#pragma once

#include "flow.h"

/* Called once per UDP payload (pcap) or once with the whole file (raw). time_ms is the
 * capture time, or the file's modification time for raw files. */
typedef void (*PsCaptureFn)(const PsAddress *exporter, const guint8 *data, gsize len,
                            gint64 time_ms, gboolean whole_file, gpointer user_data);

/* Counts of what a capture held besides flow export. */
typedef struct {
    guint64 frames;
    guint64 udp_payloads;
    guint64 skipped_not_udp;  /* TCP (BMP/BGP in some captures), ARP, ... */
    guint64 skipped_fragments;
    guint64 skipped_truncated;
} PsCaptureStats;

/* Reads path and calls fn for what it holds. FALSE with error set when the file cannot be
 * read at all. A raw file's exporter is raw_exporter. */
gboolean ps_capture_read_file(const char *path, const PsAddress *raw_exporter, PsCaptureFn fn,
                              gpointer user_data, PsCaptureStats *stats, GError **error);
