/* pack_i16.h - the int16 operand layouts the vpmaddwd/vpdpwssd kernels share
 * (exact_gemm_4x16__avx2 and the LOWRANK kernels): a k of the plan expands
 * into `terms` virtual k (1 for EXACT: the operand values; LOWRANK: the
 * plan's maps amap[t][a], wmap[t][w], whose products sum to the table), and
 * virtual k go in pairs, the unit of a multiply-add of two int16 products.
 *
 * Panel (mr rows): for each pair of virtual k, mr rows x 2 int16 (a missing
 * odd k is 0). Weights: blocks of `bw` columns, each K2 x bw x 2 int16, plus
 * one all-zero block so a tile may always read two blocks. Internal; include
 * from the AVX2 and AVX-512 kernel files only (the packing is AVX2). */
#ifndef AX_PACK_I16_H
#define AX_PACK_I16_H

#include "kernels/gemm_internal.h"

#include <string.h>

static inline size_t ax_i16_k2(size_t K) { return (K + 1) / 2; }
static inline size_t ax_i16_terms(const ax_gemm_plan *p) { return p->amap ? (size_t)p->terms : 1; }

/* K here is K * terms (what gemm.c passes) */
static inline size_t ax_i16_panel_bytes(size_t K, size_t mr)
{
    return K / 2 + 1 > SIZE_MAX / (mr * 4) ? SIZE_MAX : (ax_i16_k2(K) ? ax_i16_k2(K) : 1) * mr * 4;
}

static inline size_t ax_i16_bx_bytes(size_t K, size_t N, size_t bw)
{
    size_t blocks = (N + bw - 1) / bw + 1, K2 = ax_i16_k2(K);
    if (K2 && blocks > SIZE_MAX / (bw * 4) / K2) return SIZE_MAX;
    return blocks * (K2 ? K2 : 1) * bw * 4;
}

_Static_assert(AX_LOWRANK_TERMS <= 8, "avirt holds 8 int16 per activation byte");

#if !defined(__AVX2__)
#error "pack_i16.h packs with AVX2"
#endif
#include <immintrin.h>

/* The panel is a transpose: row m's virtual values, in order, as int32
 * pairs, become column m of a K2 x mr matrix. x[r] holds pairs j..j+7 of
 * row m0 + r; they go to panel rows j..j+7 (the first `left` of them),
 * columns m0..m0+7. */
static inline void ax_i16_store_8x8(__m256i x[8], uint32_t *dst, size_t mr, size_t j, size_t m0, size_t left)
{
    __m256i y[8];
    for (int r = 0; r < 8; r += 2) {
        y[r] = _mm256_unpacklo_epi32(x[r], x[r + 1]);
        y[r + 1] = _mm256_unpackhi_epi32(x[r], x[r + 1]);
    }
    for (int r = 0; r < 8; r += 4)
        for (int h = 0; h < 2; h++) {
            x[r + h] = _mm256_unpacklo_epi64(y[r + h], y[r + 2 + h]);
            x[r + 2 + h] = _mm256_unpackhi_epi64(y[r + h], y[r + 2 + h]);
        }
    /* x[0..3]: rows 0-3 of pairs {0,4}, {2,6}, {1,5}, {3,7} (128-bit halves); x[4..7]: rows 4-7 */
    static const int pair_of[4] = {0, 2, 1, 3};
    for (int i = 0; i < 4; i++) {
        size_t q = (size_t)pair_of[i];
        if (q < left)
            _mm256_storeu_si256((__m256i *)(dst + (j + q) * mr + m0), _mm256_permute2x128_si256(x[i], x[4 + i], 0x20));
        if (q + 4 < left)
            _mm256_storeu_si256((__m256i *)(dst + (j + q + 4) * mr + m0),
                                _mm256_permute2x128_si256(x[i], x[4 + i], 0x31));
    }
}

/* One virtual k per k whose value is bits of the byte (p->abits: the
 * operand values, one-term forms): 16 bytes of a row, XORed, masked,
 * widened and offset, are its next 8 pairs. The scalar loop stored one pair
 * per two byte loads. */
static inline void ax_i16_pack_a_bits_avx2(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A,
                                           size_t lda, uint32_t *dst, size_t mr)
{
    /* first + 16 - n: n lanes of ones */
    static const int16_t first[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
    const bool s8 = p->abits_s8;
    const __m128i xr = _mm_set1_epi8((char)p->abits_xor), mk = _mm_set1_epi8((char)p->abits_mask);
    const __m256i off = _mm256_set1_epi16(p->abits_off);
    for (size_t m0 = 0; m0 < rows; m0 += 8) {
        size_t nr = rows - m0 < 8 ? rows - m0 : 8;
        for (size_t k0 = 0; k0 < K; k0 += 16) {
            size_t kc = K - k0 < 16 ? K - k0 : 16;
            __m256i x[8];
            for (size_t r = 0; r < 8; r++) {
                __m128i b = _mm_setzero_si128();
                if (r < nr && kc == 16) b = _mm_loadu_si128((const __m128i *)(A + (m0 + r) * lda + k0));
                else if (r < nr) memcpy(&b, A + (m0 + r) * lda + k0, kc);
                b = _mm_and_si128(_mm_xor_si128(b, xr), mk);
                x[r] = _mm256_add_epi16(s8 ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b), off);
                if (kc < 16 || r >= nr) { /* k past K (the odd K's padding), rows past `rows`: 0 */
                    size_t n = r < nr ? kc : 0;
                    x[r] = _mm256_and_si256(x[r], _mm256_loadu_si256((const __m256i *)(first + 16 - n)));
                }
            }
            ax_i16_store_8x8(x, dst, mr, k0 / 2, m0, (kc + 1) / 2);
        }
    }
}

/* T virtual k per k (LOWRANK): for 8 rows and 16 k at a time, each row's
 * values go out in order into a small row-major buffer, one 16-byte entry
 * of p->avirt per (row, k) (the next entry's store overwrites the zeros past
 * its T values; the last entry's zeros are an odd K*T's padding), then
 * through the transpose. The scalar loop stored T int16 apiece: a quarter
 * of an AVX2 MobileNetV2 LOWRANK run (perf). */
static inline void ax_i16_pack_a_terms_avx2(const ax_gemm_plan *p, size_t T, size_t rows, size_t K,
                                            const uint8_t *A, size_t lda, uint32_t *dst, size_t mr)
{
    enum { KC = 16, PAIRS = KC * 8 / 2 + 8 }; /* <= 64 pairs per chunk, + the transpose's overrun */
    _Alignas(32) uint32_t buf[8][PAIRS];
    memset(buf, 0, sizeof buf);
    for (size_t m0 = 0; m0 < rows; m0 += 8) {
        size_t nr = rows - m0 < 8 ? rows - m0 : 8;
        if (nr < 8) memset(buf[nr], 0, (8 - nr) * sizeof buf[0]); /* rows past `rows` come out zero */
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t kc = K - k0 < KC ? K - k0 : KC, np = (kc * T + 1) / 2;
            for (size_t r = 0; r < nr; r++) {
                int16_t *b = (int16_t *)buf[r];
                const uint8_t *a = A + (m0 + r) * lda + k0;
                for (size_t k = 0; k < kc; k++)
                    _mm_storeu_si128((__m128i *)(b + k * T), _mm_load_si128((const __m128i *)p->avirt[a[k]]));
            }
            for (size_t j = 0; j < np; j += 8) {
                __m256i x[8];
                for (int r = 0; r < 8; r++) x[r] = _mm256_load_si256((const __m256i *)(buf[r] + j));
                ax_i16_store_8x8(x, dst, mr, k0 * T / 2 + j, m0, np - j);
            }
        }
    }
}

/* Rows past `rows` come out zero. mr: a multiple of 8 (both kernels: 64). */
static inline void ax_i16_pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda,
                                 uint8_t *panel, size_t mr)
{
    uint32_t *dst = (uint32_t *)panel;
    size_t T = ax_i16_terms(p), K2 = ax_i16_k2(K * T), done = (rows + 7) / 8 * 8;
    if (p->abits) ax_i16_pack_a_bits_avx2(p, rows, K, A, lda, dst, mr);
    else ax_i16_pack_a_terms_avx2(p, T, rows, K, A, lda, dst, mr);
    for (size_t k2 = 0; k2 < K2; k2++) memset(dst + k2 * mr + done, 0, (mr - done) * 4);
}

static inline void ax_i16_pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                                 uint8_t *bx, uint32_t *corr, size_t bw)
{
    int16_t *dst = (int16_t *)bx;
    size_t T = ax_i16_terms(p), K2 = ax_i16_k2(K * T);
    memset(bx, 0, ((N + bw - 1) / bw + 1) * (K2 ? K2 : 1) * bw * 4);
    for (size_t k = 0; k < K; k++)
        for (size_t n = 0; n < N; n++)
            for (size_t t = 0; t < T; t++) {
                size_t kk = k * T + t;
                uint8_t b = B[k * ldb + n];
                dst[((n / bw) * K2 + kk / 2) * bw * 2 + (n % bw) * 2 + (kk & 1)] =
                    p->amap ? p->wmap[t][b] : (int16_t)ax_operand_value(p->wgt, b);
            }
    memset(corr, 0, N * sizeof *corr);
}

#endif
