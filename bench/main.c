/* main.c - bench-approx: builds the cases of a suite (every kernel path of
 * the chosen ISA on every multiplier and shape, plus the naive and oneDNN
 * peers), optionally verifies them, describes the machine in Google
 * Benchmark's context, runs, prints the summary and writes the JSON. */
#include "ax_config.h"
#include "ax_git_revision.h"
#include "bench.h"
#include "bench_config.h"
#include "options.h"
#include "summary.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RANDOM_SEED 20251125ull
#define MAX_LAYERS 256
static const ax_path kernel_paths[] = {AX_PATH_LUT, AX_PATH_EXACT, AX_PATH_LOWRANK};
#define N_PATHS 3

typedef struct app {
    bench_options o;
    bench_machine machine;
    bench_mult mults[BENCH_MAX_MULTS], onednn_mult;
    int n_mults;
    ax_gemm_plan *plans[BENCH_MAX_MULTS][N_PATHS];
    bench_shape shapes[MAX_LAYERS];
    size_t n_shapes;
    bench_run run;
    bench_networks *nets;      /* suite network */
    bool want_nets;
    char filter[1024];
    bool *selected;
    char tmp_out[4096], save_path[4096], out_arg[4200];
} app;

static int say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench-approx: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* ---- multipliers -------------------------------------------------------- */
static int load_mult(const char *spec, bench_mult *out, ax_error *err)
{
    ax_mult *m = NULL;
    if (strcmp(spec, "random-u8") == 0) {
        if (!(m = bench_random_table(RANDOM_SEED))) return snprintf(err->msg, sizeof err->msg, "out of memory"), -1;
    } else if (ax_mult_resolve(spec, &m, err) != 0) {
        return -1;
    }
    out->m = m;
    snprintf(out->name, sizeof out->name, "%s", m->name[0] ? m->name : spec);
    for (char *p = out->name; *p; p++)
        if (*p == '/' || *p == ' ') *p = '_'; /* no field of a name holds '/' */
    return 0;
}

static int load_mults(app *a)
{
    ax_error err = {{0}};
    if (a->o.n_mults == 0) { /* default: one arbitrary table, one low-rank one */
        a->o.mults[a->o.n_mults++] = strdup("random-u8");
        ax_mult *probe = NULL;
        bool evo = ax_mult_resolve("mul8s_1L2J", &probe, &err) == 0;
        ax_mult_free(probe);
        a->o.mults[a->o.n_mults++] = strdup(evo ? "mul8s_1L2J" : "trunc-s8:k=6");
    }
    for (int i = 0; i < a->o.n_mults; i++) {
        if (load_mult(a->o.mults[i], &a->mults[a->n_mults], &err) != 0)
            return say(2, "--mult: %s", err.msg);
        for (int j = 0; j < a->n_mults; j++)
            if (strcmp(a->mults[j].name, a->mults[a->n_mults].name) == 0)
                return say(2, "--mult %s: a multiplier named %s is already measured", a->o.mults[i], a->mults[j].name);
        a->n_mults++;
    }
    snprintf(a->onednn_mult.name, sizeof a->onednn_mult.name, "exact-u8s8");
    a->onednn_mult.m = bench_exact_u8s8();
    return a->onednn_mult.m ? 0 : say(1, "out of memory");
}

/* ---- suites ------------------------------------------------------------- */
static void add_layers(app *a, const bench_layer *l, size_t n, bool quick_only, bool conv)
{
    for (size_t i = 0; i < n && a->n_shapes < MAX_LAYERS; i++)
        if (!quick_only || l[i].quick) bench_shape_of(&l[i], AX_BENCH_BATCH, conv, &a->shapes[a->n_shapes++]);
}

static void choose_shapes(app *a)
{
    const char *s = a->o.suite;
    bool all = strcmp(s, "all") == 0;
    if (strcmp(s, "quick") == 0) add_layers(a, bench_resnet50, bench_resnet50_count, true, false);
    if (all || strcmp(s, "gemm") == 0) {
        add_layers(a, bench_resnet50, bench_resnet50_count, false, false);
        add_layers(a, bench_mobilenetv2, bench_mobilenetv2_count, false, false);
        add_layers(a, bench_resnext50, bench_resnext50_count, false, false);
    }
    if (all || strcmp(s, "conv") == 0) {
        add_layers(a, bench_resnet50, bench_resnet50_count, false, true);
        add_layers(a, bench_mobilenetv2, bench_mobilenetv2_count, false, true);
        add_layers(a, bench_resnext50, bench_resnext50_count, false, true);
    }
    a->want_nets = all || strcmp(s, "network") == 0;
}

static int make_networks(app *a)
{
    if (!a->want_nets) return 0;
    bench_net_options o = {a->o.model, a->o.batch, a->o.input_size, a->run.threads, a->o.isa};
    ax_error err = {{0}};
    if (bench_networks_create(&o, a->mults, a->n_mults, &a->nets, &err) != 0)
        return say(1, "suite network: %s", err.msg);
    return 0;
}

/* ---- plans and cases ---------------------------------------------------- */
static int make_plans(app *a)
{
    for (int i = 0; i < a->n_mults; i++)
        for (int p = 0; p < N_PATHS; p++) {
            ax_error err = {{0}};
            if (ax_gemm_plan_create(a->mults[i].m, a->o.isa, kernel_paths[p], &a->plans[i][p], &err) != 0) {
                a->plans[i][p] = NULL; /* this path cannot serve this table: not measured */
                if (kernel_paths[p] == AX_PATH_LUT)
                    say(0, "note: lut/%s cannot run %s: %s", ax_isa_name(a->o.isa), a->mults[i].name, err.msg);
            } else if (ax_gemm_plan_path(a->plans[i][p]) != kernel_paths[p]) {
                ax_gemm_plan_free(a->plans[i][p]); /* measured under its own path already */
                a->plans[i][p] = NULL;
            }
        }
    return 0;
}

static const char *onednn_isa_field(void)
{
    const char *i = bench_onednn_isa();
    if (strncmp(i, "avx512", 6) == 0) return "avx512";
    if (strncmp(i, "avx2", 4) == 0) return "avx2";
    return i;
}

static bench_case *new_case(app *a, bench_kind kind, const bench_shape *s, const bench_mult *m, ax_gemm_plan *plan)
{
    bench_case *c = &a->run.cases[a->run.n_cases++];
    memset(c, 0, sizeof *c);
    c->run = &a->run, c->kind = kind, c->shape = s, c->mult = m, c->plan = plan;
    const char *path = kind == BENCH_NAIVE ? "naive" : kind == BENCH_ONEDNN ? "onednn" : ax_path_name(ax_gemm_plan_path(plan));
    const char *isa = kind == BENCH_NAIVE    ? "scalar"
                      : kind == BENCH_ONEDNN ? onednn_isa_field()
                                             : ax_isa_name(ax_gemm_plan_isa(plan));
    snprintf(c->name, sizeof c->name, "%s/%s/%s/%s/%s", s->op, path, isa, m->name, s->layer->name);
    return c;
}

static int make_cases(app *a)
{
    size_t per_shape = 1;
    for (int i = 0; i < a->n_mults; i++) per_shape += 1 + N_PATHS;
    a->run.cases = calloc(a->n_shapes * per_shape + 1, sizeof *a->run.cases);
    if (!a->run.cases) return say(1, "out of memory");
    for (size_t s = 0; s < a->n_shapes; s++) {
        for (int i = 0; i < a->n_mults; i++) {
            new_case(a, BENCH_NAIVE, &a->shapes[s], &a->mults[i], NULL);
            for (int p = 0; p < N_PATHS; p++)
                if (a->plans[i][p]) new_case(a, BENCH_KERNEL, &a->shapes[s], &a->mults[i], a->plans[i][p]);
        }
        if (bench_onednn_available()) new_case(a, BENCH_ONEDNN, &a->shapes[s], &a->onednn_mult, NULL);
    }
    return 0;
}

/* The filter is applied here, to the names as registered (Google Benchmark
 * would match "/real_time" suffixed names); only the selected cases are
 * registered, and Google Benchmark then runs all of them. */
static int register_cases(app *a)
{
    bool real = a->run.threads > 1; /* threaded bodies: wall-clock time */
    char *filter = a->filter;
    size_t n = 0;
    ax_gb_filter(filter, sizeof a->filter);
    if (!bench_filter_valid(filter)) return say(2, "--benchmark_filter=%s: not a valid extended regular expression", filter);
    a->selected = calloc(a->run.n_cases + 1, sizeof *a->selected);
    if (!a->selected) return say(1, "out of memory");
    for (size_t i = 0; i < a->run.n_cases; i++) {
        bench_case *c = &a->run.cases[i];
        if (!(a->selected[i] = bench_filter_match(filter, c->name))) continue;
        if (ax_gb_register(c->name, bench_case_body, c, real) != 0) return say(1, "%s: could not register", c->name);
        n++;
    }
    if (a->nets) n += bench_networks_register(a->nets, filter, true);
    if (n == 0) return say(1, "--benchmark_filter=%s matches no benchmark of suite %s", filter, a->o.suite);
    ax_gb_set_filter(".");
    return 0;
}

/* ---- context ------------------------------------------------------------ */
static void ctx_int(const char *k, long v)
{
    char b[32];
    snprintf(b, sizeof b, "%ld", v);
    ax_gb_add_context(k, b);
}

static void add_context(app *a)
{
    const bench_machine *m = &a->machine;
    char buf[1024], key[256];
    ax_gb_add_context("autoapprox_version", AX_VERSION);
    ax_gb_add_context("git_revision", AX_GIT_REVISION);
    ax_gb_add_context("isa", ax_isa_name(a->o.isa));
    ax_gb_add_context("isa_requested", a->o.isa_arg);
    ax_gb_add_context("suite", a->o.suite);
    ctx_int("threads", a->run.threads);
    ctx_int("batch", a->n_shapes ? AX_BENCH_BATCH : (long)a->o.batch);
    if (a->nets) bench_networks_context(a->nets);
    ax_gb_add_context("time", a->run.threads > 1 ? "real (wall clock)" : "cpu");
    ax_gb_add_context("machine_id", m->id);
    ax_gb_add_context("cpu_model", m->model);
    ax_gb_add_context("cpu_vendor", m->vendor);
    ax_gb_add_context("cpu_family_model_stepping", m->fms);
    ctx_int("packages", m->packages);
    ctx_int("physical_cores", m->cores);
    ctx_int("hardware_threads", m->pus);
    ctx_int("numa_nodes", m->numa);
    ax_gb_add_context("hwloc_caches", m->caches); /* "caches" is Google Benchmark's */
    ax_gb_add_context("isa_features", m->features);
    snprintf(buf, sizeof buf, "%s (%s)", AX_C_COMPILER, __VERSION__);
    ax_gb_add_context("compiler", buf);
    ax_gb_add_context("compiler_flags", AX_BENCH_CFLAGS);
    ax_gb_add_context("clock_source", bench_clock_source());
    snprintf(buf, sizeof buf, "%.0f", bench_core_hz() / 1e6);
    ax_gb_add_context("core_mhz_measured", buf);
    ax_gb_add_context("naive", "acc += T[a*256+w], A M x K and W N x K row-major, OpenMP over rows");
    if (bench_onednn_available()) {
        bench_onednn_version(buf, sizeof buf);
        ax_gb_add_context("onednn_version", buf);
        ax_gb_add_context("onednn_isa", bench_onednn_isa());
        ax_gb_add_context("onednn", "dnnl_gemm_u8s8s32, row-major, u8 activations x s8 weights");
    }
    for (int i = 0; i < a->n_mults; i++) {
        char hex[65];
        ax_mult_table_sha256(a->mults[i].m, hex);
        snprintf(key, sizeof key, "mult.%s.sha256", a->mults[i].name);
        ax_gb_add_context(key, hex);
        snprintf(key, sizeof key, "mult.%s.provenance", a->mults[i].name);
        ax_gb_add_context(key, a->mults[i].m->provenance);
        for (int p = 0; p < N_PATHS; p++) {
            if (!a->plans[i][p]) continue;
            snprintf(key, sizeof key, "kernel.%s.%s.%s", ax_path_name(ax_gemm_plan_path(a->plans[i][p])),
                     ax_isa_name(ax_gemm_plan_isa(a->plans[i][p])), a->mults[i].name);
            ax_gb_add_context(key, ax_gemm_plan_kernel_name(a->plans[i][p]));
        }
    }
}

/* ---- output files ------------------------------------------------------- */
static int mkdirs(char *path) /* every folder of path; path is restored */
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            int rc = mkdir(path, 0777);
            *p = '/';
            if (rc != 0 && errno != EEXIST) return -1;
        }
    return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

static int plan_outputs(app *a)
{
    if (a->o.save) {
        const char *dir = getenv("AX_RESULTS_DIR");
        if (!dir || !*dir) dir = AX_BENCH_RESULTS_DIR;
        char date[16], folder[3072];
        time_t t = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t));
        snprintf(folder, sizeof folder, "%s/%s", dir, a->machine.id);
        if (mkdirs(folder) != 0) return say(1, "--save: cannot create %s: %s", folder, strerror(errno));
        snprintf(a->save_path, sizeof a->save_path, "%s/%s-%s-%s.json", folder, date, a->o.suite,
                 ax_isa_name(a->o.isa));
    }
    const char *final = a->o.json ? a->o.json : a->o.save ? a->save_path : NULL;
    if (!final) return 0;
    if (snprintf(a->tmp_out, sizeof a->tmp_out, "%s.tmp.%ld", final, (long)getpid()) >= (int)sizeof a->tmp_out)
        return say(2, "%s: path too long", final);
    FILE *probe = fopen(a->tmp_out, "wb"); /* fail here, in one line, rather than in Google Benchmark */
    if (!probe) return say(1, "%s: cannot write: %s", final, strerror(errno));
    fclose(probe);
    snprintf(a->out_arg, sizeof a->out_arg, "--benchmark_out=%s", a->tmp_out);
    a->o.gb_argv[a->o.gb_argc++] = a->out_arg;
    a->o.gb_argv[a->o.gb_argc++] = "--benchmark_out_format=json";
    a->o.out = a->tmp_out;
    a->o.out_format = "json";
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", to, (long)getpid());
    FILE *in = fopen(from, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    if (rc == 0 && rename(tmp, to) != 0) rc = -1;
    if (rc != 0) unlink(tmp);
    return rc;
}

static int finish_outputs(app *a, bool ok)
{
    if (!a->tmp_out[0]) return 0;
    struct stat st;
    if (!ok || stat(a->tmp_out, &st) != 0 || st.st_size == 0) {
        unlink(a->tmp_out);
        return ok ? say(1, "no JSON was written (nothing ran)") : 1;
    }
    if (a->o.json && a->o.save && copy_file(a->tmp_out, a->save_path) != 0)
        return say(1, "--save: cannot write %s: %s", a->save_path, strerror(errno));
    const char *final = a->o.json ? a->o.json : a->save_path;
    if (rename(a->tmp_out, final) != 0) {
        int e = errno;
        unlink(a->tmp_out);
        return say(1, "%s: cannot write: %s", final, strerror(e));
    }
    if (a->o.save) fprintf(stderr, "bench-approx: saved %s\n", a->save_path);
    return 0;
}

/* ---- run ---------------------------------------------------------------- */
typedef struct run_state {
    bench_summary *summary;
    int errors;
    size_t done, total;
    bool progress; /* a terminal that sees no per-run lines */
} run_state;

static void on_result(const ax_gb_result *r, void *ctx)
{
    run_state *rs = ctx;
    if (r->error) rs->errors++;
    bench_summary_add(rs->summary, r);
    if (rs->progress && !r->aggregate[0]) {
        rs->done++;
        fprintf(stderr, "\r[%zu/%zu] %-100.100s%s", rs->done, rs->total, r->name, rs->done == rs->total ? "\n" : "");
    }
}

static int setup(app *a, int argc, char **argv)
{
    char msg[512];
    int rc = bench_options_parse(argc, argv, &a->o, msg, sizeof msg);
    if (rc) return say(rc, "%s", msg);
    if (a->o.help) {
        bench_usage(stdout);
        fputs("\nGoogle Benchmark's flags (passed through):\n", stdout);
        fflush(stdout);
        ax_gb_print_help();
        return -1;
    }
    bench_machine_describe(&a->machine);
    const char *env = getenv("AX_ISA"); /* auto: $AX_ISA, as the kernels read it */
    if (a->o.isa == AX_ISA_AUTO && env && *env) {
        if (ax_isa_parse(env, &a->o.isa) != 0) return say(2, "AX_ISA=%s: unknown ISA", env);
        a->o.isa_arg = env;
    }
    if (a->o.isa == AX_ISA_AUTO) a->o.isa = ax_cpu_best_isa();
    else if (!ax_cpu_supports(a->o.isa))
        return say(1, "--isa %s: this CPU (%s) cannot run it; it can run %s", a->o.isa_arg, a->machine.model,
                   ax_isa_name(ax_cpu_best_isa()));
    if (bench_onednn_available() && bench_onednn_limit(a->o.isa) != 0)
        return say(1, "oneDNN refused to stay within --isa %s (is DNNL_MAX_CPU_ISA set?)", ax_isa_name(a->o.isa));
    a->run.threads = a->o.threads ? a->o.threads : a->machine.cores;
    if ((rc = load_mults(a)) != 0 || (rc = plan_outputs(a)) != 0) return rc;
    if (ax_gb_init(&a->o.gb_argc, a->o.gb_argv) != 0)
        return say(2, "%s: Google Benchmark does not accept this flag (see --help)", a->o.gb_argv[1]);
    choose_shapes(a);
    if (a->n_shapes == 0 && !a->want_nets) return say(1, "suite %s: nothing to run", a->o.suite);
    if ((rc = make_plans(a)) != 0 || (rc = make_cases(a)) != 0 || (rc = make_networks(a)) != 0 ||
        (rc = register_cases(a)) != 0)
        return rc;
    return 0;
}

static void teardown(app *a)
{
    for (size_t i = 0; i < a->run.n_cases; i++) bench_case_release(&a->run.cases[i]);
    bench_operands_free(&a->run.ops);
    bench_networks_free(a->nets);
    for (int i = 0; i < a->n_mults; i++) {
        for (int p = 0; p < N_PATHS; p++)
            if (a->plans[i][p]) ax_gemm_plan_free(a->plans[i][p]);
        ax_mult_free(a->mults[i].m);
    }
    ax_mult_free(a->onednn_mult.m);
    free(a->run.cases);
    free(a->selected);
    bench_options_free(&a->o);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "compare") == 0) return bench_compare(argc - 2, argv + 2);
    app *a = calloc(1, sizeof *a);
    if (!a) return say(1, "out of memory");
    int rc = setup(a, argc, argv);
    if (rc == 0 && a->o.list_only) { /* --benchmark_list_tests: the selected names */
        for (size_t i = 0; i < a->run.n_cases; i++)
            if (a->selected[i]) printf("%s\n", a->run.cases[i].name);
        for (size_t i = 0; i < bench_networks_count(a->nets); i++)
            if (bench_filter_match(a->filter, bench_networks_name(a->nets, i)))
                printf("%s\n", bench_networks_name(a->nets, i));
        rc = -1;
    }
    if (rc == 0 && a->o.verify && a->run.n_cases && bench_verify(&a->run, a->selected, stderr) != 0) rc = 1;
    if (rc == 0 && a->o.verify && a->nets && bench_networks_verify(a->nets, a->filter, stderr) != 0) rc = 1;
    if (rc == 0) {
        add_context(a);
        run_state rs = {bench_summary_new(), 0, 0, 0, false};
        for (size_t i = 0; i < a->run.n_cases; i++)
            if (a->selected[i]) rs.total++, bench_summary_expect(rs.summary, a->run.cases[i].name);
        for (size_t i = 0; i < bench_networks_count(a->nets); i++)
            if (bench_filter_match(a->filter, bench_networks_name(a->nets, i)))
                rs.total++, bench_summary_expect(rs.summary, bench_networks_name(a->nets, i));
        rs.progress = isatty(2) && strcmp(a->o.format, "console") != 0;
        size_t ran = ax_gb_run(a->o.format, a->o.out ? (a->o.out_format ? a->o.out_format : "json") : NULL,
                               on_result, &rs);
        bench_summary_print(rs.summary, strcmp(a->o.format, "console") == 0 ? stdout : stderr);
        bench_summary_free(rs.summary);
        if (ran == 0) rc = say(1, "no benchmark ran (does --benchmark_filter match any name?)");
        else if (rs.errors) rc = say(1, "%d benchmark(s) failed (see their error_message)", rs.errors);
        int frc = finish_outputs(a, rc == 0);
        if (rc == 0) rc = frc;
    } else if (a->tmp_out[0]) {
        unlink(a->tmp_out);
    }
    if (rc < 0) rc = 0; /* --help, --benchmark_list_tests */
    ax_gb_shutdown();
    teardown(a);
    free(a);
    return rc;
}
