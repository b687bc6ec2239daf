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

#ifdef __cplusplus
}
#endif
#endif
