/* lut_dwconv_16x1__avx2.c - the depthwise LUT microkernel on AVX2 (see
 * dwconv2d.c and ax_dw_ukernel): one channel, 16 output pixels at a time,
 * each tap's 16 activation bytes from one load of its contiguous run and
 * looked up in the tap's 1 KiB column of the transposed table (the columns
 * of a 3x3 kernel, 9 KiB, stay in L1) by scalar loads gathered into ymm
 * (vmovd + vpinsrd; vpgatherdd ran at half this speed, purely scalar sums
 * at 0.7x: both load- or ALU-bound on the byte extraction), two ymm of sums
 * over all taps. The sums of up to 16 channels then go into NHWC through
 * 8x8 int32 transposes. 3x3 kernels of one input channel take run_3x3
 * (lut_dwconv_3x3__avx2.c: row tables, 3 lookups per output); dwconv2d.c's
 * layout takes this file's 32x16 byte transpose. */
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <string.h>

/* col[byte j of x], j < 8, as int32 lanes: pairs of scalar loads (vmovd,
 * vpinsrd) joined, so the inserts do not form one long chain */
static inline __m256i look8(const uint32_t *col, uint64_t x)
{
    __m128i p0 = _mm_insert_epi32(_mm_cvtsi32_si128((int)col[x & 255]), (int)col[x >> 8 & 255], 1);
    __m128i p1 = _mm_insert_epi32(_mm_cvtsi32_si128((int)col[x >> 16 & 255]), (int)col[x >> 24 & 255], 1);
    __m128i p2 = _mm_insert_epi32(_mm_cvtsi32_si128((int)col[x >> 32 & 255]), (int)col[x >> 40 & 255], 1);
    __m128i p3 = _mm_insert_epi32(_mm_cvtsi32_si128((int)col[x >> 48 & 255]), (int)col[x >> 56], 1);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi64(p0, p1)), _mm_unpacklo_epi64(p2, p3), 1);
}

static void run(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t ntaps, size_t n,
                uint32_t *acc)
{
    const uint32_t *tab = (const uint32_t *)p->table_t;
    for (size_t i = 0; i < n; i += 16) { /* dwconv2d.c: 64 readable bytes past every run, acc rounded up to 64 */
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
        for (size_t t = 0; t < ntaps; t++) {
            const uint32_t *col = tab + w[t] * 256u;
            uint64_t x[2];
            memcpy(x, src[t] + i, 16); /* little-endian: byte j is pixel i + j */
            a0 = _mm256_add_epi32(a0, look8(col, x[0]));
            a1 = _mm256_add_epi32(a1, look8(col, x[1]));
        }
        _mm256_storeu_si256((__m256i *)(acc + i), a0);
        _mm256_storeu_si256((__m256i *)(acc + i + 8), a1);
    }
}

/* r[k] (8 channels of pixel k) from c[j] (8 pixels of channel j) */
static inline void transpose8(const __m256i c[8], __m256i r[8])
{
    __m256i t[8], u[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_epi32(c[k], c[k + 1]);
        t[k + 1] = _mm256_unpackhi_epi32(c[k], c[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        u[k] = _mm256_unpacklo_epi64(t[k], t[k + 2]);
        u[k + 1] = _mm256_unpackhi_epi64(t[k], t[k + 2]);
        u[k + 2] = _mm256_unpacklo_epi64(t[k + 1], t[k + 3]);
        u[k + 3] = _mm256_unpackhi_epi64(t[k + 1], t[k + 3]);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x20);
        r[k + 4] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x31);
    }
}

/* AX_DW_STREAM (nch = 16, aligned): both halves of a pixel's line back to
 * back (a line's write-combining buffer filled at once), NULL pixels skipped */
static void store_nt(const uint32_t *acc, size_t lda, const uint32_t *corr, size_t n, uint32_t *const *dst,
                     size_t c0)
{
    __m256i c0v = _mm256_loadu_si256((const __m256i *)corr), c1v = _mm256_loadu_si256((const __m256i *)(corr + 8));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i c[8], r0[8], r1[8];
        for (int j = 0; j < 8; j++) c[j] = _mm256_loadu_si256((const __m256i *)(acc + j * lda + i));
        transpose8(c, r0);
        for (int j = 0; j < 8; j++) c[j] = _mm256_loadu_si256((const __m256i *)(acc + (8 + j) * lda + i));
        transpose8(c, r1);
        for (int k = 0; k < 8; k++)
            if (dst[i + k]) {
                __m256i *y = (__m256i *)(dst[i + k] + c0);
                _mm256_stream_si256(y, _mm256_add_epi32(r0[k], c0v));
                _mm256_stream_si256(y + 1, _mm256_add_epi32(r1[k], c1v));
            }
    }
    for (; i < n; i++)
        if (dst[i])
            for (size_t j = 0; j < 16; j++) dst[i][c0 + j] = acc[j * lda + i] + corr[j];
}

static void store(const uint32_t *acc, size_t lda, size_t nch, const uint32_t *corr, size_t n,
                  uint32_t *const *dst, size_t c0, ax_dw_out out)
{
    if (out == AX_DW_STREAM) {
        store_nt(acc, lda, corr, n, dst, c0);
        return;
    }
    bool accumulate = out == AX_DW_ADD;
    size_t i = 0;
    for (size_t h = 0; h + 8 <= nch; h += 8) { /* whole groups of 8 channels, 8 pixels at a time */
        __m256i cv = _mm256_loadu_si256((const __m256i *)(corr + h));
        for (i = 0; i + 8 <= n; i += 8) {
            __m256i c[8], r[8];
            for (int j = 0; j < 8; j++) c[j] = _mm256_loadu_si256((const __m256i *)(acc + (h + j) * lda + i));
            transpose8(c, r);
            for (int k = 0; k < 8; k++) {
                __m256i *y = (__m256i *)(dst[i + k] + c0 + h), v = _mm256_add_epi32(r[k], cv);
                if (accumulate) v = _mm256_add_epi32(v, _mm256_loadu_si256(y));
                _mm256_storeu_si256(y, v);
            }
        }
        for (; i < n; i++)
            for (size_t j = h; j < h + 8; j++)
                dst[i][c0 + j] = (accumulate ? dst[i][c0 + j] : 0) + acc[j * lda + i] + corr[j];
    }
    for (size_t j0 = nch / 8 * 8; j0 < nch; j0 = nch) /* the channels past the last group of 8 */
        for (i = 0; i < n; i++)
            for (size_t j = j0; j < nch; j++)
                dst[i][c0 + j] = (accumulate ? dst[i][c0 + j] : 0) + acc[j * lda + i] + corr[j];
}

/* dst[k * ldd + m] = pix[m][k0 + k] for m < 32, k < 16:
 * pixels i and i + 16 share a ymm (one 128-bit lane each), so the SSE2
 * network of dwconv2d.c's 16x16 transpose runs once for both and each
 * channel's 32 bytes go out in one store */
static inline void transpose32x16(const uint8_t *const *pix, size_t k0, uint8_t *dst, size_t ldd)
{
    __m256i r[16], t[16], u[4][4], v[2][8];
    for (int i = 0; i < 16; i++)
        r[i] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(pix[i] + k0))),
                                       _mm_loadu_si128((const __m128i *)(pix[i + 16] + k0)), 1);
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm256_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    for (int j = 0; j < 4; j++)
        for (int h = 0; h < 2; h++) {
            u[j][2 * h] = _mm256_unpacklo_epi16(t[4 * j + h], t[4 * j + 2 + h]);
            u[j][2 * h + 1] = _mm256_unpackhi_epi16(t[4 * j + h], t[4 * j + 2 + h]);
        }
    for (int g = 0; g < 2; g++)
        for (int q = 0; q < 4; q++) {
            v[g][2 * q] = _mm256_unpacklo_epi32(u[2 * g][q], u[2 * g + 1][q]);
            v[g][2 * q + 1] = _mm256_unpackhi_epi32(u[2 * g][q], u[2 * g + 1][q]);
        }
    for (int p = 0; p < 8; p++) {
        _mm256_storeu_si256((__m256i *)(dst + (size_t)(2 * p) * ldd), _mm256_unpacklo_epi64(v[0][p], v[1][p]));
        _mm256_storeu_si256((__m256i *)(dst + (size_t)(2 * p + 1) * ldd), _mm256_unpackhi_epi64(v[0][p], v[1][p]));
    }
}

/* the layout (ax_dw_ukernel's transpose, channels k0 + k): blocks of 32 pixels x 16
 * channels, the last block of a row overlapping the one before; channels
 * past the last 16 (and runs under 32 pixels) byte by byte */
static void transpose(size_t n, size_t k0, size_t C, const uint8_t *const *pix, uint8_t *dst, size_t ldd)
{
    size_t k16 = n >= 32 ? C / 16 * 16 : 0;
    for (size_t k = 0; k < k16; k += 16)
        for (size_t m = 0;; m += 32) {
            if (m + 32 > n) m = n - 32;
            transpose32x16(pix + m, k0 + k, dst + k * ldd + m, ldd);
            if (m + 32 == n) break;
        }
    for (size_t m = 0; m < n; m++)
        for (size_t k = k16; k < C; k++) dst[k * ldd + m] = pix[m][k0 + k];
}

const ax_dw_ukernel ax_dw_ukernel_avx2 = {
    .name = "lut_dwconv_16x1__avx2", .run = run, .store = store, .transpose = transpose, .run_3x3 = ax_lut_dwconv_3x3__avx2};
