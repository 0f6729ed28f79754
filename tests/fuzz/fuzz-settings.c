/* libFuzzer target: a portsurge.conf as the collector reads it at start and on SIGHUP,
 * through ps_settings_load() (collector/settings.c): the line scan and groups of conffile.c,
 * every [collector] and [redis] key with its range and check (listen and metrics addresses,
 * networks, ports, bucket length, log level, Redis URL). The input is the file (an in-memory
 * file: fuzz-util.h). What the load accepts must then work where the collector uses it: each
 * address and network parses again, the aggregation config is built, and a reload against
 * the defaults keeps what needs a restart. Refused or accepted, never a crash or a leak. */
#include "config.h"

#include "fuzz-util.h"
#include "logging.h"
#include "metrics.h"
#include "settings.h"
#include "socket.h"

static void
fuzz_check_accepted(const PsCollectorSettings *settings)
{
    PsAddress address;
    guint16 port;
    PsNetwork network;
    PsLogLevel level;

    for (guint i = 0; settings->listen != NULL && settings->listen[i] != NULL; i++)
        g_assert(ps_socket_parse_listen(settings->listen[i], &address, &port, NULL));
    for (guint i = 0; settings->allow != NULL && settings->allow[i] != NULL; i++)
        g_assert(ps_network_parse(settings->allow[i], &network, NULL));
    for (guint i = 0; settings->home_networks != NULL && settings->home_networks[i] != NULL; i++)
        g_assert(ps_network_parse(settings->home_networks[i], &network, NULL));
    g_assert(settings->metrics == NULL || ps_metrics_parse_listen(settings->metrics, NULL));
    /* as the collector applies it: a level, or NULL (the key left empty) for its default */
    g_assert(ps_logging_parse_level(settings->log_level, &level) || settings->log_level == NULL);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    g_autoptr(PsConffileOptions) options = ps_settings_options_new();
    g_autoptr(PsCollectorSettings) settings = NULL;
    g_autoptr(PsCollectorSettings) running = NULL;
    g_autoptr(GArray) networks = g_array_new(FALSE, FALSE, sizeof(PsNetwork));
    g_autoptr(GArray) ports = g_array_new(FALSE, FALSE, sizeof(guint16));
    PsAggregateConfig config;
    guint n_home;
    const char *path = ps_fuzz_util_file(data, size);

    ps_fuzz_util_quiet_logs();
    settings = ps_settings_load(path, options, FALSE, NULL);
    if (settings == NULL)
        return 0;
    fuzz_check_accepted(settings);
    ps_settings_aggregate_config(settings, &config, networks, ports);
    n_home = settings->home_networks != NULL ? g_strv_length(settings->home_networks) : 0;
    g_assert_cmpuint(config.n_home_networks, ==, n_home);
    running = ps_settings_load(NULL, options, FALSE, NULL);
    g_assert(running != NULL);
    ps_settings_keep_restart_keys(settings, running);
    return 0;
}
