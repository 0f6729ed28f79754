/* The front of decoding: one export packet in, its version picked from the header whatever
 * port it came on, its exporter looked up (or created, up to a bound), flow records out to the
 * sink, and every outcome counted on the exporter. Knows nothing of sockets or files. */
#pragma once

#include "decode_ipfix.h"
#include "exporter.h"
#include "flow.h"

#define PS_DISPATCH_MAX_EXPORTERS 10000 /* a flood of spoofed sources must not eat memory */

typedef struct PsDispatch PsDispatch;

PsDispatch *ps_dispatch_new(PsFlowSink sink, gpointer user_data, GError **error);
void ps_dispatch_free(PsDispatch *dispatch);

/* Where v5 packets' flows go instead of the sink, decoded in place: reserve() gives room for
 * n flows, and commit() is called once the first n of them are written (nothing is
 * committed for a packet that fails to decode). Lets the store take a packet's flows without a
 * copy or a call per flow. */
typedef struct {
    PsFlow *(*reserve)(guint n, gpointer user_data);
    void (*commit)(PsFlow *flows, guint n, gpointer user_data);
    gpointer user_data;
} PsFlowSlots;

void ps_dispatch_set_flow_slots(PsDispatch *dispatch, const PsFlowSlots *slots);

/* Sampling interval to assume for an exporter (or for all, with exporter NULL) when its
 * packets say nothing about sampling. */
void ps_dispatch_set_sampling(PsDispatch *dispatch, const PsAddress *exporter, guint32 interval);

/* Decodes the export packet at data. Returns how many bytes it took: one datagram's worth, so
 * a caller reading a file of concatenated datagrams calls again with the rest; 0 when nothing
 * more can be split off. */
gsize ps_dispatch_packet(PsDispatch *dispatch, const PsAddress *exporter, const guint8 *data,
                         gsize len, gint64 arrival_ms);

/* Decodes what a capture file yields (capture.h): one UDP payload, or with whole_file a raw
 * file that may hold several datagrams back to back, split as ps_dispatch_packet() says. */
void ps_dispatch_capture(PsDispatch *dispatch, const PsAddress *exporter, const guint8 *data,
                         gsize len, gint64 time_ms, gboolean whole_file);

/* The exporters seen so far (PsAddress -> PsExporter), owned by the dispatch. */
GHashTable *ps_dispatch_exporters(PsDispatch *dispatch);

/* Packets dropped because the exporter table was full. */
guint64 ps_dispatch_exporters_refused(const PsDispatch *dispatch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsDispatch, ps_dispatch_free)
