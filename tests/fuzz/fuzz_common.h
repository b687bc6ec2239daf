/* fuzz_common.h - what every libFuzzer target shares: an exact-size heap copy
 * of the input, so AddressSanitizer catches any read past its end. */
#ifndef AX_FUZZ_COMMON_H
#define AX_FUZZ_COMMON_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (p && size) memcpy(p, data, size);
    return p;
}
#endif
