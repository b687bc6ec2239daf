/* lut_dwconv_256x1__avx512vbmi.c - the depthwise microkernel for AVX-512
 * VBMI (dwconv2d.c, ax_dw_ukernel): one output channel, up to 256 output
 * pixels per pass. The GEMM kernel's weight-stationary scheme turned
 * around: K (the taps) is tiny, so the pixels are the vector: for each tap,
 * the 256 min-subtracted products of its weight are loaded as byte planes
 * (four zmm per plane) and serve four blocks of 64 pixels, each a
 * contiguous run of input bytes (the phase planes of dwconv2d.c), looked
 * up with two vpermi2b and a blend per plane (lut_planes_avx512.h). 16-bit
 * partial sums are widened into int32 every 128 taps, all planes at once,
 * by vpermt2w and vpmaddwd. The store writes 16 channels of a pixel as one
 * 64-byte row of the NHWC output (16x16 int32 transposes), each pixel at
 * its own destination (dwconv2d.c: the sink for the pixels dropped), or
 * past the caches for large outputs (AX_DW_STREAM: the dropped ones skipped).
 * Compile with -mavx512f -mavx512bw -mavx512vl -mavx512vbmi. */
#include "kernels/avx512/lut_planes_avx512.h"
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

/* taps per round of 16-bit sums: 255 * 128 fits vpmaddwd's signed words */
enum { TC = 128 };

/* The 16-bit sums of P planes for 64 pixels as int32, added (or, first,
 * stored) into acc[64]: a lane of S[q] holds even + 256*odd and one of O[q]
 * the odd byte's sum (mod 2^16), so E = S - 256*O is the even byte's. One
 * vpermt2w per plane and 32 pixels puts the even and odd pixels' words in
 * the order the interleave of planes (q, q+1) wants, and one vpmaddwd by
 * (1, 256) of that interleave joins each pixel's pair of planes: int32 in
 * natural pixel order without vpmovzx or 64-bit lane permutes. */
static inline __attribute__((always_inline)) void widen(const __m512i *S, const __m512i *O, int P, bool first,
                                                        uint32_t *acc)
{
    /* word 8c + j of half h: pixel 32h + 4c + j, word 8c + 4 + j: pixel
     * 32h + 16 + 4c + j (j < 4); pixel p is word p/2 of E (even p) or of O */
    static const uint16_t ix[2][32] = {
        {0,  32, 1,  33, 8,  40, 9,  41, 2,  34, 3,  35, 10, 42, 11, 43,
         4,  36, 5,  37, 12, 44, 13, 45, 6,  38, 7,  39, 14, 46, 15, 47},
        {16, 48, 17, 49, 24, 56, 25, 57, 18, 50, 19, 51, 26, 58, 27, 59,
         20, 52, 21, 53, 28, 60, 29, 61, 22, 54, 23, 55, 30, 62, 31, 63}};
    const __m512i c = _mm512_set1_epi32(0x01000001), z = _mm512_setzero_si512();
    __m512i E[4];
    for (int q = 0; q < P; q++) E[q] = _mm512_sub_epi16(S[q], _mm512_slli_epi16(O[q], 8));
    for (int h = 0; h < 2; h++) {
        const __m512i idx = _mm512_loadu_si512(ix[h]);
        __m512i A[4];
        for (int q = 0; q < P; q++) A[q] = _mm512_permutex2var_epi16(E[q], idx, O[q]);
        for (int u = 0; u < 2; u++) {
            __m512i d = u ? _mm512_unpackhi_epi16(A[0], P > 1 ? A[1] : z) : _mm512_unpacklo_epi16(A[0], P > 1 ? A[1] : z);
            if (P > 1) d = _mm512_madd_epi16(d, c);
            if (P > 2) {
                __m512i e = u ? _mm512_unpackhi_epi16(A[2], P > 3 ? A[3] : z) : _mm512_unpacklo_epi16(A[2], P > 3 ? A[3] : z);
                if (P > 3) e = _mm512_madd_epi16(e, c);
                d = _mm512_add_epi32(d, _mm512_slli_epi32(e, 16));
            }
            uint32_t *a = acc + 32 * h + 16 * u;
            if (!first) d = _mm512_add_epi32(d, _mm512_load_si512(a));
            _mm512_store_si512(a, d);
        }
    }
}

/* SB blocks of 64 pixels from pixel i0, taps [t0, t1), P planes: stores
 * (t0 = 0) or adds the sums into acc + i0 (lanes past the run: garbage, read
 * from the 64 bytes past it). Each plane is looked up with two vpermi2b and
 * a blend on bit 7 (ax_lut256), one vpmovb2m per block for all planes. */
static inline __attribute__((always_inline)) void block(const uint8_t *planes, int P, int SB,
                                                        const uint8_t *const *src, const uint8_t *w, size_t t0,
                                                        size_t t1, size_t i0, uint32_t *acc)
{
    __m512i S[4][4], O[4][4];
#pragma GCC unroll 4
    for (int s = 0; s < SB; s++)
#pragma GCC unroll 4
        for (int q = 0; q < P; q++) S[s][q] = O[s][q] = _mm512_setzero_si512();
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
            __m512i x = _mm512_loadu_si512(a + 64 * s);
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
                                 size_t t1, size_t i0, uint32_t *acc)                                        \
    {                                                                                                         \
        block(planes, P, SB, src, w, t0, t1, i0, acc);                                                        \
    }
BLOCK_FN(1, 1) BLOCK_FN(1, 2) BLOCK_FN(1, 3) BLOCK_FN(1, 4)
BLOCK_FN(2, 1) BLOCK_FN(2, 2) BLOCK_FN(2, 3) BLOCK_FN(2, 4)
BLOCK_FN(3, 1) BLOCK_FN(3, 2)
BLOCK_FN(4, 1)

typedef void (*block_fn)(const uint8_t *, const uint8_t *const *, const uint8_t *, size_t, size_t, size_t,
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
            blocks[P - 1][sb - 1](p->dw_planes, src, w, t0, ntaps - t0 < TC ? ntaps : t0 + TC, b0 * 64, acc);
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
 * and transposed into one 64-byte output row per pixel, stored at its dst
 * (the sink for pixels not kept: no tests; streamed: NULL, skipped, since
 * every row's dropped pixels would stream into one line). */
static void store(const uint32_t *acc, size_t lda, size_t nch, const uint32_t *corr, size_t n,
                  uint32_t *const *dst, size_t c0, ax_dw_out mode)
{
    __mmask16 m = nch >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nch) - 1);
    __m512i c = _mm512_maskz_loadu_epi32(m, corr);
    bool accumulate = mode == AX_DW_ADD;
    for (size_t i0 = 0; i0 < n; i0 += 16) {
        __m512i in[16], out[16];
        for (size_t j = 0; j < 16; j++)
            in[j] = j < nch ? _mm512_load_si512(acc + j * lda + i0) : _mm512_setzero_si512();
        transpose16(in, out);
        size_t ni = n - i0 < 16 ? n - i0 : 16;
        if (mode == AX_DW_STREAM) /* no read for ownership: half the store's memory traffic */
            for (size_t i = 0; i < ni; i++) {
                if (dst[i0 + i]) _mm512_stream_si512((__m512i *)(dst[i0 + i] + c0), _mm512_add_epi32(out[i], c));
            }
        else if (m == 0xffff) /* masked stores measured slower here (Zen 5) */
            for (size_t i = 0; i < ni; i++) {
                uint32_t *y = dst[i0 + i] + c0;
                __m512i v = _mm512_add_epi32(out[i], c);
                if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512(y));
                _mm512_storeu_si512(y, v);
            }
        else
            for (size_t i = 0; i < ni; i++) {
                uint32_t *y = dst[i0 + i] + c0;
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
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        const uint8_t *const *r = pix + 4 * i;
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(r[0] + k)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r[1] + k)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r[2] + k)), 2);
        A[i] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(r[3] + k)), 3);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512i P = _mm512_permutex2var_epi8(A[0], idx1[j], A[1]), Q = _mm512_permutex2var_epi8(A[2], idx1[j], A[3]);
        o[j] = _mm512_permutex2var_epi8(P, idx2, Q);
    }
}

/* dst[k * ldd + m] = pix[m][k0 + k] for m < n, k < C (dwconv2d.c's layout: pix
 * lists the padded phase planes' pixels, pad pixels included): blocks of 64
 * pixels x 16 channels (four t16, then a 4x4 transpose of 128-bit lanes: one
 * 64-byte store per channel), then 16-pixel blocks, the last one
 * overlapping; channels past a multiple of 16, and n < 16, byte by byte.
 * The loops over t16's vectors are unrolled: GCC kept A and o on the stack
 * otherwise (24 zmm spills and reloads per 64 pixels; 2.4x slower in L1). */
static void transpose(size_t n, size_t k0, size_t C, const uint8_t *const *pix, uint8_t *dst, size_t ldd)
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
#pragma GCC unroll 4
            for (int b = 0; b < 4; b++) t16(pix + m + 16 * (size_t)b, k0 + k, idx1, idx2, o[b]);
#pragma GCC unroll 4
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
            t16(pix + m, k0 + k, idx1, idx2, o);
#pragma GCC unroll 4
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
        for (size_t k = k16; k < C; k++) dst[k * ldd + m] = pix[m][k0 + k];
}

const ax_dw_ukernel ax_dw_ukernel_avx512vbmi = {
    .name = "lut_dwconv_256x1__avx512vbmi", .run = run, .store = store, .transpose = transpose};
