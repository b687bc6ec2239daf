/* bench.h - what the files of bench-approx share: layer shapes, the
 * multipliers under test, benchmark cases and the run context. */
#ifndef AX_BENCH_H
#define AX_BENCH_H

#include "autoapprox/gemm.h"
#include "autoapprox/mult.h"
#include "gbench_shim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AX_BENCH_BATCH 8
#define AX_BENCH_NAME_MAX 256

/* ---- layer tables (shapes_*.c) ------------------------------------------ */
/* One distinct conv/FC layer of a network at 224x224; an FC layer is a 1x1
 * conv on a 1x1 input. `mult` counts the layers of the network with exactly
 * this shape; `name` is the first of them (torchvision module path). */
typedef struct bench_layer {
    const char *name;
    int h, w;          /* input height and width */
    int c_in, c_out;
    int kernel, stride, groups; /* padding kernel/2 */
    int mult;
    bool quick;        /* part of the quick suite */
} bench_layer;

extern const bench_layer bench_resnet50[];
extern const size_t bench_resnet50_count;
extern const bench_layer bench_mobilenetv2[];
extern const size_t bench_mobilenetv2_count;
extern const bench_layer bench_resnext50[]; /* grouped 3x3 convs only */
extern const size_t bench_resnext50_count;

/* A layer as G independent GEMMs of M x N x K (G = groups; depthwise is
 * C GEMMs with N = 1, K = 9), or (conv) as one convolution: NHWC u8
 * activations, HWIO weights, NHWC int32 outputs, zero padding kernel/2. */
typedef struct bench_shape {
    const bench_layer *layer;
    size_t M, N, K, G;
    const char *op;    /* "gemm", "dwgemm" (grouped/depthwise) or "conv" */
    bool conv;
    ax_conv2d_shape cs;           /* conv only */
    size_t a_len, b_len, c_len;   /* operand sizes in elements */
} bench_shape;
void bench_shape_of(const bench_layer *l, size_t batch, bool conv, bench_shape *out);
double bench_shape_macs(const bench_shape *s);

/* ---- the references --verify compares with, threaded ---------------------- */
void bench_conv_reference(const int32_t *table, const ax_conv2d_shape *s, const uint8_t *X, const uint8_t *W,
                          int32_t *Y, int threads);
void bench_reference(const int32_t *table, size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                     const uint8_t *B, size_t ldb, int32_t *C, size_t ldc, int threads);

/* ---- peers ----------------------------------------------------------------- */
/* naive: C[m][n] = sum_k T[A[m][k]*256 + Wt[n][k]], Wt = B transposed (the
 * N x K row-major weights of a framework), OpenMP over rows. */
void bench_naive_gemm(const int32_t *table, size_t M, size_t N, size_t K, const uint8_t *A,
                      const uint8_t *Wt, int32_t *C, int threads);
/* naive conv: the direct loop, a = X[b][y*s+ky-p][x*s+kx-p][g*Cg+i] (the pad
 * byte outside), w = Wt[o][ky][kx][i]; OpenMP over output rows. */
void bench_naive_conv(const int32_t *table, const ax_conv2d_shape *s, const uint8_t *X, const uint8_t *Wt,
                      int32_t *Y, int threads);
bool bench_onednn_available(void);
/* oneDNN's exact u8 x s8 -> s32 GEMM, row-major. 0 ok, -1 with err. */
int bench_onednn_gemm(size_t M, size_t N, size_t K, const uint8_t *A, const uint8_t *B, int32_t *C,
                      int threads, ax_error *err);
typedef struct bench_onednn_conv bench_onednn_conv; /* a primitive with its weights */
int bench_onednn_conv_create(const ax_conv2d_shape *s, const uint8_t *W, int threads, bench_onednn_conv **out,
                             ax_error *err);
int bench_onednn_conv_run(bench_onednn_conv *c, const uint8_t *X, int32_t *Y, int threads, ax_error *err);
void bench_onednn_conv_free(bench_onednn_conv *c);
const char *bench_onednn_isa(void);   /* oneDNN's own ISA name, "" without it */
/* Keeps oneDNN within --isa's family (avx2: AVX2 without VNNI, no AVX-512;
 * scalar: SSE4.1, oneDNN's floor). Before its first use; 0 ok. */
int bench_onednn_limit(ax_isa isa);
void bench_onednn_version(char *buf, size_t cap);

/* ---- the core clock, measured during the run ------------------------------- */
/* Hz of the calling core now: perf_event cycles when the kernel gives them,
 * else a calibrated chain of dependent adds (one cycle each). */
double bench_core_hz(void);
const char *bench_clock_source(void);

/* ---- machine description (machine.c) ------------------------------------- */
typedef struct bench_machine {
    char model[128], vendor[64], fms[64]; /* fms: "family-model-stepping" */
    int packages, cores, pus, numa;
    char caches[256];      /* "L1d=48KiB L2=2MiB ..." */
    char features[256];    /* ISA features detected */
    char id[160];          /* results folder name */
} bench_machine;
void bench_machine_describe(bench_machine *m);

/* ---- cases and the run ------------------------------------------------------ */
typedef enum bench_kind { BENCH_NAIVE, BENCH_ONEDNN, BENCH_KERNEL } bench_kind;

typedef struct bench_mult {
    char name[AX_NAME_MAX];
    ax_mult *m;
} bench_mult;

struct bench_run;
typedef struct bench_case {
    struct bench_run *run;
    bench_kind kind;
    const bench_shape *shape;
    const bench_mult *mult;    /* the exact-u8s8 table for oneDNN */
    ax_gemm_plan *plan;        /* BENCH_KERNEL */
    char name[AX_BENCH_NAME_MAX];
    void *prepared;            /* weights in the path's form (and oneDNN's
                                * 7-bit activations), built once per shape */
} bench_case;

/* Operands of the shape being measured: built once per shape, shared by
 * every case of that shape (cases run grouped by shape). */
typedef struct bench_operands {
    const bench_shape *shape;
    uint8_t *A, *B;            /* G x (M x K), G x (K x N); conv: X, W */
    int32_t *C;                /* G x (M x N); conv: Y */
} bench_operands;

typedef struct bench_run {
    int threads;
    bench_operands ops;
    bench_case *cases;
    size_t n_cases;
} bench_run;

int bench_operands_use(bench_run *run, const bench_shape *s, ax_error *err);
void bench_operands_free(bench_operands *o);
void bench_case_body(ax_gb_state *st, void *ctx);          /* a Google Benchmark body */
/* Runs one case once on its shape's operands into C (G x M x N; NULL: the
 * shared output buffer). */
int bench_case_compute(bench_case *c, int32_t *C, ax_error *err);
void bench_case_release(bench_case *c);
/* The activations a prepared case reads: the shape's operands, except for
 * oneDNN, which gets them masked to 0..127 (its u8 x s8 kernels without VNNI
 * saturate pairs of products in int16; oneDNN's own int8 recipe for those
 * ISAs is 7-bit activations; the values do not change its speed). */
const uint8_t *bench_case_activations(const bench_case *c);

/* ---- --verify (verify.c) ------------------------------------------------- */
/* Google Benchmark's --benchmark_filter semantics on one name. */
bool bench_filter_match(const char *filter, const char *name);
bool bench_filter_valid(const char *filter);
/* Checks every selected case against the reference; returns how many failed,
 * each named in one line on err_out. */
int bench_verify(bench_run *run, const bool *selected, FILE *err_out);

/* ---- suite network (network.c) ------------------------------------------- */
typedef struct bench_net_options {
    const char *model;     /* NULL: the built-in ResNet-50 and MobileNetV2 */
    size_t batch, input_size;
    int threads;
    ax_isa isa;
} bench_net_options;
typedef struct bench_networks bench_networks;
/* The networks and their cases (exact-s8 added to mults when absent); on
 * failure *out may hold a partial set to free. */
int bench_networks_create(const bench_net_options *o, const bench_mult *mults, int n_mults, bench_networks **out,
                          ax_error *err);
void bench_networks_free(bench_networks *b);
size_t bench_networks_count(const bench_networks *b);
const char *bench_networks_name(const bench_networks *b, size_t i);
/* Registers the cases the filter selects; returns how many. */
size_t bench_networks_register(bench_networks *b, const char *filter, bool real_time);
int bench_networks_verify(bench_networks *b, const char *filter, FILE *err_out);
void bench_networks_context(const bench_networks *b);

/* `bench-approx compare A.json B.json` (compare.c): exit code. */
int bench_compare(int argc, char **argv);

/* A seeded random table: u8 x u8, entries uniform in [0, 65025]. */
ax_mult *bench_random_table(uint64_t seed);
ax_mult *bench_exact_u8s8(void);
uint64_t bench_splitmix(uint64_t *state);

#endif
