#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "redis_config.h"

static gboolean
check_url(const char *value, GError **error)
{
    PsRedisAddress address;

    if (!ps_redis_address_parse(value, &address, error))
        return FALSE;
    ps_redis_address_clear(&address);
    return TRUE;
}

static const PsConffileKey redis_keys[] = {
    {"url", PS_CONFFILE_STRING, G_STRUCT_OFFSET(PsRedisConfig, url), NULL, 0, 0, 0, "redis", "URL",
     "Redis to write to: redis://[user:password@]host:port/db or a unix socket path "
     "(default: none, records are only decoded)",
     NULL, check_url},
    {"user", PS_CONFFILE_STRING, G_STRUCT_OFFSET(PsRedisConfig, user), NULL, 0, 0, 0, "redis-user",
     "NAME", "Redis ACL user for AUTH user password (default: the URL's, or none)", NULL, NULL},
    {"password", PS_CONFFILE_STRING, G_STRUCT_OFFSET(PsRedisConfig, password), NULL, 0, 0,
     PS_CONFFILE_NO_OPTION | PS_CONFFILE_SECRET, NULL, NULL, "Redis password", "PS_REDIS_PASSWORD",
     NULL},
    {"password_file", PS_CONFFILE_STRING, G_STRUCT_OFFSET(PsRedisConfig, password_file), NULL, 0, 0,
     0, "redis-password-file", "FILE",
     "File whose first line is the Redis password, a docker or systemd secret "
     "(default: none)",
     "PS_REDIS_PASSWORD_FILE", NULL},
    {"prefix", PS_CONFFILE_STRING, G_STRUCT_OFFSET(PsRedisConfig, prefix), "ps:", 0, 0, 0, "prefix",
     "PREFIX", "Redis key prefix", NULL, NULL},
};

const PsConffileSection ps_redis_config_section = {"redis", FALSE, redis_keys,
                                                   G_N_ELEMENTS(redis_keys)};

/* The first line of path; warns when others may read it. */
static gchar *
read_password_file(const char *path, GError **error)
{
    g_autofree gchar *contents = NULL;
    GStatBuf status;

    if (!g_file_get_contents(path, &contents, NULL, error)) {
        g_prefix_error(error, "[redis] password_file: ");
        return NULL;
    }
    if (g_stat(path, &status) == 0 && (status.st_mode & 0077) != 0)
        g_warning("[redis] password_file %s can be read by other users: chmod 600 it", path);
    contents[strcspn(contents, "\r\n")] = '\0';
    return g_steal_pointer(&contents);
}

gboolean
ps_redis_config_address(const PsRedisConfig *config, PsRedisAddress *address, GError **error)
{
    g_autofree gchar *from_file = NULL;

    if (config->url == NULL) {
        g_set_error(error, PS_REDIS_ERROR, PS_REDIS_ERROR_ADDRESS,
                    "no Redis: set [redis] url or --redis");
        return FALSE;
    }
    if (config->password_file != NULL) {
        from_file = read_password_file(config->password_file, error);
        if (from_file == NULL)
            return FALSE;
    }
    if (!ps_redis_address_parse(config->url, address, error))
        return FALSE;
    if (config->user != NULL) {
        g_free(address->user);
        address->user = g_strdup(config->user);
    }
    if (from_file != NULL || config->password != NULL) {
        g_free(address->password);
        address->password = g_strdup(from_file != NULL ? from_file : config->password);
    }
    return TRUE;
}
