/* Writers of the Prometheus text format (metrics.h). */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "metrics.h"

G_DEFINE_QUARK(ps_metrics_error_quark, ps_metrics_error)

void
ps_metrics_family(GString *out, const char *name, const char *type, const char *help)
{
    /* HELP text escapes only backslash and newline */
    g_string_append_printf(out, "# HELP %s ", name);
    for (const char *c = help; *c != '\0'; c++) {
        if (*c == '\\')
            g_string_append(out, "\\\\");
        else if (*c == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *c);
    }
    g_string_append_printf(out, "\n# TYPE %s %s\n", name, type);
}

void
ps_metrics_escape_label(GString *out, const char *value)
{
    for (const char *c = value; *c != '\0'; c++) {
        if (*c == '\\')
            g_string_append(out, "\\\\");
        else if (*c == '"')
            g_string_append(out, "\\\"");
        else if (*c == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *c);
    }
}

static void
append_labels(GString *out, const char *name, va_list labels)
{
    const char *label = va_arg(labels, const char *);

    g_string_append(out, name);
    if (label == NULL)
        return;
    g_string_append_c(out, '{');
    for (guint i = 0; label != NULL; i++, label = va_arg(labels, const char *)) {
        const char *value = va_arg(labels, const char *);
        g_string_append_printf(out, "%s%s=\"", i > 0 ? "," : "", label);
        ps_metrics_escape_label(out, value != NULL ? value : "");
        g_string_append_c(out, '"');
    }
    g_string_append_c(out, '}');
}

static void
append_double(GString *out, double value)
{
    char text[G_ASCII_DTOSTR_BUF_SIZE];

    if (isnan(value))
        g_string_append(out, "NaN");
    else if (isinf(value))
        g_string_append(out, value > 0 ? "+Inf" : "-Inf");
    else
        g_string_append(out, g_ascii_dtostr(text, sizeof(text), value)); /* no locale comma */
}

void
ps_metrics_sample(GString *out, const char *name, double value, ...)
{
    va_list labels;

    va_start(labels, value);
    append_labels(out, name, labels);
    va_end(labels);
    g_string_append_c(out, ' ');
    append_double(out, value);
    g_string_append_c(out, '\n');
}

void
ps_metrics_sample_u64(GString *out, const char *name, guint64 value, ...)
{
    va_list labels;

    va_start(labels, value);
    append_labels(out, name, labels);
    va_end(labels);
    g_string_append_printf(out, " %" G_GUINT64_FORMAT "\n", value);
}

void
ps_metrics_histogram_init(PsMetricsHistogram *histogram, const double *bounds, guint n)
{
    g_return_if_fail(n <= PS_METRICS_MAX_BUCKETS);
    memset(histogram, 0, sizeof(*histogram));
    histogram->n_bounds = n;
    for (guint i = 0; i < n; i++)
        histogram->bounds[i] = bounds[i];
}

void
ps_metrics_histogram_observe(PsMetricsHistogram *histogram, double value)
{
    guint i = 0;

    while (i < histogram->n_bounds && value > histogram->bounds[i])
        i++;
    histogram->counts[i]++;
    histogram->count++;
    histogram->sum += value;
}

void
ps_metrics_histogram_write(GString *out, const char *name, const char *help,
                           const PsMetricsHistogram *histogram)
{
    g_autofree gchar *bucket = g_strconcat(name, "_bucket", NULL);
    g_autofree gchar *sum = g_strconcat(name, "_sum", NULL);
    g_autofree gchar *count = g_strconcat(name, "_count", NULL);
    guint64 cumulative = 0;

    ps_metrics_family(out, name, "histogram", help);
    for (guint i = 0; i < histogram->n_bounds; i++) {
        char le[G_ASCII_DTOSTR_BUF_SIZE];
        cumulative += histogram->counts[i];
        g_ascii_dtostr(le, sizeof(le), histogram->bounds[i]);
        ps_metrics_sample_u64(out, bucket, cumulative, "le", le, NULL);
    }
    ps_metrics_sample_u64(out, bucket, histogram->count, "le", "+Inf", NULL);
    ps_metrics_sample(out, sum, histogram->sum, NULL);
    ps_metrics_sample_u64(out, count, histogram->count, NULL);
}
