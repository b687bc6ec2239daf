/* lowrank_gconv_6x16c2__avx2.c - grouped convolutions (an even number of
 * channels per group) on the LOWRANK int16 form with AVX2 only:
 * T[a][w] = sum_t amap[t][a] * wmap[t][w] (lowrank.c; any number of terms,
 * and EXACT plans' a*w as one term), the AVX2 counterpart of
 * lowrank_gconv_8x32c4__avx512vnni: the input is mapped to its int16
 * factors once (map, per chunk of input rows), and the kernel reads the
 * mapped pixels in place through a table of each output pixel's tap
 * pointers (conv2d.c): no im2col copy and no packing of A.
 *
 * A pixel's channel c maps to T int16, amap[t][a] at c*T + t, so a group's
 * tap is cg*T int16 (virtual k = k*T + t, k = tap * cg + channel, HWIO's
 * order); a dword broadcast holds two of them against 8 columns of
 * interleaved k pairs, summed by vpmaddwd (exact modulo 2^32: its only
 * overflow, (-2^15)^2 * 2, wraps to the right residue; vpmaddubsw would
 * saturate). per = 2 (4 or 8 channels per group, an even number of
 * groups): map interleaves the dwords of the two groups of every 2 * cg
 * input bytes, so a qword broadcast puts group s's pair in the lanes
 * 2j + s, whose weights are group s's column j: twice the columns per
 * broadcast where N = 4 or 8 would leave a tile half empty. Either way
 * step u of a tap holds virtual k 2u, 2u+1 of each of its groups.
 * Weights (pack_w): per block of 8 lanes, K*T/2 steps of 32 bytes. No
 * corrections: the int16 form is exact as it is. Tile: 6 rows x 2 blocks
 * (or a last block alone), twelve ymm of sums. */
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <string.h>

static size_t terms(const ax_gemm_plan *p) { return (size_t)p->lr->terms; }
static size_t block_cols(size_t per) { return 8 / per; }
static size_t n_blocks(size_t N, size_t per) { return (N + block_cols(per) - 1) / block_cols(per); }
static size_t block_bytes(size_t Kv) { return Kv / 2 * 32; }

static size_t w_bytes(const ax_gemm_plan *p, size_t K, size_t N, size_t per)
{
    return n_blocks(N, per) * block_bytes(K * terms(p));
}

/* pairs of k within a tap: an even number of channels per group, from 4
 * (fewer: the direct loop, dwconv2d.c); 4 and 8 in pairs of groups */
static size_t per_of(const ax_gemm_plan *p, size_t cg, size_t og, size_t groups)
{
    (void)p, (void)og;
    if (cg % 2 || cg < 4) return 0;
    return (cg == 4 || cg == 8) && groups % 2 == 0 ? 2 : 1;
}

static size_t esize(const ax_gemm_plan *p) { return 2 * terms(p); }

static void pack_w(const ax_gemm_plan *p, size_t K, size_t cg, size_t N, size_t per, const uint8_t *W, size_t ldw,
                   uint8_t *pw)
{
    (void)cg;
    const ax_lowrank *lr = p->lr;
    size_t T = terms(p), bc = block_cols(per), bb = block_bytes(K * T);
    for (size_t b = 0; b < n_blocks(N, per); b++) {
        int16_t *blk = (int16_t *)(pw + b * bb);
        memset(blk, 0, bb);
        for (size_t l = 0; l < 8; l++) {
            size_t s = per == 2 ? l & 1 : 0, j = b * bc + (per == 2 ? l >> 1 : l);
            if (j >= N) continue;
            for (size_t k = 0; k < K; k++)
                for (size_t t = 0; t < T; t++) {
                    size_t v = k * T + t;
                    blk[v / 2 * 16 + l * 2 + v % 2] = lr->wmap[t][W[k * ldw + s * N + j]];
                }
        }
    }
}

/* amap[0] as v(a) & m (v: the byte as s8 or u8; mul8s_1L2J: (int8)a & ~1,
 * exact s8: m = -1; m = amap[0][255], v(255) being -1 or 255): whether it
 * is one */
static bool masked_form(const ax_lowrank *lr, bool *sext, int16_t *m)
{
    if (lr->terms != 1) return false;
    int16_t mm = lr->amap[0][255];
    for (int sx = 0; sx < 2; sx++) {
        bool ok = true;
        for (int a = 0; a < 256 && ok; a++) ok = lr->amap[0][a] == (int16_t)((sx ? (int8_t)a : a) & mm);
        if (ok) {
            *sext = sx, *m = mm;
            return true;
        }
    }
    return false;
}

/* y = the T int16 factors of each of n bytes of x; pair > 0: per pair
 * input bytes (two groups, pair*T/4 dwords each), the groups' dwords
 * alternate. One-term masked forms widen 16 bytes at a time (pair 8 or 16
 * divides them), others look the factors up byte by byte. */
static void map(const ax_gemm_plan *p, size_t n, const uint8_t *x, uint8_t *y, size_t per, size_t cg)
{
    const ax_lowrank *lr = p->lr;
    size_t pair = per == 2 ? 2 * cg : 0;
    size_t T = terms(p), i = 0;
    bool sext = false;
    int16_t m = 0;
    if (masked_form(lr, &sext, &m) && (pair == 0 || pair == 8 || pair == 16)) {
        __m256i vm = _mm256_set1_epi16(m);
        /* two groups' halves of 32 bytes (pair 16), or of each 16 (pair 8) */
        __m256i perm = pair == 16 ? _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)
                                  : _mm256_setr_epi32(0, 2, 1, 3, 4, 6, 5, 7);
        for (; i + 16 <= n; i += 16) {
            __m128i b = _mm_loadu_si128((const __m128i *)(x + i));
            __m256i v = _mm256_and_si256(sext ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b), vm);
            if (pair) v = _mm256_permutevar8x32_epi32(v, perm);
            _mm256_storeu_si256((__m256i *)(y + 2 * i), v);
        }
    }
    /* the rest (a multiple of pair) */
    uint8_t *z = y + 2 * T * i;
    for (size_t r = i; r < n; r++)
        for (size_t t = 0; t < T; t++) memcpy(y + 2 * (r * T + t), &lr->amap[t][x[r]], 2);
    if (!pair) return;
    uint8_t tmp[32 * AX_LOWRANK_TERMS];
    size_t h = pair * T; /* bytes of one group's factors */
    for (size_t u = i; u < n; u += pair, z += 2 * h) {
        memcpy(tmp, z, 2 * h);
        for (size_t q = 0; q < h / 4; q++) memcpy(z + 8 * q, tmp + 4 * q, 4), memcpy(z + 8 * q + 4, tmp + h + 4 * q, 4);
    }
}

/* one block's 8 lanes of a row (+ C) into C, cnt columns per group */
static inline __attribute__((always_inline)) void put(__m256i v, int32_t *C, size_t N, size_t per, size_t cnt,
                                                      bool accumulate)
{
    if (per == 2) { /* lanes 2j + s: group s's column j; to [g0 j0..3 | g1 j0..3] */
        v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
        __m128i v0 = _mm256_castsi256_si128(v), v1 = _mm256_extracti128_si256(v, 1);
        if (cnt == 4) {
            if (accumulate) {
                v0 = _mm_add_epi32(v0, _mm_loadu_si128((const __m128i *)C));
                v1 = _mm_add_epi32(v1, _mm_loadu_si128((const __m128i *)(C + N)));
            }
            _mm_storeu_si128((__m128i *)C, v0);
            _mm_storeu_si128((__m128i *)(C + N), v1);
            return;
        }
        __m128i k = _mm_cmpgt_epi32(_mm_set1_epi32((int)cnt), _mm_setr_epi32(0, 1, 2, 3));
        if (accumulate) {
            v0 = _mm_add_epi32(v0, _mm_maskload_epi32(C, k));
            v1 = _mm_add_epi32(v1, _mm_maskload_epi32(C + N, k));
        }
        _mm_maskstore_epi32(C, k, v0);
        _mm_maskstore_epi32(C + N, k, v1);
        return;
    }
    if (cnt == 8) {
        if (accumulate) v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)C));
        _mm256_storeu_si256((__m256i *)C, v);
        return;
    }
    __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cnt), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (accumulate) v = _mm256_add_epi32(v, _mm256_maskload_epi32(C, k));
    _mm256_maskstore_epi32(C, k, v);
}

/* 6 rows (mn kept; the rest repeat row 0) x nb blocks from block b; row
 * i's tap t at px[i * ntaps + t] + coff, spt steps a tap */
static inline __attribute__((always_inline)) void tile(const uint8_t *const *px, size_t ntaps, size_t coff, size_t mn,
                                                       size_t spt, size_t N, size_t per, const uint8_t *pw, size_t bb,
                                                       size_t b, int nb, int32_t *C, size_t ldc, bool accumulate)
{
    enum { R = 6 };
    __m256i acc[R][2];
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    const __m256i *w0 = (const __m256i *)(pw + b * bb), *w1 = (const __m256i *)(pw + (b + 1) * bb);
    for (size_t t = 0; t < ntaps; t++) {
        const uint8_t *row[R];
        for (int i = 0; i < R; i++) row[i] = px[((size_t)i < mn ? (size_t)i : 0) * ntaps + t] + coff;
        for (size_t s = 0; s < spt; s++, w0++, w1++) {
            __m256i x0 = _mm256_load_si256(w0), x1 = nb == 2 ? _mm256_load_si256(w1) : x0;
#pragma GCC unroll 6
            for (int i = 0; i < R; i++) {
                __m256i x;
                if (per == 2) {
                    int64_t q;
                    memcpy(&q, row[i] + 8 * s, 8);
                    x = _mm256_set1_epi64x(q);
                } else {
                    int32_t q;
                    memcpy(&q, row[i] + 4 * s, 4);
                    x = _mm256_set1_epi32(q);
                }
                acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(x, x0));
                if (nb == 2) acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(x, x1));
            }
        }
    }
    size_t bc = block_cols(per);
    for (int h = 0; h < nb; h++) {
        size_t c0 = (b + (size_t)h) * bc, cnt = N - c0 < bc ? N - c0 : bc;
        for (size_t i = 0; i < mn; i++) put(acc[i][h], C + i * ldc + c0, N, per, cnt, accumulate);
    }
}

static inline __attribute__((always_inline)) void run_per(size_t rows, const uint8_t *const *px, size_t ntaps,
                                                          size_t coff, size_t spt, size_t N, size_t per,
                                                          const uint8_t *pw, size_t bb, int32_t *C, size_t ldc,
                                                          bool accumulate)
{
    size_t nbk = n_blocks(N, per);
    for (size_t b = 0; b < nbk; b += 2)
        for (size_t m0 = 0; m0 < rows; m0 += 6) {
            size_t mn = rows - m0 < 6 ? rows - m0 : 6;
            if (b + 1 < nbk)
                tile(px + m0 * ntaps, ntaps, coff, mn, spt, N, per, pw, bb, b, 2, C + m0 * ldc, ldc, accumulate);
            else
                tile(px + m0 * ntaps, ntaps, coff, mn, spt, N, per, pw, bb, b, 1, C + m0 * ldc, ldc, accumulate);
        }
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *const *px, size_t ntaps, size_t coff, size_t K,
                size_t N, size_t per, const uint8_t *pw, const int32_t *rc, size_t ldrc, int32_t *C, size_t ldc,
                bool accumulate, bool stream)
{
    (void)rc, (void)ldrc; /* int16 forms carry no row corrections */
    (void)stream;         /* its 6 x 16 tiles write half lines at 8 columns a group */
    size_t Kv = K * terms(p), spt = Kv / ntaps / 2, bb = block_bytes(Kv);
    if (per == 2) run_per(rows, px, ntaps, coff, spt, N, 2, pw, bb, C, ldc, accumulate);
    else run_per(rows, px, ntaps, coff, spt, N, 1, pw, bb, C, ldc, accumulate);
}

const ax_glr_ukernel ax_glr_ukernel_avx2 = {.name = "lowrank_gconv_6x16c2__avx2",
                                            .per = per_of,
                                            .esize = esize,
                                            .map = map,
                                            .w_bytes = w_bytes,
                                            .pack_w = pack_w,
                                            .run = run};
