/* fuzz_c_header.c - libFuzzer target for everything that reads C source:
 * the [256][256] initializer parser, the c-model function finder and the
 * EvoApproxLib hardware-comment reader (no compiling here). */
#include "autoapprox/mult.h"
#include "fuzz_common.h"
#include "lut/import_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int64_t table[AX_TABLE_SIZE];
    char *text = (char *)fuzz_copy(data, size); /* not NUL-terminated */
    if (!text) return 0;
    bool is_signed;
    ax_error err;
    ax_parse_c_header(text, size, table, &is_signed, "fuzz.h", &err);
    (void)ax_c_has_table_initializer(text, size);
    ax_cmodel_fn fn;
    int n;
    ax_cmodel_find(text, size, NULL, &fn, &n, "fuzz.c", &err);
    ax_cmodel_find(text, size, "mul8s_1KV8", &fn, &n, "fuzz.c", &err);
    ax_hw_figures hw;
    ax_cmodel_hw_figures(text, size, &hw);
    free(text);
    return 0;
}
