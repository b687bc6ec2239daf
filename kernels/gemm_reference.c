/* gemm_reference.c - the oracle every kernel path is tested against, plus
 * the small vocabulary of the kernels module: ISA and path names and what
 * this CPU can run. The reference is the plain triple loop on purpose: it
 * must be obviously right, not fast. */
#include "gemm_internal.h"

#include <stdlib.h>
#include <string.h>

void ax_gemm_reference(const int32_t table[AX_TABLE_SIZE], size_t M, size_t N, size_t K, const uint8_t *A,
                       size_t lda, const uint8_t *B, size_t ldb, int32_t *C, size_t ldc, bool accumulate)
{
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            /* unsigned arithmetic: int32 sums wrap modulo 2^32, defined */
            uint32_t acc = accumulate ? (uint32_t)C[m * ldc + n] : 0;
            for (size_t k = 0; k < K; k++)
                acc += (uint32_t)table[A[m * lda + k] * 256u + B[k * ldb + n]];
            C[m * ldc + n] = (int32_t)acc;
        }
}

static const char *const isa_names[] = {"auto", "scalar", "avx2", "avx512", "neon"};

const char *ax_isa_name(ax_isa isa)
{
    return (unsigned)isa < sizeof isa_names / sizeof *isa_names ? isa_names[isa] : "?";
}

int ax_isa_parse(const char *s, ax_isa *out)
{
    for (unsigned i = 0; i < sizeof isa_names / sizeof *isa_names; i++)
        if (s && strcmp(s, isa_names[i]) == 0) {
            *out = (ax_isa)i;
            return 0;
        }
    return -1;
}

const char *ax_path_name(ax_path path)
{
    static const char *const names[] = {"auto", "lut", "exact", "lowrank", "lutrow", "exact-own"};
    return (unsigned)path < 5 ? names[path] : "?";
}

bool ax_cpu_supports(ax_isa isa)
{
    switch (isa) {
    case AX_ISA_SCALAR: return true;
#if defined(__x86_64__) && defined(__GNUC__)
    /* gcc's cpu model also checks that the OS saves the registers (xgetbv) */
    case AX_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("bmi2");
    case AX_ISA_AVX512:
        __builtin_cpu_init();
        return ax_cpu_supports(AX_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vbmi");
#endif
#if defined(__aarch64__) && AX_HAVE_NEON /* NEON hook: architectural on aarch64 */
    case AX_ISA_NEON: return true;
#endif
    default: return false;
    }
}

/* The EXACT path on AVX-512 also wants VNNI (vpdpbusd). */
bool ax_cpu_has_avx512vnni(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

ax_isa ax_cpu_best_isa(void)
{
    if (ax_cpu_supports(AX_ISA_AVX512)) return AX_ISA_AVX512;
    if (ax_cpu_supports(AX_ISA_AVX2)) return AX_ISA_AVX2;
    if (ax_cpu_supports(AX_ISA_NEON)) return AX_ISA_NEON;
    return AX_ISA_SCALAR;
}

void *ax_aligned_alloc(size_t align, size_t size)
{
    if (size == 0) size = align;
    if (size > SIZE_MAX - align) return NULL;
    size = (size + align - 1) / align * align; /* aligned_alloc wants a multiple */
    return aligned_alloc(align, size);
}
