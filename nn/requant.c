/* requant.c - the quantized runtime's loops over bytes outside the kernels:
 * the conv/FC layers' epilogue (each output's sum of activation values over
 * its receptive field, the zero-point term, and the requantization of the
 * int32 accumulators to bytes; fused per pixel for depthwise layers), the
 * float <-> byte conversions of tensors, and 256-byte table lookups (ReLU,
 * Clip). Plain loops the compiler vectorizes, instantiated per x86 ISA
 * (AVX-512, AVX2, the SSE2 baseline; some by hand with intrinsics) and
 * chosen per call from the runtime's ISA: in the baseline build the
 * requantization's 32-bit multiply, min/max and narrowing take several
 * instructions each, and these loops took a third of MobileNetV2's run on
 * the LUT path. Every variant computes the same bits (integer arithmetic;
 * float multiply, divide, add and rint in IEEE single precision, no
 * contraction under -ffp-contract=off); tests/test_nn.c runs each one the
 * CPU has against the scalar rules. */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define X86_VARIANTS 1
#include <immintrin.h>
#endif

#define BODY static inline __attribute__((always_inline))

/* One output pixel's sums o[G], tap by tap: the groups' sums of an input
 * pixel are added into the pixel's row, so the loop over groups is
 * contiguous (depthwise: one byte per group) and vectorizes. */
BODY void pixel_suma(const ax_conv2d_shape *s, size_t oy, size_t ox, ax_operand a_type, int32_t za,
                     const uint8_t *restrict xa, int32_t *restrict o)
{
    size_t G = s->groups, cg = s->in_c / G;
    bool s8 = a_type == AX_S8;
    int32_t npad = 0;
    for (size_t g = 0; g < G; g++) o[g] = 0;
    for (size_t ky = 0; ky < s->kernel_h; ky++)
        for (size_t kx = 0; kx < s->kernel_w; kx++) {
            long iy = (long)(oy * s->stride_h + ky * s->dilation_h) - (long)s->pad_top;
            long ix = (long)(ox * s->stride_w + kx * s->dilation_w) - (long)s->pad_left;
            if (iy < 0 || ix < 0 || iy >= (long)s->in_h || ix >= (long)s->in_w) {
                npad++;
                continue;
            }
            const uint8_t *restrict p = xa + ((size_t)iy * s->in_w + (size_t)ix) * s->in_c;
            if (cg == 1 && s8)
                for (size_t g = 0; g < G; g++) o[g] += (int8_t)p[g];
            else if (cg == 1)
                for (size_t g = 0; g < G; g++) o[g] += p[g];
            else
                for (size_t g = 0; g < G; g++) {
                    int32_t a = 0;
                    for (size_t i = 0; i < cg; i++) a += ax_operand_value(a_type, p[g * cg + i]);
                    o[g] += a;
                }
        }
    int32_t pad = npad * (int32_t)cg * za;
    for (size_t g = 0; g < G; g++) o[g] += pad;
}

BODY void conv_suma(const ax_conv2d_shape *s, size_t oh, size_t ow, ax_operand a_type, int32_t za,
                    const uint8_t *restrict xa, int32_t *restrict suma)
{
    for (size_t oy = 0; oy < oh; oy++)
        for (size_t ox = 0; ox < ow; ox++) pixel_suma(s, oy, ox, a_type, za, xa, suma + (oy * ow + ox) * s->groups);
}

/* The rule of axnn_saturate(axnn_round_half_even(v), ...) for |s| < 0.25:
 * then |acc * s| < 2^29, so the clamp to +-1e9 (and NaN) never applies, and
 * (v + 1.5*2^23) - 1.5*2^23 rounds half to even exactly like rintf for
 * |v| < 2^22; beyond, both give a value of the same sign whose byte
 * saturates alike. */
static inline uint8_t requantize_one(uint32_t a, float s, int32_t zp, int32_t lo, int32_t hi)
{
    const float magic = 12582912.0f;
    float v = (float)(int32_t)a * s;
    int32_t q = (int32_t)((v + magic) - magic) + zp;
    q = q < lo ? lo : q;
    q = q > hi ? hi : q;
    return (uint8_t)q;
}

BODY void requantize(const axnn_requant *r, const int32_t *restrict acc, size_t lda, const int32_t *restrict sum,
                     bool sum_per_channel, size_t pixels, uint8_t *restrict y, size_t ldy)
{
    const uint32_t *restrict corr = (const uint32_t *)r->corr;
    const uint32_t *restrict zw = (const uint32_t *)r->zw;
    const float *restrict s = r->s;
    const int32_t zp = r->zp, lo = r->lo, hi = r->hi;
    size_t oc = r->oc;
    for (size_t p = 0; p < pixels; p++, acc += lda, y += ldy) {
        if (!sum) {
            for (size_t c = 0; c < oc; c++) y[c] = requantize_one((uint32_t)acc[c] + corr[c], s[c], zp, lo, hi);
        } else if (!sum_per_channel) {
            uint32_t sp = (uint32_t)sum[p];
            for (size_t c = 0; c < oc; c++)
                y[c] = requantize_one((uint32_t)acc[c] + corr[c] - zw[c] * sp, s[c], zp, lo, hi);
        } else {
            const int32_t *restrict sc = sum + p * oc;
            for (size_t c = 0; c < oc; c++)
                y[c] = requantize_one((uint32_t)acc[c] + corr[c] - zw[c] * (uint32_t)sc[c], s[c], zp, lo, hi);
        }
    }
}

/* Depthwise layers (one output channel per group), one image:
 * each output pixel's per-channel sums go into row (oc int32, in L1) and
 * are used at once, so they never travel through memory. */
BODY void requantize_dw(const axnn_requant *r, const ax_conv2d_shape *s, size_t oy0, size_t oy1, size_t ow,
                        ax_operand a_type, int32_t za, const uint8_t *restrict xa, const int32_t *restrict acc,
                        int32_t *restrict row, uint8_t *restrict y)
{
    for (size_t oy = oy0; oy < oy1; oy++)
        for (size_t ox = 0; ox < ow; ox++) {
            size_t p = (oy - oy0) * ow + ox;
            pixel_suma(s, oy, ox, a_type, za, xa, row);
            requantize(r, acc + p * r->oc, r->oc, row, true, 1, y + p * r->oc, r->oc);
        }
}

/* Float tensors to their bytes (axnn_quantize_one) and back
 * (axnn_dequantize_one), n values: the runtime's input images and the
 * outputs of float ops feeding quantized layers. */
BODY void quantize(const axnn_qp *q, const float *restrict x, size_t n, uint8_t *restrict y)
{
    for (size_t i = 0; i < n; i++) y[i] = axnn_quantize_one(q, x[i]);
}

BODY void dequantize(const axnn_qp *q, const uint8_t *restrict x, size_t n, float *restrict y)
{
    for (size_t i = 0; i < n; i++) y[i] = axnn_dequantize_one(q, x[i]);
}

/* y = t[a], a 256-byte table (ReLU and Clip on quantized tensors, ops_q.c). */
BODY void lookup256(const uint8_t *restrict t, const uint8_t *restrict a, size_t n, uint8_t *restrict y)
{
    for (size_t i = 0; i < n; i++) y[i] = t[a[i]];
}

/* Add and Mul of two quantized tensors. The float steps are those of
 * axnn_dequantize_one (the operand's value minus its zero point, as float,
 * times the scale) and axnn_quantize_one (divide by the output scale, round
 * half to even), in the same order, so every rounding is the same. The
 * saturation comes first here: clamping to [lo - zy, hi - zy] (integers)
 * before rint equals clamping after it, since rint is monotone; NaN fails
 * v > L and goes low as in axnn_saturate; its +-1e9 bounds lie outside
 * [L, H]. Within [L, H] (|v| <= 510 for zero points in the output type's
 * range; any |zy| < 2^22 will do) adding and subtracting 1.5 * 2^23
 * rounds half to even exactly as rintf (which the SSE2 baseline has no
 * instruction for: a call per element there, 3x the time of the 64 KiB
 * table these loops replaced). The signed operand's byte is
 * (b ^ 0x80) - 128. */
BODY uint8_t binary_byte(float v, float L, float H, int32_t zy)
{
    v = v > L ? v : L;
    v = v < H ? v : H;
    v = (v + 0x1.8p23f) - 0x1.8p23f;
    return (uint8_t)((int32_t)v + zy);
}

BODY void binary(const axnn_binop *op, const uint8_t *restrict a, const uint8_t *restrict b, size_t n,
                 uint8_t *restrict y)
{
    uint8_t xa = op->ta == AX_S8 ? 0x80 : 0, xb = op->tb == AX_S8 ? 0x80 : 0;
    int32_t ca = (op->ta == AX_S8 ? 128 : 0) + op->za, cb = (op->tb == AX_S8 ? 128 : 0) + op->zb, zy = op->zy;
    float sa = op->sa, sb = op->sb, sy = op->sy, L = (float)(op->lo - zy), H = (float)(op->hi - zy);
    if (op->mul)
        for (size_t i = 0; i < n; i++) {
            float fa = sa * (float)((int32_t)(a[i] ^ xa) - ca), fb = sb * (float)((int32_t)(b[i] ^ xb) - cb);
            y[i] = binary_byte(fa * fb / sy, L, H, zy);
        }
    else
        for (size_t i = 0; i < n; i++) {
            float fa = sa * (float)((int32_t)(a[i] ^ xa) - ca), fb = sb * (float)((int32_t)(b[i] ^ xb) - cb);
            y[i] = binary_byte((fa + fb) / sy, L, H, zy);
        }
}

#ifdef X86_VARIANTS
/* binary() 16 lanes at a time: the table it replaced (one load from 64 KiB
 * per element) ran ~5x slower. Masked loads only for the tail: on full
 * vectors they took twice the time of plain ones streaming from memory
 * here (Zen 5), ~15% more from L2. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) __m512
binary_value(__m128i bytes, __m128i x, __m512i c, __m512 s)
{
    return _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_xor_si128(bytes, x)), c)));
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
binary_16__avx512(const axnn_binop *op, const uint8_t *a, const uint8_t *b, size_t n, uint8_t *y)
{
    __m128i xa = _mm_set1_epi8(op->ta == AX_S8 ? (char)0x80 : 0), xb = _mm_set1_epi8(op->tb == AX_S8 ? (char)0x80 : 0);
    __m512i ca = _mm512_set1_epi32((op->ta == AX_S8 ? 128 : 0) + op->za);
    __m512i cb = _mm512_set1_epi32((op->tb == AX_S8 ? 128 : 0) + op->zb), zy = _mm512_set1_epi32(op->zy);
    __m512 sa = _mm512_set1_ps(op->sa), sb = _mm512_set1_ps(op->sb), sy = _mm512_set1_ps(op->sy);
    __m512 L = _mm512_set1_ps((float)(op->lo - op->zy)), H = _mm512_set1_ps((float)(op->hi - op->zy));
    bool mul = op->mul;
    for (size_t i = 0; i < n; i += 16) {
        bool full = n - i >= 16;
        __mmask16 k = full ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m128i ba = full ? _mm_loadu_si128((const __m128i *)(a + i)) : _mm_maskz_loadu_epi8(k, a + i);
        __m128i bb = full ? _mm_loadu_si128((const __m128i *)(b + i)) : _mm_maskz_loadu_epi8(k, b + i);
        __m512 va = binary_value(ba, xa, ca, sa), vb = binary_value(bb, xb, cb, sb);
        __m512 v = _mm512_div_ps(mul ? _mm512_mul_ps(va, vb) : _mm512_add_ps(va, vb), sy);
        /* max returns its second operand for NaN: L, as the rule sends NaN low;
         * cvtps rounds half to even (the default mode, as rintf) */
        v = _mm512_min_ps(_mm512_max_ps(v, L), H);
        __m128i q = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zy));
        if (full) _mm_storeu_si128((__m128i *)(y + i), q);
        else _mm_mask_storeu_epi8(y + i, k, q);
    }
}

/* The table in four zmm, 64 bytes per two `vpermi2b` (index bits 0-6) and a
 * blend on bit 7, as the LUT kernels look up their byte planes. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi"))) static void
lookup256_avx512vbmi(const uint8_t *t, const uint8_t *a, size_t n, uint8_t *y)
{
    __m512i t0 = _mm512_loadu_si512(t), t1 = _mm512_loadu_si512(t + 64);
    __m512i t2 = _mm512_loadu_si512(t + 128), t3 = _mm512_loadu_si512(t + 192);
    for (size_t i = 0; i < n; i += 64) {
        bool full = n - i >= 64; /* masked loads only for the tail (binary_16__avx512) */
        __mmask64 k = full ? ~(__mmask64)0 : ((__mmask64)1 << (n - i)) - 1;
        __m512i x = full ? _mm512_loadu_si512(a + i) : _mm512_maskz_loadu_epi8(k, a + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, x, t1), hi = _mm512_permutex2var_epi8(t2, x, t3);
        __m512i v = _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi);
        if (full) _mm512_storeu_si512(y + i, v);
        else _mm512_mask_storeu_epi8(y + i, k, v);
    }
}

/* The runs' next `width` channels (requantize_run_*): at a pixel's end, the
 * next pixel's zero-point sum broadcast into sp */
#define NEXT_CHANNELS(width, broadcast)                                        \
    if ((c += (width)) == oc) {                                                \
        c = 0, p++;                                                            \
        if (with_sum && p < pixels) sp = broadcast(sum[p]);                    \
    }

/* What the AVX-512 loops below read of an axnn_requant, per call. */
typedef struct rq16 {
    const float *s;
    const int32_t *corr, *zw;
    __m512i zp, lo, hi;
} rq16;

/* r's pointers and constants in locals: the byte stores could alias *r, so
 * gcc reloaded them (and rebroadcast zp, lo, hi) for every 16 outputs. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) rq16
rq16_of(const axnn_requant *r)
{
    return (rq16){.s = r->s, .corr = r->corr, .zw = r->zw, .zp = _mm512_set1_epi32(r->zp),
                  .lo = _mm512_set1_epi32(r->lo), .hi = _mm512_set1_epi32(r->hi)};
}

/* 16 channels' requantization (v: acc + corr - zw * sum, int32 modulo 2^32)
 * to their bytes at y; full: all 16 lanes, else the lanes of k. Masked
 * loads and their masks cost almost as much as the rest (1.9 against 1.06
 * ns per 16 outputs here), so full vectors go without. The rounding is one
 * conversion, to nearest even (rintf's, the scalar rule); the clamp to
 * [lo, hi] covers every |v * s| the conversion could not hold (|s| < 0.25). */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) __m512i
requant_round_16(const rq16 *r, size_t c, __m512i v, bool full, __mmask16 k)
{
    __m512 s = full ? _mm512_loadu_ps(r->s + c) : _mm512_maskz_loadu_ps(k, r->s + c);
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), s);
    return _mm512_cvt_roundps_epi32(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) __m128i
requant_bytes_16(const rq16 *r, size_t c, __m512i v, bool full, __mmask16 k)
{
    __m512i q = _mm512_add_epi32(requant_round_16(r, c, v, full, k), r->zp);
    return _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(q, r->lo), r->hi));
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
requant_16(const rq16 *r, size_t c, __m512i v, bool full, __mmask16 k, uint8_t *y)
{
    __m128i b = requant_bytes_16(r, c, v, full, k);
    if (full)
        _mm_storeu_si128((__m128i *)y, b);
    else
        _mm_mask_storeu_epi8(y, k, b);
}

/* acc + corr (- zw * sp) of 16 channels from c */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) __m512i
dense_sum_16(const rq16 *r, const int32_t *acc, size_t c, bool sum, __m512i sp, bool full, __mmask16 k)
{
    __m512i v = full ? _mm512_add_epi32(_mm512_loadu_si512(acc + c), _mm512_loadu_si512(r->corr + c))
                     : _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, acc + c), _mm512_maskz_loadu_epi32(k, r->corr + c));
    if (sum) {
        __m512i zw = full ? _mm512_loadu_si512(r->zw + c) : _mm512_maskz_loadu_epi32(k, r->zw + c);
        v = _mm512_sub_epi32(v, _mm512_mullo_epi32(zw, sp));
    }
    return v;
}

/* How store_64 (for the depthwise epilogue and the runs below) narrows
 * four vectors of rounded values q to the low bytes of
 * clamp(q + zp, lo, hi): packed to int16 with saturation
 * first, then zp added with saturation and the clamp done on 32 words at
 * a time. Exact: |q| < 2^29 (|s| < 0.25), and a q that saturates stays
 * past [lo, hi] (within -128..255) after adding zp (also within it), so it
 * clamps to the same bound. Then the unsigned pack to bytes when lo >= 0,
 * the signed one when hi <= 127 (both exact), else the unsigned pack of
 * the words' low bytes masked. With the clamp per 16 int32 and four
 * `vpmovdb` (two uops each on Zen 4) and three inserts per 64 outputs,
 * requantize_run_avx512 ran 5.5 cycles per 16 outputs from L2 here,
 * against 4.0 now. */
enum { PACK_U8, PACK_S8, PACK_LOW };

/* Four vectors of rounded values (16 outputs each, in order) to their 64
 * bytes at y; zp, lo, hi as words */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
store_64(const __m512i v[4], __m512i zp, __m512i lo, __m512i hi, int pack, uint8_t *y)
{
    /* the packs work per 128-bit lane: dword 4l + u of the result holds
     * vector u's lanes 4l..4l+3, which belong at dword 4u + l */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i low = _mm512_set1_epi16(0xff);
    __m512i w0 = _mm512_adds_epi16(_mm512_packs_epi32(v[0], v[1]), zp);
    __m512i w1 = _mm512_adds_epi16(_mm512_packs_epi32(v[2], v[3]), zp), b;
    w0 = _mm512_min_epi16(_mm512_max_epi16(w0, lo), hi), w1 = _mm512_min_epi16(_mm512_max_epi16(w1, lo), hi);
    if (pack == PACK_U8) b = _mm512_packus_epi16(w0, w1);
    else if (pack == PACK_S8) b = _mm512_packs_epi16(w0, w1);
    else b = _mm512_packus_epi16(_mm512_and_si512(w0, low), _mm512_and_si512(w1, low));
    _mm512_storeu_si512(y, _mm512_permutexvar_epi32(order, b));
}

/* store_64's pack for r's bounds */
static inline int pack_of(const axnn_requant *r) { return r->lo >= 0 ? PACK_U8 : r->hi <= 127 ? PACK_S8 : PACK_LOW; }

/* A depthwise pixel's acc + corr - zw * (its taps' values + pad) for 16
 * channels from c (one input channel per group) */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) __m512i
dw_sum_16(const rq16 *r, const uint8_t *const *tap, size_t n, bool s8, __m512i pad, const int32_t *a, size_t c,
          bool full, __mmask16 k)
{
    __m512i sum = pad;
    for (size_t t = 0; t < n; t++) {
        __m128i b = full ? _mm_loadu_si128((const __m128i *)(tap[t] + c)) : _mm_maskz_loadu_epi8(k, tap[t] + c);
        sum = _mm512_add_epi32(sum, s8 ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b));
    }
    __m512i v = full ? _mm512_add_epi32(_mm512_loadu_si512(a + c), _mm512_loadu_si512(r->corr + c))
                     : _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, a + c), _mm512_maskz_loadu_epi32(k, r->corr + c));
    __m512i zw = full ? _mm512_loadu_si512(r->zw + c) : _mm512_maskz_loadu_epi32(k, r->zw + c);
    return _mm512_sub_epi32(v, _mm512_mullo_epi32(zw, sum));
}

/* The same for 64 channels from c: the taps summed in 16-bit lanes, 32
 * channels a vector (|sum| <= 64 x 255 fits), then widened per 16: half
 * the conversions and adds of four dw_sum_16. pad16: the pad's term as
 * words. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
dw_sum_64(const rq16 *r, const uint8_t *const *tap, size_t n, bool s8, __m512i pad16, const int32_t *a, size_t c,
          __m512i v[4])
{
    __m512i w[2] = {pad16, pad16};
    for (size_t t = 0; t < n; t++)
        for (int h = 0; h < 2; h++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(tap[t] + c + 32 * h));
            w[h] = _mm512_add_epi16(w[h], s8 ? _mm512_cvtepi8_epi16(b) : _mm512_cvtepu8_epi16(b));
        }
    for (int j = 0; j < 4; j++) {
        __m256i half = j % 2 ? _mm512_extracti64x4_epi64(w[j / 2], 1) : _mm512_castsi512_si256(w[j / 2]);
        __m512i sum = _mm512_cvtepi16_epi32(half), cj = _mm512_loadu_si512(r->corr + c + 16 * j);
        __m512i vj = _mm512_add_epi32(_mm512_loadu_si512(a + c + 16 * j), cj);
        vj = _mm512_sub_epi32(vj, _mm512_mullo_epi32(_mm512_loadu_si512(r->zw + c + 16 * j), sum));
        v[j] = requant_round_16(r, c + 16 * j, vj, true, 0);
    }
}

/* The depthwise epilogue with channels as lanes, 16 at a time: a pixel's
 * taps summed in a register and requantized there (the generic loop kept
 * its sums in memory and spent more on its tails than on its vectors at
 * 144 or 960 channels). One input channel per group; else the generic. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void requantize_dw_avx512(
    const axnn_requant *r, const ax_conv2d_shape *s, size_t oy0, size_t oy1, size_t ow, ax_operand a_type, int32_t za,
    const uint8_t *xa, const int32_t *acc, int32_t *row, uint8_t *y);

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
requantize_dw_16c__avx512(const axnn_requant *r, const ax_conv2d_shape *s, size_t oy0, size_t oy1, size_t ow,
                          ax_operand a_type, int32_t za, const uint8_t *xa, const int32_t *acc, int32_t *row, uint8_t *y)
{
    enum { MAX_TAPS = 64 };
    size_t G = s->groups, taps_max = s->kernel_h * s->kernel_w;
    if (s->in_c != G || taps_max > MAX_TAPS) {
        requantize_dw_avx512(r, s, oy0, oy1, ow, a_type, za, xa, acc, row, y);
        return;
    }
    bool s8 = a_type == AX_S8;
    size_t full = G / 16 * 16, wide = G / 64 * 64;
    __mmask16 k = (__mmask16)((1u << (G - full)) - 1);
    const uint8_t *tap[MAX_TAPS];
    const rq16 q = rq16_of(r);
    const int pack = pack_of(r);
    const __m512i zp = _mm512_set1_epi16((int16_t)r->zp), lo = _mm512_set1_epi16((int16_t)r->lo);
    const __m512i hi = _mm512_set1_epi16((int16_t)r->hi);
    /* a window inside the image: its taps at these offsets from its first
     * pixel, not worked out tap by tap */
    size_t off[MAX_TAPS];
    const long kh_span = (long)((s->kernel_h - 1) * s->dilation_h), kw_span = (long)((s->kernel_w - 1) * s->dilation_w);
    for (size_t ky = 0; ky < s->kernel_h; ky++)
        for (size_t kx = 0; kx < s->kernel_w; kx++)
            off[ky * s->kernel_w + kx] = (ky * s->dilation_h * s->in_w + kx * s->dilation_w) * G;
    for (size_t oy = oy0; oy < oy1; oy++)
        for (size_t ox = 0; ox < ow; ox++) {
            size_t n = 0;
            int32_t npad = 0;
            long iy0 = (long)(oy * s->stride_h) - (long)s->pad_top, ix0 = (long)(ox * s->stride_w) - (long)s->pad_left;
            if (iy0 >= 0 && ix0 >= 0 && iy0 + kh_span < (long)s->in_h && ix0 + kw_span < (long)s->in_w) {
                const uint8_t *first = xa + ((size_t)iy0 * s->in_w + (size_t)ix0) * G;
                for (; n < taps_max; n++) tap[n] = first + off[n];
            } else {
                for (size_t ky = 0; ky < s->kernel_h; ky++)
                    for (size_t kx = 0; kx < s->kernel_w; kx++) {
                        long iy = iy0 + (long)(ky * s->dilation_h), ix = ix0 + (long)(kx * s->dilation_w);
                        if (iy < 0 || ix < 0 || iy >= (long)s->in_h || ix >= (long)s->in_w)
                            npad++;
                        else
                            tap[n++] = xa + ((size_t)iy * s->in_w + (size_t)ix) * G;
                    }
            }
            const __m512i pad = _mm512_set1_epi32(npad * za), pad16 = _mm512_set1_epi16((int16_t)(npad * za));
            const int32_t *a = acc + ((oy - oy0) * ow + ox) * G;
            uint8_t *out = y + ((oy - oy0) * ow + ox) * G;
            for (size_t c = 0; c < wide; c += 64) {
                __m512i v[4];
                dw_sum_64(&q, tap, n, s8, pad16, a, c, v);
                store_64(v, zp, lo, hi, pack, out + c);
            }
            for (size_t c = wide; c < full; c += 16)
                requant_16(&q, c, dw_sum_16(&q, tap, n, s8, pad, a, c, true, 0), true, 0, out + c);
            if (k) requant_16(&q, full, dw_sum_16(&q, tap, n, s8, pad, a, full, false, k), false, k, out + full);
        }
}

/* Whole rows of pixels x oc outputs (oc a multiple of 16, rows back to
 * back in acc and y) as one run: four vectors' bytes go out as one 64-byte
 * store. Stored 16 bytes at a time, the loop waited on its stores (the
 * output lines' reads for ownership: half its samples in perf, MobileNetV2);
 * a quarter of the stores keeps more lines in flight. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
requantize_run_avx512(const rq16 *q, const int32_t *acc, const int32_t *sum, bool with_sum, size_t pixels, size_t oc,
                      uint8_t *y, int pack)
{
    size_t n = pixels * oc, c = 0, p = 0, i = 0;
    __m512i sp = _mm512_set1_epi32(with_sum && pixels ? sum[0] : 0);
    const __m512i zp = _mm512_set1_epi16((int16_t)_mm512_cvtsi512_si32(q->zp));
    const __m512i lo = _mm512_set1_epi16((int16_t)_mm512_cvtsi512_si32(q->lo));
    const __m512i hi = _mm512_set1_epi16((int16_t)_mm512_cvtsi512_si32(q->hi));
    __m512i v[4];
    for (; i + 64 <= n; i += 64) {
        for (int u = 0; u < 4; u++) {
            v[u] = requant_round_16(q, c, dense_sum_16(q, acc + i + 16 * u - c, c, with_sum, sp, true, 0), true, 0);
            NEXT_CHANNELS(16, _mm512_set1_epi32)
        }
        store_64(v, zp, lo, hi, pack, y + i);
    }
    for (; i < n; i += 16) {
        requant_16(q, c, dense_sum_16(q, acc + i - c, c, with_sum, sp, true, 0), true, 0, y + i);
        NEXT_CHANNELS(16, _mm512_set1_epi32)
    }
}

/* Dense layers' requantization, 16 channels a vector, the tail masked:
 * the generic loop, vectorized 64 channels at a time by gcc, ran its
 * remainders scalar (all of a 24-channel layer, 16 of 144) and spent more
 * time there than in its vectors (MobileNetV2, perf). Per-channel sums (the
 * depthwise form): the generic. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void requantize_avx512(
    const axnn_requant *r, const int32_t *acc, size_t lda, const int32_t *sum, bool per_c, size_t pixels, uint8_t *y,
    size_t ldy);

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
requantize_16c__avx512(const axnn_requant *r, const int32_t *acc, size_t lda, const int32_t *sum, bool per_c,
                       size_t pixels, uint8_t *y, size_t ldy)
{
    if (per_c) {
        requantize_avx512(r, acc, lda, sum, per_c, pixels, y, ldy);
        return;
    }
    size_t oc = r->oc, full = oc / 16 * 16;
    __mmask16 k = (__mmask16)((1u << (oc - full)) - 1);
    const rq16 q = rq16_of(r);
    if (oc == full && lda == oc && ldy == oc) { /* one run of pixels x oc: 64 outputs per store */
        int pack = pack_of(r);
        if (sum)
            requantize_run_avx512(&q, acc, sum, true, pixels, oc, y, pack);
        else
            requantize_run_avx512(&q, acc, sum, false, pixels, oc, y, pack);
        return;
    }
    for (size_t p = 0; p < pixels; p++, acc += lda, y += ldy) {
        const __m512i sp = _mm512_set1_epi32(sum ? sum[p] : 0);
        if (sum) {
            for (size_t c = 0; c < full; c += 16)
                requant_16(&q, c, dense_sum_16(&q, acc, c, true, sp, true, 0), true, 0, y + c);
            if (k) requant_16(&q, full, dense_sum_16(&q, acc, full, true, sp, false, k), false, k, y + full);
        } else {
            for (size_t c = 0; c < full; c += 16)
                requant_16(&q, c, dense_sum_16(&q, acc, c, false, sp, true, 0), true, 0, y + c);
            if (k) requant_16(&q, full, dense_sum_16(&q, acc, full, false, sp, false, k), false, k, y + full);
        }
    }
}

/* 8 channels from c: acc + corr (- zw * sp) requantized, int32 in [lo, hi] */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) __m256i
requant_8_avx2(const float *sc, const uint32_t *corr, const uint32_t *zw, const int32_t *acc, size_t c, bool with_sum,
               __m256i sp, __m256i zp, __m256i lo, __m256i hi, bool clamp)
{ /* clamp false: the rounded value alone (requantize_run_avx2 adds zp and clamps in words) */
    __m256i v = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + c)),
                                 _mm256_loadu_si256((const __m256i *)(corr + c)));
    if (with_sum) v = _mm256_sub_epi32(v, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(zw + c)), sp));
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(sc + c));
    /* to nearest even by the rounding mode, as rintf */
    __m256i q = _mm256_cvtps_epi32(f);
    if (!clamp) return q;
    return _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(q, zp), lo), hi);
}

/* 8 int32 in [lo, hi] (within -128..255) to their low bytes at y: the
 * signed pack to int16 is exact, and so is the unsigned one of the masked
 * low bytes */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void store_8_avx2(uint8_t *y, __m256i q)
{
    __m128i t = _mm_and_si128(_mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)),
                              _mm_set1_epi16(0xff));
    _mm_storel_epi64((__m128i *)y, _mm_packus_epi16(t, t));
}

/* Whole rows of pixels x oc outputs (oc a multiple of 8, rows back to back
 * in acc and y) as one run, four vectors' bytes in one 32-byte store, as
 * requantize_run_avx512 and for the same reason (the stores waited on the
 * output lines' reads for ownership). Values in [lo, hi] fit int16, so the
 * signed pack is exact; their low bytes, masked, pack unsigned exactly. */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void
requantize_run_avx2(const axnn_requant *r, const int32_t *acc, const int32_t *sum, bool with_sum, size_t pixels,
                    uint8_t *y, int pack)
{
    size_t oc = r->oc, n = pixels * oc, c = 0, p = 0, i = 0;
    const float *sc = r->s;
    const uint32_t *corr = (const uint32_t *)r->corr, *zw = (const uint32_t *)r->zw;
    const __m256i zp = _mm256_set1_epi32(r->zp), lo = _mm256_set1_epi32(r->lo), hi = _mm256_set1_epi32(r->hi);
    const __m256i zp_w = _mm256_set1_epi16((int16_t)r->zp), lo_w = _mm256_set1_epi16((int16_t)r->lo);
    const __m256i hi_w = _mm256_set1_epi16((int16_t)r->hi), low = _mm256_set1_epi16(0xff);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i sp = _mm256_set1_epi32(with_sum && pixels ? sum[0] : 0), q[4];
    for (; i + 32 <= n; i += 32) {
        for (int u = 0; u < 4; u++) {
            q[u] = requant_8_avx2(sc, corr, zw, acc + i + 8 * u - c, c, with_sum, sp, zp, lo, hi, false);
            NEXT_CHANNELS(8, _mm256_set1_epi32)
        }
        /* zp and the clamp in words, as requantize_run_avx512 (PACK_*) */
        __m256i a = _mm256_adds_epi16(_mm256_packs_epi32(q[0], q[1]), zp_w);
        __m256i b = _mm256_adds_epi16(_mm256_packs_epi32(q[2], q[3]), zp_w), v;
        a = _mm256_min_epi16(_mm256_max_epi16(a, lo_w), hi_w), b = _mm256_min_epi16(_mm256_max_epi16(b, lo_w), hi_w);
        if (pack == PACK_U8) v = _mm256_packus_epi16(a, b);
        else if (pack == PACK_S8) v = _mm256_packs_epi16(a, b);
        else v = _mm256_packus_epi16(_mm256_and_si256(a, low), _mm256_and_si256(b, low));
        /* per 128-bit half: q0..q3's lanes 0-3, then their lanes 4-7 */
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_permutevar8x32_epi32(v, order));
    }
    for (; i < n; i += 8) {
        store_8_avx2(y + i, requant_8_avx2(sc, corr, zw, acc + i - c, c, with_sum, sp, zp, lo, hi, true));
        NEXT_CHANNELS(8, _mm256_set1_epi32)
    }
}

/* The same on AVX2, 8 channels a vector, the last < 8 by the scalar rule. */
__attribute__((target("avx2"))) static void requantize_avx2(const axnn_requant *r, const int32_t *acc, size_t lda,
                                                              const int32_t *sum, bool per_c, size_t pixels,
                                                              uint8_t *y, size_t ldy);

__attribute__((target("avx2"))) static void requantize_8c__avx2(const axnn_requant *r, const int32_t *acc, size_t lda,
                                                                  const int32_t *sum, bool per_c, size_t pixels,
                                                                  uint8_t *y, size_t ldy)
{
    if (per_c) {
        requantize_avx2(r, acc, lda, sum, per_c, pixels, y, ldy);
        return;
    }
    size_t oc = r->oc, vec = oc / 8 * 8;
    if (oc == vec && lda == oc && ldy == oc) { /* one run of pixels x oc: 32 outputs per store */
        int pack = pack_of(r);
        if (sum)
            requantize_run_avx2(r, acc, sum, true, pixels, y, pack);
        else
            requantize_run_avx2(r, acc, sum, false, pixels, y, pack);
        return;
    }
    const float *sc = r->s; /* in a local: the byte stores could alias r */
    const __m256i zp = _mm256_set1_epi32(r->zp), lo = _mm256_set1_epi32(r->lo), hi = _mm256_set1_epi32(r->hi);
    const uint32_t *corr = (const uint32_t *)r->corr, *zw = (const uint32_t *)r->zw;
    for (size_t p = 0; p < pixels; p++, acc += lda, y += ldy) {
        uint32_t s1 = sum ? (uint32_t)sum[p] : 0;
        const __m256i sp = _mm256_set1_epi32((int32_t)s1);
        for (size_t c = 0; c < vec; c += 8)
            store_8_avx2(y + c, requant_8_avx2(sc, corr, zw, acc, c, sum != NULL, sp, zp, lo, hi, true));
        for (size_t c = vec; c < oc; c++)
            y[c] = requantize_one((uint32_t)acc[c] + corr[c] - (sum ? zw[c] * s1 : 0), sc[c], r->zp, r->lo, r->hi);
    }
}
#endif

/* One ISA's variant: the generic bodies compiled with attr; lookup, dw, rq
 * and bin name the table lookup, the depthwise and dense epilogues and the
 * Add/Mul loop it uses (its own generic ones, lookup256_##name,
 * requantize_dw_##name, requantize_##name and binary_##name, or ones by
 * hand). */
#define VARIANT(name, isa_id, attr, lookup, dw, rq, bin)                                                       \
    attr static void conv_suma_##name(const ax_conv2d_shape *s, size_t oh, size_t ow, ax_operand a_type,       \
                                      int32_t za, const uint8_t *xa, int32_t *suma)                            \
    {                                                                                                          \
        conv_suma(s, oh, ow, a_type, za, xa, suma);                                                            \
    }                                                                                                          \
    attr static void requantize_##name(const axnn_requant *r, const int32_t *acc, size_t lda, const int32_t *sum, \
                                       bool per_c, size_t pixels, uint8_t *y, size_t ldy)                      \
    {                                                                                                          \
        requantize(r, acc, lda, sum, per_c, pixels, y, ldy);                                                   \
    }                                                                                                          \
    attr __attribute__((unused)) static void requantize_dw_##name(                                             \
        const axnn_requant *r, const ax_conv2d_shape *s, size_t oy0, size_t oy1, size_t ow, ax_operand a_type, \
        int32_t za, const uint8_t *xa, const int32_t *acc, int32_t *row, uint8_t *y)                           \
    {                                                                                                          \
        requantize_dw(r, s, oy0, oy1, ow, a_type, za, xa, acc, row, y);                                        \
    }                                                                                                          \
    attr static void quantize_##name(const axnn_qp *q, const float *x, size_t n, uint8_t *y)                   \
    {                                                                                                          \
        quantize(q, x, n, y);                                                                                  \
    }                                                                                                          \
    attr static void dequantize_##name(const axnn_qp *q, const uint8_t *x, size_t n, float *y)                 \
    {                                                                                                          \
        dequantize(q, x, n, y);                                                                                \
    }                                                                                                          \
    attr __attribute__((unused)) static void lookup256_##name(const uint8_t *t, const uint8_t *a, size_t n,    \
                                                              uint8_t *y)                                      \
    {                                                                                                          \
        lookup256(t, a, n, y);                                                                                 \
    }                                                                                                          \
    attr __attribute__((unused)) static void binary_##name(const axnn_binop *op, const uint8_t *a,             \
                                                           const uint8_t *b, size_t n, uint8_t *y)             \
    {                                                                                                          \
        binary(op, a, b, n, y);                                                                                \
    }                                                                                                          \
    static const axnn_epilogue epilogue_##name = {isa_id,   conv_suma_##name, rq, dw,                          \
                                                  quantize_##name, dequantize_##name, lookup, bin};

#ifdef X86_VARIANTS
VARIANT(avx512, AX_ISA_AVX512, __attribute__((target("avx512f,avx512bw,avx512vl"))), lookup256_avx512vbmi,
        requantize_dw_16c__avx512, requantize_16c__avx512, binary_16__avx512)
VARIANT(avx2, AX_ISA_AVX2, __attribute__((target("avx2"))), lookup256_avx2, requantize_dw_avx2, requantize_8c__avx2,
        binary_avx2)
#endif
VARIANT(scalar, AX_ISA_SCALAR, , lookup256_scalar, requantize_dw_scalar, requantize_scalar, binary_scalar)

const axnn_epilogue *axnn_epilogue_for(ax_isa isa)
{
#ifdef X86_VARIANTS
    if (isa == AX_ISA_AVX512 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vbmi"))
        return &epilogue_avx512;
    if (isa == AX_ISA_AVX2 && __builtin_cpu_supports("avx2")) return &epilogue_avx2;
#endif
    return isa == AX_ISA_SCALAR ? &epilogue_scalar : NULL;
}

/* The variant for isa, or the best below it this CPU runs; AUTO: $AX_ISA
 * when set, else the best (as the kernels' plans choose). So a network run
 * under --isa avx2 runs its epilogue at AVX2 too. */
static const axnn_epilogue *variant(ax_isa isa)
{
    const char *env = isa == AX_ISA_AUTO ? getenv("AX_ISA") : NULL;
    if (env && ax_isa_parse(env, &isa) != 0) isa = AX_ISA_AUTO;
    const axnn_epilogue *e = NULL;
    if (isa == AX_ISA_AUTO || isa == AX_ISA_AVX512) e = axnn_epilogue_for(AX_ISA_AVX512);
    if (!e && isa != AX_ISA_SCALAR) e = axnn_epilogue_for(AX_ISA_AVX2);
    return e ? e : &epilogue_scalar;
}

void axnn_conv_suma(ax_isa isa, const ax_conv2d_shape *s, size_t oh, size_t ow, ax_operand a_type, int32_t za,
                    const uint8_t *xa, int32_t *suma)
{
    variant(isa)->conv_suma(s, oh, ow, a_type, za, xa, suma);
}

void axnn_requantize_fast(ax_isa isa, const axnn_requant *r, const int32_t *acc, const int32_t *sum, size_t pixels,
                          uint8_t *y)
{
    variant(isa)->requantize(r, acc, r->oc, sum, false, pixels, y, r->oc);
}

void axnn_requantize_block(ax_isa isa, const axnn_requant *r, size_t n0, size_t cols, const int32_t *acc, size_t lda,
                           const int32_t *sum, size_t rows, uint8_t *y, size_t ldy)
{
    axnn_requant b = *r;
    b.corr += n0, b.zw += n0, b.s += n0, b.oc = cols;
    variant(isa)->requantize(&b, acc, lda, sum, false, rows, y + n0, ldy);
}

void axnn_requantize_dw(ax_isa isa, const axnn_requant *r, const ax_conv2d_shape *s, size_t oy0, size_t oy1, size_t ow,
                        ax_operand a_type, int32_t za, const uint8_t *xa, const int32_t *acc, int32_t *row, uint8_t *y)
{
    variant(isa)->requantize_dw(r, s, oy0, oy1, ow, a_type, za, xa, acc, row, y);
}

void axnn_quantize_floats(ax_isa isa, const axnn_qp *q, const float *x, size_t n, uint8_t *y)
{
    variant(isa)->quantize(q, x, n, y);
}

void axnn_dequantize_bytes(ax_isa isa, const axnn_qp *q, const uint8_t *x, size_t n, float *y)
{
    variant(isa)->dequantize(q, x, n, y);
}

void axnn_lookup256(ax_isa isa, const uint8_t *t, const uint8_t *a, size_t n, uint8_t *y)
{
    variant(isa)->lookup256(t, a, n, y);
}

void axnn_binary(ax_isa isa, const axnn_binop *op, const uint8_t *a, const uint8_t *b, size_t n, uint8_t *y)
{
    variant(isa)->binary(op, a, b, n, y);
}
