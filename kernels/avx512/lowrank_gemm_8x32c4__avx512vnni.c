/* lowrank_gemm_8x32c4__avx512vnni.c - the LOWRANK path on AVX-512 VNNI for
 * a byte form (lowrank.c: every factor spans <= 256 values): the table is
 * sum_t f_t(a) g_t(w) with f_t = f'_t + a_off[t] (f'_t u8) and g_t = g'_t +
 * w_off[t] (g'_t s8), so a GEMM over it is one u8 x s8 GEMM over K * terms
 * virtual k with vpdpbusd (four u8 x s8 products into an int32 lane, no
 * saturation: 64 MACs per instruction), plus exact corrections: per column
 * sum_t a_off[t] sum_k g'_t + K sum_t a_off[t] w_off[t] (packed with the
 * weights), per row sum_t w_off[t] sum_k f'_t (summed while packing A; so
 * are row terms, whose g'_t is 0: never multiplied).
 * Lanes, corrections and shifted factors all wrap mod 2^32: only the true
 * total must fit int32, which the plan's K bound guarantees.
 *
 * Virtual k: per block of 64 k (the last one kbw = K rounded up to 4 k),
 * term-major: (k, t) -> 64 T b + t kbw + k % 64. So packing A is, per row
 * and block, one 64-byte load and per term a 256-entry byte lookup
 * (two vpermi2b and a blend on bit 7) stored contiguously.
 * Panel: the rows' per-row corrections, then MR rows of L = T * ceil4(K)
 * bytes each (stride S). Weights: blocks of 16 columns, each L/4 x 16 x 4
 * bytes, plus one zero block. Tile: 8 rows x 32 columns, sixteen zmm (8 x 16
 * for a last block alone). */
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 64, HEAD = MR * 4 };

static size_t ceil4(size_t K) { return (K + 3) / 4 * 4; }
static size_t row_len(const ax_gemm_plan *p, size_t K) { return (size_t)p->lr->terms * ceil4(K); }
static size_t stride_of(size_t L)
{
    size_t S = (L + 63) / 64 * 64;
    return S % 4096 ? S : S + 64; /* rows 4 KiB apart would share one L1 set */
}

/* Kv = K * terms (what gemm.c passes); L <= Kv + 3 * 8 */
static size_t panel_bytes(size_t Kv)
{
    if (Kv > SIZE_MAX / 2 / MR) return SIZE_MAX;
    return HEAD + MR * stride_of(Kv + 24);
}

static size_t bx_bytes(size_t Kv, size_t N)
{
    size_t blocks = (N + 15) / 16 + 1, L4 = (Kv + 24) / 4;
    if (blocks > SIZE_MAX / 64 / L4) return SIZE_MAX;
    return blocks * L4 * 64;
}

/* f'_t of 64 activation bytes */
static inline __m512i lookup(const __m512i tab[4], __m512i x)
{
    __m512i lo = _mm512_permutex2var_epi8(tab[0], x, tab[1]), hi = _mm512_permutex2var_epi8(tab[2], x, tab[3]);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi);
}

/* f'_t as pack_a reads it: the table, or with bits (a constant where
 * inlined: a one-term form whose f' is (a ^ x) & m, lr->abits) one
 * vpternlogd against xm[0], xm[1] */
typedef struct amap_k {
    const __m512i (*tab)[4]; /* per term */
    __m512i xm[2];
} amap_k;

static inline __attribute__((always_inline)) __m512i amap(const amap_k *k, bool bits, size_t t, __m512i x)
{
    return bits ? _mm512_ternarylogic_epi32(x, k->xm[0], k->xm[1], 0x28) : lookup(k->tab[t], x);
}

/* K <= 32: R = 64 / G rows of G = 16 or 32 bytes share each vector, so
 * the lookups, masks and stores are per R rows (one row a vector left 32
 * or 48 of its 64 bytes idle: packing was half of MobileNetV2's K = 32,
 * N = 16 layer). Rows come in by masked loads from row - G r (the masked
 * bytes are not read) and go out as masked stores of their G bytes; the
 * row corrections from vpsadbw's eight partial sums, G / 8 per row. */
static inline __attribute__((always_inline)) void pack_a_short(const ax_lowrank *lr, size_t rows, size_t K,
                                                               const uint8_t *A, size_t lda, uint8_t *panel, size_t S,
                                                               const amap_k *k, bool bits)
{
    size_t T = (size_t)lr->terms, TR = T + (size_t)lr->row_terms, kbw = ceil4(K);
    size_t G = K <= 16 ? 16 : 32, R = 64 / G;
    int32_t *corr = (int32_t *)panel;
    __mmask64 in1 = _bzhi_u64(~0ull, (unsigned)K), out1 = _bzhi_u64(~0ull, (unsigned)kbw), in = 0;
    for (size_t r = 0; r < R; r++) in |= in1 << (G * r);
    for (size_t m = 0; m < rows; m += R) {
        size_t rn = rows - m < R ? rows - m : R;
        /* the next panel's rows (a thread's next tiles are the next row
         * panels): the first load of each group waited for memory otherwise */
        _mm_prefetch((const char *)((uintptr_t)A + (m + MR) * lda), _MM_HINT_T0);
        __m512i x = _mm512_setzero_si512();
        for (size_t r = 0; r < rn; r++)
            x = _mm512_mask_loadu_epi8(x, in1 << (G * r), (const void *)((uintptr_t)(A + (m + r) * lda) - G * r));
        uint32_t c[4] = {0, 0, 0, 0};
        for (size_t t = 0; t < TR; t++) {
            __m512i y = _mm512_maskz_mov_epi8(in, amap(k, bits, t, x)); /* k past K: 0 */
            if (t < T)
                for (size_t r = 0; r < rn; r++)
                    _mm512_mask_storeu_epi8((void *)((uintptr_t)(panel + HEAD + (m + r) * S + t * kbw) - G * r),
                                            out1 << (G * r), y);
            if (lr->row_corr) {
                uint64_t q[8];
                _mm512_storeu_si512(q, _mm512_sad_epu8(y, _mm512_setzero_si512()));
                for (size_t i = 0; i < 8; i++) c[i / (G / 8)] += (uint32_t)lr->w_off[t] * (uint32_t)q[i];
            }
        }
        for (size_t r = 0; r < rn; r++) corr[m + r] = (int32_t)c[r];
    }
}

static inline __attribute__((always_inline)) void pack_a_k(const ax_lowrank *lr, size_t rows, size_t K,
                                                           const uint8_t *A, size_t lda, uint8_t *panel, size_t S,
                                                           const amap_k *k, bool bits)
{
    size_t T = (size_t)lr->terms, TR = T + (size_t)lr->row_terms, nb = (K + 63) / 64;
    if (K <= 32 && K > 0) {
        pack_a_short(lr, rows, K, A, lda, panel, S, k, bits);
        return;
    }
    int32_t *corr = (int32_t *)panel;
    bool near = K <= 256; /* the next panel's A within L1/3; past that the prefetches cost (ResNet-50 3x3 layers) */
    for (size_t m = 0; m < rows; m++) {
        uint8_t *row = panel + HEAD + m * S;
        const uint8_t *a = A + m * lda;
        __m512i sums[AX_LOWRANK_TERMS];
        for (size_t t = 0; t < TR; t++) sums[t] = _mm512_setzero_si512();
        for (size_t b = 0; b < nb; b++) {
            size_t kb = K - 64 * b < 64 ? K - 64 * b : 64, kbw = b + 1 < nb ? 64 : ceil4(kb);
            __mmask64 in = kb == 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)kb);
            __mmask64 out = kbw == 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)kbw);
            if (near) _mm_prefetch((const char *)((uintptr_t)a + MR * lda + 64 * b), _MM_HINT_T0); /* as pack_a_short */
            /* masked loads and stores only for the last block: on full ones
             * the loads cost ~2x here (Zen 5) streaming from memory */
            bool full = kb == 64;
            __m512i x = full ? _mm512_loadu_si512(a + 64 * b) : _mm512_maskz_loadu_epi8(in, a + 64 * b);
            uint8_t *d = row + 64 * T * b;
            for (size_t t = 0; t < TR; t++) { /* row terms (t >= T): summed, not stored */
                __m512i y = full ? amap(k, bits, t, x) : _mm512_maskz_mov_epi8(in, amap(k, bits, t, x)); /* k past K: 0 */
                if (t < T && full) _mm512_storeu_si512(d + t * kbw, y);
                else if (t < T) _mm512_mask_storeu_epi8(d + t * kbw, out, y);
                if (lr->row_corr) sums[t] = _mm512_add_epi64(sums[t], _mm512_sad_epu8(y, _mm512_setzero_si512()));
            }
        }
        uint32_t c = 0;
        if (lr->row_corr)
            for (size_t t = 0; t < TR; t++) c += (uint32_t)lr->w_off[t] * (uint32_t)_mm512_reduce_add_epi64(sums[t]);
        corr[m] = (int32_t)c;
    }
}

static void pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    const ax_lowrank *lr = p->lr;
    size_t TR = (size_t)(lr->terms + lr->row_terms), S = stride_of(row_len(p, K));
    if (TR == 1 && lr->abits[0]) { /* one term whose f' is (a ^ x) & m (the tables are not read) */
        amap_k k = {.xm = {_mm512_set1_epi8((char)lr->axor[0]), _mm512_set1_epi8((char)lr->amask[0])}};
        pack_a_k(lr, rows, K, A, lda, panel, S, &k, true);
        return;
    }
    __m512i tab[AX_LOWRANK_TERMS][4];
    for (size_t t = 0; t < TR; t++)
        for (int q = 0; q < 4; q++) tab[t][q] = _mm512_loadu_si512(lr->abyte[t] + 64 * q);
    amap_k k = {.tab = (const __m512i (*)[4])tab};
    pack_a_k(lr, rows, K, A, lda, panel, S, &k, false);
}

static void pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, uint8_t *bx,
                   uint32_t *corr)
{
    const ax_lowrank *lr = p->lr;
    size_t T = (size_t)lr->terms, L4 = row_len(p, K) / 4, nb = (K + 63) / 64;
    memset(bx, 0, ((N + 15) / 16 + 1) * (L4 ? L4 : 1) * 64);
    uint32_t fixed = 0; /* K sum_t a_off w_off, row terms included (their g' is 0: nothing else) */
    for (size_t t = 0; t < T + (size_t)lr->row_terms; t++)
        fixed += (uint32_t)K * (uint32_t)lr->a_off[t] * (uint32_t)lr->w_off[t];
    for (size_t n = 0; n < N; n++) corr[n] = fixed;
    for (size_t k = 0; k < K; k++) {
        size_t b = k / 64, kbw = b + 1 < nb ? 64 : ceil4(K - 64 * b), v0 = 64 * T * b + k % 64;
        for (size_t n = 0; n < N; n++) {
            uint8_t w = B[k * ldb + n];
            uint8_t *blk = bx + (n / 16) * L4 * 64 + (n % 16) * 4;
            for (size_t t = 0; t < T; t++) {
                size_t v = v0 + t * kbw;
                blk[v / 4 * 64 + (v & 3)] = (uint8_t)lr->wbyte[t][w];
                corr[n] += (uint32_t)lr->a_off[t] * (uint32_t)(int32_t)lr->wbyte[t][w];
            }
        }
    }
}

/* Columns [c, c + 16) of a row, kept where in [n0, n0 + nn): v + row +
 * corr (+ C) into C; C and corr point at column n0. A group starting before
 * n0 (n0 not a multiple of 16) has its lanes moved down first. */
static inline __attribute__((always_inline)) void put16(__m512i v, uint32_t row, const uint32_t *corr, int32_t *C,
                                                        size_t c, size_t n0, size_t nn, bool accumulate)
{
    if (c + 16 <= n0 || c >= n0 + nn) return;
    size_t off = 0, cnt;
    if (c < n0) {
        size_t s = n0 - c;
        __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        v = _mm512_permutexvar_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32((int)s)), v);
        cnt = 16 - s < nn ? 16 - s : nn;
    } else {
        off = c - n0;
        cnt = nn - off < 16 ? nn - off : 16;
    }
    v = _mm512_add_epi32(v, _mm512_set1_epi32((int)row));
    if (cnt == 16) { /* masked stores are slower here, even with a full mask */
        v = _mm512_add_epi32(v, _mm512_loadu_si512(corr + off));
        if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512(C + off));
        _mm512_storeu_si512(C + off, v);
        return;
    }
    __mmask16 k = (__mmask16)((1u << cnt) - 1);
    v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(k, corr + off));
    if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(k, C + off));
    _mm512_mask_storeu_epi32(C + off, k, v);
}

/* 8 rows x 16 nb columns (blocks blk, and blk + 1 when nb = 2) over L4
 * quads, straight into C; rows past mn repeat row 0 and are dropped. One
 * block serves the last 16 columns (grouped convolutions: N = 8 or 16 per
 * group would spend half the vpdpbusd on the zero block). */
static inline __attribute__((always_inline)) void tile(const uint8_t *rows, size_t S, const int32_t *rcorr, size_t mn,
                                                       size_t L4, const __m512i *b0, const __m512i *b1, int nb,
                                                       size_t c, const uint32_t *corr, int32_t *C, size_t ldc,
                                                       size_t n0, size_t nn, ax_c_store store)
{
    const bool accumulate = store == AX_C_ADD, stream = store == AX_C_STREAM;
    __m512i acc[8][2];
    const uint8_t *row[8];
    for (int i = 0; i < 8; i++) {
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
        row[i] = rows + ((size_t)i < mn ? (size_t)i : 0) * S;
    }
    for (size_t k4 = 0; k4 < L4; k4++) {
        __m512i w0 = _mm512_load_si512(b0 + k4), w1 = nb == 2 ? _mm512_load_si512(b1 + k4) : w0;
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            int32_t q;
            memcpy(&q, row[i] + 4 * k4, 4);
            __m512i x = _mm512_set1_epi32(q);
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x, w0);
            if (nb == 2) acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x, w1);
        }
    }
    if (mn == 8 && c >= n0) { /* 8 rows from the tile's first column: straight from the sums, no lane moves */
        size_t left = n0 + nn - c; /* columns of the tile that C keeps */
        int cnt[2] = {left >= 16 ? 16 : (int)left, nb == 2 && left > 16 ? (left >= 32 ? 16 : (int)(left - 16)) : 0};
        __mmask16 m[2] = {(__mmask16)((1u << cnt[0]) - 1), (__mmask16)((1u << cnt[1]) - 1)};
        const uint32_t *cr = corr + (c - n0);
        int32_t *Ct = C + (c - n0);
        __m512i k[2];
        for (int h = 0; h < 2; h++)
            k[h] = cnt[h] == 16 ? _mm512_loadu_si512(cr + 16 * h) : _mm512_maskz_loadu_epi32(m[h], cr + 16 * h);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            __m512i r = _mm512_set1_epi32(rcorr[i]);
#pragma GCC unroll 2
            for (int h = 0; h < nb; h++) {
                int32_t *y = Ct + (size_t)i * ldc + 16 * h;
                __m512i v = _mm512_add_epi32(_mm512_add_epi32(acc[i][h], r), k[h]);
                if (cnt[h] == 16) { /* masked stores are slower here, even with a full mask */
                    if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512(y));
                    if (stream && ((uintptr_t)y & 63) == 0) _mm512_stream_si512((void *)y, v);
                    else _mm512_storeu_si512(y, v);
                } else if (cnt[h]) {
                    if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m[h], y));
                    _mm512_mask_storeu_epi32(y, m[h], v);
                }
            }
        }
        return;
    }
    /* through memory: put16's registers and masks kept out of the k loop's
     * register allocation (measured: spills there otherwise) */
    uint32_t tmp[8][32];
    for (int i = 0; i < 8; i++) {
        _mm512_storeu_si512(tmp[i], acc[i][0]);
        if (nb == 2) _mm512_storeu_si512(tmp[i] + 16, acc[i][1]);
    }
    for (size_t i = 0; i < mn; i++) {
        put16(_mm512_loadu_si512(tmp[i]), (uint32_t)rcorr[i], corr, C + i * ldc, c, n0, nn, accumulate);
        if (nb == 2)
            put16(_mm512_loadu_si512(tmp[i] + 16), (uint32_t)rcorr[i], corr, C + i * ldc, c + 16, n0, nn, accumulate);
    }
}

/* C[m][j] (+)= the rows' sums for column n0 + j + corr[j], j < nn (C and
 * corr point at column n0) */
static void run_c(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                  size_t n0, size_t nn, const uint32_t *corr, int32_t *C, size_t ldc, ax_c_store store)
{
    (void)N;
    size_t L = row_len(p, K), L4 = L / 4, S = stride_of(L);
    const int32_t *rcorr = (const int32_t *)panel;
    for (size_t blk = n0 / 16; blk * 16 < n0 + nn; blk += 2) {
        const __m512i *b0 = (const __m512i *)(bx + blk * L4 * 64), *b1 = (const __m512i *)(bx + (blk + 1) * L4 * 64);
        bool one = (blk + 1) * 16 >= n0 + nn; /* the last block: no columns in blk + 1 */
        for (size_t m0 = 0; m0 < rows; m0 += 8) {
            size_t mn = rows - m0 < 8 ? rows - m0 : 8;
            if (one)
                tile(panel + HEAD + m0 * S, S, rcorr + m0, mn, L4, b0, b1, 1, blk * 16, corr, C + m0 * ldc, ldc, n0,
                     nn, store);
            else
                tile(panel + HEAD + m0 * S, S, rcorr + m0, mn, L4, b0, b1, 2, blk * 16, corr, C + m0 * ldc, ldc, n0,
                     nn, store);
        }
    }
    if (store == AX_C_STREAM) _mm_sfence();
}

const ax_exact_ukernel ax_lowrank_ukernel_u8s8_avx512vnni = {.name = "lowrank_gemm_8x32c4__avx512vnni",
                                                             .mr = MR,
                                                             .panel_bytes = panel_bytes,
                                                             .pack_a = pack_a,
                                                             .bx_bytes = bx_bytes,
                                                             .pack_b = pack_b,
                                                             .run_c = run_c, /* LOWRANK only: no `run` */
                                                             .row_terms = true};
