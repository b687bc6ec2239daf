/* resize_pillow.c - Pillow's Image.resize(size, BILINEAR) on 8-bit images,
 * bit for bit (Pillow 9.4, libImaging/Resample.c, written anew from its
 * description): a triangle filter whose support grows with the downscale
 * factor (antialiasing), weights computed in double then rounded to 22-bit
 * fixed point, a horizontal pass into 8 bits over the rows the vertical pass
 * needs, then the vertical pass; each pass rounds by adding half and
 * shifting, then clips to 0..255. */
#include "data_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)

typedef struct coeffs {
    int ksize;
    int *bounds;  /* per output: first input index, number of taps */
    int32_t *k;   /* per output: ksize fixed-point weights */
} coeffs;

static double triangle(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs for the box [0, in_size) then its
 * normalize_coeffs_8bpc; the same double operations in the same order. */
static int make_coeffs(int in_size, int out_size, coeffs *c)
{
    float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / out_size, filterscale = scale;
    if (filterscale < 1.0) filterscale = 1.0;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    if (out_size > INT_MAX / (ksize * (int)sizeof(double))) return -1;
    double *kk = malloc((size_t)out_size * (size_t)ksize * sizeof *kk);
    c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds);
    c->k = malloc((size_t)out_size * (size_t)ksize * sizeof *c->k);
    if (!kk || !c->bounds || !c->k) {
        free(kk), free(c->bounds), free(c->k);
        return -1;
    }
    c->ksize = ksize;
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = &kk[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = triangle((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * (size_t)ksize; i++)
        c->k[i] = kk[i] < 0 ? (int32_t)(-0.5 + kk[i] * (1 << PRECISION_BITS))
                            : (int32_t)(0.5 + kk[i] * (1 << PRECISION_BITS));
    free(kk);
    return 0;
}

static void free_coeffs(coeffs *c)
{
    free(c->bounds), free(c->k);
}

static inline uint8_t clip8(int32_t v)
{
    v >>= PRECISION_BITS;
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Rows [y0, y0 + rows) of in (width w) -> out (width ow), rows rows. */
static void horizontal(const uint8_t *in, int w, int c, int y0, int rows, const coeffs *k, uint8_t *out, int ow)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = in + ((size_t)(y0 + y) * (size_t)w) * (size_t)c;
        uint8_t *o = out + (size_t)y * (size_t)ow * (size_t)c;
        for (int xx = 0; xx < ow; xx++) {
            int xmin = k->bounds[2 * xx], n = k->bounds[2 * xx + 1];
            const int32_t *kw = k->k + (size_t)xx * (size_t)k->ksize;
            const uint8_t *p = row + (size_t)xmin * (size_t)c;
            if (c == 3) {
                int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < n; x++) {
                    s0 += p[3 * x] * kw[x];
                    s1 += p[3 * x + 1] * kw[x];
                    s2 += p[3 * x + 2] * kw[x];
                }
                o[3 * xx] = clip8(s0), o[3 * xx + 1] = clip8(s1), o[3 * xx + 2] = clip8(s2);
            } else {
                for (int ch = 0; ch < c; ch++) {
                    int32_t s = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < n; x++) s += p[(size_t)x * (size_t)c + (size_t)ch] * kw[x];
                    o[(size_t)xx * (size_t)c + (size_t)ch] = clip8(s);
                }
            }
        }
    }
}

/* in has rows of w*c bytes; bounds are relative to its first row. */
static void vertical(const uint8_t *in, int w, int c, const coeffs *k, uint8_t *out, int oh)
{
    size_t stride = (size_t)w * (size_t)c;
    for (int yy = 0; yy < oh; yy++) {
        int ymin = k->bounds[2 * yy], n = k->bounds[2 * yy + 1];
        const int32_t *kw = k->k + (size_t)yy * (size_t)k->ksize;
        const uint8_t *p = in + (size_t)ymin * stride;
        uint8_t *o = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t s = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) s += p[(size_t)y * stride + i] * kw[y];
            o[i] = clip8(s);
        }
    }
}

int ax_resize_bilinear_pillow(const uint8_t *in, int w, int h, int c, uint8_t *out, int ow, int oh)
{
    if (ow == w && oh == h) {
        memcpy(out, in, (size_t)w * (size_t)h * (size_t)c);
        return 0;
    }
    coeffs kv, kh;
    if (make_coeffs(h, oh, &kv) != 0) return -1;
    int first = kv.bounds[0], last = kv.bounds[2 * oh - 2] + kv.bounds[2 * oh - 1];
    const uint8_t *src = in;
    uint8_t *tmp = NULL;
    int sw = w;
    if (ow != w) {
        if (make_coeffs(w, ow, &kh) != 0) {
            free_coeffs(&kv);
            return -1;
        }
        int rows = last - first;
        uint8_t *dst = oh != h ? (tmp = malloc((size_t)ow * (size_t)rows * (size_t)c)) : out;
        if (!dst) {
            free_coeffs(&kv), free_coeffs(&kh);
            return -1;
        }
        horizontal(in, w, c, first, rows, &kh, dst, ow);
        free_coeffs(&kh);
        for (int i = 0; i < oh; i++) kv.bounds[2 * i] -= first;
        src = dst, sw = ow;
    }
    if (oh != h) vertical(src, sw, c, &kv, out, oh);
    free(tmp);
    free_coeffs(&kv);
    return 0;
}
