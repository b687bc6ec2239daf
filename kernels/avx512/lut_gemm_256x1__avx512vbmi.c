/* lut_gemm_256x1__avx512vbmi.c - the LUT microkernel for AVX-512 VBMI, built
 * like a PE of a weight-stationary systolic array. For one weight byte w the
 * 256 min-subtracted products T[.][w] - min live in registers as byte planes
 * (four zmm per plane, one per quarter of the activation range). A
 * 256-entry lookup of 64 activations is two vpermi2b (halves 0|1 and 2|3,
 * bits 0..6 of the activation) and a blend by bit 7 (vpmovb2m, once per 64
 * activations for all planes). On Zen 5 vpermi2b, vpermb and vpmovb2m all
 * issue 2 per cycle on the same two pipes, so this is half the permutes of
 * the earlier four merge-masked vpermb (which also needed a bit-6 copy of
 * the panel); the blend and the sums go to the other pipes.
 *
 * Each looked-up byte vector R is accumulated in 16-bit lanes as two sums:
 * S += R (a lane holds even + 256*odd, modulo 2^16) and O += R >> 8 (the odd
 * bytes). Both are exact for up to 256 additions; every KC <= 256 k (a block
 * of the panel that stays in L1 while all the tile's columns pass), even =
 * S - 256*O and odd = O are widened into int32 sums in natural row order.
 * One table load serves 4 blocks of 64 rows (2 or 1 when 3 or 4 planes fill
 * the registers). Per 64 rows and plane: 2 vpermi2b, 1 blend, 2 adds, 1
 * shift (+ 1 vpmovb2m per 64 rows): a register-only loop of this sequence
 * runs ~2.4 cycles per 64 lookups for one plane and ~4.0 for two here
 * (26 and 16 MAC/cycle); the kernel reaches ~23 and ~12.5.
 *
 * Panel layout: K rows of 256 activation bytes (row m at byte m).
 * Compile with -mavx512f -mavx512bw -mavx512vl -mavx512vbmi. */
#include "kernels/gemm_internal.h"
#include "kernels/avx512/lut_planes_avx512.h"
#include "kernels/transpose_u8.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 256, NC = 64 };

static size_t panel_bytes(size_t K)
{
    return K > SIZE_MAX / MR ? SIZE_MAX : (K ? K : 1) * MR;
}

static void pack_a(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    ax_pack_kmajor_u8(rows, K, A, lda, panel, MR);
}

/* SB blocks of 64 rows starting at block s0, P planes, k in [k0, k1) (at
 * most 256, so the 16-bit sums stay exact), one column. (Software prefetch
 * of the next k's planes and hand-allocated asm were both measured: no
 * gain.) */
static inline __attribute__((always_inline)) void block(const uint8_t *planes, int P, int SB, const uint8_t *panel,
                                                        size_t s0, size_t k0, size_t k1, const uint8_t *w,
                                                        uint32_t *acc)
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
#pragma GCC unroll 4
            for (int q = 0; q < P; q++) {
                __m512i r = ax_lut256(x, b7, T[q][0], T[q][1], T[q][2], T[q][3]);
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
        for (int q = 0; q < P; q++) ax_lut_widen(S[s][q], O[s][q], q, acc + 64 * s);
}

#define BLOCK_FN(P, SB)                                                                                     \
    static void block_##P##_##SB(const uint8_t *planes, const uint8_t *panel, size_t s0, size_t k0, size_t k1,   \
                                 const uint8_t *w, uint32_t *acc)                                          \
    {                                                                                                       \
        block(planes, P, SB, panel, s0, k0, k1, w, acc);                                                    \
    }
BLOCK_FN(1, 1) BLOCK_FN(1, 2) BLOCK_FN(1, 3) BLOCK_FN(1, 4)
BLOCK_FN(2, 1) BLOCK_FN(2, 2) BLOCK_FN(2, 3) BLOCK_FN(2, 4)
BLOCK_FN(3, 1) BLOCK_FN(3, 2)
BLOCK_FN(4, 1)

typedef void (*block_fn)(const uint8_t *, const uint8_t *, size_t, size_t, size_t, const uint8_t *, uint32_t *);
static const block_fn blocks[4][4] = {{block_1_1, block_1_2, block_1_3, block_1_4},
                                      {block_2_1, block_2_2, block_2_3, block_2_4},
                                      {block_3_1, block_3_2, NULL, NULL},
                                      {block_4_1, NULL, NULL, NULL}};
static const int max_sb[4] = {4, 4, 2, 1};

/* out[m * ldo + j] = acc[j][m] for m < rows, j < jn: 16 x 16 int32
 * transposes (a scalar loop here cost ~10% of the kernel at K = 64). */
static void store_out(uint32_t acc[][MR], size_t rows, size_t jn, uint32_t *out, size_t ldo)
{
    size_t j16 = jn / 16 * 16;
    for (size_t m0 = 0; m0 < rows; m0 += 16) {
        size_t mn = rows - m0 < 16 ? rows - m0 : 16;
        for (size_t j = 0; j < j16; j += 16) {
            __m512i r[16], t[16];
            for (int i = 0; i < 16; i++) r[i] = _mm512_load_si512(acc[j + i] + m0);
            for (int i = 0; i < 16; i += 2) {
                t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
                t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
            }
            for (int i = 0; i < 16; i += 4) {
                r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
                r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
                r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
                r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
            }
            /* r[4q + c] holds, per 128-bit lane l, rows 4l + c of columns 4q..4q+3 */
            for (int i = 0; i < 4; i++) {
                t[i] = _mm512_shuffle_i32x4(r[i], r[4 + i], 0x88);      /* lanes 0, 2 of each */
                t[4 + i] = _mm512_shuffle_i32x4(r[i], r[4 + i], 0xdd);  /* lanes 1, 3 */
                t[8 + i] = _mm512_shuffle_i32x4(r[8 + i], r[12 + i], 0x88);
                t[12 + i] = _mm512_shuffle_i32x4(r[8 + i], r[12 + i], 0xdd);
            }
            for (int i = 0; i < 4; i++) {
                __m512i a = _mm512_shuffle_i32x4(t[i], t[8 + i], 0x88), b = _mm512_shuffle_i32x4(t[4 + i], t[12 + i], 0x88);
                __m512i c = _mm512_shuffle_i32x4(t[i], t[8 + i], 0xdd), d = _mm512_shuffle_i32x4(t[4 + i], t[12 + i], 0xdd);
                __m512i o[4] = {a, b, c, d}; /* rows i, 4 + i, 8 + i, 12 + i */
                for (int h = 0; h < 4; h++)
                    if ((size_t)(4 * h + i) < mn) _mm512_storeu_si512(out + (m0 + 4 * h + i) * ldo + j, o[h]);
            }
        }
        for (size_t m = m0; m < m0 + mn; m++)
            for (size_t j = j16; j < jn; j++) out[m * ldo + j] = acc[j][m];
    }
}

/* K is cut into blocks of KC (the plan's lut_kc, from the L1 size) so the
 * panel's rows in use (2 x 256 x KC bytes) stay in L1 while every column
 * of the tile streams through them; the
 * columns' int32 sums live in `acc` between blocks. */
static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                size_t wstride, size_t nn, uint32_t *out, size_t ldo)
{
    int P = p->nplanes;
    size_t nb = (rows + 63) / 64, sbmax = (size_t)max_sb[P - 1], KC = p->lut_kc; /* <= 256 */
    uint32_t acc[NC][MR] __attribute__((aligned(64))); /* 64 KiB of stack */
    for (size_t j0 = 0; j0 < nn; j0 += NC) {
        size_t jn = nn - j0 < NC ? nn - j0 : NC;
        for (size_t j = 0; j < jn; j++) memset(acc[j], 0, nb * 64 * sizeof(uint32_t));
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t k1 = K - k0 < KC ? K : k0 + KC;
            for (size_t j = 0; j < jn; j++)
                for (size_t s0 = 0; s0 < nb;) {
                    size_t sb = nb - s0 < sbmax ? nb - s0 : sbmax;
                    blocks[P - 1][sb - 1](p->planes, panel, s0, k0, k1, w + (j0 + j) * wstride, acc[j] + 64 * s0);
                    s0 += sb;
                }
        }
        store_out(acc, rows, jn, out + j0, ldo);
    }
}

const ax_lut_ukernel ax_lut_ukernel_avx512vbmi = {
    .name = "lut_gemm_256x1__avx512vbmi", .mr = MR, .panel_bytes = panel_bytes, .pack_a = pack_a, .run = run};
