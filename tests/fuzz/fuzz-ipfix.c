/* libFuzzer target: one IPFIX message, optionally after the built-in IPFIX template message
 * (top bit of the first byte; see fuzz-common.h) so that data sets reach libfixbuf. */
#include "config.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    ps_fuzz_common_run(data, size, TRUE, PS_FUZZ_TEMPLATE_IPFIX);
    return 0;
}
