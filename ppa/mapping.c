/* mapping.c - a layer on a weight-stationary R x C systolic array, by
 * SCALE-Sim v2's analytical model (docs/ppa.md names the formulas):
 * the filter matrix K x N is cut into ceil(K/R) * ceil(N/C) folds; each fold
 * preloads its weights, streams the M ifmap rows through and drains, taking
 * 2R + C + M - 2 cycles. SCALE-Sim's cycle-level simulator adds memory stalls
 * this model leaves out. Depthwise layers run one channel after another, as
 * SCALE-Sim runs the per-channel layers its "DP" convention expands into. */
#include "ppa_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ax_dataflow_name(ax_dataflow d)
{
    return d == AX_DATAFLOW_OS ? "os" : d == AX_DATAFLOW_IS ? "is" : "ws";
}

uint64_t ax_conv_out(uint32_t in, uint32_t filter, uint32_t stride)
{
    if (filter > in || stride == 0) return 0;
    return ppa_ceil_div((uint64_t)in - filter + stride, stride);
}

/* The GEMM of one group: M streamed rows, N columns, K rows. */
static int layer_gemm(const ax_layer *l, uint32_t batch, ax_mapping *m, ax_error *err)
{
    m->out_h = ax_conv_out(l->ifmap_h, l->filter_h, l->stride_h);
    m->out_w = ax_conv_out(l->ifmap_w, l->filter_w, l->stride_w);
    if (m->out_h == 0 || m->out_w == 0)
        return ax_fail(err, "layer '%s': filter %ux%u does not fit its IFMAP %ux%u", l->name, l->filter_h,
                       l->filter_w, l->ifmap_h, l->ifmap_w);
    m->groups = l->depthwise ? l->channels : 1;
    uint64_t ch = l->depthwise ? 1 : l->channels, t;
    m->N = l->filters;
    if (!ppa_mul(m->out_h, m->out_w, &t) || !ppa_mul(t, batch, &m->M) ||
        !ppa_mul((uint64_t)l->filter_h * l->filter_w, ch, &m->K))
        return ax_fail(err, "layer '%s': shape too large", l->name);
    return 0;
}

/* Per-group counts times the number of groups, with overflow checks. */
static int totals(const ax_layer *l, uint32_t R, uint32_t C, ax_mapping *m, ax_error *err)
{
    uint64_t g = m->groups, per_fold = 2ull * R + C - 2, mk, mn, kn, t;
    bool ok = ppa_mul(m->row_folds, m->col_folds, &t) && ppa_mul(t, g, &m->folds) &&
              ppa_add(per_fold, m->M, &t) && ppa_mul(t, m->folds, &m->cycles) &&
              ppa_mul(m->M, m->K, &mk) && ppa_mul(mk, m->N, &t) && ppa_mul(t, g, &m->macs) &&
              ppa_mul(mk, m->col_folds, &t) && ppa_mul(t, g, &m->ifmap_reads) &&
              ppa_mul(m->K, m->N, &kn) && ppa_mul(kn, g, &m->filter_reads) &&
              ppa_mul(m->M, m->N, &mn) && ppa_mul(mn, m->row_folds, &t) && ppa_mul(t, g, &m->ofmap_writes);
    if (!ok) return ax_fail(err, "layer '%s': counts overflow 64 bits", l->name);
    return 0;
}

int ax_map_ws(const ax_layer *l, uint32_t rows, uint32_t cols, uint32_t batch, ax_mapping *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    if (rows == 0 || cols == 0) return ax_fail(err, "array %ux%u: rows and columns must be positive", rows, cols);
    if (batch == 0) return ax_fail(err, "batch must be positive");
    if (layer_gemm(l, batch, out, err) != 0) return -1;
    out->row_folds = ppa_ceil_div(out->K, rows);
    out->col_folds = ppa_ceil_div(out->N, cols);
    if (totals(l, rows, cols, out, err) != 0) return -1;
    double pes = (double)rows * cols;
    double folds_per_group = (double)out->row_folds * (double)out->col_folds;
    out->utilization = (double)out->macs / ((double)out->cycles * pes);
    /* Summed over folds, used PEs = K * N per group, so the mean has a closed form. */
    out->mapping_efficiency = (double)out->K * (double)out->N / (pes * folds_per_group);
    /* SCALE-Sim counts a fold as (2R + C + M - 2) + C - 1 cycles here (its demand
     * matrix plus the column skew) and averages used*M / (R*C*that) over folds. */
    double fold_cycles = 2.0 * rows + 2.0 * cols + (double)out->M - 3.0;
    out->compute_utilization = out->mapping_efficiency * (double)out->M / fold_cycles;
    return 0;
}

int ax_write_compute_report(const char *path, const ax_mapping *maps, size_t n, ax_error *err)
{
    size_t cap = 128 + n * 160, len = 0;
    char *buf = malloc(cap);
    if (!buf) return ax_fail(err, "%s: out of memory", path);
    len += (size_t)snprintf(
        buf, cap, "LayerID, Total Cycles, Stall Cycles, Overall Util %%, Mapping Efficiency %%, Compute Util %%,\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%zu, %llu, 0, %.6f, %.6f, %.6f,\n", i,
                                (unsigned long long)maps[i].cycles, 100 * maps[i].utilization,
                                100 * maps[i].mapping_efficiency, 100 * maps[i].compute_utilization);
    int rc = ax_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}
