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

/* A g_test_log_set_fatal_handler(): libfixbuf reports what it skips (unknown templates, odd
 * element lengths) with domainless g_warning()s, which the collector counts itself; those are
 * no test failure. Warnings of our own log domains stay fatal. */
gboolean ps_test_fatal_unless_libfixbuf(const gchar *domain, GLogLevelFlags level,
                                        const gchar *message, gpointer data);

/* Path of a corpus file under ../shared/testdata/flows, or NULL (and the test skipped with a
 * message) when ../shared is absent. */
gchar *ps_test_shared_file(const char *relative);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsTestDecoder, ps_test_decoder_free)
