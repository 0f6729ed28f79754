/* libFuzzer target: one NetFlow v5 datagram (or anything else: the dispatcher picks the
 * decoder from the version field, so mutations that change it reach the other paths too). */
#include "config.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    ps_fuzz_common_run(data, size, FALSE, PS_FUZZ_TEMPLATE_V9);
    return 0;
}
