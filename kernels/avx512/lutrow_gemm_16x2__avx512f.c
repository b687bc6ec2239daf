/* lutrow_gemm_16x2__avx512f.c - the row-table LUT microkernel for AVX-512F:
 * groups of 16 output columns (one zmm of int32), 2 k per block (two 16 KiB
 * row tables in L1). Each row of the M chunk adds R_i[a[m][k0 + i]] for
 * i < 2 into its strip entry: one vpaddd zmm with a memory operand per 16
 * MACs, any int32 table. See kernels/lutrow.h.
 *
 * build: the 16 columns table_t[w_j][.] (1 KiB each) transposed in 8x8
 * blocks of ymm (columns 0-7, then 8-15): two 128-bit loads per ymm put
 * columns j and j+4 in the two lanes, then 16 in-lane unpacks give 8 rows. */
#include "kernels/lutrow.h"

#include <immintrin.h>
#include <string.h>

enum { G = 16, KB = 2 };

static void build(const int32_t *tt, const uint8_t *w, uint32_t *R)
{
    for (int half = 0; half < 2; half++) {
        const int32_t *c[8];
        for (int j = 0; j < 8; j++) c[j] = tt + (size_t)w[8 * half + j] * 256;
        for (size_t a = 0; a < 256; a += 4) { /* rows a .. a+3 */
            __m256i t[4], u[4];
            for (int j = 0; j < 4; j++)
                t[j] = _mm256_loadu2_m128i((const __m128i *)(c[j + 4] + a), (const __m128i *)(c[j] + a));
            u[0] = _mm256_unpacklo_epi32(t[0], t[1]);
            u[1] = _mm256_unpackhi_epi32(t[0], t[1]);
            u[2] = _mm256_unpacklo_epi32(t[2], t[3]);
            u[3] = _mm256_unpackhi_epi32(t[2], t[3]);
            uint32_t *r = R + a * G + 8 * half;
            _mm256_store_si256((__m256i *)(r + 0 * G), _mm256_unpacklo_epi64(u[0], u[2]));
            _mm256_store_si256((__m256i *)(r + 1 * G), _mm256_unpackhi_epi64(u[0], u[2]));
            _mm256_store_si256((__m256i *)(r + 2 * G), _mm256_unpacklo_epi64(u[1], u[3]));
            _mm256_store_si256((__m256i *)(r + 3 * G), _mm256_unpackhi_epi64(u[1], u[3]));
        }
    }
}

static inline __attribute__((always_inline)) __m512i row(const char *R, size_t kn, const uint16_t *o, __m512i acc)
{
    uint32_t x;
    memcpy(&x, o, 4);
    acc = _mm512_add_epi32(acc, _mm512_load_si512(R + (x & 0xffff)));
    if (kn > 1) acc = _mm512_add_epi32(acc, _mm512_load_si512(R + 256 * G * 4 + (x >> 16)));
    return acc;
}

static inline __attribute__((always_inline)) void run_t(size_t kn, bool zero, const uint32_t *R,
                                                        const uint16_t *off, size_t rows, uint32_t *strip)
{
    const char *r = (const char *)R;
    size_t m = 0;
    for (; m + 2 <= rows; m += 2) {
        uint32_t *s = strip + m * G;
        __m512i a0 = zero ? _mm512_setzero_si512() : _mm512_load_si512(s);
        __m512i a1 = zero ? _mm512_setzero_si512() : _mm512_load_si512(s + G);
        a0 = row(r, kn, off + m * KB, a0);
        a1 = row(r, kn, off + m * KB + KB, a1);
        _mm512_store_si512(s, a0);
        _mm512_store_si512(s + G, a1);
    }
    for (; m < rows; m++) {
        uint32_t *s = strip + m * G;
        _mm512_store_si512(s, row(r, kn, off + m * KB, zero ? _mm512_setzero_si512() : _mm512_load_si512(s)));
    }
}

#define RUN_FN(KN, Z) \
    static void run_##KN##_##Z(const uint32_t *R, const uint16_t *off, size_t rows, uint32_t *strip) \
    { run_t(KN, Z, R, off, rows, strip); }
RUN_FN(1, 0) RUN_FN(2, 0)
RUN_FN(1, 1) RUN_FN(2, 1)

typedef void (*run_fn)(const uint32_t *, const uint16_t *, size_t, uint32_t *);
static const run_fn runs[2][KB] = {{run_1_0, run_2_0}, {run_1_1, run_2_1}};

static void run(size_t kn, bool zero, const uint32_t *R, const uint16_t *off, size_t rows, uint32_t *strip)
{
    runs[zero][kn - 1](R, off, rows, strip);
}

const ax_lutrow_ukernel ax_lutrow_ukernel_avx512f = {.name = "lutrow_gemm_16x2__avx512f", .g = G, .kb = KB,
                                                     .mc = 4096, .adds_per_cycle = 0.6, .build_cycles = 400,
                                                     .build = build, .run = run};
