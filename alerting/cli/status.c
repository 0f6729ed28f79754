/* portsurge status: is everything alive? Redis and its schema version, every collector's
 * heartbeat (ps:collector:<id>), the alerter's (ps:alerter), and the oldest and newest bucket
 * held at each resolution. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bucket.h"
#include "hashes.h"
#include "keys.h"
#include "output.h"

/* INFO server's redis_version, or NULL. */
static gchar *
redis_version(redisContext *redis)
{
    const char *argv[] = {"INFO", "server"};
    g_autoptr(redisReply) reply = redisCommandArgv(redis, 2, argv, NULL);
    const char *line;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING)
        return NULL;
    line = strstr(reply->str, "redis_version:");
    if (line == NULL)
        return NULL;
    line += strlen("redis_version:");
    return g_strndup(line, strcspn(line, "\r\n"));
}

static gchar *
get_string(redisContext *redis, const char *key)
{
    const char *argv[] = {"GET", key};
    g_autoptr(redisReply) reply = redisCommandArgv(redis, 2, argv, NULL);

    return reply != NULL && reply->type == REDIS_REPLY_STRING ? g_strdup(reply->str) : NULL;
}

static void
add_row(PsOutput *output, const PsCli *cli, const char *component, const char *name,
        const char *version, gint64 last_seen, const char *detail)
{
    ps_output_row(output);
    ps_output_text(output, component);
    ps_output_text(output, name);
    if (version != NULL)
        ps_output_text(output, version);
    else
        ps_output_empty(output);
    if (last_seen > 0) {
        ps_output_time(output, last_seen);
        ps_output_number(output, (double)(cli->now - last_seen), 0);
    } else {
        ps_output_empty(output);
        ps_output_empty(output);
    }
    ps_output_text(output, detail);
}

static void
add_redis(PsOutput *output, const PsCli *cli)
{
    g_autofree gchar *where = ps_redis_address_describe(&cli->address);
    g_autofree gchar *version = redis_version(cli->redis);
    g_autofree gchar *key = ps_key_schema(cli->query.prefix);
    g_autofree gchar *schema = get_string(cli->redis, key);
    g_autofree gchar *detail =
        schema != NULL ? g_strdup_printf("schema %s, prefix %s", schema, cli->query.prefix)
                       : g_strdup_printf("no schema written yet, prefix %s", cli->query.prefix);

    add_row(output, cli, "redis", where, version, 0, detail);
}

static gboolean
add_collectors(PsOutput *output, const PsCli *cli, GError **error)
{
    g_autofree gchar *pattern = ps_key_collector(cli->query.prefix, "*");
    g_autoptr(GPtrArray) keys = ps_hashes_scan(cli->redis, pattern, error);
    g_autoptr(GPtrArray) hashes = keys != NULL ? ps_hashes_read(cli->redis, keys, error) : NULL;
    gsize prefix_len = strlen(pattern) - 1;

    if (hashes == NULL)
        return FALSE;
    for (guint i = 0; i < hashes->len; i++) {
        GHashTable *hash = g_ptr_array_index(hashes, i);
        g_autofree gchar *started = ps_cli_format_time(cli, ps_hashes_number(hash, "started"));
        g_autofree gchar *closed =
            ps_cli_format_time(cli, ps_hashes_number(hash, "last_closed_bucket"));
        g_autofree gchar *detail =
            g_strdup_printf("started %s, last closed bucket %s", started, closed);
        add_row(output, cli, "collector", (const char *)g_ptr_array_index(keys, i) + prefix_len,
                g_hash_table_lookup(hash, "version"), ps_hashes_number(hash, "last_flush"), detail);
    }
    if (hashes->len == 0)
        add_row(output, cli, "collector", "-", NULL, 0, "no heartbeat in the last day");
    return TRUE;
}

static gboolean
add_alerter(PsOutput *output, const PsCli *cli, GError **error)
{
    g_autofree gchar *key = g_strdup_printf("%salerter", cli->query.prefix);
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    g_autoptr(GPtrArray) hashes = NULL;
    GHashTable *hash;
    g_autofree gchar *detail = NULL, *last = NULL;

    g_ptr_array_add(keys, key);
    hashes = ps_hashes_read(cli->redis, keys, error);
    if (hashes == NULL)
        return FALSE;
    hash = g_ptr_array_index(hashes, 0);
    if (g_hash_table_size(hash) == 0) {
        add_row(output, cli, "alerter", "-", NULL, 0, "has never run on this Redis");
        return TRUE;
    }
    last = ps_cli_format_time(cli, ps_hashes_number(hash, "last_bucket"));
    detail = g_strdup_printf("last bucket evaluated %s", last);
    add_row(output, cli, "alerter", key, g_hash_table_lookup(hash, "version"),
            ps_hashes_number(hash, "heartbeat"), detail);
    return TRUE;
}

static gboolean
add_extent(PsOutput *output, const PsCli *cli, guint step, const char *what, GError **error)
{
    gint64 oldest, newest;
    g_autofree gchar *from = NULL, *detail = NULL;

    if (!ps_query_extent(&cli->query, step, &oldest, &newest, error))
        return FALSE;
    if (newest == 0) {
        add_row(output, cli, "data", what, NULL, 0, "none held");
        return TRUE;
    }
    from = ps_cli_format_time(cli, oldest);
    detail = g_strdup_printf("oldest %s", from);
    add_row(output, cli, "data", what, NULL, newest, detail);
    return TRUE;
}

gboolean
ps_cli_status(PsCli *cli, int argc, char **argv, GError **error)
{
    g_autoptr(GOptionContext) context =
        g_option_context_new("- collectors, alerter, Redis and the data they hold");
    g_autoptr(PsOutput) output = NULL;

    if (!ps_cli_parse(cli, context, &argc, &argv, error) || !ps_cli_open(cli, error))
        return FALSE;
    output = ps_output_new(cli, (const char *const[]){"component", "name", "version", "last_seen",
                                                      "age_s", "detail", NULL});
    add_redis(output, cli);
    if (!add_collectors(output, cli, error) || !add_alerter(output, cli, error) ||
        !add_extent(output, cli, cli->query.step, "minute buckets", error) ||
        !add_extent(output, cli, PS_BUCKET_HOUR, "hourly roll-ups", error))
        return FALSE;
    ps_output_print(output, stdout);
    return TRUE;
}
