/* lut_gemm_256x1__avx512vbmi.c - the LUT microkernel for AVX-512 VBMI, built
 * like a PE of a weight-stationary systolic array. For one weight byte w the
 * 256 min-subtracted products T[.][w] - min live in registers as byte planes
 * (four zmm per plane, one per quarter of the activation range). A
 * 256-entry lookup of 64 activations is four vpermb: quarters 0|1 and 2|3
 * are chosen by bit 6 (merge-masked vpermb), then a blend by bit 7. The bit
 * masks come from vpmovb2m on port 0, bit 6 from a copy of the activations
 * shifted left by one that packing stores next to them (measured on Golden
 * Cove: vpermi2b takes 2 cycles, a kmov from memory costs a port-5 uop;
 * port 5 should do nothing but vpermb, 16 lookups per cycle per plane).
 *
 * Each looked-up byte vector R is accumulated in 16-bit lanes as two sums:
 * S += R (a lane holds even + 256*odd, modulo 2^16) and O += R >> 8 (the odd
 * bytes). Both are exact for up to 256 additions; every KC = 64 k (a block
 * of the panel that stays in L1 while all the tile's columns pass), even =
 * S - 256*O and odd = O are widened into int32 sums in natural row order.
 * One table load serves 4 blocks of 64 rows (2 or 1 when 3 or 4 planes fill
 * the registers). Measured here: ~8.7 lookups/cycle for 1-plane tables,
 * ~5 MAC/cycle for 2 planes (a port-5 microbenchmark of the same sequence
 * reaches ~12.7 lookups/cycle).
 *
 * Panel layout: K rows of 256 activation bytes (row m at byte m), then the
 * same K rows with every byte shifted left by one (bit 6 on top).
 * Compile with -mavx512f -mavx512bw -mavx512vl -mavx512vbmi. */
#include "kernels/gemm_internal.h"
#include "kernels/transpose_u8.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 256, KC = 64, NC = 64 };

static size_t panel_bytes(size_t K)
{
    return K > SIZE_MAX / (2 * MR) ? SIZE_MAX : (K ? K : 1) * 2 * MR;
}

static void pack_a(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    ax_pack_kmajor_u8(rows, K, A, lda, panel, MR);
    uint8_t *shifted = panel + K * MR;
    for (size_t i = 0; i < K * MR; i += 64) {
        __m512i x = _mm512_load_si512(panel + i);
        _mm512_store_si512(shifted + i, _mm512_add_epi8(x, x));
    }
}

/* Adds the 16-bit sums (S, O) of plane q for 64 rows into acc[64]. */
static inline __attribute__((always_inline)) void widen(__m512i S, __m512i O, int q, uint32_t *acc)
{
    const __m512i idx0 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i idx1 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512i E = _mm512_sub_epi16(S, _mm512_slli_epi16(O, 8));
    __m512i lo = _mm512_unpacklo_epi16(E, O), hi = _mm512_unpackhi_epi16(E, O);
    __m512i w0 = _mm512_permutex2var_epi64(lo, idx0, hi); /* rows 0..31 */
    __m512i w1 = _mm512_permutex2var_epi64(lo, idx1, hi); /* rows 32..63 */
    __m512i d[4] = {_mm512_cvtepu16_epi32(_mm512_castsi512_si256(w0)),
                    _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(w0, 1)),
                    _mm512_cvtepu16_epi32(_mm512_castsi512_si256(w1)),
                    _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(w1, 1))};
    for (int i = 0; i < 4; i++) {
        __m512i a = _mm512_loadu_si512(acc + 16 * i);
        a = _mm512_add_epi32(a, _mm512_slli_epi32(d[i], (unsigned)(8 * q)));
        _mm512_storeu_si512(acc + 16 * i, a);
    }
}

/* SB blocks of 64 rows starting at block s0, P planes, k in [k0, k1) (at
 * most 256, so the 16-bit sums stay exact), one column. */
static inline __attribute__((always_inline)) void block(const uint8_t *planes, int P, int SB, const uint8_t *panel,
                                                        size_t s0, size_t k0, size_t k1, size_t K, const uint8_t *w,
                                                        uint32_t *acc)
{
    const uint8_t *shifted = panel + K * MR;
    {
        __m512i S[4][4], O[4][4];
#pragma GCC unroll 4
        for (int s = 0; s < SB; s++)
#pragma GCC unroll 4
            for (int q = 0; q < P; q++) S[s][q] = O[s][q] = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (size_t k = k0; k < k1; k++) {
            const uint8_t *t = planes + (size_t)w[k] * (size_t)P * 256;
            __m512i T[4][4];
#pragma GCC unroll 4
            for (int q = 0; q < P; q++)
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) T[q][i] = _mm512_load_si512(t + q * 256 + 64 * i);
            const uint8_t *a = panel + k * MR + s0 * 64;
#pragma GCC unroll 4
            for (int s = 0; s < SB; s++) {
                __m512i x = _mm512_load_si512(a + 64 * s);
                __mmask64 b7 = _mm512_movepi8_mask(x);
                __mmask64 b6 = _mm512_movepi8_mask(_mm512_load_si512(shifted + (a - panel) + 64 * s));
#pragma GCC unroll 4
                for (int q = 0; q < P; q++) {
                    __m512i r01 = _mm512_mask_permutexvar_epi8(_mm512_permutexvar_epi8(x, T[q][0]), b6, x, T[q][1]);
                    __m512i r23 = _mm512_mask_permutexvar_epi8(_mm512_permutexvar_epi8(x, T[q][2]), b6, x, T[q][3]);
                    __m512i r = _mm512_mask_blend_epi8(b7, r01, r23);
                    S[s][q] = _mm512_add_epi16(S[s][q], r);
                    O[s][q] = _mm512_add_epi16(O[s][q], _mm512_srli_epi16(r, 8));
                    /* keeps gcc from copying the sums to fresh registers each k */
                    __asm__("" : "+v"(S[s][q]), "+v"(O[s][q]));
                }
            }
        }
#pragma GCC unroll 4
        for (int s = 0; s < SB; s++)
#pragma GCC unroll 4
            for (int q = 0; q < P; q++) widen(S[s][q], O[s][q], q, acc + 64 * s);
    }
}

#define BLOCK_FN(P, SB)                                                                                     \
    static void block_##P##_##SB(const uint8_t *planes, const uint8_t *panel, size_t s0, size_t k0, size_t k1,   \
                                 size_t K, const uint8_t *w, uint32_t *acc)                                \
    {                                                                                                       \
        block(planes, P, SB, panel, s0, k0, k1, K, w, acc);                                                 \
    }
BLOCK_FN(1, 1) BLOCK_FN(1, 2) BLOCK_FN(1, 3) BLOCK_FN(1, 4)
BLOCK_FN(2, 1) BLOCK_FN(2, 2) BLOCK_FN(2, 3) BLOCK_FN(2, 4)
BLOCK_FN(3, 1) BLOCK_FN(3, 2)
BLOCK_FN(4, 1)

typedef void (*block_fn)(const uint8_t *, const uint8_t *, size_t, size_t, size_t, size_t, const uint8_t *, uint32_t *);
static const block_fn blocks[4][4] = {{block_1_1, block_1_2, block_1_3, block_1_4},
                                      {block_2_1, block_2_2, block_2_3, block_2_4},
                                      {block_3_1, block_3_2, NULL, NULL},
                                      {block_4_1, NULL, NULL, NULL}};
static const int max_sb[4] = {4, 4, 2, 1};

/* K is cut into blocks of KC so the panel's rows in use (256 x KC bytes)
 * stay in L1 while every column of the tile streams through them; the
 * columns' int32 sums live in `acc` between blocks. */
static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                size_t wstride, size_t nn, uint32_t *out, size_t ldo)
{
    int P = p->nplanes;
    size_t nb = (rows + 63) / 64, sbmax = (size_t)max_sb[P - 1];
    uint32_t acc[NC][MR] __attribute__((aligned(64))); /* 64 KiB of stack */
    for (size_t j0 = 0; j0 < nn; j0 += NC) {
        size_t jn = nn - j0 < NC ? nn - j0 : NC;
        for (size_t j = 0; j < jn; j++) memset(acc[j], 0, nb * 64 * sizeof(uint32_t));
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t k1 = K - k0 < KC ? K : k0 + KC;
            for (size_t j = 0; j < jn; j++)
                for (size_t s0 = 0; s0 < nb;) {
                    size_t sb = nb - s0 < sbmax ? nb - s0 : sbmax;
                    blocks[P - 1][sb - 1](p->planes, panel, s0, k0, k1, K, w + (j0 + j) * wstride, acc[j] + 64 * s0);
                    s0 += sb;
                }
        }
        for (size_t m = 0; m < rows; m++)
            for (size_t j = 0; j < jn; j++) out[m * ldo + j0 + j] = acc[j][m];
    }
}

const ax_lut_ukernel ax_lut_ukernel_avx512vbmi = {
    .name = "lut_gemm_256x1__avx512vbmi", .mr = MR, .panel_bytes = panel_bytes, .pack_a = pack_a, .run = run};

/* Depthwise rows (conv2d.c): acc[x] += sum_t col[w_t][src_t[x]] for x < n,
 * the same byte-plane lookups over contiguous runs of pixels of one channel;
 * at most 256 taps, so the 16-bit sums stay exact. Min corrections are the
 * caller's (sum_t colmin[w_t]). */
void ax_lut_dw_row_avx512vbmi(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t ntaps,
                              size_t n, uint32_t *acc)
{
    int P = p->nplanes;
    for (size_t x0 = 0; x0 < n; x0 += 64) {
        size_t xn = n - x0 < 64 ? n - x0 : 64;
        __mmask64 live = xn == 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)xn);
        __m512i S[4], O[4];
        for (int q = 0; q < 4; q++) S[q] = O[q] = _mm512_setzero_si512();
        for (size_t t = 0; t < ntaps; t++) {
            __m512i x = _mm512_maskz_loadu_epi8(live, src[t] + x0);
            __mmask64 b7 = _mm512_movepi8_mask(x), b6 = _mm512_movepi8_mask(_mm512_add_epi8(x, x));
            const uint8_t *tab = p->planes + (size_t)w[t] * (size_t)P * 256;
            for (int q = 0; q < P; q++) {
                const uint8_t *tq = tab + q * 256;
                __m512i r01 = _mm512_mask_permutexvar_epi8(_mm512_permutexvar_epi8(x, _mm512_load_si512(tq)), b6, x,
                                                           _mm512_load_si512(tq + 64));
                __m512i r23 = _mm512_mask_permutexvar_epi8(_mm512_permutexvar_epi8(x, _mm512_load_si512(tq + 128)), b6,
                                                           x, _mm512_load_si512(tq + 192));
                __m512i r = _mm512_mask_blend_epi8(b7, r01, r23);
                S[q] = _mm512_add_epi16(S[q], r);
                O[q] = _mm512_add_epi16(O[q], _mm512_srli_epi16(r, 8));
            }
        }
        if (xn == 64) {
            for (int q = 0; q < P; q++) widen(S[q], O[q], q, acc + x0);
        } else {
            uint32_t tmp[64] __attribute__((aligned(64)));
            memset(tmp, 0, sizeof tmp);
            for (int q = 0; q < P; q++) widen(S[q], O[q], q, tmp);
            for (size_t i = 0; i < xn; i += 16) { /* masked: acc has only n entries */
                __mmask16 mk = xn - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (xn - i)) - 1);
                __m512i a = _mm512_maskz_loadu_epi32(mk, acc + x0 + i);
                a = _mm512_add_epi32(a, _mm512_load_si512(tmp + i));
                _mm512_mask_storeu_epi32(acc + x0 + i, mk, a);
            }
        }
    }
}
