/* gemm_plan.c - turns a multiplier table into a plan (the ISA, the path and
 * every derived form the kernels read: min-subtracted per-weight columns and
 * their byte planes) and packs a layer's weights for that plan. Everything
 * here is O(table) or O(KN), done once per multiplier or per layer. */
#include "gemm_internal.h"
#include "lutrow.h"
#include "lut/ax_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ax_lut_ukernel *lut_for(ax_isa isa)
{
#if defined(__x86_64__)
    if (isa == AX_ISA_AVX512) return &ax_lut_ukernel_avx512vbmi;
    if (isa == AX_ISA_AVX2) return &ax_lut_ukernel_avx2;
#endif
#if defined(__aarch64__) && AX_HAVE_NEON /* NEON hook */
    if (isa == AX_ISA_NEON) return &ax_lut_ukernel_neon;
#endif
    return isa == AX_ISA_SCALAR ? &ax_lut_ukernel_scalar : NULL;
}

static const ax_exact_ukernel *exact_for(ax_isa isa)
{
#if defined(__x86_64__)
    if (isa == AX_ISA_AVX512 && ax_cpu_has_avx512vnni()) return &ax_exact_ukernel_avx512vnni;
    if (isa == AX_ISA_AVX512 || isa == AX_ISA_AVX2) return &ax_exact_ukernel_avx2;
#endif
#if defined(__aarch64__) && AX_HAVE_NEON /* NEON hook: sdot/udot when the CPU has them */
    if (isa == AX_ISA_NEON) return ax_cpu_has_neon_dotprod() ? &ax_exact_ukernel_neondot : &ax_exact_ukernel_neon;
#endif
    return isa == AX_ISA_SCALAR ? &ax_exact_ukernel_scalar : NULL;
}

/* AVX-512 VNNI runs a byte form (every factor spans <= 256 values) with
 * vpdpbusd, 64 MACs per instruction; other forms and ISAs int16 terms. */
static const ax_exact_ukernel *lowrank_for(ax_isa isa, const ax_lowrank *lr)
{
#if defined(__x86_64__)
    if (isa == AX_ISA_AVX512 && ax_cpu_has_avx512vnni())
        return lr->bytes ? &ax_lowrank_ukernel_u8s8_avx512vnni : &ax_lowrank_ukernel_avx512vnni;
    if (isa == AX_ISA_AVX512 || isa == AX_ISA_AVX2) return &ax_lowrank_ukernel_avx2;
#endif
#if defined(__aarch64__) && AX_HAVE_NEON /* NEON hook */
    if (isa == AX_ISA_NEON) return &ax_lowrank_ukernel_neon;
#endif
    (void)isa, (void)lr;
    return &ax_lowrank_ukernel_scalar;
}

/* AUTO considers LOWRANK on AVX2 (up to 3 terms) and AVX-512 VNNI (up to
 * 8): see auto_wants_lowrank for the cost model. */
static int auto_lowrank_max(ax_isa isa)
{
    if (isa == AX_ISA_AVX2) return 3;
    return isa == AX_ISA_AVX512 && ax_cpu_has_avx512vnni() ? AX_LOWRANK_TERMS : 0;
}

static int planes_for(uint64_t range)
{
    return range < (1u << 8) ? 1 : range < (1u << 16) ? 2 : range < (1u << 24) ? 3 : 4;
}

/* Range of column w of T[a][w] - c * value(a). */
static uint64_t residual_range(const ax_mult *m, unsigned w, int c)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (unsigned a = 0; a < 256; a++) {
        int64_t e = (int64_t)m->table[a * 256 + w] - (int64_t)c * ax_operand_value(m->act, a);
        lo = e < lo ? e : lo;
        hi = e > hi ? e : hi;
    }
    return (uint64_t)(hi - lo);
}

/* The range is convex in the slope: walk downhill from the least-squares one. */
uint64_t ax_gemm_linear_residual(const ax_mult *m, unsigned w, int *c_out)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (unsigned a = 0; a < 256; a++) {
        double x = ax_operand_value(m->act, a), y = m->table[a * 256 + w];
        sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    double slope = (sxy - sx * sy / 256) / (sxx - sx * sx / 256);
    int cmin = m->wgt == AX_S8 ? -128 : 0, cmax = m->wgt == AX_S8 ? 127 : 255;
    int c = slope != slope ? 0 : slope < cmin ? cmin : slope > cmax ? cmax : (int)(slope + (slope < 0 ? -0.5 : 0.5));
    uint64_t r = residual_range(m, w, c);
    for (int dir = -1; dir <= 1; dir += 2)
        while (c + dir >= cmin && c + dir <= cmax) {
            uint64_t r2 = residual_range(m, w, c + dir);
            if (r2 >= r) break;
            r = r2, c += dir;
        }
    *c_out = c;
    return r;
}

/* Columns (or residual columns, c_w != 0) minus their minimum, as byte
 * planes (and as uint32 columns when cols is not NULL); the plane count
 * follows the widest column. */
static int make_planes(const ax_mult *m, const int c[256], uint32_t colmin[256], uint8_t **planes, int *nplanes,
                       uint32_t **cols, ax_error *err)
{
    uint64_t widest = 0;
    int64_t lo[256];
    for (unsigned w = 0; w < 256; w++) {
        int64_t l = INT64_MAX, h = INT64_MIN;
        for (unsigned a = 0; a < 256; a++) {
            int64_t e = (int64_t)m->table[a * 256 + w] - (int64_t)c[w] * ax_operand_value(m->act, a);
            l = e < l ? e : l;
            h = e > h ? e : h;
        }
        lo[w] = l;
        colmin[w] = (uint32_t)l; /* the sums only need it modulo 2^32 */
        widest = (uint64_t)(h - l) > widest ? (uint64_t)(h - l) : widest;
    }
    int P = *nplanes = planes_for(widest);
    if (cols && !(*cols = malloc(sizeof(uint32_t) * AX_TABLE_SIZE)))
        return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    if (!(*planes = ax_aligned_alloc(64, (size_t)256 * (size_t)P * 256)))
        return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    for (unsigned w = 0; w < 256; w++)
        for (unsigned a = 0; a < 256; a++) {
            int64_t e = (int64_t)m->table[a * 256 + w] - (int64_t)c[w] * ax_operand_value(m->act, a);
            uint32_t v = (uint32_t)(e - lo[w]);
            if (cols) (*cols)[w * 256 + a] = v;
            for (int q = 0; q < P; q++) (*planes)[((size_t)w * (size_t)P + (size_t)q) * 256 + a] = (uint8_t)(v >> (8 * q));
        }
    return 0;
}

static int derive_lut(ax_gemm_plan *p, const ax_mult *m, const int c[256], ax_error *err)
{
    return make_planes(m, c, p->colmin, &p->planes, &p->nplanes, &p->cols, err);
}

/* Whether the depthwise byte kernel (lowrank_dwconv_16c4__avx512vnni) beats
 * the byte planes (lut_dwconv_256x1__avx512vbmi, ~15 GMAC/s at stride 1 on
 * two planes) for a byte form. Measured on Zen 4, MobileNetV2's depthwise
 * layers at batch 8 (docs/kernels.md, "Byte forms split from wider ones"): one
 * term 1.7-5x (0.8-1.7x with row corrections: the exact u8 table); several
 * terms without row corrections 1.1-1.5x at 3
 * (mul8s_1KR6), even at 4, 0.75-1.0x at 5; with them (a u8 weight factor,
 * which leaves the kernel's 3x3 loops for its general pixel loop) 0.7-1.0x
 * at 2 terms (mul8u_Y48), 0.6-0.8x at 3. */
static bool dwlr_pays(const ax_lowrank *lr) { return lr->terms == 1 || (!lr->row_corr && lr->terms <= 3); }

/* The depthwise kernel: byte planes of the plain table on AVX-512 (the LUT
 * plan's own when it has no linear base), else the scalar loop over the
 * transposed table; LOWRANK plans on AVX2 their int16 terms (vpmaddwd), and
 * so do EXACT ones there, a*w as a one-term form (oneDNN's AVX2 int8
 * saturates, so nothing faster serves them: 6x the LUT depthwise); the
 * same terms serve their grouped layers (lowrank_gconv_6x16c2__avx2). */
static int derive_dw(ax_gemm_plan *p, const ax_mult *m, ax_error *err)
{
    p->dw = &ax_dw_ukernel_scalar;
#if defined(__x86_64__)
    if (p->isa == AX_ISA_AVX2) {
        p->dw = &ax_dw_ukernel_avx2;
        if (p->path == AX_PATH_EXACT && !p->lr) {
            if (!(p->lr = malloc(sizeof *p->lr))) return ax_fail(err, "gemm plan for %s: out of memory", m->name);
            if (ax_lowrank_factor(m, 1, p->lr) != 0) free(p->lr), p->lr = NULL;
        }
        if (p->exact == &ax_lowrank_ukernel_avx2 || (p->path == AX_PATH_EXACT && p->lr))
            p->dwlr = &ax_dwlr_ukernel_avx2, p->glr = &ax_glr_ukernel_avx2;
    }
    if (p->isa != AX_ISA_AVX512) return 0;
    p->dw = &ax_dw_ukernel_avx512vbmi;
    /* (row terms: the depthwise byte kernel knows none; the byte planes serve,
     * as they do where they are faster: see dwlr_pays) */
    if (p->exact == &ax_lowrank_ukernel_u8s8_avx512vnni && !p->lr->row_terms && dwlr_pays(p->lr))
        p->dwlr = &ax_dwlr_ukernel_avx512vnni;
    /* EXACT plans whose product is one byte term without row corrections
     * (a*w with s8 weights) run the grouped layers oneDNN does not take (4
     * channels per group; dwconv2d.c's byte planes otherwise) on the
     * grouped LOWRANK kernel too, and their depthwise layers on the LOWRANK
     * depthwise kernel rather than oneDNN's: 1.2-3x its s8 depthwise here
     * (which pays a compensation per output), and bands for the runtime */
    if (p->path == AX_PATH_EXACT && !p->lr && ax_cpu_has_avx512vnni()) {
        if (!(p->lr = malloc(sizeof *p->lr))) return ax_fail(err, "gemm plan for %s: out of memory", m->name);
        if (ax_lowrank_factor(m, 1, p->lr) != 0 || !p->lr->bytes) free(p->lr), p->lr = NULL;
        if (p->lr && p->lr->terms == 1 && !p->lr->row_terms) p->dwlr = &ax_dwlr_ukernel_avx512vnni;
    }
    /* the grouped kernel: byte forms (row terms and corrections summed per
     * pixel, conv2d.c), or the form with its signs swapped where that has
     * no row corrections: their sums were 15% of ResNeXt's layer2.0 on the
     * linear base of mul8u_2AC (row_quads, run_glr; perf) */
    if (p->exact == &ax_lowrank_ukernel_u8s8_avx512vnni || (p->path == AX_PATH_EXACT && p->lr))
        p->glr = &ax_glr_ukernel_avx512vnni; /* (and s8u8, derive_s8u8) */
    if (p->path == AX_PATH_LUT && p->lut && !p->linear) {
        p->dw_planes = p->planes, p->dw_colmin = p->colmin, p->dw_nplanes = p->nplanes;
        return 0;
    }
    static const int zero[256];
    if (!(p->dw_own_colmin = malloc(sizeof(uint32_t) * 256)))
        return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    if (make_planes(m, zero, p->dw_own_colmin, &p->dw_own, &p->dw_nplanes, NULL, err) != 0) return -1;
    p->dw_planes = p->dw_own, p->dw_colmin = p->dw_own_colmin;
#else
    (void)m, (void)err;
#endif
    return 0;
}

/* Whether a linear base pays: only kernels whose cost follows the plane
 * count (AVX-512 byte-plane permutes) gain, and only with fewer planes. */
static bool choose_linear_planes(const ax_mult *m, ax_isa isa, int c[256], int *planes)
{
    if (isa != AX_ISA_AVX512) return false;
    uint64_t plain = 0, resid = 0;
    for (unsigned w = 0; w < 256; w++) {
        uint64_t r0 = residual_range(m, w, 0), r1 = ax_gemm_linear_residual(m, w, &c[w]);
        plain = r0 > plain ? r0 : plain;
        resid = r1 > resid ? r1 : resid;
    }
    bool linear = planes_for(resid) < planes_for(plain);
    if (planes) *planes = linear ? planes_for(resid) : planes_for(plain);
    return linear;
}

static bool choose_linear(const ax_mult *m, ax_isa isa, int c[256]) { return choose_linear_planes(m, isa, c, NULL); }

/* The cost model, from single-core measurements on the ResNet-50 conv
 * layers at batch 8 (bench-approx --suite conv, one thread, docs/kernels.md),
 * in ps per MAC: on AVX-512 a LUT plan costs about 10 + 10 * planes since
 * the vpermi2b kernel (one plane after a linear base ~44-47 GMAC/s, two
 * ~33); LOWRANK byte terms (vpdpbusd) 3 + 3.3 * terms (mul8s_1L2J, 1 term:
 * ~160-185 GMAC/s; mul8s_1KR6, 3: ~69; mul8s_1KVA, 5: ~61 against ~48 on
 * its one-plane LUT), int16 terms (vpdpwssd) 13 each (mul8u_17MJ, 4: ~19,
 * before its form was split into 4 byte terms: ax_lowrank_split_bytes).
 * So byte forms up to 5 terms beat a one-plane LUT, up to 8 a two-plane one.
 * On AVX2 the row-table LUT (~13 GMAC/s on large M) against int16 terms of
 * ~19 ps each plus ~5 (mul8s_1L2J, 1 term: ~41 GMAC/s; mul8s_1KVA, 5: ~10):
 * LOWRANK up to 3 terms; small M falls back to gathers, slower still. */
static bool auto_wants_lowrank(const ax_mult *m, ax_isa isa, const ax_lowrank *lr)
{
    int terms = lr->terms;
    if (isa == AX_ISA_AVX2) return terms <= 3;
    int c[256], planes = 1;
    choose_linear_planes(m, isa, c, &planes);
    double lowrank_ps = lr->bytes ? 3 + 3.3 * terms : 13.0 * terms;
    return lowrank_ps < 10 + 10.0 * planes;
}

static size_t clamp_down(size_t v, size_t lo, size_t hi, size_t step)
{
    v = v < lo ? lo : v > hi ? hi : v;
    return v / step * step;
}

/* The cache-dependent block sizes (see struct ax_gemm_plan): on a core
 * with 48 KiB of L1 and 2 MiB of L2 they are 96, 2048, 2 MiB and 384. */
static void blocking(ax_gemm_plan *p)
{
    const ax_cpu_caches *c = ax_cpu_caches_get();
    p->lut_kc = clamp_down(c->l1d / 2 / 256, 16, 256, 16);
    bool bytes = false;
#if defined(__x86_64__)
    bytes = p->exact == &ax_lowrank_ukernel_u8s8_avx512vnni;
#endif
    /* byte panels (64 B per virtual k) up to L2/2: chunks of L2/8 measured
     * 5-8% slower on the ResNet-50 layer4 layers (one term, K = 4608) */
    p->lowrank_kv = bytes ? clamp_down(c->l2 / 2 / 64, 2048, 65536, 64) : clamp_down(c->l2 / 8 / 128, 512, 8192, 64);
    p->im2col_bytes = clamp_down(c->l2, 1 << 18, 1 << 23, 4096);
    p->dw_pix = clamp_down(c->l1d * 3 / (16 * 4), 128, 8192, 64);
}

/* The plan of T^T for the transposed problem (struct ax_gemm_plan, tp):
 * the plain table transposed, operand types swapped, through derive_lut
 * like any LUT plan; table_t (T^T transposed) is T itself. */
static int derive_transposed(ax_gemm_plan *p, const ax_mult *m, ax_error *err)
{
    static const int zero[256];
    ax_gemm_plan *t = p->tp = calloc(1, sizeof *t);
    ax_mult *mt = ax_mult_new();
    if (!t || !mt || !(t->table_t = malloc(sizeof(int32_t) * AX_TABLE_SIZE))) {
        ax_mult_free(mt);
        return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    }
    mt->act = m->wgt, mt->wgt = m->act;
    snprintf(mt->name, sizeof mt->name, "%s", m->name);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) mt->table[(i & 255) * 256 + (i >> 8)] = m->table[i];
    memcpy(t->table_t, m->table, sizeof(int32_t) * AX_TABLE_SIZE);
    t->isa = p->isa, t->path = AX_PATH_LUT, t->act = mt->act, t->wgt = mt->wgt, t->terms = 1;
    t->max_abs = p->max_abs, t->tmax = p->tmax, t->tmin = p->tmin;
    memcpy(t->name, p->name, sizeof t->name);
    t->lut = p->lut, t->lutrow = p->lutrow;
    int rc = t->lut ? derive_lut(t, mt, zero, err) : 0;
    ax_mult_free(mt);
    if (rc != 0) return -1;
    blocking(t);
    if (t->lut) snprintf(p->lut_name_t, sizeof p->lut_name_t, "%s^T", t->lut->name);
    if (t->lutrow) snprintf(p->lutrow_name_t, sizeof p->lutrow_name_t, "%s^T", t->lutrow->name);
    return 0;
}

/* Is the one virtual k of every byte v((a ^ x) & m) + off, v the byte's s8
 * or u8 value, x 0 or 0x80? off is f(x); bit i is in m when flipping it
 * from x moves f by v(1 << i), and out of it when f stays; then every byte
 * is checked. */
static void find_abits(ax_gemm_plan *p)
{
    for (int s8 = 1; s8 >= 0; s8--)
        for (unsigned x = 0; x <= 0x80; x += 0x80) {
            ax_operand t = s8 ? AX_S8 : AX_U8;
            int off = p->avirt[x][0];
            unsigned m = 0;
            bool fit = true;
            for (unsigned i = 0; i < 8 && fit; i++) {
                int d = p->avirt[x ^ (1u << i)][0] - off;
                if (d == ax_operand_value(t, 1u << i)) m |= 1u << i;
                else fit = d == 0;
            }
            for (unsigned a = 0; a < 256 && fit; a++) fit = p->avirt[a][0] == ax_operand_value(t, (a ^ x) & m) + off;
            if (fit) {
                p->abits = true, p->abits_s8 = s8, p->abits_xor = (uint8_t)x, p->abits_mask = (uint8_t)m;
                p->abits_off = (int16_t)off;
                return;
            }
        }
}

static int resolve_isa(ax_isa *isa, ax_error *err)
{
    if (*isa == AX_ISA_AUTO) {
        const char *env = getenv("AX_ISA");
        if (env && *env) {
            if (ax_isa_parse(env, isa) != 0)
                return ax_fail(err, "AX_ISA=%s: unknown ISA (auto, scalar, avx2, avx512, neon)", env);
        }
        if (*isa == AX_ISA_AUTO) *isa = ax_cpu_best_isa();
    }
    if ((unsigned)*isa > AX_ISA_NEON) return ax_fail(err, "gemm plan: invalid ISA %d", (int)*isa);
    if (!ax_cpu_supports(*isa))
        return ax_fail(err, "gemm plan: ISA %s is not supported by this CPU or build", ax_isa_name(*isa));
    return 0;
}

/* A linear-base plan's split for its grouped layers (base and resid in
 * gemm_internal.h): the base table c_w * a as a LOWRANK plan, kept only when
 * it gets the grouped kernel (a byte form on VNNI), and the plan without its
 * exact part. */
/* The grouped VNNI kernel's plan of the byte form with its signs swapped
 * (see the field), made last: a copy of the finished plan */
static int derive_s8u8(ax_gemm_plan *p, const ax_mult *m, ax_error *err)
{
    if (!p->glr || !p->glr->name_s8) return 0;
    ax_lowrank s8 = *p->lr;
    if (!ax_lowrank_swap_signs(&s8)) return 0;
    if (!(p->s8u8 = malloc(sizeof *p + sizeof s8))) return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    *p->s8u8 = *p;
    p->s8u8->lr = (ax_lowrank *)(p->s8u8 + 1);
    *p->s8u8->lr = s8;
    p->s8u8->tp = p->s8u8->base = p->s8u8->resid = p->s8u8->s8u8 = NULL;
    /* the depthwise byte kernel where derive_dw gave the form it (it ran
     * the row corrections on row_any; swapped, the row pairs take it), or
     * would have without the row corrections */
    p->s8u8->dwlr = NULL;
#if defined(__x86_64__)
    if (p->dwlr == &ax_dwlr_ukernel_avx512vnni || (p->exact == &ax_lowrank_ukernel_u8s8_avx512vnni && dwlr_pays(&s8)))
        p->s8u8->dwlr = &ax_dwlr_ukernel_avx512vnni_s8u8;
#endif
    return 0;
}

static int derive_split(ax_gemm_plan *p, const ax_mult *m, ax_error *err)
{
    if (p->isa != AX_ISA_AVX512 || !ax_cpu_has_avx512vnni()) return 0;
    ax_mult *b = ax_mult_new();
    if (!b) return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    snprintf(b->name, sizeof b->name, "%s", m->name);
    b->act = m->act, b->wgt = m->wgt;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++)
            b->table[a * 256 + w] = ax_operand_value(m->wgt, p->lin_w[w]) * ax_operand_value(m->act, (uint8_t)a);
    ax_error local;
    int rc = ax_gemm_plan_create(b, p->isa, AX_PATH_LOWRANK, &p->base, &local);
    ax_mult_free(b);
    if (rc != 0 || !p->base->glr) { /* (a*c_w has a byte form whenever c_w spans <= 256 values: always) */
        ax_gemm_plan_free(p->base);
        p->base = NULL;
        return 0;
    }
    if (!(p->resid = malloc(sizeof *p->resid))) return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    *p->resid = *p;
    ax_gemm_plan *r = p->resid;
    r->linear = r->onednn = false;
    r->exact = NULL, r->tp = NULL, r->lutrow = NULL, r->base = r->resid = r->s8u8 = NULL;
    r->dw = NULL, r->dwlr = NULL, r->glr = NULL, r->table_t = NULL; /* T's, not E's */
    snprintf(r->kernel_name, sizeof r->kernel_name, "%s", p->lut->name);
    memcpy(r->lut_name, r->kernel_name, sizeof r->lut_name);
    snprintf(p->split_name, sizeof p->split_name, "%s+%s",
             p->base->s8u8 ? p->base->glr->name_s8 : p->base->glr->name, p->lut->name);
    return 0;
}

int ax_gemm_plan_create(const ax_mult *m, ax_isa isa, ax_path path, ax_gemm_plan **out, ax_error *err)
{
    *out = NULL;
    if (!m) return ax_fail(err, "gemm plan: no multiplier");
    if (resolve_isa(&isa, err) != 0) return -1;
    bool exact = ax_mult_is_exact(m);
    bool own_exact = path == AX_PATH_EXACT_OWN; /* never oneDNN */
    if (own_exact) path = AX_PATH_EXACT;
    if (path == AX_PATH_EXACT && !exact)
        return ax_fail(err, "gemm plan: multiplier %s is not the exact product; the exact path cannot serve it",
                       m->name);
    if ((unsigned)path > AX_PATH_LUTROW) return ax_fail(err, "gemm plan: invalid path %d", (int)path);

    ax_gemm_plan *p = calloc(1, sizeof *p);
    if (!p) return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    p->terms = 1;
    bool auto_path = path == AX_PATH_AUTO;
    if (path == AX_PATH_AUTO) path = exact ? AX_PATH_EXACT : AX_PATH_LUT;
    if (path == AX_PATH_LOWRANK || (auto_path && path == AX_PATH_LUT && auto_lowrank_max(isa) > 0)) {
        bool asked = path == AX_PATH_LOWRANK;
        if (!(p->lr = malloc(sizeof *p->lr))) {
            ax_gemm_plan_free(p);
            return ax_fail(err, "gemm plan for %s: out of memory", m->name);
        }
        int found = ax_lowrank_factor(m, asked ? AX_LOWRANK_TERMS : auto_lowrank_max(isa), p->lr);
        if (found == 0 && !p->lr->bytes && isa == AX_ISA_AVX512 && ax_cpu_has_avx512vnni()) {
            ax_lowrank_split_bytes(m, p->lr); /* or the int16 form stays */
            /* a row term costs the byte kernel no multiplies, but a sum per row while packing A, as
             * the row corrections do: taken when it saves a multiplied term and brings no row
             * corrections the split form did without (mul8u_1SX: 5 -> 4 terms, ResNet-50 +23%;
             * mul8u_17MJ folded under s8 weights, with them: MobileNetV2 -6%) */
            ax_lowrank *alt = malloc(sizeof *alt);
            if (alt && ax_lowrank_row_split(m, alt) == 0 &&
                (!p->lr->bytes || (alt->terms < p->lr->terms && alt->row_corr <= p->lr->row_corr)))
                *p->lr = *alt;
            free(alt);
        }
        if (found == 0 && p->lr->row_terms && !lowrank_for(isa, p->lr)->row_terms)
            p->lr->terms += p->lr->row_terms, p->lr->row_terms = 0; /* multiplied like the others */
        if (found == 0 && (asked || auto_wants_lowrank(m, isa, p->lr))) {
            p->terms = p->lr->terms;
            p->amap = p->lr->amap, p->wmap = p->lr->wmap;
            path = AX_PATH_LOWRANK;
        } else if (asked) {
            ax_gemm_plan_free(p);
            return ax_fail(err, "gemm plan: multiplier %s has no exact low-rank form (at most %d terms of int16 "
                                "factors, of the table or of a*w plus its error); use the lut path", m->name,
                           AX_LOWRANK_TERMS);
        } else {
            free(p->lr);
            p->lr = NULL;
        }
    }
    p->isa = isa;
    p->path = path;
    p->act = m->act;
    p->wgt = m->wgt;
    p->table_t = malloc(sizeof(int32_t) * AX_TABLE_SIZE);
    if (!p->table_t) {
        ax_gemm_plan_free(p);
        return ax_fail(err, "gemm plan for %s: out of memory", m->name);
    }
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) p->table_t[(i & 255) * 256 + (i >> 8)] = m->table[i];
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        int64_t t = m->table[i], v = t < 0 ? -t : t;
        p->max_abs = v > p->max_abs ? v : p->max_abs;
        p->tmax = t > p->tmax ? t : p->tmax;
        p->tmin = t < p->tmin ? t : p->tmin;
    }
    snprintf(p->name, sizeof p->name, "%s", m->name);
    int c[256] = {0};
    if (path == AX_PATH_LUT) {
        p->lut = lut_for(isa);
        if (choose_linear(m, isa, c)) {
            p->exact = exact_for(isa);
            p->linear = p->exact != NULL;
            for (unsigned w = 0; w < 256; w++) p->lin_w[w] = (uint8_t)c[w];
        }
        if (!p->linear) memset(c, 0, sizeof c);
        if (p->lut && derive_lut(p, m, c, err) != 0) {
            ax_gemm_plan_free(p);
            return -1;
        }
        p->lutrow = ax_lutrow_for(isa);
    } else if (path == AX_PATH_LUTROW) {
        if (!(p->lutrow = ax_lutrow_for(isa))) {
            ax_gemm_plan_free(p);
            return ax_fail(err, "gemm plan: no lutrow kernel for ISA %s (AVX2 and AVX-512 only)", ax_isa_name(isa));
        }
    } else if (path == AX_PATH_LOWRANK) {
        p->exact = lowrank_for(isa, p->lr);
    } else {
        p->exact = exact_for(isa);
        p->onednn = !own_exact && ax_onednn_verify(p, m->table);
    }
    for (unsigned a = 0; a < 256; a++)
        for (int t = 0; t < (p->amap ? p->terms : 1); t++)
            p->avirt[a][t] = p->amap ? p->amap[t][a] : (int16_t)ax_operand_value(p->act, (uint8_t)a);
    if (!p->amap || p->terms == 1) find_abits(p);
    blocking(p);
    if (derive_dw(p, m, err) != 0) {
        ax_gemm_plan_free(p);
        return -1;
    }
    if ((p->lut || p->lutrow) && derive_transposed(p, m, err) != 0) {
        ax_gemm_plan_free(p);
        return -1;
    }
    if (!p->lut && !p->exact && !p->lutrow) {
        ax_gemm_plan_free(p);
        return ax_fail(err, "gemm plan: no %s kernel for ISA %s in this build", ax_path_name(path), ax_isa_name(isa));
    }
    if (p->linear) snprintf(p->kernel_name, sizeof p->kernel_name, "%s+%s", p->lut->name, p->exact->name);
    else if (p->onednn) snprintf(p->kernel_name, sizeof p->kernel_name, "exact_gemm__onednn");
    else snprintf(p->kernel_name, sizeof p->kernel_name, "%s",
                  p->lut ? p->lut->name : p->exact ? p->exact->name : p->lutrow->name);
    memcpy(p->lut_name, p->kernel_name, sizeof p->lut_name);
    if (p->lut && p->lutrow)
        snprintf(p->kernel_name, sizeof p->kernel_name, "%.63s|%.31s", p->lut_name, p->lutrow->name);
    if ((p->linear && derive_split(p, m, err) != 0) || derive_s8u8(p, m, err) != 0) {
        ax_gemm_plan_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void ax_gemm_plan_free(ax_gemm_plan *p)
{
    if (!p) return;
    free(p->cols);
    free(p->planes);
    free(p->lr);
    free(p->table_t);
    free(p->dw_own);
    free(p->dw_own_colmin);
    ax_gemm_plan_free(p->tp);
    ax_gemm_plan_free(p->base);
    free(p->resid); /* its buffers are p's */
    free(p->s8u8);
    free(p);
}

ax_isa ax_gemm_plan_isa(const ax_gemm_plan *p) { return p->isa; }
ax_path ax_gemm_plan_path(const ax_gemm_plan *p) { return p->path; }
int ax_gemm_plan_planes(const ax_gemm_plan *p) { return p->nplanes; }
int ax_gemm_plan_terms(const ax_gemm_plan *p) { return p->terms; }
int ax_gemm_plan_row_terms(const ax_gemm_plan *p) { return p->lr ? p->lr->row_terms : 0; }

const char *ax_gemm_plan_kernel_name(const ax_gemm_plan *p) { return p->kernel_name; }

/* Cycles of a plan's own LUT kernel on an M x K x N GEMM. Rates in
 * MAC/cycle on full panels, measured single-core on whole GEMMs of
 * ResNet-50 conv shapes on a Zen 5 core (docs/kernels.md): AVX2 gathers ~0.6
 * whatever the table (Zen 5 gathers are slow); AVX-512 byte planes
 * (vpermi2b) ~20 for one plane, ~12 for two, ~5.8 for three and ~2.8 for
 * four. Rows count in whole blocks (the kernels' vector of rows: 64 on
 * AVX-512 and scalar, 32 on AVX2, 16 on NEON). On AVX-512 a panel of up to
 * 640 rows runs as sub-panels of at most 5 blocks, shared out evenly (the
 * kernel's pack_a); a loaded table column serves up to sb blocks of a
 * sub-panel, and one load costs about LOAD_BLOCKS blocks' lookups (M = 64
 * vs 256 rows, N = 1000, K = 2048, two planes: 17 vs 46 GMAC/s), so a
 * sub-panel of nb blocks costs nb + LOAD_BLOCKS * ceil(nb / sb); the rates
 * are those of 4-block sub-panels. */
static double sub_panel_blocks(size_t nb, size_t sb, double load)
{
    return (double)nb + load * (double)((nb + sb - 1) / sb);
}

/* A panel of nb <= 10 blocks: sub-panels of at most 5, shared out evenly. */
static double panel_blocks(size_t nb, size_t sb, double load)
{
    double c = 0;
    for (size_t i = 0, s0 = 0, nsub = (nb + 4) / 5; i < nsub; i++) {
        size_t n = (nb - s0 + (nsub - i) - 1) / (nsub - i);
        c += sub_panel_blocks(n, sb, load);
        s0 += n;
    }
    return c;
}

static double own_cycles(const ax_gemm_plan *p, size_t M, size_t K, size_t N)
{
    static const double rate[4] = {20, 12, 5.8, 2.8};
    static const size_t sbmax[4] = {5, 5, 2, 1};
    const double LOAD_BLOCKS = 5.2;
    double cols_k = (double)K * (double)N;
    if (p->isa == AX_ISA_AVX512 && p->nplanes >= 1 && p->nplanes <= 4) {
        size_t sb = sbmax[p->nplanes - 1], nb = (M + 63) / 64;
        double blocks = (double)(nb / 10) * panel_blocks(10, sb, LOAD_BLOCKS) + panel_blocks(nb % 10, sb, LOAD_BLOCKS);
        return blocks / sub_panel_blocks(4, sb, LOAD_BLOCKS) * 256 * cols_k / rate[p->nplanes - 1];
    }
    size_t blk = p->isa == AX_ISA_AVX2 ? 32 : p->isa == AX_ISA_NEON ? 16 : 64;
    return (double)((M + blk - 1) / blk * blk) * cols_k / 0.6;
}

/* The cheapest of the plan's kernels and their transposed runs. Transposed
 * adds per call sum_k colmin^T[a] per row of A, C's transposed writes
 * through the tile buffer (~4 cycles per output: M = 6272, N = 256, K = 512
 * ran 7% slower transposed though its panels are fuller) and the weights'
 * panels streamed from L3 (~K*N/32: M = 1, N = 1000, K = 2048 ran 32
 * GMAC/s against ~44 for M >= 4). */
ax_lut_way ax_lut_choose(const ax_gemm_plan *p, size_t M, size_t K, size_t N)
{
    if (p->path != AX_PATH_LUT && p->path != AX_PATH_LUTROW) return AX_LUT_OWN;
    if (M == 0 || K == 0 || N == 0) return p->path == AX_PATH_LUTROW ? AX_LUT_ROWS : AX_LUT_OWN;
    ax_lut_way way = p->path == AX_PATH_LUTROW ? AX_LUT_ROWS : AX_LUT_OWN;
    double best = way == AX_LUT_ROWS ? ax_lutrow_cycles(p->lutrow, M, K, N) : own_cycles(p, M, K, N);
    double c;
    if (way == AX_LUT_OWN && p->lutrow && (c = ax_lutrow_cycles(p->lutrow, M, K, N)) < best) way = AX_LUT_ROWS, best = c;
    double extra = (double)M * (double)K + 4.0 * (double)M * (double)N + (double)K * (double)N / 32;
    if (p->lut && p->tp && (c = own_cycles(p->tp, N, K, M) + extra) < best) way = AX_LUT_OWN_T, best = c;
    if (p->lutrow && ax_lutrow_cycles(p->lutrow, N, K, M) < best) way = AX_LUT_ROWS_T;
    return way;
}

const char *ax_gemm_kernel_for(const ax_gemm_plan *p, size_t M, size_t K, size_t N)
{
    switch (ax_lut_choose(p, M, K, N)) {
    case AX_LUT_ROWS: return p->lutrow->name;
    case AX_LUT_OWN_T: return p->lut_name_t;
    case AX_LUT_ROWS_T: return p->lutrow_name_t;
    default: return p->lut && p->lutrow ? p->lut_name : p->kernel_name;
    }
}

static int64_t mag(int64_t v, int64_t cap) { return v < -cap || v > cap ? cap : v < 0 ? -v : v; }

ax_acc_extra ax_acc_extra_zero_points(const ax_gemm_plan *p, int32_t za, int32_t zw, int64_t bias)
{
    int64_t amax = p->act == AX_S8 ? 128 : 255, wmax = p->wgt == AX_S8 ? 128 : 255;
    int64_t a = mag(za, INT32_MAX), w = mag(zw, INT32_MAX);
    return (ax_acc_extra){.per_k = w * amax + a * wmax + a * w, .fixed = mag(bias, INT64_MAX)};
}

/* The largest K with K * grow + fixed <= room (grow >= 0). */
static size_t k_bound(int64_t grow, int64_t fixed, int64_t room)
{
    if (fixed > room) return 0;
    if (grow == 0) return SIZE_MAX;
    uint64_t k = (uint64_t)(room - fixed) / (uint64_t)grow;
    return k > SIZE_MAX ? SIZE_MAX : (size_t)k;
}

size_t ax_gemm_plan_max_k_ex(const ax_gemm_plan *p, const ax_acc_extra *extra)
{
    const int64_t cap = (int64_t)1 << 40; /* beyond int32 anyway; keeps the sums below exact */
    int64_t per = extra ? mag(extra->per_k, cap) : 0, fixed = extra ? mag(extra->fixed, cap) : 0;
    size_t up = k_bound(p->tmax + per, fixed, INT32_MAX);
    size_t down = k_bound(-p->tmin + per, fixed, (int64_t)1 << 31);
    return up < down ? up : down;
}

size_t ax_gemm_plan_max_k(const ax_gemm_plan *p, int64_t extra)
{
    ax_acc_extra e = {.per_k = 0, .fixed = extra};
    return ax_gemm_plan_max_k_ex(p, &e);
}

int ax_check_k(const ax_gemm_plan *p, size_t K, const ax_acc_extra *extra, const char *what, ax_error *err)
{
    size_t max_k = ax_gemm_plan_max_k_ex(p, extra);
    if (K <= max_k) return 0;
    return ax_fail(err,
                   "%s: K = %zu is too long for multiplier %s: products in [%lld, %lld]%s can leave the int32 "
                   "accumulator; the largest exact K is %zu",
                   what, K, p->name, (long long)p->tmin, (long long)p->tmax,
                   extra && (extra->per_k || extra->fixed) ? " plus the declared corrections" : "", max_k);
}


static int pack_chunked(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                        ax_packed_weights *w, ax_error *err)
{
    w->kc = p->lowrank_kv / (size_t)p->terms / 4 * 4; /* virtual k (K * terms) per chunk */
    w->n_chunks = (K + w->kc - 1) / w->kc;
    w->chunk = calloc(w->n_chunks, sizeof *w->chunk);
    if (!w->chunk) return ax_fail(err, "gemm weights: out of memory");
    for (size_t c = 0; c < w->n_chunks; c++) {
        size_t k0 = c * w->kc, kn = K - k0 < w->kc ? K - k0 : w->kc;
        if (ax_gemm_pack_weights(p, kn, N, B + k0 * ldb, ldb, &w->chunk[c], err) != 0) return -1;
        w->chunk[c]->plan = NULL; /* only reachable through w */
    }
    return 0;
}

int ax_gemm_pack_weights(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                         ax_packed_weights **out, ax_error *err)
{
    return ax_gemm_pack_weights_ex(p, K, N, B, ldb, NULL, out, err);
}

int ax_gemm_pack_weights_ex(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                            const ax_acc_extra *extra, ax_packed_weights **out, ax_error *err)
{
    return ax_gemm_pack_weights_for(p, K, N, B, ldb, extra, true, out, err);
}

int ax_gemm_pack_weights_for(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                             const ax_acc_extra *extra, bool onednn, ax_packed_weights **out, ax_error *err)
{
    *out = NULL;
    if (!p) return ax_fail(err, "gemm weights: no plan");
    if (ax_check_k(p, K, extra, "gemm weights", err) != 0) return -1;
    size_t max_k = ax_gemm_plan_max_k_ex(p, extra);
    if (ldb < N) return ax_fail(err, "gemm weights: ldb %zu is smaller than N %zu", ldb, N);
    if (K && N && (!B || K > SIZE_MAX / N / 8)) return ax_fail(err, "gemm weights: %zu x %zu is too large", K, N);
    if (p->path == AX_PATH_LOWRANK && K * (size_t)p->terms > p->lowrank_kv) {
        ax_packed_weights *w = calloc(1, sizeof *w);
        if (!w) return ax_fail(err, "gemm weights: out of memory");
        w->path = p->path, w->K = K, w->N = N, w->plan = p, w->max_k = max_k;
        if (pack_chunked(p, K, N, B, ldb, w, err) != 0) {
            ax_packed_weights_free(w);
            return -1;
        }
        *out = w;
        return 0;
    }
    ax_packed_weights *w = calloc(1, sizeof *w);
    if (!w) return ax_fail(err, "gemm weights: out of memory");
    w->path = p->path;
    w->K = K;
    w->N = N;
    w->max_k = max_k;
    w->plan = p;
    w->corr = calloc(N ? N : 1, sizeof *w->corr);
    if (onednn && p->onednn && N >= p->onednn_min_n && K >= p->onednn_min_k && w->corr && ax_onednn_pack(p, K, N, B, ldb, w, err) != 0) {
        ax_packed_weights_free(w);
        return -1;
    }
    if (p->exact && w->corr) {
        uint32_t *corr2 = calloc(N ? N : 1, sizeof *corr2);
        uint8_t *B2 = p->linear ? malloc(K && N ? K * N : 1) : NULL;
        w->bx = ax_aligned_alloc(64, p->exact->bx_bytes(K * (size_t)p->terms, N));
        if (w->bx && corr2 && (B2 || !p->linear)) {
            if (B2)
                for (size_t k = 0; k < K; k++)
                    for (size_t n = 0; n < N; n++) B2[k * N + n] = p->lin_w[B[k * ldb + n]];
            p->exact->pack_b(p, K, N, B2 ? B2 : B, B2 ? N : ldb, w->bx, corr2);
            for (size_t n = 0; n < N; n++) w->corr[n] += corr2[n];
        } else {
            free(w->bx);
            w->bx = NULL;
        }
        free(corr2);
        free(B2);
    }
    if (p->lut || p->lutrow) {
        w->bt = malloc(K && N ? K * N : 1);
        if (w->bt && w->corr)
            for (size_t n = 0; n < N; n++) {
                uint32_t c = 0;
                for (size_t k = 0; k < K; k++) {
                    uint8_t b = B[k * ldb + n];
                    w->bt[n * K + k] = b;
                    c += p->colmin[b];
                }
                w->corr[n] += c;
            }
    }
    if (!w->corr || ((p->lut || p->lutrow) && !w->bt) || (p->exact && !w->bx)) {
        ax_packed_weights_free(w);
        return ax_fail(err, "gemm weights: out of memory for %zu x %zu", K, N);
    }
    *out = w;
    return 0;
}

void ax_packed_weights_free(ax_packed_weights *w)
{
    if (!w) return;
    for (size_t c = 0; c < w->n_chunks && w->chunk; c++) ax_packed_weights_free(w->chunk[c]);
    free(w->chunk);
    free(w->bt);
    free(atomic_load(&w->tpanels));
    free(w->bx);
    free(w->ob);
    free(w->corr);
    free(w);
}

size_t ax_packed_weights_k(const ax_packed_weights *w) { return w->K; }
size_t ax_packed_weights_n(const ax_packed_weights *w) { return w->N; }
