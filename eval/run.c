/* run.c - ax_eval_run on an ax_source, the options' defaults, and freeing
 * a result. The loop itself is pipeline.c. */
#include "eval_internal.h"

#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>

static int src_load(void *ctx, size_t i, uint8_t *out, ax_error *err)
{
    return ax_source_load_u8(ctx, i, out, err);
}

static size_t src_label(void *ctx, size_t i)
{
    return ax_source_label(ctx, i);
}

static const char *src_name(void *ctx, size_t i)
{
    return ax_source_item_name(ctx, i);
}

void ax_eval_options_init(ax_eval_options *o)
{
    memset(o, 0, sizeof *o);
    ax_preprocess_none(&o->pp);
    o->batch = 256;
}

int ax_eval_run(ax_nn_runtime *rt, const ax_source *src, size_t first, size_t count, const ax_eval_options *o,
                ax_eval_result *r, ax_error *err)
{
    axev_feed f = {src_load, src_label, src_name, (void *)src, ax_source_count(src), 0, 0, 0, ax_source_key(src)};
    ax_source_shape(src, &f.h, &f.w, &f.c);
    return axev_run(rt, &f, first, count, o, r, err);
}

int ax_eval_load_items(const ax_source *src, const ax_preprocess_spec *pp, size_t n, float *out, size_t *got,
                       size_t *skipped, ax_error *skip_note, ax_error *err)
{
    size_t h, w, c, total = ax_source_count(src);
    ax_source_shape(src, &h, &w, &c);
    size_t isz = h * w * c;
    uint8_t *px = malloc(isz ? isz : 1);
    if (!px) return ax_fail(err, "calibration: out of memory");
    *got = *skipped = 0;
    int rc = 0;
    for (size_t i = 0; i < total && *got < n && rc == 0; i++) {
        ax_error e;
        int k = ax_source_load_u8(src, i, px, &e);
        if (k == AX_SOURCE_BAD_ITEM) {
            if ((*skipped)++ == 0 && skip_note) *skip_note = e;
        } else if (k != 0) {
            *err = e;
            rc = -1;
        } else {
            ax_eval_float_stage(pp, px, isz, c, out + *got * isz);
            ++*got;
        }
    }
    free(px);
    return rc;
}

void ax_eval_result_free(ax_eval_result *r)
{
    for (size_t i = 0; r->skipped && i < r->n_skipped; i++) free(r->skipped[i].name), free(r->skipped[i].why);
    free(r->skipped), free(r->rank), free(r->logits);
    memset(r, 0, sizeof *r);
}
