/* A real HTTP receiver for webhook tests (libmicrohttpd, in the test process, 127.0.0.1 on a
 * port of its own): it records every request and answers from a script, so a test can play a
 * chat service that fails, rate-limits or hangs, then recovers.
 *
 * A script is a comma-separated list of answers, one per request in turn; after it, every
 * request gets 200. An answer is a status ("500"), a status with Retry-After in seconds
 * ("429:2"), "hang:MS" (no answer for MS milliseconds, then the connection is closed: the
 * client times out; recorded with status 0) or "slow:MS" (recorded as accepted at once, the
 * 200 sent only after MS milliseconds: the client may die in between). */
#pragma once

#include <glib.h>

typedef struct {
    gchar *path;
    gchar *body;
    GHashTable *headers; /* lower-case name -> value */
    guint status;        /* what it was answered (0: hung) */
    gint64 at_us;        /* monotonic, when the request was complete */
} PsTestRequest;

typedef struct PsTestReceiver PsTestReceiver;

/* NULL (test failed) when it cannot listen. */
PsTestReceiver *ps_test_receiver_start(void);
void ps_test_receiver_stop(PsTestReceiver *receiver);

/* "http://127.0.0.1:PORT/path". Free with g_free. */
gchar *ps_test_receiver_url(const PsTestReceiver *receiver, const char *path);

/* The answers for requests to path (NULL: to any path without a script of its own). */
void ps_test_receiver_script(PsTestReceiver *receiver, const char *path, const char *answers);

/* Waits until n requests for path were answered 2xx; FALSE after timeout_ms. */
gboolean ps_test_receiver_wait_accepted(PsTestReceiver *receiver, const char *path, guint n,
                                        guint timeout_ms);

/* Copies of the requests so far (for path, or all when NULL), oldest first; free the array. */
GPtrArray *ps_test_receiver_requests(PsTestReceiver *receiver, const char *path);

/* The requests answered 2xx for path. */
GPtrArray *ps_test_receiver_accepted(PsTestReceiver *receiver, const char *path);

void ps_test_request_free(PsTestRequest *request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsTestReceiver, ps_test_receiver_stop)
