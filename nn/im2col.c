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

static void copy_xor(uint8_t *restrict d, const uint8_t *restrict s, size_t n, uint8_t x)
{
    if (!x) {
        memcpy(d, s, n);
        return;
    }
    for (size_t i = 0; i < n; i++) d[i] = s[i] ^ x;
}

void axnn_im2col_rows(const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X, size_t r0, size_t rows,
                      uint8_t xor_in, uint8_t *dst, int32_t *sums, bool s8)
{
    size_t C = s->in_c, K = s->kernel_h * s->kernel_w * C;
    for (size_t r = 0; r < rows; r++) {
        size_t pix = r0 + r, b = pix / (oh * ow), oy = pix / ow % oh, ox = pix % ow;
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
                else
                    memset(d, s->pad_byte, C);
            }
        }
        if (sums) sums[r] = row_sum(row, K, s8);
    }
}

void axnn_row_sums(const uint8_t *A, size_t lda, size_t K, size_t rows, int32_t *sums, bool s8)
{
    for (size_t r = 0; r < rows; r++) sums[r] = row_sum(A + r * lda, K, s8);
}
