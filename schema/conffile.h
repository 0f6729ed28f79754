/* portsurge.conf for every program: one GKeyFile whose sections are described by tables.
 *
 * (Named conffile, not config: "config.h" is meson's generated header, included first by every
 * source file, and a schema/config.h would shadow it.)
 *
 * A program describes each section it reads as a PsConffileSection: a table of PsConffileKey,
 * each with its type, range, default, where its value lives in the program's struct (offset),
 * whether a reload may change it, its command-line option and its help. From the tables:
 *   - ps_conffile_defaults() fills a struct with the defaults;
 *   - ps_conffile_load() reads a file and checks its syntax, ps_conffile_check_groups() its
 *     sections, ps_conffile_apply() one section into the struct: an unknown key, a duplicate
 *     or a bad value is an error naming FILE:LINE, the section, the key and what is expected;
 *   - PsConffileOptions turns the same tables into GOptionEntries (the help shows each
 *     default) and applies what the command line gave through the same checks, so a value is
 *     validated the same way wherever it comes from.
 * Precedence: default < file < environment (PsConffileKey.env, for secrets) < command line.
 *
 * The alerter adds its own tables ([alerter], and [webhook NAME] as a named section read once
 * per group that ps_conffile_groups() finds). */
#pragma once

#include <glib.h>

/* Where both programs look for their configuration when --config names none (only if it
 * exists: without a file every key has its default). */
#define PS_CONFFILE_DEFAULT_PATH "/etc/portsurge/portsurge.conf"

#define PS_CONFFILE_ERROR ps_conffile_error_quark()
GQuark ps_conffile_error_quark(void);

typedef enum {
    PS_CONFFILE_ERROR_FILE,          /* cannot be read */
    PS_CONFFILE_ERROR_SYNTAX,        /* a line that is no group, key = value or comment */
    PS_CONFFILE_ERROR_UNKNOWN_GROUP, /* a section no portsurge program knows */
    PS_CONFFILE_ERROR_UNKNOWN_KEY,
    PS_CONFFILE_ERROR_DUPLICATE, /* a key given twice: which one was meant? */
    PS_CONFFILE_ERROR_VALUE,     /* wrong type, out of range, refused by the key's check */
} PsConffileError;

/* Each type says what the struct field at offset is. */
typedef enum {
    PS_CONFFILE_STRING, /* gchar *, owned by the struct; NULL when unset */
    PS_CONFFILE_LIST,   /* gchar ** (GStrv), owned; in the file separated by commas or spaces;
                         * the option is repeatable and its first use replaces the file's list */
    PS_CONFFILE_INT,    /* gint64 within [min, max] */
    PS_CONFFILE_BOOL,   /* gboolean: true/false, yes/no, on/off, 1/0; the option takes no value */
} PsConffileType;

#define PS_CONFFILE_LIVE      (1u << 0) /* a reload may change it; others need a restart */
#define PS_CONFFILE_NO_OPTION (1u << 1) /* file (and environment) only: secrets */
#define PS_CONFFILE_SECRET    (1u << 2) /* its value never appears in a message */

/* Extra validation of one value (one element of a list): FALSE with a message saying what is
 * wrong and what is expected; the caller prefixes where the value came from. */
typedef gboolean (*PsConffileCheckFn)(const char *value, GError **error);

typedef struct {
    const char *key; /* as written in the file: "flush_interval" */
    PsConffileType type;
    gsize offset;         /* G_STRUCT_OFFSET() of its field in the program's struct */
    const char *defaults; /* as written in the file; NULL: unset */
    gint64 min, max;      /* PS_CONFFILE_INT */
    guint flags;
    const char *option; /* long option when it is not key with '-' for '_' */
    const char *arg;    /* the option's placeholder in --help: "S", "CIDR" */
    const char *help;   /* one line; "(default: ...)" is appended from defaults */
    const char *env;    /* environment variable that overrides the file, or NULL */
    PsConffileCheckFn check;
} PsConffileKey;

typedef struct {
    const char *name; /* "collector"; for a named section the word before the name: "webhook" */
    gboolean named;   /* groups are "[name NAME]", any number of them */
    const PsConffileKey *keys;
    guint n_keys;
} PsConffileSection;

/* Sections some portsurge program reads ("webhook" stands for [webhook NAME]); a file with any
 * other is refused by every program, so a typo in a group name is never silently ignored. */
extern const char *const ps_conffile_known_groups[];

typedef struct PsConffile PsConffile;

/* Reads path and checks its syntax: every line a comment, a [group] or key = value, no key
 * outside a group and none twice in a group. NULL with error (FILE:LINE: ...) otherwise. */
PsConffile *ps_conffile_load(const char *path, GError **error);
/* The same for text already in memory (length bytes; it stops at a NUL); name stands for the
 * path in messages. */
PsConffile *ps_conffile_load_data(const char *name, const char *contents, gsize length,
                                  GError **error);
void ps_conffile_free(PsConffile *file);
const char *ps_conffile_path(const PsConffile *file);

/* FALSE naming the first group (FILE:LINE) that is not in known (NULL-terminated; an entry
 * "webhook" also accepts "[webhook NAME]"). Pass ps_conffile_known_groups. */
gboolean ps_conffile_check_groups(const PsConffile *file, const char *const *known, GError **error);

/* The groups of a named section present in the file, in file order: "webhook slack", ...;
 * free with g_strfreev(). */
gchar **ps_conffile_groups(const PsConffile *file, const char *name);

/* Sets every key of section in target to its default (target's fields must be clear). */
void ps_conffile_defaults(const PsConffileSection *section, gpointer target);

/* Reads group (section->name, or "webhook NAME" for a named section) of file into target,
 * then the keys' environment variables. A missing group leaves target as it was. FALSE at
 * the first unknown key or bad value; target may then hold some of the file's values. */
gboolean ps_conffile_apply(const PsConffile *file, const PsConffileSection *section,
                           const char *group, gpointer target, GError **error);

/* Sets one key from text, as the file would; origin names where it came from in the error
 * ("--bucket", "PS_REDIS_PASSWORD", "portsurge.conf:12: [collector] bucket"). A list value
 * replaces the list unless append. */
gboolean ps_conffile_set(const PsConffileKey *key, gpointer target, const char *text,
                         gboolean append, const char *origin, GError **error);

/* Frees the strings and lists that section's keys hold in target, and clears them. */
void ps_conffile_clear(const PsConffileSection *section, gpointer target);

/* TRUE when key has the same value in a and b. */
gboolean ps_conffile_equal(const PsConffileKey *key, gconstpointer a, gconstpointer b);

/* Replaces key's value in dst by a copy of src's (a reload keeps what needs a restart). */
void ps_conffile_copy(const PsConffileKey *key, gpointer dst, gconstpointer src);

/* The value as the file would write it, for messages ("60", "10.0.0.0/8, 192.0.2.0/24");
 * "(secret)" for secrets, "(none)" when unset. */
gchar *ps_conffile_format(const PsConffileKey *key, gconstpointer target);

/* ---- the command line ---- */

typedef struct PsConffileOptions PsConffileOptions;

/* Options for every key of sections (NULL-terminated) without PS_CONFFILE_NO_OPTION. */
PsConffileOptions *ps_conffile_options_new(const PsConffileSection *const *sections);
void ps_conffile_options_free(PsConffileOptions *options);

/* The main group of a GOptionContext: the program's own entries (first, may be NULL), then
 * the config options, so --help lists them all in one list. Give it to
 * g_option_context_set_main_group(). The group records what was given; options keeps the
 * strings the group points to, so it must outlive the context. */
GOptionGroup *ps_conffile_options_group(PsConffileOptions *options,
                                        const GOptionEntry *program_entries);

/* Applies what the command line gave for section's keys to target, through the same checks
 * as the file. Call after ps_conffile_apply(), again after every reload. */
gboolean ps_conffile_options_apply(const PsConffileOptions *options,
                                   const PsConffileSection *section, gpointer target,
                                   GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsConffile, ps_conffile_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PsConffileOptions, ps_conffile_options_free)
