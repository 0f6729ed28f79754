/* The collector in production, over real loopback sockets with a private redis-server:
 *   - the metrics endpoint shows exactly the counters this test's own traffic produced;
 *   - packets from a source outside the allow-list (127.0.0.2) are dropped before decoding,
 *     counted per source and logged once (rate-limited), and a SIGHUP that widens the list
 *     lets them in;
 *   - SIGHUPs while packets keep arriving lose nothing: Redis ends with every flow sent;
 *   - a reload with an error keeps the running configuration and says why;
 *   - started as root with --user nobody, the process runs as nobody after binding. */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops-util.h"
#include "redis-server.h"

#define RECORDS_PER_PACKET 10
#define STOP_TIMEOUT_MS    30000

typedef struct {
    PsTestRedis *redis; /* NULL: no Redis */
    gchar *dir;
    gchar *config;
    PsTestChild *collector;
    guint16 port;
    int fd;       /* from 127.0.0.1 */
    int fd_other; /* from 127.0.0.2 */
    guint32 sequence;
    guint32 sequence_other;
    guint64 sent_flows;
} Fixture;

static gboolean
config_has_metrics(const char *const *extra)
{
    for (guint i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (g_str_has_prefix(extra[i], "--metrics"))
            return TRUE;
    }
    return FALSE;
}

/* Starts the collector with config (written to a file) and extra options; with_redis also
 * starts a Redis and points the collector at it. FALSE when skipped or failed. */
static gboolean
fixture_start(Fixture *f, gboolean with_redis, const char *config, const char *const *extra)
{
    g_autoptr(GPtrArray) options = g_ptr_array_new_with_free_func(g_free);
    const char *address = "127.0.0.1";

    memset(f, 0, sizeof(*f));
    f->fd = f->fd_other = -1;
    if (ps_test_collector_path() == NULL)
        return FALSE;
    if (with_redis) {
        f->redis = ps_test_redis_start();
        if (f->redis == NULL)
            return FALSE;
        g_ptr_array_add(options, g_strdup_printf("--redis=%s", ps_test_redis_socket(f->redis)));
        g_ptr_array_add(options, g_strdup("--flush-interval=1"));
    }
    f->dir = g_dir_make_tmp("ps-ops-XXXXXX", NULL);
    f->config = ps_ops_write_config(f->dir, "portsurge.conf", config);
    g_ptr_array_add(options, g_strdup_printf("--config=%s", f->config));
    for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
        g_ptr_array_add(options, g_strdup(extra[i]));
    g_ptr_array_add(options, NULL);
    f->collector =
        ps_test_collector_start(&address, 1, &f->port, (const char *const *)options->pdata);
    if (f->collector == NULL)
        return FALSE;
    /* the metrics listener starts after the UDP sockets */
    if (config_has_metrics(extra) &&
        !ps_ops_wait_logged(f->collector, "at /metrics", PS_TEST_START_TIMEOUT_MS)) {
        ps_test_child_log_stderr(f->collector, "collector");
        g_test_fail_printf("no metrics listener");
        return FALSE;
    }
    f->fd = ps_ops_udp_from("127.0.0.1", f->port);
    f->fd_other = ps_ops_udp_from("127.0.0.2", f->port);
    return f->fd >= 0 && f->fd_other >= 0;
}

static void
fixture_clear(Fixture *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->fd_other >= 0)
        close(f->fd_other);
    g_clear_pointer(&f->collector, ps_test_child_free);
    g_clear_pointer(&f->redis, ps_test_redis_free);
    if (f->config != NULL)
        g_remove(f->config);
    if (f->dir != NULL)
        g_rmdir(f->dir);
    g_free(f->config);
    g_free(f->dir);
}

static void
send_packets(Fixture *f, guint n)
{
    for (guint i = 0; i < n; i++) {
        g_assert_true(ps_ops_send_v5(f->fd, &f->sequence, RECORDS_PER_PACKET));
        f->sent_flows += RECORDS_PER_PACKET;
    }
}

/* SIGTERM, a clean exit, and --dump saw every record sent (no UDP loss on loopback). */
static void
fixture_stop(Fixture *f)
{
    g_autofree gchar *status = NULL;

    g_assert_true(ps_test_child_stop(f->collector, SIGTERM, STOP_TIMEOUT_MS));
    status = ps_test_child_describe_status(f->collector);
    ps_test_child_log_stderr(f->collector, "collector");
    g_assert_cmpstr(status, ==, "exit 0");
    g_assert_cmpuint(f->collector->out->len, ==, f->sent_flows);
}

static gchar *
sample(const char *name, const char *exporter)
{
    return g_strdup_printf("portsurge_collector_%s{exporter=\"%s\",version=\"v5\"}", name,
                           exporter);
}

/* What the test sends: 20 good packets of 10 records, 3 that lie about their count, one
 * sequence jump, and 4 packets from 127.0.0.2 that the allow-list drops. */
static void
test_metrics(void)
{
    const char *extra[] = {"--metrics=127.0.0.1:0", "--allow=127.0.0.1/32", NULL};
    Fixture f;
    guint16 port;
    guint8 liar[24] = {0, 5, 0, 30}; /* v5, 30 records announced, none there */
    g_autofree gchar *text = NULL;
    g_autofree gchar *type = NULL;
    g_autofree gchar *packets = sample("packets_total", "127.0.0.1");
    g_autofree gchar *records = sample("records_total", "127.0.0.1");
    g_autofree gchar *errors = sample("decode_errors_total", "127.0.0.1");
    g_autofree gchar *gaps = sample("sequence_gaps_total", "127.0.0.1");

    if (!fixture_start(&f, TRUE, "[collector]\n", extra)) {
        fixture_clear(&f);
        return;
    }
    port = ps_ops_metrics_port(f.collector);
    g_assert_cmpuint(port, >, 0);
    send_packets(&f, 10);
    f.sequence += 100; /* 100 flows the exporter "lost" */
    send_packets(&f, 10);
    for (guint i = 0; i < 3; i++)
        g_assert_true(ps_test_udp_send(f.fd, liar, sizeof(liar)));
    for (guint i = 0; i < 4; i++)
        g_assert_true(ps_ops_send_v5(f.fd_other, &f.sequence_other, RECORDS_PER_PACKET));

    g_assert_cmpfloat(ps_ops_wait_metric(port, packets, 23), ==, 23);
    g_assert_cmpfloat(ps_ops_wait_metric(port, "portsurge_collector_flush_seconds_count", 3), >=,
                      1);
    text = ps_ops_http_get(port, "/metrics", &type);
    g_assert_nonnull(text);
    g_assert_cmpstr(type, ==, "text/plain; version=0.0.4; charset=utf-8");
    g_assert_cmpfloat(ps_ops_metric(text, records), ==, 200);
    g_assert_cmpfloat(ps_ops_metric(text, errors), ==, 3);
    g_assert_cmpfloat(ps_ops_metric(text, gaps), ==, 1);
    g_assert_cmpfloat(
        ps_ops_metric(text, "portsurge_collector_rejected_packets_total{source=\"127.0.0.2\"}"), ==,
        4);
    g_assert_cmpfloat(ps_ops_metric(text, "portsurge_collector_socket_drops_total"), ==, 0);
    g_assert_cmpfloat(ps_ops_metric(text, "portsurge_collector_receive_queue_full_total"), ==, 0);
    g_assert_cmpfloat(ps_ops_metric(text, "portsurge_collector_receive_queue_bytes"), ==, 0);
    g_assert_cmpfloat(ps_ops_metric(text, "portsurge_collector_redis_errors_total"), ==, 0);
    g_assert_cmpfloat(
        ps_ops_metric(text, "portsurge_collector_dropped_records_total{reason=\"redis_backlog\"}"),
        ==, 0);
    g_assert_cmpfloat(ps_ops_metric(text, "portsurge_collector_info{version=\"" PS_VERSION "\"}"),
                      ==, 1);
    g_assert_cmpfloat(ps_ops_metric(text, "portsurge_collector_last_flush_timestamp_seconds"), >,
                      1.5e9);
    g_assert_cmpfloat(ps_ops_metric(text, "process_start_time_seconds"), >, 1.5e9);
    g_assert_cmpfloat(ps_ops_metric(text, "portsurge_collector_flush_seconds_bucket{le=\"+Inf\"}"),
                      >=, 1);
    g_assert_nonnull(strstr(text, "# TYPE portsurge_collector_packets_total counter\n"));
    g_assert_nonnull(strstr(text, "# HELP portsurge_collector_packets_total "));
    g_assert_nonnull(strstr(text, "# TYPE portsurge_collector_flush_seconds histogram\n"));
    /* the rejected source never became an exporter */
    g_assert_null(strstr(text, "exporter=\"127.0.0.2\""));
    fixture_stop(&f);
    fixture_clear(&f);
}

/* Rewrites the configuration and sends SIGHUP; TRUE once the collector has answered with a
 * log line holding needle. */
static gboolean
reload(Fixture *f, const char *contents, const char *needle)
{
    guint before = ps_test_lines_count(f->collector->err, needle);
    g_autofree gchar *status = NULL;
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    g_free(ps_ops_write_config(f->dir, "portsurge.conf", contents));
    g_subprocess_send_signal(f->collector->process, SIGHUP);
    while (ps_test_lines_count(f->collector->err, needle) == before &&
           g_get_monotonic_time() < deadline)
        ps_ops_pump(20);
    if (ps_test_lines_count(f->collector->err, needle) > before)
        return TRUE;
    status = ps_test_child_describe_status(f->collector);
    g_test_message("no '%s' within 5 s of SIGHUP; collector: %s", needle, status);
    ps_test_child_log_stderr(f->collector, "collector");
    return FALSE;
}

static const char *const allow_only_first = "[collector]\nallow = 127.0.0.1/32\n";
static const char *const allow_both = "[collector]\nallow = 127.0.0.1/32, 127.0.0.2\n";

/* Sends n packets from 127.0.0.2; when accepted, they count as sent. */
static void
send_other(Fixture *f, guint n, gboolean accepted)
{
    for (guint i = 0; i < n; i++) {
        g_assert_true(ps_ops_send_v5(f->fd_other, &f->sequence_other, RECORDS_PER_PACKET));
        if (accepted)
            f->sent_flows += RECORDS_PER_PACKET;
    }
}

static void
test_allow_list(void)
{
    const char *extra[] = {"--metrics=127.0.0.1:0", NULL};
    const char *rejected = "portsurge_collector_rejected_packets_total{source=\"127.0.0.2\"}";
    g_autofree gchar *accepted = sample("packets_total", "127.0.0.2");
    Fixture f;
    guint16 port;

    if (!fixture_start(&f, FALSE, allow_only_first, extra)) {
        fixture_clear(&f);
        return;
    }
    port = ps_ops_metrics_port(f.collector);
    send_packets(&f, 5);
    send_other(&f, 50, FALSE);
    g_assert_cmpfloat(ps_ops_wait_metric(port, rejected, 50), ==, 50);
    /* 50 rejections, one log line: the rest wait for the next minute's summary */
    g_assert_cmpuint(ps_test_lines_count(f.collector->err, "not in the allow-list"), ==, 1);
    g_assert_cmpuint(ps_test_lines_count(f.collector->err, "127.0.0.2"), ==, 1);

    /* widen the list: the same source now gets through, and the count stays */
    g_assert_true(reload(&f, allow_both, "configuration reloaded"));
    send_other(&f, 5, TRUE);
    g_assert_cmpfloat(ps_ops_wait_metric(port, accepted, 5), ==, 5);
    g_assert_cmpfloat(ps_ops_wait_metric(port, rejected, 50), ==, 50);
    ps_ops_pump(300);
    fixture_stop(&f);
    /* --dump: only the packets sent after the reload were decoded */
    g_assert_cmpuint(ps_test_lines_count(f.collector->out, "\"exporter\":\"127.0.0.2\""), ==,
                     5 * RECORDS_PER_PACKET);
    fixture_clear(&f);
}

/* Packets every 20 ms for 6 s, a SIGHUP every 600 ms changing live keys (home networks,
 * service ports, log level, allow-list) and one that cannot change (bucket): Redis ends with
 * every flow sent, and the bucket change is reported as needing a restart. */
static void
test_reload_under_load(void)
{
    static const char *const configs[] = {
        "[collector]\nhome_networks = 10.0.0.0/8\nlog_level = info\n",
        "[collector]\nservice_ports = 8080\nallow = 127.0.0.0/8\n",
        "[collector]\nbucket = 300\nsampling = 1\n",
        "[collector]\nhome_networks = 192.0.2.0/24, 2001:db8::/32\nlog_level = message\n",
    };
    Fixture f;
    guint reloads = 0;

    if (!fixture_start(&f, TRUE, "[collector]\n", NULL)) {
        fixture_clear(&f);
        return;
    }
    for (guint i = 0; i < 300; i++) {
        send_packets(&f, 1);
        ps_ops_pump(20);
        if (i % 30 == 15) {
            g_assert_true(
                reload(&f, configs[reloads % G_N_ELEMENTS(configs)], "configuration reloaded"));
            reloads++;
        }
    }
    g_assert_cmpuint(reloads, ==, 10);
    g_assert_cmpuint(ps_test_lines_count(f.collector->err,
                                         "[collector] bucket = 300 needs a restart; keeping 60"),
                     ==, 2);
    fixture_stop(&f);
    g_assert_cmpuint(ps_test_lines_count(f.collector->err, "reload failed"), ==, 0);
    g_assert_cmpuint(ps_ops_redis_flows(ps_test_redis_socket(f.redis)), ==, f.sent_flows);
    fixture_clear(&f);
}

/* A reload with an error changes nothing: 127.0.0.2 stays refused. */
static void
test_reload_error_keeps_old(void)
{
    const char *extra[] = {"--metrics=127.0.0.1:0", NULL};
    const char *rejected = "portsurge_collector_rejected_packets_total{source=\"127.0.0.2\"}";
    const char *failures = "portsurge_collector_config_reloads_total{result=\"failure\"}";
    Fixture f;
    guint16 port;
    g_autofree gchar *expected = NULL;

    if (!fixture_start(&f, FALSE, allow_only_first, extra)) {
        fixture_clear(&f);
        return;
    }
    port = ps_ops_metrics_port(f.collector);
    /* 127.0.0.2 allowed, but line 3 is wrong: the whole file is refused */
    g_assert_true(
        reload(&f, "[collector]\nallow = 127.0.0.0/8\nflush_interval = soon\n", "reload failed"));
    expected = g_strdup_printf("reload failed, the running configuration stays: %s:3: [collector] "
                               "flush_interval: expected an integer from 1 to 3600, got 'soon'",
                               f.config);
    g_assert_cmpuint(ps_test_lines_count(f.collector->err, expected), ==, 1);
    send_other(&f, 3, FALSE);
    send_packets(&f, 2);
    g_assert_cmpfloat(ps_ops_wait_metric(port, rejected, 3), ==, 3);
    g_assert_cmpfloat(ps_ops_wait_metric(port, failures, 1), ==, 1);
    /* the collector still runs, with its old configuration, and a good file still works */
    g_assert_true(reload(&f, allow_both, "configuration reloaded"));
    send_other(&f, 1, TRUE);
    ps_ops_pump(300);
    fixture_stop(&f);
    fixture_clear(&f);
}

/* The line of /proc/PID/status that starts with field ("Uid:"), without its newline. */
static gchar *
status_line(GPid pid, const char *field)
{
    g_autofree gchar *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree gchar *contents = NULL;
    const char *at;

    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    at = strstr(contents, field);
    g_assert_nonnull(at);
    return g_strndup(at, strcspn(at, "\n"));
}

/* Only root can drop privileges: the test runs as root or is skipped. */
static void
test_privilege_drop(void)
{
    const char *extra[] = {"--user=nobody", NULL};
    Fixture f;
    GPid pid;
    g_autofree gchar *uids = NULL;
    g_autofree gchar *gids = NULL;
    g_autofree gchar *groups = NULL;

    if (getuid() != 0) {
        g_test_skip("not root: privileges cannot be dropped");
        return;
    }
    if (!fixture_start(&f, FALSE, "[collector]\n", extra)) {
        fixture_clear(&f);
        return;
    }
    g_assert_true(ps_ops_wait_logged(f.collector, "running as user nobody", 5000));
    pid = atoi(g_subprocess_get_identifier(f.collector->process));
    /* real, effective, saved and file-system ids: all of them */
    uids = status_line(pid, "Uid:");
    gids = status_line(pid, "Gid:");
    groups = status_line(pid, "Groups:");
    g_assert_cmpstr(uids, ==, "Uid:\t65534\t65534\t65534\t65534");
    g_assert_cmpstr(gids, ==, "Gid:\t65534\t65534\t65534\t65534");
    g_assert_null(strstr(groups, "\t0")); /* root's group is gone too */
    send_packets(&f, 3);                  /* still receiving */
    ps_ops_pump(300);
    fixture_stop(&f);
    fixture_clear(&f);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/collector-ops/metrics-exact", test_metrics);
    g_test_add_func("/collector-ops/allow-list", test_allow_list);
    g_test_add_func("/collector-ops/reload-under-load", test_reload_under_load);
    g_test_add_func("/collector-ops/reload-error-keeps-old", test_reload_error_keeps_old);
    g_test_add_func("/collector-ops/privilege-drop", test_privilege_drop);
    return g_test_run();
}
