/* fuzz_raw.c - libFuzzer target for ax_parse_raw. First byte: format (2 bits),
 * endianness, and whether to tile the rest up to the exact table size (so
 * the decoding loop runs, not only the size check). */
#include "autoapprox/mult.h"
#include "fuzz_common.h"

static const ax_import_format formats[4] = {AX_FMT_RAW_I32, AX_FMT_RAW_I16, AX_FMT_RAW_U16, AX_FMT_CSV};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int64_t table[AX_TABLE_SIZE];
    if (size < 1) return 0;
    ax_import_format f = formats[data[0] & 3];
    bool big = data[0] & 4, tile = (data[0] & 8) && size > 1;
    size_t len = tile ? (f == AX_FMT_RAW_I32 ? 4u : 2u) * AX_TABLE_SIZE : size - 1;
    uint8_t *buf = tile ? malloc(len) : fuzz_copy(data + 1, size - 1);
    if (!buf) return 0;
    for (size_t i = 0; tile && i < len; i++) buf[i] = data[1 + i % (size - 1)];
    ax_error err;
    ax_parse_raw(buf, len, f, big, table, "fuzz.bin", &err);
    free(buf);
    return 0;
}
