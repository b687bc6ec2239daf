/* test_bench.c - bench-approx from the outside: the layer tables against
 * the networks' published sizes, benchmark names, --verify (GEMM and conv
 * suites), refusal of an ISA the CPU lacks, the JSON (Google Benchmark's
 * fields plus our context), --save, compare, and clear errors for bad
 * multipliers, suites, options and files; repetitions interleaved by
 * default. Timed runs use one tiny shape and
 * a tiny --benchmark_min_time ($AX_TEST_REDUCED: the tiny shape only). */
#include "test_util.h"
#include "autoapprox/nn.h"
/* the layer tables themselves, checked against the networks' published sizes */
#include "bench/shapes_mobilenetv2.c"
#include "bench/shapes_resnet50.c"
#include "bench/shapes_resnext50.c"
/* and the command line's parser */
#include "bench/options.c"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TINY "--benchmark_filter=resnet50\\.fc$"
#define FAST "--benchmark_min_time=0.001"

static char *slurp(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf + len, cap - len - 1)) > 0)
        if ((len += (size_t)n) + 1 >= cap) buf = realloc(buf, cap *= 2);
    buf[len] = 0;
    close(fd);
    return buf;
}

/* Runs bench-approx with argv (NULL-terminated, no argv[0]). */
static int bench(char **out, char **err, const char *const *argv)
{
    const char *exe = getenv("AX_BENCH");
    if (!exe || !*exe) cr_skip_test("bench-approx is not part of this build (AX_BENCH unset)");
    char to[] = "/tmp/axbench.oXXXXXX", te[] = "/tmp/axbench.eXXXXXX";
    int fo = mkstemp(to), fe = mkstemp(te);
    unlink(to), unlink(te);
    size_t n = 0;
    while (argv[n]) n++;
    const char **args = calloc(n + 2, sizeof *args);
    args[0] = exe;
    memcpy(args + 1, argv, n * sizeof *args);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fo, 1), dup2(fe, 2);
        execv(exe, (char *const *)args);
        _exit(127);
    }
    free(args);
    int st = 0;
    waitpid(pid, &st, 0);
    char *o = slurp(fo), *e = slurp(fe);
    if (out) *out = o; else free(o);
    if (err) *err = e; else free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0) return true;
    return false;
}

static void network_size(const bench_layer *l, size_t n, int *layers, double *macs)
{
    *layers = 0, *macs = 0;
    for (size_t i = 0; i < n; i++) {
        int pad = l[i].kernel / 2;
        double oh = (l[i].h + 2 * pad - l[i].kernel) / l[i].stride + 1;
        double ow = (l[i].w + 2 * pad - l[i].kernel) / l[i].stride + 1;
        *layers += l[i].mult;
        *macs += oh * ow * l[i].c_out * (l[i].c_in / l[i].groups) * l[i].kernel * l[i].kernel * l[i].mult;
        cr_assert(l[i].c_in % l[i].groups == 0 && l[i].c_out % l[i].groups == 0, "%s", l[i].name);
        for (size_t j = 0; j < i; j++) /* distinct shapes, distinct names */
            cr_assert(strcmp(l[i].name, l[j].name) != 0 &&
                          (l[i].h != l[j].h || l[i].c_in != l[j].c_in || l[i].c_out != l[j].c_out ||
                           l[i].kernel != l[j].kernel || l[i].stride != l[j].stride || l[i].groups != l[j].groups),
                      "%s repeats %s", l[i].name, l[j].name);
    }
}

Test(bench, layer_tables_match_the_networks)
{
    int layers;
    double macs;
    network_size(bench_resnet50, bench_resnet50_count, &layers, &macs);
    cr_assert_eq(layers, 54, "ResNet-50: 53 convs + 1 FC, got %d", layers);
    cr_assert(fabs(macs - 4.0892e9) < 1e6, "ResNet-50 v1.5: 4.089 GMAC per image, got %.0f", macs);
    network_size(bench_mobilenetv2, bench_mobilenetv2_count, &layers, &macs);
    cr_assert_eq(layers, 53, "MobileNetV2: 35 + 17 depthwise convs + 1 FC, got %d", layers);
    cr_assert(fabs(macs - 300.774e6) < 1e5, "MobileNetV2: 300.8 MMAC per image, got %.0f", macs);
    /* ResNeXt-50 32x4d: one grouped 3x3 conv per bottleneck (3 + 4 + 6 + 3),
     * each 56*56*128*4*9 MACs per image (width and resolution trade evenly) */
    network_size(bench_resnext50, bench_resnext50_count, &layers, &macs);
    cr_assert_eq(layers, 16, "ResNeXt-50: 16 grouped 3x3 convs, got %d", layers);
    cr_assert(fabs(macs - 16 * 14450688.0) < 1, "ResNeXt-50 grouped convs: 231.2 MMAC per image, got %.0f", macs);
}

Test(bench, names_have_five_fields)
{
    char *out, *err;
    int rc = bench(&out, &err, (const char *[]){"--suite", "all", "--benchmark_list_tests", NULL});
    cr_assert_eq(rc, 0, "stderr: %s", err);
    const char *paths[] = {"naive", "lut", "lowrank", "exact", "onednn", NULL};
    const char *ops[] = {"gemm", "dwgemm", "conv", "network", NULL};
    int lines = 0, dw = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
        char *f[6] = {0}, *s2 = NULL;
        int n = 0;
        for (char *t = strtok_r(line, "/", &s2); t && n < 6; t = strtok_r(NULL, "/", &s2)) f[n++] = t;
        cr_assert_eq(n, 5, "not 5 fields: %s", line);
        cr_assert(one_of(f[0], ops), "op %s", f[0]);
        cr_assert(one_of(f[1], paths), "path %s", f[1]);
        if (strcmp(f[1], "naive") == 0) cr_assert_str_eq(f[2], "scalar");
        cr_assert(strncmp(f[4], "resnet50.", 9) == 0 || strncmp(f[4], "mobilenetv2.", 12) == 0 ||
                      strncmp(f[4], "resnext50.", 10) == 0,
                  "shape %s", f[4]);
        dw += strcmp(f[0], "dwgemm") == 0;
    }
    cr_assert_gt(lines, 50, "only %d benchmarks in suite all", lines);
    cr_assert_gt(dw, 0, "no depthwise benchmarks");
    free(out), free(err);
}

Test(bench, verify_quick_suite)
{
    char *err;
    /* one table keeps this short; json_output verifies the default ones. A
     * built-in table, not an EvoApproxLib name: the suite must pass without
     * ../shared/evoapprox. trunc-s8 runs the lut and lowrank paths. */
    const char *full[] = {"--suite", "quick", "--verify", "--mult", "trunc-s8:k=6", FAST, NULL};
    const char *tiny[] = {"--suite", "quick", "--verify", "--mult", "trunc-s8:k=6", FAST, TINY, NULL};
    int rc = bench(NULL, &err, ax_test_reduced() ? tiny : full);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strstr(err, "equal ax_gemm_reference"), "stderr: %s", err);
    free(err);
}

Test(bench, verify_conv)
{
    char *out, *err;
    const char *argv[] = {"--suite", "conv", "--verify", FAST, "--benchmark_filter=(resnet50\\.fc|features\\.15\\.conv\\.1\\.0)$",
                          NULL};
    int rc = bench(&out, &err, argv);
    if (rc != 0 && strstr(err, "no ax_conv2d")) cr_skip_test("the kernels offer no ax_conv2d");
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strstr(err, "path/shape pairs equal"), "stderr: %s", err);
    /* the depthwise layer's label names the kernel it ran on every path with a plan (ours, or oneDNN's
     * convolution where an EXACT plan hands it over) */
    int dw = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, "features.15.conv.1.0 ") && strstr(line, " ns ") && !strstr(line, "/naive/") &&
            !strstr(line, "/onednn/")) { /* a timing line, not the summary's */
            cr_assert(strstr(line, "_dwconv_") || strstr(line, "exact_conv__onednn"), "no depthwise kernel in: %s", line);
            dw++;
        }
    cr_assert(dw > 0, "no depthwise benchmark in: %s", out);
    free(out), free(err);
}

Test(bench, refuses_missing_isa)
{
#if defined(__aarch64__)
    const char *isa = "avx512";
#else
    const char *isa = "neon";
#endif
    char *out, *err;
    int rc = bench(&out, &err, (const char *[]){"--isa", isa, TINY, NULL});
    cr_assert_neq(rc, 0);
    cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
    cr_assert(strstr(err, isa), "stderr: %s", err);
    cr_assert_str_empty(out);
    free(out), free(err);
}

/* How often `needle` occurs in the file at path. */
static int occurrences(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s: cannot open", path);
    char *text = slurp(dup(fileno(f)));
    fclose(f);
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) n++;
    free(text);
    return n;
}

static void check_json(const char *path)
{
    /* our context entries never shadow Google Benchmark's own keys */
    cr_assert_eq(occurrences(path, "\"caches\":"), 1);
    json_object *j = json_object_from_file(path);
    cr_assert(j, "%s: not JSON", path);
    json_object *ctx, *bs, *v;
    cr_assert(json_object_object_get_ex(j, "context", &ctx));
    const char *keys[] = {"num_cpus", "mhz_per_cpu", "caches", "isa", "git_revision", "autoapprox_version",
                          "cpu_model", "physical_cores", "machine_id", "clock_source", NULL};
    for (const char *const *k = keys; *k; k++) cr_assert(json_object_object_get_ex(ctx, *k, &v), "context lacks %s", *k);
    cr_assert(json_object_object_get_ex(j, "benchmarks", &bs));
    size_t n = json_object_array_length(bs);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(bs, i);
        const char *fields[] = {"name", "run_type", "iterations", "real_time", "cpu_time", "time_unit",
                                "items_per_second", "GMAC/s", NULL};
        for (const char *const *f = fields; *f; f++) cr_assert(json_object_object_get_ex(b, *f, &v), "lacks %s", *f);
        json_object_object_get_ex(b, "items_per_second", &v);
        cr_assert_gt(json_object_get_double(v), 0);
    }
    json_object_put(j);
}

Test(bench, json_output)
{
    char *dir = ax_test_tmpdir(), *path = ax_test_path(dir, "out.json"), *err;
    int rc = bench(NULL, &err, (const char *[]){"--json", path, "--verify", TINY, FAST, NULL});
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strstr(err, "path/shape pairs equal"), "stderr: %s", err);
    check_json(path);
    ax_test_rmtree(dir);
    free(dir), free(path), free(err);
}

Test(bench, compare_two_runs)
{
    char *dir = ax_test_tmpdir(), *a = ax_test_path(dir, "a.json"), *b = ax_test_path(dir, "b.json");
    char *out, *err;
    const char *filter = "--benchmark_filter=naive.*resnet50\\.fc$";
    cr_assert_eq(bench(NULL, NULL, (const char *[]){"--json", a, filter, FAST, NULL}), 0);
    cr_assert_eq(bench(NULL, NULL, (const char *[]){"--json", b, filter, FAST, "--benchmark_repetitions=2", NULL}), 0);
    int rc = bench(&out, &err, (const char *[]){"compare", a, b, NULL});
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strstr(out, "gemm/naive/scalar/random-u8/resnet50.fc"), "%s", out);
    cr_assert(strstr(out, "geometric mean of B/A over 2 common benchmarks"), "%s", out);
    free(out), free(err);
    rc = bench(&out, &err, (const char *[]){"compare", a, "/nonexistent/c.json", NULL});
    cr_assert_eq(rc, 1);
    cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
    cr_assert(strstr(err, "/nonexistent/c.json"), "stderr: %s", err);
    free(out), free(err);
    rc = bench(&out, &err, (const char *[]){"compare", a, "/etc/hostname", NULL});
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "not a Google Benchmark JSON"), "stderr: %s", err);
    free(out), free(err);
    cr_assert_eq(bench(NULL, NULL, (const char *[]){"compare", a, NULL}), 2);
    ax_test_rmtree(dir);
    free(dir), free(a), free(b);
}

Test(bench, save_into_results)
{
    char *dir = ax_test_tmpdir(), *err;
    setenv("AX_RESULTS_DIR", dir, 1);
    int rc = bench(NULL, &err, (const char *[]){"--save", "--isa", "scalar", TINY, FAST, NULL});
    cr_assert_eq(rc, 0, "stderr: %s", err);
    char date[16], suffix[64];
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t));
    snprintf(suffix, sizeof suffix, "/%s-quick-scalar.json", date);
    char *saved = strstr(err, "saved ");
    cr_assert(saved, "stderr: %s", err);
    saved += 6;
    saved[strcspn(saved, "\n")] = 0;
    cr_assert(strncmp(saved, dir, strlen(dir)) == 0, "saved to %s", saved);
    cr_assert(strstr(saved, suffix), "saved to %s", saved);
    check_json(saved);
    ax_test_rmtree(dir);
    free(dir), free(err);
}

static bool passes_on(const bench_options *o, const char *flag)
{
    for (int i = 1; i < o->gb_argc; i++)
        if (strcmp(o->gb_argv[i], flag) == 0) return true;
    return false;
}

/* repetitions run randomly interleaved unless the flag is given either way */
Test(bench, repetitions_interleave_unless_told)
{
    const char *on = "--benchmark_enable_random_interleaving=true";
    struct {
        const char *argv[4];
        bool added;
    } cases[] = {
        {{"bench-approx", "--benchmark_repetitions=2", NULL}, true},
        {{"bench-approx", "--benchmark_min_time=0.1", "--benchmark_repetitions=12", NULL}, true},
        {{"bench-approx", NULL}, false},
        {{"bench-approx", "--benchmark_repetitions=1", NULL}, false},
        {{"bench-approx", "--benchmark_repetitions=3", "--benchmark_enable_random_interleaving=false", NULL}, false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int argc = 0;
        while (cases[c].argv[argc]) argc++;
        bench_options o;
        char msg[256];
        cr_assert_eq(bench_options_parse(argc, (char **)cases[c].argv, &o, msg, sizeof msg), 0, "%s", msg);
        cr_expect_eq(passes_on(&o, on), cases[c].added, "case %zu", c);
        cr_expect_eq(o.gb_argc, argc + (cases[c].added ? 1 : 0), "case %zu: every flag passed on once", c);
        bench_options_free(&o);
    }
}

/* with interleaved repetitions runs finish in random order; the summary
 * still lists the benchmarks as registered (what --benchmark_list_tests
 * prints) */
Test(bench, summary_in_registration_order)
{
    char *list, *out;
    cr_assert_eq(bench(&list, NULL, (const char *[]){TINY, "--benchmark_list_tests", NULL}), 0);
    cr_assert_eq(bench(&out, NULL, (const char *[]){TINY, FAST, "--benchmark_repetitions=3", NULL}), 0);
    const char *table = strstr(out, "\nbenchmark ");
    cr_assert(table, "no summary in: %s", out);
    table = strchr(table + 1, '\n') + 1;
    int names = 0;
    for (char *save = NULL, *want = strtok_r(list, "\n", &save); want; want = strtok_r(NULL, "\n", &save), names++) {
        size_t n = strlen(want);
        cr_assert(strncmp(table, want, n) == 0 && table[n] == ' ', "summary row %d is not %s:\n%s", names, want, out);
        table = strchr(table, '\n') + 1;
    }
    cr_assert_gt(names, 3, "%s", list);
    free(list), free(out);
}

Test(bench, bad_mult_is_one_line)
{
    char *err;
    int rc = bench(NULL, &err, (const char *[]){"--mult", "no-such-family-s8:k=3", TINY, NULL});
    cr_assert_neq(rc, 0);
    cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
    cr_assert(strstr(err, "no-such-family"), "stderr: %s", err);
    free(err);
}

Test(bench, bad_usage)
{
    char *err;
    cr_assert_eq(bench(NULL, &err, (const char *[]){"--suite", "huge", NULL}), 2);
    cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
    free(err);
    cr_assert_eq(bench(NULL, &err, (const char *[]){"--frobnicate", NULL}), 2);
    cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
    free(err);
    cr_assert_eq(bench(NULL, &err, (const char *[]){"--threads", "0", NULL}), 2);
    free(err);
    cr_assert_eq(bench(NULL, &err, (const char *[]){"--json", "/x.json", "--benchmark_out=/y.json", NULL}), 2);
    free(err);
}

/* The built-in networks have the layers of the tables above: same names
 * (module paths), shapes and MACs (4.089 GMAC, 300.8 MMAC per image). */
static void same_layers(ax_nn_model *m, const char *prefix, const bench_layer *t, size_t n, size_t want_layers,
                        int size)
{
    size_t count = ax_nn_layer_count(m);
    cr_assert_eq(count, want_layers, "%s: %zu layers", prefix, count);
    double macs = 0, want = 0;
    for (size_t i = 0; i < count; i++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(m, i, &li);
        macs += (double)li.macs;
    }
    for (size_t i = 0; i < n; i++) {
        int j = ax_nn_layer_find(m, t[i].name + strlen(prefix) + 1);
        cr_assert_geq(j, 0, "%s is not a layer of the built network", t[i].name);
        ax_nn_layer_info li;
        ax_nn_layer_get(m, (size_t)j, &li);
        cr_assert_eq(li.n, (size_t)t[i].c_out, "%s", t[i].name);
        cr_assert_eq(li.k, (size_t)(t[i].c_in / t[i].groups * t[i].kernel * t[i].kernel), "%s", t[i].name);
        int pad = t[i].kernel / 2, h = t[i].h == 1 ? 1 : t[i].h * size / 224; /* FC: 1x1 at any size */
        double oh = (h + 2 * pad - t[i].kernel) / t[i].stride + 1;
        want += oh * oh * t[i].c_out * (t[i].c_in / t[i].groups) * t[i].kernel * t[i].kernel * t[i].mult;
    }
    cr_assert(fabs(macs - want) < 1, "%s: %.0f MACs, the table says %.0f", prefix, macs, want);
}

Test(bench, built_networks_match_the_tables)
{
    ax_nn_model *m = NULL;
    ax_error err = {{0}};
    int size = ax_test_reduced() ? 32 : 224; /* 224 / 32 = 7: every spatial size divides */
    cr_assert_eq(ax_nn_build_resnet50((size_t)size, 1, &m, &err), 0, "%s", err.msg);
    same_layers(m, "resnet50", bench_resnet50, bench_resnet50_count, 54, size);
    ax_nn_free(m);
    cr_assert_eq(ax_nn_build_mobilenet_v2((size_t)size, 1, &m, &err), 0, "%s", err.msg);
    same_layers(m, "mobilenetv2", bench_mobilenetv2, bench_mobilenetv2_count, 53, size);
    ax_nn_free(m);
    cr_assert_neq(ax_nn_build_resnet50(100, 1, &m, &err), 0);
    cr_assert(strstr(err.msg, "multiple of 32"), "%s", err.msg);
}

/* Suite network on 32x32 images, batch 2, one iteration: --verify compares
 * every path's logits with the scalar reference runtime's, bit for bit. */
Test(bench, network_suite_verifies)
{
    char *dir = ax_test_tmpdir(), *path = ax_test_path(dir, "net.json"), *out, *err;
    const char *filter = ax_test_reduced() ? "--benchmark_filter=mobilenetv2" : "--benchmark_filter=.";
    int rc = bench(&out, &err, (const char *[]){"--suite", "network", "--input-size", "32", "--batch", "2",
                                                "--mult", "trunc-s8:k=6,random-u8", "--verify", "--json", path,
                                                filter, FAST, NULL});
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strstr(err, "networks give the scalar reference runtime's logits"), "stderr: %s", err);
    cr_assert(strstr(out, "network/exact/") && strstr(out, "/exact-s8/mobilenetv2.b2") &&
                  strstr(out, "network/naive/scalar/exact-s8/mobilenetv2.b2") &&
                  strstr(out, "network/lut/") && strstr(out, "/random-u8/mobilenetv2.b2"), "%s", out);
    check_json(path);
    json_object *j = json_object_from_file(path), *bs, *v;
    cr_assert(json_object_object_get_ex(j, "benchmarks", &bs));
    for (size_t i = 0; i < json_object_array_length(bs); i++)
        cr_assert(json_object_object_get_ex(json_object_array_get_idx(bs, i), "images_per_second", &v));
    json_object_put(j);
    ax_test_rmtree(dir);
    free(dir), free(path), free(out), free(err);
}

Test(bench, network_suite_bad_model)
{
    char *err;
    int rc = bench(NULL, &err, (const char *[]){"--suite", "network", "--model", "/nonexistent/m.onnx", NULL});
    cr_assert_eq(rc, 1);
    cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
    cr_assert(strstr(err, "/nonexistent/m.onnx"), "stderr: %s", err);
    free(err);
    cr_assert_eq(bench(NULL, &err, (const char *[]){"--suite", "network", "--input-size", "50", NULL}), 2);
    free(err);
}

Test(bench, help)
{
    char *out;
    cr_assert_eq(bench(&out, NULL, (const char *[]){"--help", NULL}), 0);
    cr_assert(strstr(out, "--isa") && strstr(out, "network") && strstr(out, "benchmark_filter"), "%s", out);
    free(out);
}
