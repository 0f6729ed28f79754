#include "config.h"

#include <string.h>

#include "conffile.h"

G_DEFINE_QUARK(ps_conffile_error_quark, ps_conffile_error)

const char *const ps_conffile_known_groups[] = {"collector", "redis", "alerter", "webhook", NULL};

#define LIST_SEPARATORS ", ;\t"

struct PsConffile {
    gchar *path;
    GKeyFile *keyfile;
    GHashTable *lines; /* "group\nkey" and "group" -> line number (GUINT_TO_POINTER) */
    GPtrArray *groups; /* group names in file order, each once */
};

static gchar *
line_key(const char *group, const char *key)
{
    return key != NULL ? g_strconcat(group, "\n", key, NULL) : g_strdup(group);
}

static guint
line_of(const PsConffile *file, const char *group, const char *key)
{
    g_autofree gchar *name = line_key(group, key);

    return GPOINTER_TO_UINT(g_hash_table_lookup(file->lines, name));
}

/* One line of the file: GKeyFile would reject or silently merge some of these without saying
 * where, so the syntax and duplicates are checked here, with the line number. */
static gboolean
scan_line(PsConffile *file, gchar *line, guint number, gchar **group, GError **error)
{
    gchar *text = g_strstrip(line);
    gchar *equals = strchr(text, '=');
    g_autofree gchar *name = NULL;

    if (text[0] == '\0' || text[0] == '#')
        return TRUE;
    if (text[0] == '[' && text[strlen(text) - 1] == ']' && strlen(text) > 2) {
        g_free(*group);
        *group = g_strndup(text + 1, strlen(text) - 2);
        if (!g_hash_table_contains(file->lines, *group)) {
            g_hash_table_insert(file->lines, g_strdup(*group), GUINT_TO_POINTER(number));
            g_ptr_array_add(file->groups, g_strdup(*group));
        }
        return TRUE;
    }
    if (equals == NULL || equals == text) {
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_SYNTAX,
                    "%s:%u: expected 'key = value', '[section]' or a '#' comment, got '%s'",
                    file->path, number, text);
        return FALSE;
    }
    *equals = '\0';
    g_strchomp(text);
    if (*group == NULL) {
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_SYNTAX,
                    "%s:%u: key '%s' before any [section]", file->path, number, text);
        return FALSE;
    }
    name = line_key(*group, text);
    if (g_hash_table_contains(file->lines, name)) {
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_DUPLICATE,
                    "%s:%u: [%s] %s: given twice (first on line %u); keep one", file->path, number,
                    *group, text, line_of(file, *group, text));
        return FALSE;
    }
    g_hash_table_insert(file->lines, g_steal_pointer(&name), GUINT_TO_POINTER(number));
    return TRUE;
}

static gboolean
scan(PsConffile *file, const char *contents, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
    g_autofree gchar *group = NULL;

    for (guint i = 0; lines[i] != NULL; i++) {
        if (!scan_line(file, lines[i], i + 1, &group, error))
            return FALSE;
    }
    return TRUE;
}

PsConffile *
ps_conffile_load(const char *path, GError **error)
{
    g_autofree gchar *contents = NULL;
    gsize length;

    if (!g_file_get_contents(path, &contents, &length, error)) {
        g_prefix_error(error, "configuration: ");
        return NULL;
    }
    return ps_conffile_load_data(path, contents, length, error);
}

PsConffile *
ps_conffile_load_data(const char *name, const char *contents, gsize length, GError **error)
{
    g_autoptr(PsConffile) file = g_new0(PsConffile, 1);
    /* up to the first NUL, the same text for the line scan and for GKeyFile */
    g_autofree gchar *text = g_strndup(contents, length);

    file->path = g_strdup(name);
    file->keyfile = g_key_file_new();
    file->lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    file->groups = g_ptr_array_new_with_free_func(g_free);
    if (!scan(file, text, error))
        return NULL;
    if (!g_key_file_load_from_data(file->keyfile, text, strlen(text), G_KEY_FILE_NONE, error)) {
        g_prefix_error(error, "%s: ", name);
        return NULL;
    }
    return g_steal_pointer(&file);
}

void
ps_conffile_free(PsConffile *file)
{
    if (file == NULL)
        return;
    g_free(file->path);
    if (file->keyfile != NULL)
        g_key_file_unref(file->keyfile);
    if (file->lines != NULL)
        g_hash_table_unref(file->lines);
    if (file->groups != NULL)
        g_ptr_array_unref(file->groups);
    g_free(file);
}

const char *
ps_conffile_path(const PsConffile *file)
{
    return file->path;
}

/* "webhook slack" is an instance of the named section "webhook". */
static gboolean
group_is(const char *group, const char *name, gboolean named)
{
    gsize len = strlen(name);

    if (!named)
        return strcmp(group, name) == 0;
    return strncmp(group, name, len) == 0 && group[len] == ' ' && group[len + 1] != '\0';
}

static gboolean
group_known(const char *group, const char *const *known)
{
    for (guint i = 0; known[i] != NULL; i++) {
        if (group_is(group, known[i], FALSE) || group_is(group, known[i], TRUE))
            return TRUE;
    }
    return FALSE;
}

gboolean
ps_conffile_check_groups(const PsConffile *file, const char *const *known, GError **error)
{
    for (guint i = 0; i < file->groups->len; i++) {
        const char *group = g_ptr_array_index(file->groups, i);
        g_autofree gchar *list = NULL;
        if (group_known(group, known))
            continue;
        list = g_strjoinv("], [", (gchar **)known);
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_UNKNOWN_GROUP,
                    "%s:%u: [%s]: unknown section; expected one of [%s] (webhooks as "
                    "[webhook NAME])",
                    file->path, line_of(file, group, NULL), group, list);
        return FALSE;
    }
    return TRUE;
}

gchar **
ps_conffile_groups(const PsConffile *file, const char *name)
{
    GPtrArray *found = g_ptr_array_new();

    for (guint i = 0; i < file->groups->len; i++) {
        const char *group = g_ptr_array_index(file->groups, i);
        if (group_is(group, name, TRUE))
            g_ptr_array_add(found, g_strdup(group));
    }
    g_ptr_array_add(found, NULL);
    return (gchar **)g_ptr_array_free(found, FALSE);
}

/* ---- values ---- */

static gboolean
parse_bool(const char *text, gboolean *value)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};

    for (guint i = 0; yes[i] != NULL; i++) {
        if (g_ascii_strcasecmp(text, yes[i]) == 0) {
            *value = TRUE;
            return TRUE;
        }
        if (g_ascii_strcasecmp(text, no[i]) == 0) {
            *value = FALSE;
            return TRUE;
        }
    }
    return FALSE;
}

static gchar **
split_list(const char *text)
{
    g_auto(GStrv) parts = g_strsplit_set(text, LIST_SEPARATORS, -1);
    GPtrArray *items = g_ptr_array_new();

    for (guint i = 0; parts[i] != NULL; i++) {
        if (parts[i][0] != '\0')
            g_ptr_array_add(items, g_strdup(parts[i]));
    }
    g_ptr_array_add(items, NULL);
    return (gchar **)g_ptr_array_free(items, FALSE);
}

static const char *
shown(const PsConffileKey *key, const char *text)
{
    return (key->flags & PS_CONFFILE_SECRET) ? "(secret)" : text;
}

/* Checks one value (one list element) against the key's type, range and check function. */
static gboolean
check_one(const PsConffileKey *key, const char *text, const char *origin, GError **error)
{
    g_autoptr(GError) local = NULL;
    gboolean flag;

    if (key->type == PS_CONFFILE_INT &&
        !g_ascii_string_to_signed(text, 10, key->min, key->max, NULL, NULL)) {
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_VALUE,
                    "%s: expected an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                    ", got '%s'",
                    origin, key->min, key->max, shown(key, text));
        return FALSE;
    }
    if (key->type == PS_CONFFILE_BOOL && !parse_bool(text, &flag)) {
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_VALUE,
                    "%s: expected true or false, got '%s'", origin, shown(key, text));
        return FALSE;
    }
    if (key->check != NULL && !key->check(text, &local)) {
        g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_VALUE, "%s: %s", origin,
                    local->message);
        return FALSE;
    }
    return TRUE;
}

/* Checks a whole value: each element of a list. */
static gboolean
check_value(const PsConffileKey *key, const char *text, const char *origin, GError **error)
{
    g_auto(GStrv) items = NULL;

    if (key->type == PS_CONFFILE_STRING && text[0] == '\0')
        return TRUE; /* "key =" unsets */
    if (key->type != PS_CONFFILE_LIST)
        return check_one(key, text, origin, error);
    items = split_list(text);
    for (guint i = 0; items[i] != NULL; i++) {
        if (!check_one(key, items[i], origin, error))
            return FALSE;
    }
    return TRUE;
}

static void
store_list(gchar ***field, const char *text, gboolean append)
{
    g_auto(GStrv) items = split_list(text);
    GPtrArray *joined = g_ptr_array_new();

    for (guint i = 0; append && *field != NULL && (*field)[i] != NULL; i++)
        g_ptr_array_add(joined, g_strdup((*field)[i]));
    for (guint i = 0; items[i] != NULL; i++)
        g_ptr_array_add(joined, g_strdup(items[i]));
    g_ptr_array_add(joined, NULL);
    g_strfreev(*field);
    *field = (gchar **)g_ptr_array_free(joined, FALSE);
}

gboolean
ps_conffile_set(const PsConffileKey *key, gpointer target, const char *text, gboolean append,
                const char *origin, GError **error)
{
    gpointer field = G_STRUCT_MEMBER_P(target, key->offset);
    gchar **string = field;
    gint64 *number = field;
    gboolean *flag = field;

    if (!check_value(key, text, origin, error))
        return FALSE;
    switch (key->type) {
    case PS_CONFFILE_STRING:
        g_free(*string);
        *string = text[0] != '\0' ? g_strdup(text) : NULL; /* "key =" unsets */
        break;
    case PS_CONFFILE_LIST:
        store_list(field, text, append);
        break;
    case PS_CONFFILE_INT:
        g_ascii_string_to_signed(text, 10, key->min, key->max, number, NULL);
        break;
    case PS_CONFFILE_BOOL:
        parse_bool(text, flag);
        break;
    }
    return TRUE;
}

void
ps_conffile_defaults(const PsConffileSection *section, gpointer target)
{
    for (guint i = 0; i < section->n_keys; i++) {
        const PsConffileKey *key = &section->keys[i];
        /* defaults are constants of the program: a bad one is a programming error */
        if (key->defaults != NULL)
            g_assert_true(ps_conffile_set(key, target, key->defaults, FALSE, key->key, NULL));
    }
}

static const PsConffileKey *
find_key(const PsConffileSection *section, const char *name)
{
    for (guint i = 0; i < section->n_keys; i++) {
        if (strcmp(section->keys[i].key, name) == 0)
            return &section->keys[i];
    }
    return NULL;
}

static void
set_unknown_key(const PsConffile *file, const PsConffileSection *section, const char *group,
                const char *name, GError **error)
{
    g_autoptr(GString) known = g_string_new(NULL);

    for (guint i = 0; i < section->n_keys; i++)
        g_string_append_printf(known, "%s%s", i > 0 ? ", " : "", section->keys[i].key);
    g_set_error(error, PS_CONFFILE_ERROR, PS_CONFFILE_ERROR_UNKNOWN_KEY,
                "%s:%u: [%s] %s: unknown key; [%s] takes %s", file->path,
                line_of(file, group, name), group, name, group, known->str);
}

static gboolean
apply_key(const PsConffile *file, const PsConffileSection *section, const char *group,
          const char *name, gpointer target, GError **error)
{
    const PsConffileKey *key = find_key(section, name);
    g_autofree gchar *origin = NULL;
    g_autofree gchar *value = NULL;

    if (key == NULL) {
        set_unknown_key(file, section, group, name, error);
        return FALSE;
    }
    origin = g_strdup_printf("%s:%u: [%s] %s", file->path, line_of(file, group, name), group, name);
    value = g_key_file_get_string(file->keyfile, group, name, error);
    if (value == NULL) {
        g_prefix_error(error, "%s: ", origin);
        return FALSE;
    }
    return ps_conffile_set(key, target, value, FALSE, origin, error);
}

static gboolean
apply_environment(const PsConffileSection *section, gpointer target, GError **error)
{
    for (guint i = 0; i < section->n_keys; i++) {
        const PsConffileKey *key = &section->keys[i];
        const char *value = key->env != NULL ? g_getenv(key->env) : NULL;
        if (value != NULL && !ps_conffile_set(key, target, value, FALSE, key->env, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
ps_conffile_apply(const PsConffile *file, const PsConffileSection *section, const char *group,
                  gpointer target, GError **error)
{
    g_auto(GStrv) names = NULL;

    if (file != NULL && g_key_file_has_group(file->keyfile, group))
        names = g_key_file_get_keys(file->keyfile, group, NULL, NULL);
    for (guint i = 0; names != NULL && names[i] != NULL; i++) {
        if (!apply_key(file, section, group, names[i], target, error))
            return FALSE;
    }
    return apply_environment(section, target, error);
}

void
ps_conffile_clear(const PsConffileSection *section, gpointer target)
{
    for (guint i = 0; i < section->n_keys; i++) {
        gpointer field = G_STRUCT_MEMBER_P(target, section->keys[i].offset);
        if (section->keys[i].type == PS_CONFFILE_STRING)
            g_clear_pointer((gchar **)field, g_free);
        else if (section->keys[i].type == PS_CONFFILE_LIST)
            g_clear_pointer((gchar ***)field, g_strfreev);
    }
}

gboolean
ps_conffile_equal(const PsConffileKey *key, gconstpointer a, gconstpointer b)
{
    gconstpointer x = G_STRUCT_MEMBER_P(a, key->offset);
    gconstpointer y = G_STRUCT_MEMBER_P(b, key->offset);
    const gchar *const *sx = x, *const *sy = y;
    const gchar *const *const *lx = x, *const *const *ly = y;
    const gint64 *nx = x, *ny = y;
    const gboolean *bx = x, *by = y;

    switch (key->type) {
    case PS_CONFFILE_STRING:
        return g_strcmp0(*sx, *sy) == 0;
    case PS_CONFFILE_LIST:
        if (*lx == NULL || *ly == NULL)
            return *lx == *ly;
        return g_strv_equal(*lx, *ly);
    case PS_CONFFILE_INT:
        return *nx == *ny;
    case PS_CONFFILE_BOOL:
        return !*bx == !*by;
    }
    return FALSE;
}

void
ps_conffile_copy(const PsConffileKey *key, gpointer dst, gconstpointer src)
{
    gpointer to = G_STRUCT_MEMBER_P(dst, key->offset);
    gconstpointer from = G_STRUCT_MEMBER_P(src, key->offset);

    switch (key->type) {
    case PS_CONFFILE_STRING:
        g_free(*(gchar **)to);
        *(gchar **)to = g_strdup(*(gchar *const *)from);
        break;
    case PS_CONFFILE_LIST:
        g_strfreev(*(gchar ***)to);
        *(gchar ***)to = g_strdupv(*(gchar * *const *)from);
        break;
    case PS_CONFFILE_INT:
        *(gint64 *)to = *(const gint64 *)from;
        break;
    case PS_CONFFILE_BOOL:
        *(gboolean *)to = *(const gboolean *)from;
        break;
    }
}

gchar *
ps_conffile_format(const PsConffileKey *key, gconstpointer target)
{
    gconstpointer field = G_STRUCT_MEMBER_P(target, key->offset);

    switch (key->type) {
    case PS_CONFFILE_STRING:
        if (*(gchar *const *)field == NULL)
            return g_strdup("(none)");
        return g_strdup(shown(key, *(gchar *const *)field));
    case PS_CONFFILE_LIST:
        if (*(gchar * *const *)field == NULL || **(gchar * *const *)field == NULL)
            return g_strdup("(none)");
        return g_strjoinv(", ", *(gchar * *const *)field);
    case PS_CONFFILE_INT:
        return g_strdup_printf("%" G_GINT64_FORMAT, *(const gint64 *)field);
    case PS_CONFFILE_BOOL:
        return g_strdup(*(const gboolean *)field ? "true" : "false");
    }
    return NULL;
}
