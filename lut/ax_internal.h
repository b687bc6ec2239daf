/* ax_internal.h - helpers every module of the library shares: error lines,
 * whole-file reads and all-or-nothing writes, hashing. Not installed. */
#ifndef AX_INTERNAL_H
#define AX_INTERNAL_H

#include "autoapprox/mult.h"
#include <stdarg.h>
#include <stdio.h>

#if defined(__GNUC__)
#define AX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AX_PRINTF(f, a)
#endif

/* Fills err (if not NULL) and returns -1, so callers can `return ax_fail(...)`. */
int ax_fail(ax_error *err, const char *fmt, ...) AX_PRINTF(2, 3);

/* Reads a whole regular file (at most max_len bytes, else an error naming the
 * limit); the buffer gets a terminating NUL not counted in *len. */
int ax_read_file(const char *path, size_t max_len, uint8_t **buf, size_t *len, ax_error *err);
/* Writes via a temporary file in the same folder and rename(): the file at
 * `path` is either the old one or the whole new one, never a part. */
int ax_write_file_atomic(const char *path, const void *buf, size_t len, ax_error *err);

void ax_sha256_hex(const void *data, size_t len, char hex_out[65]);
/* The last path component without its extension, truncated to fit. */
void ax_basename_noext(const char *path, char *out, size_t out_size);
/* snprintf that always terminates and never warns about truncation. */
void ax_strlcpy(char *dst, const char *src, size_t size);

#endif
