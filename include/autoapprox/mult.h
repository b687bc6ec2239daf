/* mult.h - approximate 8-bit multipliers as tables: the public API of lut/.
 *
 * A multiplier is a function of two raw operand bytes. Its canonical form is
 * int32 table[65536] indexed a*256 + w, a = activation byte, w = weight byte,
 * both raw (two's complement for s8: the index of -1 is 255). Every other form
 * a kernel wants is derived from this table. */
#ifndef AUTOAPPROX_MULT_H
#define AUTOAPPROX_MULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AX_TABLE_SIZE 65536
#define AX_NAME_MAX 64
#define AX_PROVENANCE_MAX 512
#define AX_NODE_MAX 32
#define AX_ERROR_MAX 512

/* Every fallible call fills one of these: a single line naming the input and
 * the problem, ready to print. */
typedef struct ax_error {
    char msg[AX_ERROR_MAX];
} ax_error;

typedef enum ax_operand { AX_S8 = 0, AX_U8 = 1 } ax_operand;

/* Published or synthesized hardware figures; NaN means unknown. */
typedef struct ax_hw_figures {
    double power_mw;
    double area_um2;
    double delay_ns;
    char node[AX_NODE_MAX]; /* technology node, e.g. "45nm"; "" unknown */
} ax_hw_figures;

typedef struct ax_mult {
    char name[AX_NAME_MAX];
    ax_operand act; /* first operand: the activation */
    ax_operand wgt; /* second operand: the weight */
    /* How the table came to be: "family=trunc-s8 k=6", or
     * "import=c-model file=mul8s_1L2J.c sha256=<hex> function=mul8s_1L2J". */
    char provenance[AX_PROVENANCE_MAX];
    ax_hw_figures hw;
    int32_t table[AX_TABLE_SIZE];
} ax_mult;

/* ---- objects ---------------------------------------------------------- */
ax_mult *ax_mult_new(void);  /* zeroed table, hardware figures NaN; NULL on OOM */
void ax_mult_free(ax_mult *m);
const char *ax_operand_name(ax_operand t); /* "s8" / "u8" */
int ax_operand_parse(const char *s, ax_operand *out); /* 0 ok, -1 unknown */
/* The integer value of a raw byte under an operand type (s8: -128..127). */
static inline int ax_operand_value(ax_operand t, unsigned byte)
{
    return t == AX_S8 ? (int)(int8_t)(uint8_t)byte : (int)(uint8_t)byte;
}
/* exact product of two raw bytes under the multiplier's operand types */
static inline int32_t ax_exact_product(ax_operand act, ax_operand wgt, unsigned a, unsigned w)
{
    return (int32_t)(ax_operand_value(act, a) * ax_operand_value(wgt, w));
}
/* True when the table equals the exact product everywhere. */
bool ax_mult_is_exact(const ax_mult *m);
/* sha256 of the table as 65536 little-endian int32, as 64 lowercase hex. */
void ax_mult_table_sha256(const ax_mult *m, char hex_out[65]);

/* ---- the .axm file ------------------------------------------------------ */
/* Writes whole or not at all (temporary file in the same folder + rename). */
int ax_mult_save(const ax_mult *m, const char *path, ax_error *err);
int ax_mult_load(const char *path, ax_mult **out, ax_error *err);
/* The same on memory; `what` names the input in error messages. */
int ax_mult_decode_axm(const uint8_t *buf, size_t len, const char *what, ax_mult **out, ax_error *err);
/* Returns a malloc'ed buffer (caller frees) and its length in *len. */
uint8_t *ax_mult_encode_axm(const ax_mult *m, size_t *len, ax_error *err);

/* ---- built-in families -------------------------------------------------- */
typedef struct ax_family_param {
    const char *key;
    int min, max, def;
    const char *meaning; /* one line, says which direction approximates more */
} ax_family_param;

typedef struct ax_family_info {
    const char *name;        /* "trunc" */
    const char *summary;     /* one line with the published source */
    const ax_family_param *params;
    size_t n_params;
} ax_family_info;

size_t ax_family_count(void);
const ax_family_info *ax_family_at(size_t i);
const ax_family_info *ax_family_find(const char *name);

/* Builds a multiplier from a spec "family-s8:k=v,...", "family-u8:...",
 * "family-u8s8:..." (u8 activation, s8 weight). Unknown family, operand
 * suffix, parameter or out-of-range value is an error. */
int ax_mult_from_family_spec(const char *spec, ax_mult **out, ax_error *err);

/* Resolves any SPEC users may give: a built-in spec, an .axm file, any file
 * the importer can auto-detect (default import options), or a named
 * multiplier (see below). */
int ax_mult_resolve(const char *spec, ax_mult **out, ax_error *err);

/* Named multipliers are tables found by name (file name without extension)
 * in the folders of $AX_MULT_PATH (colon-separated: NAME.axm) and in the
 * EvoApproxLib reference folder ($AX_EVOAPPROX_DIR, else the build's default;
 * NAME.bin.gz with its manifest.csv figures). Calls fn once per name. */
typedef void (*ax_named_fn)(const char *name, const char *path, void *ctx);
void ax_mult_list_named(ax_named_fn fn, void *ctx);
/* Loads an EvoApproxLib reference table (NAME.bin.gz: 65536 LE int32,
 * signed ones indexed by value+128) with the manifest's published figures. */
int ax_mult_load_evoapprox(const char *path, ax_mult **out, ax_error *err);

/* ---- importers ------------------------------------------------------------ */
typedef enum ax_import_format {
    AX_FMT_AUTO = 0, AX_FMT_AXM, AX_FMT_RAW_I32, AX_FMT_RAW_I16, AX_FMT_RAW_U16,
    AX_FMT_NPY, AX_FMT_C_HEADER, AX_FMT_CSV, AX_FMT_TEXT, AX_FMT_C_MODEL
} ax_import_format;

typedef enum ax_signedness { AX_SIGN_AUTO = 0, AX_SIGN_SIGNED, AX_SIGN_UNSIGNED } ax_signedness;

typedef struct ax_import_options {
    ax_import_format format;   /* AUTO: detect from extension and content */
    bool big_endian;           /* raw and npy-without-order formats */
    bool index_offset;         /* signed table indexed by value+128 (EvoApproxLib) */
    bool order_wa;             /* the file's first operand is the weight */
    ax_signedness sign;        /* AUTO: from the format's evidence, else unsigned */
    bool mixed_u8s8;           /* u8 activation x s8 weight */
    int64_t value_offset;      /* subtracted from every stored value (e.g. 32768) */
    const char *function;      /* c-model: which function; NULL = the only one */
    const char *name;          /* NULL: the file name without extension */
    ax_hw_figures hw;          /* NaN/"" = not given; overrides what the file says */
} ax_import_options;

void ax_import_options_init(ax_import_options *o);
const char *ax_import_format_name(ax_import_format f);
int ax_import_format_parse(const char *s, ax_import_format *out);

int ax_mult_import(const char *path, const ax_import_options *opt, ax_mult **out, ax_error *err);
/* The same, also returning what the importer noticed but could handle (e.g. a
 * signed C model declared with unsigned types): up to max_warnings lines.
 * Plausibility warnings are not among them: call ax_mult_plausibility. */
int ax_mult_import_ex(const char *path, const ax_import_options *opt, ax_mult **out,
                      char warnings[][AX_ERROR_MAX], int max_warnings, int *n_warnings, ax_error *err);

/* Parsers on memory (what the fuzzers drive). Each fills a 65536-entry table
 * in file order (first operand major) as the file states it: no re-indexing,
 * no sign handling; `what` names the input in errors. */
int ax_parse_raw(const uint8_t *buf, size_t len, ax_import_format f, bool big_endian,
                 int64_t table_out[AX_TABLE_SIZE], const char *what, ax_error *err);
int ax_parse_npy(const uint8_t *buf, size_t len, int64_t table_out[AX_TABLE_SIZE],
                 bool *is_signed_dtype, const char *what, ax_error *err);
int ax_parse_c_header(const char *text, size_t len, int64_t table_out[AX_TABLE_SIZE],
                      bool *is_signed_type, const char *what, ax_error *err);
int ax_parse_csv(const char *text, size_t len, int64_t table_out[AX_TABLE_SIZE],
                 bool *saw_negative_operand, const char *what, ax_error *err);
int ax_parse_text_matrix(const char *text, size_t len, int64_t table_out[AX_TABLE_SIZE],
                         const char *what, ax_error *err);

/* ---- plausibility -------------------------------------------------------- */
/* Compares a freshly imported table with the exact product per operand-sign
 * quadrant and under the alternative readings (transposed, other indexing,
 * other signedness). Writes a human report to `report` (may be NULL) and
 * returns the number of warnings. */
typedef struct ax_plausibility {
    double quadrant_mae[4]; /* a>=0,w>=0 | a>=0,w<0 | a<0,w>=0 | a<0,w<0 */
    double overall_mae;
    int n_warnings;
    char warnings[4][AX_ERROR_MAX];
} ax_plausibility;
void ax_mult_plausibility(const ax_mult *m, ax_plausibility *out);

/* ---- error metrics --------------------------------------------------------- */
typedef struct ax_metrics {
    double mae;       /* mean |approx - exact| */
    double wce;       /* max |approx - exact| */
    double ep;        /* % of pairs with an error */
    double mre;       /* % mean |e|/|exact| over exact != 0 */
    double mse;       /* mean e^2 */
    double bias;      /* mean e */
    double variance;  /* mean (e - bias)^2 */
    double mae_pct;   /* mae as % of 2^16 */
    double wce_pct;   /* wce as % of 2^16 */
    int64_t wce_signed; /* the signed error of largest magnitude (first found) */
} ax_metrics;

void ax_mult_metrics(const ax_mult *m, ax_metrics *out);
/* The same, with pair (a,w) weighted by hist_a[a]*hist_w[w] (raw-byte bins,
 * any non-negative counts, not all zero). Returns -1 when all weights are 0. */
int ax_mult_metrics_weighted(const ax_mult *m, const double hist_a[256],
                             const double hist_w[256], ax_metrics *out);

#ifdef __cplusplus
}
#endif
#endif
