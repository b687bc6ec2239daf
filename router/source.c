/* source.c - the images the router evaluates on: the minimal interface
 * ax_route_source (preprocessed float NHWC batches and labels, random
 * access), filled here from an IDX dataset or any ax_source (folders of
 * JPEGs, decoded in parallel) through the model's preprocessing exactly as
 * `autoapprox eval` does, and the in-memory cache of the search images.
 * Other datasets plug in by providing their own read(). */
#include "router_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int idx_read(void *ctx, size_t first, size_t n, float *images, int32_t *labels, ax_error *err)
{
    const ax_route_idx *s = ctx;
    const ax_dataset *d = s->d;
    size_t isz = ax_dataset_image_size(d);
    for (size_t i = 0; i < n; i++) {
        size_t k = s->index ? s->index[first + i] : first + i;
        if (k >= d->count) return ax_fail(err, "%s: image %zu of %zu", d->source, k, d->count);
        ax_nn_preprocess_apply(&s->p, d->images + k * isz, isz, images + i * isz);
        labels[i] = d->labels[k];
    }
    return 0;
}

void ax_route_source_idx(const ax_dataset *d, const ax_nn_preprocess *p, const size_t *index, size_t n,
                         const char *label, ax_route_idx *storage, ax_route_source *out)
{
    storage->d = d;
    storage->p = *p;
    storage->index = index;
    size_t count = index ? n : d->count;
    snprintf(storage->name, sizeof storage->name, "%s (%zu of %zu images)", label, count, d->count);
    *out = (ax_route_source){count, storage->name, idx_read, storage};
}

/* The batch's images are decoded in parallel (ax_source_load is safe to
 * call from several threads; eval's loaders do), each into its own slot.
 * Failed items are read again in order, one at a time, for their message:
 * the report names the first unreadable image whatever the threads. */
static int src_read(void *ctx, size_t first, size_t n, float *images, int32_t *labels, ax_error *err)
{
    const ax_route_src *s = ctx;
    size_t h, w, c;
    ax_source_shape(s->src, &h, &w, &c);
    size_t isz = h * w * c;
    int *rc = malloc((n ? n : 1) * sizeof *rc);
    if (!rc) return ax_fail(err, "%s: out of memory", s->name);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
#endif
    for (size_t i = 0; i < n; i++) {
        ax_error e;
        rc[i] = ax_source_load(s->src, s->index ? s->index[first + i] : first + i, images + i * isz, &e);
    }
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        size_t k = s->index ? s->index[first + i] : first + i;
        if (rc[i] != 0) bad = ax_source_load(s->src, k, images + i * isz, err);
        labels[i] = (int32_t)ax_source_label(s->src, k);
    }
    free(rc);
    if (bad == AX_SOURCE_BAD_ITEM) {
        char why[AX_ERROR_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        return ax_fail(err, "%s (route needs every image readable: move it out of the data set)", why);
    }
    return bad ? -1 : 0;
}

void ax_route_source_from(const ax_source *src, const size_t *index, size_t n, const char *label,
                          ax_route_src *storage, ax_route_source *out)
{
    storage->src = src;
    storage->index = index;
    size_t total = ax_source_count(src), count = index ? n : total;
    snprintf(storage->name, sizeof storage->name, "%s (%zu of %zu images)", label, count, total);
    *out = (ax_route_source){count, storage->name, src_read, storage};
}

void ax_route_strided(size_t count, size_t n, size_t *out)
{
    for (size_t i = 0; i < n; i++) out[i] = (size_t)((unsigned __int128)i * count / n);
}

/* ---- the search images, held in memory (router_internal.h) ---- */
static int cached_read(void *ctx, size_t first, size_t n, float *images, int32_t *labels, ax_error *err)
{
    rt_image_cache *c = ctx;
    if (first > c->src->count || n > c->src->count - first)
        return ax_fail(err, "%s: images %zu..%zu of %zu", c->src->name, first, first + n, c->src->count);
    size_t miss = 0;
    for (size_t i = first; i < first + n; i++) miss += !c->have[i];
    if (miss) { /* reads come in the same batches every time: read the whole batch once */
        if (c->src->read(c->src->ctx, first, n, c->x + first * c->isz, c->lab + first, err) != 0) return -1;
        memset(c->have + first, 1, n);
    }
    memcpy(images, c->x + first * c->isz, n * c->isz * sizeof *images);
    memcpy(labels, c->lab + first, n * sizeof *labels);
    return 0;
}

static size_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
}

void rt_cache_source(const ax_route_source *src, size_t isz, rt_image_cache *c, ax_route_source *out)
{
    memset(c, 0, sizeof *c);
    *out = *src;
    size_t n = src->count, budget = physical_memory() / 4;
    if (!n || !isz || n > budget / sizeof(float) / isz) return;
    c->src = src, c->isz = isz;
    c->x = malloc(n * isz * sizeof *c->x), c->lab = malloc(n * sizeof *c->lab), c->have = calloc(n, 1);
    if (!c->x || !c->lab || !c->have) { /* no cache: read from the source as before */
        rt_cache_free(c);
        return;
    }
    *out = (ax_route_source){n, src->name, cached_read, c};
}

void rt_cache_free(rt_image_cache *c)
{
    free(c->x), free(c->lab), free(c->have);
    memset(c, 0, sizeof *c);
}
