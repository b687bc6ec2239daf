/* fuzz_csv.c - libFuzzer target for ax_parse_csv ("a,w,product" rows). */
#include "autoapprox/mult.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int64_t table[AX_TABLE_SIZE];
    char *text = (char *)fuzz_copy(data, size); /* not NUL-terminated */
    if (!text) return 0;
    bool neg;
    ax_error err;
    ax_parse_csv(text, size, table, &neg, "fuzz.csv", &err);
    free(text);
    return 0;
}
