/* eval_internal.h - the parts of eval/ its files share, and the seam the
 * tests use: a feed is where items come from (an ax_source in ax_eval_run;
 * a test may wrap one and declare some items unreadable). Not installed. */
#ifndef AX_EVAL_INTERNAL_H
#define AX_EVAL_INTERNAL_H

#include "autoapprox/eval.h"

typedef struct axev_feed {
    /* 0, AX_SOURCE_BAD_ITEM or -1, as ax_source_load_u8; thread-safe. */
    int (*load_u8)(void *ctx, size_t i, uint8_t *out, ax_error *err);
    size_t (*label)(void *ctx, size_t i);
    const char *(*name)(void *ctx, size_t i);
    void *ctx;
    size_t count, h, w, c;
    const char *key;  /* the source's key: names the cache and the checkpoint */
} axev_feed;

/* ax_eval_run on a feed. */
int axev_run(ax_nn_runtime *rt, const axev_feed *f, size_t first, size_t count, const ax_eval_options *o,
             ax_eval_result *r, ax_error *err);

double axev_now(void);
void axev_warn(const ax_eval_options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- cache.c: preprocessed bytes of items [first, end), in chunk files
 * DIR/<key>/chunk-NNNNNN.axc. get: 1 and the bytes (and whether the item
 * was unreadable) on a hit, 0 on a miss; after a miss the caller loads the
 * item and puts it. Thread-safe. */
typedef struct axev_cache axev_cache;
int axev_cache_open(const char *dir, const char *key, size_t item_bytes, size_t first, size_t end,
                    const ax_eval_options *o, axev_cache **out, ax_error *err);
int axev_cache_get(axev_cache *c, size_t i, uint8_t *out, bool *bad);
void axev_cache_put(axev_cache *c, size_t i, const uint8_t *px, bool bad);
void axev_cache_close(axev_cache *c);
/* Items per chunk file for items of this size. */
size_t axev_cache_chunk_items(size_t item_bytes);

/* ---- checkpoint.c: an append-only log of completed batches. open restores
 * the completed prefix of [first, first+count) into r (rank, logits) and
 * why (per item: NULL or the message of a skipped item); *done = items. */
typedef struct axev_ckpt axev_ckpt;
int axev_ckpt_open(const char *path, const char *id, const ax_eval_options *o, ax_eval_result *r, char **why,
                   size_t *done, axev_ckpt **out, ax_error *err);
/* Appends items [off, off+n) (relative to first) from r and why. */
int axev_ckpt_append(axev_ckpt *c, size_t off, size_t n, const ax_eval_result *r, char *const *why, ax_error *err);
/* Closes; removes the file when the run completed. */
void axev_ckpt_close(axev_ckpt *c, bool completed);

#endif
