/* import_parsers.c - table parsers on memory: raw binaries, NumPy .npy, a C
 * header's [256][256] initializer, CSV rows "a,w,product" and 256x256 text
 * matrices, plus the small C lexer the c-model scanner shares.
 *
 * Fuzzers drive every function here: each is bounded by `len`, never reads
 * past it (text is not NUL-terminated), and copies into small local buffers
 * before calling libc number parsers. Output is the table in file order (first
 * operand major) as the file states it; import.c does indexing and signs. */
#include "import_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_PAIRS ((size_t)AX_TABLE_SIZE)

/* ---- numbers ------------------------------------------------------------- */

/* A whole number written as an integer or as an integral float ("12",
 * "-3", "1.2e+01": np.savetxt writes floats). Returns -1 otherwise. */
static int parse_whole(const char *s, size_t n, int64_t *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf || memchr(s, 0, n)) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (strpbrk(buf, ".eEnN") == NULL) { /* plain integer: exact, no float rounding */
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (errno || end == buf || *end || buf[0] == ' ') return -1;
        *out = v;
        return 0;
    }
    char *end;
    double d = strtod(buf, &end);
    if (end == buf || *end || buf[0] == ' ' || !isfinite(d) || d != floor(d) || fabs(d) > 0x1p62) return -1;
    *out = (int64_t)d;
    return 0;
}

/* A C literal (decimal, hex, octal, 0b binary, u/l suffixes, or an integral
 * floating literal), negated when `neg`. Returns -1 when it is none of those. */
static int c_literal_value(const char *s, size_t n, bool neg, int64_t *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    bool hex = n > 1 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X');
    bool bin = n > 1 && buf[0] == '0' && (buf[1] == 'b' || buf[1] == 'B');
    char *end;
    if (!bin && (hex ? strpbrk(buf, "pP") != NULL : strpbrk(buf, ".eE") != NULL)) {
        double d = strtod(buf, &end);
        if (end == buf || strspn(end, "fFlL") != strlen(end) || !isfinite(d) || d != floor(d) || fabs(d) > 0x1p62)
            return -1;
        *out = neg ? -(int64_t)d : (int64_t)d;
        return 0;
    }
    errno = 0;
    unsigned long long v = bin ? strtoull(buf + 2, &end, 2) : strtoull(buf, &end, 0);
    if (errno || end == buf || (bin && end == buf + 2) || strspn(end, "uUlL") != strlen(end) || strlen(end) > 3)
        return -1;
    if (v > (unsigned long long)INT64_MAX + (neg ? 1u : 0u)) return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v; /* 0 - v: INT64_MIN without overflow */
    return 0;
}

/* ---- raw binaries ---------------------------------------------------------- */

static uint64_t load_uint(const uint8_t *p, unsigned size, bool big)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint64_t)p[big ? size - 1 - i : i] << (8 * i);
    return v;
}

static int64_t sign_extend(uint64_t v, unsigned size)
{
    if (size >= 8) return (int64_t)v;
    uint64_t sign = 1ull << (8 * size - 1);
    return (int64_t)((v ^ sign) - sign);
}

int ax_parse_raw(const uint8_t *buf, size_t len, ax_import_format f, bool big_endian,
                 int64_t table_out[AX_TABLE_SIZE], const char *what, ax_error *err)
{
    unsigned size = f == AX_FMT_RAW_I32 ? 4 : 2;
    if (f != AX_FMT_RAW_I32 && f != AX_FMT_RAW_I16 && f != AX_FMT_RAW_U16)
        return ax_fail(err, "%s: %s is not a raw format", what, ax_import_format_name(f));
    if (len != size * N_PAIRS)
        return ax_fail(err, "%s: %s needs exactly %zu bytes (65536 x %u), the input has %zu", what,
                       ax_import_format_name(f), size * N_PAIRS, size, len);
    for (size_t i = 0; i < N_PAIRS; i++) {
        uint64_t v = load_uint(buf + size * i, size, big_endian);
        table_out[i] = f == AX_FMT_RAW_U16 ? (int64_t)v : sign_extend(v, size);
    }
    return 0;
}

/* ---- NumPy .npy ------------------------------------------------------------ */

typedef struct npy_header {
    char kind;      /* 'i', 'u' or 'f' */
    unsigned size;  /* bytes per element */
    bool big;
    bool fortran;
    int ndim;
    int64_t shape[4];
} npy_header;

static const char *py_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* A quoted Python string into out; NULL on error. */
static const char *py_string(const char *p, char *out, size_t out_size)
{
    char q = *p;
    if (q != '\'' && q != '"') return NULL;
    size_t n = 0;
    for (p++; *p && *p != q; p++) {
        if (n + 1 >= out_size) return NULL;
        out[n++] = *p;
    }
    if (*p != q) return NULL;
    out[n] = 0;
    return p + 1;
}

static const char *py_shape(const char *p, npy_header *h)
{
    if (*p != '(') return NULL;
    p = py_ws(p + 1);
    h->ndim = 0;
    while (*p != ')') {
        if (h->ndim == 4 || *p < '0' || *p > '9') return NULL;
        int64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (v > 1000000000) return NULL;
            v = v * 10 + (*p - '0');
        }
        h->shape[h->ndim++] = v;
        p = py_ws(p);
        if (*p == 'L') p = py_ws(p + 1); /* Python 2 long literals */
        if (*p == ',') p = py_ws(p + 1);
        else if (*p != ')') return NULL;
    }
    return p + 1;
}

static int npy_dtype(const char *d, npy_header *h, const char *what, ax_error *err)
{
    const char *p = d;
    char order = (*p == '<' || *p == '>' || *p == '|' || *p == '=') ? *p++ : '=';
    char kind = *p;
    if (kind) p++;
    unsigned size = 0;
    if (*p >= '1' && *p <= '8' && p[1] == 0) size = (unsigned)(*p - '0');
    bool ok = (kind == 'i' || kind == 'u') ? (size == 1 || size == 2 || size == 4 || size == 8)
            : kind == 'f' ? (size == 4 || size == 8) : false;
    if (!ok)
        return ax_fail(err, "%s: npy dtype '%s' not supported (integer i1 u1 i2 u2 i4 u4 i8 u8, or whole-valued f4 f8)",
                       what, d);
    const uint16_t probe = 1;
    bool native_big = *(const uint8_t *)&probe == 0;
    h->kind = kind;
    h->size = size;
    h->big = order == '>' || (order == '=' && native_big);
    return 0;
}

/* The header dict: {'descr': '<i2', 'fortran_order': False, 'shape': (256, 256), } */
static int npy_parse_dict(const char *s, npy_header *h, const char *what, ax_error *err)
{
    unsigned seen = 0;
    const char *p = py_ws(s);
    if (*p++ != '{') return ax_fail(err, "%s: npy header is not a dict", what);
    for (;;) {
        char key[32], val[32];
        p = py_ws(p);
        if (*p == '}') break;
        if (!(p = py_string(p, key, sizeof key))) return ax_fail(err, "%s: npy header: malformed key", what);
        p = py_ws(p);
        if (*p++ != ':') return ax_fail(err, "%s: npy header: ':' expected after '%s'", what, key);
        p = py_ws(p);
        if (!strcmp(key, "descr")) {
            if (*p == '[') return ax_fail(err, "%s: npy structured dtypes are not supported", what);
            if (!(p = py_string(p, val, sizeof val))) return ax_fail(err, "%s: npy header: malformed descr", what);
            if (npy_dtype(val, h, what, err) != 0) return -1;
            seen |= 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (!strncmp(p, "True", 4)) h->fortran = true, p += 4;
            else if (!strncmp(p, "False", 5)) h->fortran = false, p += 5;
            else return ax_fail(err, "%s: npy header: fortran_order is neither True nor False", what);
            seen |= 2;
        } else if (!strcmp(key, "shape")) {
            if (!(p = py_shape(p, h))) return ax_fail(err, "%s: npy header: malformed shape", what);
            seen |= 4;
        } else {
            return ax_fail(err, "%s: npy header: unexpected key '%s'", what, key);
        }
        p = py_ws(p);
        if (*p == ',') p++;
        else if (*p != '}') return ax_fail(err, "%s: npy header: ',' or '}' expected", what);
    }
    if (seen != 7) return ax_fail(err, "%s: npy header lacks %s", what,
                                  !(seen & 1) ? "descr" : !(seen & 2) ? "fortran_order" : "shape");
    return 0;
}

/* Locates the header text and the data; copies the header NUL-terminated. */
static int npy_split(const uint8_t *buf, size_t len, char **hdr, size_t *data_off, const char *what, ax_error *err)
{
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) return ax_fail(err, "%s: not a .npy file (no \\x93NUMPY magic)", what);
    unsigned major = buf[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return ax_fail(err, "%s: truncated .npy header", what);
        hlen = (size_t)load_uint(buf + 8, 4, false);
        off = 12;
    } else {
        return ax_fail(err, "%s: unknown .npy version %u", what, major);
    }
    if (hlen > len - off) return ax_fail(err, "%s: truncated .npy header (%zu bytes announced)", what, hlen);
    if (hlen > (1u << 20)) return ax_fail(err, "%s: .npy header too long (%zu bytes)", what, hlen);
    char *h = malloc(hlen + 1);
    if (!h) return ax_fail(err, "%s: out of memory", what);
    memcpy(h, buf + off, hlen);
    h[hlen] = 0;
    *hdr = h;
    *data_off = off + hlen;
    return 0;
}

/* One element as int64; -1 when it is not a whole number that fits. */
static int npy_element(const uint8_t *p, const npy_header *h, int64_t *out)
{
    uint64_t v = load_uint(p, h->size, h->big);
    if (h->kind == 'i') { *out = sign_extend(v, h->size); return 0; }
    if (h->kind == 'u') {
        if (v > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)v;
        return 0;
    }
    double d;
    if (h->size == 4) {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, sizeof f);
        d = f;
    } else {
        memcpy(&d, &v, sizeof d);
    }
    if (!isfinite(d) || d != floor(d) || fabs(d) > 0x1p62) return -1;
    *out = (int64_t)d;
    return 0;
}

int ax_parse_npy(const uint8_t *buf, size_t len, int64_t table_out[AX_TABLE_SIZE],
                 bool *is_signed_dtype, const char *what, ax_error *err)
{
    char *hdr = NULL;
    size_t off = 0;
    if (npy_split(buf, len, &hdr, &off, what, err) != 0) return -1;
    npy_header h = {0};
    int rc = npy_parse_dict(hdr, &h, what, err);
    free(hdr);
    if (rc != 0) return -1;
    bool flat = h.ndim == 1 && h.shape[0] == 65536, square = h.ndim == 2 && h.shape[0] == 256 && h.shape[1] == 256;
    if (!flat && !square) {
        char shape[80] = "(";
        for (int d = 0; d < h.ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? ", " : "",
                     (long long)h.shape[d]);
        return ax_fail(err, "%s: npy shape %s%s) not supported: (256, 256) or (65536,) expected", what, shape,
                       h.ndim == 1 ? "," : "");
    }
    if (len - off != N_PAIRS * h.size)
        return ax_fail(err, "%s: npy data holds %zu bytes, %zu expected (65536 x %u)", what, len - off,
                       N_PAIRS * h.size, h.size);
    for (size_t i = 0; i < N_PAIRS; i++) {
        /* Fortran order stores column-major: element (r, c) sits at c*256 + r. */
        size_t src = (square && h.fortran) ? ((i & 255) << 8 | i >> 8) : i;
        if (npy_element(buf + off + src * h.size, &h, &table_out[i]) != 0)
            return ax_fail(err, "%s: npy element %zu is not a whole number that fits int64", what, src);
    }
    *is_signed_dtype = h.kind != 'u';
    return 0;
}

/* ---- a small C lexer ------------------------------------------------------------ */

void ax_clex_init(ax_clexer *lx, const char *text, size_t len)
{
    lx->p = text;
    lx->end = text + len;
    lx->line = 1;
    lx->line_start = true;
}

/* To the end of the line, following backslash continuations (directives). */
static void skip_line(ax_clexer *lx)
{
    while (lx->p < lx->end && *lx->p != '\n') {
        if (*lx->p == '\\' && lx->p + 1 < lx->end && lx->p[1] == '\n') lx->line++, lx->p++;
        lx->p++;
    }
}

static void skip_block_comment(ax_clexer *lx)
{
    lx->p += 2;
    while (lx->p + 1 < lx->end && !(lx->p[0] == '*' && lx->p[1] == '/')) {
        if (*lx->p == '\n') lx->line++;
        lx->p++;
    }
    lx->p = lx->p + 1 < lx->end ? lx->p + 2 : lx->end;
}

static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The token starting at lx->p (blanks and comments already skipped). */
static ax_ctok lex_token(ax_clexer *lx)
{
    ax_ctok t = {AX_CT_PUNCT, lx->p, 1, lx->line};
    const char *p = lx->p, *e = lx->end;
    char c = *p;
    if (is_ident_char(c) && !(c >= '0' && c <= '9')) {
        while (p < e && is_ident_char(*p)) p++;
        t.kind = AX_CT_IDENT;
    } else if ((c >= '0' && c <= '9') || (c == '.' && p + 1 < e && p[1] >= '0' && p[1] <= '9')) {
        for (p++; p < e && (is_ident_char(*p) || *p == '.' ||
                            ((*p == '+' || *p == '-') && strchr("eEpP", p[-1]))); p++) {}
        t.kind = AX_CT_NUMBER;
    } else if (c == '"' || c == '\'') {
        for (p++; p < e && *p != c && *p != '\n'; p++)
            if (*p == '\\' && p + 1 < e) p++;
        if (p < e && *p == c) p++;
        t.kind = AX_CT_STRING;
    } else {
        p++;
    }
    t.n = (size_t)(p - lx->p);
    lx->p = p;
    return t;
}

ax_ctok ax_clex_next(ax_clexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line++;
            lx->line_start = true;
            lx->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
            skip_line(lx);
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            skip_block_comment(lx);
        } else if (c == '#' && lx->line_start) {
            skip_line(lx);
        } else {
            lx->line_start = false;
            return lex_token(lx);
        }
    }
    ax_ctok end = {AX_CT_END, lx->end, 0, lx->line};
    return end;
}

/* ---- C header: the [256][256] initializer ------------------------------------ */

/* An integer token equal to v (256, 0x100, 256u...). */
static bool tok_equals(const ax_ctok *t, int64_t v)
{
    int64_t x;
    return t->kind == AX_CT_NUMBER && c_literal_value(t->s, t->n, false, &x) == 0 && x == v;
}

/* After IDENT, matches "[256][256] = {", "[][256] = {" or "[65536] = {"; on
 * success the lexer stands inside the brace and *flat says which it was. */
static bool match_declarator(ax_clexer *lx, bool *flat)
{
    ax_ctok t = ax_clex_next(lx);
    if (!ax_ctok_is(&t, "[")) return false;
    t = ax_clex_next(lx);
    *flat = tok_equals(&t, 65536);
    if (*flat) {
        t = ax_clex_next(lx);
        if (!ax_ctok_is(&t, "]")) return false;
    } else {
        if (tok_equals(&t, 256)) t = ax_clex_next(lx);
        if (!ax_ctok_is(&t, "]")) return false;
        t = ax_clex_next(lx);
        if (!ax_ctok_is(&t, "[")) return false;
        t = ax_clex_next(lx);
        if (!tok_equals(&t, 256)) return false;
        t = ax_clex_next(lx);
        if (!ax_ctok_is(&t, "]")) return false;
    }
    t = ax_clex_next(lx);
    if (!ax_ctok_is(&t, "=")) return false;
    t = ax_clex_next(lx);
    return ax_ctok_is(&t, "{");
}

static bool word_is_unsigned(const ax_ctok *t)
{
    static const char *const exact[] = {"unsigned", "uchar", "ushort", "uint", "ulong", "u8", "u16", "u32",
                                        "u64", "size_t", "UINT", "BYTE", "WORD", "DWORD"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (ax_ctok_is(t, exact[i])) return true;
    return (t->n > 4 && (!memcmp(t->s, "uint", 4) || !memcmp(t->s, "UINT", 4))) ||
           (t->n > 5 && !memcmp(t->s, "u_int", 5));
}

/* Finds the first table declarator; *is_unsigned says whether the element
 * type's words name an unsigned type. The lexer stands inside the '{'. */
static bool find_table(ax_clexer *lx, bool *is_unsigned, bool *flat, unsigned *line)
{
    bool unsigned_seen = false;
    for (ax_ctok t = ax_clex_next(lx); t.kind != AX_CT_END; t = ax_clex_next(lx)) {
        if (t.kind != AX_CT_IDENT) {
            /* a declaration's type words come after the previous ; { } */
            if (ax_ctok_is(&t, ";") || ax_ctok_is(&t, "{") || ax_ctok_is(&t, "}")) unsigned_seen = false;
            continue;
        }
        ax_clexer probe = *lx;
        if (match_declarator(&probe, flat)) {
            *lx = probe;
            *is_unsigned = unsigned_seen;
            *line = t.line;
            return true;
        }
        unsigned_seen |= word_is_unsigned(&t);
    }
    return false;
}

bool ax_c_has_table_initializer(const char *text, size_t len)
{
    ax_clexer lx;
    bool u, flat;
    unsigned line;
    ax_clex_init(&lx, text, len);
    return find_table(&lx, &u, &flat, &line);
}

static void tok_text(const ax_ctok *t, char *out, size_t size)
{
    size_t n = t->kind == AX_CT_END ? 0 : t->n < size - 1 ? t->n : size - 1;
    memcpy(out, t->s, n);
    out[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 32 || (unsigned char)out[i] > 126) out[i] = '?';
}

typedef struct init_state {
    size_t count;     /* values so far */
    size_t row_count; /* values in the open row */
    int depth;
    int rows;         /* -1 unknown, 0 flat (brace elision), 1 one brace per row */
    bool need_sep;
} init_state;

/* One value, with any unary signs, starting at token t. */
static int init_value(ax_clexer *lx, ax_ctok t, init_state *st, int64_t *out, const char *what, ax_error *err)
{
    char tx[24];
    bool neg = false;
    while (ax_ctok_is(&t, "-") || ax_ctok_is(&t, "+")) {
        neg ^= ax_ctok_is(&t, "-");
        t = ax_clex_next(lx);
    }
    int64_t v;
    tok_text(&t, tx, sizeof tx);
    if (t.kind != AX_CT_NUMBER)
        return ax_fail(err, "%s: line %u: unexpected '%s' in the table initializer", what, t.line, tx);
    if (c_literal_value(t.s, t.n, neg, &v) != 0)
        return ax_fail(err, "%s: line %u: '%s' is not a whole number that fits int64", what, t.line, tx);
    if (st->depth == 1 && st->rows == 1)
        return ax_fail(err, "%s: line %u: a bare value among braced rows", what, t.line);
    if (st->depth == 1) st->rows = 0;
    if (st->count == N_PAIRS) return ax_fail(err, "%s: line %u: more than 65536 values in the initializer", what, t.line);
    out[st->count++] = v;
    st->row_count++;
    return 0;
}

static int init_open(const ax_ctok *t, init_state *st, bool two_d, const char *what, ax_error *err)
{
    if (st->depth >= 2 || !two_d || st->rows == 0)
        return ax_fail(err, "%s: line %u: unexpected '{' (a [256][256] table nests one brace per row)", what, t->line);
    st->depth = 2;
    st->rows = 1;
    st->row_count = 0;
    st->need_sep = false;
    return 0;
}

/* Walks the initializer after its opening brace up to the matching '}'. */
static int parse_initializer(ax_clexer *lx, bool two_d, unsigned start_line, int64_t *out, const char *what,
                             ax_error *err)
{
    init_state st = {0, 0, 1, -1, false};
    for (;;) {
        ax_ctok t = ax_clex_next(lx);
        if (t.kind == AX_CT_END)
            return ax_fail(err, "%s: the table initializer opened on line %u is not closed", what, start_line);
        if (st.need_sep && !ax_ctok_is(&t, ",") && !ax_ctok_is(&t, "}"))
            return ax_fail(err, "%s: line %u: ',' expected between values", what, t.line);
        if (ax_ctok_is(&t, ",")) {
            if (!st.need_sep) return ax_fail(err, "%s: line %u: unexpected ','", what, t.line);
            st.need_sep = false;
        } else if (ax_ctok_is(&t, "{")) {
            if (init_open(&t, &st, two_d, what, err) != 0) return -1;
        } else if (ax_ctok_is(&t, "}")) {
            if (st.depth == 1) break;
            if (st.row_count != 256)
                return ax_fail(err, "%s: line %u: row %zu has %zu values, 256 expected", what, t.line,
                               (st.count - st.row_count) / 256, st.row_count);
            st.depth = 1;
            st.need_sep = true;
        } else {
            if (init_value(lx, t, &st, out, what, err) != 0) return -1;
            st.need_sep = true;
        }
    }
    if (st.count != N_PAIRS)
        return ax_fail(err, "%s: the table initializer on line %u holds %zu values, 65536 expected", what,
                       start_line, st.count);
    return 0;
}

int ax_parse_c_header(const char *text, size_t len, int64_t table_out[AX_TABLE_SIZE],
                      bool *is_signed_type, const char *what, ax_error *err)
{
    ax_clexer lx;
    bool is_unsigned, flat;
    unsigned line;
    ax_clex_init(&lx, text, len);
    if (!find_table(&lx, &is_unsigned, &flat, &line))
        return ax_fail(err, "%s: no [256][256] (or [65536]) array initializer found", what);
    /* a "[65536]" table is flat: a nested brace is an error there */
    if (parse_initializer(&lx, !flat, line, table_out, what, err) != 0) return -1;
    *is_signed_type = !is_unsigned;
    return 0;
}

/* ---- line-oriented text: CSV and matrices ------------------------------------ */

typedef struct text_line {
    const char *s, *e; /* [s, e): the line without its end-of-line characters */
    unsigned no;
} text_line;

/* Next line of [*p, end); false at the end. */
static bool next_line(const char **p, const char *end, text_line *ln)
{
    if (*p >= end) return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    ln->s = *p;
    ln->e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    while (ln->e > ln->s && (ln->e[-1] == '\r' || ln->e[-1] == ' ' || ln->e[-1] == '\t')) ln->e--;
    while (ln->s < ln->e && (*ln->s == ' ' || *ln->s == '\t')) ln->s++;
    ln->no++;
    return true;
}

static bool skip_line_text(const text_line *ln) { return ln->s == ln->e || *ln->s == '#'; }

/* Field [s, e) trimmed of blanks and one pair of double quotes. */
static void trim_field(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t')) (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
    if (*e - *s >= 2 && **s == '"' && (*e)[-1] == '"') (*s)++, (*e)--;
}

static void field_text(const char *s, const char *e, char *out, size_t size)
{
    size_t n = (size_t)(e - s) < size - 1 ? (size_t)(e - s) : size - 1;
    memcpy(out, s, n);
    out[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 32 || (unsigned char)out[i] > 126) out[i] = '?';
}

/* Splits a CSV line into exactly three fields; false when the count differs. */
static bool csv_fields(const text_line *ln, const char *fs[3], const char *fe[3], int *count)
{
    int n = 0;
    const char *s = ln->s;
    for (;;) {
        const char *c = memchr(s, ',', (size_t)(ln->e - s));
        const char *e = c ? c : ln->e;
        if (n < 3) fs[n] = s, fe[n] = e, trim_field(&fs[n], &fe[n]);
        n++;
        if (!c) break;
        s = c + 1;
    }
    *count = n;
    return n == 3;
}

static int csv_operand(const char *s, const char *e, const text_line *ln, const char *name, int *out,
                       const char *what, ax_error *err)
{
    int64_t v;
    char tx[24];
    field_text(s, e, tx, sizeof tx);
    if (parse_whole(s, (size_t)(e - s), &v) != 0)
        return ax_fail(err, "%s: line %u: %s '%s' is not a number", what, ln->no, name, tx);
    if (v < -128 || v > 255)
        return ax_fail(err, "%s: line %u: %s %s is outside -128..255", what, ln->no, name, tx);
    *out = (int)v;
    return 0;
}

/* One data row into the table; seen[] holds the line that gave each pair. */
static int csv_row(const text_line *ln, const char *fs[3], const char *fe[3], int64_t *table, unsigned *seen,
                   bool *neg, const char *what, ax_error *err)
{
    int a, w;
    int64_t p;
    char tx[24];
    if (csv_operand(fs[0], fe[0], ln, "first operand", &a, what, err) != 0 ||
        csv_operand(fs[1], fe[1], ln, "second operand", &w, what, err) != 0)
        return -1;
    field_text(fs[2], fe[2], tx, sizeof tx);
    if (parse_whole(fs[2], (size_t)(fe[2] - fs[2]), &p) != 0)
        return ax_fail(err, "%s: line %u: product '%s' is not a whole number", what, ln->no, tx);
    size_t idx = (size_t)(a & 255) << 8 | (size_t)(w & 255);
    if (seen[idx])
        return ax_fail(err, "%s: line %u: duplicate pair (%d,%d), already given on line %u", what, ln->no, a, w,
                       seen[idx]);
    seen[idx] = ln->no;
    table[idx] = p;
    *neg |= a < 0 || w < 0;
    return 0;
}

static int csv_rows(const char *text, size_t len, int64_t *table, unsigned *seen, bool *neg, const char *what,
                    ax_error *err)
{
    const char *p = text, *end = text + len;
    text_line ln = {0};
    bool first = true;
    while (next_line(&p, end, &ln)) {
        if (skip_line_text(&ln)) continue;
        const char *fs[3], *fe[3];
        int n;
        if (!csv_fields(&ln, fs, fe, &n))
            return ax_fail(err, "%s: line %u: %d field(s), 3 expected (a,w,product)", what, ln.no, n);
        int64_t dummy;
        /* a header line: only the first row, and only when it is not numeric */
        bool header = first && parse_whole(fs[0], (size_t)(fe[0] - fs[0]), &dummy) != 0;
        first = false;
        if (!header && csv_row(&ln, fs, fe, table, seen, neg, what, err) != 0) return -1;
    }
    return 0;
}

int ax_parse_csv(const char *text, size_t len, int64_t table_out[AX_TABLE_SIZE],
                 bool *saw_negative_operand, const char *what, ax_error *err)
{
    unsigned *seen = calloc(N_PAIRS, sizeof *seen);
    if (!seen) return ax_fail(err, "%s: out of memory", what);
    bool neg = false;
    int rc = csv_rows(text, len, table_out, seen, &neg, what, err);
    size_t given = 0, missing = N_PAIRS;
    for (size_t i = 0; rc == 0 && i < N_PAIRS; i++) {
        if (seen[i]) given++;
        else if (missing == N_PAIRS) missing = i;
    }
    if (rc == 0 && missing != N_PAIRS) {
        int a = (int)(missing >> 8), w = (int)(missing & 255);
        if (neg) a = (int8_t)a, w = (int8_t)w;
        rc = ax_fail(err, "%s: pair (%d,%d) missing: %zu of 65536 pairs given", what, a, w, given);
    }
    free(seen);
    if (rc == 0) *saw_negative_operand = neg;
    return rc;
}

/* Numbers of one matrix line (separated by blanks, commas or semicolons)
 * appended at out[*count]; at most `room` of them. Returns how many the line
 * holds (counting past room), or -1 on a bad number. */
static long matrix_line(const text_line *ln, int64_t *out, size_t room, const char *what, ax_error *err)
{
    long n = 0;
    const char *s = ln->s;
    while (s < ln->e) {
        while (s < ln->e && strchr(" \t,;", *s) && *s) s++;
        if (s >= ln->e) break;
        const char *e = s;
        while (e < ln->e && !(strchr(" \t,;", *e) && *e)) e++;
        int64_t v;
        if (parse_whole(s, (size_t)(e - s), &v) != 0) {
            char tx[24];
            field_text(s, e, tx, sizeof tx);
            return ax_fail(err, "%s: line %u: '%s' is not a whole number", what, ln->no, tx);
        }
        if ((size_t)n < room) out[n] = v;
        n++;
        s = e;
    }
    return n;
}

int ax_parse_text_matrix(const char *text, size_t len, int64_t table_out[AX_TABLE_SIZE], const char *what,
                         ax_error *err)
{
    const char *p = text, *end = text + len;
    text_line ln = {0};
    size_t count = 0;
    long width = 0; /* 256: one matrix row per line; 1: one value per line */
    while (next_line(&p, end, &ln)) {
        if (skip_line_text(&ln)) continue;
        long n = matrix_line(&ln, table_out + count, N_PAIRS - count, what, err);
        if (n < 0) return -1;
        if (n == 0) continue;
        if (width == 0) width = n == 1 ? 1 : 256;
        if (n != width)
            return ax_fail(err, "%s: line %u: %ld numbers, %ld expected (256 rows of 256 numbers)", what, ln.no, n,
                           width);
        if (count + (size_t)n > N_PAIRS)
            return ax_fail(err, "%s: line %u: more than 65536 numbers (256 rows of 256 expected)", what, ln.no);
        count += (size_t)n;
    }
    if (count != N_PAIRS)
        return ax_fail(err, "%s: %zu rows of %ld numbers, a 256x256 matrix (256 rows of 256) expected", what,
                       width ? count / (size_t)width : 0, width ? width : 256);
    return 0;
}
