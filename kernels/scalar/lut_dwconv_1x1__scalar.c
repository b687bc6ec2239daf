/* lut_dwconv_1x1__scalar.c - the portable depthwise microkernel (see
 * dwconv2d.c and ax_dw_ukernel): for one output channel and tap, the
 * weight's 1 KiB column of the transposed table stays in L1 while a
 * contiguous run of input bytes looks it up; the sums of up to 16 channels
 * are then written into NHWC pixel by pixel. */
#include "kernels/gemm_internal.h"

#include <string.h>

static void run(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t ntaps, size_t n,
                uint32_t *acc)
{
    memset(acc, 0, n * sizeof *acc);
    for (size_t t = 0; t < ntaps; t++) {
        const int32_t *col = p->table_t + w[t] * 256u;
        const uint8_t *x = src[t];
        for (size_t i = 0; i < n; i++) acc[i] += (uint32_t)col[x[i]];
    }
}

static void store(const uint32_t *acc, size_t lda, size_t nch, const uint32_t *corr, size_t rows, size_t ow,
                  size_t ws, uint32_t *Y, size_t ldy, bool accumulate)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t x = 0; x < ow; x++) {
            uint32_t *y = Y + (r * ow + x) * ldy;
            const uint32_t *a = acc + r * ws + x;
            for (size_t j = 0; j < nch; j++) y[j] = (accumulate ? y[j] : 0) + a[j * lda] + corr[j];
        }
}

const ax_dw_ukernel ax_dw_ukernel_scalar = {.name = "lut_dwconv_1x1__scalar", .run = run, .store = store};
