/* plan_survey.c - what each multiplier's emulation speed depends on: the
 * path and kernels its AUTO plan takes on an ISA, the LOWRANK terms, the byte
 * planes a LUT plan reads (1 or 2 decide the AVX-512 LUT kernel's speed,
 * docs/kernels.md), and how wide the table stays after the best per-weight
 * linear base c*a (ax_gemm_linear_residual: the base a LUT plan considers):
 * the residual range of the widest weight column, the median column and the
 * share of columns under 256 (one plane). A developer tool behind the planes
 * figures of docs/kernels.md.
 *
 *   build/tools/plan-survey [--isa I] [SPEC...]    no SPEC: every named multiplier
 */
#include <autoapprox/gemm.h>
#include <autoapprox/mult.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct survey {
    ax_isa isa;
    int failed;
} survey;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void one(const char *spec, survey *sv)
{
    ax_mult *m;
    ax_error e;
    ax_gemm_plan *p, *lut;
    if (ax_mult_resolve(spec, &m, &e)) {
        fprintf(stderr, "plan-survey: %s\n", e.msg);
        sv->failed = 1;
        return;
    }
    if (ax_gemm_plan_create(m, sv->isa, AX_PATH_AUTO, &p, &e)) {
        fprintf(stderr, "plan-survey: %s: %s\n", spec, e.msg);
        sv->failed = 1;
        ax_mult_free(m);
        return;
    }
    int planes = 0;
    const char *lut_kernel = "-";
    if (!ax_gemm_plan_create(m, sv->isa, AX_PATH_LUT, &lut, &e)) {
        planes = ax_gemm_plan_planes(lut);
        lut_kernel = ax_gemm_plan_kernel_name(lut);
    } else {
        lut = NULL;
    }
    uint64_t range[256];
    int narrow = 0, slope;
    for (unsigned w = 0; w < 256; w++) narrow += (range[w] = ax_gemm_linear_residual(m, w, &slope)) < 256;
    qsort(range, 256, sizeof *range, cmp_u64);
    printf("%-18s %-8s %5d %6d %7llu %7llu %5.1f  %s\n", spec, ax_path_name(ax_gemm_plan_path(p)),
           ax_gemm_plan_terms(p), planes, (unsigned long long)range[255], (unsigned long long)range[128],
           100.0 * narrow / 256, lut_kernel);
    ax_gemm_plan_free(lut);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
}

static void named(const char *name, const char *path, void *ctx)
{
    (void)path;
    one(name, ctx);
}

int main(int argc, char **argv)
{
    survey sv = {.isa = AX_ISA_AUTO};
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "--isa")) {
        if (ax_isa_parse(argv[i + 1], &sv.isa)) {
            fprintf(stderr, "plan-survey: --isa %s: not one of auto, scalar, avx2, avx512, neon\n", argv[i + 1]);
            return 2;
        }
        i += 2;
    }
    if (sv.isa != AX_ISA_AUTO && !ax_cpu_supports(sv.isa)) {
        fprintf(stderr, "plan-survey: --isa %s: this CPU or build cannot run it\n", ax_isa_name(sv.isa));
        return 2;
    }
    printf("%-18s %-8s %5s %6s %7s %7s %5s  %s\n", "multiplier", "path", "terms", "planes", "res.max", "res.med",
           "%<256", "LUT kernels");
    if (i == argc) ax_mult_list_named(named, &sv);
    for (; i < argc; i++) one(argv[i], &sv);
    return sv.failed;
}
