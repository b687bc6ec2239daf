/* model_meta.c - what eval needs to know about a model beyond running it:
 * the input preprocessing it records in its metadata (read and written),
 * the float stage of that preprocessing, and the identity of a run's
 * network (model, calibration, multipliers) that keys checkpoints. */
#include "autoapprox/eval.h"

#include "lut/ax_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "a" or "a,b,c" into v[3]; false when malformed. */
static bool parse_triple(const char *s, float v[3])
{
    double d[3];
    char *end;
    int n = 0;
    for (; n < 3; n++) {
        d[n] = strtod(s, &end);
        if (end == s) return false;
        s = end;
        if (*s != ',') break;
        s++;
    }
    if (*s || (n != 0 && n != 2)) return false;
    for (int i = 0; i < 3; i++) v[i] = (float)d[n == 0 ? 0 : i];
    return true;
}

static bool meta_u32(const ax_nn_model *m, const char *key, uint32_t *out)
{
    const char *s = ax_nn_meta(m, key);
    char *end;
    if (!s) return false;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || v > 65535) return false;
    *out = (uint32_t)v;
    return true;
}

bool ax_eval_preprocess_from_model(const ax_nn_model *m, ax_preprocess_spec *p)
{
    ax_preprocess_none(p);
    bool found = false;
    const char *s;
    found |= meta_u32(m, "autoapprox.input.resize", &p->resize);
    found |= meta_u32(m, "autoapprox.input.crop", &p->crop);
    if ((s = ax_nn_meta(m, "autoapprox.input.divisor")) && strtod(s, NULL) > 0) {
        p->divisor = (float)strtod(s, NULL);
        found = true;
    } else if ((s = ax_nn_meta(m, "autoapprox.input.scale")) && strtod(s, NULL) > 0) {
        p->divisor = (float)(1.0 / strtod(s, NULL));
        found = true;
    }
    if ((s = ax_nn_meta(m, "autoapprox.input.mean"))) found |= parse_triple(s, p->mean);
    if ((s = ax_nn_meta(m, "autoapprox.input.std"))) found |= parse_triple(s, p->std);
    for (int c = 0; c < 3; c++)
        if (p->std[c] == 0.0f) p->std[c] = 1.0f;
    return found;
}

static void triple(const float v[3], char *out, size_t size)
{
    if (v[0] == v[1] && v[1] == v[2]) snprintf(out, size, "%.9g", (double)v[0]);
    else snprintf(out, size, "%.9g,%.9g,%.9g", (double)v[0], (double)v[1], (double)v[2]);
}

int ax_eval_preprocess_record(ax_nn_model *m, const ax_preprocess_spec *p, ax_error *err)
{
    char v[5][96];
    snprintf(v[0], sizeof v[0], "%u", p->resize);
    snprintf(v[1], sizeof v[1], "%u", p->crop);
    snprintf(v[2], sizeof v[2], "%.9g", (double)p->divisor);
    triple(p->mean, v[3], sizeof v[3]);
    triple(p->std, v[4], sizeof v[4]);
    static const char *const keys[] = {"autoapprox.input.resize", "autoapprox.input.crop", "autoapprox.input.divisor",
                                       "autoapprox.input.mean", "autoapprox.input.std"};
    for (int i = 0; i < 5; i++)
        if (ax_nn_set_meta(m, keys[i], v[i], err) != 0) return -1;
    char scale[64];
    snprintf(scale, sizeof scale, "%.17g", 1.0 / (double)p->divisor);
    return ax_nn_set_meta(m, "autoapprox.input.scale", scale, err);
}

void ax_eval_preprocess_describe(const ax_preprocess_spec *p, char *out, size_t size)
{
    char mean[96], std[96];
    triple(p->mean, mean, sizeof mean);
    triple(p->std, std, sizeof std);
    snprintf(out, size, "resize %u, crop %u, pixel/%.9g, mean %s, std %s", p->resize, p->crop, (double)p->divisor,
             mean, std);
}

void ax_eval_float_stage(const ax_preprocess_spec *p, const uint8_t *px, size_t n, size_t c, float *out)
{
    if (c == 0) c = 1;
    for (size_t k = 0; k < n; k++) {
        size_t ch = c <= 3 ? k % c : 0;
        out[k] = ((float)px[k] / p->divisor - p->mean[ch]) / p->std[ch];
    }
}

void ax_eval_identity(const ax_nn_model *m, const ax_mult *const *layer_mults, char out[65])
{
    static const char *const keys[] = {"autoapprox.calibration.method", "autoapprox.calibration.images",
                                       "autoapprox.calibration.data", "autoapprox.quant.act",
                                       "autoapprox.quant.weights"};
    size_t L = ax_nn_layer_count(m), cap = 256 + 80 * (L + 8), len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        memset(out, '0', 64), out[64] = 0;
        return;
    }
    len += (size_t)snprintf(buf + len, cap - len, "model %s quantized %d\n", ax_nn_sha256(m), ax_nn_is_quantized(m));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = ax_nn_meta(m, keys[i]);
        char h[65];
        ax_sha256_hex(v ? v : "", v ? strlen(v) : 0, h);
        len += (size_t)snprintf(buf + len, cap - len, "%s %s\n", keys[i], h);
    }
    for (size_t i = 0; i < L; i++) {
        char h[65];
        ax_mult_table_sha256(layer_mults[i], h);
        len += (size_t)snprintf(buf + len, cap - len, "layer %zu %s\n", i, h);
    }
    ax_sha256_hex(buf, len, out);
    free(buf);
}
