/* lut_gemm_256x1__avx512vbmi.c - the LUT microkernel for AVX-512 VBMI, built
 * like a PE of a weight-stationary systolic array. For one weight byte w the
 * 256 min-subtracted products T[.][w] - min live in registers as byte planes
 * (four zmm per plane, one per quarter of the activation range). A
 * 256-entry lookup of 64 activations is two vpermi2b (halves 0|1 and 2|3,
 * bits 0..6 of the activation) and a blend by bit 7 (vpmovb2m, once per 64
 * activations for all planes). On Zen 5 vpermi2b, vpermb and vpmovb2m all
 * issue 2 per cycle on the same two pipes, so this is half the permutes of
 * the earlier four merge-masked vpermb (which also needed a bit-6 copy of
 * the panel); the blend and the sums go to the other pipes.
 *
 * Each looked-up byte vector R is accumulated in 16-bit lanes as two sums:
 * S += R (a lane holds even + 256*odd, modulo 2^16) and O += R >> 8 (the odd
 * bytes). Both are exact for up to 256 additions; every KC <= 256 k (a block
 * of the panel that stays in L1 while all the tile's columns pass), even =
 * S - 256*O and odd = O are widened into int32 sums in natural row order.
 * One table load serves up to 5 blocks of 64 rows (2 or 1 when 3 or 4
 * planes fill the registers). Per 64 rows and plane: 2 vpermi2b, 1 blend,
 * 2 adds, 1 shift (+ 1 vpmovb2m per 64 rows): a register-only loop of this
 * sequence runs ~2.4 cycles per 64 lookups for one plane and ~4.0 for two
 * here (26 and 16 MAC/cycle); the kernel reaches ~23 and ~14.
 *
 * Panel layout: up to 640 rows (10 blocks) as sub-panels of at most 5
 * blocks, each K rows of its blocks' activation bytes (pack_a).
 * (The name keeps the original 256-row tile: it is in plans and results.)
 * Compile with -mavx512f -mavx512bw -mavx512vl -mavx512vbmi. */
#include "kernels/gemm_internal.h"
#include "kernels/avx512/lut_planes_avx512.h"
#include "kernels/transpose_u8.h"

#include <immintrin.h>
#include <string.h>

/* Rows per panel: 10 blocks of 64, run as sub-panels of at most SUB = 5
 * (what two planes and their sums fit in 32 zmm). */
#define MR 640
#define SUB 5
enum { NC = 64 };

static size_t panel_bytes(size_t K)
{
    return K > SIZE_MAX / MR ? SIZE_MAX : (K ? K : 1) * MR;
}

/* Blocks of sub-panel i (of nsub) when s0 of the panel's nb blocks are
 * taken: the blocks shared out evenly (7 = 4 + 3, not 5 + 2). */
static size_t sub_blocks(size_t nb, size_t s0, size_t i, size_t nsub)
{
    return (nb - s0 + (nsub - i) - 1) / (nsub - i);
}

/* Sub-panel by sub-panel: the one of blocks s0..s0+sb-1 at panel + K*64*s0,
 * K rows of sb*64 bytes, so a k row of it is whole cache lines (a 640-byte
 * stride with half the lines in use measured ~12% slower). */
static void pack_a(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    size_t nb = (rows + 63) / 64, nsub = (nb + SUB - 1) / SUB;
    for (size_t i = 0, s0 = 0; i < nsub; i++) {
        size_t sb = sub_blocks(nb, s0, i, nsub), r = rows - 64 * s0 < 64 * sb ? rows - 64 * s0 : 64 * sb;
        ax_pack_kmajor_u8(r, K, A + 64 * s0 * lda, lda, panel + K * 64 * s0, 64 * sb);
        s0 += sb;
    }
}

/* The k loop of 1-5 blocks x 2 planes in asm, every zmm assigned by hand
 * (sums zmm0-19, 4 per block; planes zmm20-27; x zmm28; scratch zmm29-31,
 * the two planes sharing one HI): gcc's allocation of the intrinsic
 * version spills sums to the stack, which cost ~15% (kernel alone, K 576:
 * 12.2 -> 14.0 MAC/cycle). Same instructions as block(); the 16-bit sums go
 * to out[] (S, O per block and plane) for widening. The planes of w[k + 2]
 * (clamped to the block) are prefetched: they come from L2 (+5-8%; 1, 3,
 * 4, 6, 8 or 16 ahead gained nothing more). */
#define AX_Z(n) "%%zmm" #n
/* plane lookup of x (zmm28) in tables T0..T3 into scratch LO/HI, sums S/O */
#define AX_PLANE(T0, T1, T2, T3, LO, HI, S, O)                                                              \
    "vmovdqa64 %%zmm28, " AX_Z(LO) "\n\tvpermi2b " AX_Z(T1) ", " AX_Z(T0) ", " AX_Z(LO) "\n\t"               \
    "vmovdqa64 %%zmm28, " AX_Z(HI) "\n\tvpermi2b " AX_Z(T3) ", " AX_Z(T2) ", " AX_Z(HI) "\n\t"               \
    "vpblendmb " AX_Z(HI) ", " AX_Z(LO) ", " AX_Z(LO) "%{%%k1%}\n\t"                                          \
    "vpaddw " AX_Z(LO) ", " AX_Z(S) ", " AX_Z(S) "\n\tvpsrlw $8, " AX_Z(LO) ", " AX_Z(LO) "\n\t"             \
    "vpaddw " AX_Z(LO) ", " AX_Z(O) ", " AX_Z(O) "\n\t"
/* block s of 64 rows: sums zmm(4s) .. zmm(4s+3) = S0, O0, S1, O1 */
#define AX_BLOCK(s, S0, O0, S1, O1)                                                                          \
    "vmovdqa64 " #s "*64(%[a]), %%zmm28\n\tvpmovb2m %%zmm28, %%k1\n\t"                                       \
    AX_PLANE(20, 21, 22, 23, 29, 30, S0, O0) AX_PLANE(24, 25, 26, 27, 31, 30, S1, O1)
#define AX_ZERO(n) "vmovdqa64 %%zmm0, " AX_Z(n) "\n\t"
#define AX_OUT(n) "vmovdqa64 " AX_Z(n) ", " #n "*64(%[out])\n\t"
#define AX_LD(i, n) "vmovdqa64 " #i "*64(%%rax), " AX_Z(n) "\n\t"
/* The k loop for SB blocks (4s..4s+3 the sums of block s): ZEROS clears
 * them, BLOCKS runs each block, OUTS stores them. */
#define AX_LOOP2(NAME, ZEROS, BLOCKS, OUTS)                                                                     \
    static void NAME(const uint8_t *planes, const uint8_t *a, size_t stride, const uint8_t *w,                 \
                     const uint8_t *wend, __m512i out[20])                                                     \
    {                                                                                                           \
        __asm__ volatile("vpxord %%zmm0, %%zmm0, %%zmm0\n\t" ZEROS                                            \
                         "1:\n\t"                                                                               \
                         "lea 2(%[w]), %%rcx\n\tcmp %[wlast], %%rcx\n\tcmova %[wlast], %%rcx\n\t"             \
                         "movzbl (%%rcx), %%ecx\n\tshl $9, %%rcx\n\tadd %[planes], %%rcx\n\t"                 \
                         "prefetcht0 (%%rcx)\n\tprefetcht0 64(%%rcx)\n\tprefetcht0 128(%%rcx)\n\t"            \
                         "prefetcht0 192(%%rcx)\n\tprefetcht0 256(%%rcx)\n\tprefetcht0 320(%%rcx)\n\t"        \
                         "prefetcht0 384(%%rcx)\n\tprefetcht0 448(%%rcx)\n\t"                                 \
                         "movzbl (%[w]), %%eax\n\tshl $9, %%rax\n\tadd %[planes], %%rax\n\t" /* 512 B per w */ \
                         AX_LD(0, 20) AX_LD(1, 21) AX_LD(2, 22) AX_LD(3, 23) AX_LD(4, 24) AX_LD(5, 25)       \
                         AX_LD(6, 26) AX_LD(7, 27)                                                            \
                         BLOCKS                                                                                 \
                         "add %[stride], %[a]\n\tinc %[w]\n\tcmp %[wend], %[w]\n\tjb 1b\n\t" OUTS        \
                         : [a] "+r"(a), [w] "+r"(w)                                                             \
                         : [planes] "r"(planes), [stride] "r"(stride), [wend] "r"(wend), [out] "r"(out),        \
                           [wlast] "r"(wend - 1)                                                                \
                         : "rax", "rcx", "k1", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",   \
                           "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",        \
                           "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",    \
                           "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");                     \
    }
#define AX_Z1 AX_ZERO(1) AX_ZERO(2) AX_ZERO(3)
#define AX_Z2 AX_Z1 AX_ZERO(4) AX_ZERO(5) AX_ZERO(6) AX_ZERO(7)
#define AX_Z3 AX_Z2 AX_ZERO(8) AX_ZERO(9) AX_ZERO(10) AX_ZERO(11)
#define AX_Z4 AX_Z3 AX_ZERO(12) AX_ZERO(13) AX_ZERO(14) AX_ZERO(15)
#define AX_Z5 AX_Z4 AX_ZERO(16) AX_ZERO(17) AX_ZERO(18) AX_ZERO(19)
#define AX_B1 AX_BLOCK(0, 0, 1, 2, 3)
#define AX_B2 AX_B1 AX_BLOCK(1, 4, 5, 6, 7)
#define AX_B3 AX_B2 AX_BLOCK(2, 8, 9, 10, 11)
#define AX_B4 AX_B3 AX_BLOCK(3, 12, 13, 14, 15)
#define AX_B5 AX_B4 AX_BLOCK(4, 16, 17, 18, 19)
#define AX_O1 AX_OUT(0) AX_OUT(1) AX_OUT(2) AX_OUT(3)
#define AX_O2 AX_O1 AX_OUT(4) AX_OUT(5) AX_OUT(6) AX_OUT(7)
#define AX_O3 AX_O2 AX_OUT(8) AX_OUT(9) AX_OUT(10) AX_OUT(11)
#define AX_O4 AX_O3 AX_OUT(12) AX_OUT(13) AX_OUT(14) AX_OUT(15)
#define AX_O5 AX_O4 AX_OUT(16) AX_OUT(17) AX_OUT(18) AX_OUT(19)
AX_LOOP2(loop1_2, AX_Z1, AX_B1, AX_O1)
AX_LOOP2(loop2_2, AX_Z2, AX_B2, AX_O2)
AX_LOOP2(loop3_2, AX_Z3, AX_B3, AX_O3)
AX_LOOP2(loop4_2, AX_Z4, AX_B4, AX_O4)
AX_LOOP2(loop5_2, AX_Z5, AX_B5, AX_O5)
/* x[0..7] as an 8 x 8 matrix of qwords, transposed: qword i of x[j] <-> qword
 * j of x[i] */
static inline __attribute__((always_inline)) void transpose_8x8_q(__m512i *x)
{
    __m512i u[8];
    for (int v = 0; v < 8; v += 2) {
        u[v] = _mm512_unpacklo_epi64(x[v], x[v + 1]);
        u[v + 1] = _mm512_unpackhi_epi64(x[v], x[v + 1]);
    }
    /* u[2k]: lane l = qwords 2l of x[2k], x[2k+1]; u[2k+1]: qwords 2l+1 */
    __m512i w[8];
    for (int h = 0; h < 2; h++) {
        w[4 * h] = _mm512_shuffle_i64x2(u[4 * h], u[4 * h + 2], 0x88);         /* qwords 0, 4 */
        w[4 * h + 1] = _mm512_shuffle_i64x2(u[4 * h], u[4 * h + 2], 0xdd);     /* 2, 6 */
        w[4 * h + 2] = _mm512_shuffle_i64x2(u[4 * h + 1], u[4 * h + 3], 0x88); /* 1, 5 */
        w[4 * h + 3] = _mm512_shuffle_i64x2(u[4 * h + 1], u[4 * h + 3], 0xdd); /* 3, 7 */
    }
    x[0] = _mm512_shuffle_i64x2(w[0], w[4], 0x88), x[4] = _mm512_shuffle_i64x2(w[0], w[4], 0xdd);
    x[2] = _mm512_shuffle_i64x2(w[1], w[5], 0x88), x[6] = _mm512_shuffle_i64x2(w[1], w[5], 0xdd);
    x[1] = _mm512_shuffle_i64x2(w[2], w[6], 0x88), x[5] = _mm512_shuffle_i64x2(w[2], w[6], 0xdd);
    x[3] = _mm512_shuffle_i64x2(w[3], w[7], 0x88), x[7] = _mm512_shuffle_i64x2(w[3], w[7], 0xdd);
}

/* Every group's panel (pack_a's layout, K = ntaps * cg, group g's at panels
 * + g * gstep) of one tap t of a convolution's rows: row m's k = t*cg + c of
 * group g is pt[m][g*cg + c] (in_c, cg multiples of 8). Per 8 rows and
 * 64-byte line of their pixels: one load a row, an 8 x 8 qword transpose
 * (a qword per 8 channels: x[p] holds piece p of the 8 rows) and a vpermb to
 * channel order; per 64 rows and piece, a second transpose gives its 8
 * panel rows. Each input line is read once for the 8 pieces (groups) it
 * holds: gathering 8 bytes a row per group read it once per group and
 * waited on L2 (27% of ResNeXt's layer2.0 at 8 channels a group, 18% now). Rows past
 * `rows` repeat row 0 (their sums are never stored). */
static void pack_lines(size_t rows, const uint8_t *const *pt, size_t t, size_t ntaps, size_t in_c, size_t cg,
                       uint8_t *panels, size_t gstep)
{
    size_t K = ntaps * cg, nb = (rows + 63) / 64, nsub = (nb + SUB - 1) / SUB;
    uint8_t idx[64];
    for (int c = 0; c < 8; c++)
        for (int j = 0; j < 8; j++) idx[8 * c + j] = (uint8_t)(8 * j + c); /* byte (row j, channel c) */
    const __m512i by_channel = _mm512_loadu_si512(idx);
    __m512i tmp[8][8]; /* [piece][8 rows] */
    for (size_t i = 0, s0 = 0; i < nsub; i++) {
        size_t sb = sub_blocks(nb, s0, i, nsub), stride = 64 * sb;
        for (size_t b = 0; b < sb; b++) {
            size_t r0 = 64 * (s0 + b), n = rows - r0 < 64 ? rows - r0 : 64;
            const uint8_t *rp[64];
            memcpy(rp, pt + r0, n * sizeof *rp);
            for (size_t r = n; r < 64; r++) rp[r] = pt[r0];
            for (size_t line = 0; line < in_c; line += 64) {
                size_t pieces = in_c - line < 64 ? (in_c - line) / 8 : 8;
                __mmask8 lm = (__mmask8)((1u << pieces) - 1);
                for (size_t v = 0; v < 8; v++) {
                    __m512i x[8];
                    for (size_t r = 0; r < 8; r++) {
                        const uint8_t *src = rp[8 * v + r] + line;
                        x[r] = pieces == 8 ? _mm512_loadu_si512(src) : _mm512_maskz_loadu_epi64(lm, src);
                    }
                    transpose_8x8_q(x); /* x[p] qword r: piece p of row 8v + r */
                    for (size_t p = 0; p < pieces; p++) tmp[p][v] = _mm512_permutexvar_epi8(by_channel, x[p]);
                }
                for (size_t p = 0; p < pieces; p++) {
                    transpose_8x8_q(tmp[p]); /* tmp[p][c]: channel c of the 64 rows */
                    size_t ch = line + 8 * p, g = ch / cg, q = ch % cg;
                    uint8_t *d = panels + g * gstep + K * 64 * s0 + (t * cg + q) * stride + 64 * b;
                    for (size_t c = 0; c < 8; c++) _mm512_store_si512(d + c * stride, tmp[p][c]);
                }
            }
        }
        s0 += sb;
    }
}

typedef void (*loop2_fn)(const uint8_t *, const uint8_t *, size_t, const uint8_t *, const uint8_t *, __m512i *);
static const loop2_fn loops2[5] = {loop1_2, loop2_2, loop3_2, loop4_2, loop5_2};

/* acc[0..63] (+)= the P planes' 16-bit sums so[2q] (S), so[2q + 1] (O) of
 * 64 rows as int32, plane q shifted by 8q: set in the first k block (no
 * clearing of acc beforehand), added after; one load and store per 16 rows
 * for all planes. */
static inline __attribute__((always_inline)) void widen(const __m512i *so, int P, bool first, uint32_t *acc)
{
    __m512i sum[4];
#pragma GCC unroll 4
    for (int q = 0; q < P; q++) {
        __m512i d[4];
        ax_lut_sums32(so[2 * q], so[2 * q + 1], d);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m512i v = q ? _mm512_slli_epi32(d[i], (unsigned)(8 * q)) : d[i];
            sum[i] = q ? _mm512_add_epi32(sum[i], v) : v;
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        _mm512_store_si512(acc + 16 * i, first ? sum[i] : _mm512_add_epi32(sum[i], _mm512_load_si512(acc + 16 * i)));
}

/* SB blocks of 64 rows, the first at byte s0 * 64 of each k row (stride
 * bytes) of the sub-panel at sub, P planes, k in [k0, k1) (at most 256, so
 * the 16-bit sums stay exact), one column. (For one plane, software
 * prefetch of the next k's planes and hand-allocated asm were both
 * measured: no gain.) */
static inline __attribute__((always_inline)) void block(const uint8_t *planes, int P, int SB, const uint8_t *sub,
                                                        size_t stride, size_t s0, size_t k0, size_t k1,
                                                        const uint8_t *w, uint32_t *acc)
{
    if (P == 2) {
        __m512i out[20];
        loops2[SB - 1](planes, sub + k0 * stride + s0 * 64, stride, w + k0, w + k1, out);
        for (int s = 0; s < SB; s++) widen(&out[4 * s], 2, k0 == 0, acc + 64 * s);
        return;
    }
    __m512i S[SUB][4], O[SUB][4];
#pragma GCC unroll 5
    for (int s = 0; s < SB; s++)
#pragma GCC unroll 4
        for (int q = 0; q < P; q++) S[s][q] = O[s][q] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (size_t k = k0; k < k1; k++) {
        const uint8_t *t = planes + (size_t)w[k] * (size_t)P * 256;
        __m512i T[4][4];
#pragma GCC unroll 4
        for (int q = 0; q < P; q++)
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) T[q][i] = _mm512_load_si512(t + q * 256 + 64 * i);
        const uint8_t *a = sub + k * stride + s0 * 64;
#pragma GCC unroll 5
        for (int s = 0; s < SB; s++) {
            __m512i x = _mm512_load_si512(a + 64 * s);
            __mmask64 b7 = _mm512_movepi8_mask(x);
#pragma GCC unroll 4
            for (int q = 0; q < P; q++) {
                __m512i r = ax_lut256(x, b7, T[q][0], T[q][1], T[q][2], T[q][3]);
                S[s][q] = _mm512_add_epi16(S[s][q], r);
                O[s][q] = _mm512_add_epi16(O[s][q], _mm512_srli_epi16(r, 8));
                /* keeps gcc from copying the sums to fresh registers each k */
                __asm__("" : "+v"(S[s][q]), "+v"(O[s][q]));
            }
        }
    }
#pragma GCC unroll 5
    for (int s = 0; s < SB; s++) {
        __m512i so[8];
#pragma GCC unroll 4
        for (int q = 0; q < P; q++) so[2 * q] = S[s][q], so[2 * q + 1] = O[s][q];
        widen(so, P, k0 == 0, acc + 64 * s);
    }
}

#define BLOCK_FN(P, SB)                                                                                     \
    static void block_##P##_##SB(const uint8_t *planes, const uint8_t *sub, size_t stride, size_t s0, size_t k0, \
                                 size_t k1, const uint8_t *w, uint32_t *acc)                               \
    {                                                                                                       \
        block(planes, P, SB, sub, stride, s0, k0, k1, w, acc);                                              \
    }
BLOCK_FN(1, 1) BLOCK_FN(1, 2) BLOCK_FN(1, 3) BLOCK_FN(1, 4) BLOCK_FN(1, 5)
BLOCK_FN(2, 1) BLOCK_FN(2, 2) BLOCK_FN(2, 3) BLOCK_FN(2, 4) BLOCK_FN(2, 5)
BLOCK_FN(3, 1) BLOCK_FN(3, 2)
BLOCK_FN(4, 1)

typedef void (*block_fn)(const uint8_t *, const uint8_t *, size_t, size_t, size_t, size_t, const uint8_t *,
                         uint32_t *);
static const block_fn blocks[4][SUB] = {{block_1_1, block_1_2, block_1_3, block_1_4, block_1_5},
                                        {block_2_1, block_2_2, block_2_3, block_2_4, block_2_5},
                                        {block_3_1, block_3_2, NULL, NULL, NULL},
                                        {block_4_1, NULL, NULL, NULL, NULL}};
static const int max_sb[4] = {SUB, SUB, 2, 1};

/* The first two rounds of transposing n (8 or 16) int32 columns r[i] of 16
 * rows, in place: then r[4q + c] holds, per 128-bit lane l, row 4l + c of
 * columns 4q..4q+3. */
static inline __attribute__((always_inline)) void transpose_4x4_lanes(__m512i *r, int n)
{
    __m512i t[16];
    for (int i = 0; i < n; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < n; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
}

/* out[m * ldo + j] = acc[j][m] (+ corr[j], + out[m * ldo + j] when
 * accumulate) for m < rows, j < jn: 16 x 16 int32 transposes (a scalar
 * loop here cost ~10% of the kernel at K = 64). With corr this writes C
 * directly: no buffer and no second pass over C in gemm.c (that pass was
 * ~17% of K = 64 layers). The last jn % 16 columns take the same transpose
 * with zero columns and masked stores (store8 at most 8 of them): as scalar
 * code they cost 14% of a grouped layer of 8 columns a group (ResNeXt's
 * layer2). */
static inline __attribute__((always_inline)) void store16(uint32_t acc[][MR], size_t m0, size_t mn, size_t j, size_t jw,
                                                          uint32_t *out, size_t ldo, const uint32_t *corr,
                                                          bool accumulate)
{
    __mmask16 km = (__mmask16)((1u << jw) - 1);
    __m512i r[16], t[16], cv = corr ? _mm512_maskz_loadu_epi32(km, corr + j) : _mm512_setzero_si512();
    for (size_t i = 0; i < 16; i++) r[i] = i < jw ? _mm512_load_si512(acc[j + i] + m0) : _mm512_setzero_si512();
    transpose_4x4_lanes(r, 16);
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(r[i], r[4 + i], 0x88);      /* lanes 0, 2 of each */
        t[4 + i] = _mm512_shuffle_i32x4(r[i], r[4 + i], 0xdd);  /* lanes 1, 3 */
        t[8 + i] = _mm512_shuffle_i32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_i32x4(r[8 + i], r[12 + i], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        __m512i a = _mm512_shuffle_i32x4(t[i], t[8 + i], 0x88), b = _mm512_shuffle_i32x4(t[4 + i], t[12 + i], 0x88);
        __m512i c = _mm512_shuffle_i32x4(t[i], t[8 + i], 0xdd), d = _mm512_shuffle_i32x4(t[4 + i], t[12 + i], 0xdd);
        __m512i o[4] = {a, b, c, d}; /* rows i, 4 + i, 8 + i, 12 + i */
        for (int h = 0; h < 4; h++)
            if ((size_t)(4 * h + i) < mn) {
                uint32_t *dst = out + (m0 + 4 * h + i) * ldo + j;
                __m512i v = corr ? _mm512_add_epi32(o[h], cv) : o[h];
                if (jw == 16) {
                    if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512(dst));
                    _mm512_storeu_si512(dst, v);
                } else {
                    if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(km, dst));
                    _mm512_mask_storeu_epi32(dst, km, v);
                }
            }
    }
}

/* The same for at most 8 columns (grouped layers' 8 a group): an 8 x 16
 * transpose, half store16's shuffles; rows leave as 256-bit halves. */
static inline __attribute__((always_inline)) void store8(uint32_t acc[][MR], size_t m0, size_t mn, size_t j, size_t jw,
                                                         uint32_t *out, size_t ldo, const uint32_t *corr,
                                                         bool accumulate)
{
    __mmask8 km = (__mmask8)((1u << jw) - 1);
    __m256i cv = corr ? _mm256_maskz_loadu_epi32(km, corr + j) : _mm256_setzero_si256();
    __m512i r[8];
    for (size_t i = 0; i < 8; i++) r[i] = i < jw ? _mm512_load_si512(acc[j + i] + m0) : _mm512_setzero_si512();
    transpose_4x4_lanes(r, 8);
    const __m512i lo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), hi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    for (int c = 0; c < 4; c++) {
        __m512i o[2] = {_mm512_permutex2var_epi64(r[c], lo, r[4 + c]),  /* rows c, 4 + c */
                        _mm512_permutex2var_epi64(r[c], hi, r[4 + c])}; /* rows 8 + c, 12 + c */
        for (int h = 0; h < 4; h++) {
            size_t m = (size_t)(4 * h + c);
            if (m >= mn) continue;
            __m256i v = h & 1 ? _mm512_extracti64x4_epi64(o[h >> 1], 1) : _mm512_castsi512_si256(o[h >> 1]);
            uint32_t *dst = out + (m0 + m) * ldo + j;
            if (corr) v = _mm256_add_epi32(v, cv);
            if (accumulate) v = _mm256_add_epi32(v, _mm256_maskz_loadu_epi32(km, dst));
            _mm256_mask_storeu_epi32(dst, km, v);
        }
    }
}

static inline __attribute__((always_inline)) void store_out(uint32_t acc[][MR], size_t rows, size_t jn, uint32_t *out,
                                                            size_t ldo, const uint32_t *corr, bool accumulate)
{
    size_t j16 = jn / 16 * 16;
    for (size_t m0 = 0; m0 < rows; m0 += 16) {
        size_t mn = rows - m0 < 16 ? rows - m0 : 16;
        for (size_t j = 0; j < j16; j += 16) store16(acc, m0, mn, j, 16, out, ldo, corr, accumulate);
        if (jn - j16 > 8) store16(acc, m0, mn, j16, jn - j16, out, ldo, corr, accumulate);
        else if (j16 < jn) store8(acc, m0, mn, j16, jn - j16, out, ldo, corr, accumulate);
    }
}

/* K is cut into blocks of KC (the plan's lut_kc, from the L1 size) so a
 * sub-panel's rows in use (up to 320 x KC bytes) stay in L1 while every
 * column of the tile streams through them; the columns' int32 sums live
 * in `acc` between blocks. A sub-panel of 1-3 blocks is bound by the
 * L2 -> L1 traffic of the planes (512 bytes per k and column for two,
 * ~8-10 cycles), one of 4-5 by the lookups (~4 cycles per block), hence
 * the even split of pack_a. Three and four planes run 2 and 1 blocks of a
 * sub-panel at a time (max_sb). */
static inline __attribute__((always_inline)) void run_any(const ax_gemm_plan *p, size_t rows, const uint8_t *panel,
                                                           size_t K, const uint8_t *w, size_t wstride, size_t nn,
                                                           uint32_t *out, size_t ldo, const uint32_t *corr,
                                                           bool accumulate)
{
    int P = p->nplanes;
    size_t nb = (rows + 63) / 64, nsub = (nb + SUB - 1) / SUB, sbmax = (size_t)max_sb[P - 1];
    size_t KC = p->lut_kc; /* <= 256 */
    uint32_t acc[NC][MR] __attribute__((aligned(64))); /* 160 KiB of stack */
    for (size_t j0 = 0; j0 < nn; j0 += NC) {
        size_t jn = nn - j0 < NC ? nn - j0 : NC;
        if (K == 0) /* else the first k block sets acc */
            for (size_t j = 0; j < jn; j++) memset(acc[j], 0, nb * 64 * sizeof(uint32_t));
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t k1 = K - k0 < KC ? K : k0 + KC;
            for (size_t i = 0, s0 = 0; i < nsub; i++) {
                size_t sb = sub_blocks(nb, s0, i, nsub);
                const uint8_t *sub = panel + K * 64 * s0;
                for (size_t t = 0; t < sb;) {
                    size_t n = sb - t < sbmax ? sb - t : sbmax;
                    for (size_t j = 0; j < jn; j++)
                        blocks[P - 1][n - 1](p->planes, sub, 64 * sb, t, k0, k1, w + (j0 + j) * wstride,
                                             acc[j] + 64 * (s0 + t));
                    t += n;
                }
                s0 += sb;
            }
        }
        store_out(acc, rows, jn, out + j0, ldo, corr ? corr + j0 : NULL, accumulate);
    }
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                size_t wstride, size_t nn, uint32_t *out, size_t ldo)
{
    run_any(p, rows, panel, K, w, wstride, nn, out, ldo, NULL, false);
}

/* C is int32 and the sums wrap mod 2^32 like uint32_t: same bits. */
static void run_c(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                  size_t wstride, size_t nn, const uint32_t *corr, int32_t *C, size_t ldc, bool accumulate)
{
    if (accumulate)
        run_any(p, rows, panel, K, w, wstride, nn, (uint32_t *)C, ldc, corr, true);
    else
        run_any(p, rows, panel, K, w, wstride, nn, (uint32_t *)C, ldc, corr, false);
}

const ax_lut_ukernel ax_lut_ukernel_avx512vbmi = {
    .name = "lut_gemm_256x1__avx512vbmi", .mr = MR, .panel_bytes = panel_bytes, .pack_a = pack_a, .run = run,
    .run_c = run_c, .pack_lines = pack_lines};
