/* fuzz_onnx.c - libFuzzer target for ax_nn_decode_onnx (protobuf parse,
 * then the whole import: initializers, shapes, every op handler). */
#include "autoapprox/nn.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_copy(data, size);
    if (!buf) return 0;
    ax_nn_model *m;
    ax_error err;
    if (ax_nn_decode_onnx(buf, size, "fuzz.onnx", &m, &err) == 0) ax_nn_free(m);
    free(buf);
    return 0;
}
