/* checkpoint.c - resumable evaluation: an append-only log of the batches a
 * run has completed, so a run killed at any moment and started again with
 * the same arguments continues where it stopped and ends with the same
 * per-item results as an uninterrupted run.
 *
 * File: "AXCKPT01", the run's id (64 hex: network, multipliers, source key,
 * range, logits kept or not), crc32; then records "REC1", u64 offset, u64 n,
 * u32 skipped, u32 rank[n], skipped x (u64 row, u32 len, message), float32
 * logits[n x classes] when kept, crc32. Appending one record per batch costs
 * O(batch); a record torn by a kill fails its crc and is cut off on resume.
 * A file with another id is replaced (another run), and removed on success. */
#include "eval_internal.h"

#include "lut/ax_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define HEAD (8 + 64 + 4)

struct axev_ckpt {
    int fd;
    char *path;
    size_t count, classes;
    bool logits;
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v), put32(p + 4, (uint32_t)(v >> 32));
}

/* Parses the record at b (len bytes left) continuing at *done; its length,
 * or 0 when it is torn, damaged or out of place. */
static size_t parse_record(const axev_ckpt *c, const uint8_t *b, size_t len, size_t done, ax_eval_result *r,
                           char **why)
{
    if (len < 24 || memcmp(b, "REC1", 4)) return 0;
    uint64_t off = get64(b + 4), n = get64(b + 12), ns = get32(b + 20);
    if (off != done || n == 0 || n > c->count - done || ns > n || 24 + 4 * n > len) return 0;
    size_t p = 24 + 4 * (size_t)n;
    for (uint64_t s = 0; s < ns; s++) {
        if (p + 12 > len || get64(b + p) >= n || get32(b + p + 8) > len - p - 12) return 0;
        p += 12 + get32(b + p + 8);
    }
    size_t lb = c->logits ? (size_t)n * c->classes * 4 : 0;
    if (lb > len - p || len - p - lb < 4 || get32(b + p + lb) != (uint32_t)crc32_z(0L, b, p + lb)) return 0;
    for (size_t j = 0; j < n; j++) r->rank[done + j] = get32(b + 24 + 4 * j);
    p = 24 + 4 * (size_t)n;
    for (uint64_t s = 0; s < ns; s++) {
        size_t row = done + (size_t)get64(b + p), l = get32(b + p + 8);
        free(why[row]);
        if ((why[row] = malloc(l + 1))) memcpy(why[row], b + p + 12, l), why[row][l] = 0;
        p += 12 + l;
    }
    if (c->logits) memcpy(r->logits + done * c->classes, b + p, lb);
    return p + lb + 4;
}

static int start_over(axev_ckpt *c, const char *id, ax_error *err)
{
    uint8_t h[HEAD];
    memcpy(h, "AXCKPT01", 8);
    memcpy(h + 8, id, 64);
    put32(h + 72, (uint32_t)crc32_z(0L, h, 72));
    return ax_write_file_atomic(c->path, h, HEAD, err);
}

/* Restores what the file at c->path holds; the valid length, 0 if none. */
static size_t restore(axev_ckpt *c, const char *id, const ax_eval_options *o, ax_eval_result *r, char **why,
                      size_t *done)
{
    uint8_t *b;
    size_t len, at = HEAD;
    ax_error err;
    struct stat st;
    *done = 0;
    if (stat(c->path, &st) != 0) return 0;
    if (ax_read_file(c->path, (size_t)1 << 40, &b, &len, &err) != 0) {
        axev_warn(o, "checkpoint: %s; starting over", err.msg);
        return 0;
    }
    if (len < HEAD || memcmp(b, "AXCKPT01", 8) || get32(b + 72) != (uint32_t)crc32_z(0L, b, 72)) {
        axev_warn(o, "checkpoint %s: not a checkpoint or damaged; starting over", c->path);
        free(b);
        return 0;
    }
    if (memcmp(b + 8, id, 64)) {
        axev_warn(o, "checkpoint %s: made by another run (model, multipliers, data, --limit or --save-logits "
                  "differ); starting over", c->path);
        free(b);
        return 0;
    }
    for (size_t n; at < len && (n = parse_record(c, b + at, len - at, *done, r, why)); at += n)
        *done += (size_t)get64(b + at + 12);
    free(b);
    if (*done) axev_warn(o, "checkpoint %s: resuming after %zu of %zu items", c->path, *done, c->count);
    return at;
}

int axev_ckpt_open(const char *path, const char *id, const ax_eval_options *o, ax_eval_result *r, char **why,
                   size_t *done, axev_ckpt **out, ax_error *err)
{
    axev_ckpt *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) return free(c), ax_fail(err, "checkpoint %s: out of memory", path);
    c->count = r->count, c->classes = r->classes, c->logits = r->logits != NULL, c->fd = -1;
    size_t valid = restore(c, id, o, r, why, done);
    if (valid == 0 && start_over(c, id, err) != 0) {
        free(c->path), free(c);
        return -1;
    }
    c->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (c->fd < 0 || (valid && ftruncate(c->fd, (off_t)valid) != 0)) {
        ax_fail(err, "checkpoint %s: %s", path, strerror(errno));
        axev_ckpt_close(c, false);
        return -1;
    }
    *out = c;
    return 0;
}

int axev_ckpt_append(axev_ckpt *c, size_t off, size_t n, const ax_eval_result *r, char *const *why, ax_error *err)
{
    size_t len = 24 + 4 * n + (c->logits ? n * c->classes * 4 : 0) + 4, ns = 0;
    for (size_t j = off; j < off + n; j++)
        if (why[j]) len += 12 + strlen(why[j]), ns++;
    uint8_t *b = malloc(len), *p;
    if (!b) return ax_fail(err, "checkpoint %s: out of memory", c->path);
    memcpy(b, "REC1", 4), put64(b + 4, off), put64(b + 12, n), put32(b + 20, (uint32_t)ns);
    for (size_t j = 0; j < n; j++) put32(b + 24 + 4 * j, r->rank[off + j]);
    p = b + 24 + 4 * n;
    for (size_t j = 0; j < n; j++) {
        if (!why[off + j]) continue;
        uint32_t l = (uint32_t)strlen(why[off + j]);
        put64(p, j), put32(p + 8, l), memcpy(p + 12, why[off + j], l);
        p += 12 + l;
    }
    if (c->logits) memcpy(p, r->logits + off * c->classes, n * c->classes * 4), p += n * c->classes * 4;
    put32(p, (uint32_t)crc32_z(0L, b, (size_t)(p - b)));
    int rc = 0;
    for (size_t w = 0; w < len && rc == 0;) {
        ssize_t k = write(c->fd, b + w, len - w);
        if (k < 0 && errno != EINTR) rc = ax_fail(err, "checkpoint %s: %s", c->path, strerror(errno));
        else if (k > 0) w += (size_t)k;
    }
    free(b);
    return rc;
}

void axev_ckpt_close(axev_ckpt *c, bool completed)
{
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    if (completed) unlink(c->path);
    free(c->path), free(c);
}
