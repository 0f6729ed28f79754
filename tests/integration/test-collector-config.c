/* portsurge-collector refuses a broken configuration instead of guessing: each case below is
 * a file (or a command line) the real binary must refuse with exit status 2 and a message
 * naming FILE:LINE, the section and key, and what is expected. And the example configuration
 * in contrib/ is valid as shipped and with every default uncommented. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "ops-util.h"

#define EXIT_CONFIG 2

typedef struct {
    const char *name;
    const char *contents; /* the file; NULL: no file */
    const char *option;   /* one more argument, or NULL */
    const char *expected; /* the message, after "<path>:" unless it names an option */
} RefusalCase;

static const RefusalCase refusals[] = {
    {"bad-int", "[collector]\n# buckets\nbucket = abc\n", NULL,
     "3: [collector] bucket: expected an integer from 1 to 3600, got 'abc'"},
    {"bucket-not-dividing", "[collector]\nbucket = 7\n", NULL,
     "2: [collector] bucket: expected 10 to 3600 seconds dividing an hour"},
    {"out-of-range", "[collector]\n\nflush_interval = 0\n", NULL,
     "3: [collector] flush_interval: expected an integer from 1 to 3600, got '0'"},
    {"unknown-key", "[collector]\nbucket = 60\nbukcet = 60\n", NULL,
     "3: [collector] bukcet: unknown key; [collector] takes listen,"},
    {"unknown-redis-key", "[redis]\nurl = /tmp/r.sock\npasword = x\n", NULL,
     "3: [redis] pasword: unknown key; [redis] takes url, user, password, password_file, prefix"},
    {"unknown-section", "[collector]\n[colector]\nbucket = 60\n", NULL,
     "2: [colector]: unknown section; expected one of [collector], [redis], [alerter]"},
    {"duplicate-key", "[collector]\nsampling = 1\nsampling = 2\n", NULL,
     "3: [collector] sampling: given twice (first on line 2)"},
    {"not-a-line", "[collector]\nsampling 1\n", NULL,
     "2: expected 'key = value', '[section]' or a '#' comment, got 'sampling 1'"},
    {"key-before-section", "sampling = 1\n", NULL, "1: key 'sampling' before any [section]"},
    {"bad-network", "[collector]\nallow = 10.0.0.0/8, 10.0.0.300\n", NULL,
     "2: [collector] allow: '10.0.0.300' is not a network: expected ADDRESS/PREFIX"},
    {"bad-prefix", "[collector]\nhome_networks = 10.0.0.0/33\n", NULL,
     "2: [collector] home_networks: '10.0.0.0/33': prefix length must be 0 to 32"},
    {"bad-listen", "[collector]\nlisten = 127.0.0.1\n", NULL,
     "2: [collector] listen: listen address '127.0.0.1': expected ADDR:PORT"},
    {"bad-metrics", "[collector]\nmetrics = localhost\n", NULL,
     "2: [collector] metrics: 'localhost' is not a listen address: expected ADDR:PORT"},
    {"bad-level", "[collector]\nlog_level = loud\n", NULL,
     "2: [collector] log_level: expected warning, message, info or debug, got 'loud'"},
    {"bad-redis-url", "[redis]\nurl = redis://host:99999\n", NULL,
     "2: [redis] url: Redis address 'redis://host:99999': expected redis://"},
    {"new-sources-direction", "[collector]\nnew_sources = tcp/445, tcp/445@in\n", NULL,
     "2: [collector] new_sources: 'tcp/445@in': name the port only, such as tcp/445"},
    {"bad-horizon", "[collector]\nnew_sources_horizon = soon\n", NULL,
     "2: [collector] new_sources_horizon: 'soon' is not a duration"},
    {"bad-option", NULL, "--bucket=7", "--bucket: expected 10 to 3600 seconds dividing an hour"},
    {"option-over-file", "[collector]\nbucket = 60\n", "--max-series=1",
     "--max-series: expected an integer from 2 to 10000000, got '1'"},
};

static gchar *
temp_dir(void)
{
    g_autoptr(GError) error = NULL;
    gchar *dir = g_dir_make_tmp("ps-config-XXXXXX", &error);

    g_assert_no_error(error);
    return dir;
}

static void
remove_dir(const char *dir, const char *const *files)
{
    for (guint i = 0; files[i] != NULL; i++)
        g_remove(files[i]);
    g_rmdir(dir);
}

static void
test_refusal(gconstpointer data)
{
    const RefusalCase *refusal = data;
    g_autofree gchar *dir = temp_dir();
    g_autofree gchar *path = NULL;
    g_autofree gchar *expected = NULL;
    g_autofree gchar *status = NULL;
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(PsTestChild) child = NULL;

    if (ps_test_collector_path() == NULL)
        return;
    g_ptr_array_add(argv, (gpointer)ps_test_collector_path());
    if (refusal->contents != NULL) {
        path = ps_ops_write_config(dir, "portsurge.conf", refusal->contents);
        g_ptr_array_add(argv, "--config");
        g_ptr_array_add(argv, path);
    }
    if (refusal->option != NULL)
        g_ptr_array_add(argv, (gpointer)refusal->option);
    g_ptr_array_add(argv, "--listen=127.0.0.1:9");
    g_ptr_array_add(argv, NULL);
    child = ps_ops_run((const char *const *)argv->pdata);
    g_assert_nonnull(child);
    status = ps_test_child_describe_status(child);
    /* a value from the command line is named by its option, one from the file by FILE:LINE */
    expected = refusal->expected[0] != '-' ? g_strdup_printf("%s:%s", path, refusal->expected)
                                           : g_strdup(refusal->expected);
    ps_test_child_log_stderr(child, "collector");
    g_assert_cmpstr(status, ==, "exit 2");
    g_assert_cmpuint(child->err->len, ==, 1); /* one precise line, nothing else */
    if (!g_str_has_prefix(g_ptr_array_index(child->err, 0), expected))
        g_test_message("expected a line starting with: %s", expected);
    g_assert_true(g_str_has_prefix(g_ptr_array_index(child->err, 0), expected));
    remove_dir(dir, (const char *const[]){path, NULL});
}

static gchar *
example_path(void)
{
    return g_build_filename(g_getenv("G_TEST_SRCDIR"), "..", "contrib", "portsurge.conf", NULL);
}

static void
assert_valid(const char *path)
{
    const char *argv[] = {ps_test_collector_path(), "--config", path, "--check-config", NULL};
    g_autoptr(PsTestChild) child = ps_ops_run(argv);
    g_autofree gchar *status = NULL;

    g_assert_nonnull(child);
    status = ps_test_child_describe_status(child);
    ps_test_child_log_stderr(child, "collector");
    g_assert_cmpstr(status, ==, "exit 0");
}

/* The first "# key = value" of each key, uncommented: the documented defaults must be valid
 * keys with valid values (the examples after them stay comments). */
static gchar *
uncomment_defaults(const char *contents, guint *n_keys)
{
    g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GString *out = g_string_new(NULL);

    *n_keys = 0;
    for (guint i = 0; lines[i] != NULL; i++) {
        gboolean is_key = g_regex_match_simple("^# [a-z_]+ =( |$)", lines[i], 0, 0);
        g_autofree gchar *key = is_key ? g_strndup(lines[i] + 2, strcspn(lines[i] + 2, " ")) : NULL;
        if (lines[i][0] == '[')
            g_hash_table_remove_all(seen); /* [collector] user and [redis] user are two keys */
        if (key != NULL && !g_hash_table_contains(seen, key)) {
            g_string_append_printf(out, "%s\n", lines[i] + 2);
            g_hash_table_add(seen, g_steal_pointer(&key));
            (*n_keys)++;
        } else {
            g_string_append_printf(out, "%s\n", lines[i]);
        }
    }
    return g_string_free(out, FALSE);
}

/* The same file configures the alerter: its --check-config must accept it too. */
static void
assert_valid_for_alerter(const char *path)
{
    const char *argv[] = {g_getenv("PS_ALERTER"), "--config", path, "--check-config", NULL};
    g_autofree gchar *err = NULL;
    g_autoptr(GError) error = NULL;
    gint status = -1;

    g_assert_nonnull(argv[0]);
    g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                               NULL, NULL, &err, &status, &error));
    g_assert_no_error(error);
    if (status != 0)
        g_test_message("portsurge-alerter refused %s: %s", path, err);
    g_assert_cmpint(status, ==, 0);
}

static void
test_example(void)
{
    g_autofree gchar *example = example_path();
    g_autofree gchar *contents = NULL;
    g_autofree gchar *uncommented = NULL;
    g_autofree gchar *dir = temp_dir();
    g_autofree gchar *path = NULL;
    guint n_keys;

    if (ps_test_collector_path() == NULL)
        return;
    g_assert_true(g_file_get_contents(example, &contents, NULL, NULL));
    assert_valid(example);
    uncommented = uncomment_defaults(contents, &n_keys);
    /* every key of [collector], [redis], [alerter] and the console [webhook] */
    g_assert_cmpuint(n_keys, ==, 26 + 5 + 18 + 3);
    path = ps_ops_write_config(dir, "uncommented.conf", uncommented);
    assert_valid(path);
    assert_valid_for_alerter(example);
    assert_valid_for_alerter(path);
    remove_dir(dir, (const char *const[]){path, NULL});
}

/* --help lists every option with its default (those that have one). */
static void
test_help(void)
{
    const char *argv[] = {ps_test_collector_path(), "--help", NULL};
    g_autoptr(PsTestChild) child = NULL;

    if (ps_test_collector_path() == NULL)
        return;
    child = ps_ops_run(argv);
    g_assert_nonnull(child);
    g_assert_true(ps_test_child_exited_cleanly(child));
    g_assert_cmpuint(ps_test_lines_count(child->out, "--bucket=S"), ==, 1);
    g_assert_cmpuint(ps_test_lines_count(child->out, "(default: 60)"), >=, 2);
    g_assert_cmpuint(ps_test_lines_count(child->out, "--allow=CIDR"), ==, 1);
    g_assert_cmpuint(ps_test_lines_count(child->out, "--new-sources-horizon=DURATION"), ==, 1);
    g_assert_cmpuint(ps_test_lines_count(child->out, "--metrics=ADDR:PORT"), ==, 1);
    g_assert_cmpuint(ps_test_lines_count(child->out, "--redis-password-file=FILE"), ==, 1);
    g_assert_cmpuint(ps_test_lines_count(child->out, "(default: [::]:2055, [::]:4739)"), ==, 1);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autofree gchar *name = g_strdup_printf("/collector-config/refused/%s", refusals[i].name);
        g_test_add_data_func(name, &refusals[i], test_refusal);
    }
    g_test_add_func("/collector-config/example-valid", test_example);
    g_test_add_func("/collector-config/help-defaults", test_help);
    return g_test_run();
}
