#include "config.h"

#include <string.h>

#include "alerter_config.h"
#include "keys.h"
#include "portproto.h"

typedef struct {
    gchar *url;
    gchar *format;
    gchar *min_severity;
    gchar **ports;
    gchar *secret;
    gchar *ca_file;
    gint64 timeout;
    gint64 max_per_minute;
} WebhookSettings;

/* ---- checks of single values ---- */

static gboolean
check_portproto(const char *value, GError **error)
{
    guint8 proto;
    guint16 port;

    return ps_portproto_parse(value, &proto, &port, error);
}

static gboolean
check_number(const char *value, GError **error)
{
    gchar *end = NULL;
    double number = g_ascii_strtod(value, &end);

    if (end == value || *end != '\0' || !(number > 0.0)) {
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_VALUE,
                    "'%s' is not a positive number", value);
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_url(const char *value, GError **error)
{
    if (!g_str_has_prefix(value, "https://") && !g_str_has_prefix(value, "http://")) {
        /* the value is a secret: do not repeat it */
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_VALUE,
                    "expected an https:// (or http://) URL");
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_format(const char *value, GError **error)
{
    PsReceiverFormat format;

    if (ps_receiver_format_parse(value, &format))
        return TRUE;
    g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_VALUE,
                "'%s': expected generic, slack, mattermost, teams, discord or log", value);
    return FALSE;
}

static gboolean
check_severity(const char *value, GError **error)
{
    PsSeverity severity;

    if (ps_receiver_severity_parse(value, &severity))
        return TRUE;
    g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_VALUE,
                "'%s': expected warning, major or critical", value);
    return FALSE;
}

/* ---- the tables ---- */

#define A(field) G_STRUCT_OFFSET(PsAlerterSettings, field)
#define LIVE     PS_CONFFILE_LIVE

static const PsConffileKey alerter_keys[] = {
    {"watch", PS_CONFFILE_LIST, A(watch), PS_DEFAULT_WATCHED, 0, 0, LIVE, NULL, "PORT",
     "Watched ports: always evaluated, one severity higher", NULL, check_portproto},
    {"bucket", PS_CONFFILE_INT, A(bucket), "60", 10, 3600, 0, NULL, "S",
     "Bucket length the collector uses, seconds", NULL, NULL},
    {"interval", PS_CONFFILE_INT, A(interval), "5", 1, 3600, LIVE, NULL, "S",
     "Seconds between looks for newly closed buckets", NULL, NULL},
    {"min_sources", PS_CONFFILE_INT, A(min_sources), "20", 0, G_MAXINT32, LIVE, NULL, "N",
     "Evaluate a port with at least this many distinct sources in the bucket", NULL, NULL},
    {"min_flows", PS_CONFFILE_INT, A(min_flows), "200", 0, G_MAXINT32, LIVE, NULL, "N",
     "... or this many flows", NULL, NULL},
    {"max_series", PS_CONFFILE_INT, A(max_series), "500", 1, 100000, LIVE, NULL, "N",
     "Active ports evaluated per bucket besides the watched ones", NULL, NULL},
    {"broad_scan_ports", PS_CONFFILE_INT, A(broad_scan_ports), "20", 0, 100000, LIVE, NULL, "N",
     "More ports than this opening at once with the same sources are one broad scan", NULL, NULL},
    {"z_min", PS_CONFFILE_STRING, A(z_min), NULL, 0, 0, LIVE, NULL, "Z",
     "Robust score a bucket needs to count as a hit (unset: the detector's tuned value)", NULL,
     check_number},
    {"ratio_min", PS_CONFFILE_STRING, A(ratio_min), NULL, 0, 0, LIVE, NULL, "X",
     "Ratio to the baseline a bucket needs to count as a hit (unset: the detector's)", NULL,
     check_number},
    {"watched_z_min", PS_CONFFILE_STRING, A(watched_z_min), NULL, 0, 0, LIVE, NULL, "Z",
     "The same score for watched ports (unset: the detector's tuned value)", NULL, check_number},
    {"watched_sum_z", PS_CONFFILE_STRING, A(watched_sum_z), NULL, 0, 0, LIVE, NULL, "Z",
     "Watched ports also open when 2-3 buckets in a row score this much together (0: never; "
     "unset: the detector's)",
     NULL, check_number},
    {"new_sources_route", PS_CONFFILE_BOOL, A(new_sources_route), "false", 0, 0, LIVE, NULL,
     NULL,
     "Watched ports also open on sources newer than usual (the collector's nnew; off: "
     "tests/eval/README.md)",
     NULL, NULL},
    {"cooldown", PS_CONFFILE_INT, A(cooldown), "1800", 0, 86400 * 7, LIVE, NULL, "S",
     "After a resolution, a new surge within this many seconds reopens the same incident", NULL,
     NULL},
    {"reminder", PS_CONFFILE_INT, A(reminder), "3600", 0, 86400 * 7, LIVE, NULL, "S",
     "Remind of an open incident this often, seconds (0: never)", NULL, NULL},
    {"dead_letter_after", PS_CONFFILE_INT, A(dead_letter_after), "21600", 10, 86400 * 30, 0, NULL,
     "S", "A message undelivered this long goes to the dead letters (ps:outbox:dead)", NULL, NULL},
    {"max_outbox", PS_CONFFILE_INT, A(max_outbox), "10000", 10, 10000000, 0, NULL, "N",
     "Messages kept waiting at most; older ones beyond go to the dead letters", NULL, NULL},
    {"metrics", PS_CONFFILE_STRING, A(metrics), NULL, 0, 0, 0, NULL, "ADDR:PORT",
     "Serve Prometheus metrics over HTTP here (e.g. 127.0.0.1:9465)", NULL, NULL},
    {"verbose", PS_CONFFILE_BOOL, A(verbose), "false", 0, 0, LIVE, NULL, NULL,
     "Log more (info and debug)", NULL, NULL},
};

#define W(field)  G_STRUCT_OFFSET(WebhookSettings, field)
#define FILE_ONLY (PS_CONFFILE_LIVE | PS_CONFFILE_NO_OPTION)

static const PsConffileKey webhook_keys[] = {
    {"url", PS_CONFFILE_STRING, W(url), NULL, 0, 0, FILE_ONLY | PS_CONFFILE_SECRET, NULL, NULL,
     "Incoming-webhook URL (or PS_WEBHOOK_<NAME>_URL); never logged", NULL, check_url},
    {"format", PS_CONFFILE_STRING, W(format), "generic", 0, 0, FILE_ONLY, NULL, NULL,
     "generic (schema/alert.schema.json), slack, mattermost, teams, discord or log", NULL,
     check_format},
    {"min_severity", PS_CONFFILE_STRING, W(min_severity), "warning", 0, 0, FILE_ONLY, NULL, NULL,
     "Send incidents of at least this severity: warning, major or critical", NULL, check_severity},
    {"ports", PS_CONFFILE_LIST, W(ports), NULL, 0, 0, FILE_ONLY, NULL, NULL,
     "Only these ports (tcp/445, ...; all when unset); broad scans always", NULL, check_portproto},
    {"secret", PS_CONFFILE_STRING, W(secret), NULL, 0, 0, FILE_ONLY | PS_CONFFILE_SECRET, NULL,
     NULL, "Sign each message (X-Portsurge-Signature, HMAC-SHA256; or PS_WEBHOOK_<NAME>_SECRET)",
     NULL, NULL},
    {"ca_file", PS_CONFFILE_STRING, W(ca_file), NULL, 0, 0, FILE_ONLY, NULL, NULL,
     "CA bundle to verify the receiver's certificate (verification is always on)", NULL, NULL},
    {"timeout", PS_CONFFILE_INT, W(timeout), "10", 1, 300, FILE_ONLY, NULL, NULL,
     "Seconds an attempt may take", NULL, NULL},
    {"max_per_minute", PS_CONFFILE_INT, W(max_per_minute), "30", 0, 60000, FILE_ONLY, NULL, NULL,
     "Messages started per minute at most (0: no limit)", NULL, NULL},
};

const PsConffileSection ps_alerter_config_section = {"alerter", FALSE, alerter_keys,
                                                     G_N_ELEMENTS(alerter_keys)};
const PsConffileSection ps_webhook_config_section = {"webhook", TRUE, webhook_keys,
                                                     G_N_ELEMENTS(webhook_keys)};

/* ---- webhooks -> receivers ---- */

/* PS_WEBHOOK_<NAME>_<WHAT>: NAME upper-cased, anything not alphanumeric as '_'. */
static const char *
webhook_env(const char *name, const char *what)
{
    g_autofree gchar *upper = g_ascii_strup(name, -1);
    g_autofree gchar *variable = NULL;

    for (gchar *c = upper; *c != '\0'; c++) {
        if (!g_ascii_isalnum(*c))
            *c = '_';
    }
    variable = g_strdup_printf("PS_WEBHOOK_%s_%s", upper, what);
    return g_getenv(variable);
}

static gboolean
apply_webhook_env(const char *name, WebhookSettings *settings, GError **error)
{
    const PsConffileKey *url = &webhook_keys[0], *secret = &webhook_keys[4];
    const char *value;

    if ((value = webhook_env(name, "URL")) != NULL &&
        !ps_conffile_set(url, settings, value, FALSE, "PS_WEBHOOK_<NAME>_URL", error))
        return FALSE;
    if ((value = webhook_env(name, "SECRET")) != NULL &&
        !ps_conffile_set(secret, settings, value, FALSE, "PS_WEBHOOK_<NAME>_SECRET", error))
        return FALSE;
    return TRUE;
}

static PsReceiver *
receiver_from(const char *name, WebhookSettings *settings)
{
    PsReceiver *receiver = g_new0(PsReceiver, 1);

    receiver->name = g_strdup(name);
    receiver->url = g_steal_pointer(&settings->url);
    ps_receiver_format_parse(settings->format, &receiver->format);
    ps_receiver_severity_parse(settings->min_severity, &receiver->min_severity);
    receiver->series = g_steal_pointer(&settings->ports);
    receiver->secret = g_steal_pointer(&settings->secret);
    receiver->ca_file = g_steal_pointer(&settings->ca_file);
    receiver->timeout_s = (guint)settings->timeout;
    receiver->max_per_minute = (guint)settings->max_per_minute;
    return receiver;
}

static PsReceiver *
load_webhook(const PsConffile *file, const char *group, GError **error)
{
    const char *name = group + strlen("webhook ");
    WebhookSettings settings = {0};
    PsReceiver *receiver = NULL;

    ps_conffile_defaults(&ps_webhook_config_section, &settings);
    if (ps_conffile_apply(file, &ps_webhook_config_section, group, &settings, error) &&
        apply_webhook_env(name, &settings, error)) {
        if (settings.url == NULL && g_strcmp0(settings.format, "log") != 0)
            g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_VALUE,
                        "%s: [%s] url: missing (or set PS_WEBHOOK_<NAME>_URL); only format = log "
                        "needs none",
                        ps_conffile_path(file), group);
        else
            receiver = receiver_from(name, &settings);
    }
    ps_conffile_clear(&ps_webhook_config_section, &settings);
    return receiver;
}

static GPtrArray *
load_webhooks(const PsConffile *file, GError **error)
{
    g_autoptr(GPtrArray) receivers =
        g_ptr_array_new_with_free_func((GDestroyNotify)ps_receiver_free);
    g_auto(GStrv) groups = file != NULL ? ps_conffile_groups(file, "webhook") : NULL;

    for (guint i = 0; groups != NULL && groups[i] != NULL; i++) {
        PsReceiver *receiver = load_webhook(file, groups[i], error);
        if (receiver == NULL)
            return NULL;
        g_ptr_array_add(receivers, receiver);
    }
    return g_steal_pointer(&receivers);
}

/* ---- the whole configuration ---- */

static gboolean
load_sections(PsAlerterConfiguration *c, const PsConffile *file, const PsConffileOptions *options,
              GError **error)
{
    ps_conffile_defaults(&ps_alerter_config_section, &c->settings);
    ps_conffile_defaults(&ps_redis_config_section, &c->redis);
    if (file != NULL &&
        (!ps_conffile_check_groups(file, ps_conffile_known_groups, error) ||
         !ps_conffile_apply(file, &ps_alerter_config_section, "alerter", &c->settings, error) ||
         !ps_conffile_apply(file, &ps_redis_config_section, "redis", &c->redis, error)))
        return FALSE;
    if (options != NULL &&
        (!ps_conffile_options_apply(options, &ps_alerter_config_section, &c->settings, error) ||
         !ps_conffile_options_apply(options, &ps_redis_config_section, &c->redis, error)))
        return FALSE;
    if (c->redis.url == NULL)
        c->redis.url = g_strdup("redis://127.0.0.1:6379/0");
    return TRUE;
}

static void
fill_alerter(PsAlerterConfiguration *c)
{
    PsAlerterSettings *s = &c->settings;

    ps_detect_config_init(&c->alerter.detect);
    if (s->z_min != NULL)
        c->alerter.detect.z_min = g_ascii_strtod(s->z_min, NULL);
    if (s->ratio_min != NULL)
        c->alerter.detect.ratio_min = g_ascii_strtod(s->ratio_min, NULL);
    if (s->watched_z_min != NULL)
        c->alerter.detect.watched_z_min = g_ascii_strtod(s->watched_z_min, NULL);
    if (s->watched_sum_z != NULL)
        c->alerter.detect.watched_sum_z = g_ascii_strtod(s->watched_sum_z, NULL);
    c->alerter.detect.new_sources = s->new_sources_route;
    c->alerter.detect.cooldown_s = s->cooldown;
    c->alerter.detect.reminder_s = s->reminder;
    c->alerter.prefix = c->redis.prefix;
    c->alerter.step = (guint)s->bucket;
    c->alerter.watched = s->watch;
    c->alerter.min_sources = (double)s->min_sources;
    c->alerter.min_flows = (double)s->min_flows;
    c->alerter.max_series = (guint)s->max_series;
    c->alerter.broad_scan_ports = (guint)s->broad_scan_ports;
    c->alerter.receivers = c->receivers;
}

static void
fill_courier(PsAlerterConfiguration *c)
{
    ps_courier_config_init(&c->courier);
    c->courier.prefix = c->redis.prefix;
    c->courier.address = &c->address;
    c->courier.dead_after_s = c->settings.dead_letter_after;
    c->courier.max_outbox = (guint)c->settings.max_outbox;
}

gboolean
ps_alerter_configuration_load(PsAlerterConfiguration *c, const char *path,
                              const PsConffileOptions *options, GError **error)
{
    g_autoptr(PsConffile) file = NULL;

    memset(c, 0, sizeof(*c));
    if (path != NULL && (file = ps_conffile_load(path, error)) == NULL)
        return FALSE;
    return ps_alerter_configuration_from_file(c, file, options, error);
}

gboolean
ps_alerter_configuration_from_file(PsAlerterConfiguration *c, const PsConffile *file,
                                   const PsConffileOptions *options, GError **error)
{
    memset(c, 0, sizeof(*c));
    if (!load_sections(c, file, options, error) ||
        !ps_redis_config_address(&c->redis, &c->address, error) ||
        (c->receivers = load_webhooks(file, error)) == NULL)
        return FALSE;
    ps_alerter_configuration_refresh(c);
    return TRUE;
}

void
ps_alerter_configuration_refresh(PsAlerterConfiguration *c)
{
    fill_alerter(c);
    fill_courier(c);
}

void
ps_alerter_configuration_clear(PsAlerterConfiguration *c)
{
    ps_conffile_clear(&ps_alerter_config_section, &c->settings);
    ps_conffile_clear(&ps_redis_config_section, &c->redis);
    ps_redis_address_clear(&c->address);
    g_clear_pointer(&c->receivers, g_ptr_array_unref);
    memset(c, 0, sizeof(*c));
}

void
ps_alerter_configuration_keep_restart_values(PsAlerterConfiguration *loaded,
                                             const PsAlerterConfiguration *running)
{
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(alerter_keys); i++) {
        if (!(alerter_keys[i].flags & PS_CONFFILE_LIVE))
            ps_conffile_copy(&alerter_keys[i], &loaded->settings, &running->settings);
    }
    for (guint i = 0; i < ps_redis_config_section.n_keys; i++)
        ps_conffile_copy(&ps_redis_config_section.keys[i], &loaded->redis, &running->redis);
    ps_redis_address_clear(&loaded->address);
    /* the running values were read once already: a failure now only means a file vanished */
    if (!ps_redis_config_address(&loaded->redis, &loaded->address, &error))
        g_warning("reload: %s", error->message);
    ps_alerter_configuration_refresh(loaded);
}

gchar *
ps_alerter_configuration_restart_needed(const PsAlerterConfiguration *running,
                                        const PsAlerterConfiguration *loaded)
{
    GString *changed = g_string_new(NULL);

    for (guint i = 0; i < G_N_ELEMENTS(alerter_keys); i++) {
        const PsConffileKey *key = &alerter_keys[i];
        if (!(key->flags & PS_CONFFILE_LIVE) &&
            !ps_conffile_equal(key, &running->settings, &loaded->settings))
            g_string_append_printf(changed, "%s[alerter] %s", changed->len > 0 ? ", " : "",
                                   key->key);
    }
    for (guint i = 0; i < ps_redis_config_section.n_keys; i++) {
        const PsConffileKey *key = &ps_redis_config_section.keys[i];
        if (!ps_conffile_equal(key, &running->redis, &loaded->redis))
            g_string_append_printf(changed, "%s[redis] %s", changed->len > 0 ? ", " : "", key->key);
    }
    if (changed->len == 0) {
        g_string_free(changed, TRUE);
        return NULL;
    }
    return g_string_free(changed, FALSE);
}
