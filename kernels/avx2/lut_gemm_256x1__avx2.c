/* lut_gemm_256x1__avx2.c - the LUT microkernel for AVX2 (+FMA, BMI2; no
 * AVX-512 or AVX-VNNI instruction may appear here). AVX2 has no byte permute
 * over 256 entries, so lookups are gathers, made cheap by being
 * weight-stationary: for one weight byte w, its 1 KiB column of
 * min-subtracted products stays in L1 while 256 activations of the panel
 * look it up, eight per vpgatherdd with the column as the base address.
 * Measured here ~1.5 lookups/cycle (scalar loads: ~1.4; mixing both: ~1.8,
 * the load ports' limit for one load per lookup), so structured tables take
 * the LOWRANK path on AVX2 instead (2.5-5 MAC/cycle).
 *
 * Panel layout: K rows of 256 activation bytes (row m at byte m). */
#include "kernels/gemm_internal.h"
#include "kernels/transpose_u8.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 256 };

static size_t panel_bytes(size_t K) { return K > SIZE_MAX / MR ? SIZE_MAX : (K ? K : 1) * MR; }

static void pack_a(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    ax_pack_kmajor_u8(rows, K, A, lda, panel, MR);
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                size_t wstride, size_t nn, uint32_t *out, size_t ldo)
{
    size_t nb = (rows + 31) / 32; /* blocks of 32 rows: four gathers */
    __m256i acc[MR / 8];
    for (size_t j = 0; j < nn; j++, w += wstride) {
        for (size_t b = 0; b < MR / 8; b++) acc[b] = _mm256_setzero_si256();
        for (size_t k = 0; k < K; k++) {
            const int *col = (const int *)(p->cols + w[k] * 256u);
            const uint8_t *a = panel + k * MR;
            for (size_t b = 0; b < nb; b++) {
                __m256i i0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + 32 * b)));
                __m256i i1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + 32 * b + 8)));
                __m256i i2 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + 32 * b + 16)));
                __m256i i3 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + 32 * b + 24)));
                acc[4 * b] = _mm256_add_epi32(acc[4 * b], _mm256_i32gather_epi32(col, i0, 4));
                acc[4 * b + 1] = _mm256_add_epi32(acc[4 * b + 1], _mm256_i32gather_epi32(col, i1, 4));
                acc[4 * b + 2] = _mm256_add_epi32(acc[4 * b + 2], _mm256_i32gather_epi32(col, i2, 4));
                acc[4 * b + 3] = _mm256_add_epi32(acc[4 * b + 3], _mm256_i32gather_epi32(col, i3, 4));
            }
        }
        uint32_t tmp[MR] __attribute__((aligned(32)));
        for (size_t b = 0; b < MR / 8; b++) _mm256_store_si256((__m256i *)(tmp + 8 * b), acc[b]);
        for (size_t m = 0; m < rows; m++) out[m * ldo + j] = tmp[m];
    }
}

const ax_lut_ukernel ax_lut_ukernel_avx2 = {
    .name = "lut_gemm_256x1__avx2", .mr = MR, .panel_bytes = panel_bytes, .pack_a = pack_a, .run = run};
