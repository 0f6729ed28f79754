#include "config.h"

#include "keys.h"
#include "new_sources.h"

#define HEADER_ARGS 12 /* EVAL script numkeys KEYS[1..3] ARGV[1..6] */

/* KEYS[1] ps:seen:<series>, KEYS[2] ps:seen-since, KEYS[3] the bucket hash;
 * ARGV[1] series, ARGV[2] bucket start, ARGV[3] horizon, ARGV[4] seen set cap,
 * ARGV[5] seen set expiry, ARGV[6] field "<series>:nnew", ARGV[7..] the bucket's sources.
 *
 * A source is new when the set has no score for it or its score (the start of the last
 * bucket it was seen in) is at or before start - horizon. Atomic, so collectors sharing the
 * series count a source once: the first adds it with score start, the next one sees a score
 * after start - horizon. The same holds for this script run again for the same bucket (a
 * retried write): its sources are in the set by then, so it adds 0 new.
 *
 * A missing set (never tracked, expired after an outage longer than the horizon, deleted)
 * would make every source look new: tracking restarts at this bucket instead (ps:seen-since),
 * and the count is written only once tracking began at least a horizon before the bucket,
 * always then, 0 included (HINCRBY by 0 creates the field): present means valid.
 *
 * ZMSCORE and ZADD GT need Redis 6.2. ZADD GT keeps the newest score when collectors close
 * buckets out of order. Sources go 500 at a time through unpack(), whose arguments Lua keeps
 * on its C stack (at most 8000). */
static const char script[] =
    "local start = tonumber(ARGV[2]) "
    "local old = start - tonumber(ARGV[3]) "
    "local since = tonumber(redis.call('HGET', KEYS[2], ARGV[1])) "
    "if since == nil or redis.call('EXISTS', KEYS[1]) == 0 then "
    "  since = start "
    "  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) "
    "end "
    "local new = 0 "
    "for first = 7, #ARGV, 500 do "
    "  local last = math.min(first + 499, #ARGV) "
    "  local scores = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, first, last)) "
    "  local members = {} "
    "  for i = first, last do "
    "    local score = scores[i - first + 1] "
    "    if not score or tonumber(score) <= old then new = new + 1 end "
    "    members[#members + 1] = ARGV[2] "
    "    members[#members + 1] = ARGV[i] "
    "  end "
    "  redis.call('ZADD', KEYS[1], 'GT', unpack(members)) "
    "end "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', old) "
    "local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4]) "
    "if excess > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1) end "
    "redis.call('EXPIRE', KEYS[1], ARGV[5]) "
    "if since <= old then redis.call('HINCRBY', KEYS[3], ARGV[6], new) end "
    "return new";

void
ps_new_sources_append(PsRedisPipeline *pipeline, const PsNewSourcesConfig *config, guint step,
                      gint64 start, const char *series, const GArray *sources)
{
    g_autofree gchar *seen = ps_key_seen(config->prefix, series);
    g_autofree gchar *since = ps_key_seen_since(config->prefix);
    g_autofree gchar *bucket = ps_key_bucket(config->prefix, step, start);
    g_autofree gchar *field = ps_field(series, "nnew");
    g_autofree gchar *start_text = g_strdup_printf("%" G_GINT64_FORMAT, start);
    g_autofree gchar *horizon = g_strdup_printf("%u", config->horizon_s);
    g_autofree gchar *cap = g_strdup_printf("%u", config->max_members);
    /* two buckets beyond the horizon: the set outlives a bucket or two closed late */
    g_autofree gchar *expiry = g_strdup_printf("%u", config->horizon_s + 2 * step);
    /* addresses as text, as in the top-sources sets: one block, PS_ADDRESS_STRLEN apart */
    g_autofree char *text = g_malloc((gsize)sources->len * PS_ADDRESS_STRLEN + 1);
    g_autofree const char **argv = g_new(const char *, HEADER_ARGS + sources->len);
    const char *header[HEADER_ARGS] = {"EVAL", script,     "3",     seen, since,  bucket,
                                       series, start_text, horizon, cap,  expiry, field};
    guint argc = 0;

    for (guint i = 0; i < HEADER_ARGS; i++)
        argv[argc++] = header[i];
    for (guint i = 0; i < sources->len; i++) {
        char *address = text + (gsize)i * PS_ADDRESS_STRLEN;
        ps_address_to_string(&g_array_index(sources, PsAddress, i), address);
        argv[argc++] = address;
    }
    ps_redis_pipeline_append(pipeline, argc, argv, NULL);
}
