/* libFuzzer target: a portsurge.conf, read as the alerter reads it at start and on SIGHUP:
 * the line scan, GKeyFile, unknown sections, every [alerter], [redis] and [webhook NAME] key
 * with its checks. Refused or accepted, never a crash or a leak. */
#include "config.h"

#include "alerter_config.h"

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PsConffile) file =
        ps_conffile_load_data("fuzz.conf", (const char *)data, size, &error);
    PsAlerterConfiguration configuration;

    if (file != NULL) {
        ps_alerter_configuration_from_file(&configuration, file, NULL, NULL);
        ps_alerter_configuration_clear(&configuration);
    }
    return 0;
}
