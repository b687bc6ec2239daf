/* im2col.c - the GEMM rows of a dense (groups == 1) convolution over NHWC
 * bytes, for the quantized runtime's batched conv layers: one row per output
 * pixel, columns in HWIO order (ky, kx, channel), so the K x N weights are
 * the layer's HWIO bytes as ax_gemm_pack_weights packs them. Positions
 * outside the input read the pad byte (the activation zero point), every
 * input byte is XORed on the way (the u8 <-> s8 operand mapping), and each
 * row's sum of operand values (the zero-point term) comes out alongside.
 * The same rows ax_conv2d builds, so ax_gemm gives ax_conv2d's bits. */
#include "nn_internal.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__SSE2__)
/* The u8 sum of v's first n (1..16) bytes after flipping their top bits by
 * flip (0x80 for s8 operands: (int8)b = (b ^ 0x80) - 128), added to acc's
 * two 64-bit lanes: one psadbw per 16 bytes where the compiler's widening
 * loop took four instructions. */
static inline __m128i sum_bytes(__m128i acc, __m128i v, size_t n, __m128i flip)
{
    static const uint8_t ones[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    __m128i m = _mm_loadu_si128((const __m128i *)(ones + 16 - n));
    return _mm_add_epi64(acc, _mm_sad_epu8(_mm_and_si128(_mm_xor_si128(v, flip), m), _mm_setzero_si128()));
}

static inline int32_t lanes_sum(__m128i acc)
{
    return _mm_cvtsi128_si32(acc) + _mm_cvtsi128_si32(_mm_srli_si128(acc, 8));
}
#endif

static int32_t row_sum(const uint8_t *restrict p, size_t n, bool s8)
{
    int32_t s = 0;
    size_t i = 0;
#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128(), flip = _mm_set1_epi8(s8 ? (char)0x80 : 0);
    for (; i + 16 <= n; i += 16) acc = sum_bytes(acc, _mm_loadu_si128((const __m128i *)(p + i)), 16, flip);
    s = lanes_sum(acc) - (s8 ? 128 * (int32_t)i : 0);
#endif
    if (s8)
        for (; i < n; i++) s += (int8_t)p[i];
    else
        for (; i < n; i++) s += p[i];
    return s;
}

/* 8 or 16 bytes at d from s, XORed with x in every byte: fixed-size moves the
 * compiler keeps inline */
static inline void move8(uint8_t *d, const uint8_t *s, uint64_t x)
{
    uint64_t v;
    memcpy(&v, s, 8);
    v ^= x;
    memcpy(d, &v, 8);
}

static inline void move16(uint8_t *d, const uint8_t *s, uint64_t x)
{
    uint64_t v[2];
    memcpy(v, s, 16);
    v[0] ^= x, v[1] ^= x;
    memcpy(d, v, 16);
}

/* n bytes XORed with x. Up to 32 bytes (a first layer's 3x3 rows of 3
 * channels: 9 bytes) as two overlapping fixed-size moves, not a call to
 * memcpy for each: with the row position divided out per row, those calls
 * made a 3-channel layer's im2col as slow as its GEMM (MobileNetV2's
 * features.0.0). */
static inline void copy_xor(uint8_t *restrict d, const uint8_t *restrict s, size_t n, uint8_t x)
{
    uint64_t xx = x * (uint64_t)0x0101010101010101u;
    if (n >= 16 && n <= 32) {
        move16(d, s, xx), move16(d + n - 16, s + n - 16, xx);
    } else if (n >= 8 && n < 16) {
        move8(d, s, xx), move8(d + n - 8, s + n - 8, xx);
    } else if (n > 32 && !x) {
        memcpy(d, s, n);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = s[i] ^ x;
    }
}

#if defined(__SSE2__)
/* A row whose taps all lie inside the image, with kernel rows of n <= 32
 * contiguous bytes (dilation_w 1), each at s + ky * step: every kernel row
 * is one or two 16-byte moves, summed from the same registers. So a
 * first layer's rows (3 channels: 9 or 21 bytes) take a few instructions
 * each, and the sum does not read back bytes just stored in pieces (those
 * loads wait for the stores to retire: they cost as much as the copies).
 * The moves read and write up to 15 bytes past a kernel row: the caller
 * keeps the reads inside the image and leaves 16 bytes of its own rows
 * after this one, which the next kernel row or GEMM row overwrites. */
static int32_t interior_row(uint8_t *d, const uint8_t *s, size_t step, size_t kh, size_t n, uint8_t xor_in,
                            bool s8)
{
    __m128i x = _mm_set1_epi8((char)xor_in), flip = _mm_set1_epi8(s8 ? (char)0x80 : 0), acc = _mm_setzero_si128();
    for (size_t ky = 0; ky < kh; ky++, d += n, s += step) {
        __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)s), x);
        _mm_storeu_si128((__m128i *)d, v);
        acc = sum_bytes(acc, v, n < 16 ? n : 16, flip);
        if (n > 16) {
            v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + 16)), x);
            _mm_storeu_si128((__m128i *)(d + 16), v);
            acc = sum_bytes(acc, v, n - 16, flip);
        }
    }
    return lanes_sum(acc) - (s8 ? 128 * (int32_t)(kh * n) : 0);
}
#endif

void axnn_im2col_rows(const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X, size_t r0, size_t rows,
                      uint8_t xor_in, uint8_t *dst, int32_t *sums, bool s8)
{
    size_t C = s->in_c, K = s->kernel_h * s->kernel_w * C, image = s->in_h * s->in_w * C;
    size_t span = s->kernel_w * C, step = s->dilation_h * s->in_w * C; /* a kernel row; from one to the next */
#if defined(__SSE2__)
    bool wide = s->dilation_w == 1 && span <= 32;
    size_t reach = (s->kernel_h - 1) * step + (span > 16 ? 32 : 16); /* bytes interior_row reads */
#endif
    uint8_t pad[32]; /* padding taps of <= 32 channels copy from here, inline */
    memset(pad, s->pad_byte, sizeof pad);
    /* the first row's position by division, the rest by counting */
    size_t b = r0 / (oh * ow), oy = r0 / ow % oh, ox = r0 % ow;
    for (size_t r = 0; r < rows; r++) {
        uint8_t *row = dst + r * K, *d = row;
        size_t x0 = ox * s->stride_w, x1 = x0 + (s->kernel_w - 1) * s->dilation_w, y0 = oy * s->stride_h;
        bool xin = s->dilation_w == 1 && x0 >= s->pad_left && x1 - s->pad_left < s->in_w;
#if defined(__SSE2__)
        if (wide && xin && y0 >= s->pad_top && y0 + (s->kernel_h - 1) * s->dilation_h - s->pad_top < s->in_h &&
            (rows - 1 - r) * K >= 16) {
            size_t at = ((y0 - s->pad_top) * s->in_w + x0 - s->pad_left) * C;
            if (at + reach <= image) {
                int32_t sum = interior_row(row, X + b * image + at, step, s->kernel_h, span, xor_in, s8);
                if (sums) sums[r] = sum;
                goto next;
            }
        }
#endif
        for (size_t ky = 0; ky < s->kernel_h; ky++) {
            size_t y = y0 + ky * s->dilation_h;
            bool yin = y >= s->pad_top && y - s->pad_top < s->in_h;
            if (yin && xin) { /* the kernel row's pixels are contiguous in NHWC */
                copy_xor(d, X + b * image + ((y - s->pad_top) * s->in_w + x0 - s->pad_left) * C, span, xor_in);
                d += span;
                continue;
            }
            for (size_t kx = 0; kx < s->kernel_w; kx++, d += C) {
                size_t x = x0 + kx * s->dilation_w;
                if (yin && x >= s->pad_left && x - s->pad_left < s->in_w)
                    copy_xor(d, X + b * image + ((y - s->pad_top) * s->in_w + x - s->pad_left) * C, C, xor_in);
                else if (C <= sizeof pad)
                    copy_xor(d, pad, C, 0);
                else
                    memset(d, s->pad_byte, C);
            }
        }
        if (sums) sums[r] = row_sum(row, K, s8);
#if defined(__SSE2__)
    next:
#endif
        if (++ox == ow) {
            ox = 0;
            if (++oy == oh) oy = 0, b++;
        }
    }
}

void axnn_row_sums(const uint8_t *A, size_t lda, size_t K, size_t rows, int32_t *sums, bool s8)
{
    for (size_t r = 0; r < rows; r++) sums[r] = row_sum(A + r * lda, K, s8);
}
