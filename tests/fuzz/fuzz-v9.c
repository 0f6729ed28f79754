/* libFuzzer target: one NetFlow v9 datagram, optionally after the built-in v9 template packet
 * (top bit of the first byte; see fuzz-common.h) so that data flowsets reach libfixbuf. */
#include "config.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    ps_fuzz_common_run(data, size, TRUE, PS_FUZZ_TEMPLATE_V9);
    return 0;
}
