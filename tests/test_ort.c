/* test_ort.c - the independent int8 reference: ONNX Runtime's CPU build (npm
 * onnxruntime-node) runs the QDQ models `autoapprox quantize` writes, with
 * full graph optimization so QDQ pairs fuse into integer kernels, and our
 * exact-multiplier run must agree with it on the Fashion-MNIST test split:
 *  - u8 activations x s8 weights (exact-u8s8): ORT fuses every conv/FC into
 *    QLinearConv/QGemm-style integer kernels, so every logit is identical;
 *  - s8 activations (exact-s8): ORT keeps these convs in float on x86, so
 *    only the top-1 is compared, on every image whose ORT top-2 margin
 *    exceeds one output quantization step (docs/nn.md says why; the
 *    smallest gap between ORT logits stands for that step, which is stricter).
 * Skips, saying why, without node, without the npm package (tools/setup.sh
 * installs it into $AX_ORT_DIR), on CPUs without VNNI (ORT's u8s8 path
 * saturates there) and under sanitizers (the release run covers it). */
#include "test_util.h"

#include <criterion/criterion.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FASHION "/usr/share/datasets/fashion-mnist"

typedef struct verdict {
    long images, identical, agree, beyond_margin;
    double step;
} verdict;

static const char *ort_dir(void)
{
    static char buf[1024];
    const char *d = getenv("AX_ORT_DIR");
    if (d && *d) return d;
    const char *home = getenv("HOME");
    snprintf(buf, sizeof buf, "%s/.cache/autoapprox/ort", home ? home : "");
    return buf;
}

/* cpuid leaf 7: AVX512_VNNI is subleaf 0 ECX bit 11, AVX-VNNI subleaf 1 EAX
 * bit 4 (asked directly: clang 14's __builtin_cpu_supports lacks "avxvnni"). */
static bool have_vnni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 11 & 1)) return true;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1);
#else
    return false;
#endif
}

/* Skips unless everything the comparison needs is here. */
static void require_ort(void)
{
    if (ax_test_reduced()) cr_skip_test("ONNX Runtime comparison: not under sanitizers (the release run covers it)");
    const char *node = getenv("AX_NODE");
    if (!node || !*node || access(node, X_OK) != 0) cr_skip_test("ONNX Runtime comparison: node not found");
    char pkg[1200];
    snprintf(pkg, sizeof pkg, "%s/node_modules/onnxruntime-node/package.json", ort_dir());
    if (access(pkg, R_OK) != 0)
        cr_skip_test("ONNX Runtime comparison: %s absent (tools/setup.sh installs onnxruntime-node there with npm)",
                     pkg);
    if (!have_vnni()) cr_skip_test("ONNX Runtime comparison: this CPU has no VNNI, ORT's u8s8 path would saturate");
    struct stat st;
    if (stat(FASHION, &st) != 0) cr_skip_test("%s absent: install dataset-fashion-mnist (tools/setup.sh)", FASHION);
}

static char *model_path(void)
{
    const char *fx = getenv("AX_TEST_FIXTURES");
    cr_assert(fx, "AX_TEST_FIXTURES unset");
    char *p = malloc(strlen(fx) + 64);
    sprintf(p, "%s/../../models/fashion_cnn.onnx", fx);
    return p;
}

/* Runs node ort_compare.js and parses its last "verdict" line. */
static void run_ort(const char *model, const char *logits, verdict *v)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ORT_DIR='%s' '%s' '%s' '%s' '%s' '%s' 2>&1", ort_dir(), getenv("AX_NODE"),
             getenv("AX_ORT_SCRIPT"), model, FASHION, logits);
    FILE *f = popen(cmd, "r");
    cr_assert(f, "cannot run %s", cmd);
    char line[1024];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        fputs(line, stderr);
        if (sscanf(line, "verdict images=%ld identical=%ld agree=%ld beyond_margin=%ld step=%lf", &v->images,
                   &v->identical, &v->agree, &v->beyond_margin, &v->step) == 5)
            found = true;
    }
    int st = pclose(f);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && found, "ort_compare.js failed: %s", cmd);
}

/* quantize with `act`, eval the whole test split with `mult`, compare in ORT. */
static void compare(const char *act, const char *mult, verdict *v)
{
    char *dir = ax_test_tmpdir(), *q = ax_test_path(dir, "q.onnx"), *npy = ax_test_path(dir, "ours.npy");
    char *model = model_path(), *err = NULL;
    const char *qa[] = {"quantize", "--model", model, "--calib", FASHION, "--act", act, "-o", q, NULL};
    int rc = ax_test_cli(NULL, &err, qa);
    cr_assert_eq(rc, 0, "quantize failed: %s", err);
    free(err);
    const char *ea[] = {"eval", "--model", q, "--data", FASHION, "--mult", mult, "--save-logits", npy, NULL};
    rc = ax_test_cli(NULL, &err, ea);
    cr_assert_eq(rc, 0, "eval failed: %s", err);
    free(err);
    run_ort(q, npy, v);
    cr_assert_eq(v->images, 10000, "ORT compared %ld images, expected the 10000 of the test split", v->images);
    ax_test_rmtree(dir);
    free(dir), free(q), free(npy), free(model);
}

Test(ort, u8_activations_fused_int8_bit_identical, .timeout = 600)
{
    require_ort();
    verdict v;
    compare("u8", "exact-u8s8", &v);
    cr_expect_eq(v.identical, v.images, "logits identical on %ld of %ld images", v.identical, v.images);
    cr_expect_eq(v.beyond_margin, 0, "top-1 differs on %ld images beyond one output step", v.beyond_margin);
}

Test(ort, s8_activations_same_top1_beyond_one_step, .timeout = 600)
{
    require_ort();
    verdict v;
    compare("s8", "exact-s8", &v);
    cr_expect_eq(v.beyond_margin, 0, "top-1 differs on %ld images whose ORT margin exceeds one step (%g)",
                 v.beyond_margin, v.step);
    /* a sanity floor so a broken comparison (say, every logit zero) cannot pass */
    cr_expect_gt(v.agree, v.images * 99 / 100, "top-1 agrees on only %ld of %ld images", v.agree, v.images);
}
