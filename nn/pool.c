/* pool.c - activation buffers a quantized runtime reuses from run to run:
 * a run takes the smallest free buffer that fits and gives it back when the
 * value is no longer needed, so steady-state runs allocate nothing (no page
 * faults, no zeroing of fresh pages by the kernel on every batch). Without a
 * pool (the float reference) the same calls fall back to plain allocation.
 * Each buffer carries its capacity in a 64-byte header.
 *
 * Large buffers (activations, scratch) come from axnn_big_alloc: on Linux
 * their own mapping, asked for transparent huge pages. A runtime's first run
 * touches all of its buffers (at batch 256 ~0.6 GB for MobileNetV2, ~1 GB
 * for ResNet-50), and on the VMs we measured a first touch costs ~10 us per
 * 4 KiB page: 1.2-1.9 s per runtime, which the router pays on every
 * evaluation. 2 MiB pages fault in 512 times less often. */
#include "nn_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define HEADER 64
#define HUGE_PAGE ((size_t)2 << 20)
#define BIG_BYTES ((size_t)4 << 20) /* below: malloc's heap, pages shared with other blocks */

static size_t huge_round(size_t bytes) { return (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE; }

void *axnn_big_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - 2 * HUGE_PAGE) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= BIG_BYTES) {
        /* over-map by one huge page and trim, so the buffer starts on a
         * 2 MiB boundary: only whole aligned 2 MiB ranges get huge pages */
        size_t len = huge_round(bytes), span = len + HUGE_PAGE;
        char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return NULL;
        size_t head = (HUGE_PAGE - (uintptr_t)m % HUGE_PAGE) % HUGE_PAGE;
        if (head) munmap(m, head);
        if (span - head - len) munmap(m + head + len, span - head - len);
        (void)madvise(m + head, len, MADV_HUGEPAGE); /* a hint: without THP, 4 KiB pages */
        return m + head;
    }
#endif
    return aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
}

void axnn_big_free(void *p, size_t bytes)
{
    if (!p) return;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= BIG_BYTES) {
        munmap(p, huge_round(bytes));
        return;
    }
#endif
    free(p);
}

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
    char *b = axnn_big_alloc(bytes + HEADER);
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
    else axnn_big_free(b, *(size_t *)b + HEADER);
}

void axnn_pool_free(axnn_pool *p)
{
    for (size_t i = 0; i < p->n; i++) axnn_big_free(p->free[i], *(size_t *)p->free[i] + HEADER);
    free(p->free);
    memset(p, 0, sizeof *p);
}
