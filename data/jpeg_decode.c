/* jpeg_decode.c - JPEG to RGB with libjpeg-turbo's TurboJPEG API, giving the
 * bytes Pillow gives for Image.open(f).convert('RGB') (Pillow links the same
 * libjpeg-turbo): accurate integer DCT and fancy upsampling (TurboJPEG's
 * defaults, as Pillow's), 1 component -> gray replicated to RGB, 3 -> RGB,
 * 4 (CMYK or YCCK) -> CMYK read inverted as Pillow's "CMYK;I" (Adobe's
 * convention, always) then Pillow's cmyk2rgb. Warnings are ignored as Pillow
 * ignores them, except data that ends early, where Pillow fails ("image file
 * is truncated"). */
#include "data_internal.h"

#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/* Pillow refuses images over 2 * MAX_IMAGE_PIXELS (decompression bombs). */
#define MAX_PIXELS (2 * (1024L * 1024 * 1024 / 4 / 3))

void ax_cmyk_to_rgb_pillow(const uint8_t *cmyk, uint8_t *rgb, size_t n)
{
    for (size_t i = 0; i < n; i++, cmyk += 4, rgb += 3) {
        int nk = 255 - cmyk[3];
        for (int ch = 0; ch < 3; ch++) {
            int t = cmyk[ch] * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8); /* nk - cmyk * nk / 255, rounded */
            rgb[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static int header(tjhandle tj, const uint8_t *buf, size_t len, const char *what, int *w, int *h, int *cs,
                  ax_error *err)
{
    int subsamp = -1;
    *w = *h = 0; /* a header that ends early can "succeed" without a frame */
    *cs = -1;
    if (len > (unsigned long)-1 ||
        tjDecompressHeader3(tj, buf, (unsigned long)len, w, h, &subsamp, cs) != 0)
        return ax_fail(err, "%s: not a readable JPEG (%s)", what, tjGetErrorStr2(tj));
    if (*w == 0 || *h == 0 || *cs < 0)
        return ax_fail(err, "%s: not a readable JPEG (no frame header before the data ends)", what);
    if (*w < 0 || *h < 0 || (long)*w * *h > MAX_PIXELS)
        return ax_fail(err, "%s: JPEG of %d x %d pixels refused (at most %ld)", what, *w, *h, MAX_PIXELS);
    return 0;
}

int ax_jpeg_size(const uint8_t *buf, size_t len, const char *what, int *w, int *h, ax_error *err)
{
    tjhandle tj = tjInitDecompress();
    if (!tj) return ax_fail(err, "%s: TurboJPEG init failed", what);
    int cs, rc = header(tj, buf, len, what, w, h, &cs, err);
    tjDestroy(tj);
    return rc;
}

int ax_jpeg_decode_rgb(const uint8_t *buf, size_t len, const char *what, uint8_t **rgb, int *w, int *h,
                       ax_error *err)
{
    *rgb = NULL;
    tjhandle tj = tjInitDecompress();
    if (!tj) return ax_fail(err, "%s: TurboJPEG init failed", what);
    int cs, rc = -1;
    uint8_t *raw = NULL, *out = NULL;
    if (header(tj, buf, len, what, w, h, &cs, err) != 0) goto done;
    int fmt = cs == TJCS_GRAY ? TJPF_GRAY : cs == TJCS_CMYK || cs == TJCS_YCCK ? TJPF_CMYK : TJPF_RGB;
    size_t n = (size_t)*w * (size_t)*h, bpp = (size_t)tjPixelSize[fmt];
    out = malloc(n * 3);
    raw = fmt == TJPF_RGB ? out : malloc(n * bpp);
    if (!out || !raw) {
        ax_fail(err, "%s: out of memory for %d x %d pixels", what, *w, *h);
        goto done;
    }
    /* flags 0: islow DCT, fancy upsampling, warnings do not stop decoding. */
    if (tjDecompress2(tj, buf, (unsigned long)len, raw, *w, 0, *h, fmt, 0) != 0) {
        const char *msg = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) != TJERR_WARNING || strstr(msg, "Premature end") ||
            strstr(msg, "premature end")) {
            ax_fail(err, "%s: corrupt or truncated JPEG (%s)", what, msg);
            goto done;
        }
    }
    if (fmt == TJPF_GRAY) {
        for (size_t i = n; i-- > 0;) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = raw[i];
    } else if (fmt == TJPF_CMYK) {
        for (size_t i = 0; i < n * 4; i++) raw[i] = (uint8_t)~raw[i]; /* "CMYK;I" */
        ax_cmyk_to_rgb_pillow(raw, out, n);
    }
    *rgb = out, out = NULL;
    rc = 0;
done:
    if (raw != out && raw != *rgb) free(raw);
    free(out);
    tjDestroy(tj);
    return rc;
}
