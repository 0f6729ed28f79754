/* A unix socket proxy in front of a test's redis-server that can lose replies: everything the
 * client sends reaches Redis, but once armed, the first connection whose client sends a given
 * string gets no more replies (they are read from Redis and dropped). To the client that is a
 * slow Redis or a reply lost on the way: it times out not knowing whether Redis applied what
 * it sent, which Redis did. Connections after that one pass both ways. */
#pragma once

#include <glib.h>

typedef struct PsTestProxy PsTestProxy;

/* Listens on listen_path and forwards each connection to upstream_path. NULL (test failed)
 * when it cannot listen. */
PsTestProxy *ps_test_proxy_new(const char *upstream_path, const char *listen_path);

/* The next connection whose client sends needle loses every reply from then on. */
void ps_test_proxy_lose_replies_after(PsTestProxy *proxy, const char *needle);

/* How many connections have lost their replies so far. */
guint ps_test_proxy_connections_cut(PsTestProxy *proxy);

/* Closes every connection and the listener. */
void ps_test_proxy_free(PsTestProxy *proxy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsTestProxy, ps_test_proxy_free)
