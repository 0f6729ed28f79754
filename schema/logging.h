/* Log lines that journald and docker keep as they are: one line per message (newlines inside
 * a message become spaces), the level first, no colour, no timestamp (both add their own).
 * Under journald (stderr connected to the journal) each line starts with the syslog priority,
 * "<4>", which journald turns into the entry's priority.
 *
 * The level can change while the program runs (a reload): the writer reads it atomically. */
#pragma once

#include <glib.h>

typedef enum {
    PS_LOG_WARNING, /* warnings and worse only */
    PS_LOG_MESSAGE, /* the default: what an operator needs */
    PS_LOG_INFO,    /* --verbose */
    PS_LOG_DEBUG,   /* for developers; G_MESSAGES_DEBUG=all does the same */
} PsLogLevel;

/* Installs the writer (once per process, before the first message). */
void ps_logging_init(void);

void ps_logging_set_level(PsLogLevel level);

/* "warning", "message", "info" or "debug"; FALSE for anything else, and for NULL (the key
 * left empty: the caller keeps its default). */
gboolean ps_logging_parse_level(const char *text, PsLogLevel *level);

/* The same, as a conffile.h check: the error says what is expected. */
gboolean ps_logging_check_level(const char *text, GError **error);
