#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "redis-proxy.h"

#define CHUNK   65536
#define POLL_MS 100 /* how often a blocked thread looks at the stop flag */

typedef struct Link Link;

struct PsTestProxy {
    int listener;
    gchar *upstream;
    GThread *acceptor;
    gint stopping;
    GMutex lock;   /* guards the fields below */
    gchar *needle; /* armed: the next client to send it fails */
    gboolean cut;  /* ... by a cut, else by losing its replies */
    guint failed;
    GPtrArray *links; /* Link */
};

/* One client connection and its connection to Redis; a thread per direction, so that neither
 * waits on the other (a client that writes a long pipeline before reading replies). */
struct Link {
    PsTestProxy *proxy;
    int client;
    int server;
    gint losing; /* replies are dropped */
    GThread *to_server;
    GThread *to_client;
};

static int
unix_socket(const char *path, gboolean listening)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_strlcpy(address.sun_path, path, sizeof(address.sun_path));
    if (fd < 0)
        return -1;
    if (listening
            ? bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 16) != 0
            : connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits until fd is readable or the proxy stops (FALSE). */
static gboolean
wait_readable(PsTestProxy *proxy, int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    while (!g_atomic_int_get(&proxy->stopping)) {
        int n = poll(&pfd, 1, POLL_MS);
        if (n > 0)
            return TRUE;
        if (n < 0 && errno != EINTR)
            return FALSE;
    }
    return FALSE;
}

static gboolean
write_all(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* Fails link if the proxy is armed and the client's bytes (with the tail of the previous
 * read, so a needle split across reads is seen) hold the needle: returns TRUE when the link is
 * to be cut, else arms it to lose its replies. */
static gboolean
watch_needle(Link *link, GString *window, const char *data, gsize len)
{
    PsTestProxy *proxy = link->proxy;
    gboolean cut = FALSE;

    g_string_append_len(window, data, (gssize)len);
    g_mutex_lock(&proxy->lock);
    if (proxy->needle != NULL &&
        memmem(window->str, window->len, proxy->needle, strlen(proxy->needle)) != NULL) {
        cut = proxy->cut;
        if (!cut)
            g_atomic_int_set(&link->losing, TRUE);
        g_clear_pointer(&proxy->needle, g_free);
        proxy->failed++;
    }
    g_mutex_unlock(&proxy->lock);
    if (window->len > 64)
        g_string_erase(window, 0, (gssize)window->len - 64);
    return cut;
}

/* Copies one direction until either side ends: the client's bytes to Redis, watched for the
 * needle (a cut ends the link before they get through), or Redis's replies to the client,
 * dropped once the link loses them. */
static void
forward(Link *link, gboolean upstream)
{
    int from = upstream ? link->client : link->server;
    int to = upstream ? link->server : link->client;
    g_autoptr(GString) window = g_string_new(NULL);
    char buffer[CHUNK];

    while (wait_readable(link->proxy, from)) {
        ssize_t n = recv(from, buffer, sizeof(buffer), 0);
        if (n <= 0)
            break;
        if (upstream && watch_needle(link, window, buffer, (gsize)n)) {
            shutdown(link->client, SHUT_RDWR);
            break;
        }
        if (!upstream && g_atomic_int_get(&link->losing))
            continue;
        if (!write_all(to, buffer, (gsize)n))
            break;
    }
    shutdown(to, SHUT_WR);
}

static gpointer
forward_to_server(gpointer data)
{
    forward(data, TRUE);
    return NULL;
}

static gpointer
forward_to_client(gpointer data)
{
    forward(data, FALSE);
    return NULL;
}

static gpointer
accept_loop(gpointer data)
{
    PsTestProxy *proxy = data;

    while (wait_readable(proxy, proxy->listener)) {
        int client = accept4(proxy->listener, NULL, NULL, SOCK_CLOEXEC);
        int server = client >= 0 ? unix_socket(proxy->upstream, FALSE) : -1;
        Link *link;
        if (server < 0) {
            if (client >= 0)
                close(client); /* Redis is down: so is the proxy */
            continue;
        }
        link = g_new0(Link, 1);
        link->proxy = proxy;
        link->client = client;
        link->server = server;
        link->to_server = g_thread_new("proxy-up", forward_to_server, link);
        link->to_client = g_thread_new("proxy-down", forward_to_client, link);
        g_mutex_lock(&proxy->lock);
        g_ptr_array_add(proxy->links, link);
        g_mutex_unlock(&proxy->lock);
    }
    return NULL;
}

PsTestProxy *
ps_test_proxy_new(const char *upstream_path, const char *listen_path)
{
    PsTestProxy *proxy;
    int listener = unix_socket(listen_path, TRUE);

    if (listener < 0) {
        g_test_fail_printf("proxy: cannot listen on %s: %s", listen_path, g_strerror(errno));
        return NULL;
    }
    proxy = g_new0(PsTestProxy, 1);
    proxy->listener = listener;
    proxy->upstream = g_strdup(upstream_path);
    proxy->links = g_ptr_array_new();
    g_mutex_init(&proxy->lock);
    proxy->acceptor = g_thread_new("proxy-accept", accept_loop, proxy);
    return proxy;
}

static void
arm(PsTestProxy *proxy, const char *needle, gboolean cut)
{
    g_mutex_lock(&proxy->lock);
    g_free(proxy->needle);
    proxy->needle = g_strdup(needle);
    proxy->cut = cut;
    g_mutex_unlock(&proxy->lock);
}

void
ps_test_proxy_lose_replies_after(PsTestProxy *proxy, const char *needle)
{
    arm(proxy, needle, FALSE);
}

void
ps_test_proxy_cut_before(PsTestProxy *proxy, const char *needle)
{
    arm(proxy, needle, TRUE);
}

guint
ps_test_proxy_failed(PsTestProxy *proxy)
{
    guint failed;

    g_mutex_lock(&proxy->lock);
    failed = proxy->failed;
    g_mutex_unlock(&proxy->lock);
    return failed;
}

void
ps_test_proxy_free(PsTestProxy *proxy)
{
    if (proxy == NULL)
        return;
    g_atomic_int_set(&proxy->stopping, TRUE);
    g_thread_join(proxy->acceptor);
    for (guint i = 0; i < proxy->links->len; i++) {
        Link *link = g_ptr_array_index(proxy->links, i);
        g_thread_join(link->to_server);
        g_thread_join(link->to_client);
        close(link->client);
        close(link->server);
        g_free(link);
    }
    g_ptr_array_unref(proxy->links);
    close(proxy->listener);
    g_free(proxy->upstream);
    g_free(proxy->needle);
    g_mutex_clear(&proxy->lock);
    g_free(proxy);
}
