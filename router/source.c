/* source.c - the images the router evaluates on: the minimal interface
 * ax_route_source (preprocessed float NHWC batches and labels, random
 * access), filled here from an IDX dataset through the model's
 * preprocessing exactly as `autoapprox eval` does. Other datasets plug in
 * by providing their own read(). */
#include "router_internal.h"

#include <stdio.h>
#include <string.h>

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

static int src_read(void *ctx, size_t first, size_t n, float *images, int32_t *labels, ax_error *err)
{
    const ax_route_src *s = ctx;
    size_t h, w, c;
    ax_source_shape(s->src, &h, &w, &c);
    for (size_t i = 0; i < n; i++) {
        size_t k = s->index ? s->index[first + i] : first + i;
        int rc = ax_source_load(s->src, k, images + i * h * w * c, err);
        if (rc == AX_SOURCE_BAD_ITEM) {
            char why[AX_ERROR_MAX];
            snprintf(why, sizeof why, "%s", err->msg);
            return ax_fail(err, "%s (route needs every image readable: move it out of the data set)", why);
        }
        if (rc != 0) return -1;
        labels[i] = (int32_t)ax_source_label(s->src, k);
    }
    return 0;
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
