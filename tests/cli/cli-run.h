/* Running the portsurge binary from a test and reading what it printed: the exit status,
 * stdout, stderr, and CSV or JSON output parsed back into rows of strings. */
#pragma once

#include <glib.h>

typedef struct {
    gchar *out;
    gchar *err;
    gint status; /* the exit status */
} PsCliRun;

#define PS_CLI_RUN_MAX_ARGS 32

/* Runs $PS_CLI with redis_socket as --redis (when not NULL) and args (NULL-terminated). */
PsCliRun *ps_cli_runv(const char *redis_socket, const char *const *args);
/* Runs $PS_CLI with redis_socket as --redis (when not NULL) and the NULL-terminated args. */
PsCliRun *ps_cli_run(const char *redis_socket, const char *first, ...) G_GNUC_NULL_TERMINATED;
void ps_cli_run_free(PsCliRun *run);

/* RFC 4180 CSV: an array of rows, each a GStrv; the header is row 0. */
GPtrArray *ps_cli_csv_parse(const char *text);
/* The index of a column of the header, asserting it exists. */
guint ps_cli_csv_column(GPtrArray *rows, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsCliRun, ps_cli_run_free)
