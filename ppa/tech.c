/* tech.c - the technology tables of the chip model, in one place, each
 * number with its source (docs/ppa.md has the full citations and reasoning):
 *  - the multiplier: its own hardware figures (EvoApproxLib's published 45 nm
 *    synthesis results arrive in m->hw), or for a built-in family an estimate
 *    from the share of the exact 8x8 array's partial-product cells it keeps;
 *  - the rest of the PE (32-bit adder, pipeline registers) from Horowitz's
 *    45 nm table and the Nangate 45 nm flip-flop;
 *  - node scaling from 45 nm by classical rules (area ~ L^2, energy ~ L V^2);
 *  - SRAM, vector unit and uncore areas from the TPUv1 floorplan (28 nm),
 *    energies from Horowitz, wires from Keckler et al. */
#include "ppa_tech.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* EvoApproxLib exact 8x8 multipliers (manifest.csv, PDK45 synthesis). */
#define EXACT_S8_POWER_MW 0.425 /* mul8s_1KV6 */
#define EXACT_S8_AREA_UM2 729.8
#define EXACT_U8_POWER_MW 0.391 /* mul8u_1JJQ */
#define EXACT_U8_AREA_UM2 709.6
/* Horowitz, "Computing's energy problem", ISSCC 2014: 45 nm, 0.9 V. */
#define HZ_VDD 0.9
#define HZ_MULT8_PJ 0.2
#define HZ_ADD32_PJ 0.1
#define HZ_MULT8_UM2 282.0
#define HZ_ADD32_UM2 137.0
#define HZ_SRAM32K_PJ_PER_64BIT 20.0
#define HZ_FP32_MUL_PJ 3.7
#define HZ_FP32_ADD_PJ 0.9
/* Nangate 45 nm Open Cell Library, DFF_X1. */
#define DFF_UM2 4.522
/* Weight, shadow weight (preloading the next fold), activation, 32-bit psum. */
#define PE_REG_BITS 56
/* Assumption: one flip-flop bit per cycle costs one bit of Horowitz's 32-bit add. */
#define REG_PJ_PER_BIT (HZ_ADD32_PJ / 32)
/* Jouppi et al., ISCA 2017: TPUv1, 28 nm, die <= 331 mm^2, floorplan shares. */
#define TPU1_NODE 28.0
#define TPU1_DIE_MM2 331.0
#define TPU1_MMU_SHARE 0.24 /* 256 x 256 PEs */
#define TPU1_PES 65536.0
#define TPU1_UB_SHARE 0.29 /* 24 MiB unified buffer */
#define TPU1_UB_MIB 24.0
#define TPU1_ACC_SHARE 0.06 /* 4 MiB accumulators */
#define TPU1_ACC_MIB 4.0
#define TPU1_ACT_SHARE 0.06 /* activation pipeline, 256 lanes */
#define TPU1_ACT_LANES 256.0
#define TPU1_UNCORE_SHARE 0.11 /* control 2%, PCIe 3%, DDR3 3%, host 2%, misc I/O 1% */
#define TPU1_LABELED_SHARE 0.76 /* the rest of the floorplan is unlabeled */
/* Keckler et al., IEEE Micro 2011: on-chip wire ~0.1 pJ per bit per mm at 40 nm. */
#define WIRE_PJ_PER_BIT_MM 0.1
#define WIRE_NODE 40.0

double ax_tech_area_scale(double node_nm) { return (node_nm / 45.0) * (node_nm / 45.0); }

double ax_tech_energy_scale(double node_nm, double vdd) { return (node_nm / 45.0) * (vdd / HZ_VDD) * (vdd / HZ_VDD); }

const char *ax_exact_spec_for(const ax_mult *m)
{
    if (m->act == AX_U8 && m->wgt == AX_U8) return "exact-u8";
    if (m->act == AX_U8 && m->wgt == AX_S8) return "exact-u8s8";
    return "exact-s8";
}

static bool is_unsigned(const ax_mult *m) { return m->act == AX_U8 && m->wgt == AX_U8; }

/* ---- built-in family estimates ------------------------------------------------ */

typedef struct fam_params {
    char family[32];
    int key_count;
    char key[4][16];
    int val[4];
} fam_params;

/* "family=trunc-s8 k=6" -> family "trunc", k=6. False when not a family. */
static bool parse_provenance(const char *prov, fam_params *p)
{
    memset(p, 0, sizeof *p);
    if (strncmp(prov, "family=", 7) != 0) return false;
    const char *s = prov + 7;
    size_t n = strcspn(s, "- ");
    if (n == 0 || n >= sizeof p->family) return false;
    memcpy(p->family, s, n);
    for (s = strchr(s, ' '); s && p->key_count < 4; s = strchr(s + 1, ' ')) {
        char key[16];
        int v;
        if (sscanf(s + 1, "%15[a-z]=%d", key, &v) == 2) {
            ax_strlcpy(p->key[p->key_count], key, sizeof p->key[0]);
            p->val[p->key_count++] = v;
        }
    }
    return true;
}

static int param(const fam_params *p, const char *key, int def)
{
    for (int i = 0; i < p->key_count; i++)
        if (!strcmp(p->key[i], key)) return p->val[i];
    return def;
}

/* Cells (i, j) of the 8x8 partial-product array kept by row mask and column floor. */
static int cells_kept(unsigned row_mask, int col_min)
{
    int n = 0;
    for (int j = 0; j < 8; j++)
        for (int i = 0; i < 8; i++) n += (row_mask >> j & 1u) && i + j >= col_min;
    return n;
}

/* Fraction of the exact multiplier's area and power a family design keeps;
 * negative when the family is unknown. Array designs (trunc, bam,
 * perforated) keep their share of the 64 partial-product cells and of the
 * adder cells that sum them; optrunc is a smaller exact multiplier; DRUM and
 * Mitchell add leading-one detectors and shifters (assumed 25% of the exact
 * multiplier) to a k x k multiplier or a (w+1)-bit log-domain adder. */
static double family_fraction(const fam_params *p, char *why, size_t size)
{
    const char *f = p->family;
    int kept = -1;
    if (!strcmp(f, "exact")) kept = 64;
    else if (!strcmp(f, "trunc")) kept = cells_kept(0xffu, param(p, "k", 6));
    else if (!strcmp(f, "bam")) kept = cells_kept((0xffu << param(p, "hbl", 2)) & 0xffu, param(p, "vbl", 6));
    else if (!strcmp(f, "perforated"))
        kept = cells_kept(0xffu & ~(((1u << param(p, "m", 2)) - 1u) << param(p, "s", 0)), 0);
    else if (!strcmp(f, "optrunc")) kept = (8 - param(p, "ka", 2)) * (8 - param(p, "kw", 2));
    if (kept >= 0) {
        snprintf(why, size, "estimate: %d/64 partial-product cells of the exact 8x8 array", kept);
        return kept / 64.0;
    }
    if (!strcmp(f, "drum")) {
        int k = param(p, "k", 4);
        snprintf(why, size, "estimate: %dx%d core multiplier + 25%% for leading-one detectors and shifters", k, k);
        return k * k / 64.0 + 0.25;
    }
    if (!strcmp(f, "mitchell")) {
        int w = param(p, "w", 7);
        snprintf(why, size, "estimate: log-domain adder of %d fraction bits + 25%% for detectors and shifters", w);
        return 0.25 + 0.25 * (w + 1) / 8.0;
    }
    return -1;
}

/* ---- the multiplier's figures at 45 nm ----------------------------------------- */

/* "45nm", "45 nm", "45" -> 45; "" -> 45 (EvoApproxLib's node, stated in docs). */
static int parse_node(const char *s, double *nm)
{
    if (!s[0]) return *nm = 45, 0;
    char *end;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    if (end == s || v < 3 || v > 1000 || (*end && strcmp(end, "nm") != 0)) return -1;
    *nm = v;
    return 0;
}

static int mult_figures_45(const ax_mult *m, double *power_mw, double *area_um2, char *why, size_t size,
                           ax_error *err)
{
    double ref_p = is_unsigned(m) ? EXACT_U8_POWER_MW : EXACT_S8_POWER_MW;
    double ref_a = is_unsigned(m) ? EXACT_U8_AREA_UM2 : EXACT_S8_AREA_UM2;
    if (isfinite(m->hw.power_mw) && isfinite(m->hw.area_um2)) {
        double nm;
        if (parse_node(m->hw.node, &nm) != 0)
            return ax_fail(err, "multiplier %s: technology node '%s' not understood (e.g. 45nm)", m->name, m->hw.node);
        *power_mw = m->hw.power_mw / ax_tech_energy_scale(nm, HZ_VDD);
        *area_um2 = m->hw.area_um2 / ax_tech_area_scale(nm);
        snprintf(why, size, "hardware figures of the multiplier (%s)", m->hw.node[0] ? m->hw.node : "45nm assumed");
        return 0;
    }
    fam_params p;
    double f = parse_provenance(m->provenance, &p) ? family_fraction(&p, why, size) : -1;
    if (f < 0 && ax_mult_is_exact(m)) {
        f = 1;
        snprintf(why, size, "exact table: the EvoApproxLib exact 8x8 multiplier's figures");
    }
    if (f < 0)
        return ax_fail(err, "multiplier %s has no hardware figures (power and area): give them, e.g. "
                            "'autoapprox mult import ... --power MW --area UM2 --node 45nm'", m->name);
    *power_mw = ref_p * f;
    *area_um2 = ref_a * f;
    return 0;
}

int ax_pe_cost_of(const ax_mult *m, ax_pe_cost *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    double p = 0, a = 0;
    if (mult_figures_45(m, &p, &a, out->source, sizeof out->source, err) != 0) return -1;
    if (p < 0 || a < 0) return ax_fail(err, "multiplier %s: negative power or area", m->name);
    double ref_p = is_unsigned(m) ? EXACT_U8_POWER_MW : EXACT_S8_POWER_MW;
    double ref_a = is_unsigned(m) ? EXACT_U8_AREA_UM2 : EXACT_S8_AREA_UM2;
    out->mult_rel_power = p / ref_p;
    out->mult_rel_area = a / ref_a;
    out->mult_area_um2 = a;
    out->mult_energy_pj = HZ_MULT8_PJ * out->mult_rel_power;
    /* The adder in the multipliers' basis: Horowitz's add32/mult8 area ratio. */
    out->adder_area_um2 = EXACT_S8_AREA_UM2 * HZ_ADD32_UM2 / HZ_MULT8_UM2;
    out->adder_energy_pj = HZ_ADD32_PJ;
    out->reg_area_um2 = PE_REG_BITS * DFF_UM2;
    out->reg_energy_pj = PE_REG_BITS * REG_PJ_PER_BIT;
    out->area_um2 = out->mult_area_um2 + out->adder_area_um2 + out->reg_area_um2;
    out->energy_pj = out->mult_energy_pj + out->adder_energy_pj + out->reg_energy_pj;
    return 0;
}

/* ---- chip-level constants at the chip's node ------------------------------------- */

static double exact_pe_area_45(void)
{
    return EXACT_S8_AREA_UM2 * (1 + HZ_ADD32_UM2 / HZ_MULT8_UM2) + PE_REG_BITS * DFF_UM2;
}

void ppa_tech_for(const ax_chip *c, ppa_tech *t)
{
    double s28 = ax_tech_area_scale(c->node_nm) / ax_tech_area_scale(TPU1_NODE);
    t->area_scale = ax_tech_area_scale(c->node_nm);
    t->energy_scale = ax_tech_energy_scale(c->node_nm, c->vdd);
    /* PE wiring, clock tree and placement density, calibrated so 65536 exact
     * PEs at 28 nm fill TPUv1's matrix unit. */
    t->array_overhead = TPU1_MMU_SHARE * TPU1_DIE_MM2 * 1e6 / TPU1_PES /
                        (exact_pe_area_45() * ax_tech_area_scale(TPU1_NODE));
    t->ub_mm2_per_mib = TPU1_UB_SHARE * TPU1_DIE_MM2 / TPU1_UB_MIB * s28;
    t->acc_mm2_per_mib = TPU1_ACC_SHARE * TPU1_DIE_MM2 / TPU1_ACC_MIB * s28;
    t->vector_mm2_per_lane = TPU1_ACT_SHARE * TPU1_DIE_MM2 / TPU1_ACT_LANES * s28;
    t->uncore_share = TPU1_UNCORE_SHARE / (TPU1_MMU_SHARE + TPU1_UB_SHARE + TPU1_ACC_SHARE + TPU1_ACT_SHARE);
    t->labeled_share = TPU1_LABELED_SHARE;
    t->sram_pj_per_byte = HZ_SRAM32K_PJ_PER_64BIT / 8 * t->energy_scale;
    t->vector_pj_per_output = (HZ_FP32_MUL_PJ + HZ_FP32_ADD_PJ) * t->energy_scale;
    t->wire_pj_per_bit_mm = WIRE_PJ_PER_BIT_MM * t->energy_scale / ax_tech_energy_scale(WIRE_NODE, HZ_VDD);
}
