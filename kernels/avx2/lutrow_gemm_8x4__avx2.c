/* lutrow_gemm_8x4__avx2.c - the row-table LUT microkernel for AVX2 (+FMA,
 * BMI2; nothing newer): groups of 8 output columns (one ymm of int32), 4 k
 * per block (four 8 KiB row tables in L1). Each row of the M chunk adds
 * R_i[a[m][k0 + i]] for i < 4 into its strip entry: one vpaddd with a
 * memory operand per 8 MACs, any int32 table. See kernels/lutrow.h.
 *
 * build: the 8 columns table_t[w_j][.] (1 KiB each) transposed in 8x8
 * blocks: two 128-bit loads per ymm put columns j and j+4 in the two lanes,
 * then 16 in-lane unpacks give 8 rows of R.
 *
 * Per row: one 64-bit load of the four offsets, four vpaddd-from-memory,
 * the strip's load and store (L2). Measured single-core on ResNet-50 layer
 * shapes (whole GEMMs on a Zen 5 core): ~0.9 row-adds (7 MAC) per cycle
 * plus ~350 cycles per table build; 6-7 MAC/cycle at large M, ~10x the
 * gather kernel there. AVX-512 CPUs run this kernel too (a zmm version with
 * 2 k per block moves twice the strip bytes per MAC: ~10% slower). */
#include "kernels/lutrow.h"

#include <immintrin.h>
#include <string.h>

enum { G = 8, KB = 4 };

static void build(const int32_t *tt, const uint8_t *w, uint32_t *R)
{
    const int32_t *c[G];
    for (int j = 0; j < G; j++) c[j] = tt + (size_t)w[j] * 256;
    for (size_t a = 0; a < 256; a += 8)
        for (size_t h = 0; h < 8; h += 4) { /* rows a+h .. a+h+3 */
            __m256i t[4], u[4];
            for (int j = 0; j < 4; j++)
                t[j] = _mm256_loadu2_m128i((const __m128i *)(c[j + 4] + a + h), (const __m128i *)(c[j] + a + h));
            u[0] = _mm256_unpacklo_epi32(t[0], t[1]);
            u[1] = _mm256_unpackhi_epi32(t[0], t[1]);
            u[2] = _mm256_unpacklo_epi32(t[2], t[3]);
            u[3] = _mm256_unpackhi_epi32(t[2], t[3]);
            __m256i *r = (__m256i *)(R + (a + h) * G);
            _mm256_store_si256(r + 0, _mm256_unpacklo_epi64(u[0], u[2]));
            _mm256_store_si256(r + 1, _mm256_unpackhi_epi64(u[0], u[2]));
            _mm256_store_si256(r + 2, _mm256_unpacklo_epi64(u[1], u[3]));
            _mm256_store_si256(r + 3, _mm256_unpackhi_epi64(u[1], u[3]));
        }
}

/* The row's four offsets come in one 64-bit load (fewer loads than
 * movzx from memory: the load ports are the bottleneck). */
static inline __attribute__((always_inline)) __m256i row(const char *R, size_t kn, const uint16_t *o, __m256i acc)
{
    uint64_t x;
    memcpy(&x, o, 8);
    acc = _mm256_add_epi32(acc, _mm256_load_si256((const __m256i *)(R + (x & 0xffff))));
    if (kn > 1)
        acc = _mm256_add_epi32(acc, _mm256_load_si256((const __m256i *)(R + 1 * 256 * G * 4 + (x >> 16 & 0xffff))));
    if (kn > 2)
        acc = _mm256_add_epi32(acc, _mm256_load_si256((const __m256i *)(R + 2 * 256 * G * 4 + (x >> 32 & 0xffff))));
    if (kn > 3) acc = _mm256_add_epi32(acc, _mm256_load_si256((const __m256i *)(R + 3 * 256 * G * 4 + (x >> 48))));
    return acc;
}

static inline __attribute__((always_inline)) void run_t(size_t kn, bool zero, const uint32_t *R,
                                                        const uint16_t *off, size_t rows, uint32_t *strip)
{
    const char *r = (const char *)R;
    size_t m = 0;
    for (; m + 2 <= rows; m += 2) {
        __m256i *s = (__m256i *)(strip + m * G);
        __m256i a0 = zero ? _mm256_setzero_si256() : _mm256_load_si256(s);
        __m256i a1 = zero ? _mm256_setzero_si256() : _mm256_load_si256(s + 1);
        a0 = row(r, kn, off + m * KB, a0);
        a1 = row(r, kn, off + m * KB + KB, a1);
        _mm256_store_si256(s, a0);
        _mm256_store_si256(s + 1, a1);
    }
    for (; m < rows; m++) {
        __m256i *s = (__m256i *)(strip + m * G);
        _mm256_store_si256(s, row(r, kn, off + m * KB, zero ? _mm256_setzero_si256() : _mm256_load_si256(s)));
    }
}

#define RUN_FN(KN, Z) \
    static void run_##KN##_##Z(const uint32_t *R, const uint16_t *off, size_t rows, uint32_t *strip) \
    { run_t(KN, Z, R, off, rows, strip); }
RUN_FN(1, 0) RUN_FN(2, 0) RUN_FN(3, 0) RUN_FN(4, 0)
RUN_FN(1, 1) RUN_FN(2, 1) RUN_FN(3, 1) RUN_FN(4, 1)

typedef void (*run_fn)(const uint32_t *, const uint16_t *, size_t, uint32_t *);
static const run_fn runs[2][KB] = {{run_1_0, run_2_0, run_3_0, run_4_0}, {run_1_1, run_2_1, run_3_1, run_4_1}};

static void run(size_t kn, bool zero, const uint32_t *R, const uint16_t *off, size_t rows, uint32_t *strip)
{
    runs[zero][kn - 1](R, off, rows, strip);
}

const ax_lutrow_ukernel ax_lutrow_ukernel_avx2 = {.name = "lutrow_gemm_8x4__avx2", .g = G, .kb = KB, .mc = 4096,
                                                  .adds_per_cycle = 0.9, .build_cycles = 350,
                                                  .build = build, .run = run};
