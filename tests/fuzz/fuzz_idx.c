/* fuzz_idx.c - libFuzzer target for ax_idx_parse (IDX dataset files). */
#include "autoapprox/data.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_copy(data, size);
    if (!buf) return 0;
    ax_idx idx;
    ax_error err;
    if (ax_idx_parse(buf, size, "fuzz.idx", &idx, &err) == 0) ax_idx_free(&idx);
    free(buf);
    return 0;
}
