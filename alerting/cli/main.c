/* portsurge: read-only questions to the Redis that portsurge-collector fills. main() picks the
 * command, runs it and turns its error into a message and an exit status. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "keys.h"

typedef struct {
    const char *name;
    PsCliCommandFn run;
    const char *summary;
} Command;

static const Command commands[] = {
    {"top", ps_cli_top, "the busiest ports of a window, and the biggest movers"},
    {"series", ps_cli_series, "the history of ports, with their baseline and a sparkline"},
    {"plot", ps_cli_plot, "a chart of ports with baseline band and alerts (SVG or PNG)"},
    {"alerts", ps_cli_alerts, "alert history from the ps:alerts stream"},
    {"exporters", ps_cli_exporters, "health of every exporter"},
    {"status", ps_cli_status, "collectors, alerter, Redis and the data held"},
};

static void
print_usage(FILE *out)
{
    fprintf(out, "Usage: portsurge COMMAND [OPTION...]\n\nCommands:\n");
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nportsurge COMMAND --help shows its options. Exit status: 0 ok, 1 failed, "
                 "2 usage, 3 Redis, 4 no data, 5 unknown schema.\n");
}

/* Other domains' errors as exit statuses: bad options are usage, Redis failures are Redis. */
static int
exit_status(const GError *error)
{
    if (error->domain == PS_CLI_ERROR)
        return error->code;
    if (error->domain == G_OPTION_ERROR)
        return PS_CLI_ERROR_USAGE;
    if (error->domain == PS_REDIS_ERROR)
        return error->code == PS_REDIS_ERROR_ADDRESS ? PS_CLI_ERROR_USAGE : PS_CLI_ERROR_REDIS;
    return PS_CLI_ERROR_FAILED;
}

static const Command *
find_command(const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
        if (g_str_equal(name, commands[i].name))
            return &commands[i];
    return NULL;
}

int
main(int argc, char **argv)
{
    PsCli cli = {0};
    g_autoptr(GError) error = NULL;
    const Command *command;
    int status = EXIT_SUCCESS;

    /* hiredis writes with write(2): a Redis that went away must be an error, not SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h")) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? PS_CLI_ERROR_USAGE : EXIT_SUCCESS;
    }
    if (g_str_equal(argv[1], "--version")) {
        printf("portsurge %s (Redis schema %s)\n", PS_VERSION, PS_SCHEMA_VERSION);
        return EXIT_SUCCESS;
    }
    command = find_command(argv[1]);
    if (command == NULL) {
        fprintf(stderr, "portsurge: unknown command '%s'\n\n", argv[1]);
        print_usage(stderr);
        return PS_CLI_ERROR_USAGE;
    }
    {
        /* --help then says "portsurge series", not "series" */
        g_autofree gchar *prgname = g_strdup_printf("portsurge %s", command->name);
        g_set_prgname(prgname);
    }
    cli.now = g_get_real_time() / G_USEC_PER_SEC;
    if (!command->run(&cli, argc - 1, argv + 1, &error)) {
        fprintf(stderr, "portsurge %s: %s\n", command->name, error->message);
        status = exit_status(error);
    }
    ps_cli_clear(&cli);
    return status;
}
