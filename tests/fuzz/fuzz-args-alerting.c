/* fuzz-args, the alerter's half: receiver formats and severities (alerting/receiver.c), and
 * the metric and series values of the portsurge CLI (alerting/cli/options.c). */
#include "config.h"

#include "cli.h"
#include "fuzz-args.h"
#include "receiver.h"

/* Whatever the checks read goes here, so the compiler cannot drop the reads. */
static volatile guint64 fuzz_checksum;

void
ps_fuzz_args_receiver_format(const char *text)
{
    PsReceiverFormat format;

    if (ps_receiver_format_parse(text, &format))
        g_assert_cmpstr(ps_receiver_format_name(format), !=, "?");
}

void
ps_fuzz_args_receiver_severity(const char *text)
{
    PsSeverity severity;

    if (ps_receiver_severity_parse(text, &severity))
        g_assert_cmpstr(ps_severity_name(severity), ==, text);
}

void
ps_fuzz_args_cli_metric(const char *text)
{
    PsMetric metric;

    if (ps_cli_metric_parse(text, &metric, NULL))
        g_assert_cmpstr(ps_metric_name(metric), ==, text);
}

void
ps_fuzz_args_cli_series(const char *text)
{
    fuzz_checksum += ps_cli_series_check(text, NULL);
}
