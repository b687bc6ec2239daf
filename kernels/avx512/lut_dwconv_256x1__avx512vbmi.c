/* lut_dwconv_256x1__avx512vbmi.c - the depthwise microkernel for AVX-512
 * VBMI (dwconv2d.c, ax_dw_ukernel): one output channel, up to 256 output
 * pixels per pass. The GEMM kernel's weight-stationary scheme turned
 * around: K (the taps) is tiny, so the pixels are the vector: for each tap,
 * the 256 min-subtracted products of its weight are loaded as byte planes
 * (four zmm per plane) and serve four blocks of 64 pixels, each a
 * contiguous run of input bytes (the phase planes of dwconv2d.c), looked
 * up with two vpermi2b and a blend per plane (lut_planes_avx512.h). 16-bit
 * partial sums are widened into int32 every 256 taps, all planes at once. The store writes 16 channels of a
 * pixel as one 64-byte row of the NHWC output (16x16 int32 transposes). Compile with -mavx512f -mavx512bw -mavx512vl -mavx512vbmi. */
#include "kernels/avx512/lut_planes_avx512.h"
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

enum { TC = 256 }; /* taps per round of 16-bit sums */

/* Adds (or, first, stores) the 16-bit sums (S[q], O[q]) of P planes for 64
 * pixels into acc[64]: a lane of S[q] holds even + 256*odd and one of O[q]
 * the odd byte's sum (mod 2^16), both exact for up to 256 additions; the
 * planes are joined in int32 (plane q << 8q), so acc is read and written
 * once for all of them. */
static inline __attribute__((always_inline)) void widen(const __m512i *S, const __m512i *O, int P, bool first,
                                                        uint32_t *acc)
{
    __m512i d[4];
#pragma GCC unroll 4
    for (int q = 0; q < P; q++) {
        __m512i e[4];
        ax_lut_sums32(S[q], O[q], e);
        for (int i = 0; i < 4; i++) {
            if (q) e[i] = _mm512_slli_epi32(e[i], (unsigned)(8 * q));
            d[i] = q ? _mm512_add_epi32(d[i], e[i]) : e[i];
        }
    }
    for (int i = 0; i < 4; i++) {
        if (!first) d[i] = _mm512_add_epi32(d[i], _mm512_loadu_si512(acc + 16 * i));
        _mm512_storeu_si512(acc + 16 * i, d[i]);
    }
}

/* SB blocks of 64 pixels from pixel i0 (n pixels in all: later lanes are
 * masked off), taps [t0, t1), P planes: stores (t0 = 0) or adds the sums
 * into acc + i0. Each plane is looked up with two vpermi2b and a blend on
 * bit 7 (ax_lut256), one vpmovb2m per block for all planes. */
static inline __attribute__((always_inline)) void block(const uint8_t *planes, int P, int SB,
                                                        const uint8_t *const *src, const uint8_t *w, size_t t0,
                                                        size_t t1, size_t i0, size_t n, uint32_t *acc)
{
    __m512i S[4][4], O[4][4];
    __mmask64 live[4];
#pragma GCC unroll 4
    for (int s = 0; s < SB; s++) {
        size_t at = i0 + 64 * (size_t)s, left = n > at ? n - at : 0;
        live[s] = left >= 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)left);
#pragma GCC unroll 4
        for (int q = 0; q < P; q++) S[s][q] = O[s][q] = _mm512_setzero_si512();
    }
    for (size_t t = t0; t < t1; t++) {
        const uint8_t *tab = planes + (size_t)w[t] * (size_t)P * 256;
        __m512i T[4][4];
#pragma GCC unroll 4
        for (int q = 0; q < P; q++)
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) T[q][i] = _mm512_load_si512(tab + q * 256 + 64 * i);
        const uint8_t *a = src[t] + i0;
#pragma GCC unroll 4
        for (int s = 0; s < SB; s++) {
            __m512i x = _mm512_maskz_loadu_epi8(live[s], a + 64 * s);
            __mmask64 b7 = _mm512_movepi8_mask(x);
#pragma GCC unroll 4
            for (int q = 0; q < P; q++) {
                __m512i r = ax_lut256(x, b7, T[q][0], T[q][1], T[q][2], T[q][3]);
                S[s][q] = _mm512_add_epi16(S[s][q], r);
                O[s][q] = _mm512_add_epi16(O[s][q], _mm512_srli_epi16(r, 8));
                __asm__("" : "+v"(S[s][q]), "+v"(O[s][q])); /* keeps the sums in place */
            }
        }
    }
#pragma GCC unroll 4
    for (int s = 0; s < SB; s++) widen(S[s], O[s], P, t0 == 0, acc + i0 + 64 * (size_t)s);
}

#define BLOCK_FN(P, SB)                                                                                       \
    static void block_##P##_##SB(const uint8_t *planes, const uint8_t *const *src, const uint8_t *w, size_t t0, \
                                 size_t t1, size_t i0, size_t n, uint32_t *acc)                              \
    {                                                                                                         \
        block(planes, P, SB, src, w, t0, t1, i0, n, acc);                                                     \
    }
BLOCK_FN(1, 1) BLOCK_FN(1, 2) BLOCK_FN(1, 3) BLOCK_FN(1, 4)
BLOCK_FN(2, 1) BLOCK_FN(2, 2) BLOCK_FN(2, 3) BLOCK_FN(2, 4)
BLOCK_FN(3, 1) BLOCK_FN(3, 2)
BLOCK_FN(4, 1)

typedef void (*block_fn)(const uint8_t *, const uint8_t *const *, const uint8_t *, size_t, size_t, size_t, size_t,
                         uint32_t *);
static const block_fn blocks[4][4] = {{block_1_1, block_1_2, block_1_3, block_1_4},
                                      {block_2_1, block_2_2, block_2_3, block_2_4},
                                      {block_3_1, block_3_2, NULL, NULL},
                                      {block_4_1, NULL, NULL, NULL}};
static const size_t max_sb[4] = {4, 4, 2, 1};

/* blocks of pixels outer, rounds of TC taps inner: the first round stores */
static void run(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t ntaps, size_t n,
                uint32_t *acc)
{
    int P = p->dw_nplanes;
    size_t nb = (n + 63) / 64;
    for (size_t b0 = 0; b0 < nb;) {
        size_t sb = nb - b0 < max_sb[P - 1] ? nb - b0 : max_sb[P - 1];
        for (size_t t0 = 0; t0 < ntaps; t0 += TC)
            blocks[P - 1][sb - 1](p->dw_planes, src, w, t0, ntaps - t0 < TC ? ntaps : t0 + TC, b0 * 64, n, acc);
        b0 += sb;
    }
}

/* r[i][j] -> o[j][i] for 16 x 16 int32: unpacks of 32 and 64 bits, then
 * two rounds of 128-bit lane shuffles. */
static inline __attribute__((always_inline)) void transpose16(const __m512i r[16], __m512i o[16])
{
    __m512i t[16], u[4][4];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) { /* u[g][c]: lane l holds column 4l + c of rows 4g..4g+3 */
        u[g][0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[g][1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[g][2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[g][3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    for (int c = 0; c < 4; c++) {
        __m512i P = _mm512_shuffle_i32x4(u[0][c], u[1][c], 0x88), Q = _mm512_shuffle_i32x4(u[0][c], u[1][c], 0xdd);
        __m512i R = _mm512_shuffle_i32x4(u[2][c], u[3][c], 0x88), S = _mm512_shuffle_i32x4(u[2][c], u[3][c], 0xdd);
        o[c] = _mm512_shuffle_i32x4(P, R, 0x88);
        o[8 + c] = _mm512_shuffle_i32x4(P, R, 0xdd);
        o[4 + c] = _mm512_shuffle_i32x4(Q, S, 0x88);
        o[12 + c] = _mm512_shuffle_i32x4(Q, S, 0xdd);
    }
}

/* 16 pixels x 16 channels at a time: the channels' runs are loaded as rows
 * and transposed into one 64-byte output row per pixel. */
static void store(const uint32_t *acc, size_t lda, size_t nch, const uint32_t *corr, size_t rows, size_t ow,
                  size_t ws, uint32_t *Y, size_t ldy, bool accumulate)
{
    __mmask16 m = nch >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nch) - 1);
    __m512i c = _mm512_maskz_loadu_epi32(m, corr);
    for (size_t r = 0; r < rows; r++)
        for (size_t x0 = 0; x0 < ow; x0 += 16) {
            size_t xn = ow - x0 < 16 ? ow - x0 : 16;
            __mmask16 mx = (__mmask16)_bzhi_u32(0xffff, (unsigned)xn);
            __m512i in[16], out[16];
            for (size_t j = 0; j < 16; j++)
                in[j] = j < nch ? _mm512_maskz_loadu_epi32(mx, acc + j * lda + r * ws + x0) : _mm512_setzero_si512();
            transpose16(in, out);
            if (m == 0xffff) /* masked stores measured slower here (Zen 5) */
                for (size_t i = 0; i < xn; i++) {
                    uint32_t *y = Y + (r * ow + x0 + i) * ldy;
                    __m512i v = _mm512_add_epi32(out[i], c);
                    if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512(y));
                    _mm512_storeu_si512(y, v);
                }
            else
                for (size_t i = 0; i < xn; i++) {
                    uint32_t *y = Y + (r * ow + x0 + i) * ldy;
                    __m512i v = _mm512_add_epi32(out[i], c);
                    if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, y));
                    _mm512_mask_storeu_epi32(y, m, v);
                }
        }
}

/* 16 pixels x 16 channels (pixel m's channels at pix[m] + k) into o[j]:
 * lane l holds channel 4j + l's 16 pixels. Two rounds of vpermt2b: pixels
 * 0..7 and 8..15 of four channels, then both halves. */
static inline __attribute__((always_inline)) void t16(const uint8_t *const *pix, size_t k, const __m512i idx1[4],
                                                      __m512i idx2, __m512i o[4])
{
    __m512i A[4];
    for (int i = 0; i < 4; i++) {
        const uint8_t *const *r = pix + 4 * i;
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(r[0] + k)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r[1] + k)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r[2] + k)), 2);
        A[i] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r[3] + k)), 3);
    }
    for (int j = 0; j < 4; j++) {
        __m512i P = _mm512_permutex2var_epi8(A[0], idx1[j], A[1]), Q = _mm512_permutex2var_epi8(A[2], idx1[j], A[3]);
        o[j] = _mm512_permutex2var_epi8(P, idx2, Q);
    }
}

/* dst[k * ldd + m] = pix[m][k] for m < n, k < C (dwconv2d.c's layout: pix
 * lists the padded phase planes' pixels, pad pixels included): blocks of 64
 * pixels x 16 channels (four t16, then a 4x4 transpose of 128-bit lanes: one
 * 64-byte store per channel), then 16-pixel blocks, the last one
 * overlapping; channels past a multiple of 16, and n < 16, byte by byte. */
static void transpose(size_t n, size_t C, const uint8_t *const *pix, uint8_t *dst, size_t ldd)
{
    uint8_t b1[4][64], b2[64];
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 4; l++)
            for (int m = 0; m < 16; m++) /* P byte 16l + m (m < 8): pixel m of channel 4j + l */
                b1[j][16 * l + m] = (uint8_t)(m < 8 ? (m / 4) * 64 + (m % 4) * 16 + 4 * j + l : 0);
    for (int l = 0; l < 4; l++)
        for (int m = 0; m < 16; m++) b2[16 * l + m] = (uint8_t)(m < 8 ? 16 * l + m : 64 + 16 * l + m - 8);
    __m512i idx1[4], idx2 = _mm512_loadu_si512(b2);
    for (int j = 0; j < 4; j++) idx1[j] = _mm512_loadu_si512(b1[j]);
    size_t k16 = n >= 16 ? C / 16 * 16 : 0;
    for (size_t k = 0; k < k16; k += 16) {
        size_t m = 0;
        for (; m + 64 <= n; m += 64) {
            __m512i o[4][4];
            for (int b = 0; b < 4; b++) t16(pix + m + 16 * (size_t)b, k, idx1, idx2, o[b]);
            for (int j = 0; j < 4; j++) {
                __m512i t0 = _mm512_shuffle_i32x4(o[0][j], o[1][j], 0x44), t1 = _mm512_shuffle_i32x4(o[0][j], o[1][j], 0xee);
                __m512i t2 = _mm512_shuffle_i32x4(o[2][j], o[3][j], 0x44), t3 = _mm512_shuffle_i32x4(o[2][j], o[3][j], 0xee);
                uint8_t *d = dst + (k + 4 * (size_t)j) * ldd + m;
                _mm512_storeu_si512(d, _mm512_shuffle_i32x4(t0, t2, 0x88));
                _mm512_storeu_si512(d + ldd, _mm512_shuffle_i32x4(t0, t2, 0xdd));
                _mm512_storeu_si512(d + 2 * ldd, _mm512_shuffle_i32x4(t1, t3, 0x88));
                _mm512_storeu_si512(d + 3 * ldd, _mm512_shuffle_i32x4(t1, t3, 0xdd));
            }
        }
        for (; m < n; m += 16) {
            if (m + 16 > n) m = n - 16;
            __m512i o[4];
            t16(pix + m, k, idx1, idx2, o);
            for (int j = 0; j < 4; j++) {
                uint8_t *d = dst + (k + 4 * (size_t)j) * ldd + m;
                _mm_storeu_si128((__m128i *)d, _mm512_castsi512_si128(o[j]));
                _mm_storeu_si128((__m128i *)(d + ldd), _mm512_extracti32x4_epi32(o[j], 1));
                _mm_storeu_si128((__m128i *)(d + 2 * ldd), _mm512_extracti32x4_epi32(o[j], 2));
                _mm_storeu_si128((__m128i *)(d + 3 * ldd), _mm512_extracti32x4_epi32(o[j], 3));
            }
        }
    }
    for (size_t m = 0; m < n; m++)
        for (size_t k = k16; k < C; k++) dst[k * ldd + m] = pix[m][k];
}

const ax_dw_ukernel ax_dw_ukernel_avx512vbmi = {
    .name = "lut_dwconv_256x1__avx512vbmi", .run = run, .store = store, .transpose = transpose};
