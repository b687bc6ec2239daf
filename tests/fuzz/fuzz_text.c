/* fuzz_text.c - libFuzzer target for ax_parse_text_matrix (256x256 numbers). */
#include "autoapprox/mult.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int64_t table[AX_TABLE_SIZE];
    char *text = (char *)fuzz_copy(data, size); /* not NUL-terminated */
    if (!text) return 0;
    ax_error err;
    ax_parse_text_matrix(text, size, table, "fuzz.txt", &err);
    free(text);
    return 0;
}
