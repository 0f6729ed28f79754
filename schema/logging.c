#include "config.h"

#include <stdio.h>
#include <string.h>

#include "logging.h"

static const char *const level_names[] = {"warning", "message", "info", "debug"};

/* The log writer's one piece of state (STYLE.md: the log writer may be global). */
static gint current_level = PS_LOG_MESSAGE;

/* GLib level -> our threshold, the word printed and the syslog priority. */
static const struct {
    GLogLevelFlags flag;
    PsLogLevel needs;
    const char *word;
    guint priority;
} levels[] = {
    {G_LOG_LEVEL_ERROR, PS_LOG_WARNING, "error", 3},
    {G_LOG_LEVEL_CRITICAL, PS_LOG_WARNING, "critical", 2},
    {G_LOG_LEVEL_WARNING, PS_LOG_WARNING, "warning", 4},
    {G_LOG_LEVEL_MESSAGE, PS_LOG_MESSAGE, "message", 5},
    {G_LOG_LEVEL_INFO, PS_LOG_INFO, "info", 6},
    {G_LOG_LEVEL_DEBUG, PS_LOG_DEBUG, "debug", 7},
};

static guint
level_index(GLogLevelFlags flags)
{
    for (guint i = 0; i < G_N_ELEMENTS(levels); i++) {
        if (flags & levels[i].flag)
            return i;
    }
    return G_N_ELEMENTS(levels) - 1;
}

static const char *
field_text(const GLogField *fields, gsize n_fields, const char *key)
{
    for (gsize i = 0; i < n_fields; i++) {
        if (strcmp(fields[i].key, key) == 0 && fields[i].length < 0)
            return fields[i].value;
    }
    return NULL;
}

/* Below the level, unless G_MESSAGES_DEBUG names the domain (GLib's own convention). */
static gboolean
dropped(GLogLevelFlags flags, PsLogLevel needs, const GLogField *fields, gsize n_fields)
{
    if ((gint)needs <= g_atomic_int_get(&current_level))
        return FALSE;
    return needs < PS_LOG_INFO ||
           g_log_writer_default_would_drop(flags, field_text(fields, n_fields, "GLIB_DOMAIN"));
}

static void
append_message(GString *line, const GLogField *fields, gsize n_fields)
{
    for (gsize i = 0; i < n_fields; i++) {
        gsize length;
        if (strcmp(fields[i].key, "MESSAGE") != 0)
            continue;
        length = fields[i].length < 0 ? strlen(fields[i].value) : (gsize)fields[i].length;
        for (gsize c = 0; c < length; c++) {
            char ch = ((const char *)fields[i].value)[c];
            g_string_append_c(line, ch == '\n' || ch == '\r' ? ' ' : ch);
        }
    }
}

static GLogWriterOutput
write_line(GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer user_data)
{
    guint level = level_index(flags);
    g_autoptr(GString) line = g_string_sized_new(256);

    (void)user_data;
    if (dropped(flags, levels[level].needs, fields, n_fields))
        return G_LOG_WRITER_HANDLED;
    if (g_log_writer_is_journald(fileno(stderr)))
        g_string_append_printf(line, "<%u>", levels[level].priority);
    g_string_append_printf(line, "%s: ", levels[level].word);
    append_message(line, fields, n_fields);
    g_string_append_c(line, '\n');
    /* one call per line: stdio locks the stream, so threads never interleave within a line */
    fwrite(line->str, 1, line->len, stderr);
    return G_LOG_WRITER_HANDLED;
}

void
ps_logging_init(void)
{
    g_log_set_writer_func(write_line, NULL, NULL);
}

void
ps_logging_set_level(PsLogLevel level)
{
    g_atomic_int_set(&current_level, level);
}

gboolean
ps_logging_parse_level(const char *text, PsLogLevel *level)
{
    /* NULL is a key left empty ("log_level ="): g_ascii_strcasecmp() of NULL is a critical that
     * returns 0, which read as "warning" (found by fuzz-settings) */
    if (text == NULL)
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(level_names); i++) {
        if (g_ascii_strcasecmp(text, level_names[i]) == 0) {
            *level = (PsLogLevel)i;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean
ps_logging_check_level(const char *text, GError **error)
{
    PsLogLevel level;

    if (ps_logging_parse_level(text, &level))
        return TRUE;
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "expected warning, message, info or debug, got '%s'", text);
    return FALSE;
}
