/* lowrank_gconv_8x32c4__avx512vnni.c - grouped convolutions (4..64+
 * channels per group) on a LOWRANK byte form (T = sum_t (f'_t + a_off[t])
 * (g'_t + w_off[t]), g'_t s8: mul8s_1L2J, mul8s_1KVA's 5 terms, exact s8 x
 * s8; w_off's row corrections come summed per output row and group from
 * conv2d.c, rc, or the tiles sum them when term 0 alone has them (a*w
 * with u8 weights, w_off 128: rows_inside); or the form with its signs
 * swapped, f'_t s8 and g'_t u8, vpdpbusd's operands swapped, no row
 * corrections: a*w and a*c_w with u8
 * weights, lowrank_gconv_8x32c4_s8u8__avx512vnni): the input is mapped
 * through the f'_t once (map, per chunk of input rows; a byte to its T
 * factors), and the kernel reads the mapped pixels in place through a
 * table of each output pixel's tap pointers (conv2d.c): no im2col copy
 * and no packing of A (the dense byte kernel's pack_a looks up every
 * im2col byte, 9x the input at 3x3, for only 4-32 columns per group).
 * T terms are T times the channels to the kernel: a granule of input bytes
 * maps to its terms' bytes one after another (granule), the weights packed
 * in the same virtual k order.
 *
 * A unit is `per` groups sharing one im2col row; a 4 * per byte broadcast
 * puts group s's 4 k in the lanes per * j + s, whose weights are group s's
 * column j: 16 / per columns of each group per vpdpbusd, where the dense
 * kernel would leave lanes empty at N < 16. per = 4 (4, 8 or 16 channels
 * per group, groups % 4 == 0): map interleaves the four groups' channel
 * quads (quad q of groups 0..3 in 16 bytes; at 4 channels NHWC's order
 * already), one vbroadcasti32x4 feeds both blocks of a tile (ResNeXt's
 * N = 8 and 16 per group: 4-column blocks in pairs), so it loads half as
 * often as one broadcast per vpdpbusd (layer3, 16 channels: +20-25% over
 * per = 1). per = 2 (8 channels, groups % 4 == 2): the two groups' quads
 * interleaved in every 16 bytes, a qword broadcast. per = 1 (other
 * multiples of 16): a dword broadcast of 4 k against 16 columns, as the
 * dense kernel. Either way step u of a pixel's taps holds virtual k =
 * 4u..4u+3 of each of its groups (one term: k = tap * cg + channel, HWIO's
 * order; see virtual_k), at 4 * per * u bytes into the unit's tap.
 * per = 16 (4 channels and 4 columns a group, groups % 16 == 0: ResNeXt's
 * layer1, lowrank_gconv_4x64g4): lanes are 16 groups, so a tap's 64 mapped
 * bytes are one plain load for 4 vpdpbusd, one per column (tile16).
 * Weights (pack_w): per block of 16 lanes, K T/4 steps of 64 bytes, then the
 * block's 16 corrections sum_t a_off[t] (sum_k g'_t + K w_off[t]) in lane
 * order. Tile: 8 rows x 2
 * blocks (or a last block alone), sixteen zmm of sums; the lanes go to
 * output order at the store (vpermd, or vpermt2d across a block pair).
 * Outputs far past the caches (conv2d.c: stream) leave by non-temporal
 * stores where a row's stores are whole lines (tile16; a unit of 16
 * columns in one store; put4x2 at 8 columns a group): no read for
 * ownership (ResNeXt's layer1.0, 12.8 MB: 1.04-1.26x). */
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <string.h>

/* lanes -> output order: group 0's lanes (per = 2: the even ones; per = 4: 0, 4, 8, 12), then group 1's, ... */
static const int32_t deint2[16] = {0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15};
static const int32_t deint4[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

/* per = 16: lane l of a vector holds group deint4[l] = 4 (l % 4) + l / 4
 * (map puts the input's dwords so), which makes tile16's in-lane unpacks
 * leave each row's outputs in order */
static size_t lane_group(size_t l) { return 4 * (l % 4) + l / 4; }

static size_t block_cols(size_t per) { return 16 / per; }
static size_t n_blocks(size_t N, size_t per) { return (N + block_cols(per) - 1) / block_cols(per); }
static size_t block_bytes(size_t K) { return K / 4 * 64 + 64; }

static size_t w_bytes(const ax_gemm_plan *p, size_t K, size_t N, size_t per)
{
    if (per == 16) return (K * (size_t)p->lr->terms / 4 + 1) * 4 * 64; /* steps x 4 columns, then 4 corrections */
    return n_blocks(N, per) * block_bytes(K * (size_t)p->lr->terms);
}

/* whether the form's row corrections are all term 0's (a*w's with u8
 * weights: w_off 128; lowrank.c puts a term that alone has a w_off first) */
static bool row_term0(const ax_gemm_plan *p)
{
    const ax_lowrank *lr = p->lr;
    if (!lr->row_corr || lr->row_terms || lr->acts_s8 || !lr->w_off[0]) return false;
    for (int t = 1; t < lr->terms; t++)
        if (lr->w_off[t]) return false;
    return true;
}

/* 4 channels and 4 columns a group in sixteens (groups % 16 == 0, tile16)
 * up to 5 terms, 4 with row corrections summed by conv2d.c (5 when the
 * tile sums them: term 0's alone): on ResNeXt's layer1.0 it ran 54-59
 * GMAC/s on 5 (mul8s_1KVA, 1KX2; dwconv2d.c's planes 27-35), 35-42 on 4
 * with row corrections (mul8u_12YX, 4TF; planes 26-35), 53-55 on 5 with
 * term 0's (mul8u_13QR, 17MN, 125K; planes 34-35), 25-32 on 7-8 (mul8u_2P7,
 * GS2: slower than the planes). Otherwise 4, 8 or 16 channels
 * per group in fours (groups % 4 == 0); else 8 in pairs (an even number of
 * groups), or single groups of a multiple of 16. In fours, not 4 channels
 * of more than 4 terms (3 with row corrections):
 * dwconv2d.c's byte planes run ResNeXt's layer1.0 at 20-21 GMAC/s whatever
 * the form, this kernel at 31-38 on 1-3 terms, 23-24 on 4, 18.6-19 on 5
 * (mul8s_1KVA, 1KX2); with row corrections 28 on 2 (mul8u_Y48), 24 on 3
 * (27Y), 19.6-20.1 on 4 (12YX). */
static size_t per_of(const ax_gemm_plan *p, size_t cg, size_t og, size_t groups)
{
    bool outside = p->lr->row_corr && !row_term0(p); /* row corrections summed by conv2d.c */
    if (cg == 4 && og == 4 && groups % 16 == 0 && p->lr->terms <= (outside ? 4 : 5))
        return 16; /* lanes = groups (tile16) */
    if (cg == 4 && p->lr->terms > (p->lr->row_corr ? 3 : 4)) return 0;
    if ((cg == 4 || cg == 8 || cg == 16) && groups % 4 == 0) return 4;
    if (cg % 16 == 0) return 1;
    return cg == 8 && groups % 2 == 0 ? 2 : 0;
}

/* a mapped input byte is its terms' factors, one byte each */
static size_t esize(const ax_gemm_plan *p) { return (size_t)p->lr->terms; }

/* Input bytes per granule of the map: a unit's per * cg (16, 32 or 64),
 * or 16 channels of one group (per = 1). A granule's mapped bytes are its
 * terms' mappings one after another, each in the one-term order; so a
 * group's virtual k run (tap, granule, term, channel), and a tap's steps
 * read the T terms of a granule before the next granule, with no change
 * to the kernel but K * T. */
static size_t granule(size_t per, size_t cg) { return per == 1 ? 16 : per * cg; }

/* group-relative virtual k -> (k = tap * cg + channel, term) */
static size_t virtual_k(size_t kv, size_t cg, size_t per, size_t T, size_t *term)
{
    size_t gc = granule(per, cg) / per, tap = kv / (cg * T), r = kv % (cg * T), gi = r / (gc * T), r2 = r % (gc * T);
    *term = r2 / gc;
    return tap * cg + gi * gc + r2 % gc;
}

/* W: the unit's HWIO rows (K of them, stride ldw), group s's column j at
 * W[k * ldw + s * N + j]; cg = K / ntaps channels per group */
static void pack_w(const ax_gemm_plan *p, size_t K, size_t cg, size_t N, size_t per, const uint8_t *W, size_t ldw,
                   uint8_t *pw)
{
    const ax_lowrank *lr = p->lr;
    size_t bc = block_cols(per), T = (size_t)lr->terms, KV = K * T;
    uint32_t fixed = 0; /* sum_t a_off w_off, row terms included (their g' is 0) */
    for (size_t t = 0; t < T + (size_t)lr->row_terms; t++) fixed += (uint32_t)lr->a_off[t] * (uint32_t)lr->w_off[t];
    if (per == 16) { /* step u (virtual k 4u..4u+3), column j: 64 bytes, lane l holding group lane_group(l) */
        uint32_t *corr = (uint32_t *)(pw + KV / 4 * 4 * 64);
        for (size_t j = 0; j < 4; j++)
            for (size_t l = 0; l < 16; l++) {
                size_t s = lane_group(l);
                uint32_t c = 0;
                for (size_t kv = 0; kv < KV; kv++) {
                    size_t t, k = virtual_k(kv, cg, per, T, &t);
                    int8_t g = lr->wbyte[t][W[k * ldw + s * N + j]];
                    pw[(kv / 4 * 4 + j) * 64 + l * 4 + kv % 4] = (uint8_t)g;
                    c += (uint32_t)lr->a_off[t] * (lr->acts_s8 ? (uint32_t)(uint8_t)g : (uint32_t)(int32_t)g);
                }
                corr[j * 16 + l] = c + (uint32_t)K * fixed;
            }
        return;
    }
    for (size_t b = 0; b < n_blocks(N, per); b++) {
        uint8_t *blk = pw + b * block_bytes(KV);
        uint32_t *corr = (uint32_t *)(blk + KV / 4 * 64);
        memset(blk, 0, block_bytes(KV));
        for (size_t l = 0; l < 16; l++) {
            size_t s = l % per, j = b * bc + l / per;
            if (j >= N) continue;
            uint32_t c = 0;
            for (size_t kv = 0; kv < KV; kv++) {
                size_t t, k = virtual_k(kv, cg, per, T, &t);
                int8_t g = lr->wbyte[t][W[k * ldw + s * N + j]];
                blk[kv / 4 * 64 + l * 4 + kv % 4] = (uint8_t)g;
                c += (uint32_t)lr->a_off[t] * (lr->acts_s8 ? (uint32_t)(uint8_t)g : (uint32_t)(int32_t)g);
            }
            corr[l] = c + (uint32_t)K * fixed;
        }
    }
}

/* several terms, G input bytes a granule (16, 32 or 64: a constant here):
 * each 64 input bytes loaded once and put in the unit's order once (a byte
 * lookup commutes with moving whole dwords), then their T mappings
 * written out granule by granule. The input read T times, term after term,
 * made layer2.0 of mul8s_1KR6 / 1KVA 12-23% slower; a loop with the
 * granule size and the last block's count (a division) in it ran ~40
 * cycles per 64 input bytes on mul8u_12YX's 4 terms (perf, layer2.0). The
 * terms' tables and bit forms are locals (T a constant up to 5: in
 * registers): read from lr after each store, which may alias it, their
 * loads held half of mul8u_13QR's map (perf, layer2.0). */
static inline __attribute__((always_inline)) void map_terms(const ax_lowrank *lr, size_t n, const uint8_t *x,
                                                            uint8_t *y, size_t T, size_t G, bool pairs, bool fours,
                                                            __m512i perm)
{
    __m512i tab[AX_LOWRANK_TERMS][4], vx[AX_LOWRANK_TERMS], vm[AX_LOWRANK_TERMS];
    bool bits[AX_LOWRANK_TERMS];
    for (size_t t = 0; t < T; t++) {
        bits[t] = lr->abits[t];
        vx[t] = _mm512_set1_epi8((char)lr->axor[t]), vm[t] = _mm512_set1_epi8((char)lr->amask[t]);
        for (int q = 0; q < 4; q++) tab[t][q] = _mm512_loadu_si512(lr->abyte[t] + 64 * q);
    }
    for (size_t i = 0; i < n; i += 64) {
        size_t left = n - i, have = left >= 64 ? 64 / G : left / G; /* n is whole granules */
        __mmask64 m = left >= 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)left);
        __m512i a = left >= 64 ? _mm512_loadu_si512(x + i) : _mm512_maskz_loadu_epi8(m, x + i);
        _mm_prefetch((const char *)(x + i) + 1024, _MM_HINT_T0);
        if (pairs) a = _mm512_shuffle_epi32(a, _MM_SHUFFLE(3, 1, 2, 0));
        if (fours) a = _mm512_permutexvar_epi32(perm, a);
        __mmask64 upper = _mm512_movepi8_mask(a);
        uint8_t *o = y + i * T;
        for (size_t t = 0; t < T; t++, o += G) {
            __m512i v;
            if (bits[t]) {
                v = _mm512_ternarylogic_epi32(a, vx[t], vm[t], 0x28);
            } else {
                __m512i lo = _mm512_permutex2var_epi8(tab[t][0], a, tab[t][1]);
                __m512i hi = _mm512_permutex2var_epi8(tab[t][2], a, tab[t][3]);
                v = _mm512_mask_blend_epi8(upper, lo, hi);
            }
            /* granule j of these bytes to its term's place: o + j G T */
            if (G == 64) {
                _mm512_storeu_si512(o, v);
            } else if (G == 32) {
                _mm256_storeu_si256((__m256i *)o, _mm512_castsi512_si256(v));
                if (have > 1) _mm256_storeu_si256((__m256i *)(o + 32 * T), _mm512_extracti64x4_epi64(v, 1));
            } else {
                _mm_storeu_si128((__m128i *)o, _mm512_castsi512_si128(v));
                if (have > 1) _mm_storeu_si128((__m128i *)(o + 16 * T), _mm512_extracti32x4_epi32(v, 1));
                if (have > 2) _mm_storeu_si128((__m128i *)(o + 32 * T), _mm512_extracti32x4_epi32(v, 2));
                if (have > 3) _mm_storeu_si128((__m128i *)(o + 48 * T), _mm512_extracti32x4_epi32(v, 3));
            }
        }
    }
}

/* map_terms of G bytes a granule, T a constant up to 5 */
static inline __attribute__((always_inline)) void map_terms_g(const ax_lowrank *lr, size_t n, const uint8_t *x,
                                                              uint8_t *y, size_t T, size_t G, bool pairs, bool fours,
                                                              __m512i perm)
{
    switch (T) {
    case 2: map_terms(lr, n, x, y, 2, G, pairs, fours, perm); break;
    case 3: map_terms(lr, n, x, y, 3, G, pairs, fours, perm); break;
    case 4: map_terms(lr, n, x, y, 4, G, pairs, fours, perm); break;
    case 5: map_terms(lr, n, x, y, 5, G, pairs, fours, perm); break;
    default: map_terms(lr, n, x, y, T, G, pairs, fours, perm); break;
    }
}

/* y = f'(x) over n bytes, the quads of a unit's groups interleaved (the
 * unit's per * cg bytes divide 64): two groups of 8, dwords [0 2 1 3] in
 * every 16 bytes; four of 8, [0 2 4 6 1 3 5 7] in every 32; four of 16, a
 * 4x4 dword transpose; four of 4 are in NHWC's order already.
 * The input comes from L3 (its first read in the layer): prefetched 1 KiB
 * ahead (map 23% -> 13% of layer2.0/2.1's time, perf) */
static void map(const ax_gemm_plan *p, size_t n, const uint8_t *x, uint8_t *y, size_t per, size_t cg)
{
    static const int32_t quads8[16] = {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15};
    const ax_lowrank *lr = p->lr;
    size_t T = (size_t)lr->terms, G = granule(per, cg);
    __m512i perm = _mm512_loadu_si512(cg == 8 ? quads8 : deint4);
    bool pairs = per == 2, fours = (per == 4 && cg > 4) || per == 16;
    if (T == 1) { /* the table in registers */
        __m512i tab[4];
        for (int q = 0; q < 4; q++) tab[q] = _mm512_loadu_si512(lr->abyte[0] + 64 * q);
        bool bits = lr->abits[0]; /* f' is (a ^ x) & m: one vpternlogd */
        __m512i vx = _mm512_set1_epi8((char)lr->axor[0]), vm = _mm512_set1_epi8((char)lr->amask[0]);
        for (size_t i = 0; i < n; i += 64) {
            __mmask64 m = n - i >= 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)(n - i));
            __m512i v = n - i >= 64 ? _mm512_loadu_si512(x + i) : _mm512_maskz_loadu_epi8(m, x + i);
            _mm_prefetch((const char *)(x + i) + 1024, _MM_HINT_T0);
            if (bits) {
                v = _mm512_ternarylogic_epi32(v, vx, vm, 0x28);
            } else {
                __m512i lo = _mm512_permutex2var_epi8(tab[0], v, tab[1]), hi = _mm512_permutex2var_epi8(tab[2], v, tab[3]);
                v = _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi);
            }
            if (pairs) v = _mm512_shuffle_epi32(v, _MM_SHUFFLE(3, 1, 2, 0));
            if (fours) v = _mm512_permutexvar_epi32(perm, v);
            _mm512_mask_storeu_epi8(y + i, m, v);
        }
        return;
    }
    if (G == 64) map_terms_g(lr, n, x, y, T, 64, pairs, fours, perm);
    else if (G == 32) map_terms_g(lr, n, x, y, T, 32, pairs, fours, perm);
    else map_terms_g(lr, n, x, y, T, 16, pairs, fours, perm);
}

/* one block's 16 lanes of a row: + corr (+ C) into C, cnt columns per group
 * (per > 1: lanes put in output order; N = 16 / per: the unit's columns are
 * one contiguous run, one store) */
static inline __attribute__((always_inline)) void put(__m512i v, const uint32_t *corr, int32_t *C, size_t N,
                                                      size_t per, size_t cnt, bool accumulate, bool stream)
{
    v = _mm512_add_epi32(v, _mm512_loadu_si512(corr));
    if (per > 1) v = _mm512_permutexvar_epi32(_mm512_loadu_si512(per == 2 ? deint2 : deint4), v);
    if (cnt == 16 / per && N == cnt) { /* masked stores are slower here, even with a full mask */
        if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512(C));
        if (stream) _mm512_stream_si512((void *)C, v);
        else _mm512_storeu_si512(C, v);
        return;
    }
    if (per == 2) {
        __m256i v0 = _mm512_castsi512_si256(v), v1 = _mm512_extracti64x4_epi64(v, 1);
        __mmask8 k = (__mmask8)((1u << cnt) - 1);
        if (accumulate) {
            v0 = _mm256_add_epi32(v0, _mm256_maskz_loadu_epi32(k, C));
            v1 = _mm256_add_epi32(v1, _mm256_maskz_loadu_epi32(k, C + N));
        }
        _mm256_mask_storeu_epi32(C, k, v0);
        _mm256_mask_storeu_epi32(C + N, k, v1);
        return;
    }
    if (per == 4) {
        __m128i q[4] = {_mm512_castsi512_si128(v), _mm512_extracti32x4_epi32(v, 1), _mm512_extracti32x4_epi32(v, 2),
                        _mm512_extracti32x4_epi32(v, 3)};
        __mmask8 k = (__mmask8)((1u << cnt) - 1);
        for (int s = 0; s < 4; s++) {
            if (accumulate) q[s] = _mm_add_epi32(q[s], _mm_maskz_loadu_epi32(k, C + s * N));
            _mm_mask_storeu_epi32(C + s * N, k, q[s]);
        }
        return;
    }
    __mmask16 k = (__mmask16)((1u << cnt) - 1);
    if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(k, C));
    _mm512_mask_storeu_epi32(C, k, v);
}

/* per = 4, a pair of blocks (columns c0..c0+7 of each group, cnt of them):
 * groups 0, 1 then 2, 3 in output order, one zmm each (N = 8: the unit's
 * 32 columns contiguous, two stores) */
static inline __attribute__((always_inline)) void put4x2(__m512i v0, __m512i v1, const uint32_t *corr0,
                                                         const uint32_t *corr1, int32_t *C, size_t N, size_t cnt,
                                                         bool accumulate, bool stream)
{
    static const int32_t lo[16] = {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29};
    static const int32_t hi[16] = {2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31};
    v0 = _mm512_add_epi32(v0, _mm512_loadu_si512(corr0));
    v1 = _mm512_add_epi32(v1, _mm512_loadu_si512(corr1));
    __m512i o[2] = {_mm512_permutex2var_epi32(v0, _mm512_loadu_si512(lo), v1),
                    _mm512_permutex2var_epi32(v0, _mm512_loadu_si512(hi), v1)};
    if (N == 8) {
        for (int h = 0; h < 2; h++) {
            if (accumulate) o[h] = _mm512_add_epi32(o[h], _mm512_loadu_si512(C + 16 * h));
            if (stream) _mm512_stream_si512((void *)(C + 16 * h), o[h]);
            else _mm512_storeu_si512(C + 16 * h, o[h]);
        }
        return;
    }
    __mmask8 k = (__mmask8)((1u << cnt) - 1);
    for (int s = 0; s < 4; s++) {
        __m256i v = s & 1 ? _mm512_extracti64x4_epi64(o[s >> 1], 1) : _mm512_castsi512_si256(o[s >> 1]);
        if (cnt == 8) {
            if (accumulate) v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(C + s * N)));
            _mm256_storeu_si256((__m256i *)(C + s * N), v);
            continue;
        }
        if (accumulate) v = _mm256_add_epi32(v, _mm256_maskz_loadu_epi32(k, C + s * N));
        _mm256_mask_storeu_epi32(C + s * N, k, v);
    }
}

/* The steps of term 0 (rows_inside): of every P steps of a tap (a
 * granule's T terms), the first L */
typedef struct rt_steps {
    size_t P, L;
    int32_t rw; /* its w_off */
} rt_steps;

/* 8 rows (mn kept; px and rc hold all 8: conv2d.c pads them) x nb blocks
 * from block b; row i's tap t at px[i * ntaps + t] + coff. (16 rows for a block alone measured
 * slower: layer2.1 1.00 -> 0.85x oneDNN.) RS: the row corrections summed
 * here, as tile16 does (rows_inside): a vpdpbusd of term 0's broadcast
 * bytes against ones (lane l: group l % per's quad), times rw; into rs_out
 * (4 a row, lane order, the layout rc has) for the unit's other block pairs. */
static inline __attribute__((always_inline)) void tile(const uint8_t *const *px, size_t ntaps, size_t coff, size_t mn,
                                                       size_t K, size_t N, size_t per, const uint8_t *pw, size_t b,
                                                       int nb, const int32_t *rc, size_t ldrc, int32_t *C, size_t ldc,
                                                       bool accumulate, bool stream, bool swap, size_t NT, bool RS,
                                                       rt_steps rt, int32_t *rs_out)
{
    if (NT) ntaps = NT; /* a constant: the rows' tap pointers at fixed offsets, not spilled per row */
    enum { RM = 8 };
    const int R = 8;
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i acc[RM][2], rs[RM];
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = rs[i] = _mm512_setzero_si512();
    const __m512i *w0 = (const __m512i *)(pw + b * block_bytes(K)), *w1 = (const __m512i *)(pw + (b + 1) * block_bytes(K));
    size_t spt = K / ntaps / 4; /* steps per tap: cg / 4 */
    for (size_t t = 0; t < ntaps; t++) {
        const uint8_t *row[RM];
        for (int i = 0; i < R; i++) row[i] = px[(size_t)i * ntaps + t] + coff;
        for (size_t s = 0, ps = 0; s < spt; s++, w0++, w1++, ps = ps + 1 == rt.P ? 0 : ps + 1) {
            bool on = RS && ps < rt.L;
            __m512i x0 = _mm512_load_si512(w0), x1 = nb == 2 ? _mm512_load_si512(w1) : x0;
#pragma GCC unroll 8
            for (int i = 0; i < R; i++) {
                __m512i x;
                if (per == 4) {
                    x = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(row[i] + 16 * s)));
                } else if (per == 2) {
                    int64_t q;
                    memcpy(&q, row[i] + 8 * s, 8);
                    x = _mm512_set1_epi64(q);
                } else {
                    int32_t q;
                    memcpy(&q, row[i] + 4 * s, 4);
                    x = _mm512_set1_epi32(q);
                }
                if (swap) { /* acts_s8: the weights are the unsigned operand */
                    acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x0, x);
                    if (nb == 2) acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x1, x);
                } else {
                    acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x, x0);
                    if (nb == 2) acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x, x1);
                    if (on) rs[i] = _mm512_dpbusd_epi32(rs[i], x, ones);
                }
            }
        }
    }
    if (RS)
        for (int i = 0; i < R; i++) {
            __m512i r = _mm512_mullo_epi32(rs[i], _mm512_set1_epi32(rt.rw));
            acc[i][0] = _mm512_add_epi32(acc[i][0], r);
            if (nb == 2) acc[i][1] = _mm512_add_epi32(acc[i][1], r);
            if (rs_out) _mm_storeu_si128((__m128i *)(rs_out + 4 * i), _mm512_castsi512_si128(r));
        }
    if (rc) /* row i's corrections of the unit's groups, in lane order (lane l: group l % per) */
        for (int i = 0; i < R; i++) {
            const int32_t *r = rc + (size_t)i * ldrc;
            int64_t q;
            memcpy(&q, r, per == 1 ? 4 : 8);
            __m512i v = per == 4 ? _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)r))
                      : per == 2 ? _mm512_set1_epi64(q) : _mm512_set1_epi32(r[0]);
            acc[i][0] = _mm512_add_epi32(acc[i][0], v);
            if (nb == 2) acc[i][1] = _mm512_add_epi32(acc[i][1], v);
        }
    /* constant row indices: the sums stay in registers (a loop to mn put
     * them on the stack) */
    size_t bc = block_cols(per);
    if (per == 4 && nb == 2) {
        size_t c0 = b * bc, cnt = N - c0 < 2 * bc ? N - c0 : 2 * bc;
        const uint32_t *corr0 = (const uint32_t *)(pw + b * block_bytes(K) + K / 4 * 64);
        const uint32_t *corr1 = (const uint32_t *)(pw + (b + 1) * block_bytes(K) + K / 4 * 64);
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            if ((size_t)i >= mn) break;
            put4x2(acc[i][0], acc[i][1], corr0, corr1, C + i * ldc + c0, N, cnt, accumulate, stream);
        }
        return;
    }
#pragma GCC unroll 2
    for (int h = 0; h < nb; h++) {
        size_t c0 = (b + h) * bc, cnt = N - c0 < bc ? N - c0 : bc;
        const uint32_t *corr = (const uint32_t *)(pw + (b + h) * block_bytes(K) + K / 4 * 64);
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            if ((size_t)i >= mn) break;
            put(acc[i][h], corr, C + i * ldc + c0, N, per, cnt, accumulate, stream);
        }
    }
}

/* RS: the first block pair sums the row corrections (rows <= 64, the
 * tasks of conv2d.c), the others read them as rc */
static inline __attribute__((always_inline)) void run_per(size_t rows, const uint8_t *const *px, size_t ntaps,
                                                          size_t coff, size_t K, size_t N, size_t per,
                                                          const uint8_t *pw, const int32_t *rc, size_t ldrc,
                                                          int32_t *C, size_t ldc, bool accumulate, bool stream,
                                                          bool swap, size_t NT, bool RS, rt_steps rt)
{
    size_t nbk = n_blocks(N, per);
    int32_t rsum[64 * 4];
    for (size_t b = 0; b < nbk; b += 2) {
        bool sum_here = RS && b == 0;
        const int32_t *r = RS && b > 0 ? rsum : rc;
        size_t ldr = RS ? 4 : ldrc;
        for (size_t m0 = 0; m0 < rows; m0 += 8) {
            size_t mn = rows - m0 < 8 ? rows - m0 : 8;
            int32_t *out = nbk > 2 ? rsum + 4 * m0 : NULL;
            if (b + 1 < nbk && sum_here)
                tile(px + m0 * ntaps, ntaps, coff, mn, K, N, per, pw, b, 2, NULL, 0, C + m0 * ldc, ldc, accumulate,
                     stream, swap, NT, true, rt, out);
            else if (b + 1 < nbk)
                tile(px + m0 * ntaps, ntaps, coff, mn, K, N, per, pw, b, 2, r ? r + m0 * ldr : NULL, ldr,
                     C + m0 * ldc, ldc, accumulate, stream, swap, NT, false, rt, NULL);
            else if (sum_here)
                tile(px + m0 * ntaps, ntaps, coff, mn, K, N, per, pw, b, 1, NULL, 0, C + m0 * ldc, ldc, accumulate,
                     stream, swap, NT, true, rt, out);
            else
                tile(px + m0 * ntaps, ntaps, coff, mn, K, N, per, pw, b, 1, r ? r + m0 * ldr : NULL, ldr,
                     C + m0 * ldc, ldc, accumulate, stream, swap, NT, false, rt, NULL);
        }
    }
}

/* per = 16 (4 channels and 4 columns a group, 16 groups a unit): lanes
 * are groups, one accumulator per row and column, so a tap's 64 mapped
 * bytes (16 groups' quads, a plain load) feed 4 vpdpbusd, where tile's
 * 16-byte broadcasts fed one each (ResNeXt's layer1 ran on those loads).
 * R rows x 4 columns of accumulators start at the columns' corrections;
 * at the end, per row, two rounds of in-lane unpacks put group g's 4
 * outputs at 4g (lane_group's order). RS: the row corrections summed
 * here (rows_inside: term 0 alone has a w_off, rw), a vpdpbusd of its
 * mapped bytes against ones per row and tap, times rw at the end, where
 * conv2d.c's sums per pixel and row took a quarter of the layer. */
static inline __attribute__((always_inline)) void tile16(const uint8_t *const *px, size_t ntaps, size_t coff, size_t mn,
                                                         size_t T, const uint8_t *pw, const int32_t *rc, size_t ldrc,
                                                         int32_t *C, size_t ldc, bool accumulate, bool stream,
                                                         bool swap, size_t NT,
                                                         bool RS, int32_t rw)
{
    enum { R = 4 };
    if (NT) ntaps = NT; /* a constant: tap pointers at fixed offsets */
    const __m512i *w = (const __m512i *)pw, *corr = w + ntaps * T * 4;
    const __m512i order = _mm512_loadu_si512(deint4);
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i acc[R][4], rs[R];
    for (int i = 0; i < R; i++) {
        __m512i r = rc ? _mm512_permutexvar_epi32(order, _mm512_loadu_si512(rc + (size_t)i * ldrc))
                       : _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_add_epi32(_mm512_load_si512(corr + j), r);
        rs[i] = _mm512_setzero_si512();
    }
    for (size_t t = 0; t < ntaps; t++) {
        const uint8_t *row[R];
        for (int i = 0; i < R; i++) row[i] = px[(size_t)i * ntaps + t] + coff;
        for (size_t s = 0; s < T; s++, w += 4) {
            __m512i w0 = _mm512_load_si512(w), w1 = _mm512_load_si512(w + 1), w2 = _mm512_load_si512(w + 2),
                    w3 = _mm512_load_si512(w + 3);
#pragma GCC unroll 8
            for (int i = 0; i < R; i++) {
                __m512i x = _mm512_loadu_si512(row[i] + 64 * s);
                if (swap) { /* acts_s8: the weights are the unsigned operand */
                    acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], w0, x);
                    acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], w1, x);
                    acc[i][2] = _mm512_dpbusd_epi32(acc[i][2], w2, x);
                    acc[i][3] = _mm512_dpbusd_epi32(acc[i][3], w3, x);
                } else {
                    acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x, w0);
                    acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x, w1);
                    acc[i][2] = _mm512_dpbusd_epi32(acc[i][2], x, w2);
                    acc[i][3] = _mm512_dpbusd_epi32(acc[i][3], x, w3);
                    if (RS && s == 0) rs[i] = _mm512_dpbusd_epi32(rs[i], x, ones);
                }
            }
        }
    }
    if (RS)
        for (int i = 0; i < R; i++) {
            __m512i r = _mm512_mullo_epi32(rs[i], _mm512_set1_epi32(rw));
            for (int j = 0; j < 4; j++) acc[i][j] = _mm512_add_epi32(acc[i][j], r);
        }
    /* constant row indices (a loop to mn put acc on the stack: 16 stores and
     * reloads a tile) */
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
        if ((size_t)i >= mn) break;
        __m512i lo01 = _mm512_unpacklo_epi32(acc[i][0], acc[i][1]), hi01 = _mm512_unpackhi_epi32(acc[i][0], acc[i][1]);
        __m512i lo23 = _mm512_unpacklo_epi32(acc[i][2], acc[i][3]), hi23 = _mm512_unpackhi_epi32(acc[i][2], acc[i][3]);
        __m512i o[4] = {_mm512_unpacklo_epi64(lo01, lo23), _mm512_unpackhi_epi64(lo01, lo23),
                        _mm512_unpacklo_epi64(hi01, hi23), _mm512_unpackhi_epi64(hi01, hi23)};
        int32_t *c = C + i * ldc;
        for (int q = 0; q < 4; q++) {
            if (accumulate) o[q] = _mm512_add_epi32(o[q], _mm512_loadu_si512(c + 16 * q));
            if (stream) _mm512_stream_si512((void *)(c + 16 * q), o[q]);
            else _mm512_storeu_si512(c + 16 * q, o[q]);
        }
    }
}

static inline __attribute__((always_inline)) void run16(size_t rows, const uint8_t *const *px, size_t ntaps,
                                                        size_t coff, size_t T, const uint8_t *pw, const int32_t *rc,
                                                        size_t ldrc, int32_t *C, size_t ldc, bool accumulate,
                                                        bool stream, bool swap, size_t NT, bool RS, int32_t rw)
{
    for (size_t m0 = 0; m0 < rows; m0 += 4)
        tile16(px + m0 * ntaps, ntaps, coff, rows - m0 < 4 ? rows - m0 : 4, T, pw, rc ? rc + m0 * ldrc : NULL, ldrc,
               C + m0 * ldc, ldc, accumulate, stream, swap, NT, RS, rw);
}

/* the tiles sum the row corrections themselves when one term has them
 * (tile16 and tile: RS), but for single groups (per 1, 32+ channels a
 * group: ResNeXt's layer4), whose many columns a group make conv2d.c's
 * sums cheap against the tile's extra vpdpbusd */
static bool rows_inside(const ax_gemm_plan *p, size_t per) { return per != 1 && row_term0(p); }

/* per 16 and the block tiles in functions of their own: in one, the
 * block tiles' added variants moved tile16's loops (layer1.0 0.85-0.9x) */
static __attribute__((noinline)) void run_lanes(const ax_gemm_plan *p, size_t rows, const uint8_t *const *px,
                                                size_t ntaps, size_t coff, const uint8_t *pw, const int32_t *rc,
                                                size_t ldrc, int32_t *C, size_t ldc, bool accumulate, bool stream)
{
    bool swap = p->lr->acts_s8;
    size_t T = (size_t)p->lr->terms;
    bool rs = row_term0(p);
    int32_t rw = p->lr->w_off[0];
#define AX_RUN16(S, NT, RS) run16(rows, px, ntaps, coff, T, pw, rc, ldrc, C, ldc, accumulate, stream, S, NT, RS, rw)
    if (rs) ntaps == 9 ? AX_RUN16(false, 9, true) : AX_RUN16(false, 0, true);
    else if (ntaps == 9) swap ? AX_RUN16(true, 9, false) : AX_RUN16(false, 9, false);
    else swap ? AX_RUN16(true, 0, false) : AX_RUN16(false, 0, false);
#undef AX_RUN16
}

static __attribute__((noinline)) void run_blocks(const ax_gemm_plan *p, size_t rows, const uint8_t *const *px,
                                                 size_t ntaps, size_t coff, size_t K, size_t N, size_t per,
                                                 const uint8_t *pw, const int32_t *rc, size_t ldrc, int32_t *C,
                                                 size_t ldc, bool accumulate, bool stream)
{
    bool swap = p->lr->acts_s8;
    size_t T = (size_t)p->lr->terms, cg = K / ntaps, gc = granule(per, cg) / per;
    bool rs = rows_inside(p, per);
    rt_steps rt = {.P = gc * T / 4, .L = gc / 4, .rw = p->lr->w_off[0]};
    K *= T; /* virtual k: a tap's T terms read as T times the channels */
#define AX_RUN_PER(P, S, NT, RS) \
    run_per(rows, px, ntaps, coff, K, N, P, pw, rc, ldrc, C, ldc, accumulate, stream, S, NT, RS, rt)
#define AX_RUN_3(P, NT) rs ? AX_RUN_PER(P, false, NT, true) : swap ? AX_RUN_PER(P, true, NT, false) : AX_RUN_PER(P, false, NT, false)
    /* 3x3 at 4 channels a group (one step a tap): the tap loop is the work */
    if (per == 4 && ntaps == 9) AX_RUN_3(4, 9);
    else if (per == 4) AX_RUN_3(4, 0);
    else if (per == 2) AX_RUN_3(2, 0);
    else AX_RUN_3(1, 0);
#undef AX_RUN_3
#undef AX_RUN_PER
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *const *px, size_t ntaps, size_t coff, size_t K,
                size_t N, size_t per, const uint8_t *pw, const int32_t *rc, size_t ldrc, int32_t *C, size_t ldc,
                bool accumulate, bool stream)
{
    /* whole lines only: C's rows and the unit's columns on 64-byte boundaries */
    stream = stream && !accumulate && ((uintptr_t)C & 63) == 0 && ldc % 16 == 0;
    if (per == 16) run_lanes(p, rows, px, ntaps, coff, pw, rc, ldrc, C, ldc, accumulate, stream);
    else run_blocks(p, rows, px, ntaps, coff, K, N, per, pw, rc, ldrc, C, ldc, accumulate, stream);
    if (stream) _mm_sfence();
}

/* the bytes of h looked up per plane (vpermi2b), each plane's quads summed
 * by vpdpbusd against ones, the planes shifted into place: 64 bytes in
 * 2 + 4 np instructions, where a scalar loop (a load and an add a byte)
 * took 31% of ResNeXt layer1.0 + 3.0 on mul8u_12YX (perf) */
static void row_quads(const uint8_t (*hp)[256], int np, uint32_t hmin, size_t n, const uint8_t *x, int32_t *q)
{
    const __m512i ones = _mm512_set1_epi8(1), base = _mm512_set1_epi32((int)(4 * hmin));
    for (size_t i = 0; i < n; i += 64) {
        size_t left = n - i;
        __mmask64 m = left >= 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)left);
        __m512i a = _mm512_maskz_loadu_epi8(m, x + i);
        __mmask64 upper = _mm512_movepi8_mask(a);
        __m512i sum = base;
        for (int j = 0; j < np; j++) {
            const uint8_t *t = hp[j];
            __m512i lo = _mm512_permutex2var_epi8(_mm512_loadu_si512(t), a, _mm512_loadu_si512(t + 64));
            __m512i hi = _mm512_permutex2var_epi8(_mm512_loadu_si512(t + 128), a, _mm512_loadu_si512(t + 192));
            __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_mask_blend_epi8(upper, lo, hi), ones);
            sum = _mm512_add_epi32(sum, _mm512_slli_epi32(d, 8 * j));
        }
        __mmask16 k = left >= 64 ? (__mmask16)0xffff : (__mmask16)((1u << (left / 4)) - 1);
        _mm512_mask_storeu_epi32(q + i / 4, k, sum);
    }
}

/* 16 groups a step, the taps' pixels summed in a register: in conv2d.c
 * (the baseline's 16-byte vectors) the sums took 30% of ResNeXt's layer1.0
 * on mul8u_Y48 (32 groups), here 15% */
static void tap_sums(const int32_t *rg, size_t G, const uint32_t *at, size_t ntaps, int32_t *to)
{
    for (size_t g = 0; g < G; g += 16) {
        __mmask16 k = G - g >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (G - g)) - 1);
        __m512i s = _mm512_setzero_si512();
        for (size_t t = 0; t < ntaps; t++)
            s = _mm512_add_epi32(s, _mm512_maskz_loadu_epi32(k, rg + (size_t)at[t] * G + g));
        _mm512_mask_storeu_epi32(to + g, k, s);
    }
}

const ax_glr_ukernel ax_glr_ukernel_avx512vnni = {.name = "lowrank_gconv_8x32c4__avx512vnni",
                                                  .name_s8 = "lowrank_gconv_8x32c4_s8u8__avx512vnni",
                                                  .name16 = "lowrank_gconv_4x64g4__avx512vnni",
                                                  .name16_s8 = "lowrank_gconv_4x64g4_s8u8__avx512vnni",
                                                  .byte_terms = true,
                                                  .row_quads = row_quads,
                                                  .tap_sums = tap_sums,
                                                  .rows_inside = rows_inside,
                                                  .per = per_of,
                                                  .esize = esize,
                                                  .map = map,
                                                  .w_bytes = w_bytes,
                                                  .pack_w = pack_w,
                                                  .run = run};
