/* fuzz_npy.c - libFuzzer target for ax_parse_npy. First byte odd: the rest
 * is a header and the harness pads the data to the size it announces for a
 * 65536-element table, so element decoding and transposition run too. */
#include "autoapprox/mult.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int64_t table[AX_TABLE_SIZE];
    if (size < 1) return 0;
    bool pad = data[0] & 1;
    size_t item = 1u << ((data[0] >> 1) & 3); /* 1, 2, 4 or 8 bytes */
    size_t len = size - 1 + (pad ? item * AX_TABLE_SIZE : 0);
    uint8_t *buf = calloc(1, len ? len : 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    bool is_signed;
    ax_error err;
    ax_parse_npy(buf, len, table, &is_signed, "fuzz.npy", &err);
    free(buf);
    return 0;
}
