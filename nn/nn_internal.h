/* nn_internal.h - the network IR shared by nn/'s files: values (activation
 * tensors, NHWC per image, with optional quantization parameters), nodes
 * (ops after import: BN folded, ReLU/Clip fused into conv/FC layers,
 * Dropout/Identity and Q/DQ pairs absorbed), and the model that owns them.
 * Not installed. */
#ifndef AX_NN_INTERNAL_H
#define AX_NN_INTERNAL_H

#include "autoapprox/gemm.h"
#include "autoapprox/nn.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_MAX_IN 16

typedef enum axnn_op {
    NN_CONV, NN_GEMM, NN_RELU, NN_CLIP, NN_ADD, NN_MUL, NN_CONCAT, NN_MAXPOOL, NN_AVGPOOL, NN_GAP,
    NN_FLATTEN, NN_AFFINE, NN_SOFTMAX
} axnn_op;

typedef enum axnn_act { NN_ACT_NONE, NN_ACT_RELU, NN_ACT_CLIP } axnn_act;

/* Quantization of one tensor: real = scale * (q - zp). */
typedef struct axnn_qp {
    bool set;
    ax_operand type;
    float scale;
    int32_t zp;
} axnn_qp;

typedef struct axnn_value {
    char *name;
    int rank;        /* 4: NCHW in ONNX (stored NHWC); 2: [N, C] */
    size_t c, h, w;  /* per image; rank 2 has h = w = 1 */
    axnn_qp q;
    int producer;    /* node index, -1 for the graph input */
} axnn_value;

/* Quantized weights of a layer: per output channel. */
typedef struct axnn_wq {
    bool set;
    ax_operand type;
    float *scale;
    int32_t *zp;
    uint8_t *q;        /* raw bytes, laid out like the float weights */
    int32_t *bias_q;   /* NULL: quantized from the float bias */
} axnn_wq;

typedef struct axnn_node {
    axnn_op op;
    char *name;        /* ONNX node name, may be "" */
    char *onnx_op;     /* the ONNX op it came from, for messages */
    char *layer;       /* conv/FC: the layer name users see */
    int in[NN_MAX_IN];
    int n_in;
    int out;
    /* conv / gemm (gemm: kh = kw = 1, weight [oc][ic]) */
    size_t oc, ic, kh, kw, groups, sh, sw, dh, dw, pt, pl, pb, pr;
    float *weight, *bias;   /* conv weight [oc][ic/groups][kh][kw] */
    axnn_wq wq;
    axnn_act act;
    float lo, hi;           /* clip bounds (fused or standalone) */
    char *preact;           /* fused layers: the name of the output before act */
    bool ceil_mode, count_include_pad;
    float *cscale, *cbias;  /* affine (BN, Mul/Add by constant): per channel or 1 */
    size_t cn;
    int axis;
} axnn_node;

struct ax_nn_model {
    axnn_value *values;
    size_t n_values, cap_values;
    axnn_node *nodes;
    size_t n_nodes, cap_nodes;
    int input, output;
    char *input_name, *output_name;
    int64_t opset;
    char sha256[65];
    char **meta_key, **meta_val;
    size_t n_meta;
};

/* ---- graph.c ---- */
int axnn_add_value(ax_nn_model *m, const char *name, int rank, size_t c, size_t h, size_t w);
axnn_node *axnn_add_node(ax_nn_model *m, axnn_op op, const char *name, const char *onnx_op);
char *axnn_strdup(const char *s);
size_t axnn_value_size(const axnn_value *v); /* elements per image */
bool axnn_is_layer(const axnn_node *n);
/* MaxPool and Flatten: their output keeps the input's quantization. */
bool axnn_passes_through(const axnn_node *n);
/* Gives pass-through outputs their input's quantization where a QDQ graph
 * left them without (DQ -> Flatten -> Gemm). */
void axnn_propagate_qparams(ax_nn_model *m);
int axnn_set_meta(ax_nn_model *m, const char *key, const char *val);
/* Number of nodes reading value v (graph output counts as one). */
int axnn_consumers(const ax_nn_model *m, int v);
/* "node 'name' (Op)" for messages. */
const char *axnn_node_desc(const axnn_node *n, char *buf, size_t size);

/* ---- ops_float.c: one image batch, NHWC float ---- */
int axnn_float_conv(const axnn_node *n, const axnn_value *x, const axnn_value *y, size_t batch, const float *in, float *out);
void axnn_float_gemm(const axnn_node *n, size_t batch, const float *in, float *out);
void axnn_float_act(const axnn_node *n, float *y, size_t count);
void axnn_float_pool(const axnn_node *n, const axnn_value *x, const axnn_value *y, size_t batch, const float *in, float *out);
void axnn_float_gap(const axnn_value *x, size_t batch, const float *in, float *out);
void axnn_float_flatten(const axnn_value *x, size_t batch, const float *in, float *out);
void axnn_float_affine(const axnn_node *n, const axnn_value *x, size_t batch, const float *in, float *out);
void axnn_bytes_flatten(const axnn_value *x, size_t batch, const uint8_t *in, uint8_t *out);
void axnn_bytes_maxpool(const axnn_node *n, const axnn_value *x, const axnn_value *y, size_t batch, const uint8_t *in,
                        uint8_t *out, int threads);
void axnn_float_softmax(const axnn_value *x, size_t batch, const float *in, float *out);

/* ---- exec.c ---- */
/* Called after each value is computed in float mode (calibration). */
typedef void (*axnn_observe_fn)(int value, const float *data, size_t count, void *ctx);
/* rt NULL: float reference; else the quantized runtime's layers. */
int axnn_execute(const ax_nn_model *m, ax_nn_runtime *rt, size_t batch, const float *input, float *output,
               int threads, axnn_observe_fn obs, void *ctx, ax_error *err);

/* ---- ops_q.c: element-wise ops on quantized values, on bytes (quantized runtime) ---- */
/* Add or Mul of two quantized tensors into a quantized one: what
 * dequantize-op-quantize computes, with the quantization rules of
 * axnn_dequantize_one and axnn_quantize_one (requant.c's axnn_binary). */
typedef struct axnn_binop {
    bool mul;
    ax_operand ta, tb;
    float sa, sb, sy;
    int32_t za, zb, zy, lo, hi; /* lo, hi: the output type's range */
} axnn_binop;
/* A node's op on bytes: ReLU/Clip as a 256-byte table made through the
 * float code, Add/Mul as an axnn_binop. */
typedef struct axnn_qop {
    bool binary;
    axnn_binop bin;
    uint8_t table[256];
    /* An Add or Mul whose bytes only the next node reads, a ReLU/Clip whose
     * table clamps: the binary op clamps to those bounds too and its bytes
     * are the next node's value (next_fused), which that node then takes
     * as computed (by_previous). See axnn_qop_fuse. */
    bool next_fused, by_previous;
} axnn_qop;
/* The node's op on bytes, or NULL when the node is not an element-wise op
 * on quantized values (or out of memory: it then runs in float). */
axnn_qop *axnn_qop_make(const ax_nn_model *m, const axnn_node *n);
void axnn_qop_run(ax_isa isa, const axnn_qop *op, const uint8_t *a, const uint8_t *b, uint8_t *y, size_t count,
                  int threads);
/* Fuses binary ops with the clamping unary op after them in a runtime's
 * per-node ops (qop[i] for node i, NULL where none). */
void axnn_qop_fuse(const ax_nn_model *m, axnn_qop **qop);

/* ---- im2col.c: GEMM rows of a dense conv (HWIO columns), XOR and row sums ---- */
void axnn_im2col_rows(const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X, size_t r0, size_t rows,
                      uint8_t xor_in, uint8_t *dst, int32_t *sums, bool s8);
void axnn_row_sums(const uint8_t *A, size_t lda, size_t K, size_t rows, int32_t *sums, bool s8);

/* ---- requant.c: the quantized runtime's byte loops, per x86 ISA ---- */
/* Each runs the variant of isa (the layer's plan's; AUTO: $AX_ISA or the
 * best), or the best below it this CPU has. */
/* suma[pixel][group]: each output pixel's sum of activation values (a_type)
 * over its receptive field, per group; taps in the padding count za. */
void axnn_conv_suma(ax_isa isa, const ax_conv2d_shape *s, size_t oh, size_t ow, ax_operand a_type, int32_t za,
                    const uint8_t *xa, int32_t *suma);
/* A layer's requantization: y = clamp(zp + round_half_even((float)(acc + corr
 * - zw*sum) * s), lo, hi) per channel, the int32 arithmetic modulo 2^32. */
typedef struct axnn_requant {
    const int32_t *corr, *zw; /* per channel */
    const float *s;           /* per channel; every |s| < 0.25 */
    int32_t zp, lo, hi;
    size_t oc;
} axnn_requant;
/* pixels x oc accumulators to bytes; sum NULL (no zero-point term) or one
 * per pixel (dense layers; depthwise ones take axnn_requantize_dw). */
void axnn_requantize_fast(ax_isa isa, const axnn_requant *r, const int32_t *acc, const int32_t *sum, size_t pixels,
                          uint8_t *y);
/* The same for a block of a dense layer's outputs (ax_gemm_blocks): rows x
 * cols accumulators of channels n0 .. n0 + cols - 1 (row stride lda) into
 * y + n0 (row stride ldy); sum: one per row, or NULL. */
void axnn_requantize_block(ax_isa isa, const axnn_requant *r, size_t n0, size_t cols, const int32_t *acc, size_t lda,
                           const int32_t *sum, size_t rows, uint8_t *y, size_t ldy);

/* Depthwise layers (one output channel per group), output rows [oy0, oy1)
 * of one image (acc and y: row oy0's outputs; xa: the image's input): the
 * zero-point sums (as axnn_conv_suma) and the per-channel requantization
 * fused, pixel by pixel; row: oc int32 of scratch. */
void axnn_requantize_dw(ax_isa isa, const axnn_requant *r, const ax_conv2d_shape *s, size_t oy0, size_t oy1, size_t ow,
                        ax_operand a_type, int32_t za, const uint8_t *xa, const int32_t *acc, int32_t *row, uint8_t *y);
/* n floats to bytes by axnn_quantize_one, and bytes to floats by
 * axnn_dequantize_one (defined below). */
void axnn_quantize_floats(ax_isa isa, const axnn_qp *q, const float *x, size_t n, uint8_t *y);
void axnn_dequantize_bytes(ax_isa isa, const axnn_qp *q, const uint8_t *x, size_t n, float *y);
/* y[i] = t[a[i]] for a 256-byte table t (ops_q.c's ReLU and Clip). */
void axnn_lookup256(ax_isa isa, const uint8_t *t, const uint8_t *a, size_t n, uint8_t *y);
/* y[i] = quantize(dequantize(a[i]) + or * dequantize(b[i])), bit for bit
 * the float code's (ops_q.c's Add and Mul). */
void axnn_binary(ax_isa isa, const axnn_binop *op, const uint8_t *a, const uint8_t *b, size_t n, uint8_t *y);
/* The same per ISA (tests drive each): NULL when this build or CPU lacks
 * the ISA (avx512: F, BW, VL and VBMI, as the kernels). The functions above
 * run the best one. */
typedef struct axnn_epilogue {
    ax_isa isa;
    void (*conv_suma)(const ax_conv2d_shape *s, size_t oh, size_t ow, ax_operand a_type, int32_t za,
                      const uint8_t *xa, int32_t *suma);
    /* lda, ldy: the row strides of acc and y; sum_per_channel: sums per pixel
     * and channel, the form requantize_dw uses per pixel */
    void (*requantize)(const axnn_requant *r, const int32_t *acc, size_t lda, const int32_t *sum,
                       bool sum_per_channel, size_t pixels, uint8_t *y, size_t ldy);
    void (*requantize_dw)(const axnn_requant *r, const ax_conv2d_shape *s, size_t oy0, size_t oy1, size_t ow,
                          ax_operand a_type,
                          int32_t za, const uint8_t *xa, const int32_t *acc, int32_t *row, uint8_t *y);
    void (*quantize)(const axnn_qp *q, const float *x, size_t n, uint8_t *y);
    void (*dequantize)(const axnn_qp *q, const uint8_t *x, size_t n, float *y);
    void (*lookup256)(const uint8_t *t, const uint8_t *a, size_t n, uint8_t *y);
    void (*binary)(const axnn_binop *op, const uint8_t *a, const uint8_t *b, size_t n, uint8_t *y);
} axnn_epilogue;
const axnn_epilogue *axnn_epilogue_for(ax_isa isa);

/* ---- pool.c: activation buffers reused between runs (NULL pool: malloc/free) ---- */
typedef struct axnn_pool {
    void **free;
    size_t n, cap;
} axnn_pool;
void *axnn_pool_alloc(axnn_pool *p, size_t bytes);
void axnn_pool_give(axnn_pool *p, void *ptr); /* ptr from axnn_pool_alloc (any pool) */
void axnn_pool_free(axnn_pool *p);
/* 64-byte aligned; large ones on huge pages where the OS has them. Freed
 * with the size they were allocated with. */
void *axnn_big_alloc(size_t bytes);
void axnn_big_free(void *p, size_t bytes);

/* ---- profile.c: AX_NN_PROFILE=1 prints per-node times of each quantized run ---- */
double axnn_now(void);
bool axnn_profile_wanted(void);
void axnn_profile_print(const ax_nn_model *m, size_t batch, const double *t, const double *kernel, double total);

/* ---- layer_q.c: one conv/FC layer through the kernels ---- */
typedef struct axnn_layer_rt axnn_layer_rt;
/* A layer's operand mapping folded into its table: F[x][v] = T[x ^ a_xor]
 * [v ^ w_xor] - zw * a, a the value of x ^ a_xor in the multiplier's
 * activation type. Indexed by the tensors' own bytes, F's sums are T's less
 * the weights' zero-point term zw * sum a (the same bits modulo 2^32), so a
 * layer on F needs neither the XOR copy of its input nor the activation
 * sums per output pixel. (The weights' XOR goes in too so that F's types
 * are the tensors': a per-weight linear base c_v * x, whose slope is a
 * weight of F's type, still fits, e.g. (w - 128) for a u8 table under s8
 * weights.) */
typedef struct axnn_fold {
    uint8_t a_xor, w_xor;
    int32_t zw;
} axnn_fold;
/* The fold a layer would take on mult: false when there is nothing to fold
 * or its weights' zero points differ between channels. */
bool axnn_layer_fold(const ax_nn_model *m, const axnn_node *n, const ax_mult *mult, axnn_fold *out);
/* F as a multiplier of the tensors' operand types; NULL when out of memory
 * or an entry leaves int32. */
ax_mult *axnn_fold_table(const ax_mult *mult, axnn_fold f);
/* plan: mult's, or with fold non-NULL the plan of axnn_fold_table(mult, *fold). */
int axnn_layer_prepare(const ax_nn_model *m, const axnn_node *n, const ax_mult *mult, const ax_gemm_plan *plan,
                       const axnn_fold *fold, axnn_layer_rt **out, char *warning, ax_error *err);
/* Whether the layer runs on a folded table (tests). */
bool axnn_layer_folded(const axnn_layer_rt *l);
void axnn_layer_free(axnn_layer_rt *l);
/* xq: input bytes as stored (the value's type); yq when the output is
 * quantized, else yf (dequantized float). */
/* Per-thread scratch a runtime keeps between runs (one batch at a time). */
typedef struct axnn_scratch {
    size_t n;
    void **p;
    size_t *cap;
} axnn_scratch;
int axnn_scratch_reserve(axnn_scratch *s, size_t slots);     /* before a parallel region */
void *axnn_scratch_get(axnn_scratch *s, size_t slot, size_t bytes);
void axnn_scratch_free(axnn_scratch *s);
int axnn_layer_run(axnn_layer_rt *l, size_t batch, const uint8_t *xq, uint8_t *yq, float *yf, int threads,
                   axnn_scratch *sc, ax_error *err);
/* Wall time the last run spent inside the kernels (ax_gemm, ax_conv2d). */
double axnn_layer_kernel_seconds(const axnn_layer_rt *l);
/* the kernel the layer runs: its convolution's (ax_conv2d_kernel_name: a
 * grouped, depthwise or oneDNN one where it runs one), else its plan's */
const char *axnn_layer_kernel_name(const axnn_layer_rt *l);
const axnn_layer_rt *axnn_runtime_layer(const ax_nn_runtime *rt, size_t layer);

/* ---- quant.c ---- */
/* Inline: they run once per tensor element. */
static inline float axnn_round_half_even(float x)
{
    return rintf(x); /* the default rounding mode rounds half to even */
}
static inline int32_t axnn_qmin(ax_operand t)
{
    return t == AX_S8 ? -128 : 0;
}
static inline int32_t axnn_qmax(ax_operand t)
{
    return t == AX_S8 ? 127 : 255;
}
/* saturate(zp + v) for an already rounded float v, as a raw byte. */
static inline uint8_t axnn_saturate(float v, int32_t zp, int32_t lo, int32_t hi)
{
    if (!(v > -1e9f)) v = -1e9f; /* NaN and -inf go low */
    if (v > 1e9f) v = 1e9f;
    int32_t q = (int32_t)v + zp;
    return (uint8_t)(q < lo ? lo : q > hi ? hi : q);
}
static inline uint8_t axnn_quantize_one(const axnn_qp *q, float x)
{
    return axnn_saturate(axnn_round_half_even(x / q->scale), q->zp, axnn_qmin(q->type), axnn_qmax(q->type));
}
static inline float axnn_dequantize_one(const axnn_qp *q, uint8_t b)
{
    return q->scale * (float)(ax_operand_value(q->type, b) - q->zp);
}
/* A layer's int32 bias for output channel o: given, or round(bias / (x_scale * w_scale[o])). */
int32_t axnn_bias_q(const axnn_node *n, float x_scale, size_t o);

#endif
