/* fuzz-args: the alerter's parsers, in fuzz-args-alerting.c (see fuzz-args.c for why). Each
 * takes the input's text and checks what it accepted. */
#pragma once

void ps_fuzz_args_receiver_format(const char *text);
void ps_fuzz_args_receiver_severity(const char *text);
void ps_fuzz_args_cli_metric(const char *text);
void ps_fuzz_args_cli_series(const char *text);
