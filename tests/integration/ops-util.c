#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "builder.h"
#include "ops-util.h"
#include "redis-server.h"
#include "redis.h"

gchar *
ps_ops_write_config(const char *dir, const char *name, const char *contents)
{
    gchar *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) error = NULL;

    g_file_set_contents(path, contents, -1, &error);
    g_assert_no_error(error);
    return path;
}

static gboolean
quit_loop(gpointer user_data)
{
    g_main_loop_quit(user_data);
    return G_SOURCE_REMOVE;
}

void
ps_ops_pump(guint ms)
{
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);

    g_timeout_add(ms, quit_loop, loop);
    g_main_loop_run(loop);
}

gboolean
ps_ops_wait_logged(PsTestChild *child, const char *needle, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    while (ps_test_lines_count(child->err, needle) == 0 && !ps_test_child_finished(child) &&
           g_get_monotonic_time() < deadline)
        ps_ops_pump(50);
    return ps_test_lines_count(child->err, needle) > 0;
}

PsTestChild *
ps_ops_run(const char *const *argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PsTestChild) child = ps_test_child_spawn(argv, &error);

    g_assert_no_error(error);
    if (!ps_test_child_wait_exit(child, PS_TEST_EXIT_TIMEOUT_MS)) {
        ps_test_child_log_stderr(child, argv[0]);
        g_test_fail_printf("%s did not end in time", argv[0]);
        return NULL;
    }
    return g_steal_pointer(&child);
}

guint16
ps_ops_metrics_port(const PsTestChild *collector)
{
    for (guint i = 0; i < collector->err->len; i++) {
        const char *at = strstr(g_ptr_array_index(collector->err, i), ", port ");
        if (at != NULL && strstr(at, "/metrics") != NULL)
            return (guint16)atoi(at + strlen(", port "));
    }
    return 0;
}

/* Splits an HTTP/1.0 response into its Content-Type and body. */
static gchar *
response_body(const char *response, gchar **content_type)
{
    const char *body = strstr(response, "\r\n\r\n");
    const char *type = strcasestr(response, "\r\nContent-Type: ");

    if (body == NULL || !g_str_has_prefix(response, "HTTP/1.") ||
        strstr(response, " 200 ") == NULL) {
        g_test_message("unexpected HTTP response: %.200s", response);
        return NULL;
    }
    if (content_type != NULL && type != NULL) {
        type += strlen("\r\nContent-Type: ");
        *content_type = g_strndup(type, strcspn(type, "\r\n"));
    }
    return g_strdup(body + 4);
}

gchar *
ps_ops_http_get(guint16 port, const char *path, gchar **content_type)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketConnection) connection = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree gchar *request = g_strdup_printf("GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    g_autoptr(GByteArray) response = g_byte_array_new();
    guint8 buffer[16384];
    gssize n;

    g_socket_client_set_timeout(client, 5);
    connection = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error);
    if (connection == NULL) {
        g_test_message("metrics on port %u: %s", port, error->message);
        return NULL;
    }
    g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(connection)), request,
                              strlen(request), NULL, NULL, &error);
    g_assert_no_error(error);
    while ((n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(connection)), buffer,
                                    sizeof(buffer), NULL, &error)) > 0)
        g_byte_array_append(response, buffer, (guint)n);
    g_assert_no_error(error);
    g_byte_array_append(response, (const guint8 *)"", 1);
    return response_body((const char *)response->data, content_type);
}

gdouble
ps_ops_metric(const char *text, const char *sample)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    gsize len = strlen(sample);

    for (guint i = 0; lines[i] != NULL; i++) {
        if (strncmp(lines[i], sample, len) == 0 && lines[i][len] == ' ')
            return g_ascii_strtod(lines[i] + len + 1, NULL);
    }
    return -1;
}

gdouble
ps_ops_wait_metric(guint16 port, const char *sample, gdouble expected)
{
    gint64 deadline = g_get_monotonic_time() + PS_OPS_METRICS_TIMEOUT_MS * 1000LL;
    gdouble value = -1;

    do {
        g_autofree gchar *text = ps_ops_http_get(port, "/metrics", NULL);
        value = text != NULL ? ps_ops_metric(text, sample) : -1;
        if (value == expected)
            return value;
        ps_ops_pump(200);
    } while (g_get_monotonic_time() < deadline);
    g_test_message("%s: %g, expected %g", sample, value, expected);
    return value;
}

int
ps_ops_udp_from(const char *source, guint16 port)
{
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(inet_pton(AF_INET, source, &from.sin_addr), ==, 1);
    g_assert_cmpint(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), ==, 1);
    if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        g_test_fail_printf("UDP from %s to port %u: %s", source, port, g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

gboolean
ps_ops_send_v5(int fd, guint32 *sequence, guint n)
{
    gint64 now_us = g_get_real_time();
    PsV5TestHeader header = {.sys_uptime_ms = 3600000,
                             .unix_secs = (guint32)(now_us / G_USEC_PER_SEC),
                             .unix_nsecs = (guint32)(now_us % G_USEC_PER_SEC * 1000),
                             .sequence = *sequence};
    PsV5TestRecord records[30];
    char sources[30][16];
    PsPacket *packet = g_new0(PsPacket, 1);
    gboolean sent;

    g_assert_cmpuint(n, <=, G_N_ELEMENTS(records));
    for (guint i = 0; i < n; i++) {
        g_snprintf(sources[i], sizeof(sources[i]), "198.18.0.%u", (*sequence + i) % 250 + 1);
        records[i] =
            (PsV5TestRecord){sources[i], "10.0.0.1", 40000, 445, 6, 0x02, 1, 60, 3599000, 3600000};
    }
    ps_packet_v5(packet, &header, (guint16)n, records, n);
    sent = ps_test_udp_send(fd, packet->data, packet->len);
    *sequence += n;
    g_free(packet);
    return sent;
}

guint64
ps_ops_redis_flows(const char *socket_path)
{
    g_autoptr(redisContext) context = redisConnectUnix(socket_path);
    g_autoptr(GPtrArray) keys = NULL;
    guint64 flows = 0;

    g_assert_true(context != NULL && context->err == 0);
    keys = ps_test_redis_keys(context, "ps:b:60:*");
    for (guint i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);
        if (strchr(key + strlen("ps:b:60:"), ':') != NULL)
            continue; /* a sketch or a top set */
        flows += ps_test_redis_hget_int(context, key, "tcp/445:flows");
    }
    return flows;
}
