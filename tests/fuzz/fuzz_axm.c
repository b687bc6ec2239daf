/* fuzz_axm.c - libFuzzer target for the .axm reader (ax_mult_decode_axm).
 * First byte odd: the rest is taken as header + metadata, and the harness
 * appends a table and a valid CRC, so the metadata parser is reached. */
#include "autoapprox/mult.h"
#include "fuzz_common.h"

#include <zlib.h>

#define TABLE_BYTES (4u * AX_TABLE_SIZE)

/* header+metadata from the input, then a zero table and the right CRC */
static uint8_t *complete(const uint8_t *data, size_t size, size_t *len)
{
    if (size < 16 || size > 16 + 65536) return NULL;
    *len = size + TABLE_BYTES + 4;
    uint8_t *b = calloc(1, *len);
    if (!b) return NULL;
    memcpy(b, data, size);
    uint32_t ml = (uint32_t)(size - 16);
    for (int i = 0; i < 4; i++) b[12 + i] = (uint8_t)(ml >> (8 * i));
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(*len - 4));
    for (int i = 0; i < 4; i++) b[*len - 4 + i] = (uint8_t)(crc >> (8 * i));
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool fix = data[0] & 1;
    size_t len = size - 1;
    uint8_t *buf = fix ? complete(data + 1, size - 1, &len) : fuzz_copy(data + 1, size - 1);
    if (!buf) return 0;
    ax_mult *m = NULL;
    ax_error err;
    if (ax_mult_decode_axm(buf, len, "fuzz.axm", &m, &err) == 0) {
        size_t out_len;
        uint8_t *again = ax_mult_encode_axm(m, &out_len, &err); /* what we read, we can write */
        free(again);
        ax_mult_free(m);
    }
    free(buf);
    return 0;
}
