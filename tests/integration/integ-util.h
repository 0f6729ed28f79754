/* Helpers for the integration tests: run the real collector (and other programs) as child
 * processes, read their output line by line while the test goes on, and send UDP.
 *
 * Everything runs on the thread-default main context of the test; every wait has a bound
 * and every child is killed when its PsTestChild is freed, so a failing assertion never
 * leaves a process behind. Only 127.0.0.1 and ::1 are ever used. */
#pragma once

#include <gio/gio.h>

#define PS_TEST_START_TIMEOUT_MS   10000 /* until the collector says it listens */
#define PS_TEST_RECORDS_TIMEOUT_MS 20000 /* until the records we expect have been printed */
#define PS_TEST_EXIT_TIMEOUT_MS    10000 /* after SIGTERM, or for a program that ends by itself */
#define PS_TEST_QUIET_MS           300   /* no new record for this long: nothing more is coming */
#define PS_TEST_MAX_LINES          100000 /* a child printing more is broken; we stop keeping lines */

typedef struct {
    GSubprocess *process;
    GCancellable *cancellable;
    GDataInputStream *out_stream;
    GDataInputStream *err_stream;
    GPtrArray *out; /* stdout lines (gchar *), without the newline */
    GPtrArray *err; /* stderr lines */
    guint pending;  /* outstanding async operations that point at this struct */
    gboolean out_eof;
    gboolean err_eof;
    gboolean exited;
    gint64 last_output_us; /* monotonic time of the last stdout line */
} PsTestChild;

/* Starts argv[0] with stdout and stderr captured. NULL with error set if it cannot start. */
PsTestChild *ps_test_child_spawn(const gchar *const *argv, GError **error);

/* Kills the child if it still runs (SIGKILL), waits for it and frees everything. */
void ps_test_child_free(PsTestChild *child);

/* TRUE when the child has exited and both its pipes are at end of file. */
gboolean ps_test_child_finished(const PsTestChild *child);

/* Runs the main context until the child has printed at least n stdout lines, has finished,
 * or timeout_ms passed. Returns TRUE when n lines are there. */
gboolean ps_test_child_wait_lines(PsTestChild *child, guint n, guint timeout_ms);

/* Runs the main context until stdout has been silent for quiet_ms (bounded by timeout_ms). */
void ps_test_child_wait_quiet(PsTestChild *child, guint quiet_ms, guint timeout_ms);

/* Runs the main context until the child finished; on timeout kills it. TRUE if it finished
 * by itself in time. */
gboolean ps_test_child_wait_exit(PsTestChild *child, guint timeout_ms);

/* Sends signum (SIGTERM to stop cleanly) and waits for the child to finish. */
gboolean ps_test_child_stop(PsTestChild *child, int signum, guint timeout_ms);

/* Exit status as "exit 0", "signal 9", for messages; "running" while it runs. */
gchar *ps_test_child_describe_status(const PsTestChild *child);

/* TRUE when it exited normally with status 0. */
gboolean ps_test_child_exited_cleanly(const PsTestChild *child);

/* Logs the child's stderr with g_test_message(), to explain a failure. */
void ps_test_child_log_stderr(const PsTestChild *child, const char *name);

/* Lines of the array that contain needle. */
guint ps_test_lines_count(const GPtrArray *lines, const char *needle);

/* The collector binary (PS_COLLECTOR); NULL and the test skipped if it is not set. */
const char *ps_test_collector_path(void);

/* Finds a UDP port free on the given loopback address ("127.0.0.1" or "::1") by binding
 * port 0 and releasing it; the caller retries if the collector then cannot bind it. */
guint16 ps_test_free_udp_port(const char *address);

/* Starts `collector --dump --stats [extra...] --listen A:P ...` on n_addresses loopback
 * addresses ("127.0.0.1", "::1"), choosing free ports (ports[i] for addresses[i]) and
 * retrying with other ports if one was taken meanwhile; waits until every socket is bound.
 * NULL (test failed with a message) when it cannot start. */
PsTestChild *ps_test_collector_start(const char *const *addresses, guint n_addresses,
                                     guint16 *ports, const char *const *extra);

/* Runs `collector --read --stats files...` to completion. TRUE when it exits with 0;
 * records get its stdout lines, stats its stderr lines holding per-exporter counters. */
gboolean ps_test_collector_read(const char *const *files, guint n_files, GPtrArray **records,
                                GPtrArray **stats);

/* A UDP socket connected to address:port on loopback; -1 with the test failed on error. */
int ps_test_udp_connect(const char *address, guint16 port);

/* One send(); FALSE (with a test message) if the datagram did not go out whole. */
gboolean ps_test_udp_send(int fd, const guint8 *data, gsize len);

/* The "exporter" member of a JSON record or stats line (NULL if absent or not JSON), and the
 * same line re-serialised without it, so that lines from different exporters compare. */
gchar *ps_test_json_exporter(const char *line);
gchar *ps_test_json_without_exporter(const char *line);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsTestChild, ps_test_child_free)
