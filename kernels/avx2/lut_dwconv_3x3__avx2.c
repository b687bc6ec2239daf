/* lut_dwconv_3x3__avx2.c - the depthwise LUT microkernel on AVX2 for 3x3
 * kernels of one input channel (dilation 1, stride 1 or 2 along the rows:
 * ax_dw_ukernel's run_3x3, on dwconv2d.c's phase planes): per-channel row
 * tables. For kernel row dy the entry R_dy[a] holds the products of input
 * byte a with the row's three weights (taps reversed), so one xmm load-add
 * delivers three MACs where lut_dwconv_16x1__avx2.c spends a load and an
 * insert per MAC. A call builds its channel's tables on the stack (12 KiB,
 * in L1) from the transposed table's columns (AVX2 plans subtract no
 * column minimum). Along the run a shift register S (lane k: the partial
 * sum of the output k pixels behind the newest position) takes each
 * position's entries; lane 0 is then complete. */
#include "kernels/gemm_internal.h"

#include <immintrin.h>

/* Stride 1: R[dy*256 + a] = (tap 2, tap 1, tap 0, 0) of kernel row dy,
 * 8 entries per round, two per 32-byte store */
static void build_s1(const ax_gemm_plan *p, const uint8_t *w, __m128i *R)
{
    const uint32_t *tt = (const uint32_t *)p->table_t;
    const __m256i z = _mm256_setzero_si256();
    for (int dy = 0; dy < 3; dy++) {
        const uint32_t *x0 = tt + w[3 * dy + 2] * 256u, *x1 = tt + w[3 * dy + 1] * 256u, *x2 = tt + w[3 * dy] * 256u;
        __m256i *d = (__m256i *)(R + dy * 256);
        for (int a = 0; a < 256; a += 8, d += 4) {
            __m256i c0 = _mm256_loadu_si256((const __m256i *)(x0 + a)), c1 = _mm256_loadu_si256((const __m256i *)(x1 + a));
            __m256i c2 = _mm256_loadu_si256((const __m256i *)(x2 + a));
            __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
            __m256i t2 = _mm256_unpacklo_epi32(c2, z), t3 = _mm256_unpackhi_epi32(c2, z);
            /* entries (a, a+4), (a+1, a+5), (a+2, a+6), (a+3, a+7) */
            __m256i e0 = _mm256_unpacklo_epi64(t0, t2), e1 = _mm256_unpackhi_epi64(t0, t2);
            __m256i e2 = _mm256_unpacklo_epi64(t1, t3), e3 = _mm256_unpackhi_epi64(t1, t3);
            _mm256_store_si256(d, _mm256_permute2x128_si256(e0, e1, 0x20));
            _mm256_store_si256(d + 1, _mm256_permute2x128_si256(e2, e3, 0x20));
            _mm256_store_si256(d + 2, _mm256_permute2x128_si256(e0, e1, 0x31));
            _mm256_store_si256(d + 3, _mm256_permute2x128_si256(e2, e3, 0x31));
        }
    }
}

/* Stride 2: the even phase's entry E_dy[a] = (tap 2, tap 0) (tap 2 ends
 * the output behind), the odd phase's O_dy[a] = (0, tap 1): 8 bytes, so
 * the index needs no shift (scale 8); tables [E0 O0 E1 O1 E2 O2] of 2 KiB
 * and 16 bytes of slack. The lookups load 16 bytes (the upper half the next
 * entry), cleared once per position. */
static void build_s2(const ax_gemm_plan *p, const uint8_t *w, uint64_t *T)
{
    const uint32_t *tt = (const uint32_t *)p->table_t;
    const __m256i z = _mm256_setzero_si256();
    for (int dy = 0; dy < 3; dy++) {
        const uint32_t *c0 = tt + w[3 * dy] * 256u, *c1 = tt + w[3 * dy + 1] * 256u, *c2 = tt + w[3 * dy + 2] * 256u;
        __m256i *E = (__m256i *)(T + 2 * dy * 256), *O = (__m256i *)(T + (2 * dy + 1) * 256);
        for (int a = 0; a < 256; a += 8, E += 2, O += 2) {
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(c0 + a)), x1 = _mm256_loadu_si256((const __m256i *)(c1 + a));
            __m256i x2 = _mm256_loadu_si256((const __m256i *)(c2 + a));
            __m256i el = _mm256_unpacklo_epi32(x2, x0), eh = _mm256_unpackhi_epi32(x2, x0); /* (a, a+1 | a+4, a+5) */
            __m256i ol = _mm256_unpacklo_epi32(z, x1), oh = _mm256_unpackhi_epi32(z, x1);
            _mm256_store_si256(E, _mm256_permute2x128_si256(el, eh, 0x20));
            _mm256_store_si256(E + 1, _mm256_permute2x128_si256(el, eh, 0x31));
            _mm256_store_si256(O, _mm256_permute2x128_si256(ol, oh, 0x20));
            _mm256_store_si256(O + 1, _mm256_permute2x128_si256(ol, oh, 0x31));
        }
    }
    T[6 * 256] = T[6 * 256 + 1] = 0;
}

/* Four steps of the shift register at once (outputs i..i+3, positions
 * i+d..i+d+3): with t0..t3 the four positions' entry sums (lane 3 zero),
 * step k leaves srli(S, 4(k+1)) + (srli(t0, 4k) + ... + t_k), whose lane
 * 0 is output i+k; srli(S, 16) is 0, so S after the block is the last
 * partial sum alone and the loop carries no add chain (one step at a
 * time: ~5.5 cycles per output on Zen 5, the shift and adds' latency;
 * this: ~2). */
#define BLOCK4(T, i, d)                                                                                        \
    do {                                                                                                       \
        __m128i t0 = T(i + d), t1 = T(i + d + 1), t2 = T(i + d + 2), t3 = T(i + d + 3);                        \
        __m128i u1 = _mm_add_epi32(_mm_srli_si128(t0, 4), t1), u2 = _mm_add_epi32(_mm_srli_si128(u1, 4), t2);  \
        __m128i s0 = _mm_add_epi32(_mm_srli_si128(S, 4), t0), s1 = _mm_add_epi32(_mm_srli_si128(S, 8), u1);    \
        __m128i s2 = _mm_add_epi32(_mm_srli_si128(S, 12), u2);                                                 \
        S = _mm_add_epi32(_mm_srli_si128(u2, 4), t3);                                                          \
        __m128i o = _mm_unpacklo_epi64(_mm_unpacklo_epi32(s0, s1), _mm_unpacklo_epi32(s2, S));                 \
        if (add) o = _mm_add_epi32(o, _mm_loadu_si128((const __m128i *)(acc + i)));                            \
        _mm_storeu_si128((__m128i *)(acc + i), o);                                                             \
    } while (0)

/* src as ax_dw_ukernel's run (9 taps, tap = 3 dy + dx): kernel row dy
 * reads the run at src[3dy] (stride 2: the even phase; the odd phase's at
 * src[3dy + 1]); position i + 2 (stride 2: i + 1) completes output i.
 * Outputs go in blocks of 4 (acc has room for n rounded up to 64, the runs
 * 64 readable bytes past their end). add: onto acc's sums (grouped layers
 * of several input channels: one call per channel). */
void ax_lut_dwconv_3x3__avx2(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t sw, size_t n,
                             uint32_t *acc, bool add)
{
    _Alignas(64) __m128i R[3 * 256 + 1];
    const uint8_t *q0 = src[0], *q1 = src[3], *q2 = src[6];
    if (sw == 1) {
        build_s1(p, w, R);
        const __m128i *R0 = R, *R1 = R + 256, *R2 = R + 512;
#define T1(j)                                                                                                  \
    _mm_add_epi32(_mm_add_epi32(_mm_load_si128(R0 + q0[j]), _mm_load_si128(R1 + q1[j])), _mm_load_si128(R2 + q2[j]))
        __m128i S = _mm_add_epi32(_mm_srli_si128(T1(0), 4), T1(1));
        for (size_t i = 0; i < n; i += 4) BLOCK4(T1, i, 2);
#undef T1
        return;
    }
    uint64_t *T = (uint64_t *)R;
    build_s2(p, w, T);
    const uint8_t *o0 = src[1], *o1 = src[4], *o2 = src[7];
    const uint64_t *E0 = T, *O0 = T + 256, *E1 = T + 512, *O1 = T + 768, *E2 = T + 1024, *O2 = T + 1280;
    const __m128i lo = _mm_set_epi32(0, 0, -1, -1);
#define L8(B, q, j) _mm_loadu_si128((const __m128i *)((B) + (q)[j]))
#define T2(j)                                                                                                  \
    _mm_and_si128(_mm_add_epi32(_mm_add_epi32(_mm_add_epi32(L8(E0, q0, j), L8(E1, q1, j)), L8(E2, q2, j)),     \
                                _mm_add_epi32(_mm_add_epi32(L8(O0, o0, j), L8(O1, o1, j)), L8(O2, o2, j))),    \
                  lo)
    __m128i S = T2(0);
    for (size_t i = 0; i < n; i += 4) BLOCK4(T2, i, 1);
#undef T2
#undef L8
}
