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

static int32_t row_sum(const uint8_t *restrict p, size_t n, bool s8)
{
    int32_t s = 0;
    if (s8)
        for (size_t i = 0; i < n; i++) s += (int8_t)p[i];
    else
        for (size_t i = 0; i < n; i++) s += p[i];
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

void axnn_im2col_rows(const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X, size_t r0, size_t rows,
                      uint8_t xor_in, uint8_t *dst, int32_t *sums, bool s8)
{
    size_t C = s->in_c, K = s->kernel_h * s->kernel_w * C;
    uint8_t pad[32]; /* padding taps of <= 32 channels copy from here, inline */
    memset(pad, s->pad_byte, sizeof pad);
    /* the first row's position by division, the rest by counting */
    size_t b = r0 / (oh * ow), oy = r0 / ow % oh, ox = r0 % ow;
    for (size_t r = 0; r < rows; r++) {
        uint8_t *row = dst + r * K, *d = row;
        size_t x0 = ox * s->stride_w, x1 = x0 + (s->kernel_w - 1) * s->dilation_w;
        bool xin = s->dilation_w == 1 && x0 >= s->pad_left && x1 - s->pad_left < s->in_w;
        for (size_t ky = 0; ky < s->kernel_h; ky++) {
            size_t y = oy * s->stride_h + ky * s->dilation_h;
            bool yin = y >= s->pad_top && y - s->pad_top < s->in_h;
            if (yin && xin) { /* the kernel row's pixels are contiguous in NHWC */
                copy_xor(d, X + ((b * s->in_h + y - s->pad_top) * s->in_w + x0 - s->pad_left) * C, s->kernel_w * C,
                         xor_in);
                d += s->kernel_w * C;
                continue;
            }
            for (size_t kx = 0; kx < s->kernel_w; kx++, d += C) {
                size_t x = ox * s->stride_w + kx * s->dilation_w;
                if (yin && x >= s->pad_left && x - s->pad_left < s->in_w)
                    copy_xor(d, X + ((b * s->in_h + y - s->pad_top) * s->in_w + x - s->pad_left) * C, C, xor_in);
                else if (C <= sizeof pad)
                    copy_xor(d, pad, C, 0);
                else
                    memset(d, s->pad_byte, C);
            }
        }
        if (sums) sums[r] = row_sum(row, K, s8);
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
