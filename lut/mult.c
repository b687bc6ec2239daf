/* mult.c - the ax_mult object and the small helpers every module shares
 * (errors, whole-file reads, all-or-nothing writes). libc only: the aarch64
 * kernel test compiles it as it is (hashing lives in hash.c). */
#include "ax_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ax_mult *ax_mult_new(void)
{
    ax_mult *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->hw.power_mw = m->hw.area_um2 = m->hw.delay_ns = NAN;
    return m;
}

void ax_mult_free(ax_mult *m) { free(m); }

const char *ax_operand_name(ax_operand t) { return t == AX_S8 ? "s8" : "u8"; }

int ax_operand_parse(const char *s, ax_operand *out)
{
    if (strcmp(s, "s8") == 0) { *out = AX_S8; return 0; }
    if (strcmp(s, "u8") == 0) { *out = AX_U8; return 0; }
    return -1;
}

bool ax_mult_is_exact(const ax_mult *m)
{
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
        if (m->table[i] != ax_exact_product(m->act, m->wgt, i >> 8, i & 255)) return false;
    return true;
}

int ax_fail(ax_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ax_read_file(const char *path, size_t max_len, uint8_t **buf, size_t *len, ax_error *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ax_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ax_fail(err, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_len) {
        fclose(f);
        return ax_fail(err, "%s: file too large (%lld bytes, at most %zu expected)", path,
                       (long long)st.st_size, max_len);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n + 1);
    if (!b) {
        fclose(f);
        return ax_fail(err, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(b, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(b);
        return ax_fail(err, "%s: read error", path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

int ax_write_file_atomic(const char *path, const void *buf, size_t len, ax_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return ax_fail(err, "%s: out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return ax_fail(err, "%s: cannot create: %s", path, strerror(e));
    }
    const uint8_t *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return ax_fail(err, "%s: write failed: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    /* mkstemp makes 0600; output files should look like any other file. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ax_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}

void ax_strlcpy(char *dst, const char *src, size_t size)
{
    if (size == 0) return;
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

void ax_basename_noext(const char *path, char *out, size_t out_size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    ax_strlcpy(out, base, out_size);
    /* "mul8s_1KV8_v1.1.bin.gz" -> "mul8s_1KV8_v1.1": a compression suffix, then one extension. */
    size_t n = strlen(out);
    if (n > 3 && strcmp(out + n - 3, ".gz") == 0) out[n - 3] = 0;
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}
