/* source_tmp.c - TEMPORARY stand-in for the image sources of data.h, IDX
 * folders only, so that eval and quantize can be built and tested against
 * the interface before the real implementation (image folders, TurboJPEG,
 * Pillow-exact resizing) is merged. The lead replaces this whole file at
 * merge time; nothing else lives here. */
#include "autoapprox/data.h"

#include "lut/ax_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ax_source {
    ax_dataset d;
    ax_source_options o;
    char key[65];
    char *names;        /* count names of NAME_LEN bytes: "idx:<i>" */
};
#define NAME_LEN 32

void ax_preprocess_imagenet(ax_preprocess_spec *p)
{
    *p = (ax_preprocess_spec){256, 224, 255.0f, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

void ax_preprocess_none(ax_preprocess_spec *p)
{
    *p = (ax_preprocess_spec){0, 0, 255.0f, {0, 0, 0}, {1, 1, 1}};
}

int ax_preprocess_parse(const char *name, ax_preprocess_spec *p)
{
    if (!strcmp(name, "imagenet")) ax_preprocess_imagenet(p);
    else if (!strcmp(name, "none")) ax_preprocess_none(p);
    else return -1;
    return 0;
}

void ax_source_options_init(ax_source_options *o)
{
    memset(o, 0, sizeof *o);
    o->split = "test";
    ax_preprocess_none(&o->pp);
}

static bool has_idx(const char *dir, const char *split)
{
    char p[4096];
    struct stat st;
    const char *prefix = !strcmp(split, "train") ? "train" : "t10k";
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, prefix);
    if (stat(p, &st) == 0) return true;
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    return stat(p, &st) == 0;
}

static void make_key(ax_source *s)
{
    struct stat st = {0};
    stat(s->d.source, &st);
    const ax_preprocess_spec *p = &s->o.pp;
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "idx|%s|%lld|%lld.%09ld|%zu|%u|%u|%.9g|%.9g,%.9g,%.9g|%.9g,%.9g,%.9g", s->d.source,
                     (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, s->d.count, p->resize,
                     p->crop, (double)p->divisor, (double)p->mean[0], (double)p->mean[1], (double)p->mean[2],
                     (double)p->std[0], (double)p->std[1], (double)p->std[2]);
    ax_sha256_hex(buf, (size_t)n, s->key);
}

int ax_source_open(const char *path, const ax_source_options *o, ax_source **out, ax_error *err)
{
    ax_source_options def;
    if (!o) ax_source_options_init(&def), o = &def;
    const char *split = o->split ? o->split : "test";
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return ax_fail(err, "%s: not a folder", path);
    if (!has_idx(path, split))
        return ax_fail(err, "%s: no IDX files for split '%s' (image folders: not built in this branch)", path, split);
    ax_source *s = calloc(1, sizeof *s);
    if (!s) return ax_fail(err, "%s: out of memory", path);
    s->o = *o;
    s->o.split = split;
    if (ax_dataset_load_idx(path, split, &s->d, err) != 0) {
        free(s);
        return -1;
    }
    s->names = malloc(s->d.count * NAME_LEN);
    if (!s->names) {
        ax_source_close(s);
        return ax_fail(err, "%s: out of memory", path);
    }
    for (size_t i = 0; i < s->d.count; i++) snprintf(s->names + i * NAME_LEN, NAME_LEN, "idx:%zu", i);
    make_key(s);
    *out = s;
    return 0;
}

void ax_source_close(ax_source *s)
{
    if (!s) return;
    ax_dataset_free(&s->d);
    free(s->names);
    free(s);
}

const char *ax_source_kind(const ax_source *s) { (void)s; return "idx"; }
size_t ax_source_count(const ax_source *s) { return s->d.count; }
size_t ax_source_num_classes(const ax_source *s) { return s->d.num_classes; }
size_t ax_source_label(const ax_source *s, size_t i) { return s->d.labels[i]; }
const char *ax_source_item_name(const ax_source *s, size_t i) { return s->names + i * NAME_LEN; }
const char *ax_source_key(const ax_source *s) { return s->key; }

void ax_source_shape(const ax_source *s, size_t *h, size_t *w, size_t *c)
{
    *h = s->d.height, *w = s->d.width, *c = s->d.channels;
}

int ax_source_load_u8(const ax_source *s, size_t i, uint8_t *out, ax_error *err)
{
    if (i >= s->d.count) return ax_fail(err, "%s: item %zu of %zu", s->d.source, i, s->d.count);
    size_t n = ax_dataset_image_size(&s->d);
    memcpy(out, s->d.images + i * n, n);
    return 0;
}

int ax_source_load(const ax_source *s, size_t i, float *out, ax_error *err)
{
    if (i >= s->d.count) return ax_fail(err, "%s: item %zu of %zu", s->d.source, i, s->d.count);
    size_t n = ax_dataset_image_size(&s->d), c = s->d.channels;
    const uint8_t *px = s->d.images + i * n;
    const ax_preprocess_spec *p = &s->o.pp;
    for (size_t k = 0; k < n; k++) out[k] = ((float)px[k] / p->divisor - p->mean[k % c]) / p->std[k % c];
    return 0;
}
