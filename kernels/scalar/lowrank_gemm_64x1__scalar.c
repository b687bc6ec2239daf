/* lowrank_gemm_64x1__scalar.c - the LOWRANK path without SIMD: the table is
 * sum_t amap[t][a] * wmap[t][w] (term 0 the exact product, the rest the
 * low-rank error; see lowrank.c), so each lookup becomes `terms` integer
 * multiplies of small int16 factors. Portable fallback and the path's
 * reference structure; panel and weights are the raw bytes (rows of A,
 * columns of B), the maps are applied on the fly. */
#include "kernels/scalar/pack_rows_scalar.h"

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    (void)N;
    for (size_t m = 0; m < rows; m++) {
        const uint8_t *a = panel + m * K;
        for (size_t j = 0; j < nn; j++) {
            const uint8_t *w = bx + (n0 + j) * K;
            uint32_t acc = 0;
            for (size_t k = 0; k < K; k++)
                for (int t = 0; t < p->terms; t++) acc += (uint32_t)(p->amap[t][a[k]] * p->wmap[t][w[k]]);
            out[m * ldo + j] = acc;
        }
    }
}

const ax_exact_ukernel ax_lowrank_ukernel_scalar = {.name = "lowrank_gemm_64x1__scalar",
                                                    .mr = AX_ROWS_MR,
                                                    .panel_bytes = ax_rows_panel_bytes,
                                                    .pack_a = ax_rows_pack_a,
                                                    .bx_bytes = ax_rows_bx_bytes,
                                                    .pack_b = ax_rows_pack_b,
                                                    .run = run};
