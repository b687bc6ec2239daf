/* exec_internal.h - what exec.c shares with exec_partial.c: the runtime
 * object, the state of one run (values live during it) and the steps that
 * run one node. Not installed. */
#ifndef AX_NN_EXEC_INTERNAL_H
#define AX_NN_EXEC_INTERNAL_H

#include "nn_internal.h"

/* The plan of a multiplier's folded table (axnn_fold); NULL when folding
 * would not pay (exec.c, fold_pays). */
typedef struct axnn_fold_plan {
    const ax_mult *mult;
    axnn_fold fold;
    ax_gemm_plan *plan;
} axnn_fold_plan;

struct ax_nn_runtime {
    const ax_nn_model *m;
    size_t n_layers;
    axnn_layer_rt **layers;
    ax_gemm_plan **plans;     /* per layer; owned when own[i] */
    ax_isa isa;               /* of every plan (AUTO: $AX_ISA or the best) */
    ax_path path;             /* AUTO: each table's best path */
    bool *own;
    axnn_fold_plan *folds;    /* folded tables' plans, one per multiplier and fold */
    size_t n_folds;
    char (*warnings)[AX_ERROR_MAX];
    size_t n_warnings;
    double *profile, *kprofile; /* per node (all, kernels), when AX_NN_PROFILE is set */
    axnn_qop **qop;           /* per node: its op on bytes (ops_q.c), or NULL */
    axnn_scratch scratch;     /* layers' per-thread buffers, kept between runs */
    axnn_pool pool;           /* activation buffers, kept between runs */
};

/* A value during a run: float, bytes, or both. */
typedef struct rt_val {
    float *f;
    uint8_t *q;
} rt_val;

typedef struct run_ctx {
    const ax_nn_model *m;
    ax_nn_runtime *rt;
    size_t batch;
    int threads;
    rt_val *vals;
    int *last_use;
    ax_error *err;
    /* NULL, or per value the buffers the run reads without owning them (a
     * snapshot's, ax_nn_run_from): released values never give these back */
    const rt_val *borrowed;
} run_ctx;

/* Activation buffers: from the runtime's pool (malloc without a runtime).
 * Every buffer in run_ctx.vals comes from here and goes back through
 * axnn_val_free or axnn_pool_give: they carry the pool's size header. */
void *axnn_val_alloc(run_ctx *c, size_t bytes);
void axnn_val_free(run_ctx *c, void *p);
/* n bytes of a value to floats (axnn_dequantize_one's bits), vectorized at
 * the run's ISA and shared out between its threads. */
void axnn_dequantize_run(run_ctx *c, const axnn_qp *q, const uint8_t *x, size_t n, float *y);
/* A value's float form, dequantized from its bytes on first use; NULL on OOM. */
float *axnn_get_float(run_ctx *c, int v);
void axnn_release(run_ctx *c, int v);
/* Quantized run: a float result of an annotated value becomes its bytes. */
int axnn_settle(run_ctx *c, int v);
/* Runs node i; *layer counts the conv/FC layers run so far (the runtime's index). */
int axnn_run_node(run_ctx *c, size_t i, size_t *layer);
/* Per value, the index of the last node reading it (-1: none). */
int *axnn_last_uses(const ax_nn_model *m);

#endif
