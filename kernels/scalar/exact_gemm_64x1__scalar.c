/* exact_gemm_64x1__scalar.c - the EXACT path without SIMD: when the table is
 * the exact product a*w, the lookup becomes a multiply of the operands'
 * integer values (s8 or u8 per the multiplier's metadata). Portable
 * fallback; the panel is the rows of A copied contiguously, the weights are
 * stored column-major so both inner operands stream. */
#include "kernels/scalar/pack_rows_scalar.h"

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    (void)N;
    bool sa = p->act == AX_S8, sw = p->wgt == AX_S8;
    for (size_t m = 0; m < rows; m++) {
        const uint8_t *a = panel + m * K;
        for (size_t j = 0; j < nn; j++) {
            const uint8_t *w = bx + (n0 + j) * K;
            uint32_t acc = 0;
            for (size_t k = 0; k < K; k++) {
                int32_t va = sa ? (int8_t)a[k] : a[k], vw = sw ? (int8_t)w[k] : w[k];
                acc += (uint32_t)(va * vw);
            }
            out[m * ldo + j] = acc;
        }
    }
}

const ax_exact_ukernel ax_exact_ukernel_scalar = {.name = "exact_gemm_64x1__scalar",
                                                  .mr = AX_ROWS_MR,
                                                  .panel_bytes = ax_rows_panel_bytes,
                                                  .pack_a = ax_rows_pack_a,
                                                  .bx_bytes = ax_rows_bx_bytes,
                                                  .pack_b = ax_rows_pack_b,
                                                  .run = run};
