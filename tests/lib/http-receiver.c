#include "config.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>

#include "http-receiver.h"

struct PsTestReceiver {
    struct MHD_Daemon *daemon;
    guint16 port;
    GMutex lock;
    GCond changed;
    GHashTable *scripts; /* path ("" for every path) -> Script */
    GPtrArray *requests; /* PsTestRequest */
};

typedef struct {
    GString *body;
    GHashTable *headers;
} Upload;

typedef struct {
    gchar **answers;
    guint next;
} Script;

static void
script_free(Script *script)
{
    g_strfreev(script->answers);
    g_free(script);
}

void
ps_test_request_free(PsTestRequest *request)
{
    g_free(request->path);
    g_free(request->body);
    g_hash_table_unref(request->headers);
    g_free(request);
}

static PsTestRequest *
request_copy(const PsTestRequest *request)
{
    PsTestRequest *copy = g_new0(PsTestRequest, 1);
    GHashTableIter iter;
    gpointer name, value;

    *copy = *request;
    copy->path = g_strdup(request->path);
    copy->body = g_strdup(request->body);
    copy->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_iter_init(&iter, request->headers);
    while (g_hash_table_iter_next(&iter, &name, &value))
        g_hash_table_insert(copy->headers, g_strdup(name), g_strdup(value));
    return copy;
}

static enum MHD_Result
keep_header(void *data, enum MHD_ValueKind kind, const char *name, const char *value)
{
    (void)kind;
    g_hash_table_insert(data, g_ascii_strdown(name, -1), g_strdup(value != NULL ? value : ""));
    return MHD_YES;
}

/* The next answer of the script: status (0: hang), Retry-After (0: none), delay in ms. */
static void
next_answer(PsTestReceiver *receiver, const char *url, guint *status, guint *retry_after,
            guint *delay_ms)
{
    const char *answer = NULL;
    Script *script;

    *status = 200;
    *retry_after = 0;
    *delay_ms = 0;
    g_mutex_lock(&receiver->lock);
    script = g_hash_table_lookup(receiver->scripts, url);
    if (script == NULL)
        script = g_hash_table_lookup(receiver->scripts, "");
    if (script != NULL && script->answers[script->next] != NULL)
        answer = script->answers[script->next++];
    g_mutex_unlock(&receiver->lock);
    if (answer == NULL)
        return;
    if (g_str_has_prefix(answer, "hang:") || g_str_has_prefix(answer, "slow:")) {
        *status = g_str_has_prefix(answer, "hang:") ? 0 : 200;
        *delay_ms = (guint)g_ascii_strtoull(answer + 5, NULL, 10);
        return;
    }
    *status = (guint)g_ascii_strtoull(answer, NULL, 10);
    if (strchr(answer, ':') != NULL)
        *retry_after = (guint)g_ascii_strtoull(strchr(answer, ':') + 1, NULL, 10);
}

static void
record(PsTestReceiver *receiver, const char *url, Upload *upload, guint status)
{
    PsTestRequest *request = g_new0(PsTestRequest, 1);

    request->path = g_strdup(url);
    request->body = g_string_free(g_steal_pointer(&upload->body), FALSE);
    request->headers = g_steal_pointer(&upload->headers);
    request->status = status;
    request->at_us = g_get_monotonic_time();
    g_mutex_lock(&receiver->lock);
    g_ptr_array_add(receiver->requests, request);
    g_cond_broadcast(&receiver->changed);
    g_mutex_unlock(&receiver->lock);
}

static enum MHD_Result
answer(PsTestReceiver *receiver, struct MHD_Connection *connection, const char *url, Upload *upload)
{
    guint status, retry_after, delay_ms;
    struct MHD_Response *response;
    enum MHD_Result result;

    MHD_get_connection_values(connection, MHD_HEADER_KIND, keep_header, upload->headers);
    next_answer(receiver, url, &status, &retry_after, &delay_ms);
    record(receiver, url, upload, status);
    g_usleep(delay_ms * 1000);
    if (status == 0)
        return MHD_NO; /* hung: the client has given up by now; close */
    response = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    if (retry_after > 0) {
        g_autofree gchar *value = g_strdup_printf("%u", retry_after);
        MHD_add_response_header(response, "Retry-After", value);
    }
    result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result
on_request(void *data, struct MHD_Connection *connection, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    Upload *upload = *state;

    (void)method;
    (void)version;
    if (upload == NULL) { /* first call: headers only */
        upload = g_new0(Upload, 1);
        upload->body = g_string_new(NULL);
        upload->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        *state = upload;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        g_string_append_len(upload->body, upload_data, (gssize)*upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return answer(data, connection, url, upload);
}

static void
on_completed(void *data, struct MHD_Connection *connection, void **state,
             enum MHD_RequestTerminationCode code)
{
    Upload *upload = *state;

    (void)data;
    (void)connection;
    (void)code;
    if (upload == NULL)
        return;
    if (upload->body != NULL)
        g_string_free(upload->body, TRUE);
    if (upload->headers != NULL)
        g_hash_table_unref(upload->headers);
    g_free(upload);
    *state = NULL;
}

PsTestReceiver *
ps_test_receiver_start(void)
{
    PsTestReceiver *receiver = g_new0(PsTestReceiver, 1);
    struct sockaddr_in address = {0};
    const union MHD_DaemonInfo *info;

    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_mutex_init(&receiver->lock);
    g_cond_init(&receiver->changed);
    receiver->requests = g_ptr_array_new_with_free_func((GDestroyNotify)ps_test_request_free);
    receiver->scripts =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)script_free);
    receiver->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, receiver, MHD_OPTION_SOCK_ADDR, &address,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, receiver, MHD_OPTION_END);
    if (receiver->daemon == NULL) {
        g_test_fail_printf("the test's HTTP receiver cannot listen on 127.0.0.1");
        ps_test_receiver_stop(receiver);
        return NULL;
    }
    info = MHD_get_daemon_info(receiver->daemon, MHD_DAEMON_INFO_BIND_PORT);
    receiver->port = info->port;
    return receiver;
}

void
ps_test_receiver_stop(PsTestReceiver *receiver)
{
    if (receiver == NULL)
        return;
    if (receiver->daemon != NULL)
        MHD_stop_daemon(receiver->daemon);
    g_ptr_array_unref(receiver->requests);
    g_hash_table_unref(receiver->scripts);
    g_mutex_clear(&receiver->lock);
    g_cond_clear(&receiver->changed);
    g_free(receiver);
}

gchar *
ps_test_receiver_url(const PsTestReceiver *receiver, const char *path)
{
    return g_strdup_printf("http://127.0.0.1:%u%s", receiver->port, path);
}

void
ps_test_receiver_script(PsTestReceiver *receiver, const char *path, const char *answers)
{
    Script *script = g_new0(Script, 1);

    script->answers = g_strsplit(answers, ",", -1);
    g_mutex_lock(&receiver->lock);
    g_hash_table_replace(receiver->scripts, g_strdup(path != NULL ? path : ""), script);
    g_mutex_unlock(&receiver->lock);
}

static GPtrArray *
select_requests(PsTestReceiver *receiver, const char *path, gboolean accepted_only)
{
    GPtrArray *chosen = g_ptr_array_new_with_free_func((GDestroyNotify)ps_test_request_free);

    for (guint i = 0; i < receiver->requests->len; i++) {
        const PsTestRequest *request = g_ptr_array_index(receiver->requests, i);
        if ((path == NULL || g_str_equal(request->path, path)) &&
            (!accepted_only || (request->status >= 200 && request->status < 300)))
            g_ptr_array_add(chosen, request_copy(request));
    }
    return chosen;
}

static GPtrArray *
select_locked(PsTestReceiver *receiver, const char *path, gboolean accepted_only)
{
    GPtrArray *chosen;

    g_mutex_lock(&receiver->lock);
    chosen = select_requests(receiver, path, accepted_only);
    g_mutex_unlock(&receiver->lock);
    return chosen;
}

GPtrArray *
ps_test_receiver_requests(PsTestReceiver *receiver, const char *path)
{
    return select_locked(receiver, path, FALSE);
}

GPtrArray *
ps_test_receiver_accepted(PsTestReceiver *receiver, const char *path)
{
    return select_locked(receiver, path, TRUE);
}

gboolean
ps_test_receiver_wait_accepted(PsTestReceiver *receiver, const char *path, guint n,
                               guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    gboolean enough = FALSE;

    g_mutex_lock(&receiver->lock);
    while (!enough) {
        g_autoptr(GPtrArray) accepted = select_requests(receiver, path, TRUE);
        enough = accepted->len >= n;
        if (!enough && !g_cond_wait_until(&receiver->changed, &receiver->lock, deadline))
            break;
    }
    g_mutex_unlock(&receiver->lock);
    return enough;
}
