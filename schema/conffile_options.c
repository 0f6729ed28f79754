/* The command-line half of conffile.h: GOptionEntries made from the key tables, so that every
 * key has its option, --help shows every default, and a value given on the command line goes
 * through the same checks as one from the file. */
#include "config.h"

#include <string.h>

#include "conffile.h"

typedef struct {
    const PsConffileKey *key;
    gchar *value;
} Given;

struct PsConffileOptions {
    GArray *entries;  /* GOptionEntry, ended by an empty one */
    GPtrArray *names; /* option names; entries point at them */
    GPtrArray *keys;  /* PsConffileKey of each entry, same order */
    GArray *given;    /* Given, in command-line order */
};

static gchar *
option_name(const PsConffileKey *key)
{
    gchar *name;

    if (key->option != NULL)
        return g_strdup(key->option);
    name = g_strdup(key->key);
    g_strdelimit(name, "_", '-');
    return name;
}

static const PsConffileKey *
key_of_option(const PsConffileOptions *options, const char *option)
{
    const char *name = g_str_has_prefix(option, "--") ? option + 2 : option;

    for (guint i = 0; i < options->names->len; i++) {
        if (strcmp(g_ptr_array_index(options->names, i), name) == 0)
            return g_ptr_array_index(options->keys, i);
    }
    return NULL;
}

/* GOption calls this for every config option given; values are checked when applied. */
static gboolean
on_option(const gchar *option, const gchar *value, gpointer data, GError **error)
{
    PsConffileOptions *options = data;
    Given given = {key_of_option(options, option), g_strdup(value != NULL ? value : "true")};

    if (given.key == NULL) {
        g_free(given.value);
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "%s: unknown option",
                    option);
        return FALSE;
    }
    g_array_append_val(options->given, given);
    return TRUE;
}

static void
add_entry(PsConffileOptions *options, const PsConffileKey *key)
{
    GOptionEntry entry = {0};
    gchar *name = option_name(key);
    gchar *description = key->defaults != NULL && key->defaults[0] != '\0'
                             ? g_strdup_printf("%s (default: %s)", key->help, key->defaults)
                             : g_strdup(key->help);

    /* the entry points at these strings: keep them with the entry */
    g_ptr_array_add(options->names, name);
    g_ptr_array_add(options->keys, (gpointer)key);
    entry.long_name = name;
    entry.flags = key->type == PS_CONFFILE_BOOL ? G_OPTION_FLAG_NO_ARG : 0;
    entry.arg = G_OPTION_ARG_CALLBACK;
    entry.arg_data = (gpointer)on_option;
    entry.description = description;
    entry.arg_description = key->type == PS_CONFFILE_BOOL ? NULL : key->arg;
    g_array_append_val(options->entries, entry);
}

static void
entry_clear(gpointer data)
{
    GOptionEntry *entry = data;

    g_free((gchar *)entry->description);
}

static void
given_clear(gpointer data)
{
    Given *given = data;

    g_free(given->value);
}

PsConffileOptions *
ps_conffile_options_new(const PsConffileSection *const *sections)
{
    PsConffileOptions *options = g_new0(PsConffileOptions, 1);
    GOptionEntry end = {0};

    options->entries = g_array_new(FALSE, TRUE, sizeof(GOptionEntry));
    g_array_set_clear_func(options->entries, entry_clear);
    options->names = g_ptr_array_new_with_free_func(g_free);
    options->keys = g_ptr_array_new();
    options->given = g_array_new(FALSE, TRUE, sizeof(Given));
    g_array_set_clear_func(options->given, given_clear);
    for (guint s = 0; sections[s] != NULL; s++) {
        for (guint i = 0; i < sections[s]->n_keys; i++) {
            if (!(sections[s]->keys[i].flags & PS_CONFFILE_NO_OPTION))
                add_entry(options, &sections[s]->keys[i]);
        }
    }
    g_array_append_val(options->entries, end);
    return options;
}

void
ps_conffile_options_free(PsConffileOptions *options)
{
    if (options == NULL)
        return;
    g_array_unref(options->entries);
    g_ptr_array_unref(options->names);
    g_ptr_array_unref(options->keys);
    g_array_unref(options->given);
    g_free(options);
}

GOptionGroup *
ps_conffile_options_group(PsConffileOptions *options, const GOptionEntry *program_entries)
{
    GOptionGroup *group = g_option_group_new(NULL, NULL, NULL, options, NULL);

    if (program_entries != NULL)
        g_option_group_add_entries(group, program_entries);
    g_option_group_add_entries(group, &g_array_index(options->entries, GOptionEntry, 0));
    return group;
}

static gboolean
key_in_section(const PsConffileKey *key, const PsConffileSection *section)
{
    return key >= section->keys && key < section->keys + section->n_keys;
}

gboolean
ps_conffile_options_apply(const PsConffileOptions *options, const PsConffileSection *section,
                          gpointer target, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);

    for (guint i = 0; i < options->given->len; i++) {
        const Given *given = &g_array_index(options->given, Given, i);
        g_autofree gchar *name = NULL;
        g_autofree gchar *origin = NULL;
        gboolean append;
        if (!key_in_section(given->key, section))
            continue;
        /* a repeated list option adds up; its first use replaces the file's list */
        append = g_hash_table_contains(seen, given->key);
        g_hash_table_add(seen, (gpointer)given->key);
        name = option_name(given->key);
        origin = g_strdup_printf("--%s", name);
        if (!ps_conffile_set(given->key, target, given->value, append, origin, error))
            return FALSE;
    }
    return TRUE;
}
