/* cache.c - the preprocessed-item cache of `eval --cache DIR`: the exact
 * bytes an item's float stage starts from (resized, cropped pixels: 150 KB
 * per 224x224 RGB image, a quarter of the floats, and the floats follow
 * bit-exactly), in chunk files of ~16 MB under DIR/<source key>/, so a
 * different listing or preprocessing never meets another's cache.
 *
 * chunk-NNNNNN.axc: "AXCACHE1", key (64 hex), u64 item_bytes, chunk_items,
 * chunk index, n; n status bytes (1 = unreadable item); n items; crc32 of
 * all before it. Written whole or not at all once every item of the chunk
 * is known; a file that fails any check is reported and rebuilt. */
#include "eval_internal.h"

#include "lut/ax_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define CHUNK_BYTES ((size_t)16 << 20)
#define HDR (8 + 64 + 4 * 8)
enum { UNKNOWN, OPENING, HIT, MISS, WRITTEN };

typedef struct chunk {
    int state;
    uint8_t *buf;       /* HIT: the file; MISS and writable: the file being gathered */
    size_t start, n;    /* first item of the chunk; items in buf */
    size_t lo, hi;      /* the run's items in this chunk */
    size_t count;       /* HIT: items handed out; MISS: items put */
    bool writable;      /* the run covers the chunk from its first item */
} chunk;

struct axev_cache {
    char *dir;
    char key[65];
    size_t item_bytes, per_chunk, chunk0, n_chunks;
    chunk *ch;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const ax_eval_options *o;
    bool write_failed;
};

size_t axev_cache_chunk_items(size_t item_bytes)
{
    size_t n = item_bytes ? CHUNK_BYTES / item_bytes : 1;
    return n ? n : 1;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static size_t file_size(const axev_cache *c, size_t n)
{
    return HDR + n + n * c->item_bytes + 4;
}

static void chunk_path(const axev_cache *c, size_t k, char *out, size_t size)
{
    snprintf(out, size, "%s/chunk-%06zu.axc", c->dir, c->chunk0 + k);
}

int axev_cache_open(const char *dir, const char *key, size_t item_bytes, size_t first, size_t end,
                    const ax_eval_options *o, axev_cache **out, ax_error *err)
{
    axev_cache *c = calloc(1, sizeof *c);
    size_t len = strlen(dir) + 70;
    if (!c || !(c->dir = malloc(len))) return free(c), ax_fail(err, "cache %s: out of memory", dir);
    snprintf(c->dir, len, "%s/%s", dir, key);
    if ((mkdir(dir, 0777) != 0 && errno != EEXIST) || (mkdir(c->dir, 0777) != 0 && errno != EEXIST)) {
        ax_fail(err, "cache %s: cannot create folder: %s", c->dir, strerror(errno));
        free(c->dir), free(c);
        return -1;
    }
    ax_strlcpy(c->key, key, sizeof c->key);
    c->item_bytes = item_bytes, c->per_chunk = axev_cache_chunk_items(item_bytes), c->o = o;
    c->chunk0 = first / c->per_chunk;
    c->n_chunks = end > first ? (end - 1) / c->per_chunk - c->chunk0 + 1 : 0;
    c->ch = calloc(c->n_chunks ? c->n_chunks : 1, sizeof *c->ch);
    if (!c->ch) return free(c->dir), free(c), ax_fail(err, "cache %s: out of memory", dir);
    for (size_t k = 0; k < c->n_chunks; k++) {
        chunk *h = &c->ch[k];
        h->start = (c->chunk0 + k) * c->per_chunk;
        h->lo = h->start > first ? h->start : first;
        h->hi = h->start + c->per_chunk < end ? h->start + c->per_chunk : end;
        h->writable = h->start >= first;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return 0;
}

/* The chunk file when it exists, is sound and covers the run's items;
 * NULL otherwise (a damaged file is reported). */
static uint8_t *read_chunk(axev_cache *c, size_t k, size_t *n_out)
{
    char path[4200];
    chunk_path(c, k, path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0) return NULL;
    uint8_t *b;
    size_t len, n = 0;
    ax_error err;
    const chunk *h = &c->ch[k];
    const char *why = NULL;
    if (ax_read_file(path, file_size(c, c->per_chunk), &b, &len, &err) != 0) {
        axev_warn(c->o, "cache: %s; rebuilding it", err.msg);
        return NULL;
    }
    if (len < HDR + 4 || memcmp(b, "AXCACHE1", 8) || memcmp(b + 8, c->key, 64)) why = "not a chunk of this cache";
    else if (get_u64(b + 72) != c->item_bytes || get_u64(b + 80) != c->per_chunk || get_u64(b + 88) != c->chunk0 + k)
        why = "header does not match its place";
    else if ((n = (size_t)get_u64(b + 96)) > c->per_chunk || len != file_size(c, n)) why = "truncated or oversized";
    else if (crc32_z(0L, b, len - 4) != (uLong)(b[len - 4] | b[len - 3] << 8 | b[len - 2] << 16 | (uLong)b[len - 1] << 24))
        why = "checksum mismatch";
    if (why) axev_warn(c->o, "cache: %s: %s; rebuilding it", path, why);
    if (why || h->start + n < h->hi) { /* damaged, or written by a shorter run */
        free(b);
        return NULL;
    }
    *n_out = n;
    return b;
}

static void open_chunk(axev_cache *c, chunk *h, size_t k)
{
    h->state = OPENING;
    pthread_mutex_unlock(&c->mu);
    size_t n = 0;
    uint8_t *b = read_chunk(c, k, &n);
    bool hit = b != NULL;
    if (!hit && h->writable) {
        n = h->hi - h->start;
        b = malloc(file_size(c, n)); /* no memory: this chunk just is not cached */
    }
    pthread_mutex_lock(&c->mu);
    h->state = hit ? HIT : MISS;
    h->buf = b, h->n = n;
    pthread_cond_broadcast(&c->cv);
}

int axev_cache_get(axev_cache *c, size_t i, uint8_t *out, bool *bad)
{
    size_t k = i / c->per_chunk - c->chunk0;
    chunk *h = &c->ch[k];
    pthread_mutex_lock(&c->mu);
    while (h->state == OPENING) pthread_cond_wait(&c->cv, &c->mu);
    if (h->state == UNKNOWN) open_chunk(c, h, k);
    if (h->state != HIT) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    size_t j = i - h->start;
    *bad = h->buf[HDR + j] != 0;
    memcpy(out, h->buf + HDR + h->n + j * c->item_bytes, c->item_bytes);
    pthread_mutex_lock(&c->mu);
    if (++h->count == h->hi - h->lo) { /* every item handed out: let it go */
        free(h->buf);
        h->buf = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    return 1;
}

static void write_chunk(axev_cache *c, size_t k, uint8_t *b, size_t n)
{
    memcpy(b, "AXCACHE1", 8);
    memcpy(b + 8, c->key, 64);
    put_u64(b + 72, c->item_bytes), put_u64(b + 80, c->per_chunk), put_u64(b + 88, c->chunk0 + k), put_u64(b + 96, n);
    size_t len = file_size(c, n);
    uLong crc = crc32_z(0L, b, len - 4);
    for (int i = 0; i < 4; i++) b[len - 4 + i] = (uint8_t)(crc >> (8 * i));
    char path[4200];
    chunk_path(c, k, path, sizeof path);
    ax_error err;
    if (ax_write_file_atomic(path, b, len, &err) != 0) {
        pthread_mutex_lock(&c->mu);
        bool first = !c->write_failed;
        c->write_failed = true;
        pthread_mutex_unlock(&c->mu);
        if (first) axev_warn(c->o, "cache: %s; items are not cached", err.msg);
    }
}

void axev_cache_put(axev_cache *c, size_t i, const uint8_t *px, bool bad)
{
    size_t k = i / c->per_chunk - c->chunk0;
    chunk *h = &c->ch[k];
    pthread_mutex_lock(&c->mu);
    bool keep = h->state == MISS && h->buf;
    pthread_mutex_unlock(&c->mu);
    if (!keep) return;
    size_t j = i - h->start;
    h->buf[HDR + j] = bad;
    if (bad) memset(h->buf + HDR + h->n + j * c->item_bytes, 0, c->item_bytes);
    else memcpy(h->buf + HDR + h->n + j * c->item_bytes, px, c->item_bytes);
    pthread_mutex_lock(&c->mu);
    uint8_t *done = ++h->count == h->hi - h->lo ? h->buf : NULL;
    if (done) h->buf = NULL, h->state = WRITTEN;
    pthread_mutex_unlock(&c->mu);
    if (done) {
        write_chunk(c, k, done, h->n);
        free(done);
    }
}

void axev_cache_close(axev_cache *c)
{
    if (!c) return;
    for (size_t k = 0; k < c->n_chunks; k++) free(c->ch[k].buf);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->ch), free(c->dir), free(c);
}
