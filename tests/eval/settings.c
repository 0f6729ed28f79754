#include "config.h"

#include <stddef.h>
#include <stdlib.h>

#include <string.h>

#include "settings.h"

typedef enum { FIELD_DOUBLE, FIELD_UINT, FIELD_INT64 } FieldType;

typedef struct {
    const char *name;
    FieldType type;
    size_t offset;
} Field;

#define DOUBLE_FIELD(f) {#f, FIELD_DOUBLE, offsetof(PsDetectConfig, f)}
#define UINT_FIELD(f)   {#f, FIELD_UINT, offsetof(PsDetectConfig, f)}
#define INT64_FIELD(f)  {#f, FIELD_INT64, offsetof(PsDetectConfig, f)}

static const Field fields[] = {
    DOUBLE_FIELD(z_min),
    DOUBLE_FIELD(ratio_min),
    DOUBLE_FIELD(watched_z_min),
    DOUBLE_FIELD(watched_ratio_min),
    DOUBLE_FIELD(young_z_min),
    DOUBLE_FIELD(young_ratio_min),
    {"excess_sources", FIELD_DOUBLE, offsetof(PsDetectConfig, excess_min[PS_METRIC_SOURCES])},
    {"excess_syn", FIELD_DOUBLE, offsetof(PsDetectConfig, excess_min[PS_METRIC_SYN])},
    {"excess_dests", FIELD_DOUBLE, offsetof(PsDetectConfig, excess_min[PS_METRIC_DESTS])},
    {"excess_flows", FIELD_DOUBLE, offsetof(PsDetectConfig, excess_min[PS_METRIC_FLOWS])},
    {"volume_sources", FIELD_DOUBLE, offsetof(PsDetectConfig, volume_min[PS_METRIC_SOURCES])},
    {"volume_syn", FIELD_DOUBLE, offsetof(PsDetectConfig, volume_min[PS_METRIC_SYN])},
    {"volume_dests", FIELD_DOUBLE, offsetof(PsDetectConfig, volume_min[PS_METRIC_DESTS])},
    {"volume_flows", FIELD_DOUBLE, offsetof(PsDetectConfig, volume_min[PS_METRIC_FLOWS])},
    UINT_FIELD(open_hits),
    UINT_FIELD(open_window),
    UINT_FIELD(watched_open_hits),
    UINT_FIELD(watched_open_window),
    DOUBLE_FIELD(watched_sum_z),
    DOUBLE_FIELD(watched_sum_each_z),
    DOUBLE_FIELD(watched_sum_ratio),
    DOUBLE_FIELD(watched_sum_cap),
    UINT_FIELD(gap_settle),
    UINT_FIELD(recent_scale),
    DOUBLE_FIELD(recent_scale_tail),
    DOUBLE_FIELD(jump_z),
    DOUBLE_FIELD(jump_ratio),
    DOUBLE_FIELD(cusum_cap),
    DOUBLE_FIELD(cusum_slack),
    DOUBLE_FIELD(cusum_open),
    DOUBLE_FIELD(cusum_ratio),
    DOUBLE_FIELD(quiet_z),
    DOUBLE_FIELD(quiet_ratio),
    UINT_FIELD(quiet_buckets),
    INT64_FIELD(cooldown_s),
    INT64_FIELD(reminder_s),
    UINT_FIELD(level_min_buckets),
    DOUBLE_FIELD(level_rise_max),
    DOUBLE_FIELD(normal_ratio_min),
    DOUBLE_FIELD(level_hit_max),
    DOUBLE_FIELD(intensity_dests_ratio),
    UINT_FIELD(new_sources),
    DOUBLE_FIELD(novelty_z_min),
    DOUBLE_FIELD(novelty_ratio_min),
    INT64_FIELD(exclusion_s),
};

G_DEFINE_QUARK(ps_eval_error_quark, ps_eval_error)

static gboolean
set_field(PsDetectConfig *config, const char *name, const char *text, GError **error)
{
    char *end = NULL;
    double value = g_ascii_strtod(text, &end);

    if (end == text || *end != '\0') {
        g_set_error(error, PS_EVAL_ERROR, PS_EVAL_ERROR_SETTING, "%s: '%s' is not a number", name,
                    text);
        return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
        char *at = (char *)config + fields[i].offset;
        if (g_strcmp0(fields[i].name, name) != 0)
            continue;
        /* memcpy: a field offset into the struct carries no alignment the compiler can see */
        if (fields[i].type == FIELD_DOUBLE) {
            memcpy(at, &value, sizeof(value));
        } else if (fields[i].type == FIELD_UINT) {
            guint number = (guint)value;
            memcpy(at, &number, sizeof(number));
        } else {
            gint64 number = (gint64)value;
            memcpy(at, &number, sizeof(number));
        }
        return TRUE;
    }
    g_set_error(error, PS_EVAL_ERROR, PS_EVAL_ERROR_SETTING,
                "unknown PsDetectConfig field '%s' (see tests/eval/settings.c)", name);
    return FALSE;
}

gboolean
ps_settings_apply(PsDetectConfig *config, const char *settings, GError **error)
{
    g_auto(GStrv) items = g_strsplit(settings, ",", -1);

    for (guint i = 0; items[i] != NULL; i++) {
        g_auto(GStrv) pair = g_strsplit(g_strstrip(items[i]), "=", 2);
        if (pair[0][0] == '\0')
            continue;
        if (pair[1] == NULL) {
            g_set_error(error, PS_EVAL_ERROR, PS_EVAL_ERROR_SETTING,
                        "'%s': expected field=value", items[i]);
            return FALSE;
        }
        if (!set_field(config, g_strstrip(pair[0]), g_strstrip(pair[1]), error))
            return FALSE;
    }
    return TRUE;
}

void
ps_settings_describe(const PsDetectConfig *config, GString *out)
{
    PsDetectConfig defaults;

    ps_detect_config_init(&defaults);
    for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
        const char *at = (const char *)config + fields[i].offset;
        const char *was = (const char *)&defaults + fields[i].offset;
        double d_now, d_was;
        guint u_now, u_was;
        gint64 i_now, i_was;

        if (fields[i].type == FIELD_DOUBLE) {
            memcpy(&d_now, at, sizeof(d_now));
            memcpy(&d_was, was, sizeof(d_was));
            if (d_now != d_was)
                g_string_append_printf(out, "%s%s=%g", out->len ? "," : "", fields[i].name, d_now);
        } else if (fields[i].type == FIELD_UINT) {
            memcpy(&u_now, at, sizeof(u_now));
            memcpy(&u_was, was, sizeof(u_was));
            if (u_now != u_was)
                g_string_append_printf(out, "%s%s=%u", out->len ? "," : "", fields[i].name, u_now);
        } else {
            memcpy(&i_now, at, sizeof(i_now));
            memcpy(&i_was, was, sizeof(i_was));
            if (i_now != i_was)
                g_string_append_printf(out, "%s%s=%" G_GINT64_FORMAT, out->len ? "," : "",
                                       fields[i].name, i_now);
        }
    }
}
