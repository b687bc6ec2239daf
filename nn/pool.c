/* pool.c - activation buffers a quantized runtime reuses from run to run:
 * a run takes the smallest free buffer that fits and gives it back when the
 * value is no longer needed, so steady-state runs allocate nothing (no page
 * faults, no zeroing of fresh pages by the kernel on every batch). Without a
 * pool (the float reference) the same calls fall back to malloc/free. Each
 * buffer carries its capacity in a 64-byte header. */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

#define HEADER 64

void *axnn_pool_alloc(axnn_pool *p, size_t bytes)
{
    if (p) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < p->n; i++) {
            size_t cap = *(size_t *)p->free[i];
            if (cap >= bytes && (best == SIZE_MAX || cap < *(size_t *)p->free[best])) best = i;
        }
        if (best != SIZE_MAX) {
            char *b = p->free[best];
            p->free[best] = p->free[--p->n];
            return b + HEADER;
        }
    }
    if (bytes > SIZE_MAX - HEADER) return NULL;
    char *b = malloc(bytes + HEADER);
    if (!b) return NULL;
    memcpy(b, &bytes, sizeof bytes);
    return b + HEADER;
}

void axnn_pool_give(axnn_pool *p, void *ptr)
{
    if (!ptr) return;
    char *b = (char *)ptr - HEADER;
    if (p && p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 32;
        void **f = realloc(p->free, cap * sizeof *f);
        if (f) p->free = f, p->cap = cap;
    }
    if (p && p->n < p->cap) p->free[p->n++] = b;
    else free(b);
}

void axnn_pool_free(axnn_pool *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->free[i]);
    free(p->free);
    memset(p, 0, sizeof *p);
}
