/* options.h - the command line of bench-approx: our options, parsed and
 * checked; Google Benchmark's --benchmark_* flags collected to pass on. */
#ifndef AX_BENCH_OPTIONS_H
#define AX_BENCH_OPTIONS_H
#include "autoapprox/gemm.h"
#include <stdbool.h>
#include <stdio.h>

#define BENCH_MAX_MULTS 32
#define BENCH_MAX_ARGS 64

typedef struct bench_options {
    const char *isa_arg;       /* as given; "auto" by default */
    ax_isa isa;                /* resolved: never AUTO */
    int threads;               /* 0: one per core */
    const char *suite;
    char *mults[BENCH_MAX_MULTS];
    int n_mults;
    bool verify, save, help, list_only;
    const char *json;
    const char *model;         /* --model M.onnx: the network suite runs it */
    size_t batch;              /* --batch: network suite (default 32) */
    size_t input_size;         /* --input-size: built-in networks (default 224) */
    /* argv for Google Benchmark: [0] = program, then the --benchmark_* flags
     * (and the interleaving flag we add; main.c adds two for --json) */
    char *gb_argv[BENCH_MAX_ARGS + 4];
    int gb_argc;
    const char *format, *out, *out_format; /* seen among those flags */
    int repetitions;           /* --benchmark_repetitions (0: not given) */
    bool interleave_given;     /* --benchmark_enable_random_interleaving given: left as given */
} bench_options;

/* 0 ok; 2 with a one-line message in msg on bad usage. */
int bench_options_parse(int argc, char **argv, bench_options *o, char *msg, size_t cap);
void bench_options_free(bench_options *o);
void bench_usage(FILE *f);
#endif
