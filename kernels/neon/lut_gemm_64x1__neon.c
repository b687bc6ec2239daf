/* lut_gemm_64x1__neon.c - the LUT microkernel for aarch64 NEON, built like a
 * PE of a weight-stationary systolic array (the AVX-512 kernel's scheme with
 * tbl/tbx). For one weight byte w, one byte plane of its 256 min-subtracted
 * products T[.][w] - min lives in 16 q registers as four 64-byte tables; a
 * vqtbl4q_u8 looks up 16 activations in quarter 0 and three vqtbx4q_u8 on
 * the index minus 64, 128 and 192 fill in the other quarters (an index past
 * a table leaves the lane alone). One loaded table serves four blocks of 16
 * activations (the 64 rows of a panel).
 *
 * Looked-up bytes are widened into 16-bit partial sums (uaddw/uaddw2): at
 * most KC = 256 additions of <= 255 per lane (<= 65280), then the partial
 * sums are widened into the int32 row sums, shifted by 8 bits per plane.
 * A plane's four tables fill half the register file, so a column of P
 * planes costs P passes over each chunk of KC panel rows (16 KiB, in L1).
 *
 * Panel layout: K rows of 64 activation bytes, row m of A at byte m (k-major,
 * zero-padded past `rows`). NEON is architectural on aarch64: no run-time
 * check. */
#include "kernels/gemm_internal.h"

#include <arm_neon.h>
#include <string.h>

enum { MR = 64, KC = 256 };

static size_t panel_bytes(size_t K) { return K > SIZE_MAX / MR ? SIZE_MAX : (K ? K : 1) * MR; }

/* dst[k * ldd + m] = src[m * lda + k] for m, k < 16: four rounds of trn1/trn2
 * on 8-, 16-, 32- and 64-bit lanes, each swapping one bit of the row index
 * with one bit of the column index. */
static void transpose_16x16(const uint8_t *src, size_t lda, uint8_t *dst, size_t ldd)
{
    uint8x16_t r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = vld1q_u8(src + (size_t)i * lda);
    for (int i = 0; i < 16; i += 2) {
        t[i] = vtrn1q_u8(r[i], r[i + 1]);
        t[i + 1] = vtrn2q_u8(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i++) {
        if (i & 2) continue;
        uint16x8_t x = vreinterpretq_u16_u8(t[i]), y = vreinterpretq_u16_u8(t[i + 2]);
        r[i] = vreinterpretq_u8_u16(vtrn1q_u16(x, y));
        r[i + 2] = vreinterpretq_u8_u16(vtrn2q_u16(x, y));
    }
    for (int i = 0; i < 16; i++) {
        if (i & 4) continue;
        uint32x4_t x = vreinterpretq_u32_u8(r[i]), y = vreinterpretq_u32_u8(r[i + 4]);
        t[i] = vreinterpretq_u8_u32(vtrn1q_u32(x, y));
        t[i + 4] = vreinterpretq_u8_u32(vtrn2q_u32(x, y));
    }
    for (int i = 0; i < 8; i++) {
        uint64x2_t x = vreinterpretq_u64_u8(t[i]), y = vreinterpretq_u64_u8(t[i + 8]);
        vst1q_u8(dst + (size_t)i * ldd, vreinterpretq_u8_u64(vtrn1q_u64(x, y)));
        vst1q_u8(dst + (size_t)(i + 8) * ldd, vreinterpretq_u8_u64(vtrn2q_u64(x, y)));
    }
}

static void pack_a(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    size_t m16 = rows / 16 * 16, k16 = K / 16 * 16;
    for (size_t k = 0; k < k16; k += 16)
        for (size_t m = 0; m < m16; m += 16) transpose_16x16(A + m * lda + k, lda, panel + k * MR + m, MR);
    for (size_t m = 0; m < rows; m++)
        for (size_t k = m < m16 ? k16 : 0; k < K; k++) panel[k * MR + m] = A[m * lda + k];
    if (rows < MR)
        for (size_t k = 0; k < K; k++) memset(panel + k * MR + rows, 0, MR - rows);
}

/* acc[0..15] += (lo, hi) << shift: the 16-bit sums of 16 rows widened. */
static inline __attribute__((always_inline)) void widen(uint16x8_t lo, uint16x8_t hi, int32x4_t shift, uint32_t *acc)
{
    uint32x4_t d[4] = {vmovl_u16(vget_low_u16(lo)), vmovl_high_u16(lo), vmovl_u16(vget_low_u16(hi)),
                       vmovl_high_u16(hi)};
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) vst1q_u32(acc + 4 * i, vaddq_u32(vld1q_u32(acc + 4 * i), vshlq_u32(d[i], shift)));
}

/* One plane (tables at planes + w * tstride), SB blocks of 16 rows, one
 * column of weights, k in [k0, k1) with k1 - k0 <= KC:
 * acc[m] += sum_k plane[w_k][a_mk] << shift. */
static inline __attribute__((always_inline)) void plane_pass(const uint8_t *planes, size_t tstride, int SB,
                                                             const uint8_t *panel, size_t k0, size_t k1,
                                                             const uint8_t *w, int shift, uint32_t *acc)
{
    const uint8x16_t c64 = vdupq_n_u8(64);
    const int32x4_t sh = vdupq_n_s32(shift);
    uint16x8_t lo[4], hi[4];
#pragma GCC unroll 4
    for (int s = 0; s < SB; s++) lo[s] = hi[s] = vdupq_n_u16(0);
    for (size_t k = k0; k < k1; k++) {
        const uint8_t *t = planes + (size_t)w[k] * tstride;
        uint8x16x4_t T0 = vld1q_u8_x4(t), T1 = vld1q_u8_x4(t + 64);
        uint8x16x4_t T2 = vld1q_u8_x4(t + 128), T3 = vld1q_u8_x4(t + 192);
        const uint8_t *a = panel + k * MR;
#pragma GCC unroll 4
        for (int s = 0; s < SB; s++) {
            uint8x16_t x = vld1q_u8(a + 16 * s);
            uint8x16_t r = vqtbl4q_u8(T0, x);
            x = vsubq_u8(x, c64);
            r = vqtbx4q_u8(r, T1, x);
            x = vsubq_u8(x, c64);
            r = vqtbx4q_u8(r, T2, x);
            x = vsubq_u8(x, c64);
            r = vqtbx4q_u8(r, T3, x);
            lo[s] = vaddw_u8(lo[s], vget_low_u8(r));
            hi[s] = vaddw_high_u8(hi[s], r);
        }
    }
#pragma GCC unroll 4
    for (int s = 0; s < SB; s++) widen(lo[s], hi[s], sh, acc + 16 * s);
}

#define PASS_FN(SB)                                                                                          \
    static void pass_##SB(const uint8_t *planes, size_t tstride, const uint8_t *panel, size_t k0, size_t k1, \
                          const uint8_t *w, int shift, uint32_t *acc)                                       \
    {                                                                                                        \
        plane_pass(planes, tstride, SB, panel, k0, k1, w, shift, acc);                                       \
    }
PASS_FN(1)
PASS_FN(2)
PASS_FN(3)
PASS_FN(4)

typedef void (*pass_fn)(const uint8_t *, size_t, const uint8_t *, size_t, size_t, const uint8_t *, int, uint32_t *);
static const pass_fn passes[4] = {pass_1, pass_2, pass_3, pass_4};

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                size_t wstride, size_t nn, uint32_t *out, size_t ldo)
{
    size_t P = (size_t)p->nplanes, nb = (rows + 15) / 16;
    if (nb == 0 || nb > 4) return;
    uint32_t acc[MR] __attribute__((aligned(16)));
    for (size_t j = 0; j < nn; j++, w += wstride) {
        memset(acc, 0, sizeof acc);
        for (size_t k0 = 0; k0 < K; k0 += KC) /* all planes of a chunk while its panel rows are in L1 */
            for (size_t q = 0; q < P; q++)
                passes[nb - 1](p->planes + q * 256, P * 256, panel, k0, K - k0 < KC ? K : k0 + KC, w, (int)(8 * q),
                               acc);
        for (size_t m = 0; m < rows; m++) out[m * ldo + j] = acc[m];
    }
}

const ax_lut_ukernel ax_lut_ukernel_neon = {
    .name = "lut_gemm_64x1__neon", .mr = MR, .panel_bytes = panel_bytes, .pack_a = pack_a, .run = run};
