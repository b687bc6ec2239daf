/* ppa.h - the chip model: layer shapes, weight-stationary systolic mapping,
 * chip descriptions, assignments and the power/performance/area report.
 * The public API of ppa/. docs/ppa.md states the model and its sources.
 *
 * Nothing here prints or exits: every fallible call returns 0 or -1 and
 * fills an ax_error with one line naming the input (file:line where a line
 * is known). */
#ifndef AUTOAPPROX_PPA_H
#define AUTOAPPROX_PPA_H

#include "autoapprox/mult.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AX_LAYER_NAME_MAX 128
#define AX_ARRAY_ID_MAX 32
#define AX_SPEC_MAX 1024
#define AX_CHIP_MAX_ARRAYS 64

/* ---- layers and topologies ---------------------------------------------- */

/* One conv/FC layer in SCALE-Sim's terms. The input is already padded; the
 * output is ceil((ifmap - filter + stride) / stride) per dimension. A GEMM
 * (M, N, K) is the layer ifmap M x K, filter 1 x K, 1 channel, N filters.
 * A depthwise layer is `channels` independent convolutions of one channel
 * with `filters` filters each (the depth multiplier, 1 for MobileNet). */
typedef struct ax_layer {
    char name[AX_LAYER_NAME_MAX];
    int line; /* line in its topology file, 0 when not from a file */
    uint32_t ifmap_h, ifmap_w, filter_h, filter_w;
    uint32_t channels, filters, stride_h, stride_w;
    bool depthwise;
} ax_layer;

typedef struct ax_topology {
    char name[AX_NAME_MAX]; /* file name without extension */
    bool gemm_mode;         /* read from an M, N, K file */
    size_t n_layers;
    ax_layer *layers;
} ax_topology;

/* SCALE-Sim topology CSV: conv columns (Layer name, IFMAP Height, IFMAP
 * Width, Filter Height, Filter Width, Channels, Num Filter, Strides | Stride
 * height + Stride width, optional Depthwise) or GEMM columns (Layer, M, N, K),
 * found by header name. Trailing commas, extra columns, blank rows and '#'
 * comment rows are accepted; a malformed row is an error naming its line. */
int ax_topology_load(const char *path, ax_topology **out, ax_error *err);
int ax_topology_parse(const char *text, size_t len, const char *what, ax_topology **out, ax_error *err);
void ax_topology_free(ax_topology *t);
/* The conv/FC layers of a network from nn/ (nn.h), in execution order and
 * named as the assignment file names them; `name` (a path is fine) names the
 * topology and the model in errors. Grouped convolutions other than
 * depthwise are refused. */
struct ax_nn_model;
int ax_topology_from_nn(const struct ax_nn_model *m, const char *name, ax_topology **out, ax_error *err);
/* Index of the layer called name, or -1. */
long ax_topology_find(const ax_topology *t, const char *name);

/* ---- weight-stationary mapping (SCALE-Sim v2's analytical model) ---------- */

typedef enum ax_dataflow { AX_DATAFLOW_WS = 0, AX_DATAFLOW_OS, AX_DATAFLOW_IS } ax_dataflow;
const char *ax_dataflow_name(ax_dataflow d); /* "ws", "os", "is" */

/* One layer on an R x C array. Per group (1, or `channels` for depthwise):
 * K = filter_h * filter_w * channels (rows), N = filters (columns),
 * M = output pixels * batch (streamed); folds = ceil(K/R) * ceil(N/C);
 * cycles per fold = 2R + C + M - 2; ifmap reads M*K*ceil(N/C); filter reads
 * K*N; ofmap writes M*N*ceil(K/R). Totals below cover every group. */
typedef struct ax_mapping {
    uint64_t groups, M, N, K;
    uint64_t out_h, out_w;
    uint64_t row_folds, col_folds; /* per group */
    uint64_t folds, cycles, macs;
    uint64_t ifmap_reads, filter_reads, ofmap_writes;
    double utilization;         /* macs / (cycles * R * C): SCALE-Sim's Overall Util */
    double mapping_efficiency;  /* mean over folds of used PEs / (R * C) */
    double compute_utilization; /* SCALE-Sim's per-fold compute utilization, mean over folds */
} ax_mapping;

int ax_map_ws(const ax_layer *l, uint32_t rows, uint32_t cols, uint32_t batch, ax_mapping *out, ax_error *err);
/* Output size of one dimension; 0 when the filter does not fit. */
uint64_t ax_conv_out(uint32_t in, uint32_t filter, uint32_t stride);

/* SCALE-Sim's COMPUTE_REPORT.csv for mapped layers (stall cycles are 0 in
 * this model), written whole or not at all. */
int ax_write_compute_report(const char *path, const ax_mapping *maps, size_t n, ax_error *err);

/* ---- SCALE-Sim config files ------------------------------------------------ */

typedef struct ax_scalesim_config {
    char run_name[AX_NAME_MAX];
    uint32_t rows, cols;   /* ArrayHeight, ArrayWidth */
    ax_dataflow dataflow;  /* Dataflow (ws when absent) */
    int dataflow_line;     /* its line, 0 when absent */
    double ifmap_sram_kb, filter_sram_kb, ofmap_sram_kb; /* NaN when absent */
} ax_scalesim_config;

/* INI-style: [architecture_presets] ArrayHeight, ArrayWidth, Dataflow,
 * IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB ("key: value" or "key = value");
 * other sections and keys are ignored. */
int ax_scalesim_config_load(const char *path, ax_scalesim_config *out, ax_error *err);
int ax_scalesim_config_parse(const char *text, size_t len, const char *what, ax_scalesim_config *out,
                             ax_error *err);

/* ---- chips ------------------------------------------------------------------- */

typedef struct ax_chip_array {
    char id[AX_ARRAY_ID_MAX];
    uint32_t core, rows, cols;
    char mult[AX_SPEC_MAX]; /* multiplier SPEC; "" = exact-s8 unless an assignment names one */
} ax_chip_array;

typedef struct ax_chip {
    char name[AX_NAME_MAX];
    double node_nm;           /* technology node of the chip */
    double vdd;               /* supply voltage, V */
    double freq_mhz;
    uint32_t cores;
    double ub_mib;            /* unified buffer per core */
    double acc_mib;           /* accumulator memory per core */
    uint32_t vector_lanes;    /* vector-unit lanes per core */
    double hbm_gib, hbm_gbps; /* whole chip */
    double hbm_pj_per_bit;
    double leakage_w_per_mm2; /* at the chip's node */
    double other_area_mm2;    /* blocks the model does not price (ICI, PHYs, ...) */
    size_t n_arrays;
    ax_chip_array arrays[AX_CHIP_MAX_ARRAYS];
} ax_chip;

/* TPUv3-like: 2 cores x 2 arrays of 128 x 128 (A0..A3), 940 MHz, 16 nm. */
void ax_chip_default(ax_chip *c);
/* The default chip whose arrays are ids[0..n) (spread over its cores). */
int ax_chip_default_with_arrays(ax_chip *c, const char *const *ids, size_t n, ax_error *err);
int ax_chip_load(const char *path, ax_chip *out, ax_error *err);
int ax_chip_parse(const char *text, size_t len, const char *what, ax_chip *out, ax_error *err);
long ax_chip_find_array(const ax_chip *c, const char *id);
/* sum over arrays of rows * cols * clock */
double ax_chip_peak_macs_per_s(const ax_chip *c);

/* ---- assignments (router output) --------------------------------------------- */

typedef struct ax_assign_array {
    char id[AX_ARRAY_ID_MAX];
    char spec[AX_SPEC_MAX];
} ax_assign_array;

typedef struct ax_assign_layer {
    char layer[AX_LAYER_NAME_MAX];
    char array[AX_ARRAY_ID_MAX];
} ax_assign_layer;

/* {"version": 1, "model_sha256": "...", "arrays": {"A0": SPEC, ...},
 *  "layers": {"<layer>": "A0", ...}}; every layer names a listed array. */
typedef struct ax_assignment {
    char source[AX_SPEC_MAX]; /* the file, for error messages */
    int version;
    char model_sha256[65]; /* "" when absent */
    size_t n_arrays, n_layers;
    ax_assign_array *arrays;
    ax_assign_layer *layers;
} ax_assignment;

int ax_assignment_load(const char *path, ax_assignment **out, ax_error *err);
int ax_assignment_parse(const char *text, size_t len, const char *what, ax_assignment **out, ax_error *err);
void ax_assignment_free(ax_assignment *a);

/* ---- the multiplier's hardware and the PE ------------------------------------ */

/* One PE = multiplier + 32-bit adder + pipeline registers, at 45 nm. Area in
 * the EvoApproxLib (PDK45) basis; energy per MAC in the Horowitz basis. */
typedef struct ax_pe_cost {
    double mult_area_um2, mult_energy_pj;
    double adder_area_um2, adder_energy_pj;
    double reg_area_um2, reg_energy_pj;
    double area_um2, energy_pj; /* sums */
    double mult_rel_power, mult_rel_area; /* against the exact 8x8 of the same signedness */
    char source[160];     /* where the multiplier figures came from */
} ax_pe_cost;

/* Multiplier figures from m->hw (any node, scaled to 45 nm) or, for a
 * built-in family, the documented estimate; error when neither exists. */
int ax_pe_cost_of(const ax_mult *m, ax_pe_cost *out, ax_error *err);
/* "exact-s8", "exact-u8" or "exact-u8s8": the exact multiplier with m's operand types. */
const char *ax_exact_spec_for(const ax_mult *m);
/* Area and dynamic-energy factors from 45 nm to node_nm at vdd (docs/ppa.md). */
double ax_tech_area_scale(double node_nm);
double ax_tech_energy_scale(double node_nm, double vdd);

/* ---- binding a chip, an assignment and a network ------------------------------- */

/* Resolves a multiplier SPEC (the CLI passes ax_mult_resolve plus paths
 * relative to the assignment file). */
typedef int (*ax_mult_resolver)(const char *spec, ax_mult **out, ax_error *err, void *ctx);

typedef struct ax_binding {
    ax_chip chip;                      /* the chip, arrays as bound */
    ax_mult *mult[AX_CHIP_MAX_ARRAYS]; /* one per chip array, owned */
    size_t n_layers;
    size_t *layer_array;               /* per topology layer: chip array index */
} ax_binding;

/* chip NULL: the default chip, its arrays taken from the assignment when one
 * is given. assign NULL: every layer on the chip's first array. A layer
 * missing from the assignment, an unknown layer, or an array the chip lacks
 * is an error. */
int ax_bind(const ax_chip *chip, const ax_assignment *assign, const ax_topology *topo,
            ax_mult_resolver resolve, void *ctx, ax_binding *out, ax_error *err);
/* The same binding with every multiplier replaced by its exact counterpart. */
int ax_bind_exact(const ax_binding *b, ax_binding *out, ax_error *err);
void ax_binding_free(ax_binding *b);

/* ---- the PPA report ---------------------------------------------------------- */

typedef struct ax_ppa_figures {
    double area_mm2, power_w, energy_mj, latency_ms, throughput_ips, utilization;
} ax_ppa_figures;

typedef struct ax_ppa_array {
    char id[AX_ARRAY_ID_MAX];
    char mult[AX_NAME_MAX];
    uint32_t core, rows, cols;
    ax_pe_cost pe;
    size_t n_layers;
    uint64_t macs, cycles;
    double busy_ms;
    ax_ppa_figures fig; /* latency_ms = busy time; throughput unused (0) */
} ax_ppa_array;

typedef struct ax_ppa_layer {
    size_t array;        /* chip array index */
    ax_mapping map;
    uint64_t hbm_bytes;
    bool memory_bound;   /* HBM time exceeded compute time */
    double time_ms, energy_mj;
} ax_ppa_layer;

/* Energy (mJ per inference) and area (mm^2) by block. */
typedef struct ax_ppa_breakdown {
    double mac, sram, vector, interconnect, hbm, leakage;
    double area_arrays, area_ub, area_acc, area_vector, area_uncore, area_other;
} ax_ppa_breakdown;

typedef struct ax_ppa_report {
    uint32_t batch;
    double peak_macs_per_s;
    uint64_t macs;
    ax_ppa_figures chip;
    ax_ppa_breakdown parts;
    size_t n_arrays, n_layers;
    ax_ppa_array *arrays;
    ax_ppa_layer *layers;
} ax_ppa_report;

int ax_ppa_evaluate(const ax_binding *b, const ax_topology *topo, uint32_t batch, ax_ppa_report *out,
                    ax_error *err);
void ax_ppa_report_free(ax_ppa_report *r);
/* 100 * (x - exact) / exact: negative = saving */
double ax_ppa_delta_pct(double x, double exact);

#ifdef __cplusplus
}
#endif
#endif
