/* lut_dwconv_3x3__avx2.c - the depthwise LUT microkernel on AVX2 for 3x3
 * kernels (dilation 1, stride 1 or 2 along the rows; ax_dw_ukernel's
 * run_3x3, called by dwconv2d.c on its phase planes): per-channel row
 * tables. For kernel row dy the 16-byte entry R_dy[a] holds the products
 * of input byte a with the row's three weights (taps reversed, lane 3
 * zero), so one xmm load-add delivers three MACs, where the generic kernel
 * (lut_dwconv_16x1__avx2.c) spends a load and an insert per MAC; the
 * channel's tables (12 KiB, stride 2: 24 KiB) are built on the stack per
 * call from the table's columns and stay in L1. Along the run a shift
 * register S (lane k: the partial sum of the output k pixels behind the
 * newest) takes, per input position, the three kernel rows' entries; lane
 * 0 is then complete. Stride 2: the even phase's entry adds (w2 -> lane 0,
 * w0 -> lane 1), the odd phase's w1 -> lane 1: two tables a kernel row. */
#include "kernels/gemm_internal.h"

#include <immintrin.h>

/* dst[a] = (x0[a] - m0, x1[a] - m1, x2[a] - m2, 0) for a < 256, x NULL: 0;
 * 8 entries per round, two per 32-byte store (the build is ~a sixth of a
 * 7x7 layer's kernel time: 512 outputs per channel and chunk) */
static void interleave(__m128i *dst, const uint32_t *x0, uint32_t m0, const uint32_t *x1, uint32_t m1,
                       const uint32_t *x2, uint32_t m2)
{
    const __m256i z = _mm256_setzero_si256(), v0 = _mm256_set1_epi32((int)-m0), v1 = _mm256_set1_epi32((int)-m1),
                  v2 = _mm256_set1_epi32((int)-m2);
    for (int a = 0; a < 256; a += 8) {
        __m256i c0 = x0 ? _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(x0 + a)), v0) : z;
        __m256i c1 = x1 ? _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(x1 + a)), v1) : z;
        __m256i c2 = x2 ? _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(x2 + a)), v2) : z;
        __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
        __m256i t2 = _mm256_unpacklo_epi32(c2, z), t3 = _mm256_unpackhi_epi32(c2, z);
        /* entries (a, a+4), (a+1, a+5), (a+2, a+6), (a+3, a+7) */
        __m256i e0 = _mm256_unpacklo_epi64(t0, t2), e1 = _mm256_unpackhi_epi64(t0, t2);
        __m256i e2 = _mm256_unpacklo_epi64(t1, t3), e3 = _mm256_unpackhi_epi64(t1, t3);
        __m256i *d = (__m256i *)(dst + a);
        _mm256_store_si256(d, _mm256_permute2x128_si256(e0, e1, 0x20));
        _mm256_store_si256(d + 1, _mm256_permute2x128_si256(e2, e3, 0x20));
        _mm256_store_si256(d + 2, _mm256_permute2x128_si256(e0, e1, 0x31));
        _mm256_store_si256(d + 3, _mm256_permute2x128_si256(e2, e3, 0x31));
    }
}

/* stride 1: R[dy*256 + a] = (tap 2, tap 1, tap 0, 0); stride 2: E at
 * R[2dy*256 + a] = (tap 2, tap 0, 0, 0), O at R[(2dy+1)*256 + a] = (0, tap 1, 0, 0) */
static void build(const ax_gemm_plan *p, size_t sw, const uint8_t *w, __m128i *R)
{
    const uint32_t *tt = (const uint32_t *)p->table_t, *cm = p->dw_colmin;
    for (int dy = 0; dy < 3; dy++) {
        const uint8_t *k = w + 3 * dy;
        const uint32_t *c0 = tt + k[0] * 256u, *c1 = tt + k[1] * 256u, *c2 = tt + k[2] * 256u;
        uint32_t m0 = cm ? cm[k[0]] : 0, m1 = cm ? cm[k[1]] : 0, m2 = cm ? cm[k[2]] : 0;
        if (sw == 1) {
            interleave(R + dy * 256, c2, m2, c1, m1, c0, m0);
        } else {
            interleave(R + 2 * dy * 256, c2, m2, c0, m0, NULL, 0);
            interleave(R + (2 * dy + 1) * 256, NULL, 0, c1, m1, NULL, 0);
        }
    }
}

/* Four steps of the shift register at once (outputs i..i+3, positions
 * i+d..i+d+3): with t0..t3 the entries' sums of the four positions, step k leaves srli(S, 4(k+1)) + (srli(t0, 4k) +
 * ... + t_k), whose lane 0 is output k; srli(S, 16) is 0, so S after the
 * block is the last partial sum alone and the loop carries no add chain
 * (one step at a time: ~5.5 cycles per output on Zen 5, the latency of
 * the shift and adds; this: ~2). */
#define BLOCK4(T, i, d)                                                                                         \
    do {                                                                                                       \
        __m128i t0 = T(i + d), t1 = T(i + d + 1), t2 = T(i + d + 2), t3 = T(i + d + 3);                        \
        __m128i u1 = _mm_add_epi32(_mm_srli_si128(t0, 4), t1), u2 = _mm_add_epi32(_mm_srli_si128(u1, 4), t2);  \
        __m128i s0 = _mm_add_epi32(_mm_srli_si128(S, 4), t0), s1 = _mm_add_epi32(_mm_srli_si128(S, 8), u1);    \
        __m128i s2 = _mm_add_epi32(_mm_srli_si128(S, 12), u2);                                                 \
        S = _mm_add_epi32(_mm_srli_si128(u2, 4), t3);                                                          \
        _mm_storeu_si128((__m128i *)(acc + i),                                                                 \
                         _mm_unpacklo_epi64(_mm_unpacklo_epi32(s0, s1), _mm_unpacklo_epi32(s2, S)));            \
    } while (0)

/* src as ax_dw_ukernel's run (9 taps, tap = 3 dy + dx): kernel row dy
 * reads the run at src[3dy] (and, stride 2, the odd phase's at src[3dy + 1]);
 * position i + 2 (stride 2: i + 1) completes output i. Outputs go in blocks
 * of 4 (acc has room for n rounded up to 64, the runs 64 readable bytes
 * past their end). */
void ax_lut_dwconv_3x3__avx2(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t sw, size_t n,
                             uint32_t *acc)
{
    _Alignas(64) __m128i R[6 * 256];
    build(p, sw, w, R);
    const uint8_t *q0 = src[0], *q1 = src[3], *q2 = src[6];
    if (sw == 1) {
        const __m128i *R0 = R, *R1 = R + 256, *R2 = R + 512;
#define T1(j)                                                                                                  \
    _mm_add_epi32(_mm_add_epi32(_mm_load_si128(R0 + q0[j]), _mm_load_si128(R1 + q1[j])), _mm_load_si128(R2 + q2[j]))
        __m128i S = _mm_add_epi32(_mm_srli_si128(T1(0), 4), T1(1));
        for (size_t i = 0; i < n; i += 4) BLOCK4(T1, i, 2);
#undef T1
        return;
    }
    const uint8_t *o0 = src[1], *o1 = src[4], *o2 = src[7];
    const __m128i *E0 = R, *O0 = R + 256, *E1 = R + 512, *O1 = R + 768, *E2 = R + 1024, *O2 = R + 1280;
    /* the odd phase's entries have lane 0 clear: adding them in the same
     * step leaves the completed lane as it is */
#define T2(j)                                                                                                  \
    _mm_add_epi32(                                                                                             \
        _mm_add_epi32(_mm_add_epi32(_mm_load_si128(E0 + q0[j]), _mm_load_si128(E1 + q1[j])),                   \
                      _mm_load_si128(E2 + q2[j])),                                                             \
        _mm_add_epi32(_mm_add_epi32(_mm_load_si128(O0 + o0[j]), _mm_load_si128(O1 + o1[j])), _mm_load_si128(O2 + o2[j])))
    __m128i S = T2(0);
    for (size_t i = 0; i < n; i += 4) BLOCK4(T2, i, 1);
#undef T2
}
