#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>

#include "cli-run.h"

PsCliRun *
ps_cli_runv(const char *redis_socket, const char *const *args)
{
    const char *argv[PS_CLI_RUN_MAX_ARGS];
    guint argc = 0;
    PsCliRun *run = g_new0(PsCliRun, 1);
    g_autoptr(GError) error = NULL;
    gint wait_status = 0;

    argv[argc++] = g_getenv("PS_CLI");
    g_assert_nonnull(argv[0]);
    for (guint i = 0; args[i] != NULL; i++) {
        g_assert_cmpuint(argc, <, PS_CLI_RUN_MAX_ARGS - 3);
        argv[argc++] = args[i];
    }
    if (redis_socket != NULL) {
        argv[argc++] = "--redis";
        argv[argc++] = redis_socket;
    }
    argv[argc] = NULL;
    g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &run->out,
                               &run->err, &wait_status, &error));
    g_assert_no_error(error);
    g_assert_true(WIFEXITED(wait_status));
    run->status = WEXITSTATUS(wait_status);
    if (run->err[0] != '\0')
        g_test_message("stderr: %s", run->err);
    return run;
}

PsCliRun *
ps_cli_run(const char *redis_socket, const char *first, ...)
{
    const char *args[PS_CLI_RUN_MAX_ARGS];
    guint n = 0;
    va_list list;

    va_start(list, first);
    for (const char *arg = first; arg != NULL; arg = va_arg(list, const char *)) {
        g_assert_cmpuint(n, <, PS_CLI_RUN_MAX_ARGS - 1);
        args[n++] = arg;
    }
    va_end(list);
    args[n] = NULL;
    return ps_cli_runv(redis_socket, args);
}

void
ps_cli_run_free(PsCliRun *run)
{
    if (run == NULL)
        return;
    g_free(run->out);
    g_free(run->err);
    g_free(run);
}

/* One field starting at *p; leaves *p after its separator. */
static gchar *
csv_field(const char **p, gboolean *end_of_row)
{
    GString *field = g_string_new(NULL);
    const char *s = *p;

    if (*s == '"') {
        for (s++; *s != '\0'; s++) {
            if (*s == '"' && s[1] == '"')
                g_string_append_c(field, *s++);
            else if (*s == '"')
                break;
            else
                g_string_append_c(field, *s);
        }
        if (*s == '"')
            s++;
    } else {
        while (*s != '\0' && *s != ',' && *s != '\n' && *s != '\r')
            g_string_append_c(field, *s++);
    }
    if (*s == '\r')
        s++;
    *end_of_row = *s != ',';
    if (*s != '\0')
        s++;
    *p = s;
    return g_string_free(field, FALSE);
}

GPtrArray *
ps_cli_csv_parse(const char *text)
{
    GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    const char *p = text;

    while (*p != '\0') {
        GPtrArray *row = g_ptr_array_new();
        gboolean end = FALSE;
        while (!end)
            g_ptr_array_add(row, csv_field(&p, &end));
        g_ptr_array_add(row, NULL);
        g_ptr_array_add(rows, g_ptr_array_free(row, FALSE));
    }
    return rows;
}

guint
ps_cli_csv_column(GPtrArray *rows, const char *name)
{
    gchar **header;

    g_assert_cmpuint(rows->len, >, 0);
    header = g_ptr_array_index(rows, 0);
    for (guint i = 0; header[i] != NULL; i++)
        if (g_str_equal(header[i], name))
            return i;
    g_assert_not_reached();
}
