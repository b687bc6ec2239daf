/* ppa_internal.h - what the files of ppa/ share: checked arithmetic, JSON
 * reading with line numbers, small string helpers. Not installed. */
#ifndef AX_PPA_INTERNAL_H
#define AX_PPA_INTERNAL_H

#include "autoapprox/ppa.h"
#include "lut/ax_internal.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* Largest input file any ppa reader accepts. */
#define PPA_MAX_FILE (64u << 20)

static inline bool ppa_mul(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool ppa_add(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline uint64_t ppa_ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

/* A JSON input: its name and text, so errors can name the line of a key. */
typedef struct ppa_src {
    const char *what, *text;
    size_t len;
} ppa_src;

/* Parses JSON text; a syntax error names what:line. The root must be an object. */
int ppa_json_parse(const char *text, size_t len, const char *what, json_object **out, ax_error *err);
/* "what:line" when "key" occurs once in the text, else "what". */
const char *ppa_where(const ppa_src *src, const char *key, char *buf, size_t size);
/* Reads a member: absent -> 0 and *present = false; wrong type or range ->
 * error naming file:line, ctx (a path like "arrays[2].") and key. */
int ppa_json_number(json_object *o, const char *key, const ppa_src *src, const char *ctx, double min, double max,
                    double *out, bool *present, ax_error *err);
int ppa_json_string(json_object *o, const char *key, const ppa_src *src, const char *ctx, char *out, size_t size,
                    bool *present, ax_error *err);
/* Rejects members whose key is not in known (NULL-terminated); keys starting
 * with '_', "description" and "comment" are always allowed. */
int ppa_json_known_keys(json_object *o, const char *const *known, const ppa_src *src, const char *ctx, ax_error *err);

#endif
