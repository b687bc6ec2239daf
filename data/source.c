/* source.c - ax_source: one interface over an IDX folder (idx.c) and folders
 * of JPEG photographs (listing.c, labels.c), each item loaded decoded and
 * preprocessed (jpeg_decode.c, preprocess.c); the listing's sha256 keys
 * caches of preprocessed items. */
#include "data_internal.h"

#include "lut/ax_internal.h"

#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_JPEG_BYTES ((size_t)256 << 20)

struct ax_source {
    const char *kind;
    ax_preprocess_spec pp;
    ax_dataset idx;       /* kind "idx" */
    char **idx_names;
    ax_listing list;      /* kind "imagefolder" / "flat" */
    size_t count, num_classes, h, w, c;
    char key[65];
};

void ax_source_options_init(ax_source_options *o)
{
    memset(o, 0, sizeof *o);
    o->split = "test";
    ax_preprocess_none(&o->pp);
}

void ax_source_close(ax_source *s)
{
    if (!s) return;
    if (s->idx_names)
        for (size_t i = 0; i < s->count; i++) free(s->idx_names[i]);
    free(s->idx_names);
    ax_dataset_free(&s->idx);
    ax_listing_free(&s->list);
    free(s);
}

const char *ax_source_kind(const ax_source *s) { return s->kind; }
size_t ax_source_count(const ax_source *s) { return s->count; }
size_t ax_source_num_classes(const ax_source *s) { return s->num_classes; }
const char *ax_source_key(const ax_source *s) { return s->key; }

void ax_source_shape(const ax_source *s, size_t *h, size_t *w, size_t *c)
{
    *h = s->h, *w = s->w, *c = s->c;
}

size_t ax_source_label(const ax_source *s, size_t i)
{
    return s->idx.labels ? s->idx.labels[i] : s->list.labels[i];
}

const char *ax_source_item_name(const ax_source *s, size_t i)
{
    return s->idx_names ? s->idx_names[i] : s->list.paths[i];
}

static bool has_idx(const char *dir)
{
    static const char *const names[] = {"t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz",
                                        "train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (stat(p, &st) == 0) return true;
    }
    return false;
}

static void hash_str(struct sha256_ctx *c, const char *fmt, ...) AX_PRINTF(2, 3);
static void hash_str(struct sha256_ctx *c, const char *fmt, ...)
{
    char b[4200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n > 0) sha256_update(c, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1, (const uint8_t *)b);
}

static void hash_file(struct sha256_ctx *c, const char *path, size_t label)
{
    struct stat st;
    long long size = -1, sec = 0, nsec = 0;
    if (stat(path, &st) == 0) size = st.st_size, sec = st.st_mtim.tv_sec, nsec = st.st_mtim.tv_nsec;
    hash_str(c, "%s\t%lld\t%lld.%09lld\t%zu\n", path, size, sec, nsec, label);
}

/* sha256 of the listing (names, sizes, mtimes, labels) and of pp. */
static void make_key(ax_source *s)
{
    struct sha256_ctx c;
    sha256_init(&c);
    hash_str(&c, "autoapprox source v1\n%s\n%zu items, %zu classes, %zux%zux%zu\n", s->kind, s->count,
             s->num_classes, s->h, s->w, s->c);
    const ax_preprocess_spec *p = &s->pp;
    hash_str(&c, "resize %u crop %u divisor %a mean %a %a %a std %a %a %a\n", p->resize, p->crop, p->divisor,
             p->mean[0], p->mean[1], p->mean[2], p->std[0], p->std[1], p->std[2]);
    if (s->idx_names) {
        hash_file(&c, s->idx.source, 0);
        sha256_update(&c, s->count, s->idx.labels);
    } else {
        for (size_t i = 0; i < s->count; i++) hash_file(&c, s->list.paths[i], s->list.labels[i]);
    }
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&c, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) snprintf(s->key + 2 * i, 3, "%02x", d[i]);
}

static int open_idx(const char *dir, const ax_source_options *o, ax_source *s, ax_error *err)
{
    if (ax_dataset_load_idx(dir, o->split ? o->split : "test", &s->idx, err) != 0) return -1;
    s->kind = "idx";
    s->count = s->idx.count, s->num_classes = s->idx.num_classes;
    s->h = s->idx.height, s->w = s->idx.width, s->c = s->idx.channels;
    if (!(s->idx_names = calloc(s->count, sizeof *s->idx_names))) return ax_fail(err, "%s: out of memory", dir);
    for (size_t i = 0; i < s->count; i++) {
        char b[32];
        snprintf(b, sizeof b, "idx:%zu", i);
        if (!(s->idx_names[i] = strdup(b))) return ax_fail(err, "%s: out of memory", dir);
    }
    return 0;
}

static int read_text(const char *path, const char *what, uint8_t **buf, size_t *len, ax_error *err)
{
    ax_error e;
    if (ax_read_file(path, (size_t)64 << 20, buf, len, &e) != 0)
        return ax_fail(err, "%s file: %s", what, e.msg);
    return 0;
}

static int open_photos(const char *dir, const ax_source_options *o, ax_source *s, ax_error *err)
{
    if (o->synsets && !o->labels)
        return ax_fail(err, "%s: a synsets file maps the synsets of a labels file (--labels); "
                            "an ImageFolder's classes are its sorted sub-folder names", dir);
    if (!o->labels) {
        s->kind = "imagefolder";
        if (ax_listing_imagefolder(dir, &s->list, err) != 0) return -1;
    } else {
        s->kind = "flat";
        if (ax_listing_flat(dir, &s->list, err) != 0) return -1;
        ax_synsets syn = {0};
        uint8_t *t = NULL;
        size_t n;
        if (o->synsets) {
            if (read_text(o->synsets, "synsets", &t, &n, err) != 0) return -1;
            int rc = ax_synsets_parse((const char *)t, n, o->synsets, &syn, err);
            free(t);
            if (rc) return -1;
        }
        int rc = read_text(o->labels, "labels", &t, &n, err);
        if (rc == 0) rc = ax_labels_apply((const char *)t, n, o->labels, o->synsets ? &syn : NULL, &s->list, err);
        free(t);
        ax_synsets_free(&syn);
        if (rc) return -1;
    }
    s->count = s->list.count, s->num_classes = s->list.num_classes;
    s->c = 3;
    if (s->pp.crop) {
        s->h = s->w = s->pp.crop;
        return 0;
    }
    /* Without a crop the size depends on the image: the first readable one
     * sets it, and items of another size are bad items. */
    for (size_t i = 0; i < s->count; i++) {
        uint8_t *b;
        size_t len;
        int w, h, ow, oh;
        ax_error e;
        if (ax_read_file(s->list.paths[i], MAX_JPEG_BYTES, &b, &len, &e) != 0) continue;
        int rc = ax_jpeg_size(b, len, s->list.paths[i], &w, &h, &e);
        free(b);
        if (rc) continue;
        ax_preprocess_out_size(&s->pp, w, h, &ow, &oh);
        s->h = (size_t)oh, s->w = (size_t)ow;
        return 0;
    }
    return ax_fail(err, "%s: no readable JPEG among its %zu images", dir, s->count);
}

int ax_source_open(const char *path, const ax_source_options *o, ax_source **out, ax_error *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return ax_fail(err, "%s: no such folder", path);
    if (!S_ISDIR(st.st_mode))
        return ax_fail(err, "%s: not a folder (expected IDX files, class sub-folders of JPEGs, or JPEGs + --labels)",
                       path);
    ax_source *s = calloc(1, sizeof *s);
    if (!s) return ax_fail(err, "%s: out of memory", path);
    s->pp = o->pp;
    int rc = has_idx(path) ? open_idx(path, o, s, err) : open_photos(path, o, s, err);
    if (rc) {
        ax_source_close(s);
        return -1;
    }
    make_key(s);
    *out = s;
    return 0;
}

static int load_photo(const ax_source *s, size_t i, uint8_t *out, ax_error *err)
{
    const char *p = s->list.paths[i];
    uint8_t *buf, *rgb;
    size_t len;
    int w, h, ow, oh;
    if (ax_read_file(p, MAX_JPEG_BYTES, &buf, &len, err) != 0) return AX_SOURCE_BAD_ITEM;
    if (len < 3 || buf[0] != 0xff || buf[1] != 0xd8 || buf[2] != 0xff) {
        free(buf);
        ax_fail(err, "%s: not a JPEG file (only JPEG photographs are decoded)", p);
        return AX_SOURCE_BAD_ITEM;
    }
    int rc = ax_jpeg_decode_rgb(buf, len, p, &rgb, &w, &h, err);
    free(buf);
    if (rc) return AX_SOURCE_BAD_ITEM;
    ax_preprocess_out_size(&s->pp, w, h, &ow, &oh);
    if ((size_t)ow != s->w || (size_t)oh != s->h) {
        free(rgb);
        ax_fail(err, "%s: %d x %d after preprocessing, the data set's images are %zu x %zu", p, ow, oh, s->w, s->h);
        return AX_SOURCE_BAD_ITEM;
    }
    rc = ax_preprocess_u8(&s->pp, rgb, w, h, 3, out);
    free(rgb);
    return rc ? ax_fail(err, "%s: out of memory while resizing", p) : 0;
}

int ax_source_load_u8(const ax_source *s, size_t i, uint8_t *out, ax_error *err)
{
    if (i >= s->count) return ax_fail(err, "item %zu of %zu: out of range", i, s->count);
    if (s->idx_names) {
        size_t n = ax_dataset_image_size(&s->idx);
        memcpy(out, s->idx.images + i * n, n);
        return 0;
    }
    return load_photo(s, i, out, err);
}

int ax_source_load(const ax_source *s, size_t i, float *out, ax_error *err)
{
    size_t n = s->h * s->w;
    if (i >= s->count) return ax_fail(err, "item %zu of %zu: out of range", i, s->count);
    if (s->idx_names) {
        ax_preprocess_float(&s->pp, s->idx.images + i * n * s->c, n, (int)s->c, out);
        return 0;
    }
    uint8_t *b = malloc(n * s->c);
    if (!b) return ax_fail(err, "%s: out of memory", ax_source_item_name(s, i));
    int rc = ax_source_load_u8(s, i, b, err);
    if (rc == 0) ax_preprocess_float(&s->pp, b, n, (int)s->c, out);
    free(b);
    return rc;
}
