/* Delivery of alert messages, with a real redis-server and a real HTTP receiver (both started
 * here): portsurge-alerter turns a seeded scan wave into one incident that reaches every
 * configured receiver in its format, signed; the courier retries 500s, honours 429
 * Retry-After, survives a receiver that hangs, delivers in order and exactly once when the
 * receiver recovers, and gives up into the dead letters; an alerter killed between the
 * receiver's answer and its acknowledgement delivers once more with the same key. */
#include "config.h"

#include <curl/curl.h>
#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alert-schema.h"
#include "courier.h"
#include "http-receiver.h"
#include "keys.h"
#include "outbox.h"
#include "redis-server.h"
#include "signature.h"

#define STEP    60
#define SECRET  "correct horse battery staple"
#define WAIT_MS 30000

/* ---- helpers ---- */

static JsonNode *
parse_json(const char *text)
{
    g_autoptr(GError) error = NULL;
    JsonNode *node = json_from_string(text, &error);

    g_assert_no_error(error);
    g_assert_nonnull(node);
    return node;
}

static const char *
header(const PsTestRequest *request, const char *name)
{
    return g_hash_table_lookup(request->headers, name);
}

/* The receiver's recipe from README: HMAC-SHA256(secret, t + "." + body) == v1, t recent. */
static void
assert_signed(const PsTestRequest *request)
{
    const char *value = header(request, "x-portsurge-signature");
    g_auto(GStrv) parts = NULL;
    g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)SECRET, strlen(SECRET));
    gint64 t, now = g_get_real_time() / G_USEC_PER_SEC;

    g_assert_nonnull(value);
    parts = g_strsplit(value, ",", 2);
    g_assert_true(g_str_has_prefix(parts[0], "t=") && g_str_has_prefix(parts[1], "v1="));
    t = g_ascii_strtoll(parts[0] + 2, NULL, 10);
    g_assert_cmpint(ABS(now - t), <=, 300);
    g_hmac_update(hmac, (const guchar *)parts[0] + 2, -1);
    g_hmac_update(hmac, (const guchar *)".", 1);
    g_hmac_update(hmac, (const guchar *)request->body, -1);
    g_assert_cmpstr(parts[1] + 3, ==, g_hmac_get_string(hmac));
}

static gint64
llen(redisContext *redis, const char *key)
{
    g_autoptr(redisReply) reply = ps_test_redis_command(redis, "LLEN", key, NULL);

    return reply->integer;
}

static void
enqueue(redisContext *redis, const char *receiver, const char *key, gint64 created)
{
    g_autofree gchar *body = g_strdup_printf("{\"message\":\"%s\"}", key);
    g_autoptr(PsOutboxEntry) entry = ps_outbox_entry_new(key, receiver, created, body);
    g_autoptr(GError) error = NULL;
    PsRedisPipeline pipeline;

    ps_redis_pipeline_init(&pipeline, redis);
    ps_outbox_append(&pipeline, PS_KEYS_DEFAULT_PREFIX, entry);
    g_assert_true(ps_redis_pipeline_finish(&pipeline, NULL, NULL, &error));
    g_assert_no_error(error);
    ps_redis_pipeline_clear(&pipeline);
}

static PsReceiver *
receiver_new(const char *name, const char *url, guint timeout_s)
{
    PsReceiver *receiver = g_new0(PsReceiver, 1);

    receiver->name = g_strdup(name);
    receiver->url = g_strdup(url);
    receiver->format = PS_RECEIVER_GENERIC;
    receiver->min_severity = PS_SEVERITY_WARNING;
    receiver->timeout_s = timeout_s;
    return receiver;
}

typedef struct {
    PsTestRedis *server;
    redisContext *redis;
    PsTestReceiver *http;
    PsRedisAddress address;
    PsCourier *courier;
} Fixture;

static void fixture_stop(Fixture *f);

/* FALSE (after cleaning up) when redis-server is missing (skipped) or the receiver failed. */
static gboolean
fixture_start(Fixture *f)
{
    g_autoptr(GError) error = NULL;

    f->server = ps_test_redis_start();
    if (f->server == NULL)
        return FALSE;
    f->redis = ps_test_redis_connect(f->server);
    f->http = ps_test_receiver_start();
    g_assert_true(ps_redis_address_parse(ps_test_redis_socket(f->server), &f->address, &error));
    if (f->http == NULL)
        fixture_stop(f);
    return f->http != NULL;
}

/* A courier with short timers, so minutes of failure take seconds here. */
static void
start_courier(Fixture *f, PsReceiver *receiver, gint64 dead_after_s)
{
    g_autoptr(GPtrArray) receivers =
        g_ptr_array_new_with_free_func((GDestroyNotify)ps_receiver_free);
    PsCourierConfig config;

    ps_courier_config_init(&config);
    config.address = &f->address;
    config.backoff_min_s = 0.2;
    config.backoff_max_s = 1;
    config.dead_after_s = dead_after_s;
    g_ptr_array_add(receivers, receiver);
    f->courier = ps_courier_start(&config, receivers);
}

static void
fixture_stop(Fixture *f)
{
    g_clear_pointer(&f->courier, ps_courier_stop);
    g_clear_pointer(&f->http, ps_test_receiver_stop);
    g_clear_pointer(&f->redis, redisFree);
    g_clear_pointer(&f->server, ps_test_redis_free);
    ps_redis_address_clear(&f->address);
}

/* Every accepted request of path carries the keys, in this order, each once. */
static void
assert_accepted_in_order(PsTestReceiver *http, const char *path, const char *const *keys)
{
    g_autoptr(GPtrArray) accepted = ps_test_receiver_accepted(http, path);
    guint n = g_strv_length((gchar **)keys);

    g_assert_cmpuint(accepted->len, ==, n);
    for (guint i = 0; i < n; i++) {
        const PsTestRequest *request = g_ptr_array_index(accepted, i);
        g_assert_cmpstr(header(request, "idempotency-key"), ==, keys[i]);
    }
}

static void
wait_outbox_empty(redisContext *redis)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000LL;

    while (llen(redis, "ps:outbox") > 0 && g_get_monotonic_time() < deadline)
        g_usleep(50 * 1000);
    g_assert_cmpint(llen(redis, "ps:outbox"), ==, 0);
}

/* ---- the courier against failing receivers ---- */

/* Three messages queued for one receiver that answers by script: each is accepted exactly
 * once, in order, after expected_requests attempts in all; returns those attempts. */
static GPtrArray *
run_failure_script(const char *script, guint timeout_s, guint expected_requests)
{
    Fixture f = {0};
    g_autofree gchar *url = NULL;
    const char *keys[] = {"incident-1:open", "incident-1:escalate", "incident-2:open", NULL};
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    GPtrArray *requests = NULL;

    if (!fixture_start(&f))
        return NULL;
    url = ps_test_receiver_url(f.http, "/hook");
    ps_test_receiver_script(f.http, "/hook", script);
    for (guint i = 0; keys[i] != NULL; i++)
        enqueue(f.redis, "chat", keys[i], now);
    start_courier(&f, receiver_new("chat", url, timeout_s), 3600);
    g_assert_true(ps_test_receiver_wait_accepted(f.http, "/hook", 3, WAIT_MS));
    wait_outbox_empty(f.redis);
    assert_accepted_in_order(f.http, "/hook", keys);
    requests = ps_test_receiver_requests(f.http, "/hook");
    g_assert_cmpuint(requests->len, ==, expected_requests);
    g_assert_cmpint(llen(f.redis, "ps:outbox:dead"), ==, 0);
    fixture_stop(&f);
    return requests;
}

static void
test_retry_server_errors(void)
{
    g_autoptr(GPtrArray) requests = run_failure_script("500,502,500", 5, 6);

    g_assert_true(requests == NULL || requests->len == 6);
}

static void
test_retry_after(void)
{
    g_autoptr(GPtrArray) requests = run_failure_script("429:2", 5, 4);

    /* the second attempt waited as long as Retry-After said, not the 0.2 s backoff */
    if (requests != NULL)
        g_assert_cmpint(((PsTestRequest *)requests->pdata[1])->at_us -
                            ((PsTestRequest *)requests->pdata[0])->at_us,
                        >=, 1900 * 1000);
}

static void
test_receiver_hangs(void)
{
    /* three attempts time out after 1 s each, then it answers */
    g_autoptr(GPtrArray) requests = run_failure_script("hang:1500,hang:1500,hang:1500", 1, 6);

    /* the hung attempts are on record (status 0), the last three were answered */
    g_assert_true(requests == NULL ||
                  ((PsTestRequest *)requests->pdata[0])->status == 0);
}

static void
test_dead_letters(void)
{
    Fixture f = {0};
    g_autofree gchar *url = NULL;
    g_autoptr(redisReply) dead = NULL;
    g_autoptr(JsonNode) letter = NULL;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    PsCourierCounters counters;

    if (!fixture_start(&f))
        return;
    url = ps_test_receiver_url(f.http, "/down");
    ps_test_receiver_script(f.http, "/down",
                            "400,500,500,500,500,500,500,500,500,500,500,500,500,500");
    enqueue(f.redis, "down", "refused", now);  /* 400: never accepted, at once */
    enqueue(f.redis, "down", "too-late", now); /* 500s past dead_after */
    start_courier(&f, receiver_new("down", url, 5), 2);
    wait_outbox_empty(f.redis);
    g_assert_cmpint(llen(f.redis, "ps:outbox:dead"), ==, 2);
    dead = ps_test_redis_command(f.redis, "LRANGE", "ps:outbox:dead", "0", "-1", NULL);
    letter = parse_json(dead->element[0]->str);
    g_assert_true(g_str_has_prefix(
        json_object_get_string_member(json_node_get_object(letter), "reason"), "refused"));
    g_assert_cmpstr(
        json_object_get_string_member(
            json_object_get_object_member(json_node_get_object(letter), "entry"), "key"),
        ==, "refused");
    ps_courier_counters(f.courier, &counters);
    g_assert_cmpuint(counters.dead_letters, ==, 2);
    g_assert_cmpuint(counters.delivered, ==, 0);
    fixture_stop(&f);
}

/* ---- the alerter program end to end ---- */

typedef struct {
    const char *name;
    const char *format;
} Hook;

static const Hook hooks[] = {
    {"generic", "generic"}, {"slack", "slack"},     {"mattermost", "mattermost"},
    {"teams", "teams"},     {"discord", "discord"}, {"console", "log"},
};

static gchar *
write_config(Fixture *f)
{
    GString *text = g_string_new("[alerter]\nwatch = tcp/445\ninterval = 1\n");
    gchar *path = g_build_filename(ps_test_redis_dir(f->server), "portsurge.conf", NULL);
    g_autoptr(GError) error = NULL;

    g_string_append_printf(text, "[redis]\nurl = %s\n", ps_test_redis_socket(f->server));
    for (guint i = 0; i < G_N_ELEMENTS(hooks); i++) {
        g_autofree gchar *path_part = g_strdup_printf("/%s", hooks[i].name);
        g_autofree gchar *url = ps_test_receiver_url(f->http, path_part);
        g_string_append_printf(text, "[webhook %s]\nformat = %s\n", hooks[i].name, hooks[i].format);
        if (!g_str_equal(hooks[i].format, "log"))
            g_string_append_printf(text, "url = %s\nsecret = %s\nports = tcp/445\n", url, SECRET);
    }
    g_assert_true(g_file_set_contents(path, text->str, -1, &error));
    g_string_free(text, TRUE);
    return path;
}

/* 8 days of tcp/445 up to the last closed minute, a scan wave in the last 12 minutes, and the
 * alerter's progress set to before the wave so that its first look evaluates it. */
static void
seed_scan(Fixture *f, gint64 *scan_start)
{
    gint64 end = (g_get_real_time() / G_USEC_PER_SEC) / STEP * STEP - STEP;
    g_autofree gchar *end_text = g_strdup_printf("%" G_GINT64_FORMAT, end);
    g_autofree gchar *scan = NULL;
    g_autofree gchar *progress = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(redisReply) reply = NULL;
    gint status = -1;

    *scan_start = end - 12 * STEP;
    scan = g_strdup_printf("tcp/445@%" G_GINT64_FORMAT "+%d*12", *scan_start, 12 * STEP);
    const char *argv[] = {g_getenv("PS_SEED"),
                          "--redis",
                          ps_test_redis_socket(f->server),
                          "--end",
                          end_text,
                          "--days",
                          "8",
                          "--ports",
                          "tcp/445,tcp/443",
                          "--surge",
                          scan,
                          NULL};
    g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_cmpint(status, ==, 0);
    progress = g_strdup_printf("%" G_GINT64_FORMAT, *scan_start - 10 * STEP);
    reply = ps_test_redis_command(f->redis, "HSET", "ps:alerter", "last_bucket", progress, NULL);
}

/* A failed assertion ends the test at once: the alerter must not outlive it (it would hold
 * the test's output open until meson's timeout). */
static void
die_with_test(gpointer user_data)
{
    (void)user_data;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static GPid
spawn_alerter(const char *config)
{
    const char *argv[] = {g_getenv("PS_ALERTER"), "--config", config, NULL};
    g_autoptr(GError) error = NULL;
    GPid pid = 0;

    g_assert_true(g_spawn_async(NULL, (gchar **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                die_with_test, NULL, &pid, &error));
    g_assert_no_error(error);
    return pid;
}

/* SIGTERM must end it cleanly (status 0: under ASan, also without leaks). */
static void
stop_alerter(GPid pid, int signal_number)
{
    int status;

    kill(pid, signal_number);
    waitpid(pid, &status, 0);
    g_spawn_close_pid(pid);
    if (signal_number == SIGTERM)
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static JsonObject *
first_object(JsonNode *root, const char *array)
{
    return json_array_get_object_element(
        json_object_get_array_member(json_node_get_object(root), array), 0);
}

/* Each chat service's documented shape, reduced to what it requires. */
static void
assert_shape(const char *name, const char *body)
{
    g_autoptr(JsonNode) root = parse_json(body);
    JsonObject *object = json_node_get_object(root);

    if (g_str_equal(name, "generic")) {
        ps_test_assert_valid_alert(root);
        g_assert_cmpstr(json_object_get_string_member(object, "event"), ==, "open");
        g_assert_cmpstr(json_object_get_string_member(object, "series"), ==, "tcp/445");
        g_assert_cmpstr(json_object_get_string_member(object, "service"), ==, "smb");
        g_assert_true(json_object_get_boolean_member(json_object_get_object_member(object, "scan"),
                                                     "shaped"));
        g_assert_cmpuint(json_array_get_length(json_object_get_array_member(object, "top_sources")),
                         >, 0);
        g_assert_true(json_object_has_member(
            json_array_get_object_element(json_object_get_array_member(object, "top_sources"), 0),
            "new"));
    } else if (g_str_equal(name, "slack")) {
        g_assert_cmpstr(json_object_get_string_member(first_object(root, "blocks"), "type"), ==,
                        "header");
        g_assert_true(json_object_has_member(object, "text")); /* the notification fallback */
    } else if (g_str_equal(name, "mattermost")) {
        g_assert_true(json_object_has_member(first_object(root, "attachments"), "fields"));
    } else if (g_str_equal(name, "teams")) {
        JsonObject *attachment = first_object(root, "attachments");
        g_assert_cmpstr(json_object_get_string_member(attachment, "contentType"), ==,
                        "application/vnd.microsoft.card.adaptive");
        g_assert_cmpstr(json_object_get_string_member(
                            json_object_get_object_member(attachment, "content"), "type"),
                        ==, "AdaptiveCard");
    } else if (g_str_equal(name, "discord")) {
        g_assert_true(json_object_has_member(first_object(root, "embeds"), "color"));
    }
}

static void
test_incident_reaches_every_receiver(void)
{
    Fixture f = {0};
    g_autofree gchar *config = NULL;
    gint64 scan_start;
    GPid pid;

    if (!fixture_start(&f))
        return;
    config = write_config(&f);
    seed_scan(&f, &scan_start);
    pid = spawn_alerter(config);
    for (guint i = 0; i < G_N_ELEMENTS(hooks); i++) {
        g_autofree gchar *path = g_strdup_printf("/%s", hooks[i].name);
        g_autoptr(GPtrArray) accepted = NULL;
        const PsTestRequest *first;

        if (g_str_equal(hooks[i].format, "log"))
            continue;
        g_assert_true(ps_test_receiver_wait_accepted(f.http, path, 1, WAIT_MS));
        accepted = ps_test_receiver_accepted(f.http, path);
        first = g_ptr_array_index(accepted, 0);
        g_test_message("%s: %s", hooks[i].name, first->body);
        assert_shape(hooks[i].name, first->body);
        assert_signed(first);
        g_assert_true(g_str_has_prefix(header(first, "idempotency-key"), "tcp/445@"));
    }
    wait_outbox_empty(f.redis);
    stop_alerter(pid, SIGTERM);
    fixture_stop(&f);
}

/* How many accepted requests carry each idempotency key. */
static GHashTable *
count_by_key(GPtrArray *accepted)
{
    GHashTable *counts = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < accepted->len; i++) {
        const char *key = header(g_ptr_array_index(accepted, i), "idempotency-key");
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, key));
        g_hash_table_insert(counts, (gpointer)key, GUINT_TO_POINTER(n + 1));
    }
    return counts;
}

static void
test_killed_between_send_and_ack(void)
{
    Fixture f = {0};
    g_autofree gchar *config = NULL;
    g_autoptr(GPtrArray) before = NULL;
    g_autoptr(GPtrArray) after = NULL;
    g_autoptr(GHashTable) counts = NULL;
    const char *in_flight;
    GHashTableIter iter;
    gpointer key, n;
    gint64 scan_start;
    GPid pid;

    if (!fixture_start(&f))
        return;
    config = write_config(&f);
    /* the generic receiver takes the first message, then holds its answer for 5 s: the
     * alerter is killed while it waits */
    ps_test_receiver_script(f.http, "/generic", "slow:5000");
    seed_scan(&f, &scan_start);
    pid = spawn_alerter(config);
    g_assert_true(ps_test_receiver_wait_accepted(f.http, "/generic", 1, WAIT_MS));
    stop_alerter(pid, SIGKILL);
    before = ps_test_receiver_accepted(f.http, "/generic");
    g_assert_cmpuint(before->len, ==, 1);
    in_flight = header(g_ptr_array_index(before, 0), "idempotency-key");
    g_assert_cmpint(llen(f.redis, "ps:outbox"), >=, 1); /* not acknowledged */
    pid = spawn_alerter(config);
    g_assert_true(ps_test_receiver_wait_accepted(f.http, "/generic", 2, WAIT_MS));
    wait_outbox_empty(f.redis);
    stop_alerter(pid, SIGTERM);
    after = ps_test_receiver_accepted(f.http, "/generic");
    /* The message in flight goes again with the same key, so the receiver can drop it; every
     * other message goes once. How many there are depends on when the test runs: the seeded
     * history has a daily and weekly pattern, and on weekend nights (23:00-06:00 UTC, a lower
     * baseline) the wave opens a bucket sooner as major and escalates a minute later. */
    counts = count_by_key(after);
    g_hash_table_iter_init(&iter, counts);
    while (g_hash_table_iter_next(&iter, &key, &n)) {
        g_test_message("accepted %u x %s", GPOINTER_TO_UINT(n), (const char *)key);
        g_assert_cmpuint(GPOINTER_TO_UINT(n), ==, g_str_equal(key, in_flight) ? 2 : 1);
    }
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(counts, in_flight)), ==, 2);
    g_assert_cmpstr(header(g_ptr_array_index(after, 1), "idempotency-key"), ==, in_flight);
    fixture_stop(&f);
}

/* ---- configuration: refusal, reload, metrics ---- */

static gchar *
write_file(Fixture *f, const char *name, const char *text)
{
    gchar *path = g_build_filename(ps_test_redis_dir(f->server), name, NULL);
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_set_contents(path, text, -1, &error));
    return path;
}

static void
assert_refused(Fixture *f, const char *text, const char *message)
{
    g_autofree gchar *path = write_file(f, "broken.conf", text);
    const char *argv[] = {g_getenv("PS_ALERTER"), "--config", path, NULL};
    g_autofree gchar *err = NULL;
    g_autoptr(GError) error = NULL;
    gint status = 0;

    g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, &err, &status, &error));
    g_test_message("refused: %s", err);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 2);
    g_assert_nonnull(strstr(err, message));
    g_assert_null(strstr(err, "hooks.example")); /* a webhook URL is a secret */
}

static void
test_broken_configuration_refused(void)
{
    Fixture f = {0};

    if (!fixture_start(&f))
        return;
    assert_refused(&f, "[alerter]\nbucket = 5\n", "broken.conf:2");
    assert_refused(&f, "[alerter]\nwatch = tcp/445\nwatched = tcp/22\n", "watched");
    assert_refused(&f, "[webhook chat]\nformat = irc\nurl = https://hooks.example/x\n",
                   "broken.conf:2");
    assert_refused(&f, "[webhook chat]\nurl = ftp://hooks.example/x\n", "https://");
    assert_refused(&f, "[webhook chat]\nformat = slack\n", "url: missing");
    assert_refused(&f, "[alerters]\n", "broken.conf:1");
    fixture_stop(&f);
}

static guint16
free_tcp_port(void)
{
    struct sockaddr_in address = {0};
    socklen_t length = sizeof(address);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&address, sizeof(address)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&address, &length), ==, 0);
    close(fd);
    return ntohs(address.sin_port);
}

static size_t
keep_body(char *data, size_t size, size_t n, void *user_data)
{
    g_string_append_len(user_data, data, (gssize)(size * n));
    return size * n;
}

static gchar *
http_get(const char *url)
{
    CURL *curl = curl_easy_init();
    GString *body = g_string_new(NULL);
    CURLcode result;

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    result = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    if (result != CURLE_OK) {
        g_string_free(body, TRUE);
        return NULL;
    }
    return g_string_free(body, FALSE);
}

/* The metrics text once it has line (the alerter may need a moment). */
static gchar *
wait_metric(const char *url, const char *line)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000LL;

    while (g_get_monotonic_time() < deadline) {
        gchar *text = http_get(url);
        if (text != NULL && strstr(text, line) != NULL)
            return text;
        g_free(text);
        g_usleep(100 * 1000);
    }
    g_test_message("metric never seen: %s", line);
    g_assert_not_reached();
}

/* Waits for the first event in ps:alerts and returns its severity. */
static gchar *
wait_first_severity(redisContext *redis)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000LL;

    while (g_get_monotonic_time() < deadline) {
        g_autoptr(redisReply) reply =
            ps_test_redis_command(redis, "XRANGE", "ps:alerts", "-", "+", "COUNT", "1", NULL);
        if (reply->elements == 1) {
            const redisReply *fields = reply->element[0]->element[1];
            for (gsize i = 0; i + 1 < fields->elements; i += 2) {
                if (g_str_equal(fields->element[i]->str, "severity"))
                    return g_strdup(fields->element[i + 1]->str);
            }
            g_assert_not_reached();
        }
        g_usleep(100 * 1000);
    }
    g_assert_not_reached();
}

/* Starts without webhooks; a reload adds one (a message for it is then delivered), a broken
 * reload changes nothing, and /metrics counts the incident and the delivery. */
static void
test_reload_and_metrics(void)
{
    Fixture f = {0};
    g_autofree gchar *base = NULL, *config = NULL, *with_hook = NULL, *url = NULL;
    g_autofree gchar *metrics_url = NULL, *text = NULL;
    g_autofree gchar *severity = NULL, *opened = NULL;
    gint64 scan_start;
    guint16 port = free_tcp_port();
    GPid pid;

    if (!fixture_start(&f))
        return;
    url = ps_test_receiver_url(f.http, "/late");
    base = g_strdup_printf("[alerter]\nwatch = tcp/445\ninterval = 1\nmetrics = 127.0.0.1:%u\n"
                           "[redis]\nurl = %s\n",
                           port, ps_test_redis_socket(f.server));
    config = write_file(&f, "portsurge.conf", base);
    metrics_url = g_strdup_printf("http://127.0.0.1:%u/metrics", port);
    seed_scan(&f, &scan_start);
    pid = spawn_alerter(config);
    /* the wave opens as critical, or on the quiet nights of a weekend (a lower baseline) a
     * bucket sooner as major: the metric counts the open by the severity it had */
    severity = wait_first_severity(f.redis);
    opened = g_strdup_printf("portsurge_alerter_alerts_total{kind=\"open\",severity=\"%s\"} 1",
                             severity);
    g_free(wait_metric(metrics_url, opened));
    g_assert_cmpint(llen(f.redis, "ps:outbox"), ==, 0); /* nobody to tell yet */

    with_hook = g_strdup_printf("%s[webhook late]\nurl = %s\n", base, url);
    g_free(write_file(&f, "portsurge.conf", with_hook));
    kill(pid, SIGHUP);
    g_usleep(500 * 1000);
    g_free(write_file(&f, "portsurge.conf", "[alerter]\nbucket = banana\n"));
    kill(pid, SIGHUP); /* refused: the running configuration stays */
    g_usleep(500 * 1000);
    enqueue(f.redis, "late", "after-reload", g_get_real_time() / G_USEC_PER_SEC);
    g_assert_true(ps_test_receiver_wait_accepted(f.http, "/late", 1, WAIT_MS));
    text = wait_metric(metrics_url, "portsurge_alerter_webhook_deliveries_total{receiver=\"late\","
                                    "result=\"delivered\"} 1");
    g_free(text);
    /* the gauge is the courier's last look: the one after the delivery says 0 */
    text = wait_metric(metrics_url, "portsurge_alerter_outbox_length 0");
    g_assert_null(strstr(text, url)); /* never the URL */
    stop_alerter(pid, SIGTERM);
    fixture_stop(&f);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* the courier warns of every failed attempt: here that is the point, not a failure */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_test_add_func("/delivery/retry-server-errors", test_retry_server_errors);
    g_test_add_func("/delivery/retry-after", test_retry_after);
    g_test_add_func("/delivery/receiver-hangs", test_receiver_hangs);
    g_test_add_func("/delivery/dead-letters", test_dead_letters);
    g_test_add_func("/delivery/incident-reaches-every-receiver",
                    test_incident_reaches_every_receiver);
    g_test_add_func("/delivery/killed-between-send-and-ack", test_killed_between_send_and_ack);
    g_test_add_func("/delivery/broken-configuration-refused", test_broken_configuration_refused);
    g_test_add_func("/delivery/reload-and-metrics", test_reload_and_metrics);
    return g_test_run();
}
