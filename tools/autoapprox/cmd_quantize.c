/* cmd_quantize.c - `autoapprox quantize`: post-training quantization of a
 * float ONNX model into a QDQ ONNX model, calibrated on any image source
 * (the training split of an IDX folder, a folder of JPEGs) kept apart from
 * evaluation; settings and preprocessing go into the model's metadata so
 * that `eval` needs no flags. */
#include "cli.h"

#include "autoapprox/data.h"
#include "autoapprox/eval.h"
#include "autoapprox/nn.h"
#include "lut/ax_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char quantize_usage[] =
    "usage: autoapprox quantize --model M.onnx --calib DIR -o Q.onnx [options]\n"
    "\n"
    "Quantizes a float ONNX model: per-channel weights, activation ranges calibrated on the\n"
    "first N images of DIR (the training split of an IDX folder, or a folder of JPEGs); writes a\n"
    "QDQ ONNX model that records its input preprocessing, so eval needs no preprocessing flag.\n"
    "\n"
    "  --calib-images N          calibration images (default 1000)\n"
    "  --calib-split train|test  IDX folders: which split calibrates (default train)\n"
    "  --preprocess imagenet|none  input preprocessing, when the model records none (default: none\n"
    "                            for IDX data, imagenet for photographs)\n"
    "  --method minmax|percentile:P\n"
    "                            activation ranges: extremes, or the P-th percentile (e.g. 99.99)\n"
    "  --act s8|u8               activations: symmetric s8 (default) or asymmetric u8\n"
    "  --weights s8|u8           weights: symmetric s8 per channel (default) or asymmetric u8\n";

typedef struct quant_opts {
    const char *model, *calib, *out, *split, *preprocess;
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
    else if (!strcmp(a, "--preprocess")) {
        ax_preprocess_spec p;
        if (ax_preprocess_parse(v, &p) != 0)
            return cli_fail(AX_EXIT_USAGE, "quantize: --preprocess '%s': expected imagenet or none", v);
        o->preprocess = v;
    }
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

/* The calibration source, opened with the model's preprocessing, else
 * --preprocess, else none (IDX) or imagenet (photographs). */
static int open_calib(const quant_opts *o, const ax_nn_model *m, ax_source **src, ax_preprocess_spec *pp)
{
    ax_source_options so;
    ax_source_options_init(&so);
    bool meta = ax_eval_preprocess_from_model(m, pp);
    if (o->preprocess) {
        ax_preprocess_spec f;
        ax_preprocess_parse(o->preprocess, &f);
        if (meta && memcmp(&f, pp, sizeof f))
            cli_warn("--preprocess %s overrides the preprocessing %s records", o->preprocess, o->model);
        *pp = f;
    }
    so.split = o->split, so.pp = *pp;
    ax_error err;
    if (ax_source_open(o->calib, &so, src, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (!meta && !o->preprocess && strcmp(ax_source_kind(*src), "idx")) {
        cli_warn("%s records no preprocessing: using --preprocess imagenet (say --preprocess none otherwise)", o->model);
        ax_source_close(*src);
        *src = NULL;
        ax_preprocess_imagenet(&so.pp);
        *pp = so.pp;
        if (ax_source_open(o->calib, &so, src, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    }
    if (!meta && !o->preprocess && !strcmp(ax_source_kind(*src), "idx"))
        cli_warn("%s records no input preprocessing: assuming pixel/255 (--preprocess none)", o->model);
    return 0;
}

static int calibrate(const quant_opts *o, ax_nn_model *m, const ax_source *src, const ax_preprocess_spec *pp,
                     size_t *got)
{
    size_t h, w, c, mh, mw, mc, skipped = 0;
    ax_source_shape(src, &h, &w, &c);
    ax_nn_input_shape(m, &mh, &mw, &mc);
    if (h != mh || w != mw || c != mc)
        return cli_fail(AX_EXIT_FAIL, "%s: images are %zux%zux%zu, the model expects %zux%zux%zu", o->calib, h, w, c,
                        mh, mw, mc);
    size_t n = (size_t)o->images < ax_source_count(src) ? (size_t)o->images : ax_source_count(src);
    float *x = n <= SIZE_MAX / sizeof(float) / (h * w * c) ? malloc(n * h * w * c * sizeof *x) : NULL;
    if (!x) return cli_fail(AX_EXIT_FAIL, "%s: out of memory for %zu calibration images", o->calib, n);
    ax_error err, note;
    int rc = ax_eval_load_items(src, pp, n, x, got, &skipped, &note, &err);
    if (rc == 0 && skipped) cli_warn("calibration: %zu unreadable images passed over (first: %s)", skipped, note.msg);
    if (rc == 0 && *got == 0) rc = ax_fail(&err, "%s: no readable calibration image", o->calib);
    if (rc == 0) rc = ax_nn_quantize(m, &o->q, *got, x, &err);
    if (rc == 0) rc = ax_nn_set_meta(m, "autoapprox.calibration.data", o->calib, &err);
    if (rc == 0) rc = ax_eval_preprocess_record(m, pp, &err);
    free(x);
    return rc == 0 ? 0 : cli_fail(AX_EXIT_FAIL, "%s: %s", o->model, err.msg);
}

static int quantize(const quant_opts *o, ax_nn_model *m)
{
    ax_error err;
    if (ax_nn_is_quantized(m)) return cli_fail(AX_EXIT_FAIL, "%s: already quantized (a QDQ model)", o->model);
    ax_source *src = NULL;
    ax_preprocess_spec pp;
    size_t n = 0;
    int rc = open_calib(o, m, &src, &pp);
    if (rc == 0) rc = calibrate(o, m, src, &pp, &n);
    ax_source_close(src);
    if (rc == 0 && ax_nn_save_onnx(m, o->out, &err) != 0) rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    char desc[256];
    ax_eval_preprocess_describe(&pp, desc, sizeof desc);
    if (rc == 0)
        printf("quantized %s -> %s (%zu layers, %s activations, %s weights, %s over %zu images of %s; input: %s)\n",
               o->model, o->out, ax_nn_layer_count(m), ax_operand_name(o->q.act), ax_operand_name(o->q.wgt),
               ax_nn_meta(m, "autoapprox.calibration.method"), n, o->calib, desc);
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
