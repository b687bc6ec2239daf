/* peer_onednn.c - the `onednn` peer: oneDNN's exact int8 GEMM
 * (dnnl_gemm_u8s8s32, row-major, u8 activations x s8 weights) on the same
 * shape: the exact-arithmetic ceiling every emulation path is held against.
 * For the conv suite, oneDNN's int8 convolution primitive (NHWC, weights
 * reordered once into its layout). Without oneDNN in the build, the peer is
 * simply absent. */
#include "ax_config.h"
#include "bench.h"

#include <stdio.h>

#if AX_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

bool bench_onednn_available(void) { return true; }

int bench_onednn_gemm(size_t M, size_t N, size_t K, const uint8_t *A, const uint8_t *B, int32_t *C,
                      int threads, ax_error *err)
{
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    const int32_t co = 0;
    dnnl_status_t s = dnnl_gemm_u8s8s32('N', 'N', 'F', (dnnl_dim_t)M, (dnnl_dim_t)N, (dnnl_dim_t)K, 1.0f, A,
                                        (dnnl_dim_t)K, 0, (const int8_t *)B, (dnnl_dim_t)N, 0, 0.0f, C,
                                        (dnnl_dim_t)N, &co);
    if (s != dnnl_success) {
        snprintf(err->msg, sizeof err->msg, "dnnl_gemm_u8s8s32 failed (status %d) on M=%zu N=%zu K=%zu", (int)s,
                 M, N, K);
        return -1;
    }
    return 0;
}

int bench_onednn_limit(ax_isa isa)
{
    dnnl_cpu_isa_t max = isa == AX_ISA_AVX2 ? dnnl_cpu_isa_avx2 : isa == AX_ISA_SCALAR ? dnnl_cpu_isa_sse41 : dnnl_cpu_isa_all;
    return max == dnnl_cpu_isa_all || dnnl_set_max_cpu_isa(max) == dnnl_success ? 0 : -1;
}

/* ---- convolution: oneDNN's int8 convolution primitive -------------------- */
struct bench_onednn_conv {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;
};

#define DNNL_TRY(call, what)                                                                        \
    do {                                                                                             \
        dnnl_status_t st_ = (call);                                                                  \
        if (st_ != dnnl_success) {                                                                   \
            snprintf(err->msg, sizeof err->msg, "oneDNN convolution: %s failed (status %d)", what, (int)st_); \
            goto fail;                                                                               \
        }                                                                                            \
    } while (0)

void bench_onednn_conv_free(bench_onednn_conv *c)
{
    if (!c) return;
    if (c->prim) dnnl_primitive_destroy(c->prim);
    if (c->src) dnnl_memory_destroy(c->src);
    if (c->wei) dnnl_memory_destroy(c->wei);
    if (c->dst) dnnl_memory_destroy(c->dst);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->engine) dnnl_engine_destroy(c->engine);
    free(c);
}

/* Weights W are HWIO bytes as ax_conv2d reads them ([kh][kw][in_c/groups][out_c]),
 * described to oneDNN by strides and reordered once into its own layout. */
int bench_onednn_conv_create(const ax_conv2d_shape *s, const uint8_t *W, int threads, bench_onednn_conv **out,
                             ax_error *err)
{
    bench_onednn_conv *c = calloc(1, sizeof *c);
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t user_wei = NULL;
    *out = NULL;
    if (!c) return snprintf(err->msg, sizeof err->msg, "out of memory"), -1;
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    size_t oh, ow;
    if (ax_conv2d_output_size(s, &oh, &ow, err) != 0) goto fail;
    const dnnl_dim_t G = (dnnl_dim_t)s->groups, O = (dnnl_dim_t)s->out_c, I = (dnnl_dim_t)s->in_c;
    const dnnl_dim_t KH = (dnnl_dim_t)s->kernel_h, KW = (dnnl_dim_t)s->kernel_w, Og = O / G, Ig = I / G;
    dnnl_memory_desc_t src_md, dst_md, user_md, any_md;
    dnnl_dims_t src_dims = {(dnnl_dim_t)s->batch, I, (dnnl_dim_t)s->in_h, (dnnl_dim_t)s->in_w};
    dnnl_dims_t dst_dims = {(dnnl_dim_t)s->batch, O, (dnnl_dim_t)oh, (dnnl_dim_t)ow};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_u8, dnnl_nhwc), "source descriptor");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_s32, dnnl_nhwc), "destination descriptor");
    if (G == 1) {
        dnnl_dims_t d = {O, I, KH, KW}, st = {1, O, KW * I * O, I * O};
        DNNL_TRY(dnnl_memory_desc_init_by_strides(&user_md, 4, d, dnnl_s8, st), "weights descriptor");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&any_md, 4, d, dnnl_s8, dnnl_format_tag_any), "weights descriptor");
    } else {
        dnnl_dims_t d = {G, Og, Ig, KH, KW}, st = {Og, 1, O, KW * Ig * O, Ig * O};
        DNNL_TRY(dnnl_memory_desc_init_by_strides(&user_md, 5, d, dnnl_s8, st), "weights descriptor");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&any_md, 5, d, dnnl_s8, dnnl_format_tag_any), "weights descriptor");
    }
    dnnl_dims_t strides = {(dnnl_dim_t)s->stride_h, (dnnl_dim_t)s->stride_w};
    dnnl_dims_t dil = {(dnnl_dim_t)s->dilation_h - 1, (dnnl_dim_t)s->dilation_w - 1};
    dnnl_dims_t pl = {(dnnl_dim_t)s->pad_top, (dnnl_dim_t)s->pad_left};
    dnnl_dims_t pr = {(dnnl_dim_t)s->pad_bottom, (dnnl_dim_t)s->pad_right};
    dnnl_convolution_desc_t cd;
    DNNL_TRY(dnnl_engine_create(&c->engine, dnnl_cpu, 0), "engine");
    DNNL_TRY(dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags), "stream");
    DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                        &src_md, &any_md, NULL, &dst_md, strides, dil, pl, pr),
             "descriptor");
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, NULL, c->engine, NULL), "primitive descriptor");
    const dnnl_memory_desc_t *wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    DNNL_TRY(dnnl_memory_create(&c->src, &src_md, c->engine, DNNL_MEMORY_NONE), "source memory");
    DNNL_TRY(dnnl_memory_create(&c->dst, &dst_md, c->engine, DNNL_MEMORY_NONE), "destination memory");
    DNNL_TRY(dnnl_memory_create(&c->wei, wei_md, c->engine, DNNL_MEMORY_ALLOCATE), "weights memory");
    DNNL_TRY(dnnl_memory_create(&user_wei, &user_md, c->engine, (void *)W), "weights memory");
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, &user_md, c->engine, wei_md, c->engine, NULL), "weights reorder");
    DNNL_TRY(dnnl_primitive_create(&reorder, rpd), "weights reorder");
    dnnl_exec_arg_t rargs[] = {{DNNL_ARG_FROM, user_wei}, {DNNL_ARG_TO, c->wei}};
    DNNL_TRY(dnnl_primitive_execute(reorder, c->stream, 2, rargs), "weights reorder");
    DNNL_TRY(dnnl_stream_wait(c->stream), "weights reorder");
    DNNL_TRY(dnnl_primitive_create(&c->prim, pd), "primitive");
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(user_wei);
    *out = c;
    return 0;
fail:
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (user_wei) dnnl_memory_destroy(user_wei);
    bench_onednn_conv_free(c);
    return -1;
}

int bench_onednn_conv_run(bench_onednn_conv *c, const uint8_t *X, int32_t *Y, int threads, ax_error *err)
{
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    DNNL_TRY(dnnl_memory_set_data_handle(c->src, (void *)X), "source memory");
    DNNL_TRY(dnnl_memory_set_data_handle(c->dst, Y), "destination memory");
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, c->wei}, {DNNL_ARG_DST, c->dst}};
    DNNL_TRY(dnnl_primitive_execute(c->prim, c->stream, 3, args), "execution");
    DNNL_TRY(dnnl_stream_wait(c->stream), "execution");
    return 0;
fail:
    return -1;
}

const char *bench_onednn_isa(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

void bench_onednn_version(char *buf, size_t cap)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, cap, "%d.%d.%d (%.12s)", v->major, v->minor, v->patch, v->hash);
}
#else
bool bench_onednn_available(void) { return false; }
int bench_onednn_gemm(size_t M, size_t N, size_t K, const uint8_t *A, const uint8_t *B, int32_t *C,
                      int threads, ax_error *err)
{
    (void)M, (void)N, (void)K, (void)A, (void)B, (void)C, (void)threads;
    snprintf(err->msg, sizeof err->msg, "oneDNN is not part of this build");
    return -1;
}
int bench_onednn_limit(ax_isa isa) { return (void)isa, 0; }
int bench_onednn_conv_create(const ax_conv2d_shape *s, const uint8_t *W, int threads, bench_onednn_conv **out,
                             ax_error *err)
{
    (void)s, (void)W, (void)threads;
    *out = NULL;
    snprintf(err->msg, sizeof err->msg, "oneDNN is not part of this build");
    return -1;
}
int bench_onednn_conv_run(bench_onednn_conv *c, const uint8_t *X, int32_t *Y, int threads, ax_error *err)
{
    (void)c, (void)X, (void)Y, (void)threads;
    snprintf(err->msg, sizeof err->msg, "oneDNN is not part of this build");
    return -1;
}
void bench_onednn_conv_free(bench_onednn_conv *c) { (void)c; }
const char *bench_onednn_isa(void) { return ""; }
void bench_onednn_version(char *buf, size_t cap) { snprintf(buf, cap, "%s", ""); }
#endif
