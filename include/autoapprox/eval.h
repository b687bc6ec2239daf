/* eval.h - evaluation of a quantized network over an image source: the
 * public API of eval/, the layer above nn/ and data/ (it uses both; `eval`,
 * `quantize` and the router call it).
 *
 * ax_eval_run runs a runtime over items [first, first+count) of a source:
 * loader threads read and preprocess the next batch while the calling thread
 * computes the current one; an optional cache keeps the preprocessed bytes
 * of every item (keyed by the source's key), an optional checkpoint lets a
 * killed run resume where it stopped with identical results; an unreadable
 * item is skipped and reported, never fatal. docs/eval.md has the details. */
#ifndef AUTOAPPROX_EVAL_H
#define AUTOAPPROX_EVAL_H

#include "autoapprox/data.h"
#include "autoapprox/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- preprocessing recorded in a model ----------------------------------
 * metadata_props autoapprox.input.resize, .crop, .divisor, .mean, .std (mean
 * and std: one value, or three comma-separated per-channel values), plus
 * .scale = 1/divisor for older readers. A model carrying only the older
 * .scale/.mean/.std gets divisor = 1/scale, no resize, no crop.
 * Returns true when the model records its preprocessing (p filled), false
 * otherwise (p = ax_preprocess_none). */
bool ax_eval_preprocess_from_model(const ax_nn_model *m, ax_preprocess_spec *p);
int ax_eval_preprocess_record(ax_nn_model *m, const ax_preprocess_spec *p, ax_error *err);
/* One line: "resize 256, crop 224, /255, mean 0.485,0.456,0.406, std ...". */
void ax_eval_preprocess_describe(const ax_preprocess_spec *p, char *out, size_t size);
/* The float stage of data.h on 8-bit pixels (n bytes, c channels, NHWC):
 * out = (px / divisor - mean[k % c]) / std[k % c] in float32. */
void ax_eval_float_stage(const ax_preprocess_spec *p, const uint8_t *px, size_t n, size_t c, float *out);

/* Calibration input: the first n readable items of src (unreadable ones are
 * passed over, counted in *skipped, the first named in skip_note), through
 * the float stage of pp (what src was opened with), into out (n items);
 * *got = items loaded (< n when the source runs out). */
int ax_eval_load_items(const ax_source *src, const ax_preprocess_spec *pp, size_t n, float *out, size_t *got,
                       size_t *skipped, ax_error *skip_note, ax_error *err);

/* sha256 hex of what decides a network's per-image outputs: the model's
 * sha256, its calibration and quantization metadata, and the sha256 of the
 * table of every layer's multiplier. The checkpoint is keyed by it. */
void ax_eval_identity(const ax_nn_model *m, const ax_mult *const *layer_mults, char out[65]);

/* ---- the run -------------------------------------------------------------- */
#define AX_EVAL_SKIPPED UINT32_MAX /* rank of an item that could not be read */

typedef struct ax_eval_options {
    ax_preprocess_spec pp; /* what the source was opened with (its float stage) */
    size_t batch;          /* images per runtime call; 0: 256 */
    int threads;           /* kernel threads; <= 0: OpenMP's default */
    int loaders;           /* loader threads; <= 0: one per online CPU (at most 8) */
    bool keep_logits;      /* fill ax_eval_result.logits */
    const char *cache_dir; /* preprocessed-item cache folder, or NULL */
    const char *checkpoint; /* checkpoint file, or NULL; needs identity */
    const char *identity;  /* ax_eval_identity of the runtime's model and multipliers */
    void (*warn)(void *ctx, const char *line);                  /* may be NULL */
    void (*progress)(void *ctx, size_t done, size_t total);     /* may be NULL */
    void *ctx;
} ax_eval_options;
void ax_eval_options_init(ax_eval_options *o);

typedef struct ax_eval_skip {
    size_t item;          /* index in the source */
    char *name;           /* ax_source_item_name */
    char *why;            /* the loader's error line */
} ax_eval_skip;

typedef struct ax_eval_result {
    size_t count, classes;     /* items asked for; logits per item */
    size_t images;             /* items evaluated (count - skipped) */
    size_t top1, top5;
    uint32_t *rank;            /* count: rank of the label, AX_EVAL_SKIPPED */
    float *logits;             /* count x classes (keep_logits); NaN rows for skipped items */
    ax_eval_skip *skipped;     /* in item order */
    size_t n_skipped;
    /* How the run went (differ between runs; everything above does not): */
    double seconds;            /* wall time of this call */
    double load_seconds;       /* loader threads' busy time, summed */
    double compute_seconds;    /* time inside ax_nn_runtime_run */
    double wait_seconds;       /* time the compute thread waited for loaders */
    size_t loaders;
    size_t loaded, decoded, cache_hits; /* items loaded; of those from the source / the cache */
    size_t resumed;            /* items restored from a checkpoint */
    size_t computed;           /* images run through the network by this call */
} ax_eval_result;

/* Evaluates rt over items [first, first+count) of src. Returns 0 with r
 * filled (free with ax_eval_result_free), -1 with err on a failure that is
 * not one item's (the runtime failed, the source failed as a whole, out of
 * memory, an unusable checkpoint path). Cache problems are warnings. */
int ax_eval_run(ax_nn_runtime *rt, const ax_source *src, size_t first, size_t count, const ax_eval_options *o,
                ax_eval_result *r, ax_error *err);
void ax_eval_result_free(ax_eval_result *r);

#ifdef __cplusplus
}
#endif
#endif
