/* import_internal.h - what the importer's files (import.c, import_parsers.c,
 * import_c_model.c, plausibility.c) share. Not installed.
 *
 * The central idea: every parser yields the table in *file order* (the file's
 * first operand major, indices as the file states them); ax_file_index says
 * where the canonical entry (a, w) lives in that order under a given reading
 * (operand types, --index, --order). Import and plausibility both use it, so
 * "re-import with other flags" and "what the importer did" cannot disagree. */
#ifndef AX_IMPORT_INTERNAL_H
#define AX_IMPORT_INTERNAL_H

#include "ax_internal.h"

#include <string.h>

/* Largest input any importer reads (after gunzip): tables are < 2 MiB even as
 * verbose text; anything near this is not a multiplier table. */
#define AX_IMPORT_MAX_BYTES ((size_t)64 << 20)

/* File-order index of canonical entry (a, w): signed operands of an
 * offset-indexed file sit at value+128 = byte ^ 0x80; with order_wa the
 * file's first operand is the weight. */
static inline unsigned ax_file_index(unsigned a, unsigned w, ax_operand act, ax_operand wgt,
                                     bool index_offset, bool order_wa)
{
    if (index_offset) {
        if (act == AX_S8) a ^= 0x80u;
        if (wgt == AX_S8) w ^= 0x80u;
    }
    return order_wa ? (w << 8 | a) : (a << 8 | w);
}

/* MAE against the exact act x wgt product of the table `file` read under
 * (act, wgt, index_offset, order_wa). Used to pick signedness and by the
 * plausibility check. */
double ax_reading_mae(const int64_t file[AX_TABLE_SIZE], ax_operand act, ax_operand wgt,
                      bool index_offset, bool order_wa);

/* ---- a small C lexer (import_parsers.c), shared with the c-model scanner -- */
typedef enum { AX_CT_END, AX_CT_IDENT, AX_CT_NUMBER, AX_CT_STRING, AX_CT_PUNCT } ax_ctok_kind;
typedef struct ax_ctok {
    ax_ctok_kind kind;
    const char *s; /* points into the text; not NUL-terminated */
    size_t n;
    unsigned line;
} ax_ctok;
typedef struct ax_clexer {
    const char *p, *end;
    unsigned line;
    bool line_start; /* only blanks since the last newline: '#' starts a directive */
} ax_clexer;
void ax_clex_init(ax_clexer *lx, const char *text, size_t len);
/* Skips blanks, comments and preprocessor lines; never reads past the end. */
ax_ctok ax_clex_next(ax_clexer *lx);
static inline bool ax_ctok_is(const ax_ctok *t, const char *s)
{
    size_t n = strlen(s);
    return t->n == n && memcmp(t->s, s, n) == 0;
}
/* Whether `text` holds a [256][256] (or [65536]) array initializer. */
bool ax_c_has_table_initializer(const char *text, size_t len);

/* ---- c-model (import_c_model.c) ------------------------------------------ */
typedef struct ax_cmodel_fn {
    char name[128];
    char ret_type[64];
    char param_type[2][64];
    int param_sign8[2];      /* +1 int8_t-like, -1 uint8_t-like, 0 wider or unknown */
    bool param_unsigned[2];  /* declared with an unsigned type of any width */
} ax_cmodel_fn;

/* Finds the two-argument function `want` (NULL: the only one) in a C file.
 * Returns the number of two-argument functions found through *n_found (may be
 * NULL) even on error, so detection can ask "is there any?". */
int ax_cmodel_find(const char *text, size_t len, const char *want, ax_cmodel_fn *fn, int *n_found,
                   const char *what, ax_error *err);
/* EvoApproxLib header comments: "// PDK45_PWR = 0.422 mW" and friends. */
void ax_cmodel_hw_figures(const char *text, size_t len, ax_hw_figures *hw);

typedef struct ax_cmodel ax_cmodel;
typedef struct ax_cmodel_ret {
    int size;        /* sizeof the return type */
    bool is_signed;
    bool is_float;
} ax_cmodel_ret;
/* Compiles the file with a tabulating wrapper into a temporary shared object
 * and loads it; the temporary folder is gone when this returns. */
int ax_cmodel_build(const char *path, const ax_cmodel_fn *fn, ax_cmodel **out, ax_error *err);
ax_cmodel_ret ax_cmodel_return_type(const ax_cmodel *cm);
/* out[x*256 + y] = f(arg(x), arg(y)), arg = the byte, or its int8 value when
 * signed_arg[k]; float results must be integral (else -1). */
int ax_cmodel_run(ax_cmodel *cm, const bool signed_arg[2], int64_t out[AX_TABLE_SIZE],
                  const char *what, ax_error *err);
void ax_cmodel_close(ax_cmodel *cm);

#endif
