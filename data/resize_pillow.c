/* resize_pillow.c - Pillow's Image.resize(size, BILINEAR) on 8-bit images,
 * bit for bit (Pillow 9.4, libImaging/Resample.c, written anew from its
 * description): a triangle filter whose support grows with the downscale
 * factor (antialiasing), weights computed in double then rounded to 22-bit
 * fixed point, a horizontal pass into 8 bits over the rows the vertical pass
 * needs, then the vertical pass; each pass rounds by adding half and
 * shifting, then clips to 0..255. Every output pixel depends only on its own
 * weights, so a window of the output (the center crop) is computed alone,
 * with the same bytes as the full resize would hold there. */
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
 * normalize_coeffs_8bpc, the same double operations in the same order, for
 * the outputs [first, first + count) of out_size. */
static int make_coeffs(int in_size, int out_size, int first, int count, coeffs *c)
{
    float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / out_size, filterscale = scale;
    if (filterscale < 1.0) filterscale = 1.0;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    if (out_size > INT_MAX / (ksize * (int)sizeof(double))) return -1;
    double *kk = malloc((size_t)count * (size_t)ksize * sizeof *kk);
    c->bounds = malloc((size_t)count * 2 * sizeof *c->bounds);
    c->k = malloc((size_t)count * (size_t)ksize * sizeof *c->k);
    if (!kk || !c->bounds || !c->k) {
        free(kk), free(c->bounds), free(c->k);
        c->bounds = NULL, c->k = NULL;
        return -1;
    }
    c->ksize = ksize;
    for (int xx = first; xx < first + count; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = &kk[(size_t)(xx - first) * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = triangle((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        c->bounds[2 * (xx - first)] = xmin;
        c->bounds[2 * (xx - first) + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)count * (size_t)ksize; i++)
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

/* in has rows of w*c bytes; bounds are relative to its first row. Sums of
 * integers: accumulating tap by tap over a whole row gives Pillow's sums. */
static void vertical(const uint8_t *in, int w, int c, const coeffs *k, uint8_t *out, int oh, int32_t *acc)
{
    size_t stride = (size_t)w * (size_t)c;
    for (int yy = 0; yy < oh; yy++) {
        int ymin = k->bounds[2 * yy], n = k->bounds[2 * yy + 1];
        const int32_t *kw = k->k + (size_t)yy * (size_t)k->ksize;
        for (size_t i = 0; i < stride; i++) acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < n; y++) {
            const uint8_t *p = in + (size_t)(ymin + y) * stride;
            int32_t kv = kw[y];
            for (size_t i = 0; i < stride; i++) acc[i] += p[i] * kv;
        }
        uint8_t *o = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) o[i] = clip8(acc[i]);
    }
}

int ax_resize_bilinear_pillow_window(const uint8_t *in, int w, int h, int c, int ow, int oh, int x0, int y0,
                                     int cw, int ch, uint8_t *out)
{
    if (ow == w && oh == h) {
        for (int y = 0; y < ch; y++)
            memcpy(out + (size_t)y * (size_t)cw * (size_t)c, in + ((size_t)(y0 + y) * (size_t)w + (size_t)x0) * (size_t)c,
                   (size_t)cw * (size_t)c);
        return 0;
    }
    /* Pillow skips a pass whose size does not change; so do we. */
    int need_h = ow != w, need_v = oh != h;
    coeffs kv = {0}, kh = {0};
    int first = y0, last = y0 + ch;
    if (need_v) {
        if (make_coeffs(h, oh, y0, ch, &kv) != 0) return -1;
        first = kv.bounds[0], last = kv.bounds[2 * ch - 2] + kv.bounds[2 * ch - 1];
    }
    if (need_h && make_coeffs(w, ow, x0, cw, &kh) != 0) {
        free_coeffs(&kv);
        return -1;
    }
    int rows = last - first, sw = need_h ? cw : w;
    uint8_t *tmp = need_h && need_v ? malloc((size_t)cw * (size_t)rows * (size_t)c) : NULL;
    int32_t *acc = need_v ? malloc((size_t)sw * (size_t)c * sizeof *acc) : NULL;
    int rc = -1;
    if ((need_h && need_v && !tmp) || (need_v && !acc)) goto done;
    const uint8_t *src = in + (size_t)first * (size_t)w * (size_t)c;
    if (need_h) {
        uint8_t *dst = need_v ? tmp : out;
        horizontal(in, w, c, first, rows, &kh, dst, cw);
        src = dst;
    }
    if (need_v) {
        for (int i = 0; i < ch; i++) kv.bounds[2 * i] -= first;
        if (need_h) {
            vertical(src, sw, c, &kv, out, ch, acc);
        } else { /* columns x0.. of the full-width rows */
            for (int yy = 0; yy < ch; yy++) {
                int ymin = kv.bounds[2 * yy], n = kv.bounds[2 * yy + 1];
                const int32_t *kw = kv.k + (size_t)yy * (size_t)kv.ksize;
                size_t cols = (size_t)cw * (size_t)c;
                for (size_t i = 0; i < cols; i++) acc[i] = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < n; y++) {
                    const uint8_t *p = src + ((size_t)(ymin + y) * (size_t)w + (size_t)x0) * (size_t)c;
                    for (size_t i = 0; i < cols; i++) acc[i] += p[i] * kw[y];
                }
                for (size_t i = 0; i < cols; i++) out[(size_t)yy * cols + i] = clip8(acc[i]);
            }
        }
    }
    rc = 0;
done:
    free(tmp), free(acc);
    free_coeffs(&kv), free_coeffs(&kh);
    return rc;
}

int ax_resize_bilinear_pillow(const uint8_t *in, int w, int h, int c, uint8_t *out, int ow, int oh)
{
    return ax_resize_bilinear_pillow_window(in, w, h, c, ow, oh, 0, 0, ow, oh, out);
}
