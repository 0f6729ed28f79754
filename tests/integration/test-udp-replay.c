/* The same export packets give the same records whichever way they reach the collector:
 * `--read FILES` offline, or the files' datagrams sent over UDP to a running `--dump`
 * collector on 127.0.0.1 and on ::1. Only the exporter differs (0.0.0.0 for raw files, the
 * sender's address over UDP); records, their order, and the per-exporter counters printed by
 * --stats must be identical.
 *
 * The packets are real exports from the shared corpus (../shared/testdata/flows, see its
 * README.md for sources and replay order); each group is replayed in order as one exporter.
 * Without the corpus the tests skip. */
#include <string.h>
#include <unistd.h>

#include "integ-util.h"

#define MAX_GROUP_FILES 8
#define SEND_PAUSE_US   200 /* between datagrams: loopback drops nothing, but stay polite */

typedef struct {
    const char *path;                       /* GTest path */
    const char *files[MAX_GROUP_FILES + 1]; /* under PS_SHARED_TESTDATA, in replay order */
} ReplayGroup;

#define LOGSTASH "logstash-codec-netflow/"
#define TELEGRAF "telegraf/ipfix_example/"

/* Only Apache-2.0, MIT and BSD corpus files (see the corpus README's licence column). */
static const ReplayGroup groups[] = {
    {"/udp-replay/v5/logstash-12-datagrams", {LOGSTASH "netflow5.dat"}},
    {"/udp-replay/v5/mikrotik", {LOGSTASH "netflow5_test_microtik.dat"}},
    {"/udp-replay/v9/macaddr",
     {LOGSTASH "netflow9_test_macaddr_tpl.dat", LOGSTASH "netflow9_test_macaddr_data.dat"}},
    {"/udp-replay/v9/multiple-exporters",
     {LOGSTASH "netflow9_test_nprobe_tpl.dat", LOGSTASH "netflow9_test_softflowd_tpl_data.dat",
      LOGSTASH "netflow9_test_nprobe_data.dat"}},
    {"/udp-replay/v9/cisco-asa",
     {LOGSTASH "netflow9_test_cisco_asa_1_tpl.dat", LOGSTASH "netflow9_test_cisco_asa_1_data.dat"}},
    {"/udp-replay/ipfix/openbsd-pflow",
     {LOGSTASH "ipfix_test_openbsd_pflow_tpl.dat", LOGSTASH "ipfix_test_openbsd_pflow_data.dat"}},
    {"/udp-replay/ipfix/logstash-3-messages", {LOGSTASH "ipfix.dat"}},
    {"/udp-replay/ipfix/telegraf-example",
     {TELEGRAF "ipfix_0.bin", TELEGRAF "ipfix_1.bin", TELEGRAF "ipfix_2.bin",
      TELEGRAF "ipfix_3.bin", TELEGRAF "ipfix_4.bin", TELEGRAF "ipfix_5.bin",
      TELEGRAF "ipfix_6.bin"}},
    {"/udp-replay/ipfix/ipfixcol2-68-messages", {"ipfixcol2/example_flows.ipfix"}},
    /* one exporter speaking all three versions, in the order the brief gives */
    {"/udp-replay/mixed/v5-v9-ipfix",
     {LOGSTASH "netflow5.dat", LOGSTASH "netflow9_test_macaddr_tpl.dat",
      LOGSTASH "netflow9_test_macaddr_data.dat", LOGSTASH "ipfix_test_openbsd_pflow_tpl.dat",
      LOGSTASH "ipfix_test_openbsd_pflow_data.dat"}},
};

/* Length of the datagram at the start of a raw file's remaining bytes. Raw files may hold
 * several datagrams back to back (corpus README): v5 is 24 + 48 * count bytes, IPFIX says
 * its length at offset 2; v9 has no length, and every v9 file used here is one datagram. */
static gsize
datagram_length(const guint8 *data, gsize left)
{
    guint version, field;
    gsize len = left;

    if (left < 4)
        return left;
    version = (guint)data[0] << 8 | data[1];
    field = (guint)data[2] << 8 | data[3];
    if (version == 5)
        len = 24 + 48 * (gsize)field;
    else if (version == 10 && field >= 16)
        len = field;
    return MIN(len, left);
}

/* Appends the datagrams of one raw file to datagrams (GBytes). */
static gboolean
split_file(const char *path, GPtrArray *datagrams)
{
    g_autofree gchar *contents = NULL;
    g_autoptr(GError) error = NULL;
    gsize len = 0, offset = 0;

    if (!g_file_get_contents(path, &contents, &len, &error)) {
        g_test_fail_printf("%s", error->message);
        return FALSE;
    }
    while (offset < len) {
        gsize size = datagram_length((const guint8 *)contents + offset, len - offset);
        g_ptr_array_add(datagrams, g_bytes_new(contents + offset, size));
        offset += size;
    }
    return TRUE;
}

/* Absolute paths of the group's files; NULL (and the test skipped) when the corpus is absent. */
static GPtrArray *
group_paths(const ReplayGroup *group)
{
    const char *root = g_getenv("PS_SHARED_TESTDATA");
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);

    if (root == NULL || !g_file_test(root, G_FILE_TEST_IS_DIR)) {
        g_test_skip("PS_SHARED_TESTDATA (../shared/testdata/flows) is absent: these tests "
                    "replay its corpus files");
        return NULL;
    }
    for (guint i = 0; group->files[i] != NULL; i++) {
        gchar *path = g_build_filename(root, group->files[i], NULL);
        g_ptr_array_add(paths, path);
        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            g_test_skip_printf("corpus file %s is absent", group->files[i]);
            return NULL;
        }
    }
    return g_steal_pointer(&paths);
}

/* Sends every datagram to both sockets, in order, reading the collector's output meanwhile so
 * that a full stdout pipe never stalls it. */
static gboolean
send_all(GPtrArray *datagrams, int fd4, int fd6)
{
    for (guint i = 0; i < datagrams->len; i++) {
        gsize len;
        const guint8 *data = g_bytes_get_data(g_ptr_array_index(datagrams, i), &len);
        if (!ps_test_udp_send(fd4, data, len) || !ps_test_udp_send(fd6, data, len))
            return FALSE;
        g_usleep(SEND_PAUSE_US);
        while (g_main_context_iteration(NULL, FALSE))
            ;
    }
    return TRUE;
}

/* Lines of `lines` whose exporter is `exporter`, re-serialised without the exporter. */
static GPtrArray *
lines_of_exporter(const GPtrArray *lines, const char *exporter)
{
    GPtrArray *selected = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < lines->len; i++) {
        const char *line = g_ptr_array_index(lines, i);
        g_autofree gchar *from = ps_test_json_exporter(line);
        if (g_strcmp0(from, exporter) == 0)
            g_ptr_array_add(selected, ps_test_json_without_exporter(line));
    }
    return selected;
}

static void
assert_same_lines(const char *what, const char *exporter, GPtrArray *udp, GPtrArray *offline)
{
    for (guint i = 0; i < MIN(udp->len, offline->len); i++) {
        const char *got = g_ptr_array_index(udp, i);
        const char *want = g_ptr_array_index(offline, i);
        if (g_strcmp0(got, want) != 0) {
            g_test_message("%s %u of %u from %s over UDP differs from --read:\n  udp:  %s\n  "
                           "read: %s",
                           what, i + 1, offline->len, exporter, got, want);
            g_assert_cmpstr(got, ==, want);
        }
    }
    if (udp->len != offline->len)
        g_test_message("%s from %s: %u over UDP, %u from --read", what, exporter, udp->len,
                       offline->len);
    g_assert_cmpuint(udp->len, ==, offline->len);
}

/* Every record line names one of the two senders, and nothing else. */
static void
assert_only_loopback_exporters(const GPtrArray *lines)
{
    for (guint i = 0; i < lines->len; i++) {
        const char *line = g_ptr_array_index(lines, i);
        g_autofree gchar *exporter = ps_test_json_exporter(line);
        if (g_strcmp0(exporter, "127.0.0.1") != 0 && g_strcmp0(exporter, "::1") != 0) {
            g_test_message("unexpected record line: %s", line);
            g_assert_not_reached();
        }
    }
}

static GPtrArray *
json_lines(const GPtrArray *lines)
{
    GPtrArray *selected = g_ptr_array_new();

    for (guint i = 0; i < lines->len; i++) {
        const char *line = g_ptr_array_index(lines, i);
        if (line[0] == '{')
            g_ptr_array_add(selected, (gpointer)line);
    }
    return selected;
}

static void
test_replay(gconstpointer data)
{
    const ReplayGroup *group = data;
    const char *addresses[] = {"127.0.0.1", "::1"};
    guint16 ports[G_N_ELEMENTS(addresses)];
    g_autoptr(GPtrArray) paths = NULL;
    g_autoptr(GPtrArray) datagrams = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) offline_lines = NULL;
    g_autoptr(GPtrArray) offline = NULL;
    g_autoptr(GPtrArray) offline_stats_lines = NULL;
    g_autoptr(GPtrArray) offline_stats = NULL;
    g_autoptr(PsTestChild) collector = NULL;
    g_autofree gchar *status = NULL;
    int fd4, fd6;
    gboolean sent;

    if (ps_test_collector_path() == NULL)
        return;
    paths = group_paths(group);
    if (paths == NULL)
        return;
    for (guint i = 0; i < paths->len; i++) {
        if (!split_file(g_ptr_array_index(paths, i), datagrams))
            return;
    }
    if (!ps_test_collector_read((const char *const *)paths->pdata, paths->len, &offline_lines,
                                &offline_stats_lines))
        return;
    /* raw files have no sender: --read names the exporter 0.0.0.0 */
    offline = lines_of_exporter(offline_lines, "0.0.0.0");
    g_assert_cmpuint(offline->len, ==, offline_lines->len);
    g_test_message("%u datagrams, %u records from --read", datagrams->len, offline->len);
    g_assert_cmpuint(offline->len, >, 0); /* else the comparison proves nothing */
    {
        g_autoptr(GPtrArray) stats_lines = json_lines(offline_stats_lines);
        offline_stats = lines_of_exporter(stats_lines, "0.0.0.0");
    }
    g_assert_cmpuint(offline_stats->len, ==, 1);

    collector = ps_test_collector_start(addresses, G_N_ELEMENTS(addresses), ports, NULL);
    if (collector == NULL)
        return;
    fd4 = ps_test_udp_connect(addresses[0], ports[0]);
    fd6 = ps_test_udp_connect(addresses[1], ports[1]);
    sent = fd4 >= 0 && fd6 >= 0 && send_all(datagrams, fd4, fd6);
    if (fd4 >= 0)
        close(fd4);
    if (fd6 >= 0)
        close(fd6);
    g_assert_true(sent);

    /* all records, then a quiet spell so that extra ones would show, then a clean stop */
    if (!ps_test_child_wait_lines(collector, 2 * offline->len, PS_TEST_RECORDS_TIMEOUT_MS))
        g_test_message("only %u of %u records arrived in time", collector->out->len,
                       2 * offline->len);
    ps_test_child_wait_quiet(collector, PS_TEST_QUIET_MS, PS_TEST_RECORDS_TIMEOUT_MS);
    g_assert_true(ps_test_child_stop(collector, SIGTERM, PS_TEST_EXIT_TIMEOUT_MS));
    status = ps_test_child_describe_status(collector);
    if (!ps_test_child_exited_cleanly(collector))
        ps_test_child_log_stderr(collector, "collector");
    g_assert_cmpstr(status, ==, "exit 0");

    assert_only_loopback_exporters(collector->out);
    for (guint i = 0; i < G_N_ELEMENTS(addresses); i++) {
        g_autoptr(GPtrArray) udp = lines_of_exporter(collector->out, addresses[i]);
        g_autoptr(GPtrArray) stats_lines = json_lines(collector->err);
        g_autoptr(GPtrArray) stats = lines_of_exporter(stats_lines, addresses[i]);
        assert_same_lines("record", addresses[i], udp, offline);
        /* same packets in the same order: the same counters, sequence tracking included */
        assert_same_lines("--stats line", addresses[i], stats, offline_stats);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(groups); i++)
        g_test_add_data_func(groups[i].path, &groups[i], test_replay);
    return g_test_run();
}
