/* exact_gemm_4x16__avx2.c - the EXACT path on AVX2 (+FMA, BMI2; no AVX-VNNI,
 * no AVX-512): when the table is a*w, an exact int8 GEMM. vpmaddubsw would
 * saturate its int16 pair sums (255*127*2 > 32767), so operands are widened
 * to int16 once at pack time and multiplied with vpmaddwd, whose int32 pair
 * sums cannot overflow (|a*w| <= 65025). Tile: 4 rows x 16 columns, eight
 * ymm accumulators, A broadcast two k at a time.
 *
 * The same kernel runs the LOWRANK path (lowrank_gemm_4x16__avx2): there a
 * k expands into `terms` virtual k whose int16 operands are the plan's maps
 * amap[t][a] and wmap[t][w], and the sum over them reproduces the table.
 * Layouts: pack_i16.h, 64-row panels, weight blocks of 8 columns. */
#include "kernels/pack_i16.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 64 };

static size_t panel_bytes(size_t K) { return ax_i16_panel_bytes(K, MR); }

static void pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    ax_i16_pack_a(p, rows, K, A, lda, panel, MR);
}

static size_t bx_bytes(size_t K, size_t N) { return ax_i16_bx_bytes(K, N, 8); }

static void pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, uint8_t *bx,
                   uint32_t *corr)
{
    ax_i16_pack_b(p, K, N, B, ldb, bx, corr, 8);
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    (void)N;
    size_t K2 = ax_i16_k2(K * ax_i16_terms(p));
    const int16_t *a16 = (const int16_t *)panel;
    for (size_t blk = n0 / 8; blk * 8 < n0 + nn; blk += 2) {
        const __m256i *b0 = (const __m256i *)(bx + blk * K2 * 32), *b1 = (const __m256i *)(bx + (blk + 1) * K2 * 32);
        for (size_t m0 = 0; m0 < rows; m0 += 4) {
            __m256i acc[4][2];
            for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
            for (size_t k2 = 0; k2 < K2; k2++) {
                __m256i w0 = _mm256_load_si256(b0 + k2), w1 = _mm256_load_si256(b1 + k2);
                const int16_t *a = a16 + k2 * MR * 2 + m0 * 2;
                for (int i = 0; i < 4; i++) {
                    int32_t pair;
                    memcpy(&pair, a + 2 * i, 4);
                    __m256i x = _mm256_set1_epi32(pair);
                    acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(x, w0));
                    acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(x, w1));
                }
            }
            size_t c0 = blk * 8;
            if (c0 >= n0 && c0 + 16 <= n0 + nn) { /* the common case: all 16 columns wanted */
                for (int i = 0; i < 4 && m0 + (size_t)i < rows; i++) {
                    uint32_t *o = out + (m0 + (size_t)i) * ldo + (c0 - n0);
                    _mm256_storeu_si256((__m256i *)o, acc[i][0]);
                    _mm256_storeu_si256((__m256i *)(o + 8), acc[i][1]);
                }
                continue;
            }
            for (int i = 0; i < 4 && m0 + (size_t)i < rows; i++) {
                uint32_t tmp[16];
                _mm256_storeu_si256((__m256i *)tmp, acc[i][0]);
                _mm256_storeu_si256((__m256i *)(tmp + 8), acc[i][1]);
                for (size_t c = 0; c < 16; c++) {
                    size_t n = blk * 8 + c;
                    if (n >= n0 && n < n0 + nn) out[(m0 + (size_t)i) * ldo + (n - n0)] = tmp[c];
                }
            }
        }
    }
}

const ax_exact_ukernel ax_exact_ukernel_avx2 = {.name = "exact_gemm_4x16__avx2",
                                                .mr = MR,
                                                .panel_bytes = panel_bytes,
                                                .pack_a = pack_a,
                                                .bx_bytes = bx_bytes,
                                                .pack_b = pack_b,
                                                .run = run};

const ax_exact_ukernel ax_lowrank_ukernel_avx2 = {.name = "lowrank_gemm_4x16__avx2",
                                                  .mr = MR,
                                                  .panel_bytes = panel_bytes,
                                                  .pack_a = pack_a,
                                                  .bx_bytes = bx_bytes,
                                                  .pack_b = pack_b,
                                                  .run = run};
