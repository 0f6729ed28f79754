/* PsDetectConfig fields by name, so candidate thresholds can be tried from the command line
 * ("cusum_open=15,z_min=4.5") without touching alerting/. */
#pragma once

#include <glib.h>

#include "detect.h"

#define PS_EVAL_ERROR ps_eval_error_quark()
GQuark ps_eval_error_quark(void);

typedef enum {
    PS_EVAL_ERROR_SETTING,
} PsEvalError;

/* Applies comma-separated field=value pairs to config. @return FALSE on an unknown field or a
 * bad number (check error). */
gboolean ps_settings_apply(PsDetectConfig *config, const char *settings, GError **error);

/* Appends the fields that differ from ps_detect_config_init() as field=value pairs. */
void ps_settings_describe(const PsDetectConfig *config, GString *out);
