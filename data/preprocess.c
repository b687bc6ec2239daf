/* preprocess.c - torchvision's evaluation transform on 8-bit pixels:
 * Resize(resize) (shorter side; long side int(resize * long / short)),
 * CenterCrop(crop) (offsets int(round((size - crop) / 2.0)), Python's round
 * half to even; zero padding when the crop is larger), then ToTensor
 * (float32 pixel / 255) and Normalize ((x - mean) / std in float32). */
#include "data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ax_preprocess_imagenet(ax_preprocess_spec *p)
{
    *p = (ax_preprocess_spec){.resize = 256, .crop = 224, .divisor = 255.0f,
                              .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
}

void ax_preprocess_none(ax_preprocess_spec *p)
{
    *p = (ax_preprocess_spec){.resize = 0, .crop = 0, .divisor = 255.0f,
                              .mean = {0.0f, 0.0f, 0.0f}, .std = {1.0f, 1.0f, 1.0f}};
}

int ax_preprocess_parse(const char *name, ax_preprocess_spec *p)
{
    if (!strcmp(name, "imagenet")) ax_preprocess_imagenet(p);
    else if (!strcmp(name, "none")) ax_preprocess_none(p);
    else return -1;
    return 0;
}

void ax_preprocess_resized_size(const ax_preprocess_spec *pp, int w, int h, int *rw, int *rh)
{
    *rw = w, *rh = h;
    if (!pp->resize) return;
    int s = w <= h ? w : h, l = w <= h ? h : w;
    /* Python: int(size * long / short), a correctly rounded double quotient. */
    int nl = (int)((double)((long long)pp->resize * l) / (double)s);
    if (w <= h) *rw = (int)pp->resize, *rh = nl;
    else *rw = nl, *rh = (int)pp->resize;
}

void ax_preprocess_out_size(const ax_preprocess_spec *pp, int w, int h, int *ow, int *oh)
{
    ax_preprocess_resized_size(pp, w, h, ow, oh);
    if (pp->crop) *ow = *oh = (int)pp->crop;
}

/* int(round(x / 2.0)) for integer x >= 0: halves go to the even neighbour. */
static int half_offset(int x)
{
    return (int)nearbyint(x / 2.0);
}

/* torchvision.center_crop: pad (left = (c - s) // 2, right the rest) when
 * the crop is larger, then cut at the rounded offset. One axis at a time:
 * returns the source index of output index i, or -1 for padding. */
static int crop_map(int size, int crop, int i)
{
    int pad_lo = 0;
    if (crop > size) {
        pad_lo = (crop - size) / 2;
        size = crop; /* padded; the offset below is then 0 */
    }
    return half_offset(size - crop) + i - pad_lo;
}

int ax_preprocess_u8(const ax_preprocess_spec *pp, const uint8_t *in, int w, int h, int c, uint8_t *out)
{
    int rw, rh;
    ax_preprocess_resized_size(pp, w, h, &rw, &rh);
    int cs = (int)pp->crop;
    if (cs && cs <= rw && cs <= rh) /* the crop alone, as the full resize has it */
        return ax_resize_bilinear_pillow_window(in, w, h, c, rw, rh, half_offset(rw - cs), half_offset(rh - cs), cs,
                                                cs, out);
    const uint8_t *img = in;
    uint8_t *tmp = NULL;
    if (rw != w || rh != h) {
        uint8_t *dst = pp->crop ? (tmp = malloc((size_t)rw * (size_t)rh * (size_t)c)) : out;
        if (!dst || ax_resize_bilinear_pillow(in, w, h, c, dst, rw, rh) != 0) {
            free(tmp);
            return -1;
        }
        img = dst;
    }
    if (!pp->crop) {
        if (img == in) memcpy(out, in, (size_t)w * (size_t)h * (size_t)c);
        free(tmp);
        return 0;
    }
    for (int y = 0; y < cs; y++) {
        int sy = crop_map(rh, cs, y);
        uint8_t *o = out + (size_t)y * (size_t)cs * (size_t)c;
        for (int x = 0; x < cs; x++) {
            int sx = crop_map(rw, cs, x);
            bool inside = sy >= 0 && sy < rh && sx >= 0 && sx < rw;
            for (int ch = 0; ch < c; ch++)
                o[(size_t)x * (size_t)c + (size_t)ch] =
                    inside ? img[((size_t)sy * (size_t)rw + (size_t)sx) * (size_t)c + (size_t)ch] : 0;
        }
    }
    free(tmp);
    return 0;
}

void ax_preprocess_float(const ax_preprocess_spec *pp, const uint8_t *in, size_t n, int c, float *out)
{
    float lut[3][256];
    int nc = c < 3 ? c : 3;
    for (int ch = 0; ch < nc; ch++)
        for (int v = 0; v < 256; v++) {
            float x = (float)v / pp->divisor; /* ToTensor: one float32 rounding */
            lut[ch][v] = (x - pp->mean[ch]) / pp->std[ch];
        }
    for (size_t i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            out[i * (size_t)c + (size_t)ch] = lut[ch < 3 ? ch : 2][in[i * (size_t)c + (size_t)ch]];
}
