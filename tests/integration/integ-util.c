#include "integ-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define PS_TEST_START_ATTEMPTS 5 /* port races with other programs: try this many port sets */

static void read_next_line(PsTestChild *child, gboolean is_stdout);

static void
on_line(GObject *source, GAsyncResult *result, gpointer user_data, gboolean is_stdout)
{
    PsTestChild *child = user_data;
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    gchar *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source), result,
                                                            &len, &error);
    GPtrArray *lines = is_stdout ? child->out : child->err;

    child->pending--;
    if (line == NULL) {
        /* end of file, a cancelled read (the child is being freed) or bytes that are not
         * UTF-8: in all three cases stop reading this pipe */
        if (error != NULL && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_test_message("reading child %s: %s", is_stdout ? "stdout" : "stderr", error->message);
        if (is_stdout)
            child->out_eof = TRUE;
        else
            child->err_eof = TRUE;
        return;
    }
    if (lines->len < PS_TEST_MAX_LINES)
        g_ptr_array_add(lines, line);
    else
        g_free(line);
    if (is_stdout)
        child->last_output_us = g_get_monotonic_time();
    read_next_line(child, is_stdout);
}

static void
on_stdout_line(GObject *source, GAsyncResult *result, gpointer user_data)
{
    on_line(source, result, user_data, TRUE);
}

static void
on_stderr_line(GObject *source, GAsyncResult *result, gpointer user_data)
{
    on_line(source, result, user_data, FALSE);
}

static void
read_next_line(PsTestChild *child, gboolean is_stdout)
{
    GDataInputStream *lines = is_stdout ? child->out_stream : child->err_stream;

    child->pending++;
    g_data_input_stream_read_line_async(lines, G_PRIORITY_DEFAULT, child->cancellable,
                                        is_stdout ? on_stdout_line : on_stderr_line, child);
}

static void
on_child_exit(GObject *source, GAsyncResult *result, gpointer user_data)
{
    PsTestChild *child = user_data;

    /* FALSE only when cancelled; the exit status itself is read from the process */
    gboolean waited = g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);

    child->pending--;
    if (waited)
        child->exited = TRUE;
}

static GDataInputStream *
line_reader_new(GInputStream *pipe)
{
    GDataInputStream *lines = g_data_input_stream_new(pipe);

    g_data_input_stream_set_newline_type(lines, G_DATA_STREAM_NEWLINE_TYPE_LF);
    return lines;
}

/* Runs in the child between fork and exec. A failed g_assert() aborts the test program
 * without running any cleanup: the kernel then kills the children it left behind. */
static void
die_with_parent(gpointer user_data)
{
    (void)user_data;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

PsTestChild *
ps_test_child_spawn(const gchar *const *argv, GError **error)
{
    g_autoptr(PsTestChild) child = g_new0(PsTestChild, 1);
    g_autoptr(GSubprocessLauncher) launcher = NULL;

    child->out = g_ptr_array_new_with_free_func(g_free);
    child->err = g_ptr_array_new_with_free_func(g_free);
    child->cancellable = g_cancellable_new();
    child->last_output_us = g_get_monotonic_time();
    launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
    child->process = g_subprocess_launcher_spawnv(launcher, argv, error);
    if (child->process == NULL) {
        child->exited = child->out_eof = child->err_eof = TRUE;
        return NULL;
    }
    child->out_stream = line_reader_new(g_subprocess_get_stdout_pipe(child->process));
    child->err_stream = line_reader_new(g_subprocess_get_stderr_pipe(child->process));
    read_next_line(child, TRUE);
    read_next_line(child, FALSE);
    child->pending++;
    g_subprocess_wait_async(child->process, child->cancellable, on_child_exit, child);
    return g_steal_pointer(&child);
}

void
ps_test_child_free(PsTestChild *child)
{
    if (child == NULL)
        return;
    if (child->process != NULL) {
        if (!child->exited)
            g_subprocess_force_exit(child->process);
        (void)ps_test_child_wait_exit(child, PS_TEST_EXIT_TIMEOUT_MS);
        /* the async callbacks point at child: let every one of them run before freeing */
        g_cancellable_cancel(child->cancellable);
        while (child->pending > 0)
            g_main_context_iteration(NULL, TRUE);
        g_object_unref(child->process);
    }
    g_clear_object(&child->out_stream);
    g_clear_object(&child->err_stream);
    g_clear_object(&child->cancellable);
    g_ptr_array_unref(child->out);
    g_ptr_array_unref(child->err);
    g_free(child);
}

gboolean
ps_test_child_finished(const PsTestChild *child)
{
    return child->exited && child->out_eof && child->err_eof;
}

static gboolean
on_deadline(gpointer user_data)
{
    gboolean *expired = user_data;

    *expired = TRUE;
    return G_SOURCE_REMOVE;
}

typedef gboolean (*ConditionFn)(PsTestChild *child, gconstpointer data);

/* The one waiting loop: iterate until the condition holds, the child is gone, or the bound. */
static gboolean
run_until(PsTestChild *child, ConditionFn condition, gconstpointer data, guint timeout_ms)
{
    gboolean expired = FALSE;
    guint deadline = g_timeout_add(timeout_ms, on_deadline, &expired);

    while (!condition(child, data) && !ps_test_child_finished(child) && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(deadline);
    return condition(child, data);
}

static gboolean
has_lines(PsTestChild *child, gconstpointer data)
{
    return child->out->len >= GPOINTER_TO_UINT(data);
}

gboolean
ps_test_child_wait_lines(PsTestChild *child, guint n, guint timeout_ms)
{
    return run_until(child, has_lines, GUINT_TO_POINTER(n), timeout_ms);
}

static gboolean
is_quiet(PsTestChild *child, gconstpointer data)
{
    return g_get_monotonic_time() - child->last_output_us >= GPOINTER_TO_UINT(data) * 1000;
}

static gboolean
on_tick(gpointer user_data)
{
    (void)user_data;
    return G_SOURCE_CONTINUE; /* only wakes the loop so that is_quiet() is re-evaluated */
}

void
ps_test_child_wait_quiet(PsTestChild *child, guint quiet_ms, guint timeout_ms)
{
    guint tick = g_timeout_add(MAX(quiet_ms / 4, 10u), on_tick, NULL);

    (void)run_until(child, is_quiet, GUINT_TO_POINTER(quiet_ms), timeout_ms);
    g_source_remove(tick);
}

static gboolean
never(PsTestChild *child, gconstpointer data)
{
    (void)child;
    (void)data;
    return FALSE;
}

gboolean
ps_test_child_wait_exit(PsTestChild *child, guint timeout_ms)
{
    (void)run_until(child, never, NULL, timeout_ms);
    if (ps_test_child_finished(child))
        return TRUE;
    g_test_message("child did not finish within %u ms: killing it", timeout_ms);
    g_subprocess_force_exit(child->process);
    /* SIGKILL cannot be ignored; the pipes close with the process */
    (void)run_until(child, never, NULL, PS_TEST_EXIT_TIMEOUT_MS);
    return FALSE;
}

gboolean
ps_test_child_stop(PsTestChild *child, int signum, guint timeout_ms)
{
    if (!child->exited)
        g_subprocess_send_signal(child->process, signum);
    return ps_test_child_wait_exit(child, timeout_ms);
}

gchar *
ps_test_child_describe_status(const PsTestChild *child)
{
    if (!child->exited)
        return g_strdup("running");
    if (g_subprocess_get_if_exited(child->process))
        return g_strdup_printf("exit %d", g_subprocess_get_exit_status(child->process));
    if (g_subprocess_get_if_signaled(child->process))
        return g_strdup_printf("signal %d", g_subprocess_get_term_sig(child->process));
    return g_strdup("unknown status");
}

gboolean
ps_test_child_exited_cleanly(const PsTestChild *child)
{
    return child->exited && g_subprocess_get_if_exited(child->process) &&
           g_subprocess_get_exit_status(child->process) == 0;
}

void
ps_test_child_log_stderr(const PsTestChild *child, const char *name)
{
    for (guint i = 0; i < child->err->len; i++)
        g_test_message("%s stderr: %s", name, (const char *)g_ptr_array_index(child->err, i));
}

guint
ps_test_lines_count(const GPtrArray *lines, const char *needle)
{
    guint count = 0;

    for (guint i = 0; i < lines->len; i++) {
        if (strstr(g_ptr_array_index(lines, i), needle) != NULL)
            count++;
    }
    return count;
}

const char *
ps_test_collector_path(void)
{
    const char *path = g_getenv("PS_COLLECTOR");

    if (path == NULL || !g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("PS_COLLECTOR is not set to the collector binary (run through meson test)");
        return NULL;
    }
    return path;
}

static socklen_t
loopback_sockaddr(const char *address, guint16 port, struct sockaddr_storage *storage)
{
    memset(storage, 0, sizeof(*storage));
    if (strchr(address, ':') == NULL) {
        struct sockaddr_in *in = (struct sockaddr_in *)storage;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        g_assert_cmpint(inet_pton(AF_INET, address, &in->sin_addr), ==, 1);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)storage;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    g_assert_cmpint(inet_pton(AF_INET6, address, &in6->sin6_addr), ==, 1);
    return sizeof(*in6);
}

guint16
ps_test_free_udp_port(const char *address)
{
    struct sockaddr_storage storage;
    socklen_t len = loopback_sockaddr(address, 0, &storage);
    int fd = socket(storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    guint16 port = 0;

    g_assert_cmpint(fd, >=, 0);
    if (bind(fd, (struct sockaddr *)&storage, len) == 0) {
        len = sizeof(storage);
        g_assert_cmpint(getsockname(fd, (struct sockaddr *)&storage, &len), ==, 0);
        /* sin_port and sin6_port sit at the same offset */
        port = ntohs(((struct sockaddr_in *)&storage)->sin_port);
    } else {
        g_test_message("bind %s:0: %s", address, g_strerror(errno));
    }
    close(fd);
    return port;
}

/* One attempt: NULL if the collector exited (a port was taken meanwhile) or never listened. */
static PsTestChild *
collector_try_start(const char *collector, const char *const *addresses, guint n_addresses,
                    const guint16 *ports, const char *const *extra)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autoptr(PsTestChild) child = NULL;
    gboolean expired = FALSE;
    guint deadline;

    g_ptr_array_add(argv, g_strdup(collector));
    g_ptr_array_add(argv, g_strdup("--dump"));
    g_ptr_array_add(argv, g_strdup("--stats"));
    for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
        g_ptr_array_add(argv, g_strdup(extra[i]));
    for (guint i = 0; i < n_addresses; i++) {
        gboolean v6 = strchr(addresses[i], ':') != NULL;
        g_ptr_array_add(argv, g_strdup("--listen"));
        g_ptr_array_add(argv, g_strdup_printf(v6 ? "[%s]:%u" : "%s:%u", addresses[i], ports[i]));
    }
    g_ptr_array_add(argv, NULL);
    child = ps_test_child_spawn((const gchar *const *)argv->pdata, &error);
    g_assert_no_error(error);

    /* main.c logs "listening on ADDR:PORT" once per bound socket, before the first read */
    deadline = g_timeout_add(PS_TEST_START_TIMEOUT_MS, on_deadline, &expired);
    while (ps_test_lines_count(child->err, "listening on") < n_addresses && !child->exited &&
           !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(deadline);
    if (ps_test_lines_count(child->err, "listening on") == n_addresses && !child->exited)
        return g_steal_pointer(&child);
    (void)ps_test_child_stop(child, SIGKILL, PS_TEST_EXIT_TIMEOUT_MS);
    ps_test_child_log_stderr(child, "collector");
    return NULL;
}

PsTestChild *
ps_test_collector_start(const char *const *addresses, guint n_addresses, guint16 *ports,
                        const char *const *extra)
{
    const char *collector = g_getenv("PS_COLLECTOR");

    g_assert_nonnull(collector);
    for (guint attempt = 0; attempt < PS_TEST_START_ATTEMPTS; attempt++) {
        PsTestChild *child;
        for (guint i = 0; i < n_addresses; i++) {
            ports[i] = ps_test_free_udp_port(addresses[i]);
            if (ports[i] == 0) {
                g_test_fail_printf("no free UDP port on %s (is %s configured on lo?)", addresses[i],
                                   addresses[i]);
                return NULL;
            }
        }
        child = collector_try_start(collector, addresses, n_addresses, ports, extra);
        if (child != NULL)
            return child;
        g_test_message("collector did not start (attempt %u); trying other ports", attempt + 1);
    }
    g_test_fail_printf("the collector did not start listening in %d attempts",
                       PS_TEST_START_ATTEMPTS);
    return NULL;
}

gboolean
ps_test_collector_read(const char *const *files, guint n_files, GPtrArray **records,
                       GPtrArray **stats)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autoptr(PsTestChild) child = NULL;
    g_autofree gchar *status = NULL;

    g_ptr_array_add(argv, g_strdup(g_getenv("PS_COLLECTOR")));
    g_ptr_array_add(argv, g_strdup("--stats"));
    for (guint i = 0; i < n_files; i++) {
        g_ptr_array_add(argv, g_strdup("--read"));
        g_ptr_array_add(argv, g_strdup(files[i]));
    }
    g_ptr_array_add(argv, NULL);
    child = ps_test_child_spawn((const gchar *const *)argv->pdata, &error);
    g_assert_no_error(error);
    if (!ps_test_child_wait_exit(child, PS_TEST_EXIT_TIMEOUT_MS) ||
        !ps_test_child_exited_cleanly(child)) {
        status = ps_test_child_describe_status(child);
        ps_test_child_log_stderr(child, "collector --read");
        g_test_fail_printf("collector --read: %s", status);
        return FALSE;
    }
    *records = g_ptr_array_ref(child->out);
    *stats = g_ptr_array_ref(child->err);
    return TRUE;
}

int
ps_test_udp_connect(const char *address, guint16 port)
{
    struct sockaddr_storage storage;
    socklen_t len = loopback_sockaddr(address, port, &storage);
    int fd = socket(storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || connect(fd, (struct sockaddr *)&storage, len) != 0) {
        g_test_fail_printf("UDP socket to %s port %u: %s", address, port, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

gboolean
ps_test_udp_send(int fd, const guint8 *data, gsize len)
{
    ssize_t sent = send(fd, data, len, 0);

    if (sent < 0 || (gsize)sent != len) {
        g_test_message("send %" G_GSIZE_FORMAT " bytes: %s", len,
                       sent < 0 ? g_strerror(errno) : "short send");
        return FALSE;
    }
    return TRUE;
}

static JsonObject *
parse_object(const char *line, JsonParser *parser)
{
    JsonNode *root;

    if (!json_parser_load_from_data(parser, line, -1, NULL))
        return NULL;
    root = json_parser_get_root(parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root))
        return NULL;
    return json_node_get_object(root);
}

gchar *
ps_test_json_exporter(const char *line)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *object = parse_object(line, parser);

    if (object == NULL || !json_object_has_member(object, "exporter"))
        return NULL;
    return g_strdup(json_object_get_string_member(object, "exporter"));
}

gchar *
ps_test_json_without_exporter(const char *line)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *object = parse_object(line, parser);

    if (object == NULL)
        return NULL;
    json_object_remove_member(object, "exporter");
    /* json-glib keeps members in the order they were parsed, so this is canonical enough */
    return json_to_string(json_parser_get_root(parser), FALSE);
}
