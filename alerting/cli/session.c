/* Opening Redis for reading, checking that it holds a schema this tool knows, and saying what
 * it holds when a range turns out empty. */
#include "config.h"

#include "bucket.h"
#include "cli.h"
#include "keys.h"

/* ps:schema names the layout; absent means no collector has flushed yet (or the data was
 * seeded by hand), which reads like version 1. */
static gboolean
check_schema(PsCli *cli, GError **error)
{
    g_autofree gchar *key = ps_key_schema(cli->query.prefix);
    const char *argv[] = {"GET", key};
    g_autoptr(redisReply) reply = redisCommandArgv(cli->redis, 2, argv, NULL);

    if (reply == NULL) {
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_REDIS, "reading %s: %s", key,
                    cli->redis->errstr);
        return FALSE;
    }
    if (reply->type == REDIS_REPLY_STRING && !g_str_equal(reply->str, PS_SCHEMA_VERSION)) {
        g_autofree gchar *where = ps_redis_address_describe(&cli->address);
        g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_SCHEMA,
                    "%s holds schema version %s (%s); this portsurge %s reads version %s only",
                    where, reply->str, key, PS_VERSION, PS_SCHEMA_VERSION);
        return FALSE;
    }
    return TRUE;
}

gboolean
ps_cli_open(PsCli *cli, GError **error)
{
    const char *url = cli->redis_url != NULL ? cli->redis_url : PS_CLI_DEFAULT_REDIS;

    if (!ps_redis_address_parse(url, &cli->address, error))
        return FALSE;
    cli->redis = ps_redis_connect(&cli->address, PS_CLI_TIMEOUT_MS, error);
    if (cli->redis == NULL)
        return FALSE;
    cli->query.redis = cli->redis;
    cli->query.prefix = cli->prefix != NULL ? cli->prefix : PS_KEYS_DEFAULT_PREFIX;
    cli->query.step = (guint)cli->bucket;
    return check_schema(cli, error);
}

void
ps_cli_clear(PsCli *cli)
{
    g_clear_pointer(&cli->redis, redisFree);
    ps_redis_address_clear(&cli->address);
    g_clear_pointer(&cli->redis_url, g_free);
    g_clear_pointer(&cli->prefix, g_free);
    g_clear_pointer(&cli->format_name, g_free);
}

/* "minute buckets 2023-11-07T00:00:00Z .. 2023-11-14T23:59:00Z" or "no minute buckets". */
static void
append_extent(const PsCli *cli, guint step, const char *what, GString *out)
{
    gint64 oldest = 0, newest = 0;
    g_autofree gchar *from = NULL, *to = NULL;

    if (!ps_query_extent(&cli->query, step, &oldest, &newest, NULL) || newest == 0) {
        g_string_append_printf(out, "no %s", what);
        return;
    }
    from = ps_cli_format_time(cli, oldest);
    to = ps_cli_format_time(cli, newest);
    g_string_append_printf(out, "%s from %s to %s", what, from, to);
}

void
ps_cli_set_no_data(const PsCli *cli, gint64 since, gint64 until, GError **error)
{
    g_autofree gchar *from = ps_cli_format_time(cli, since);
    g_autofree gchar *to = ps_cli_format_time(cli, until);
    g_autoptr(GString) held = g_string_new(NULL);

    append_extent(cli, cli->query.step, "minute buckets", held);
    g_string_append(held, ", ");
    append_extent(cli, PS_BUCKET_HOUR, "hourly roll-ups", held);
    g_set_error(error, PS_CLI_ERROR, PS_CLI_ERROR_NO_DATA, "no data from %s to %s; Redis holds %s",
                from, to, held->str);
}
