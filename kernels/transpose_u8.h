/* transpose_u8.h - packs rows of activation bytes into k-major panels (row m
 * of A becomes byte m of every panel row), the layout the weight-stationary
 * LUT kernels stream. Packing is O(MK) next to O(MKN) lookups, but a
 * byte-at-a-time transpose still costs ~15% of a fast kernel, so full 16x16
 * blocks go through four rounds of SSE2 unpacks (baseline x86-64), and so do
 * the last K % 16 columns of full 16-row blocks (through a copy: a short K,
 * e.g. the 9 taps of a depthwise layer, is all tail); the row tail and other
 * machines take the plain loop. Internal; include from kernel files. */
#ifndef AX_TRANSPOSE_U8_H
#define AX_TRANSPOSE_U8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__SSE2__)
/* dst[k * ldd + m] = src[m * lda + k] for m, k < 16 */
static inline void ax_transpose_16x16_u8(const uint8_t *src, size_t lda, uint8_t *dst, size_t ldd)
{
    __m128i r[16], t[16], u[4][4], v[2][8];
    for (int i = 0; i < 16; i++) r[i] = _mm_loadu_si128((const __m128i *)(src + (size_t)i * lda));
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    for (int j = 0; j < 4; j++)
        for (int h = 0; h < 2; h++) {
            u[j][2 * h] = _mm_unpacklo_epi16(t[4 * j + h], t[4 * j + 2 + h]);
            u[j][2 * h + 1] = _mm_unpackhi_epi16(t[4 * j + h], t[4 * j + 2 + h]);
        }
    for (int g = 0; g < 2; g++)
        for (int q = 0; q < 4; q++) {
            v[g][2 * q] = _mm_unpacklo_epi32(u[2 * g][q], u[2 * g + 1][q]);
            v[g][2 * q + 1] = _mm_unpackhi_epi32(u[2 * g][q], u[2 * g + 1][q]);
        }
    for (int p = 0; p < 8; p++) {
        _mm_storeu_si128((__m128i *)(dst + (size_t)(2 * p) * ldd), _mm_unpacklo_epi64(v[0][p], v[1][p]));
        _mm_storeu_si128((__m128i *)(dst + (size_t)(2 * p + 1) * ldd), _mm_unpackhi_epi64(v[0][p], v[1][p]));
    }
}
#endif

/* panel[k * mr + m] = A[m * lda + k] for m < rows, k < K; rows < m < mr: 0 */
static inline void ax_pack_kmajor_u8(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel, size_t mr)
{
    size_t m16 = 0, k16 = 0;
#if defined(__SSE2__)
    m16 = rows / 16 * 16, k16 = K / 16 * 16;
    for (size_t k = 0; k < k16; k += 16)
        for (size_t m = 0; m < m16; m += 16) ax_transpose_16x16_u8(A + m * lda + k, lda, panel + k * mr + m, mr);
    if (k16 < K) /* the last K % 16 columns (all of a short K), through a 16x16 copy */
        for (size_t m = 0; m < m16; m += 16) {
            uint8_t in[256], out[256];
            for (size_t i = 0; i < 16; i++) memcpy(in + 16 * i, A + (m + i) * lda + k16, K - k16);
            ax_transpose_16x16_u8(in, 16, out, 16);
            for (size_t k = k16; k < K; k++) memcpy(panel + k * mr + m, out + 16 * (k - k16), 16);
        }
    k16 = K;
#endif
    for (size_t m = 0; m < rows; m++) {
        size_t k0 = m < m16 ? k16 : 0;
        for (size_t k = k0; k < K; k++) panel[k * mr + m] = A[m * lda + k];
    }
    if (rows < mr)
        for (size_t k = 0; k < K; k++) memset(panel + k * mr + rows, 0, mr - rows);
}

#endif
