/* The portsurge command line tool: shared state of one invocation and the commands.
 *
 * main.c picks the command from argv[1]; each command parses its own options (plus the common
 * ones, ps_cli_add_common_options), opens Redis read-only with ps_cli_open, asks query.c and
 * prints through output.c. A command returns FALSE with an error whose code is the exit
 * status (PsCliError); errors of other domains map to exit statuses in main.c. */
#pragma once

#include <hiredis/hiredis.h>

#include "baseline.h"
#include "query.h"
#include "redis.h"

#define PS_CLI_ERROR ps_cli_error_quark()
GQuark ps_cli_error_quark(void);

/* The codes are the exit statuses. */
typedef enum {
    PS_CLI_ERROR_FAILED = 1,  /* anything else: a file that cannot be written */
    PS_CLI_ERROR_USAGE = 2,   /* bad option, port or time */
    PS_CLI_ERROR_REDIS = 3,   /* Redis unreachable or failing */
    PS_CLI_ERROR_NO_DATA = 4, /* nothing held for the range asked */
    PS_CLI_ERROR_SCHEMA = 5,  /* Redis holds a schema version this tool does not know */
} PsCliError;

typedef enum {
    PS_CLI_FORMAT_TABLE,
    PS_CLI_FORMAT_CSV,
    PS_CLI_FORMAT_JSON,
} PsCliFormat;

#define PS_CLI_DEFAULT_REDIS "redis://127.0.0.1:6379/0"
#define PS_CLI_TIMEOUT_MS    5000

typedef struct {
    /* common options */
    gchar *redis_url;
    gchar *prefix;
    gchar *format_name;
    gboolean local;
    gint bucket;
    /* derived */
    PsCliFormat format;
    gint64 now;
    PsRedisAddress address;
    redisContext *redis;
    PsQuery query;
} PsCli;

/* Adds --redis, --prefix, --format, --local and --bucket to a command's context. */
void ps_cli_add_common_options(GOptionContext *context, PsCli *cli);

/* Parses a command's options (argv[0] is the command); TRUE when it should go on. */
gboolean ps_cli_parse(PsCli *cli, GOptionContext *context, int *argc, char ***argv, GError **error);

/* Connects to Redis and checks the schema version it holds. */
gboolean ps_cli_open(PsCli *cli, GError **error);

void ps_cli_clear(PsCli *cli);

/* A time option (NULL: fallback) as Unix seconds; errors name the option. */
gboolean ps_cli_time_option(const PsCli *cli, const char *option, const char *text, gint64 fallback,
                            gint64 *time, GError **error);
/* A duration option (NULL: fallback) in seconds. */
gboolean ps_cli_duration_option(const char *option, const char *text, gint64 fallback,
                                gint64 *seconds, GError **error);
/* "tcp/445" or "tcp/445@in": a series this tool can ask for. */
gboolean ps_cli_series_check(const char *series, GError **error);
/* --metric / --by names: sources, dests, flows, syn, packets, bytes. */
gboolean ps_cli_metric_parse(const char *text, PsMetric *metric, GError **error);

/* "2023-11-14T21:01:00Z" (UTC) or with the local offset (--local). */
gchar *ps_cli_format_time(const PsCli *cli, gint64 time);

/* The no-data error: names the range asked and the ranges held. */
void ps_cli_set_no_data(const PsCli *cli, gint64 since, gint64 until, GError **error);

typedef gboolean (*PsCliCommandFn)(PsCli *cli, int argc, char **argv, GError **error);

gboolean ps_cli_top(PsCli *cli, int argc, char **argv, GError **error);
gboolean ps_cli_series(PsCli *cli, int argc, char **argv, GError **error);
gboolean ps_cli_plot(PsCli *cli, int argc, char **argv, GError **error);
gboolean ps_cli_alerts(PsCli *cli, int argc, char **argv, GError **error);
gboolean ps_cli_exporters(PsCli *cli, int argc, char **argv, GError **error);
gboolean ps_cli_status(PsCli *cli, int argc, char **argv, GError **error);
