/* model.c - prices a bound chip running a network: per layer the
 * weight-stationary mapping on its assigned array, its HBM traffic and time,
 * its dynamic energy by block; then areas, leakage and the chip totals.
 *
 * Execution model (docs/ppa.md): layers run one after another, each on its
 * assigned array; a layer takes the longer of its compute time and its HBM
 * transfer time; idle arrays leak. Weights come from HBM once per batch;
 * activations stay in the unified buffer unless a layer's input plus output
 * exceed it, then both go through HBM. */
#include "ppa_tech.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct layer_bytes {
    uint64_t ifmap, ofmap, weights, outputs;
} layer_bytes;

static void bytes_of(const ax_layer *l, const ax_mapping *m, uint32_t batch, layer_bytes *b)
{
    uint64_t out_ch = m->N * m->groups;
    b->ifmap = (uint64_t)batch * l->ifmap_h * l->ifmap_w * l->channels;
    b->outputs = m->M * out_ch; /* one int32 accumulator per output */
    b->ofmap = b->outputs;      /* written back as int8 */
    b->weights = m->K * m->N * m->groups;
}

/* Average wire length from the unified buffer to an array: half a core's side. */
static double wire_mm(const ax_ppa_report *r, const ax_chip *c)
{
    double core = (r->parts.area_arrays + r->parts.area_ub + r->parts.area_acc + r->parts.area_vector) / c->cores;
    return 0.5 * sqrt(core);
}

static void price_areas(const ax_binding *b, const ppa_tech *t, ax_ppa_report *r)
{
    const ax_chip *c = &b->chip;
    ax_ppa_breakdown *p = &r->parts;
    for (size_t i = 0; i < r->n_arrays; i++) {
        ax_ppa_array *a = &r->arrays[i];
        a->fig.area_mm2 = (double)a->rows * a->cols * a->pe.area_um2 * t->area_scale * t->array_overhead / 1e6;
        p->area_arrays += a->fig.area_mm2;
    }
    p->area_ub = c->cores * c->ub_mib * t->ub_mm2_per_mib;
    p->area_acc = c->cores * c->acc_mib * t->acc_mm2_per_mib;
    p->area_vector = c->cores * (double)c->vector_lanes * t->vector_mm2_per_lane;
    double priced = p->area_arrays + p->area_ub + p->area_acc + p->area_vector;
    /* control and I/O, then the floorplan's unlabeled share (routing, spare) */
    double with_uncore = priced * (1 + t->uncore_share) / t->labeled_share;
    p->area_uncore = with_uncore - priced;
    p->area_other = c->other_area_mm2;
    r->chip.area_mm2 = with_uncore + p->area_other;
}

/* One layer: mapping, time, dynamic energy (pJ) by block. */
static int run_layer(const ax_binding *b, const ax_topology *topo, size_t l, const ppa_tech *t, double wire,
                     ax_ppa_report *r, ax_error *err)
{
    const ax_chip *c = &b->chip;
    const ax_layer *ly = &topo->layers[l];
    ax_ppa_layer *out = &r->layers[l];
    out->array = b->layer_array[l];
    ax_ppa_array *a = &r->arrays[out->array];
    ax_error e;
    if (ax_map_ws(ly, a->rows, a->cols, r->batch, &out->map, &e) != 0)
        return ax_fail(err, "%s line %d: %s", topo->name, ly->line, e.msg);
    layer_bytes by;
    bytes_of(ly, &out->map, r->batch, &by);
    bool spill = (double)(by.ifmap + by.ofmap) > c->ub_mib * 1048576.0;
    out->hbm_bytes =
        by.weights + ((l == 0 || spill) ? by.ifmap : 0) + ((l + 1 == topo->n_layers || spill) ? by.ofmap : 0);
    double compute_s = (double)out->map.cycles / (c->freq_mhz * 1e6);
    double hbm_s = (double)out->hbm_bytes / (c->hbm_gbps * 1e9 / c->cores);
    out->memory_bound = hbm_s > compute_s;
    double time_s = out->memory_bound ? hbm_s : compute_s;
    out->time_ms = time_s * 1e3;

    const ax_mapping *m = &out->map;
    double mac = (double)m->macs * a->pe.energy_pj * t->energy_scale;
    double sram_bytes = (double)(m->ifmap_reads + m->filter_reads) + 8.0 * (double)m->ofmap_writes +
                        5.0 * (double)by.outputs + (double)out->hbm_bytes;
    double sram = sram_bytes * t->sram_pj_per_byte;
    double vector = (double)by.outputs * t->vector_pj_per_output;
    double moved = (double)(m->ifmap_reads + m->filter_reads) + 4.0 * (double)by.outputs + (double)out->hbm_bytes;
    double inter = moved * 8 * t->wire_pj_per_bit_mm * wire;
    double hbm = (double)out->hbm_bytes * 8 * c->hbm_pj_per_bit;
    out->energy_mj = (mac + sram + vector + inter + hbm) * 1e-9;
    r->parts.mac += mac * 1e-9;
    r->parts.sram += sram * 1e-9;
    r->parts.vector += vector * 1e-9;
    r->parts.interconnect += inter * 1e-9;
    r->parts.hbm += hbm * 1e-9;
    a->fig.energy_mj += mac * 1e-9;
    a->macs += m->macs;
    a->cycles += m->cycles;
    a->busy_ms += out->time_ms;
    a->n_layers++;
    r->macs += m->macs;
    r->chip.latency_ms += out->time_ms;
    return 0;
}

static int init_arrays(const ax_binding *b, ax_ppa_report *r, ax_error *err)
{
    for (size_t i = 0; i < r->n_arrays; i++) {
        const ax_chip_array *x = &b->chip.arrays[i];
        ax_ppa_array *a = &r->arrays[i];
        ax_strlcpy(a->id, x->id, sizeof a->id);
        ax_strlcpy(a->mult, b->mult[i]->name, sizeof a->mult);
        a->core = x->core;
        a->rows = x->rows;
        a->cols = x->cols;
        ax_error e;
        if (ax_pe_cost_of(b->mult[i], &a->pe, &e) != 0) return ax_fail(err, "array %s: %s", x->id, e.msg);
    }
    return 0;
}

/* Leakage over the whole run, then per-inference and average-power figures. */
static void finish(const ax_chip *c, ax_ppa_report *r)
{
    double lat_s = r->chip.latency_ms * 1e-3, batch = r->batch;
    r->parts.leakage = c->leakage_w_per_mm2 * r->chip.area_mm2 * lat_s * 1e3;
    double total_mj = r->parts.mac + r->parts.sram + r->parts.vector + r->parts.interconnect + r->parts.hbm +
                      r->parts.leakage;
    r->chip.energy_mj = total_mj / batch;
    r->chip.power_w = lat_s > 0 ? total_mj * 1e-3 / lat_s : 0;
    r->chip.throughput_ips = lat_s > 0 ? batch / lat_s : 0;
    r->chip.utilization = lat_s > 0 ? (double)r->macs / (lat_s * r->peak_macs_per_s) : 0;
    for (size_t i = 0; i < r->n_arrays; i++) {
        ax_ppa_array *a = &r->arrays[i];
        double leak_mj = c->leakage_w_per_mm2 * a->fig.area_mm2 * lat_s * 1e3;
        double mj = a->fig.energy_mj + leak_mj;
        a->fig.energy_mj = mj / batch;
        a->fig.power_w = lat_s > 0 ? mj * 1e-3 / lat_s : 0;
        a->fig.latency_ms = a->busy_ms;
        double peak = (double)a->rows * a->cols * c->freq_mhz * 1e6;
        a->fig.utilization = lat_s > 0 ? (double)a->macs / (lat_s * peak) : 0;
    }
}

int ax_ppa_evaluate(const ax_binding *b, const ax_topology *topo, uint32_t batch, ax_ppa_report *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    if (batch == 0) return ax_fail(err, "batch must be positive");
    if (b->n_layers != topo->n_layers) return ax_fail(err, "binding and network disagree on the number of layers");
    out->batch = batch;
    out->n_arrays = b->chip.n_arrays;
    out->n_layers = topo->n_layers;
    out->peak_macs_per_s = ax_chip_peak_macs_per_s(&b->chip);
    out->arrays = calloc(out->n_arrays, sizeof *out->arrays);
    out->layers = calloc(out->n_layers ? out->n_layers : 1, sizeof *out->layers);
    if (!out->arrays || !out->layers) {
        ax_ppa_report_free(out);
        return ax_fail(err, "out of memory");
    }
    ppa_tech t;
    ppa_tech_for(&b->chip, &t);
    int rc = init_arrays(b, out, err);
    if (rc == 0) price_areas(b, &t, out);
    double wire = wire_mm(out, &b->chip);
    for (size_t l = 0; rc == 0 && l < topo->n_layers; l++) rc = run_layer(b, topo, l, &t, wire, out, err);
    if (rc != 0) {
        ax_ppa_report_free(out);
        return -1;
    }
    finish(&b->chip, out);
    return 0;
}

void ax_ppa_report_free(ax_ppa_report *r)
{
    free(r->arrays);
    free(r->layers);
    memset(r, 0, sizeof *r);
}

double ax_ppa_delta_pct(double x, double exact) { return exact != 0 ? 100.0 * (x - exact) / exact : 0.0; }
