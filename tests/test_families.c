/* test_families.c - the built-in multiplier families against independent
 * formulations written differently from lut/families.c (row byte patterns and
 * arithmetic identities instead of a cell list; floating point for DRUM and
 * Mitchell), their known properties, and the spec parser. Every table is
 * checked on all 65536 operand pairs. */
#include <criterion/criterion.h>

#include "autoapprox/mult.h"
#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct types {
    const char *suffix;
    ax_operand act, wgt;
} types;

/* Per-pair checks: Criterion asserts are too heavy for 65536-pair loops. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) cr_assert_fail(__VA_ARGS__);                                                  \
    } while (0)

static const types TYPES[3] = {{"s8", AX_S8, AX_S8}, {"u8", AX_U8, AX_U8}, {"u8s8", AX_U8, AX_S8}};

static ax_mult *make(const char *fmt, ...)
{
    char spec[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(spec, sizeof spec, fmt, ap);
    va_end(ap);
    ax_mult *m = NULL;
    ax_error err = {{0}};
    int rc = ax_mult_from_family_spec(spec, &m, &err);
    cr_assert_eq(rc, 0, "%s: %s", spec, err.msg);
    cr_assert_not_null(m);
    return m;
}

typedef int64_t (*ref_fn)(const types *t, unsigned a, unsigned w, const int *p);

/* Asserts table == ref on every pair, reporting the first difference. */
static void check_against(const ax_mult *m, const types *t, ref_fn ref, const int *p)
{
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned w = 0; w < 256; w++) {
            int64_t want = ref(t, a, w, p), got = m->table[a * 256 + w];
            if (want != got)
                cr_assert_fail("%s: a=%d w=%d (bytes %u,%u): table %lld, reference %lld", m->name,
                               ax_operand_value(t->act, a), ax_operand_value(t->wgt, w), a, w,
                               (long long)got, (long long)want);
        }
    }
}

static double mae(const ax_mult *m)
{
    double s = 0;
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
        s += fabs((double)m->table[i] - (double)ax_exact_product(m->act, m->wgt, i >> 8, i & 255));
    return s / AX_TABLE_SIZE;
}

static bool same_table(const ax_mult *x, const ax_mult *y)
{
    return memcmp(x->table, y->table, sizeof x->table) == 0;
}

/* Parameter values visited: all of them, or a spread under sanitizers. */
static bool visit(int v, int lo, int hi)
{
    if (!ax_test_reduced()) return true;
    return v == lo || v == hi || v == (lo + hi) / 2;
}

/* ---- the Baugh-Wooley array, written as rows ----------------------------
 * Row j of the array is an 8-bit pattern shifted left by j (its cells sit in
 * distinct consecutive columns), plus a correction constant such that
 * pattern<<j + corr = the row's arithmetic term (w_j * a * 2^j, or
 * -w_7 * a * 2^7 for a signed weight). */
static unsigned row_pattern(const types *t, unsigned a, unsigned w, int j)
{
    unsigned wj = (w >> j) & 1;
    bool sa = t->act == AX_S8, sw = t->wgt == AX_S8;
    if (!sa && !sw) return wj ? a : 0;
    if (sa && sw) {
        if (j < 7) return wj ? (a ^ 0x80) : 0x80;
        return wj ? (a ^ 0x7f) : 0x7f;
    }
    /* u8 activation, s8 weight */
    if (j < 7) return wj ? a : 0;
    return wj ? (~a & 0xff) : 0xff;
}

static int64_t row_corr(const types *t, int j)
{
    bool sa = t->act == AX_S8, sw = t->wgt == AX_S8;
    if (sa && sw) return j < 7 ? -(INT64_C(1) << (j + 7)) : -((1 << 14) - (1 << 7));
    if (sw && j == 7) return -((1 << 15) - (1 << 7));
    return 0;
}

static int64_t row_term(const types *t, unsigned a, unsigned w, int j)
{
    int64_t va = ax_operand_value(t->act, a);
    int64_t wj = (w >> j) & 1;
    int64_t weight = (t->wgt == AX_S8 && j == 7) ? -128 : (INT64_C(1) << j);
    return va * wj * weight;
}

/* Rows kept in p[0] (mask), columns below p[1] dropped: the arithmetic sum of
 * the kept rows minus the bits that fall in dropped columns (cells and the
 * folded constant of the kept rows). */
static int64_t ref_array(const types *t, unsigned a, unsigned w, const int *p)
{
    unsigned rows = (unsigned)p[0];
    int k = p[1];
    int64_t low = (INT64_C(1) << k) - 1;
    int64_t v = 0, corr = 0, dropped = 0;
    for (int j = 0; j < 8; j++) {
        if (!(rows >> j & 1)) continue;
        v += row_term(t, a, w, j);
        corr += row_corr(t, j);
        dropped += ((int64_t)row_pattern(t, a, w, j) << j) & low;
    }
    int64_t konst = ((corr % 65536) + 65536) % 65536;
    return v - dropped - (konst & low);
}

Test(families, test_row_formulation_is_the_product)
{
    /* The test's own rows must add up to a*w before they can judge anything. */
    for (int t = 0; t < 3; t++) {
        const types *ty = &TYPES[t];
        for (unsigned a = 0; a < 256; a++) {
            for (unsigned w = 0; w < 256; w++) {
                int64_t sum = 0, corr = 0;
                for (int j = 0; j < 8; j++) {
                    int64_t r = ((int64_t)row_pattern(ty, a, w, j) << j) + row_corr(ty, j);
                    CHECK(r == row_term(ty, a, w, j), "%s row %d a=%u w=%u", ty->suffix, j, a, w);
                    sum += r;
                    corr += row_corr(ty, j);
                }
                CHECK(sum == ax_exact_product(ty->act, ty->wgt, a, w), "%s a=%u w=%u", ty->suffix, a, w);
                /* the folded constants of the modified Baugh-Wooley array */
                int64_t konst = ((corr % 65536) + 65536) % 65536;
                int64_t want_konst = ty->act == AX_S8 ? (1 << 8) + (1 << 15)
                                     : ty->wgt == AX_S8 ? (1 << 7) + (1 << 15) : 0;
                CHECK(konst == want_konst, "%s", ty->suffix);
            }
        }
    }
}

/* ---- exact and the exact ends of every family ------------------------------ */

Test(families, exact_is_exact)
{
    for (int t = 0; t < 3; t++) {
        ax_mult *m = make("exact-%s", TYPES[t].suffix);
        cr_assert(ax_mult_is_exact(m), "%s", m->name);
        cr_assert_eq(m->act, TYPES[t].act);
        cr_assert_eq(m->wgt, TYPES[t].wgt);
        char want[64];
        snprintf(want, sizeof want, "exact-%s", TYPES[t].suffix);
        cr_assert_str_eq(m->name, want);
        snprintf(want, sizeof want, "family=exact-%s", TYPES[t].suffix);
        cr_assert_str_eq(m->provenance, want);
        cr_assert(isnan(m->hw.power_mw) && isnan(m->hw.area_um2) && isnan(m->hw.delay_ns));
        ax_mult_free(m);
    }
}

Test(families, extreme_parameters_are_exact)
{
    static const char *specs[] = {
        "trunc-%s:k=0", "bam-%s:hbl=0,vbl=0", "perforated-%s:m=0", "perforated-%s:m=0,s=7",
        "optrunc-%s:ka=0,kw=0", "optrunc-%s:ka=0,kw=0,round=1", "drum-%s:k=8",
    };
    for (int t = 0; t < 3; t++) {
        ax_mult *ex = make("exact-%s", TYPES[t].suffix);
        for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
            ax_mult *m = make(specs[s], TYPES[t].suffix);
            cr_assert(same_table(m, ex), "%s differs from exact", m->name);
            ax_mult_free(m);
        }
        ax_mult_free(ex);
    }
}

/* ---- trunc, bam, perforated --------------------------------------------------- */

/* The brief's unsigned formulation: exact minus the low bits of every row. */
static int64_t ref_trunc_u8(const types *t, unsigned a, unsigned w, const int *p)
{
    (void)t;
    int64_t v = (int64_t)a * w;
    for (int j = 0; j < 8; j++) v -= (((w >> j) & 1) ? (int64_t)a << j : 0) & ((1 << p[0]) - 1);
    return v;
}

Test(families, trunc_unsigned_matches_row_masks)
{
    for (int k = 0; k <= 8; k++) {
        if (!visit(k, 0, 8)) continue;
        ax_mult *m = make("trunc-u8:k=%d", k);
        int p[1] = {k};
        check_against(m, &TYPES[1], ref_trunc_u8, p);
        ax_mult_free(m);
    }
}

Test(families, trunc_and_bam_match_row_arithmetic)
{
    for (int t = 0; t < 3; t++) {
        for (int k = 0; k <= 8; k++) {
            if (!visit(k, 0, 8)) continue;
            ax_mult *m = make("trunc-%s:k=%d", TYPES[t].suffix, k);
            int p[2] = {0xff, k};
            check_against(m, &TYPES[t], ref_array, p);
            ax_mult_free(m);
        }
        for (int h = 0; h <= 7; h++) {
            for (int v = 0; v <= 8; v++) {
                if (!visit(h, 0, 7) || !visit(v, 0, 8)) continue;
                ax_mult *m = make("bam-%s:hbl=%d,vbl=%d", TYPES[t].suffix, h, v);
                int p[2] = {(0xff << h) & 0xff, v};
                check_against(m, &TYPES[t], ref_array, p);
                ax_mult_free(m);
            }
        }
    }
}

Test(families, bam_hbl0_is_trunc)
{
    for (int t = 0; t < 3; t++) {
        for (int v = 0; v <= 8; v++) {
            if (!visit(v, 0, 8)) continue;
            ax_mult *b = make("bam-%s:hbl=0,vbl=%d", TYPES[t].suffix, v);
            ax_mult *tr = make("trunc-%s:k=%d", TYPES[t].suffix, v);
            cr_assert(same_table(b, tr), "%s != %s", b->name, tr->name);
            ax_mult_free(b);
            ax_mult_free(tr);
        }
    }
}

/* Perforating rows s..s+m-1 multiplies by the weight with those bits cleared
 * (read in the weight's own type: clearing bit 7 of an s8 weight adds 128). */
static int64_t ref_perforated(const types *t, unsigned a, unsigned w, const int *p)
{
    unsigned cleared = w & ~(((1u << p[0]) - 1u) << p[1]) & 0xffu;
    return (int64_t)ax_operand_value(t->act, a) * ax_operand_value(t->wgt, cleared);
}

Test(families, perforated_is_cleared_weight_bits)
{
    for (int t = 0; t < 3; t++) {
        for (int mm = 0; mm <= 7; mm++) {
            for (int s = 0; s + mm <= 8 && s <= 7; s++) {
                if (!visit(mm, 0, 7) || !visit(s, 0, 7)) continue;
                ax_mult *m = make("perforated-%s:m=%d,s=%d", TYPES[t].suffix, mm, s);
                int p[2] = {mm, s};
                check_against(m, &TYPES[t], ref_perforated, p);
                /* and the same as the general row arithmetic */
                int q[2] = {0xff & ~(((1 << mm) - 1) << s), 0};
                check_against(m, &TYPES[t], ref_array, q);
                ax_mult_free(m);
            }
        }
    }
}

Test(families, array_designs_never_overestimate_when_columns_drop)
{
    /* Dropping columns only removes non-negative bit weights: approx <= exact
     * for every operand type, which also shows no result wrapped mod 2^16. */
    for (int t = 0; t < 3; t++) {
        for (int k = 0; k <= 8; k++) {
            ax_mult *m = make("trunc-%s:k=%d", TYPES[t].suffix, k);
            for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
                CHECK(m->table[i] <= ax_exact_product(m->act, m->wgt, i >> 8, i & 255),
                      "%s at a=%u w=%u", m->name, i >> 8, i & 255);
            ax_mult_free(m);
        }
    }
    /* unsigned: omitting rows removes non-negative terms too */
    for (int h = 0; h <= 7; h++) {
        for (int v = 0; v <= 8; v++) {
            if (!visit(h, 0, 7) || !visit(v, 0, 8)) continue;
            ax_mult *m = make("bam-u8:hbl=%d,vbl=%d", h, v);
            for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
                CHECK(m->table[i] <= (int32_t)((i >> 8) * (i & 255)), "%s", m->name);
            ax_mult_free(m);
        }
    }
}

/* ---- optrunc, drum, mitchell (sign-magnitude) ------------------------------ */

static int64_t signed_product(const types *t, unsigned a, unsigned w, int64_t mag)
{
    int va = ax_operand_value(t->act, a), vw = ax_operand_value(t->wgt, w);
    return ((va < 0) != (vw < 0)) ? -mag : mag;
}

static int64_t opt_operand(int64_t x, int k, int round)
{
    int64_t q = x - x % (INT64_C(1) << k);
    return round && k > 0 ? q + (INT64_C(1) << (k - 1)) : q;
}

static int64_t ref_optrunc(const types *t, unsigned a, unsigned w, const int *p)
{
    int64_t x = labs((long)ax_operand_value(t->act, a)), y = labs((long)ax_operand_value(t->wgt, w));
    return signed_product(t, a, w, opt_operand(x, p[0], p[2]) * opt_operand(y, p[1], p[2]));
}

Test(families, optrunc_matches_reference)
{
    for (int t = 0; t < 3; t++)
        for (int ka = 0; ka <= 7; ka++)
            for (int kw = 0; kw <= 7; kw++)
                for (int r = 0; r <= 1; r++) {
                    /* a diagonal plus the edges is plenty for a per-operand map */
                    if (ka != kw && ka != 0 && kw != 0) continue;
                    if (!visit(ka, 0, 7) || !visit(kw, 0, 7)) continue;
                    ax_mult *m = make("optrunc-%s:ka=%d,kw=%d,round=%d", TYPES[t].suffix, ka, kw, r);
                    int p[3] = {ka, kw, r};
                    check_against(m, &TYPES[t], ref_optrunc, p);
                    ax_mult_free(m);
                }
}

/* DRUM in floating point: t = bit length from frexp; above k bits, keep
 * floor(x / 2^s), make it odd, scale back. */
static double drum_ref_operand(double x, int k)
{
    if (x == 0) return 0;
    int t;
    frexp(x, &t); /* x = f * 2^t, f in [0.5, 1): t is the bit length */
    if (t <= k) return x;
    double unit = ldexp(1.0, t - k);
    double q = floor(x / unit);
    if (fmod(q, 2.0) == 0) q += 1;
    return q * unit;
}

static int64_t ref_drum(const types *t, unsigned a, unsigned w, const int *p)
{
    double x = fabs((double)ax_operand_value(t->act, a)), y = fabs((double)ax_operand_value(t->wgt, w));
    return signed_product(t, a, w, (int64_t)(drum_ref_operand(x, p[0]) * drum_ref_operand(y, p[0])));
}

Test(families, drum_matches_reference)
{
    for (int t = 0; t < 3; t++)
        for (int k = 2; k <= 8; k++) {
            if (!visit(k, 2, 8)) continue;
            ax_mult *m = make("drum-%s:k=%d", TYPES[t].suffix, k);
            int p[1] = {k};
            check_against(m, &TYPES[t], ref_drum, p);
            ax_mult_free(m);
        }
}

/* Mitchell in floating point (all values are dyadic, so doubles are exact). */
static double mitchell_ref(double x, double y, int wbits)
{
    if (x == 0 || y == 0) return 0;
    int k1 = (int)floor(log2(x)), k2 = (int)floor(log2(y));
    double x1 = x / ldexp(1.0, k1) - 1, x2 = y / ldexp(1.0, k2) - 1;
    x1 = floor(ldexp(x1, wbits)) / ldexp(1.0, wbits);
    x2 = floor(ldexp(x2, wbits)) / ldexp(1.0, wbits);
    double v = x1 + x2 < 1 ? ldexp(1 + x1 + x2, k1 + k2) : ldexp(x1 + x2, k1 + k2 + 1);
    return floor(v);
}

static int64_t ref_mitchell(const types *t, unsigned a, unsigned w, const int *p)
{
    double x = fabs((double)ax_operand_value(t->act, a)), y = fabs((double)ax_operand_value(t->wgt, w));
    return signed_product(t, a, w, (int64_t)mitchell_ref(x, y, p[0]));
}

Test(families, mitchell_matches_reference)
{
    for (int t = 0; t < 3; t++)
        for (int wb = 0; wb <= 7; wb++) {
            if (!visit(wb, 0, 7)) continue;
            ax_mult *m = make("mitchell-%s:w=%d", TYPES[t].suffix, wb);
            int p[1] = {wb};
            check_against(m, &TYPES[t], ref_mitchell, p);
            ax_mult_free(m);
        }
}

static bool is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

Test(families, mitchell_properties)
{
    for (int t = 0; t < 3; t++) {
        for (int wb = 0; wb <= 7; wb++) {
            ax_mult *m = make("mitchell-%s:w=%d", TYPES[t].suffix, wb);
            for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
                int va = ax_operand_value(m->act, i >> 8), vw = ax_operand_value(m->wgt, i & 255);
                int64_t exact = (int64_t)va * vw, got = m->table[i];
                /* Mitchell never over-estimates a magnitude, and keeps the sign */
                CHECK(llabs(got) <= llabs(exact), "%s a=%d w=%d", m->name, va, vw);
                CHECK(got == 0 || (got < 0) == (exact < 0), "%s a=%d w=%d", m->name, va, vw);
                CHECK(exact != 0 || got == 0, "%s a=%d w=%d", m->name, va, vw);
                /* without truncation, a power-of-two operand makes it exact */
                if (wb == 7 && (is_pow2(abs(va)) || is_pow2(abs(vw))))
                    CHECK(got == exact, "%s a=%d w=%d", m->name, va, vw);
            }
            ax_mult_free(m);
        }
    }
}

Test(families, drum_and_optrunc_signs)
{
    for (int t = 0; t < 3; t++) {
        /* DRUM is exact below 2^k and never flips a sign */
        for (int k = 2; k <= 8; k++) {
            ax_mult *m = make("drum-%s:k=%d", TYPES[t].suffix, k);
            for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
                int va = ax_operand_value(m->act, i >> 8), vw = ax_operand_value(m->wgt, i & 255);
                int64_t exact = (int64_t)va * vw, got = m->table[i];
                if (abs(va) < (1 << k) && abs(vw) < (1 << k)) CHECK(got == exact, "%s a=%d w=%d", m->name, va, vw);
                CHECK(exact == 0 ? got == 0 : (got < 0) == (exact < 0), "%s a=%d w=%d", m->name, va, vw);
            }
            ax_mult_free(m);
        }
        /* optrunc with zeroing never over-estimates a magnitude */
        for (int k = 0; k <= 7; k++) {
            ax_mult *m = make("optrunc-%s:ka=%d,kw=%d,round=0", TYPES[t].suffix, k, k);
            for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
                CHECK(llabs(m->table[i]) <= llabs(ax_exact_product(m->act, m->wgt, i >> 8, i & 255)),
                      "%s", m->name);
            ax_mult_free(m);
        }
    }
}

/* ---- MAE grows with every approximating parameter ------------------------------ */

/* mae of spec "<family>-<suffix>:<params>" */
static double mae_of(const char *fmt, ...)
{
    char spec[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(spec, sizeof spec, fmt, ap);
    va_end(ap);
    ax_mult *m = make("%s", spec);
    double e = mae(m);
    ax_mult_free(m);
    return e;
}

#define ASSERT_NONDECREASING(prev, cur, ...)                                                        \
    cr_assert_geq((cur) + 1e-9, (prev), __VA_ARGS__)

Test(families, mae_monotone_trunc_bam_perforated)
{
    for (int t = 0; t < 3; t++) {
        const char *s = TYPES[t].suffix;
        double prev = -1;
        for (int k = 0; k <= 8; k++) {
            if (!visit(k, 0, 8)) continue;
            double e = mae_of("trunc-%s:k=%d", s, k);
            ASSERT_NONDECREASING(prev, e, "trunc-%s k=%d: MAE %g < %g", s, k, e, prev);
            prev = e;
        }
        /* bam: along each parameter, for every value of the other */
        double grid[8][9];
        for (int h = 0; h <= 7; h++)
            for (int v = 0; v <= 8; v++)
                grid[h][v] = visit(h, 0, 7) && visit(v, 0, 8) ? mae_of("bam-%s:hbl=%d,vbl=%d", s, h, v) : NAN;
        for (int h = 0; h <= 7; h++)
            for (int v = 0; v <= 8; v++) {
                if (isnan(grid[h][v])) continue;
                /* Not for s8 x s8 once vbl >= 6: an omitted row also removes
                 * its negative-activation terms, whose positive error partly
                 * cancels the negative bias of the dropped columns (e.g.
                 * hbl=0 -> 1 at vbl=6: MAE 80.25 -> 76.68). docs say so. */
                bool hbl_monotone = TYPES[t].act != AX_S8 || v <= 5;
                for (int h2 = h + 1; h2 <= 7 && hbl_monotone; h2++)
                    if (!isnan(grid[h2][v])) {
                        ASSERT_NONDECREASING(grid[h][v], grid[h2][v], "bam-%s vbl=%d: hbl %d -> %d", s, v, h, h2);
                        break;
                    }
                for (int v2 = v + 1; v2 <= 8; v2++)
                    if (!isnan(grid[h][v2])) {
                        ASSERT_NONDECREASING(grid[h][v], grid[h][v2], "bam-%s hbl=%d: vbl %d -> %d", s, h, v, v2);
                        break;
                    }
            }
        /* perforated: more rows, or the same rows moved up, costs more */
        for (int st = 0; st <= 7; st++) {
            prev = -1;
            for (int mm = 0; st + mm <= 8 && mm <= 7; mm++) {
                if (!visit(st, 0, 7) || !visit(mm, 0, 8 - st)) continue;
                double e = mae_of("perforated-%s:m=%d,s=%d", s, mm, st);
                ASSERT_NONDECREASING(prev, e, "perforated-%s s=%d m=%d", s, st, mm);
                prev = e;
            }
        }
        for (int mm = 0; mm <= 7; mm++) {
            prev = -1;
            for (int st = 0; st + mm <= 8 && st <= 7; st++) {
                if (!visit(mm, 0, 7) || !visit(st, 0, 8 - mm)) continue;
                double e = mae_of("perforated-%s:m=%d,s=%d", s, mm, st);
                ASSERT_NONDECREASING(prev, e, "perforated-%s m=%d s=%d", s, mm, st);
                prev = e;
            }
        }
    }
}

Test(families, mae_monotone_optrunc_drum_mitchell)
{
    for (int t = 0; t < 3; t++) {
        const char *s = TYPES[t].suffix;
        for (int r = 0; r <= 1; r++)
            for (int other = 0; other <= 7; other++) {
                if (!visit(other, 0, 7)) continue;
                double pa = -1, pw = -1;
                for (int k = 0; k <= 7; k++) {
                    double ea = mae_of("optrunc-%s:ka=%d,kw=%d,round=%d", s, k, other, r);
                    double ew = mae_of("optrunc-%s:ka=%d,kw=%d,round=%d", s, other, k, r);
                    ASSERT_NONDECREASING(pa, ea, "optrunc-%s ka=%d kw=%d round=%d", s, k, other, r);
                    ASSERT_NONDECREASING(pw, ew, "optrunc-%s ka=%d kw=%d round=%d", s, other, k, r);
                    pa = ea;
                    pw = ew;
                }
            }
        /* round=0 approximates more than round=1 once two or more bits go
         * (at k=1 round=1 is a hair worse: +1 on every operand, zero included) */
        for (int k = 2; k <= 7; k++)
            cr_assert_geq(mae_of("optrunc-%s:ka=%d,kw=%d,round=0", s, k, k) + 1e-9,
                          mae_of("optrunc-%s:ka=%d,kw=%d,round=1", s, k, k), "optrunc-%s k=%d", s, k);
        double prev = -1;
        for (int k = 8; k >= 2; k--) { /* smaller k approximates more */
            double e = mae_of("drum-%s:k=%d", s, k);
            ASSERT_NONDECREASING(prev, e, "drum-%s k=%d", s, k);
            prev = e;
        }
        prev = -1;
        for (int wb = 7; wb >= 0; wb--) { /* fewer fraction bits approximate more */
            double e = mae_of("mitchell-%s:w=%d", s, wb);
            ASSERT_NONDECREASING(prev, e, "mitchell-%s w=%d", s, wb);
            prev = e;
        }
    }
}

/* ---- the family list ------------------------------------------------------------ */

Test(families, listing)
{
    static const char *names[] = {"exact", "trunc", "bam", "perforated", "optrunc", "drum", "mitchell"};
    cr_assert_eq(ax_family_count(), 7);
    cr_assert_null(ax_family_at(ax_family_count()));
    for (size_t i = 0; i < 7; i++) {
        const ax_family_info *f = ax_family_find(names[i]);
        cr_assert_not_null(f, "%s", names[i]);
        cr_assert_str_eq(f->name, names[i]);
        cr_assert(f->summary && *f->summary);
        bool listed = false;
        for (size_t j = 0; j < ax_family_count(); j++) listed |= ax_family_at(j) == f;
        cr_assert(listed, "%s", names[i]);
        for (size_t j = 0; j < f->n_params; j++) {
            const ax_family_param *p = &f->params[j];
            cr_assert(p->min <= p->def && p->def <= p->max, "%s.%s", f->name, p->key);
            cr_assert_not_null(strstr(p->meaning, "more approximate"), "%s.%s: %s", f->name, p->key, p->meaning);
        }
    }
    cr_assert_null(ax_family_find("nope"));
    cr_assert_null(ax_family_find("trunc-s8"));
    cr_assert_null(ax_family_find(""));
}

/* ---- spec parsing ---------------------------------------------------------------- */

static void expect_name(const char *spec, const char *name, const char *prov)
{
    ax_mult *m = make("%s", spec);
    cr_assert_str_eq(m->name, name, "%s", spec);
    if (prov) cr_assert_str_eq(m->provenance, prov, "%s", spec);
    ax_mult_free(m);
}

Test(families, canonical_names_and_defaults)
{
    expect_name("trunc-s8:k=6", "trunc-s8:k=6", "family=trunc-s8 k=6");
    expect_name("trunc-s8", "trunc-s8:k=6", "family=trunc-s8 k=6");
    expect_name("bam-u8:vbl=3,hbl=1", "bam-u8:hbl=1,vbl=3", "family=bam-u8 hbl=1 vbl=3");
    expect_name("bam-u8s8:vbl=0", "bam-u8s8:hbl=2,vbl=0", "family=bam-u8s8 hbl=2 vbl=0");
    expect_name("perforated-s8:s=3", "perforated-s8:m=2,s=3", NULL);
    expect_name("optrunc-u8s8:round=1", "optrunc-u8s8:ka=2,kw=2,round=1",
                "family=optrunc-u8s8 ka=2 kw=2 round=1");
    expect_name("drum-u8", "drum-u8:k=4", "family=drum-u8 k=4");
    expect_name("mitchell-s8", "mitchell-s8:w=7", "family=mitchell-s8 w=7");
    expect_name("drum-u8:k=04", "drum-u8:k=4", NULL);

    /* every family's default spec, and its canonical name round-trips */
    for (size_t i = 0; i < ax_family_count(); i++) {
        const ax_family_info *f = ax_family_at(i);
        for (int t = 0; t < 3; t++) {
            ax_mult *m = make("%s-%s", f->name, TYPES[t].suffix);
            cr_assert_eq(m->act, TYPES[t].act);
            cr_assert_eq(m->wgt, TYPES[t].wgt);
            ax_mult *again = make("%s", m->name);
            cr_assert_str_eq(again->name, m->name);
            cr_assert_str_eq(again->provenance, m->provenance);
            cr_assert(same_table(m, again), "%s", m->name);
            ax_mult_free(again);
            ax_mult_free(m);
        }
    }
}

Test(families, longest_names_fit)
{
    for (size_t i = 0; i < ax_family_count(); i++) {
        const ax_family_info *f = ax_family_at(i);
        char spec[128] = "", *e = spec;
        e += sprintf(e, "%s-u8s8", f->name);
        for (size_t j = 0; j < f->n_params; j++)
            e += sprintf(e, "%c%s=%d", j ? ',' : ':', f->params[j].key, f->params[j].min);
        if (strcmp(f->name, "perforated") == 0) strcpy(spec, "perforated-u8s8:m=1,s=7");
        ax_mult *m = make("%s", spec);
        cr_assert_str_eq(m->name, spec);
        ax_mult_free(m);
    }
}

static void expect_error(const char *spec, const char *also)
{
    ax_mult *m = (ax_mult *)&m; /* must be reset to NULL */
    ax_error err = {{0}};
    int rc = ax_mult_from_family_spec(spec, &m, &err);
    cr_assert_eq(rc, -1, "'%s' accepted", spec);
    cr_assert_null(m, "%s", spec);
    cr_assert_null(strchr(err.msg, '\n'), "%s: message not one line: %s", spec, err.msg);
    cr_assert_not_null(strstr(err.msg, spec), "message does not name '%s': %s", spec, err.msg);
    if (also) cr_assert_not_null(strstr(err.msg, also), "'%s': expected '%s' in: %s", spec, also, err.msg);
    /* and without an error object */
    m = NULL;
    cr_assert_eq(ax_mult_from_family_spec(spec, &m, NULL), -1);
}

Test(families, spec_errors)
{
    expect_error("", "empty");
    expect_error("nosuch-s8", "known: exact, trunc, bam, perforated, optrunc, drum, mitchell");
    expect_error("Trunc-s8", "unknown multiplier family");
    expect_error("trunc", "operand suffix");
    expect_error("trunc-", "operand suffix");
    expect_error("trunc-s16", "unknown operand suffix");
    expect_error("trunc-s8u8", "-u8s8");
    expect_error("trunc-i8:k=1", "unknown operand suffix");
    expect_error("trunc-s8:j=1", "valid: k");
    expect_error("bam-s8:hbl=1,k=2", "valid: hbl, vbl");
    expect_error("optrunc-s8:rnd=1", "valid: ka, kw, round");
    expect_error("exact-s8:k=1", "no parameters");
    expect_error("trunc-s8:k=x", "not an integer");
    expect_error("trunc-s8:k=", "not an integer");
    expect_error("trunc-s8:k=1.5", "range 0..8");
    expect_error("trunc-s8:k= 1", "not an integer");
    expect_error("trunc-s8:k=-", "not an integer");
    expect_error("trunc-s8:k=9", "0..8");
    expect_error("trunc-s8:k=-1", "0..8");
    expect_error("trunc-s8:k=99999999999999999999", "out of range");
    expect_error("drum-u8:k=1", "2..8");
    expect_error("optrunc-u8:round=2", "0..1");
    expect_error("mitchell-u8s8:w=8", "0..7");
    expect_error("trunc-s8:k=1,k=2", "more than once");
    expect_error("bam-s8:vbl=1,hbl=2,vbl=1", "more than once");
    expect_error("trunc-s8:", "key=value");
    expect_error("trunc-s8:k", "key=value");
    expect_error("trunc-s8:k=1,", "key=value");
    expect_error("bam-s8:hbl=1,,vbl=2", "key=value");
    expect_error("perforated-s8:m=3,s=6", "s+m");
    expect_error("perforated-s8:m=8", "0..7");
    expect_error("bam-s8:hbl=8", "0..7");
    expect_error("perforated-s8:s=7", "s+m"); /* default m=2 */
    cr_assert_eq(ax_mult_from_family_spec(NULL, &(ax_mult *){NULL}, NULL), -1);
}

