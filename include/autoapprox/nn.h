/* nn.h - quantized networks: the public API of nn/.
 *
 * A model comes from ONNX (float, as PyTorch exports it, or QDQ) into an IR
 * of conv/FC layers and the ops between them. Post-training quantization
 * annotates every activation tensor with (scale, zero point, s8|u8) and
 * every layer with per-channel int8 weights; the result saves as a QDQ ONNX
 * model. A runtime executes the quantized network with one multiplier per
 * conv/FC layer through the kernels of gemm.h, requantizing as
 *   q = saturate(zp_out + round_half_even((float)acc * s)),
 *   s = (x_scale * w_scale[c]) / y_scale   (float32),
 * and returns the logits as dequantized floats (never int8).
 *
 * Tensors crossing this API are float, NHWC per image ([batch][h][w][c]). */
#ifndef AUTOAPPROX_NN_H
#define AUTOAPPROX_NN_H

#include "autoapprox/gemm.h"
#include "autoapprox/mult.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_nn_model ax_nn_model;

/* ---- ONNX in and out ---------------------------------------------------- */
#define AX_NN_MAX_FILE ((size_t)1 << 31)
int ax_nn_load_onnx(const char *path, ax_nn_model **out, ax_error *err);
/* The same on memory; `what` names the input in errors. */
int ax_nn_decode_onnx(const uint8_t *buf, size_t len, const char *what, ax_nn_model **out, ax_error *err);
/* Writes the model as ONNX (QDQ when quantized), whole or not at all. */
int ax_nn_save_onnx(const ax_nn_model *m, const char *path, ax_error *err);
void ax_nn_free(ax_nn_model *m);

/* ---- built-in networks (nn/build.c) ------------------------------------- */
/* torchvision's ResNet-50 (v1.5) and MobileNetV2 (1.0) graphs, as exported
 * (residual Adds, depthwise convs, GAP, Flatten, FC to 1000 classes; layers
 * named by module path: "layer1.0.conv2", "features.2.conv.1.0", "fc"), on
 * size x size x 3 inputs (224: the real networks; any multiple of 32 for
 * quick tests), already quantized (s8 activations, per-channel s8 weights)
 * with fixed pseudo-random weights drawn from seed: for measuring and testing
 * the runtime, not for accuracy. */
int ax_nn_build_resnet50(size_t size, uint64_t seed, ax_nn_model **out, ax_error *err);
int ax_nn_build_mobilenet_v2(size_t size, uint64_t seed, ax_nn_model **out, ax_error *err);

/* ---- what the model is -------------------------------------------------- */
const char *ax_nn_sha256(const ax_nn_model *m);   /* of the bytes it was read from */
bool ax_nn_is_quantized(const ax_nn_model *m);
void ax_nn_input_shape(const ax_nn_model *m, size_t *h, size_t *w, size_t *c);
size_t ax_nn_output_size(const ax_nn_model *m);   /* classes */
/* metadata_props: NULL when absent. set: copies both strings. */
const char *ax_nn_meta(const ax_nn_model *m, const char *key);
int ax_nn_set_meta(ax_nn_model *m, const char *key, const char *val, ax_error *err);

/* Input preprocessing recorded in metadata (autoapprox.input.scale, .mean,
 * .std): x = (pixel * scale - mean) / std. Defaults 1/255, 0, 1. */
typedef struct ax_nn_preprocess {
    float scale, mean, std;
    bool from_metadata;
} ax_nn_preprocess;
void ax_nn_preprocess_get(const ax_nn_model *m, ax_nn_preprocess *p);
void ax_nn_preprocess_apply(const ax_nn_preprocess *p, const uint8_t *pixels, size_t n, float *out);

/* ---- layers (conv/FC, in execution order) ---------------------------------- */
typedef struct ax_nn_layer_info {
    const char *name;      /* Conv/Gemm/MatMul node name, else its first output */
    const char *op;        /* "Conv", "Gemm", "MatMul" */
    size_t macs;           /* multiply-accumulates per image */
    size_t k, n, groups;   /* products per output, output channels */
    /* Shape for the systolic mapping (ppa/): input per image (unpadded),
     * output pixels per image (M = out_h * out_w), kernel, stride, total
     * padding per dimension and dilation. FC layers: 1 x 1 everywhere,
     * in_c = K inputs. */
    size_t in_h, in_w, in_c, out_h, out_w;
    size_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
} ax_nn_layer_info;
size_t ax_nn_layer_count(const ax_nn_model *m);
void ax_nn_layer_get(const ax_nn_model *m, size_t i, ax_nn_layer_info *out);
int ax_nn_layer_find(const ax_nn_model *m, const char *name); /* index or -1 */

/* ---- float reference execution --------------------------------------------- */
/* output: batch x ax_nn_output_size floats. Ignores quantization. */
int ax_nn_run_float(const ax_nn_model *m, size_t batch, const float *input, float *output, ax_error *err);

/* ---- post-training quantization -------------------------------------------- */
typedef enum ax_calib_method { AX_CALIB_MINMAX = 0, AX_CALIB_PERCENTILE } ax_calib_method;
typedef struct ax_nn_quant_options {
    ax_calib_method method;
    double percentile;  /* e.g. 99.99 for AX_CALIB_PERCENTILE */
    ax_operand act;     /* s8: symmetric, zero point 0; u8: asymmetric */
    ax_operand wgt;     /* s8: symmetric per channel; u8: asymmetric per channel */
} ax_nn_quant_options;
void ax_nn_quant_options_init(ax_nn_quant_options *o); /* minmax, s8, s8 */
/* Calibrates activation ranges on n images (NHWC float, preprocessed) and
 * quantizes the weights. Replaces any earlier quantization. Records the
 * settings in metadata (autoapprox.calibration). */
int ax_nn_quantize(ax_nn_model *m, const ax_nn_quant_options *o, size_t n, const float *images, ax_error *err);
/* The same from raw u8 images (NHWC), preprocessed as the model's metadata says. */
int ax_nn_quantize_pixels(ax_nn_model *m, const ax_nn_quant_options *o, size_t n, const uint8_t *pixels,
                          ax_error *err);
#define AX_NN_DEFAULT_CALIB_IMAGES 1000

/* ---- quantized execution ------------------------------------------------------ */
typedef struct ax_nn_runtime ax_nn_runtime;
#define AX_NN_MAX_WARNINGS 16
/* mults: one multiplier per layer (ax_nn_layer_count entries, may repeat);
 * they must outlive the runtime. The model must be quantized. */
int ax_nn_runtime_create(const ax_nn_model *m, const ax_mult *const *mults, ax_nn_runtime **out, ax_error *err);
/* The same with every layer's plan on one ISA and path (AUTO: as above);
 * e.g. AX_ISA_SCALAR, AX_PATH_LUT for the scalar reference. */
int ax_nn_runtime_create_on(const ax_nn_model *m, const ax_mult *const *mults, ax_isa isa, ax_path path,
                            ax_nn_runtime **out, ax_error *err);
void ax_nn_runtime_free(ax_nn_runtime *rt);
/* What the runtime noticed but accepted (non-zero zero points fed to an
 * approximate multiplier): one line each. */
size_t ax_nn_runtime_warning_count(const ax_nn_runtime *rt);
const char *ax_nn_runtime_warning(const ax_nn_runtime *rt, size_t i);
/* The microkernel a layer runs: its convolution's own where it has one
 * (a grouped or depthwise kernel, oneDNN's convolution), else its plan's */
const char *ax_nn_runtime_kernel(const ax_nn_runtime *rt, size_t layer);
const char *ax_nn_runtime_isa(const ax_nn_runtime *rt);
const ax_nn_model *ax_nn_runtime_model(const ax_nn_runtime *rt); /* the model it runs */
/* output: batch x ax_nn_output_size dequantized floats. threads <= 0: default. */
int ax_nn_runtime_run(ax_nn_runtime *rt, size_t batch, const float *input, float *output, int threads,
                      ax_error *err);

/* ---- partial runs (the router's sensitivity pass) ---------------------------------- */
/* A snapshot holds the tensors live just before conv/FC layer `layer` of a
 * run of rt, so the suffix of the network can run again from there with a
 * different multiplier on that layer, without recomputing the prefix. */
typedef struct ax_nn_snapshot ax_nn_snapshot;
int ax_nn_snapshot_take(ax_nn_runtime *rt, size_t batch, const float *input, size_t layer, int threads,
                        ax_nn_snapshot **out, ax_error *err);
/* Runs the snapshot's layer and what follows it up to the next layer with rt:
 * the snapshot moves to the next layer (after the last one: to the end, and
 * no further). layer_out (may be NULL): the layer's output, as in
 * ax_nn_run_from. */
int ax_nn_snapshot_advance(ax_nn_snapshot *s, ax_nn_runtime *rt, float *layer_out, int threads, ax_error *err);
int ax_nn_snapshot_copy(const ax_nn_snapshot *s, ax_nn_snapshot **out, ax_error *err);
size_t ax_nn_snapshot_layer(const ax_nn_snapshot *s);
size_t ax_nn_snapshot_batch(const ax_nn_snapshot *s);
void ax_nn_snapshot_free(ax_nn_snapshot *s);
/* Runs the rest of the network from s (left unchanged) with rt's
 * multipliers, except layer `layer` (>= the snapshot's), which runs with
 * `with`'s (a runtime of the same model; NULL: rt's). output: batch x
 * ax_nn_output_size logits, or NULL to stop after that layer; layer_out (may
 * be NULL): that layer's output, batch x ax_nn_layer_output_size dequantized
 * floats. */
int ax_nn_run_from(const ax_nn_snapshot *s, ax_nn_runtime *rt, size_t layer, ax_nn_runtime *with, float *output,
                   float *layer_out, int threads, ax_error *err);
size_t ax_nn_layer_output_size(const ax_nn_model *m, size_t layer); /* elements per image */

/* ---- scoring --------------------------------------------------------------------- */
/* Rank of `label` among n scores: how many classes come before it, ties
 * broken toward the lower class index. top-1 is rank 0, top-5 rank < 5. */
size_t ax_nn_rank(const float *scores, size_t n, size_t label);

#ifdef __cplusplus
}
#endif
#endif
