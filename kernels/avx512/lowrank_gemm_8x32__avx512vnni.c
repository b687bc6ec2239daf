/* lowrank_gemm_8x32__avx512vnni.c - the LOWRANK path on AVX-512 VNNI: the
 * table is sum_t amap[t][a] * wmap[t][w] with int16 factors (lowrank.c), so
 * a GEMM over it is one int16 GEMM over K * terms virtual k. vpdpwssd adds
 * two int16 products into each int32 lane (|product| <= 32767^2, so a pair
 * never overflows; the lane wraps mod 2^32 like every path). Tile: 8 rows x
 * 32 columns, sixteen zmm accumulators, a pair of virtual k per step.
 * Layouts: pack_i16.h, 64-row panels, weight blocks of 16 columns. */
#include "kernels/pack_i16.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 64 };

static size_t panel_bytes(size_t K) { return ax_i16_panel_bytes(K, MR); }

static void pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    ax_i16_pack_a(p, rows, K, A, lda, panel, MR);
}

static size_t bx_bytes(size_t K, size_t N) { return ax_i16_bx_bytes(K, N, 16); }

static void pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, uint8_t *bx,
                   uint32_t *corr)
{
    ax_i16_pack_b(p, K, N, B, ldb, bx, corr, 16);
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    (void)N;
    size_t K2 = ax_i16_k2(K * ax_i16_terms(p));
    const uint32_t *a32 = (const uint32_t *)panel;
    for (size_t blk = n0 / 16; blk * 16 < n0 + nn; blk += 2) {
        const __m512i *b0 = (const __m512i *)(bx + blk * K2 * 64), *b1 = (const __m512i *)(bx + (blk + 1) * K2 * 64);
        size_t c0 = blk * 16 < n0 ? n0 - blk * 16 : 0, c1 = n0 + nn - blk * 16 < 32 ? n0 + nn - blk * 16 : 32;
        for (size_t m0 = 0; m0 < rows; m0 += 8) {
            __m512i acc[8][2];
            for (int i = 0; i < 8; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
            for (size_t k2 = 0; k2 < K2; k2++) {
                __m512i w0 = _mm512_load_si512(b0 + k2), w1 = _mm512_load_si512(b1 + k2);
                const uint32_t *a = a32 + k2 * MR + m0;
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) {
                    __m512i x = _mm512_set1_epi32((int)a[i]);
                    acc[i][0] = _mm512_dpwssd_epi32(acc[i][0], x, w0);
                    acc[i][1] = _mm512_dpwssd_epi32(acc[i][1], x, w1);
                }
            }
            if (c0 == 0 && c1 == 32) { /* the common case: all 32 columns wanted */
                for (size_t i = 0; i < 8 && m0 + i < rows; i++) {
                    uint32_t *o = out + (m0 + i) * ldo + (blk * 16 - n0);
                    _mm512_storeu_si512(o, acc[i][0]);
                    _mm512_storeu_si512(o + 16, acc[i][1]);
                }
                continue;
            }
            for (size_t i = 0; i < 8 && m0 + i < rows; i++) {
                uint32_t tmp[32];
                _mm512_storeu_si512(tmp, acc[i][0]);
                _mm512_storeu_si512(tmp + 16, acc[i][1]);
                uint32_t *o = out + (m0 + i) * ldo + (blk * 16 + c0 - n0);
                for (size_t c = c0; c < c1; c++) *o++ = tmp[c];
            }
        }
    }
}

const ax_exact_ukernel ax_lowrank_ukernel_avx512vnni = {.name = "lowrank_gemm_8x32__avx512vnni",
                                                        .mr = MR,
                                                        .panel_bytes = panel_bytes,
                                                        .pack_a = pack_a,
                                                        .bx_bytes = bx_bytes,
                                                        .pack_b = pack_b,
                                                        .run = run};
