/* Runs a fuzz target without libFuzzer, as glib's fuzzing/driver.c and fwupd's
 * fu-fuzzer-main.c do: every file in the directories (or the files) named on the command line
 * is passed once to LLVMFuzzerTestOneInput(), in name order so that a template seed is seen
 * before the data seed that needs it. A crash, sanitizer report or assertion fails the test;
 * otherwise it exits 0. Files that cannot be read fail it too: a missing corpus must not pass
 * silently. */
#include "config.h"

#include <glib.h>
#include <stdio.h>

/* the target linked with this driver */
int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static gboolean
ps_driver_run_file(const char *path, guint *n_run)
{
    g_autoptr(GError) error = NULL;
    g_autofree gchar *contents = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &contents, &len, &error)) {
        fprintf(stderr, "%s\n", error->message);
        return FALSE;
    }
    /* a private copy of exactly len bytes, so ASan catches a read one past the end */
    g_autofree guint8 *exact = g_memdup2(contents, len);
    LLVMFuzzerTestOneInput(exact, len);
    (*n_run)++;
    return TRUE;
}

static gint
ps_driver_compare_names(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static gboolean
ps_driver_run_dir(const char *dir_path, guint *n_run)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &error);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    gboolean ok = TRUE;

    if (dir == NULL) {
        fprintf(stderr, "%s\n", error->message);
        return FALSE;
    }
    while ((name = g_dir_read_name(dir)) != NULL)
        g_ptr_array_add(names, g_build_filename(dir_path, name, NULL));
    g_ptr_array_sort(names, ps_driver_compare_names);
    for (guint i = 0; i < names->len; i++)
        ok = ps_driver_run_file(g_ptr_array_index(names, i), n_run) && ok;
    return ok;
}

int
main(int argc, char **argv)
{
    guint n_run = 0;
    gboolean ok = TRUE;

    for (int i = 1; i < argc; i++) {
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR))
            ok = ps_driver_run_dir(argv[i], &n_run) && ok;
        else
            ok = ps_driver_run_file(argv[i], &n_run) && ok;
    }
    printf("%s: %u inputs replayed\n", argc > 0 ? argv[0] : "driver", n_run);
    return ok ? 0 : 1;
}
