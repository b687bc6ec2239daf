/* cmd_quantize.c - `autoapprox quantize`: post-training quantization of a
 * float ONNX model into a QDQ ONNX model, calibrated on an IDX training
 * split kept apart from evaluation; settings and preprocessing go into the
 * model's metadata so that `eval` needs no flags. */
#include "cli.h"

#include "autoapprox/data.h"
#include "autoapprox/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char quantize_usage[] =
    "usage: autoapprox quantize --model M.onnx --calib DIR -o Q.onnx [options]\n"
    "\n"
    "Quantizes a float ONNX model: per-channel weights, activation ranges calibrated on the\n"
    "first N images of the training split of the IDX folder DIR; writes a QDQ ONNX model.\n"
    "\n"
    "  --calib-images N          calibration images (default 1000)\n"
    "  --calib-split train|test  which split of DIR calibrates (default train)\n"
    "  --method minmax|percentile:P\n"
    "                            activation ranges: extremes, or the P-th percentile (e.g. 99.99)\n"
    "  --act s8|u8               activations: symmetric s8 (default) or asymmetric u8\n"
    "  --weights s8|u8           weights: symmetric s8 per channel (default) or asymmetric u8\n";

typedef struct quant_opts {
    const char *model, *calib, *out, *split;
    int64_t images;
    ax_nn_quant_options q;
} quant_opts;

static int parse_method(const char *s, ax_nn_quant_options *q)
{
    if (!strcmp(s, "minmax")) {
        q->method = AX_CALIB_MINMAX;
        return 0;
    }
    if (strncmp(s, "percentile:", 11) || !cli_parse_double("--method", s + 11, &q->percentile))
        return cli_fail(AX_EXIT_USAGE, "quantize: --method '%s': expected minmax or percentile:P", s);
    if (!(q->percentile > 50.0 && q->percentile <= 100.0))
        return cli_fail(AX_EXIT_USAGE, "quantize: --method percentile:%g: P must be in (50, 100]", q->percentile);
    q->method = AX_CALIB_PERCENTILE;
    return 0;
}

static int parse_value(quant_opts *o, const char *a, const char *v)
{
    if (!strcmp(a, "--model")) o->model = v;
    else if (!strcmp(a, "--calib")) o->calib = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) o->out = v;
    else if (!strcmp(a, "--calib-split")) o->split = v;
    else if (!strcmp(a, "--method")) return parse_method(v, &o->q);
    else if (!strcmp(a, "--act") || !strcmp(a, "--weights")) {
        if (ax_operand_parse(v, !strcmp(a, "--act") ? &o->q.act : &o->q.wgt) != 0)
            return cli_fail(AX_EXIT_USAGE, "quantize: %s '%s': expected s8 or u8", a, v);
    } else if (!strcmp(a, "--calib-images")) {
        if (!cli_parse_i64(a, v, &o->images)) return AX_EXIT_USAGE;
        if (o->images < 1) return cli_fail(AX_EXIT_USAGE, "quantize: --calib-images must be >= 1");
    } else {
        return cli_fail(AX_EXIT_USAGE, "quantize: unknown option '%s' (autoapprox quantize --help)", a);
    }
    return 0;
}

static int parse_args(int argc, char **argv, quant_opts *o)
{
    *o = (quant_opts){.split = "train", .images = AX_NN_DEFAULT_CALIB_IMAGES};
    ax_nn_quant_options_init(&o->q);
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(quantize_usage, stdout);
            return -1;
        }
        if (argv[i][0] != '-') return cli_fail(AX_EXIT_USAGE, "quantize: unexpected argument '%s'", argv[i]);
        if (i + 1 >= argc) return cli_fail(AX_EXIT_USAGE, "quantize: %s needs a value", argv[i]);
        int rc = parse_value(o, argv[i], argv[i + 1]);
        if (rc) return rc;
    }
    if (!o->model || !o->calib || !o->out)
        return cli_fail(AX_EXIT_USAGE, "quantize: --model, --calib and -o are required");
    if (strcmp(o->split, "train") && strcmp(o->split, "test"))
        return cli_fail(AX_EXIT_USAGE, "quantize: --calib-split '%s': expected train or test", o->split);
    return 0;
}

static int quantize(const quant_opts *o, ax_nn_model *m)
{
    ax_error err;
    if (ax_nn_is_quantized(m)) return cli_fail(AX_EXIT_FAIL, "%s: already quantized (a QDQ model)", o->model);
    ax_dataset cal;
    if (ax_dataset_load_idx(o->calib, o->split, &cal, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    size_t h, w, c, n = (size_t)o->images < cal.count ? (size_t)o->images : cal.count;
    ax_nn_input_shape(m, &h, &w, &c);
    int rc = 0;
    if (h != cal.height || w != cal.width || c != cal.channels)
        rc = cli_fail(AX_EXIT_FAIL, "%s: images are %zux%zux%zu, the model expects %zux%zux%zu", cal.source,
                      cal.height, cal.width, cal.channels, h, w, c);
    else if (ax_nn_quantize_pixels(m, &o->q, n, cal.images, &err) != 0 ||
             ax_nn_set_meta(m, "autoapprox.calibration.data", cal.source, &err) != 0)
        rc = cli_fail(AX_EXIT_FAIL, "%s: %s", o->model, err.msg);
    ax_nn_preprocess p;
    ax_nn_preprocess_get(m, &p);
    if (rc == 0 && !p.from_metadata) {
        cli_warn("%s records no input preprocessing: assuming pixel/255 (set autoapprox.input.* metadata)", o->model);
        char buf[64];
        snprintf(buf, sizeof buf, "%.9g", (double)p.scale);
        ax_nn_set_meta(m, "autoapprox.input.scale", buf, &err);
    }
    ax_dataset_free(&cal);
    if (rc == 0 && ax_nn_save_onnx(m, o->out, &err) != 0) rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (rc == 0)
        printf("quantized %s -> %s (%zu layers, %s activations, %s weights, %s over %zu images of %s)\n", o->model,
               o->out, ax_nn_layer_count(m), ax_operand_name(o->q.act), ax_operand_name(o->q.wgt),
               ax_nn_meta(m, "autoapprox.calibration.method"), n, o->calib);
    return rc;
}

int cmd_quantize(int argc, char **argv)
{
    quant_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? AX_EXIT_OK : rc;
    ax_nn_model *m;
    ax_error err;
    if (ax_nn_load_onnx(o.model, &m, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    rc = quantize(&o, m);
    ax_nn_free(m);
    return rc;
}
