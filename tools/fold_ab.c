/* fold_ab.c - what folding a layer's operand mapping into its table (axnn_fold,
 * docs/nn.md) buys on a network: the same model and multiplier in one
 * process, a runtime made with AX_NN_FOLD=0 and one made by default, run
 * alternately (the host's slow phases hit both alike); prints how many
 * layers folded, whether the logits agree, and the times and speed-up.
 * A developer tool behind the figures of docs/nn.md.
 *
 *   build/tools/fold-ab NET MULT [BATCH [THREADS [PAIRS]]]
 *     NET: mobilenetv2 | resnet50 (built in, 224x224, s8 activations), the same
 *          with "-u8" (requantized: u8 activations), or FILE.onnx (quantized)
 *     PAIRS 0: only count the folded layers (no runs)
 */
#include "autoapprox/nn.h"
#include "lut/ax_internal.h"
#include "nn/nn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long count_arg(const char *s, const char *what, long lo)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v < lo) {
        fprintf(stderr, "fold-ab: %s '%s': not an integer >= %ld\n", what, s, lo);
        exit(2);
    }
    return v;
}

static void random_images(float *x, size_t n)
{
    uint64_t s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (float)(s >> 40) / (float)(1 << 24) * 4.0f - 2.0f;
    }
}

/* The built-in networks (s8 activations), or requantized with u8 ones on 4
 * random images ("-u8"), or a QDQ file. */
static int load(const char *net, ax_nn_model **m, ax_error *err)
{
    bool u8 = strlen(net) > 3 && strcmp(net + strlen(net) - 3, "-u8") == 0;
    int rc;
    if (strncmp(net, "mobilenetv2", 11) == 0 && (!net[11] || u8)) rc = ax_nn_build_mobilenet_v2(224, 20251125, m, err);
    else if (strncmp(net, "resnet50", 8) == 0 && (!net[8] || u8)) rc = ax_nn_build_resnet50(224, 20251125, m, err);
    else {
        if (ax_nn_load_onnx(net, m, err) != 0) return -1;
        return ax_nn_is_quantized(*m) ? 0 : ax_fail(err, "%s: not a quantized (QDQ) model", net);
    }
    if (rc != 0 || !u8) return rc;
    size_t h, w, c;
    ax_nn_input_shape(*m, &h, &w, &c);
    float *x = malloc(4 * h * w * c * sizeof *x);
    if (!x) return ax_fail(err, "%s: out of memory", net);
    random_images(x, 4 * h * w * c);
    ax_nn_quant_options o;
    ax_nn_quant_options_init(&o);
    o.act = AX_U8;
    rc = ax_nn_quantize(*m, &o, 4, x, err);
    free(x);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 6) {
        fprintf(stderr, "usage: fold-ab NET MULT [BATCH [THREADS [PAIRS]]]\n");
        return 2;
    }
    size_t batch = argc > 3 ? (size_t)count_arg(argv[3], "BATCH", 1) : 8;
    int threads = argc > 4 ? (int)count_arg(argv[4], "THREADS", 1) : 1;
    int pairs = argc > 5 ? (int)count_arg(argv[5], "PAIRS", 0) : 10;
    ax_error err;
    ax_nn_model *m;
    ax_mult *mult;
    if (load(argv[1], &m, &err) != 0 || ax_mult_resolve(argv[2], &mult, &err) != 0) {
        fprintf(stderr, "fold-ab: %s\n", err.msg);
        return 1;
    }
    size_t L = ax_nn_layer_count(m), h, w, c;
    ax_nn_input_shape(m, &h, &w, &c);
    const ax_mult **ms = malloc(L * sizeof *ms);
    size_t nx = batch * h * w * c, ny = batch * ax_nn_output_size(m);
    float *x = malloc(nx * sizeof *x), *y[2] = {malloc(ny * sizeof(float)), malloc(ny * sizeof(float))};
    double *t[2] = {malloc((size_t)(pairs + 1) * sizeof(double)), malloc((size_t)(pairs + 1) * sizeof(double))};
    double *ratio = malloc((size_t)(pairs + 1) * sizeof(double));
    if (!ms || !x || !y[0] || !y[1] || !t[0] || !t[1] || !ratio) {
        fprintf(stderr, "fold-ab: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < L; i++) ms[i] = mult;
    random_images(x, nx);
    ax_nn_runtime *rt[2];
    setenv("AX_NN_FOLD", "0", 1);
    int rc = ax_nn_runtime_create(m, ms, &rt[0], &err);
    unsetenv("AX_NN_FOLD");
    if (rc != 0 || ax_nn_runtime_create(m, ms, &rt[1], &err) != 0) {
        fprintf(stderr, "fold-ab: %s\n", err.msg);
        return 1;
    }
    size_t folded = 0;
    for (size_t i = 0; i < L; i++) folded += axnn_layer_folded(axnn_runtime_layer(rt[1], i));
    printf("%s %s batch %zu threads %d: %zu of %zu layers folded", argv[1], argv[2], batch, threads, folded, L);
    if (pairs == 0) {
        printf("\n");
        return 0;
    }
    for (int k = 0; k < 2; k++) /* warm-up */
        if (ax_nn_runtime_run(rt[k], batch, x, y[k], threads, &err) != 0) {
            fprintf(stderr, "fold-ab: %s\n", err.msg);
            return 1;
        }
    for (int i = 0; i < pairs; i++)
        for (int j = 0; j < 2; j++) {
            int k = i & 1 ? 1 - j : j; /* alternate which goes first */
            double t0 = axnn_now();
            ax_nn_runtime_run(rt[k], batch, x, y[k], threads, &err);
            t[k][i] = axnn_now() - t0;
        }
    for (int i = 0; i < pairs; i++) ratio[i] = t[0][i] / t[1][i];
    qsort(ratio, (size_t)pairs, sizeof *ratio, by_value);
    for (int k = 0; k < 2; k++) qsort(t[k], (size_t)pairs, sizeof(double), by_value);
    printf("; logits %s\n  ms per batch, median (min): unfolded %.1f (%.1f), folded %.1f (%.1f); "
           "speed-up, median of pairs %.3f (of the minima %.3f)\n",
           memcmp(y[0], y[1], ny * sizeof(float)) ? "DIFFER" : "identical", 1e3 * t[0][pairs / 2], 1e3 * t[0][0],
           1e3 * t[1][pairs / 2], 1e3 * t[1][0], ratio[pairs / 2], t[0][0] / t[1][0]);
    for (int k = 0; k < 2; k++) ax_nn_runtime_free(rt[k]), free(y[k]), free(t[k]);
    free(x), free(ms), free(ratio), ax_mult_free(mult), ax_nn_free(m);
    return 0;
}
