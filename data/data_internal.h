/* data_internal.h - what the files of data/ share behind ax_source: JPEG
 * decoding, Pillow's resampling, the preprocessing stages, and the folder
 * listing with its labels parsers. Not installed; tests and fuzz targets
 * include it to check each stage alone. */
#ifndef AX_DATA_INTERNAL_H
#define AX_DATA_INTERNAL_H

#include "autoapprox/data.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- jpeg_decode.c ---- */
/* Decodes a JPEG to 8-bit RGB (w*h*3, malloc'ed) exactly as Pillow's
 * Image.open(f).convert('RGB') does with the same libjpeg-turbo: grayscale
 * replicated, CMYK/YCCK read as Adobe-inverted CMYK then Pillow's cmyk2rgb.
 * `what` names the file in errors. Returns 0, or -1 with err set. */
int ax_jpeg_decode_rgb(const uint8_t *buf, size_t len, const char *what, uint8_t **rgb, int *w, int *h,
                       ax_error *err);
/* Width and height from the JPEG header alone. */
int ax_jpeg_size(const uint8_t *buf, size_t len, const char *what, int *w, int *h, ax_error *err);
/* Pillow's CMYK -> RGB of convert('RGB') on n pixels (in: 4 bytes each, as
 * Pillow holds them after its "CMYK;I" unpacking; out: 3 bytes each). */
void ax_cmyk_to_rgb_pillow(const uint8_t *cmyk, uint8_t *rgb, size_t n);

/* ---- resize_pillow.c ---- */
/* Pillow's Image.resize((ow, oh), BILINEAR) of an 8-bit image with c
 * channels (interleaved): antialiased, fixed-point, horizontal pass first.
 * Returns 0, -1 when out of memory. */
int ax_resize_bilinear_pillow(const uint8_t *in, int w, int h, int c, uint8_t *out, int ow, int oh);
/* The same, only the window [x0, x0 + cw) x [y0, y0 + ch) of the ow x oh
 * result, into out (cw*ch*c): the bytes the full resize has there. */
int ax_resize_bilinear_pillow_window(const uint8_t *in, int w, int h, int c, int ow, int oh, int x0, int y0,
                                     int cw, int ch, uint8_t *out);

/* ---- preprocess.c ---- */
/* Size after Resize(pp->resize) (torchvision's rule), then after the crop. */
void ax_preprocess_resized_size(const ax_preprocess_spec *pp, int w, int h, int *rw, int *rh);
void ax_preprocess_out_size(const ax_preprocess_spec *pp, int w, int h, int *ow, int *oh);
/* Resize then center crop (torchvision's offsets, zero padding when the crop
 * is larger), c channels; out holds ow*oh*c. Returns 0, -1 out of memory. */
int ax_preprocess_u8(const ax_preprocess_spec *pp, const uint8_t *in, int w, int h, int c, uint8_t *out);
/* ToTensor then Normalize on n pixels of c interleaved channels (NHWC). */
void ax_preprocess_float(const ax_preprocess_spec *pp, const uint8_t *in, size_t n, int c, float *out);

/* ---- listing.c ---- */
/* torchvision's IMG_EXTENSIONS test, case-insensitive. */
bool ax_listing_is_image(const char *name);
bool ax_listing_is_jpeg_name(const char *name);
typedef struct ax_listing {
    size_t count, cap;
    char **paths;      /* dir/.../file */
    size_t *labels;
    size_t num_classes;
} ax_listing;
void ax_listing_free(ax_listing *l);
/* ImageFolder: class folders sorted, files (walked recursively, as
 * torchvision's os.walk) sorted within; errors for no class folders and for
 * a class folder without images. */
int ax_listing_imagefolder(const char *dir, ax_listing *out, ax_error *err);
/* The sorted image files of a folder (no labels yet). */
int ax_listing_flat(const char *dir, ax_listing *out, ax_error *err);

/* Synset mapping: one "nXXXXXXXX [description]" per non-empty line; class
 * index = position. `what` names the file. */
typedef struct ax_synsets {
    size_t count;
    char (*wnid)[16];  /* in file order: wnid[i] is class i */
    size_t *order;     /* indices sorted by wnid, for lookups */
} ax_synsets;
int ax_synsets_parse(const char *text, size_t len, const char *what, ax_synsets *out, ax_error *err);
void ax_synsets_free(ax_synsets *s);
/* Class index of a label token: a decimal index (< syn->count when syn is
 * given), or a synset found in syn. -1 with err naming what/line otherwise. */
long ax_label_value(const char *tok, const ax_synsets *syn, const char *what, size_t line, ax_error *err);
/* Labels file: either one label per line (sorted-file order), or lines
 * "name,label" / "name label" (CSV with an optional header; the label is the
 * first token of the second field; name with or without extension).
 * Assigns labels to every item of l (names matched against the base names of
 * l->paths); any mismatch is an error naming the file. */
int ax_labels_apply(const char *text, size_t len, const char *what, const ax_synsets *syn, ax_listing *l,
                    ax_error *err);

#endif
