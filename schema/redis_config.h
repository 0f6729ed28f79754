/* The [redis] section, the same for every program: where Redis is and how to log in.
 *
 * The password may come from the URL, the `password` key, PS_REDIS_PASSWORD, or a file
 * (`password_file`, PS_REDIS_PASSWORD_FILE: a docker or systemd secret), so that it need not
 * sit in a file that many can read or in the process list. */
#pragma once

#include "conffile.h"
#include "redis.h"

typedef struct {
    gchar *url;           /* redis://[user:password@]host:port/db or a unix socket path */
    gchar *user;          /* ACL user; wins over the URL's */
    gchar *password;      /* wins over the URL's */
    gchar *password_file; /* wins over password: its first line */
    gchar *prefix;        /* key prefix, "ps:" */
} PsRedisConfig;

/* The [redis] key table, offsets into PsRedisConfig. */
extern const PsConffileSection ps_redis_config_section;

/* Builds the address to connect to: the URL, then user and the password (password_file read
 * now, so it may be readable by root only and the program drop privileges afterwards).
 * PS_REDIS_PASSWORD, when set, still wins at connect time (redis.c). FALSE with error when the
 * URL is unset or bad or the file cannot be read. */
gboolean ps_redis_config_address(const PsRedisConfig *config, PsRedisAddress *address,
                                 GError **error);
