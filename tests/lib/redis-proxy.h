/* A unix socket proxy in front of a test's redis-server that fails one connection on cue: once
 * armed with a string, the first connection whose client sends it either
 *   - loses its replies: what it sent reaches Redis, the replies are read and dropped (to the
 *     client a slow Redis or a reply lost on the way: it times out not knowing whether Redis
 *     applied what it sent, which Redis did), or
 *   - is cut: the data holding the string never reaches Redis and both sides are closed (a
 *     connection that broke before the transaction got through).
 * Connections after that one pass both ways. */
#pragma once

#include <glib.h>

typedef struct PsTestProxy PsTestProxy;

/* Listens on listen_path and forwards each connection to upstream_path. NULL (test failed)
 * when it cannot listen. */
PsTestProxy *ps_test_proxy_new(const char *upstream_path, const char *listen_path);

/* The next connection whose client sends needle loses every reply from then on. */
void ps_test_proxy_lose_replies_after(PsTestProxy *proxy, const char *needle);

/* The next connection whose client sends needle is cut before it reaches Redis. */
void ps_test_proxy_cut_before(PsTestProxy *proxy, const char *needle);

/* How many connections have been failed so far. */
guint ps_test_proxy_failed(PsTestProxy *proxy);

/* Closes every connection and the listener. */
void ps_test_proxy_free(PsTestProxy *proxy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsTestProxy, ps_test_proxy_free)
