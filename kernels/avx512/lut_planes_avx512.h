/* lut_planes_avx512.h - what the AVX-512 VBMI LUT kernels (GEMM and
 * depthwise) share: the 256-entry byte lookup of 64 activations in one byte
 * plane held as four zmm (four vpermb, or two vpermi2b and a blend), and
 * the widening of the 16-bit partial sums into int32 row sums. Include only
 * from files compiled with -mavx512vbmi. */
#ifndef AX_LUT_PLANES_AVX512_H
#define AX_LUT_PLANES_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* T[x] for 64 activation bytes x, T the plane's quarters T0..T3: quarters
 * 0|1 and 2|3 chosen by bit 6 (b6, merge-masked vpermb), then by bit 7. */
static inline __attribute__((always_inline)) __m512i ax_lut64(__m512i x, __mmask64 b6, __mmask64 b7, __m512i T0,
                                                              __m512i T1, __m512i T2, __m512i T3)
{
    __m512i r01 = _mm512_mask_permutexvar_epi8(_mm512_permutexvar_epi8(x, T0), b6, x, T1);
    __m512i r23 = _mm512_mask_permutexvar_epi8(_mm512_permutexvar_epi8(x, T2), b6, x, T3);
    return _mm512_mask_blend_epi8(b7, r01, r23);
}

/* The same with two-table permutes: vpermi2b looks up 128 entries (bits
 * 0..6 of x) in two zmm, so halves 0|1 and 2|3 take one each, and bit 7
 * (b7) blends them. On Zen 5 vpermi2b and vpermb both issue 2 per cycle, so
 * this is half the permutes of ax_lut64. */
static inline __attribute__((always_inline)) __m512i ax_lut256(__m512i x, __mmask64 b7, __m512i T0, __m512i T1,
                                                               __m512i T2, __m512i T3)
{
    __m512i lo = _mm512_permutex2var_epi8(T0, x, T1), hi = _mm512_permutex2var_epi8(T2, x, T3);
    return _mm512_mask_blend_epi8(b7, lo, hi);
}

/* The 16-bit sums (S, O) of one plane for 64 rows as int32, rows 16i..16i+15
 * in d[i]: a lane of S holds even + 256*odd and one of O the odd byte's sum
 * (mod 2^16), both exact for up to 256 additions of bytes. */
static inline __attribute__((always_inline)) void ax_lut_sums32(__m512i S, __m512i O, __m512i d[4])
{
    const __m512i idx0 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i idx1 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512i E = _mm512_sub_epi16(S, _mm512_slli_epi16(O, 8));
    __m512i lo = _mm512_unpacklo_epi16(E, O), hi = _mm512_unpackhi_epi16(E, O);
    __m512i w0 = _mm512_permutex2var_epi64(lo, idx0, hi); /* rows 0..31 */
    __m512i w1 = _mm512_permutex2var_epi64(lo, idx1, hi); /* rows 32..63 */
    d[0] = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(w0));
    d[1] = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(w0, 1));
    d[2] = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(w1));
    d[3] = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(w1, 1));
}

#endif
