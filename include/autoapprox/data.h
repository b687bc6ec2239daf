/* data.h - datasets for evaluation and calibration: the public API of data/.
 *
 * IDX files (MNIST, Fashion-MNIST): a folder holding
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. Images are u8 pixels,
 * row-major, one after another. */
#ifndef AUTOAPPROX_DATA_H
#define AUTOAPPROX_DATA_H

#include "autoapprox/mult.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AX_IDX_MAX_DIMS 4
#define AX_IDX_MAX_BYTES ((size_t)1 << 31) /* larger files are refused */

/* One parsed IDX file of unsigned bytes (type 0x08). */
typedef struct ax_idx {
    int ndims;
    size_t dims[AX_IDX_MAX_DIMS];
    size_t count;        /* dims[0] */
    size_t item_size;    /* product of dims[1..] (1 for labels) */
    uint8_t *data;       /* count * item_size bytes */
} ax_idx;

/* Parses an IDX buffer (already decompressed); `what` names it in errors.
 * Rejects bad magic, non-u8 types, zero or > 4 dims, size overflow, and a
 * length that is not exactly header + data. */
int ax_idx_parse(const uint8_t *buf, size_t len, const char *what, ax_idx *out, ax_error *err);
/* Reads a file, gunzipping it when it starts with the gzip magic. */
int ax_idx_load(const char *path, ax_idx *out, ax_error *err);
void ax_idx_free(ax_idx *idx);

/* An image-classification split: images (count x h x w x c u8) and labels. */
typedef struct ax_dataset {
    size_t count, height, width, channels;
    uint8_t *images;
    uint8_t *labels;
    size_t num_classes;  /* max label + 1 */
    char source[512];    /* the images file actually read */
} ax_dataset;

/* split: "test" (t10k-*) or "train" (train-*); each file found as NAME or
 * NAME.gz in dir. Errors name the folder and the file. */
int ax_dataset_load_idx(const char *dir, const char *split, ax_dataset *out, ax_error *err);
void ax_dataset_free(ax_dataset *d);
size_t ax_dataset_image_size(const ax_dataset *d);

/* ---- preprocessing of photographs ---------------------------------------
 * What a model expects of its input, applied to 8-bit pixels:
 *   resize: 0 = none, else the shorter side becomes `resize` with Pillow's
 *           antialiased fixed-point bilinear resampling (long side
 *           int(resize * long / short)), as torchvision.transforms.Resize;
 *   crop:   0 = none, else a centered crop x crop, torchvision's offsets;
 *   x = (pixel / divisor - mean[c]) / std[c]  in float32, as ToTensor then
 *           Normalize compute it (1-channel data uses mean[0], std[0]). */
typedef struct ax_preprocess_spec {
    uint32_t resize, crop;
    float divisor;
    float mean[3], std[3];
} ax_preprocess_spec;
void ax_preprocess_imagenet(ax_preprocess_spec *p); /* 256, 224, 255, ImageNet mean/std */
void ax_preprocess_none(ax_preprocess_spec *p);     /* 0, 0, 255, mean 0, std 1 */
/* "imagenet" | "none"; -1 for anything else. */
int ax_preprocess_parse(const char *name, ax_preprocess_spec *p);

/* ---- image sources: what eval, quantize and `data export` read ------------
 * One interface over an IDX folder and folders of JPEGs:
 *  - IDX: {t10k,train}-{images-idx3,labels-idx1}-ubyte[.gz]; `split` chooses;
 *  - ImageFolder: one sub-folder of JPEGs per class, class index = position
 *    of the folder name in sorted order (torchvision's ImageFolder); items in
 *    dataset order = sorted class folders, sorted file names within;
 *  - flat folder of JPEGs + `labels` file: CSV `file,label` (label an index
 *    or a synset), or one synset/index per line in sorted-file-name order
 *    (ILSVRC ground truth) with `synsets` (one "nXXXXXXXX description" line
 *    per class, class index = line number) mapping synsets to indices.
 * Photographs are decoded to RGB (grayscale and CMYK converted as Pillow's
 * convert('RGB') does) and preprocessed by `pp`; IDX pixels get only the
 * divisor/mean/std part of `pp` (their size is the model's). */
typedef struct ax_source ax_source;
typedef struct ax_source_options {
    const char *split;    /* IDX only: "test" (default) or "train" */
    const char *labels;   /* flat JPEG folder: labels file */
    const char *synsets;  /* flat JPEG folder with synset labels: mapping file */
    ax_preprocess_spec pp;
} ax_source_options;
void ax_source_options_init(ax_source_options *o); /* split "test", pp none */
#define AX_SOURCE_BAD_ITEM 2 /* ax_source_load: this one image is unreadable */

int ax_source_open(const char *path, const ax_source_options *o, ax_source **out, ax_error *err);
void ax_source_close(ax_source *s);
const char *ax_source_kind(const ax_source *s);   /* "idx", "imagefolder", "flat" */
size_t ax_source_count(const ax_source *s);
size_t ax_source_num_classes(const ax_source *s);
/* Shape of one preprocessed item, NHWC per image (c = 3 for photographs). */
void ax_source_shape(const ax_source *s, size_t *h, size_t *w, size_t *c);
size_t ax_source_label(const ax_source *s, size_t i);
const char *ax_source_item_name(const ax_source *s, size_t i); /* file path, or "idx:<i>" */
/* sha256 hex of the listing (item names, sizes, mtimes, labels) and of the
 * preprocessing parameters: the key of a preprocessed cache. */
const char *ax_source_key(const ax_source *s);
/* Loads item i preprocessed into out (h*w*c floats, NHWC). Returns 0;
 * AX_SOURCE_BAD_ITEM when this image alone cannot be decoded (err names the
 * file and the problem; callers report, skip and count it); -1 on anything
 * else. Safe to call from several threads at once for different i. */
int ax_source_load(const ax_source *s, size_t i, float *out, ax_error *err);
/* The same without the float stage: the resized, cropped RGB (or IDX)
 * bytes, h*w*c. For caches and for tests against Pillow. */
int ax_source_load_u8(const ax_source *s, size_t i, uint8_t *out, ax_error *err);

#ifdef __cplusplus
}
#endif
#endif
