/* The HTTP half of metrics.h: libmicrohttpd on its own thread, one callback per scrape. */
#include "config.h"

#include <gio/gio.h>
#include <microhttpd.h>
#include <string.h>

#include "metrics.h"

struct PsMetricsServer {
    struct MHD_Daemon *daemon;
    PsMetricsRenderFn render;
    gpointer user_data;
    guint16 port;
};

/* "ADDR:PORT", "[ADDR]:PORT", ":PORT" -> a socket address; NULL when it is none of these. */
static GSocketAddress *
address_from_text(const char *text)
{
    const char *colon = strrchr(text, ':');
    g_autofree gchar *host = NULL;
    g_autoptr(GInetAddress) address = NULL;
    guint64 port;

    if (colon == NULL || !g_ascii_string_to_unsigned(colon + 1, 10, 0, 65535, &port, NULL))
        return NULL;
    host = g_strndup(text, colon - text);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    address = host[0] == '\0' ? g_inet_address_new_any(G_SOCKET_FAMILY_IPV6)
                              : g_inet_address_new_from_string(host);
    return address != NULL ? g_inet_socket_address_new(address, (guint16)port) : NULL;
}

static GSocketAddress *
parse_address(const char *text, GError **error)
{
    GSocketAddress *address = address_from_text(text);

    if (address == NULL)
        g_set_error(error, PS_METRICS_ERROR, PS_METRICS_ERROR_ADDRESS,
                    "'%s' is not a listen address: expected ADDR:PORT, [ADDR]:PORT or :PORT "
                    "such as 127.0.0.1:9108",
                    text);
    return address;
}

gboolean
ps_metrics_parse_listen(const char *text, GError **error)
{
    g_autoptr(GSocketAddress) address = parse_address(text, error);

    return address != NULL;
}

static enum MHD_Result
respond(struct MHD_Connection *connection, guint status, gchar *body, const char *type)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer_with_free_callback(strlen(body), body, g_free);
    enum MHD_Result result;

    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **request)
{
    PsMetricsServer *server = cls;
    GString *text;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)request;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, g_strdup("GET only\n"),
                       "text/plain");
    if (strcmp(url, "/metrics") != 0 && strcmp(url, "/") != 0)
        return respond(connection, MHD_HTTP_NOT_FOUND, g_strdup("see /metrics\n"), "text/plain");
    text = g_string_sized_new(16384);
    server->render(text, server->user_data);
    return respond(connection, MHD_HTTP_OK, g_string_free(text, FALSE), PS_METRICS_CONTENT_TYPE);
}

PsMetricsServer *
ps_metrics_server_start(const char *listen, PsMetricsRenderFn render, gpointer user_data,
                        GError **error)
{
    g_autoptr(GSocketAddress) address = parse_address(listen, error);
    struct sockaddr_storage native;
    g_autofree PsMetricsServer *server = g_new0(PsMetricsServer, 1);
    const union MHD_DaemonInfo *info;
    guint flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

    if (address == NULL || !g_socket_address_to_native(address, &native, sizeof(native), error))
        return NULL;
    if (g_socket_address_get_family(address) == G_SOCKET_FAMILY_IPV6)
        flags |= MHD_USE_DUAL_STACK; /* [::] takes IPv4 too, as the UDP sockets do */
    server->render = render;
    server->user_data = user_data;
    server->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, server, MHD_OPTION_SOCK_ADDR, &native,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)PS_METRICS_MAX_CLIENTS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)PS_METRICS_TIMEOUT_S, MHD_OPTION_END);
    if (server->daemon == NULL) {
        g_set_error(error, PS_METRICS_ERROR, PS_METRICS_ERROR_LISTEN,
                    "metrics: cannot listen on %s (address in use or not local?)", listen);
        return NULL;
    }
    info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info != NULL ? info->port : 0;
    return g_steal_pointer(&server);
}

guint16
ps_metrics_server_port(const PsMetricsServer *server)
{
    return server->port;
}

void
ps_metrics_server_stop(PsMetricsServer *server)
{
    if (server == NULL)
        return;
    MHD_stop_daemon(server->daemon);
    g_free(server);
}
