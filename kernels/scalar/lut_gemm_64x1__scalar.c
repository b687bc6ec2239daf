/* lut_gemm_64x1__scalar.c - the portable LUT microkernel, and the fallback
 * for every table on every machine. Weight-stationary like a PE: for one
 * weight byte w its 1 KiB column col[w][0..255] (min-subtracted) stays in
 * L1 while a panel of 64 activations streams through it. Four k at a time:
 * the panel keeps a row's 4 activations of k..k+3 in one 32-bit word, so a
 * row costs one load, four lookups and one accumulator update.
 *
 * Panel layout: for each group of 4 k, 64 rows x 4 bytes (row-major); then
 * the K % 4 tail, one 64-byte row of activations per k. */
#include "kernels/gemm_internal.h"

#include <string.h>

enum { MR = 64 };

static size_t panel_bytes(size_t K) { return K > SIZE_MAX / MR ? SIZE_MAX : (K ? K : 1) * MR; }

static void pack_a(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    size_t K4 = K / 4 * 4;
    for (size_t g = 0; g < K4; g += 4) {
        uint8_t *dst = panel + g * MR;
        for (size_t m = 0; m < rows; m++) memcpy(dst + 4 * m, A + m * lda + g, 4);
        memset(dst + 4 * rows, 0, 4 * (MR - rows));
    }
    for (size_t k = K4; k < K; k++) {
        uint8_t *dst = panel + k * MR;
        for (size_t m = 0; m < rows; m++) dst[m] = A[m * lda + k];
        memset(dst + rows, 0, MR - rows);
    }
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                size_t wstride, size_t nn, uint32_t *out, size_t ldo)
{
    const uint32_t *cols = p->cols;
    size_t K4 = K / 4 * 4;
    for (size_t j = 0; j < nn; j++, w += wstride) {
        uint32_t acc[MR] = {0};
        for (size_t g = 0; g < K4; g += 4) {
            const uint32_t *c0 = cols + w[g] * 256u, *c1 = cols + w[g + 1] * 256u;
            const uint32_t *c2 = cols + w[g + 2] * 256u, *c3 = cols + w[g + 3] * 256u;
            const uint8_t *a = panel + g * MR;
            for (size_t m = 0; m < MR; m++) {
                uint32_t x;
                memcpy(&x, a + 4 * m, 4); /* little-endian: byte i is k = g + i */
                acc[m] += c0[x & 255] + c1[(x >> 8) & 255] + c2[(x >> 16) & 255] + c3[x >> 24];
            }
        }
        for (size_t k = K4; k < K; k++) {
            const uint32_t *c = cols + w[k] * 256u;
            const uint8_t *a = panel + k * MR;
            for (size_t m = 0; m < MR; m++) acc[m] += c[a[m]];
        }
        for (size_t m = 0; m < rows; m++) out[m * ldo + j] = acc[m];
    }
}

const ax_lut_ukernel ax_lut_ukernel_scalar = {
    .name = "lut_gemm_64x1__scalar", .mr = MR, .panel_bytes = panel_bytes, .pack_a = pack_a, .run = run};
