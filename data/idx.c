/* idx.c - IDX files (MNIST's format): a strict parser, gzip via zlib, and the
 * {train,t10k}-{images,labels} split of a folder as an ax_dataset. */
#include "autoapprox/data.h"

#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int ax_idx_parse(const uint8_t *buf, size_t len, const char *what, ax_idx *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    if (len < 4) return ax_fail(err, "%s: not an IDX file (%zu bytes, no header)", what, len);
    if (buf[0] || buf[1]) return ax_fail(err, "%s: not an IDX file (bad magic)", what);
    if (buf[2] != 0x08) return ax_fail(err, "%s: IDX element type 0x%02x unsupported (only unsigned bytes, 0x08)", what, buf[2]);
    int nd = buf[3];
    if (nd < 1 || nd > AX_IDX_MAX_DIMS) return ax_fail(err, "%s: IDX with %d dimensions (1..%d supported)", what, nd, AX_IDX_MAX_DIMS);
    size_t hdr = 4 + 4 * (size_t)nd;
    if (len < hdr) return ax_fail(err, "%s: truncated IDX header", what);
    size_t total = 1;
    for (int i = 0; i < nd; i++) {
        out->dims[i] = be32(buf + 4 + 4 * i);
        if (out->dims[i] && total > AX_IDX_MAX_BYTES / out->dims[i])
            return ax_fail(err, "%s: IDX dimensions too large", what);
        total *= out->dims[i];
    }
    if (len - hdr != total)
        return ax_fail(err, "%s: IDX header promises %zu data bytes, file has %zu", what, total, len - hdr);
    out->ndims = nd;
    out->count = out->dims[0];
    out->item_size = out->count ? total / out->count : 1;
    for (int i = 1; i < nd && !out->count; i++) out->item_size *= out->dims[i];
    out->data = malloc(total ? total : 1);
    if (!out->data) return ax_fail(err, "%s: out of memory", what);
    memcpy(out->data, buf + hdr, total);
    return 0;
}

/* Inflates a gzip buffer; the output is bounded by AX_IDX_MAX_BYTES. */
static int gunzip(const uint8_t *in, size_t in_len, const char *what, uint8_t **out, size_t *out_len, ax_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return ax_fail(err, "%s: zlib init failed", what);
    size_t cap = in_len * 4 + 1024, n = 0;
    uint8_t *b = malloc(cap);
    int zr = Z_OK;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    while (b && zr != Z_STREAM_END) {
        if (n == cap) {
            if (cap >= AX_IDX_MAX_BYTES + 4096) break;
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) { free(b); b = NULL; break; }
            b = nb, cap *= 2;
        }
        z.next_out = b + n;
        z.avail_out = (uInt)(cap - n);
        zr = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END) break;
        if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0) { zr = Z_DATA_ERROR; break; }
    }
    inflateEnd(&z);
    if (!b) return ax_fail(err, "%s: out of memory while decompressing", what);
    if (zr != Z_STREAM_END) {
        free(b);
        return ax_fail(err, "%s: corrupt or truncated gzip data", what);
    }
    *out = b, *out_len = n;
    return 0;
}

int ax_idx_load(const char *path, ax_idx *out, ax_error *err)
{
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    if (ax_read_file(path, AX_IDX_MAX_BYTES, &buf, &len, err) != 0) return -1;
    if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        int rc = gunzip(buf, len, path, &raw, &raw_len, err);
        free(buf);
        if (rc != 0) return -1;
        buf = raw, len = raw_len;
    }
    int rc = ax_idx_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

void ax_idx_free(ax_idx *idx)
{
    free(idx->data);
    idx->data = NULL;
}

/* dir/name or dir/name.gz, whichever exists. */
static int find_file(const char *dir, const char *name, char *path, size_t size, ax_error *err)
{
    struct stat st;
    snprintf(path, size, "%s/%s", dir, name);
    if (stat(path, &st) == 0) return 0;
    snprintf(path, size, "%s/%s.gz", dir, name);
    if (stat(path, &st) == 0) return 0;
    return ax_fail(err, "%s: no %s or %s.gz in this folder", dir, name, name);
}

static int check_pair(const ax_idx *im, const ax_idx *lb, const char *ip, const char *lp, ax_error *err)
{
    if (im->ndims != 3 && im->ndims != 4)
        return ax_fail(err, "%s: images need 3 or 4 dimensions (count x h x w [x c]), got %d", ip, im->ndims);
    if (lb->ndims != 1) return ax_fail(err, "%s: labels need 1 dimension, got %d", lp, lb->ndims);
    if (im->count != lb->count)
        return ax_fail(err, "%s: %zu labels for %zu images in %s", lp, lb->count, im->count, ip);
    if (im->count == 0) return ax_fail(err, "%s: no images", ip);
    return 0;
}

int ax_dataset_load_idx(const char *dir, const char *split, ax_dataset *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    const char *prefix = !strcmp(split, "test") ? "t10k" : !strcmp(split, "train") ? "train" : NULL;
    if (!prefix) return ax_fail(err, "split '%s': expected 'test' or 'train'", split);
    char ip[4096], lp[4096], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    if (find_file(dir, name, ip, sizeof ip, err) != 0) return -1;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    if (find_file(dir, name, lp, sizeof lp, err) != 0) return -1;
    ax_idx im, lb;
    if (ax_idx_load(ip, &im, err) != 0) return -1;
    if (ax_idx_load(lp, &lb, err) != 0 || check_pair(&im, &lb, ip, lp, err) != 0) {
        ax_idx_free(&im), ax_idx_free(&lb);
        return -1;
    }
    out->count = im.count;
    out->height = im.dims[1];
    out->width = im.dims[2];
    out->channels = im.ndims == 4 ? im.dims[3] : 1;
    out->images = im.data;
    out->labels = lb.data;
    for (size_t i = 0; i < lb.count; i++)
        if ((size_t)lb.data[i] + 1 > out->num_classes) out->num_classes = (size_t)lb.data[i] + 1;
    ax_strlcpy(out->source, ip, sizeof out->source);
    return 0;
}

void ax_dataset_free(ax_dataset *d)
{
    free(d->images);
    free(d->labels);
    d->images = d->labels = NULL;
}

size_t ax_dataset_image_size(const ax_dataset *d)
{
    return d->height * d->width * d->channels;
}
