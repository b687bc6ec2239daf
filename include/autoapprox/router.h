/* router.h - per-layer assignment of a network to the arrays of a chip: the
 * public API of router/ (docs/router.md).
 *
 * Given a quantized network, labelled images, and a bank of candidate
 * multipliers of one operand type, the router finds the assignment of every
 * conv/FC layer to an array of the chip (each array built from one
 * multiplier of the bank) that minimizes the chip's power, energy or area
 * (ppa.h) while top-1 and top-5 lose at most max_drop percentage points
 * against the same network with every multiplier exact:
 *   1. sensitivity: every layer alone on every multiplier, from cached exact
 *      prefixes (ax_nn_snapshot), on the search images;
 *   2. search (surrogate, greedy or NSGA-II) with real evaluations on the
 *      search images, each one counted;
 *   3. verification on the verification images; when the bound breaks,
 *      layers return to the exact array in order of sensitivity until it holds.
 * The exact multiplier of the bank's operand type is always array 0: the
 * chip keeps an exact array for whatever needs it (and for the repairs).
 *
 * Nothing here prints or exits; errors come back as ax_error lines. */
#ifndef AUTOAPPROX_ROUTER_H
#define AUTOAPPROX_ROUTER_H

#include "autoapprox/data.h"
#include "autoapprox/nn.h"
#include "autoapprox/ppa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- images ------------------------------------------------------------------ */

/* Labelled images, random access: read() fills n preprocessed images (float
 * NHWC, what ax_nn_runtime_run takes) and their labels, from image `first`. */
typedef struct ax_route_source {
    size_t count;
    const char *name; /* for reports: "fashion-mnist train (2000 of 60000)" */
    int (*read)(void *ctx, size_t first, size_t n, float *images, int32_t *labels, ax_error *err);
    void *ctx;
} ax_route_source;

/* An IDX dataset (data.h) seen through the model's preprocessing: the images
 * index[0..n) (NULL: all of them, in order). The source keeps pointers to d,
 * p and index. */
typedef struct ax_route_idx {
    const ax_dataset *d;
    ax_nn_preprocess p;
    const size_t *index;
    char name[600];
} ax_route_idx;
void ax_route_source_idx(const ax_dataset *d, const ax_nn_preprocess *p, const size_t *index, size_t n,
                         const char *label, ax_route_idx *storage, ax_route_source *out);
/* Any data set of data.h (IDX or folders of photographs), preprocessed as
 * its options say (ax_source_options.pp; `autoapprox eval` reads the same
 * floats): the items index[0..n) (NULL: all). An unreadable image stops the
 * evaluation with a line naming it: the router compares assignments on the
 * same images, so it cannot skip one for some and not for others. */
typedef struct ax_route_src {
    const ax_source *src;
    const size_t *index;
    char name[600];
} ax_route_src;
void ax_route_source_from(const ax_source *s, const size_t *index, size_t n, const char *label,
                          ax_route_src *storage, ax_route_source *out);
/* n indices spread evenly over 0..count (i * count / n): a fixed, seed-free
 * subset, so every method and seed searches the same images. */
void ax_route_strided(size_t count, size_t n, size_t *out);

/* ---- settings ------------------------------------------------------------------ */

typedef enum ax_route_method { AX_ROUTE_SURROGATE = 0, AX_ROUTE_GREEDY, AX_ROUTE_NSGA2 } ax_route_method;
typedef enum ax_route_objective { AX_OBJ_POWER = 0, AX_OBJ_ENERGY, AX_OBJ_AREA } ax_route_objective;
const char *ax_route_method_name(ax_route_method m);          /* "surrogate", "greedy", "nsga2" */
const char *ax_route_objective_name(ax_route_objective o);    /* "power", "energy", "area" */
int ax_route_method_parse(const char *s, ax_route_method *out);
int ax_route_objective_parse(const char *s, ax_route_objective *out);

typedef void (*ax_route_log_fn)(void *ctx, const char *line);

typedef struct ax_route_options {
    ax_route_method method;
    ax_route_objective objective;
    double max_drop_pp;   /* percentage points of top-1 and of top-5 (default 0) */
    size_t max_arrays;    /* distinct multipliers, exact included; 0: the chip's array count */
    uint64_t seed;
    size_t max_evals;     /* search budget of real evaluations; 0: the method's default */
    size_t batch;         /* images per run (default 256) */
    int threads;          /* kernel threads; <= 0: default */
    uint32_t ppa_batch;   /* images per inference in the chip model (default 1) */
    bool no_prefix_cache; /* sensitivity from full runs (tests, and the saving's reference) */
    /* On the search images an assignment counts as feasible only when its
     * images lost (right before, wrong now) minus images gained, plus
     * `confidence` standard deviations of their sum, stay within max_drop:
     * lost - gained + z * sqrt(lost + gained) <= N * max_drop / 100, for top-1
     * and top-5 each. 0 (default): the plain bound. */
    double confidence;
    const ax_chip *chip;  /* NULL: the default template, its arrays named A0.. */
    ax_route_log_fn log;  /* progress lines; NULL: quiet */
    void *log_ctx;
} ax_route_options;
void ax_route_options_init(ax_route_options *o);

/* ---- results -------------------------------------------------------------------- */

/* One layer alone on one multiplier (the others exact), on the search images. */
typedef struct ax_route_sens {
    double top1, top5; /* fractions */
    double agree;      /* fraction of images whose top-1 class equals the exact network's */
    double snr_db;     /* of the layer's outputs against the exact ones; INFINITY when identical */
} ax_route_sens;

/* A really evaluated assignment on the search images. */
typedef struct ax_route_point {
    size_t *choice;  /* per layer: bank index */
    double cost;     /* the objective: W, mJ or mm^2 */
    double top1, top5;
    size_t lost1, gained1, lost5, gained5; /* images, against the exact network */
    bool feasible;   /* both within max_drop of exact */
    const char *by;  /* "sensitivity", "search", "verification", "repair" */
} ax_route_point;

typedef struct ax_route_result {
    size_t n_layers, n_bank;       /* bank[0] is the exact multiplier */
    char **bank_spec;              /* SPEC of every bank entry */
    ax_route_sens *sens;           /* [layer * n_bank + j]; j = 0 is exact itself */
    double exact_top1, exact_top5; /* exact network, search images */
    /* MACs (per image, times the search images) the sensitivity pass ran, and
     * what layers x multipliers full runs would have run. */
    double sens_macs, sens_macs_full;
    size_t sens_runs;              /* layer x multiplier suffix runs */

    size_t *choice;                /* final: per layer, bank index */
    size_t *search_choice;         /* the search's best, before any repair */
    size_t n_arrays;               /* arrays of the chip */
    size_t *array_bank;            /* per array: bank index */
    size_t *layer_array;           /* per layer: array index */
    char (*array_id)[AX_ARRAY_ID_MAX];

    double search_top1, search_top5;     /* final assignment, search images (before repair) */
    double verify_exact_top1, verify_exact_top5;
    double verify_top1, verify_top5;     /* final assignment, verification images */
    size_t verify_images;
    size_t repairs;                      /* layers returned to exact by the repair loop */

    size_t evals_search;   /* real evaluations on the search images (exact reference included) */
    size_t evals_verify;   /* on the verification images: exact, the chosen one, each repair */
    size_t n_points;
    ax_route_point *points; /* every real evaluation on the search images, in order */

    ax_ppa_report chip, exact_chip; /* the chosen chip and the same chip all exact */
    double cost, exact_cost;
} ax_route_result;

/* The router on one problem. model: quantized (ax_nn_is_quantized); bank:
 * n multipliers of one operand type with hardware figures (or a built-in
 * family's estimate), specs their SPEC strings (what the assignment file
 * names); the exact multiplier of that type is added as bank entry 0 when
 * absent. search and verify are the two image sets (disjoint, or verify is
 * the whole of D while search comes from another split). */
int ax_route(const ax_nn_model *model, const ax_mult *const *bank, const char *const *specs, size_t n,
             const ax_route_source *search, const ax_route_source *verify, const ax_route_options *o,
             ax_route_result *out, ax_error *err);
void ax_route_result_free(ax_route_result *r);
/* The bank as ax_route used it: spec of entry j (entry 0 the exact one). */
const char *ax_route_bank_spec(const ax_route_result *r, size_t j);

/* Checks a bank before any evaluation: at least one multiplier, one operand
 * type for all, hardware figures for the objective. One line naming the
 * multiplier on error. */
int ax_route_check_bank(const ax_mult *const *bank, const char *const *specs, size_t n, ax_error *err);

/* ---- outputs ---------------------------------------------------------------------- */

/* The assignment file (ARCHITECTURE.md), whole or not at all: version 1, the
 * model's sha256, "arrays" {id: SPEC} and "layers" {layer: id}, plus a
 * "router" member with the method, objective and verified accuracies. */
int ax_route_write_assignment(const ax_route_result *r, const ax_nn_model *m, const ax_route_options *o,
                              const char *path, ax_error *err);
/* The Pareto front of (objective, top-1) over every evaluation on the search
 * images, as CSV (always) and as a PNG drawn by gnuplot when it is installed.
 * *png_done tells whether the PNG was written; *why says why not. */
int ax_route_write_pareto_csv(const ax_route_result *r, const ax_nn_model *m, const ax_route_options *o,
                              const char *path, ax_error *err);
int ax_route_plot_pareto(const char *csv, const char *png, const ax_route_options *o, bool *png_done, char *why,
                         size_t why_size);

#ifdef __cplusplus
}
#endif
#endif
