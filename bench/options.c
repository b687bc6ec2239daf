/* options.c - parses bench-approx's command line (see bench_usage). */
#include "options.h"
#include "bench.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void bench_usage(FILE *f)
{
    fputs("usage: bench-approx [--isa auto|scalar|avx2|avx512|neon] [--threads N]\n"
          "                    [--suite quick|gemm|conv|network|all] [--mult SPEC[,SPEC...]]...\n"
          "                    [--verify] [--json OUT] [--save] [--benchmark_* flags]\n"
          "                    [--model M.onnx] [--batch B] [--input-size S]   (suite network)\n"
          "       bench-approx compare A.json B.json\n"
          "\n"
          "Measures GEMM throughput of every kernel path for the chosen ISA on every\n"
          "multiplier, next to two peers measured in the same run: `naive` (the plain\n"
          "acc += T[a*256+w] loop, OpenMP over rows) and `onednn` (oneDNN's exact int8 GEMM).\n"
          "Benchmarks are named <op>/<path>/<isa>/<mult>/<shape>; items_per_second = MAC/s.\n"
          "\n"
          "  --isa I        kernels' ISA (default auto = the best this CPU has); a CPU that\n"
          "                 lacks it is refused. `avx2` = AVX2+FMA+BMI2 only. Peers run anyway.\n"
          "  --threads N    threads for every path and peer (default: one per core)\n"
          "  --suite S      quick: a few ResNet-50 layers at batch 8 (default, under a minute)\n"
          "                 gemm: every distinct conv/FC layer of ResNet-50 and MobileNetV2 and\n"
          "                       the grouped 3x3 convs of ResNeXt-50 32x4d at batch 8 as\n"
          "                       GEMMs (grouped/depthwise: G GEMMs, op `dwgemm`)\n"
          "                 conv: the same layers as convolutions (ax_conv2d, NHWC; oneDNN's\n"
          "                       int8 convolution as the peer)\n"
          "                 network: whole networks through the quantized runtime, in\n"
          "                       MAC/s and images/s: ResNet-50 and MobileNetV2 built with\n"
          "                       random weights (or --model), exact-s8 and every --mult\n"
          "                 all: every suite above\n"
          "  --mult SPEC    multiplier(s): a built-in spec (trunc-s8:k=6), a named table\n"
          "                 (mul8s_1L2J), a file, or `random-u8` (a table of uniform random\n"
          "                 entries in [0,65025], fixed seed, built here); repeatable or a\n"
          "                 comma list. Default: random-u8 and mul8s_1L2J (else trunc-s8:k=6)\n"
          "  --verify       before timing, compare every benchmarked path's output on every\n"
          "                 benchmarked shape with ax_gemm_reference; any difference: exit 1\n"
          "  --json OUT     write Google Benchmark's JSON to OUT (whole or not at all)\n"
          "  --save         write that JSON to results/<machine-id>/<date>-<suite>-<isa>.json\n"
          "                 ($AX_RESULTS_DIR instead of the source tree's results/ when set)\n"
          "  --model M      suite network: this ONNX model (QDQ, or float: quantized on\n"
          "                 random images) instead of the built-in ResNet-50 and MobileNetV2\n"
          "  --batch B      suite network: images per run (default 32)\n"
          "  --input-size S suite network: built-in networks on SxS images (default 224;\n"
          "                 a multiple of 32)\n"
          "  -h, --help     this text, then Google Benchmark's own flags\n"
          "\n"
          "With --benchmark_repetitions=N (N > 1) the repetitions of all benchmarks run\n"
          "randomly interleaved (--benchmark_enable_random_interleaving=true, unless given):\n"
          "a path and its peers then sample the same spells of a shared machine's load.\n"
          "\n"
          "compare: per benchmark the speed in A and B and the ratio B/A, then the\n"
          "geometric mean of the ratios (Google Benchmark's compare.py reads the same files).\n",
          f);
}

static int fail(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return 2;
}

/* "--opt=V" or "--opt V": the value, or NULL when arg is not this option.
 * *missing is set when the option is there without its value. */
static const char *value_of(const char *opt, int argc, char **argv, int *i, bool *missing)
{
    size_t n = strlen(opt);
    const char *a = argv[*i];
    if (strncmp(a, opt, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != 0) return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static int add_mults(bench_options *o, const char *list, char *msg, size_t cap)
{
    char *copy = strdup(list), *save = NULL;
    int added = 0;
    if (!copy) return fail(msg, cap, "out of memory");
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save), added++) {
        if (o->n_mults == BENCH_MAX_MULTS) {
            free(copy);
            return fail(msg, cap, "--mult: at most %d multipliers", BENCH_MAX_MULTS);
        }
        o->mults[o->n_mults++] = strdup(t);
    }
    free(copy);
    if (!added) return fail(msg, cap, "--mult: empty multiplier spec");
    return 0;
}

static bool known_suite(const char *s)
{
    const char *names[] = {"quick", "gemm", "conv", "network", "all"};
    for (size_t i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) return true;
    return false;
}

static int parse_one(int argc, char **argv, int *i, bench_options *o, char *msg, size_t cap)
{
    const char *a = argv[*i], *v;
    bool missing = false;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return o->help = true, 0;
    if (strcmp(a, "--verify") == 0) return o->verify = true, 0;
    if (strcmp(a, "--save") == 0) return o->save = true, 0;
    if ((v = value_of("--isa", argc, argv, i, &missing))) {
        if (ax_isa_parse(v, &o->isa) != 0)
            return fail(msg, cap, "--isa %s: unknown ISA (auto, scalar, avx2, avx512 or neon)", v);
        return o->isa_arg = v, 0;
    }
    if ((v = value_of("--threads", argc, argv, i, &missing))) {
        char *end;
        long t = strtol(v, &end, 10);
        if (*end || t < 1 || t > 4096) return fail(msg, cap, "--threads %s: not a thread count (1-4096)", v);
        return o->threads = (int)t, 0;
    }
    if ((v = value_of("--suite", argc, argv, i, &missing))) {
        if (!known_suite(v)) return fail(msg, cap, "--suite %s: unknown suite (quick, gemm, conv, network, all)", v);
        return o->suite = v, 0;
    }
    if ((v = value_of("--mult", argc, argv, i, &missing))) return add_mults(o, v, msg, cap);
    if ((v = value_of("--json", argc, argv, i, &missing))) {
        if (!*v) return fail(msg, cap, "--json: empty file name");
        return o->json = v, 0;
    }
    if ((v = value_of("--model", argc, argv, i, &missing))) {
        if (!*v) return fail(msg, cap, "--model: empty file name");
        return o->model = v, 0;
    }
    if ((v = value_of("--batch", argc, argv, i, &missing))) {
        char *end;
        long b = strtol(v, &end, 10);
        if (*end || b < 1 || b > 4096) return fail(msg, cap, "--batch %s: not a batch size (1-4096)", v);
        return o->batch = (size_t)b, 0;
    }
    if ((v = value_of("--input-size", argc, argv, i, &missing))) {
        char *end;
        long b = strtol(v, &end, 10);
        if (*end || b < 32 || b > 1024 || b % 32)
            return fail(msg, cap, "--input-size %s: not a multiple of 32 in [32, 1024]", v);
        return o->input_size = (size_t)b, 0;
    }
    if (missing) return fail(msg, cap, "%s needs a value", a);
    if (strncmp(a, "--benchmark_", 12) == 0 || strncmp(a, "--v=", 4) == 0) {
        if (strncmp(a, "--benchmark_list_tests", 22) == 0) { /* we list: names as registered */
            o->list_only = strcmp(a + 22, "=false") != 0 && strcmp(a + 22, "=0") != 0;
            return 0;
        }
        if (o->gb_argc >= BENCH_MAX_ARGS) return fail(msg, cap, "too many --benchmark_* flags");
        o->gb_argv[o->gb_argc++] = argv[*i];
        if (strncmp(a, "--benchmark_format=", 19) == 0) o->format = a + 19;
        if (strncmp(a, "--benchmark_out=", 16) == 0) o->out = a + 16;
        if (strncmp(a, "--benchmark_out_format=", 23) == 0) o->out_format = a + 23;
        if (strncmp(a, "--benchmark_repetitions=", 24) == 0) o->repetitions = atoi(a + 24);
        if (strncmp(a, "--benchmark_enable_random_interleaving", 38) == 0) o->interleave_given = true;
        return 0;
    }
    return fail(msg, cap, "%s: unknown option (see --help)", a);
}

int bench_options_parse(int argc, char **argv, bench_options *o, char *msg, size_t cap)
{
    memset(o, 0, sizeof *o);
    o->isa_arg = "auto";
    o->isa = AX_ISA_AUTO;
    o->suite = "quick";
    o->format = "console";
    o->batch = 32;
    o->input_size = 224;
    o->gb_argv[o->gb_argc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        int rc = parse_one(argc, argv, &i, o, msg, cap);
        if (rc) return rc;
    }
    /* Repetitions one benchmark after another put each in its own spell of
     * a shared machine's load, and a path's ratio to its peer moves with
     * it; interleaved, they share it (docs/bench.md, "Notes": the ratios'
     * spread over five runs 0.076 -> 0.048 here) */
    if (o->repetitions > 1 && !o->interleave_given)
        o->gb_argv[o->gb_argc++] = "--benchmark_enable_random_interleaving=true";
    if (o->out && (o->json || o->save))
        return fail(msg, cap, "--benchmark_out cannot be combined with --json or --save (they use it)");
    const char *formats[] = {"console", "json", "csv"};
    bool ok = false, ok_out = !o->out_format;
    for (size_t i = 0; i < 3; i++) {
        ok |= strcmp(o->format, formats[i]) == 0;
        ok_out |= o->out_format && strcmp(o->out_format, formats[i]) == 0;
    }
    if (!ok) return fail(msg, cap, "--benchmark_format=%s: unknown format (console, json, csv)", o->format);
    if (!ok_out) return fail(msg, cap, "--benchmark_out_format=%s: unknown format (console, json, csv)", o->out_format);
    return 0;
}

void bench_options_free(bench_options *o)
{
    for (int i = 0; i < o->n_mults; i++) free(o->mults[i]);
    o->n_mults = 0;
}
