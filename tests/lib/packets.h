/* Helpers shared by the test programs: collect flows decoded from packets or files. */
#pragma once

#include "dispatch.h"
#include "flow.h"

typedef struct {
    PsDispatch *dispatch;
    GArray *flows; /* PsFlow */
} PsTestDecoder;

PsTestDecoder *ps_test_decoder_new(void);
void ps_test_decoder_free(PsTestDecoder *decoder);

/* Feeds one datagram from exporter (NULL: 192.0.2.1). */
void ps_test_decoder_packet(PsTestDecoder *decoder, const PsAddress *exporter, const guint8 *data,
                            gsize len);

/* Reads a capture or raw file as --read does; FALSE if it cannot be read. */
gboolean ps_test_decoder_file(PsTestDecoder *decoder, const char *path);

/* The exporter's counters summed over versions (zeros when unseen; NULL: 192.0.2.1). */
void ps_test_decoder_counters(PsTestDecoder *decoder, const PsAddress *exporter,
                              PsExporterCounters *counters);

/* Sum of every exporter's counters. */
void ps_test_decoder_total(PsTestDecoder *decoder, PsExporterCounters *counters);

/* Path of a corpus file under ../shared/testdata/flows, or NULL (and the test skipped with a
 * message) when ../shared is absent. */
gchar *ps_test_shared_file(const char *relative);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsTestDecoder, ps_test_decoder_free)
