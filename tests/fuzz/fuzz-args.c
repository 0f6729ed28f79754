/* libFuzzer target: the small parsers of values operators type on a command line or in
 * portsurge.conf. The first byte picks one (see ps_fuzz_util_pick), the rest is its text,
 * NUL-terminated in an allocation of its own length:
 *   r  ps_redis_address_parse()      redis://user:password@host:port/db, unix socket path
 *   d  ps_duration_parse()           90m, 7d
 *   t  ps_time_parse()               now, 12h (ago), ISO 8601, Unix seconds
 *   p  ps_portproto_parse()          tcp/445 (and back through ps_portproto_format())
 *   a  ps_address_parse()            an IPv4 or IPv6 address (and back through its text)
 *   n  ps_network_parse()            10.0.0.0/8 (collector/aggregate.c)
 *   l  ps_socket_parse_listen()      [::]:2055 (collector/socket.c)
 *   m  ps_metrics_parse_listen()     127.0.0.1:9108
 *   v  ps_logging_parse_level()      warning, message, info, debug
 *   f  ps_receiver_format_parse()    slack, teams, ...
 *   s  ps_receiver_severity_parse()  warning, major, critical
 *   c  ps_cli_metric_parse()         sources, dests, ... (alerting/cli/options.c)
 *   e  ps_cli_series_check()         tcp/445@in
 * Accepted or refused, never a crash or a leak; what is accepted must make sense. The
 * alerter's parsers are in fuzz-args-alerting.c: collector/aggregate.h and alerting/format.h
 * both name a type PsTopSource, so one file cannot include both. */
#include "config.h"

#include <string.h>

#include "aggregate.h"
#include "fuzz-args.h"
#include "fuzz-util.h"
#include "logging.h"
#include "metrics.h"
#include "portproto.h"
#include "redis.h"
#include "socket.h"
#include "timearg.h"

#define FUZZ_NOW 1700000000

/* Whatever the checks read goes here, so the compiler cannot drop the reads. */
static volatile guint64 fuzz_checksum;

static void
fuzz_redis_address(const char *text)
{
    PsRedisAddress address;
    g_autofree gchar *described = NULL;

    if (!ps_redis_address_parse(text, &address, NULL))
        return;
    g_assert(address.unix_path != NULL || (address.host != NULL && address.host[0] != '\0'));
    described = ps_redis_address_describe(&address);
    fuzz_checksum += strlen(described);
    ps_redis_address_clear(&address);
}

static void
fuzz_duration(const char *text)
{
    gint64 seconds;

    if (ps_duration_parse(text, &seconds, NULL))
        g_assert_cmpint(seconds, >, 0);
}

static void
fuzz_time(const char *text)
{
    gint64 time;

    if (ps_time_parse(text, FUZZ_NOW, &time, NULL))
        fuzz_checksum += (guint64)time;
}

static void
fuzz_portproto(const char *text)
{
    guint8 proto, again_proto;
    guint16 port, again_port;
    char buf[PS_PORTPROTO_STRLEN];

    if (!ps_portproto_parse(text, &proto, &port, NULL))
        return;
    g_assert(
        ps_portproto_parse(ps_portproto_format(proto, port, buf), &again_proto, &again_port, NULL));
    g_assert_cmpuint(again_proto, ==, proto);
    g_assert_cmpuint(again_port, ==, port);
}

static void
fuzz_address(const char *text)
{
    PsAddress address, again;
    char buf[PS_ADDRESS_STRLEN];

    if (!ps_address_parse(text, &address))
        return;
    g_assert(ps_address_parse(ps_address_to_string(&address, buf), &again));
    g_assert(ps_address_equal(&address, &again));
}

static void
fuzz_network(const char *text)
{
    PsNetwork network;
    PsAddress address = {0};

    if (!ps_network_parse(text, &network, NULL))
        return;
    g_assert(network.prefix_len <= (network.family == 4 ? 32 : 128));
    address.family = network.family;
    memcpy(address.bytes, network.network, sizeof(address.bytes));
    g_assert(ps_network_contains(&network, &address));
}

static void
fuzz_listen(const char *text)
{
    PsAddress address;
    guint16 port;
    char buf[PS_ADDRESS_STRLEN];

    if (!ps_socket_parse_listen(text, &address, &port, NULL))
        return;
    g_assert_cmpuint(port, >, 0);
    fuzz_checksum += strlen(ps_address_to_string(&address, buf));
}

static void
fuzz_metrics_listen(const char *text)
{
    fuzz_checksum += ps_metrics_parse_listen(text, NULL);
}

static void
fuzz_log_level(const char *text)
{
    PsLogLevel level;

    if (ps_logging_parse_level(text, &level))
        g_assert_cmpint(level, <=, PS_LOG_DEBUG);
}

typedef void (*FuzzParseFn)(const char *text);

/* In the order of the letters given to ps_fuzz_util_pick(). */
static const FuzzParseFn parsers[] = {
    fuzz_redis_address,
    fuzz_duration,
    fuzz_time,
    fuzz_portproto,
    fuzz_address,
    fuzz_network,
    fuzz_listen,
    fuzz_metrics_listen,
    fuzz_log_level,
    ps_fuzz_args_receiver_format,
    ps_fuzz_args_receiver_severity,
    ps_fuzz_args_cli_metric,
    ps_fuzz_args_cli_series,
};
#define FUZZ_LETTERS "rdtpanlmvfsce"
G_STATIC_ASSERT(G_N_ELEMENTS(parsers) == sizeof(FUZZ_LETTERS) - 1);

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    gint pick = ps_fuzz_util_pick(data, size, FUZZ_LETTERS);
    g_autofree gchar *text = NULL;

    if (pick < 0)
        return 0;
    ps_fuzz_util_quiet_logs();
    text = ps_fuzz_util_string(data + 1, size - 1);
    parsers[pick](text);
    return 0;
}
