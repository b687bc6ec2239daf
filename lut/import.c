/* import.c - `mult import`: reads a multiplier table in any supported format
 * (raw binaries, gzip'ed or not, .npy, C header, CSV, text matrix, C model,
 * .axm), detects the format when not given, and turns the file's table into
 * the canonical one: int32 table[a*256 + w], raw operand bytes.
 *
 * Parsers (import_parsers.c, import_c_model.c) deliver the table in file
 * order; this file decides what the file meant (operand types, indexing,
 * order, value offset), applies it through ax_file_index, checks ranges and
 * writes the provenance. It never prints: warnings go to the caller. */
#include "import_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

typedef enum sign_evidence { EV_NONE = 0, EV_SIGNED, EV_UNSIGNED } sign_evidence;

typedef struct import_ctx {
    const char *path;
    const ax_import_options *opt;
    uint8_t *file;    /* the bytes on disk (hashed for provenance) */
    size_t file_len;
    uint8_t *data;    /* after gunzip; == file otherwise; NUL-terminated */
    size_t len;
    bool gz;
    char base[256];   /* file name with extensions */
    char ext[16];     /* last extension (after .gz), lowercase, with the dot */
    ax_import_format fmt;
    char (*warnings)[AX_ERROR_MAX];
    int max_warnings, n_warnings;
} import_ctx;

static const char *const format_names[] = {"auto", "axm", "raw-i32", "raw-i16", "raw-u16",
                                           "npy", "c-header", "csv", "text", "c-model"};

void ax_import_options_init(ax_import_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = AX_FMT_AUTO;
    o->sign = AX_SIGN_AUTO;
    o->hw.power_mw = o->hw.area_um2 = o->hw.delay_ns = NAN;
}

const char *ax_import_format_name(ax_import_format f)
{
    return (unsigned)f < sizeof format_names / sizeof *format_names ? format_names[f] : "unknown";
}

int ax_import_format_parse(const char *s, ax_import_format *out)
{
    for (unsigned i = 0; i < sizeof format_names / sizeof *format_names; i++)
        if (!strcmp(s, format_names[i])) {
            *out = (ax_import_format)i;
            return 0;
        }
    return -1;
}

static void warn(import_ctx *c, const char *fmt, ...) AX_PRINTF(2, 3);
static void warn(import_ctx *c, const char *fmt, ...)
{
    if (!c->warnings || c->n_warnings >= c->max_warnings) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->warnings[c->n_warnings++], AX_ERROR_MAX, fmt, ap);
    va_end(ap);
}

/* ---- reading the file ---------------------------------------------------------- */

static int read_gzip(import_ctx *c, ax_error *err)
{
    gzFile gz = gzopen(c->path, "rb");
    if (!gz) return ax_fail(err, "%s: cannot open as gzip", c->path);
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap + 1);
    int n = 0;
    while (buf && (n = gzread(gz, buf + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)n;
        if (len == cap && cap < AX_IMPORT_MAX_BYTES) {
            uint8_t *bigger = realloc(buf, 2 * cap + 1);
            if (!bigger) { free(buf); buf = NULL; break; }
            buf = bigger;
            cap *= 2;
        } else if (len == cap) {
            break;
        }
    }
    int errnum = Z_OK;
    const char *msg = buf && n < 0 ? gzerror(gz, &errnum) : "";
    int rc = !buf ? ax_fail(err, "%s: out of memory decompressing", c->path)
           : n < 0 ? ax_fail(err, "%s: corrupt gzip data: %s", c->path, msg)
           : len == cap ? ax_fail(err, "%s: decompresses to more than %zu bytes: not a multiplier table", c->path,
                                  (size_t)AX_IMPORT_MAX_BYTES)
           : 0;
    gzclose(gz);
    if (rc != 0) { free(buf); return -1; }
    buf[len] = 0;
    c->data = buf;
    c->len = len;
    return 0;
}

static void name_parts(import_ctx *c)
{
    const char *b = strrchr(c->path, '/');
    ax_strlcpy(c->base, b ? b + 1 : c->path, sizeof c->base);
    char inner[256];
    ax_strlcpy(inner, c->base, sizeof inner);
    size_t n = strlen(inner);
    if (n > 3 && !strcasecmp(inner + n - 3, ".gz")) inner[n - 3] = 0;
    const char *dot = strrchr(inner, '.');
    ax_strlcpy(c->ext, dot && strlen(dot) < sizeof c->ext ? dot : "", sizeof c->ext);
    for (char *p = c->ext; *p; p++) *p = (char)tolower((unsigned char)*p);
}

static int load_input(import_ctx *c, ax_error *err)
{
    if (ax_read_file(c->path, AX_IMPORT_MAX_BYTES, &c->file, &c->file_len, err) != 0) return -1;
    c->data = c->file;
    c->len = c->file_len;
    c->gz = c->file_len >= 2 && c->file[0] == 0x1f && c->file[1] == 0x8b;
    name_parts(c);
    return c->gz ? read_gzip(c, err) : 0;
}

/* ---- format detection ------------------------------------------------------------ */

/* Whole word `w` (delimited by non-alphanumerics) in the lowercase name. */
static bool name_has_word(const char *name, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(name, w); p; p = strstr(p + 1, w))
        if ((p == name || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[n])) return true;
    return false;
}

/* What the file name says about signedness: mul8s_/mul8u_ (EvoApproxLib),
 * s8/u8 words; with storage_words also i16/u16 (which 16-bit raw type). */
static sign_evidence name_sign(const char *name, bool storage_words)
{
    char low[256];
    size_t i = 0;
    for (; name[i] && i < sizeof low - 1; i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = 0;
    if (strstr(low, "mul8s") || name_has_word(low, "s8") || name_has_word(low, "int8")) return EV_SIGNED;
    if (strstr(low, "mul8u") || name_has_word(low, "u8") || name_has_word(low, "uint8")) return EV_UNSIGNED;
    if (!storage_words) return EV_NONE;
    if (name_has_word(low, "i16") || name_has_word(low, "int16")) return EV_SIGNED;
    if (name_has_word(low, "u16") || name_has_word(low, "uint16")) return EV_UNSIGNED;
    return EV_NONE;
}

static bool looks_text(const uint8_t *d, size_t len)
{
    size_t n = len < 4096 ? len : 4096, odd = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0) return false;
        if (d[i] < 32 && !isspace(d[i])) odd++;
    }
    return n > 0 && odd * 50 < n;
}

/* .c/.h: a table initializer or a two-argument function decides. */
static int detect_c(import_ctx *c, bool header, ax_error *err)
{
    ax_cmodel_fn fn;
    int n_fn = 0;
    ax_cmodel_find((const char *)c->data, c->len, NULL, &fn, &n_fn, c->path, NULL);
    bool table = ax_c_has_table_initializer((const char *)c->data, c->len);
    if (table && (header || n_fn == 0) && !c->opt->function) c->fmt = AX_FMT_C_HEADER;
    else if (n_fn > 0) c->fmt = AX_FMT_C_MODEL;
    else if (table) c->fmt = AX_FMT_C_HEADER;
    else return ax_fail(err, "%s: neither a [256][256] table initializer nor a two-argument function found", c->path);
    return 0;
}

/* 131072 bytes: 16-bit, but signed or not only the name or options can say. */
static int detect_raw16(import_ctx *c, ax_error *err)
{
    sign_evidence ev = name_sign(c->base, true);
    if (c->opt->value_offset != 0 || c->opt->sign == AX_SIGN_UNSIGNED || ev == EV_UNSIGNED) c->fmt = AX_FMT_RAW_U16;
    else if (c->opt->sign == AX_SIGN_SIGNED || ev == EV_SIGNED) c->fmt = AX_FMT_RAW_I16;
    else
        return ax_fail(err, "%s: 131072 bytes could be raw-i16 or raw-u16; give --format raw-i16 or --format raw-u16",
                       c->path);
    return 0;
}

static void sniff_text(import_ctx *c)
{
    const char *t = (const char *)c->data;
    if (ax_c_has_table_initializer(t, c->len)) { c->fmt = AX_FMT_C_HEADER; return; }
    /* the first content line: three comma-separated fields make a CSV */
    const char *p = t, *end = t + c->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        while (p < e && isspace((unsigned char)*p)) p++;
        if (p < e && *p != '#') {
            int commas = 0;
            for (const char *q = p; q < e; q++) commas += *q == ',';
            c->fmt = commas == 2 ? AX_FMT_CSV : AX_FMT_TEXT;
            return;
        }
        p = e + 1;
    }
    c->fmt = AX_FMT_TEXT;
}

static int detect_format(import_ctx *c, ax_error *err)
{
    const char *e = c->ext;
    if (c->len >= 6 && !memcmp(c->data, "\x93NUMPY", 6)) c->fmt = AX_FMT_NPY;
    else if (c->len >= 8 && !memcmp(c->data, "\x89" "AXM\r\n\x1a\n", 8)) c->fmt = AX_FMT_AXM;
    else if (!strcmp(e, ".npy")) c->fmt = AX_FMT_NPY;
    else if (!strcmp(e, ".axm")) c->fmt = AX_FMT_AXM;
    else if (!strcmp(e, ".h") || !strcmp(e, ".hpp") || !strcmp(e, ".hh") || !strcmp(e, ".hxx") || !strcmp(e, ".inc"))
        return detect_c(c, true, err);
    else if (!strcmp(e, ".c")) return detect_c(c, false, err);
    else if (!strcmp(e, ".csv")) c->fmt = AX_FMT_CSV;
    else if (!strcmp(e, ".txt") || !strcmp(e, ".tsv") || !strcmp(e, ".dat")) c->fmt = AX_FMT_TEXT;
    else if (c->len == 4 * (size_t)AX_TABLE_SIZE) c->fmt = AX_FMT_RAW_I32;
    else if (c->len == 2 * (size_t)AX_TABLE_SIZE) return detect_raw16(c, err);
    else if (looks_text(c->data, c->len)) sniff_text(c);
    else
        return ax_fail(err, "%s: cannot tell the format (%zu bytes%s, extension '%s'); give --format (raw-i32 needs "
                       "262144 bytes, raw-i16/raw-u16 131072)", c->path, c->len, c->gz ? " after gunzip" : "", e);
    return 0;
}

/* ---- from file order to the canonical table ---------------------------------------- */

static int apply_value_offset(import_ctx *c, int64_t *f, ax_error *err)
{
    int64_t off = c->opt->value_offset;
    for (size_t i = 0; off && i < AX_TABLE_SIZE; i++)
        if (__builtin_sub_overflow(f[i], off, &f[i]))
            return ax_fail(err, "%s: entry [%zu][%zu] minus --value-offset %lld overflows", c->path, i >> 8, i & 255,
                           (long long)off);
    return 0;
}

/* Operand types: flags, then the name, then the format's evidence, then the
 * reading that fits the exact product better (ties: unsigned). */
static void decide_types(const import_ctx *c, sign_evidence ev, const int64_t *f, bool idx, ax_mult *m)
{
    const ax_import_options *o = c->opt;
    sign_evidence by_name = name_sign(c->base, false);
    bool s;
    if (o->mixed_u8s8) { m->act = AX_U8; m->wgt = AX_S8; return; }
    if (o->sign != AX_SIGN_AUTO) s = o->sign == AX_SIGN_SIGNED;
    else if (idx) s = true; /* value+128 indexing only exists for signed operands */
    else if (by_name != EV_NONE) s = by_name == EV_SIGNED;
    else if (ev != EV_NONE) s = ev == EV_SIGNED;
    else s = ax_reading_mae(f, AX_S8, AX_S8, false, o->order_wa) < ax_reading_mae(f, AX_U8, AX_U8, false, o->order_wa);
    m->act = m->wgt = s ? AX_S8 : AX_U8;
}

static int to_canonical(const import_ctx *c, const int64_t *f, bool idx, ax_mult *m, ax_error *err)
{
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) {
            unsigned i = ax_file_index(a, w, m->act, m->wgt, idx, c->opt->order_wa);
            if (f[i] < INT32_MIN || f[i] > INT32_MAX)
                return ax_fail(err, "%s: value %lld at [%u][%u] (file order%s) does not fit int32", c->path,
                               (long long)f[i], i >> 8, i & 255, c->opt->value_offset ? ", after --value-offset" : "");
            m->table[a * 256 + w] = (int32_t)f[i];
        }
    return 0;
}

static void set_provenance(const import_ctx *c, const char *function, bool idx, ax_mult *m)
{
    char sha[65], base[256];
    ax_sha256_hex(c->file, c->file_len, sha);
    ax_strlcpy(base, c->base, sizeof base);
    for (char *p = base; *p; p++)
        if ((unsigned char)*p < 32 || *p == ' ') *p = '_'; /* one line, space-separated fields */
    size_t n = (size_t)snprintf(m->provenance, sizeof m->provenance, "import=%s file=%s sha256=%s",
                                ax_import_format_name(c->fmt), base, sha);
    char *p = m->provenance;
    size_t size = sizeof m->provenance;
    if (function && n < size) n += (size_t)snprintf(p + n, size - n, " function=%s", function);
    if (idx && n < size) n += (size_t)snprintf(p + n, size - n, " index=offset");
    if (c->opt->order_wa && n < size) n += (size_t)snprintf(p + n, size - n, " order=wa");
    if (c->opt->value_offset && n < size)
        snprintf(p + n, size - n, " value_offset=%lld", (long long)c->opt->value_offset);
}

static void set_name(const import_ctx *c, ax_mult *m)
{
    if (c->opt->name && *c->opt->name) ax_strlcpy(m->name, c->opt->name, sizeof m->name);
    else ax_basename_noext(c->path, m->name, sizeof m->name);
    if (!m->name[0]) ax_strlcpy(m->name, "imported", sizeof m->name);
    for (char *p = m->name; *p; p++)
        if ((unsigned char)*p < 32 || *p == '/') *p = '_';
}

/* Figures the user gave win over what the file states. */
static void set_hw(const ax_import_options *o, ax_hw_figures file_hw, ax_mult *m)
{
    m->hw.power_mw = !isnan(o->hw.power_mw) ? o->hw.power_mw : file_hw.power_mw;
    m->hw.area_um2 = !isnan(o->hw.area_um2) ? o->hw.area_um2 : file_hw.area_um2;
    m->hw.delay_ns = !isnan(o->hw.delay_ns) ? o->hw.delay_ns : file_hw.delay_ns;
    ax_strlcpy(m->hw.node, o->hw.node[0] ? o->hw.node : file_hw.node, sizeof m->hw.node);
}

static ax_hw_figures no_figures(void)
{
    ax_hw_figures hw = {NAN, NAN, NAN, ""};
    return hw;
}

/* ---- the formats ------------------------------------------------------------------- */

static int parse_table(import_ctx *c, int64_t *f, sign_evidence *ev, ax_error *err)
{
    const char *t = (const char *)c->data;
    bool flag = false;
    int rc;
    *ev = EV_NONE;
    switch (c->fmt) {
    case AX_FMT_RAW_I32:
    case AX_FMT_RAW_I16:
    case AX_FMT_RAW_U16:
        rc = ax_parse_raw(c->data, c->len, c->fmt, c->opt->big_endian, f, c->path, err);
        if (c->fmt == AX_FMT_RAW_U16 && !c->opt->value_offset) *ev = EV_UNSIGNED;
        return rc;
    case AX_FMT_NPY:
        rc = ax_parse_npy(c->data, c->len, f, &flag, c->path, err);
        if (!flag && !c->opt->value_offset) *ev = EV_UNSIGNED; /* unsigned storage holds no negative product */
        return rc;
    case AX_FMT_C_HEADER:
        rc = ax_parse_c_header(t, c->len, f, &flag, c->path, err);
        if (!flag && !c->opt->value_offset) *ev = EV_UNSIGNED;
        return rc;
    case AX_FMT_CSV:
        rc = ax_parse_csv(t, c->len, f, &flag, c->path, err);
        if (flag) *ev = EV_SIGNED;
        return rc;
    case AX_FMT_TEXT:
        return ax_parse_text_matrix(t, c->len, f, c->path, err);
    default:
        return ax_fail(err, "%s: format %s is not a table format", c->path, ax_import_format_name(c->fmt));
    }
}

/* Everything but .axm and C models: parse, offset, types, canonical table. */
static int import_table(import_ctx *c, ax_mult *m, ax_error *err)
{
    int64_t *f = malloc(sizeof(int64_t) * AX_TABLE_SIZE);
    if (!f) return ax_fail(err, "%s: out of memory", c->path);
    /* CSV operands are values, not indices: --index does not apply */
    bool idx = c->opt->index_offset && c->fmt != AX_FMT_CSV;
    if (c->opt->index_offset && !idx) warn(c, "--index offset ignored: CSV rows give operand values, not indices");
    sign_evidence ev;
    int rc = parse_table(c, f, &ev, err);
    if (rc == 0) rc = apply_value_offset(c, f, err);
    if (rc == 0) {
        decide_types(c, ev, f, idx, m);
        if (idx && m->act == AX_U8 && m->wgt == AX_U8)
            warn(c, "--index offset has no effect on an unsigned table (u8 operands are always indexed by byte)");
        rc = to_canonical(c, f, idx, m, err);
    }
    if (rc == 0) set_provenance(c, NULL, idx, m);
    free(f);
    return rc;
}

static bool table_options_given(const ax_import_options *o)
{
    return o->sign != AX_SIGN_AUTO || o->mixed_u8s8 || o->index_offset || o->order_wa || o->value_offset ||
           o->big_endian || o->function;
}

/* An .axm file states everything itself; only the name and figures may change. */
static int import_axm(import_ctx *c, ax_mult **out, ax_error *err)
{
    ax_mult *m;
    if (ax_mult_decode_axm(c->data, c->len, c->path, &m, err) != 0) return -1;
    if (table_options_given(c->opt))
        warn(c, "table-reading options (--signed, --index, --order, --value-offset, ...) ignored: an .axm file "
             "states its own operand types and layout");
    if (c->opt->name && *c->opt->name) ax_strlcpy(m->name, c->opt->name, sizeof m->name);
    set_hw(c->opt, m->hw, m);
    if (!m->provenance[0]) set_provenance(c, NULL, false, m);
    *out = m;
    return 0;
}

/* ---- C models --------------------------------------------------------------------- */

/* Reads a result under the rule for signed multipliers declared with
 * unsigned types: the low 16 bits are the two's complement product. */
static void tabulate_fix(int64_t *f, bool as_s16)
{
    for (size_t i = 0; as_s16 && i < AX_TABLE_SIZE; i++) f[i] = (int16_t)(uint16_t)((uint64_t)f[i] & 0xffffu);
}

typedef struct cmodel_reading {
    bool signed_arg[2];
    bool as_s16;      /* results read as 16-bit two's complement */
    bool bad_param;   /* a signed operand declared with an unsigned type */
} cmodel_reading;

static cmodel_reading cmodel_plan(const ax_cmodel_fn *fn, ax_cmodel_ret ret, ax_operand act, ax_operand wgt,
                                  bool order_wa)
{
    cmodel_reading r = {{false, false}, false, false};
    ax_operand arg_type[2] = {order_wa ? wgt : act, order_wa ? act : wgt};
    for (int k = 0; k < 2; k++) {
        /* an unsigned parameter gets the raw byte, whatever the operand means */
        r.signed_arg[k] = arg_type[k] == AX_S8 && !fn->param_unsigned[k];
        r.bad_param |= arg_type[k] == AX_S8 && fn->param_unsigned[k];
    }
    bool any_signed = act == AX_S8 || wgt == AX_S8;
    bool bad_ret = any_signed && !ret.is_signed && !ret.is_float;
    r.as_s16 = (r.bad_param || bad_ret) && ret.size >= 2;
    return r;
}

static int cmodel_tabulate(import_ctx *c, ax_cmodel *cm, const ax_cmodel_fn *fn, ax_mult *m, int64_t *f,
                           cmodel_reading *plan, ax_error *err)
{
    *plan = cmodel_plan(fn, ax_cmodel_return_type(cm), m->act, m->wgt, c->opt->order_wa);
    if (ax_cmodel_run(cm, plan->signed_arg, f, c->path, err) != 0) return -1;
    tabulate_fix(f, plan->as_s16);
    return 0;
}

/* Signedness of a C model: flags, the function's name, the file's name, the
 * declared 8-bit parameter types, else whichever reading fits better. */
static int cmodel_types(import_ctx *c, ax_cmodel *cm, const ax_cmodel_fn *fn, ax_mult *m, int64_t *f,
                        ax_error *err)
{
    const ax_import_options *o = c->opt;
    sign_evidence ev = name_sign(fn->name, false);
    if (ev == EV_NONE) ev = name_sign(c->base, false);
    if (ev == EV_NONE && (fn->param_sign8[0] || fn->param_sign8[1]))
        ev = (fn->param_sign8[0] ? fn->param_sign8[0] : fn->param_sign8[1]) > 0 ? EV_SIGNED : EV_UNSIGNED;
    if (o->mixed_u8s8) { m->act = AX_U8; m->wgt = AX_S8; return 0; }
    if (o->sign != AX_SIGN_AUTO) ev = o->sign == AX_SIGN_SIGNED ? EV_SIGNED : EV_UNSIGNED;
    if (ev != EV_NONE) {
        m->act = m->wgt = ev == EV_SIGNED ? AX_S8 : AX_U8;
        return 0;
    }
    double mae[2];
    cmodel_reading plan;
    for (int s = 0; s < 2; s++) {
        m->act = m->wgt = s ? AX_S8 : AX_U8;
        if (cmodel_tabulate(c, cm, fn, m, f, &plan, err) != 0) return -1;
        mae[s] = ax_reading_mae(f, m->act, m->wgt, false, o->order_wa);
    }
    m->act = m->wgt = mae[1] < mae[0] ? AX_S8 : AX_U8;
    return 0;
}

static void cmodel_warn(import_ctx *c, const ax_cmodel_fn *fn, ax_cmodel_ret ret, const cmodel_reading *plan)
{
    if (!plan->as_s16) return;
    warn(c, "%s is a signed multiplier but is declared with unsigned types (%s %s(%s, %s), %d-byte result): "
         "passed it the operands' raw bytes and read the result as 16-bit two's complement",
         fn->name, fn->ret_type[0] ? fn->ret_type : "?", fn->name, fn->param_type[0], fn->param_type[1], ret.size);
}

static int import_c_model(import_ctx *c, ax_mult *m, ax_error *err)
{
    ax_cmodel_fn fn;
    ax_cmodel *cm = NULL;
    const char *text = (const char *)c->data;
    if (c->gz) return ax_fail(err, "%s: a C model cannot be gzip-compressed; gunzip it first", c->path);
    if (ax_cmodel_find(text, c->len, c->opt->function, &fn, NULL, c->path, err) != 0) return -1;
    if (c->opt->index_offset) warn(c, "--index offset ignored: a C model is tabulated by raw operand bytes");
    ax_hw_figures hw = no_figures();
    ax_cmodel_hw_figures(text, c->len, &hw);
    int64_t *f = malloc(sizeof(int64_t) * AX_TABLE_SIZE);
    int rc = f ? ax_cmodel_build(c->path, &fn, &cm, err) : ax_fail(err, "%s: out of memory", c->path);
    cmodel_reading plan = {{false, false}, false, false};
    if (rc == 0) rc = cmodel_types(c, cm, &fn, m, f, err);
    if (rc == 0) rc = cmodel_tabulate(c, cm, &fn, m, f, &plan, err);
    if (rc == 0) rc = apply_value_offset(c, f, err);
    if (rc == 0) rc = to_canonical(c, f, false, m, err);
    if (rc == 0) {
        cmodel_warn(c, &fn, ax_cmodel_return_type(cm), &plan);
        set_provenance(c, fn.name, false, m);
        set_hw(c->opt, hw, m);
    }
    ax_cmodel_close(cm);
    free(f);
    return rc;
}

/* ---- entry points -------------------------------------------------------------------- */

static int import_dispatch(import_ctx *c, ax_mult **out, ax_error *err)
{
    if (c->fmt == AX_FMT_AUTO && detect_format(c, err) != 0) return -1;
    if (c->fmt == AX_FMT_AXM) return import_axm(c, out, err);
    if ((unsigned)c->fmt > AX_FMT_C_MODEL) return ax_fail(err, "%s: unknown import format %d", c->path, (int)c->fmt);
    ax_mult *m = ax_mult_new();
    if (!m) return ax_fail(err, "%s: out of memory", c->path);
    int rc = c->fmt == AX_FMT_C_MODEL ? import_c_model(c, m, err) : import_table(c, m, err);
    if (rc != 0) {
        ax_mult_free(m);
        return -1;
    }
    set_name(c, m);
    if (c->fmt != AX_FMT_C_MODEL) set_hw(c->opt, no_figures(), m);
    *out = m;
    return 0;
}

int ax_mult_import_ex(const char *path, const ax_import_options *opt, ax_mult **out, char warnings[][AX_ERROR_MAX],
                      int max_warnings, int *n_warnings, ax_error *err)
{
    ax_import_options defaults;
    if (!opt) {
        ax_import_options_init(&defaults);
        opt = &defaults;
    }
    import_ctx c = {0};
    c.path = path;
    c.opt = opt;
    c.fmt = opt->format;
    c.warnings = warnings;
    c.max_warnings = max_warnings;
    *out = NULL;
    if (n_warnings) *n_warnings = 0;
    int rc = load_input(&c, err);
    if (rc == 0) rc = import_dispatch(&c, out, err);
    if (c.data != c.file) free(c.data);
    free(c.file);
    if (n_warnings) *n_warnings = c.n_warnings;
    return rc;
}

int ax_mult_import(const char *path, const ax_import_options *opt, ax_mult **out, ax_error *err)
{
    return ax_mult_import_ex(path, opt, out, NULL, 0, NULL, err);
}
