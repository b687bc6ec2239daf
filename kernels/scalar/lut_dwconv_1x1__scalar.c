/* lut_dwconv_1x1__scalar.c - the portable depthwise microkernel (see
 * dwconv2d.c and ax_dw_ukernel): the taps' 1 KiB columns of the transposed
 * table (9 of them for a 3x3 kernel) stay in L1; four output pixels at a
 * time are summed over all taps in registers, each tap's four activation
 * bytes coming from one load of its contiguous run. The sums of up to 16
 * channels are then written into NHWC pixel by pixel, in natural order. */
#include "kernels/gemm_internal.h"

#include <string.h>

static void run(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t ntaps, size_t n,
                uint32_t *acc)
{
    const int32_t *tab = p->table_t;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) { /* four pixels in registers, the taps inner: one 4-byte load per tap */
        uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (size_t t = 0; t < ntaps; t++) {
            const int32_t *col = tab + w[t] * 256u;
            uint32_t x;
            memcpy(&x, src[t] + i, 4);
            const uint8_t *b = (const uint8_t *)&x; /* byte order does not matter: b[j] is pixel i + j */
            a0 += (uint32_t)col[b[0]], a1 += (uint32_t)col[b[1]], a2 += (uint32_t)col[b[2]], a3 += (uint32_t)col[b[3]];
        }
        acc[i] = a0, acc[i + 1] = a1, acc[i + 2] = a2, acc[i + 3] = a3;
    }
    for (; i < n; i++) {
        uint32_t a = 0;
        for (size_t t = 0; t < ntaps; t++) a += (uint32_t)tab[w[t] * 256u + src[t][i]];
        acc[i] = a;
    }
}

static void store(const uint32_t *acc, size_t lda, size_t nch, const uint32_t *corr, size_t n,
                  uint32_t *const *dst, size_t c0, ax_dw_out out)
{
    for (size_t i = 0; i < n; i++) {
        if (!dst[i]) continue; /* AX_DW_STREAM's pixels not kept */
        uint32_t *y = dst[i] + c0;
        for (size_t j = 0; j < nch; j++) y[j] = (out == AX_DW_ADD ? y[j] : 0) + acc[j * lda + i] + corr[j];
    }
}

const ax_dw_ukernel ax_dw_ukernel_scalar = {.name = "lut_dwconv_1x1__scalar", .run = run, .store = store};
