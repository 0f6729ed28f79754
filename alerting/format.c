#include "config.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "event.h"
#include "format.h"
#include "format_common.h"
#include "portproto.h"

typedef struct {
    guint16 port;
    const char *name;
} PsService;

/* Ports that draw scans and worms first; a name tells the reader what is exposed. */
static const PsService ps_services[] = {
    {21, "ftp"},          {22, "ssh"},         {23, "telnet"},       {25, "smtp"},
    {53, "dns"},          {80, "http"},        {110, "pop3"},        {123, "ntp"},
    {135, "msrpc"},       {137, "netbios-ns"}, {139, "netbios-ssn"}, {143, "imap"},
    {161, "snmp"},        {389, "ldap"},       {443, "https"},       {445, "smb"},
    {1433, "mssql"},      {1900, "ssdp"},      {2375, "docker"},     {3306, "mysql"},
    {3389, "rdp"},        {5060, "sip"},       {5432, "postgresql"}, {5900, "vnc"},
    {5985, "winrm"},      {6379, "redis"},     {8080, "http-alt"},   {9200, "elasticsearch"},
    {11211, "memcached"}, {27017, "mongodb"},
};

const char *
ps_format_service_name(guint16 port)
{
    for (guint i = 0; i < G_N_ELEMENTS(ps_services); i++) {
        if (ps_services[i].port == port)
            return ps_services[i].name;
    }
    return NULL;
}

const char *
ps_format_direction(const char *series)
{
    const char *at = strrchr(series, '@');

    if (at == NULL)
        return "all";
    if (g_str_equal(at, "@in") || g_str_equal(at, "@out") || g_str_equal(at, "@int"))
        return at + 1;
    return "all";
}

/* The series without its direction parsed into protocol and port; FALSE for series that are
 * not one port (the broad scan). */
static gboolean
parse_series(const char *series, guint8 *proto, guint16 *port)
{
    g_autofree gchar *base = g_strdup(series);
    char *at = strchr(base, '@');

    if (at != NULL)
        *at = '\0';
    return ps_portproto_parse(base, proto, port, NULL);
}

/* The protocol part of the series ("tcp"), or NULL for the broad scan. */
static gchar *
series_protocol(const char *series)
{
    guint8 proto;
    guint16 port;
    const char *slash = strchr(series, '/');

    if (!parse_series(series, &proto, &port) || slash == NULL)
        return NULL;
    return g_strndup(series, slash - series);
}

static const char *
series_service(const char *series)
{
    guint8 proto;
    guint16 port;

    if (!parse_series(series, &proto, &port) || !ps_portproto_has_ports(proto))
        return NULL;
    return ps_format_service_name(port);
}

/* "tcp/445@in (smb)", or the series alone when the port has no name. */
static gchar *
series_label(const char *series)
{
    const char *service = series_service(series);

    return service != NULL ? g_strdup_printf("%s (%s)", series, service) : g_strdup(series);
}

gchar *
ps_format_sparkline(const double *values, guint n)
{
    static const char *blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

    g_return_val_if_fail(values != NULL || n == 0, NULL);
    GString *out = g_string_new(NULL);
    guint first = n > PS_FORMAT_SPARKLINE_MAX ? n - PS_FORMAT_SPARKLINE_MAX : 0;
    double lo = INFINITY, hi = -INFINITY;

    for (guint i = first; i < n; i++) {
        if (isfinite(values[i])) {
            lo = MIN(lo, values[i]);
            hi = MAX(hi, values[i]);
        }
    }
    for (guint i = first; i < n; i++) {
        if (!isfinite(values[i])) {
            g_string_append_c(out, ' ');
            continue;
        }
        /* flat: the lowest block, so a flat line never reads as a surge */
        guint level = hi > lo ? (guint)((values[i] - lo) / (hi - lo) * 7.0 + 0.5) : 0;
        g_string_append(out, blocks[MIN(level, 7u)]);
    }
    return g_string_free(out, FALSE);
}

/* Numbers in JSON must be finite; a score of a missing sample is reported as 0. */
static double
finite_or_zero(double value)
{
    return isfinite(value) ? value : 0.0;
}

gchar *
ps_format_iso8601(gint64 unix_seconds)
{
    g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc(unix_seconds);

    return time != NULL ? g_date_time_format_iso8601(time) : g_strdup("1970-01-01T00:00:00Z");
}

gchar *
ps_format_cli(const char *series)
{
    return g_strdup_printf("portsurge series %s --since 1d", series);
}

/* Destinations grew this many times faster than bytes: a scan touches many hosts and carries
 * next to nothing to each. */
static double
dests_vs_bytes(const PsEvaluation *evaluation)
{
    double bytes = evaluation->score[PS_METRIC_BYTES].ratio;

    if (!(bytes > 0.0))
        return 0.0;
    return finite_or_zero(evaluation->score[PS_METRIC_DESTS].ratio / bytes);
}

static gchar *
scan_why(const PsAlertEvent *event)
{
    const PsEvaluation *e = &event->evaluation;

    return g_strdup_printf("%s: %.0f%% of flows SYN-only; destinations x%.1f while bytes x%.1f "
                           "(%.1f times faster); destinations per source x%.1f",
                           event->scan_shaped ? "scan-shaped" : "not scan-shaped",
                           finite_or_zero(e->syn_share) * 100.0,
                           finite_or_zero(e->score[PS_METRIC_DESTS].ratio),
                           finite_or_zero(e->score[PS_METRIC_BYTES].ratio), dests_vs_bytes(e),
                           finite_or_zero(e->intensity.ratio));
}

static const char *
metric_label(PsMetric metric)
{
    static const char *labels[PS_N_METRICS] = {"distinct sources", "SYN-only flows",
                                               "destinations",     "flows",
                                               "packets",          "bytes",
                                               "sources new for a day"};

    return metric < PS_N_METRICS ? labels[metric] : "?";
}

static const char *
direction_label(const char *direction)
{
    if (g_str_equal(direction, "in"))
        return "inbound";
    if (g_str_equal(direction, "out"))
        return "outbound";
    if (g_str_equal(direction, "int"))
        return "internal";
    return "all directions";
}

static const char *
event_verb(PsEventKind kind)
{
    static const char *verbs[] = {"", "opened", "escalated", "ongoing", "resolved"};

    return kind <= PS_EVENT_RESOLVE ? verbs[kind] : "?";
}

guint
ps_format_color(const PsAlertEvent *event)
{
    if (event->kind == PS_EVENT_RESOLVE)
        return PS_FORMAT_COLOR_RESOLVE;
    if (event->severity == PS_SEVERITY_CRITICAL)
        return PS_FORMAT_COLOR_CRITICAL;
    if (event->severity == PS_SEVERITY_MAJOR)
        return PS_FORMAT_COLOR_MAJOR;
    return PS_FORMAT_COLOR_WARNING;
}

/* "[MAJOR] Port surge opened: tcp/445 (smb)" */
gchar *
ps_format_title(const PsAlertMessage *message)
{
    g_autofree gchar *label = series_label(message->series);
    g_autofree gchar *severity = g_ascii_strup(ps_severity_name(message->event->severity), -1);

    return g_strdup_printf("[%s] Port surge %s: %s", severity, event_verb(message->event->kind),
                           label);
}

/* Cuts text to max characters (not bytes: chat limits count characters), marking the cut. */
gchar *
ps_format_cut(const char *text, glong max)
{
    if (g_utf8_strlen(text, -1) <= max)
        return g_strdup(text);
    g_autofree gchar *head = g_utf8_substring(text, 0, max - 1);
    return g_strconcat(head, "…", NULL);
}

static void
explain_metrics(GString *out, const PsEvaluation *e)
{
    for (guint m = 0; m < PS_N_METRICS; m++) {
        if (!ps_metric_known(&e->sample, m))
            continue;
        g_string_append_printf(
            out, "%s %s %.0f vs %.1f expected (x%.1f, z %.1f)", m == 0 ? "" : ";", metric_label(m),
            finite_or_zero(e->sample.value[m]), finite_or_zero(e->baseline[m].expected),
            finite_or_zero(e->score[m].ratio), finite_or_zero(e->score[m].z));
    }
    g_string_append(out, ".");
}

static void
explain_baseline(GString *out, const PsAlertMessage *message)
{
    const PsAlertEvent *event = message->event;
    const PsBaseline *b = &event->evaluation.baseline[PS_METRIC_SOURCES];

    g_string_append_printf(out, " Baseline: %.1f sources, the median of %u %s buckets",
                           finite_or_zero(message->baseline_value), b->n_candidates,
                           event->young ? "recent" : "same-time-of-day");
    if (event->young)
        g_string_append_printf(out,
                               " (young: %u days of history, under %u; thresholds are stricter)",
                               b->n_days, PS_BASELINE_MATURE_DAYS);
    else
        g_string_append_printf(out, " from %u days of history", b->n_days);
    g_string_append(out, ".");
}

static guint
count_new_sources(const PsAlertMessage *message)
{
    guint n = MIN(message->n_top_sources, PS_FORMAT_TOP_SOURCES_MAX), fresh = 0;

    for (guint i = 0; i < n; i++)
        fresh += message->top_sources[i].is_new ? 1 : 0;
    return fresh;
}

static void
explain_sources(GString *out, const PsAlertMessage *message)
{
    double flows = message->event->evaluation.sample.value[PS_METRIC_FLOWS];
    guint n = MIN(message->n_top_sources, PS_FORMAT_TOP_SOURCES_MAX);

    if (n == 0)
        return;
    g_string_append(out, " Top sources:");
    for (guint i = 0; i < n; i++) {
        const PsTopSource *s = &message->top_sources[i];
        double share = flows > 0.0 ? MIN(100.0, (double)s->flows / flows * 100.0) : 0.0;

        g_string_append_printf(out, "%s %s (%" G_GUINT64_FORMAT " flows, %.0f%%%s)",
                               i == 0 ? "" : ",", s->address, s->flows, share,
                               message->usual_top_known && s->is_new ? ", new" : "");
    }
    g_string_append(out, ".");
    if (message->usual_top_known)
        g_string_append_printf(out,
                               " %u of %u %s new against the usual top sources at this time "
                               "of day.",
                               count_new_sources(message), n, n == 1 ? "is" : "are");
}

static void
explain_resolution(GString *out, const PsAlertEvent *event)
{
    gint64 duration = MAX(0, event->bucket - event->opened_at);

    g_string_append_printf(out,
                           " Resolved after %" G_GINT64_FORMAT " min (%u buckets): peak x%.1f, "
                           "peak %.0f sources, %.0f flows in total.",
                           duration / 60, event->buckets, finite_or_zero(event->peak_ratio),
                           finite_or_zero(event->peak[PS_METRIC_SOURCES]),
                           finite_or_zero(event->total[PS_METRIC_FLOWS]));
}

gchar *
ps_format_explanation(const PsAlertMessage *message)
{
    /* before the declarations below: they read the message */
    g_return_val_if_fail(message != NULL && message->series != NULL && message->event != NULL,
                         NULL);
    const PsAlertEvent *event = message->event;
    g_autofree gchar *label = series_label(message->series);
    g_autofree gchar *why = scan_why(event);
    g_autofree gchar *cli = ps_format_cli(message->series);
    GString *out = g_string_new(NULL);

    g_string_append_printf(out, "Port %s, %s%s: %s surge %s.", label,
                           direction_label(ps_format_direction(message->series)),
                           message->watched ? ", watched" : "", ps_severity_name(event->severity),
                           event_verb(event->kind));
    if (event->kind == PS_EVENT_RESOLVE)
        explain_resolution(out, event);
    g_string_append(out, " Last bucket:");
    explain_metrics(out, &event->evaluation);
    explain_baseline(out, message);
    g_string_append_printf(out, " %c%s.", g_ascii_toupper(why[0]), why + 1);
    explain_sources(out, message);
    if (event->degraded)
        g_string_append(out, " Warning: exporters reported loss, values may be low.");
    g_string_append_printf(out, " More: %s", cli);
    return g_string_free(out, FALSE);
}

/* The facts every chat format lists beside the explanation. Returns how many were filled. */
guint
ps_format_fields_collect(const PsAlertMessage *message, PsField fields[PS_FORMAT_N_FIELDS])
{
    const PsAlertEvent *event = message->event;
    const PsEvaluation *e = &event->evaluation;
    g_autofree gchar *label = series_label(message->series);
    guint n = 0;

    fields[n].title = "Severity";
    fields[n++].value = g_strdup_printf("%s%s", ps_severity_name(event->severity),
                                        message->watched ? " (watched port)" : "");
    fields[n].title = "Port";
    fields[n++].value =
        g_strdup_printf("%s, %s", label, direction_label(ps_format_direction(message->series)));
    fields[n].title = "Sources";
    fields[n++].value =
        g_strdup_printf("%.0f vs %.1f expected", finite_or_zero(e->sample.value[PS_METRIC_SOURCES]),
                        finite_or_zero(e->baseline[PS_METRIC_SOURCES].expected));
    fields[n].title = "Score";
    fields[n++].value =
        g_strdup_printf("x%.1f, z %.1f", finite_or_zero(e->ratio), finite_or_zero(e->z));
    fields[n].title = "Scan-shaped";
    fields[n++].value = g_strdup_printf("%s (%.0f%% SYN-only)", event->scan_shaped ? "yes" : "no",
                                        finite_or_zero(e->syn_share) * 100.0);
    fields[n].title = "Top source";
    fields[n++].value =
        message->n_top_sources > 0
            ? g_strdup_printf("%s (%" G_GUINT64_FORMAT " flows)", message->top_sources[0].address,
                              message->top_sources[0].flows)
            : g_strdup("none reported");
    if (event->kind == PS_EVENT_RESOLVE) {
        fields[n].title = "Duration";
        fields[n++].value = g_strdup_printf("%" G_GINT64_FORMAT " min",
                                            MAX(0, event->bucket - event->opened_at) / 60);
    }
    return n;
}

void
ps_format_fields_free(PsField *fields, guint n)
{
    for (guint i = 0; i < n; i++)
        g_free(fields[i].value);
}

gchar *
ps_format_json_text(JsonBuilder *builder)
{
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    g_autoptr(JsonGenerator) generator = json_generator_new();

    json_generator_set_root(generator, root);
    return json_generator_to_data(generator, NULL);
}

void
ps_format_add_string(JsonBuilder *builder, const char *name, const char *value)
{
    json_builder_set_member_name(builder, name);
    if (value != NULL)
        json_builder_add_string_value(builder, value);
    else
        json_builder_add_null_value(builder);
}

void
ps_format_add_double(JsonBuilder *builder, const char *name, double value)
{
    json_builder_set_member_name(builder, name);
    json_builder_add_double_value(builder, finite_or_zero(value));
}

void
ps_format_add_int(JsonBuilder *builder, const char *name, gint64 value)
{
    json_builder_set_member_name(builder, name);
    json_builder_add_int_value(builder, value);
}

void
ps_format_add_bool(JsonBuilder *builder, const char *name, gboolean value)
{
    json_builder_set_member_name(builder, name);
    json_builder_add_boolean_value(builder, value);
}

static void
add_metrics(JsonBuilder *builder, const PsEvaluation *e)
{
    json_builder_set_member_name(builder, "metrics");
    json_builder_begin_object(builder);
    for (guint m = 0; m < PS_N_METRICS; m++) {
        if (!ps_metric_known(&e->sample, m))
            continue;
        json_builder_set_member_name(builder, ps_metric_name(m));
        json_builder_begin_object(builder);
        ps_format_add_double(builder, "value", e->sample.value[m]);
        ps_format_add_double(builder, "expected", e->baseline[m].expected);
        ps_format_add_double(builder, "ratio", e->score[m].ratio);
        ps_format_add_double(builder, "z", e->score[m].z);
        json_builder_end_object(builder);
    }
    json_builder_end_object(builder);
}

static void
add_context(JsonBuilder *builder, const PsAlertMessage *message)
{
    const PsAlertEvent *event = message->event;
    const PsBaseline *b = &event->evaluation.baseline[PS_METRIC_SOURCES];
    g_autofree gchar *why = scan_why(event);

    json_builder_set_member_name(builder, "baseline");
    json_builder_begin_object(builder);
    ps_format_add_bool(builder, "young", event->young);
    ps_format_add_int(builder, "days", b->n_days);
    ps_format_add_int(builder, "candidates", b->n_candidates);
    ps_format_add_double(builder, "value", message->baseline_value);
    json_builder_end_object(builder);

    json_builder_set_member_name(builder, "scan");
    json_builder_begin_object(builder);
    ps_format_add_bool(builder, "shaped", event->scan_shaped);
    ps_format_add_double(builder, "syn_share", event->evaluation.syn_share);
    ps_format_add_double(builder, "dests_vs_bytes", dests_vs_bytes(&event->evaluation));
    ps_format_add_double(builder, "dests_per_source",
                         finite_or_zero(event->evaluation.intensity.ratio));
    ps_format_add_string(builder, "why", why);
    json_builder_end_object(builder);

    json_builder_set_member_name(builder, "data_quality");
    json_builder_begin_object(builder);
    ps_format_add_bool(builder, "degraded", event->degraded);
    json_builder_end_object(builder);
}

static void
add_resolution(JsonBuilder *builder, const PsAlertEvent *event)
{
    json_builder_set_member_name(builder, "resolution");
    json_builder_begin_object(builder);
    ps_format_add_int(builder, "duration_s", MAX(0, event->bucket - event->opened_at));
    ps_format_add_double(builder, "peak_ratio", event->peak_ratio);
    ps_format_add_double(builder, "peak_sources", event->peak[PS_METRIC_SOURCES]);
    ps_format_add_double(builder, "total_flows", event->total[PS_METRIC_FLOWS]);
    json_builder_end_object(builder);
}

static void
add_top_sources(JsonBuilder *builder, const PsAlertMessage *message)
{
    guint n = MIN(message->n_top_sources, PS_FORMAT_TOP_SOURCES_MAX);

    json_builder_set_member_name(builder, "top_sources");
    json_builder_begin_array(builder);
    for (guint i = 0; i < n; i++) {
        json_builder_begin_object(builder);
        ps_format_add_string(builder, "address", message->top_sources[i].address);
        /* JSON integers are signed 64-bit in json-glib; no source sends 2^63 flows */
        ps_format_add_int(builder, "flows",
                          (gint64)MIN(message->top_sources[i].flows, (guint64)G_MAXINT64));
        if (message->usual_top_known)
            ps_format_add_bool(builder, "new", message->top_sources[i].is_new);
        json_builder_end_object(builder);
    }
    json_builder_end_array(builder);
}

gchar *
ps_format_idempotency_key(const char *series, const PsAlertEvent *event)
{
    g_autofree gchar *id = ps_event_id(series, event);

    return g_strdup_printf("%s:%s:%" G_GINT64_FORMAT, id, ps_event_kind_name(event->kind),
                           event->bucket);
}

/* id, kind, where: the members that name the incident and the port. */
static void
add_identity(JsonBuilder *builder, const PsAlertMessage *message)
{
    const PsAlertEvent *event = message->event;
    g_autofree gchar *id = ps_event_id(message->series, event);
    g_autofree gchar *key = ps_format_idempotency_key(message->series, event);
    g_autofree gchar *protocol = series_protocol(message->series);
    guint8 proto;
    guint16 port;

    ps_format_add_string(builder, "id", id);
    ps_format_add_string(builder, "idempotency_key", key);
    ps_format_add_string(builder, "event", ps_event_kind_name(event->kind));
    ps_format_add_string(builder, "severity", ps_severity_name(event->severity));
    ps_format_add_string(builder, "series", message->series);
    ps_format_add_string(builder, "protocol", protocol);
    json_builder_set_member_name(builder, "port");
    if (parse_series(message->series, &proto, &port))
        json_builder_add_int_value(builder, port);
    else
        json_builder_add_null_value(builder);
    ps_format_add_string(builder, "service", series_service(message->series));
    ps_format_add_string(builder, "direction", ps_format_direction(message->series));
}

gchar *
ps_format_generic(const PsAlertMessage *message)
{
    /* before the declarations below: they read the message */
    g_return_val_if_fail(message != NULL && message->series != NULL && message->event != NULL,
                         NULL);
    const PsAlertEvent *event = message->event;
    g_autoptr(JsonBuilder) builder = json_builder_new();
    g_autofree gchar *bucket = ps_format_iso8601(event->bucket);
    g_autofree gchar *opened_at = ps_format_iso8601(event->opened_at);
    g_autofree gchar *sparkline = ps_format_sparkline(message->last_hour, message->n_last_hour);
    g_autofree gchar *cli = ps_format_cli(message->series);

    json_builder_begin_object(builder);
    add_identity(builder, message);
    ps_format_add_string(builder, "bucket", bucket);
    ps_format_add_string(builder, "opened_at", opened_at);
    ps_format_add_bool(builder, "watched", message->watched);
    add_metrics(builder, &event->evaluation);
    add_context(builder, message);
    if (event->kind == PS_EVENT_RESOLVE)
        add_resolution(builder, event);
    add_top_sources(builder, message);
    ps_format_add_string(builder, "sparkline", sparkline);
    ps_format_add_string(builder, "cli", cli);
    json_builder_end_object(builder);
    return ps_format_json_text(builder);
}
