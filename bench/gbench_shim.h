/* gbench_shim.h - a C face for Google Benchmark: register benchmarks whose
 * bodies are C functions, report items (MACs) and counters, add context
 * entries, run with Google Benchmark's own flags and get every run back for
 * the summary. The only C++ is gbench_shim.cc. */
#ifndef AX_GBENCH_SHIM_H
#define AX_GBENCH_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_gb_state ax_gb_state; /* one benchmark::State */
typedef void (*ax_gb_fn)(ax_gb_state *st, void *ctx);

/* Counter kinds: a plain value, or a value per second of measured time. */
typedef enum ax_gb_counter_kind { AX_GB_PLAIN = 0, AX_GB_RATE = 1 } ax_gb_counter_kind;

/* Initializes Google Benchmark with the flags left in argv (it removes the
 * ones it knows). Returns the number of arguments it did not recognize. */
int ax_gb_init(int *argc, char **argv);
void ax_gb_print_help(void);        /* Google Benchmark's own flag list */
/* The current --benchmark_filter (copied into buf, "" when unset). */
void ax_gb_filter(char *buf, size_t cap);
void ax_gb_set_filter(const char *filter); /* replaces --benchmark_filter */

/* Registers fn(ctx) under name; real_time: time with the wall clock (for
 * multi-threaded bodies). Returns 0, or -1 when Google Benchmark refused. */
int ax_gb_register(const char *name, ax_gb_fn fn, void *ctx, bool real_time);
void ax_gb_add_context(const char *key, const char *value);

/* Inside a body: the timed loop is `while (ax_gb_keep_running(st)) { ... }`;
 * everything before and after it is untimed. */
bool ax_gb_keep_running(ax_gb_state *st);
int64_t ax_gb_iterations(const ax_gb_state *st);
/* items per iteration: items_per_second = items * iterations / time */
void ax_gb_set_items_per_iteration(ax_gb_state *st, double items);
void ax_gb_set_counter(ax_gb_state *st, const char *name, double value, ax_gb_counter_kind kind);
void ax_gb_set_label(ax_gb_state *st, const char *label);
void ax_gb_skip_with_error(ax_gb_state *st, const char *msg);

/* One finished run, as the reporters saw it. */
typedef struct ax_gb_result {
    const char *name;           /* full benchmark name, aggregates suffixed */
    const char *aggregate;      /* "" for an iteration run, else "mean", ... */
    bool error;
    double items_per_second;    /* 0 when not reported */
    double real_time_ns, cpu_time_ns; /* per iteration */
    int64_t iterations;
} ax_gb_result;
typedef void (*ax_gb_result_fn)(const ax_gb_result *r, void *ctx);

/* Runs every registered benchmark matching --benchmark_filter, shown in
 * `format` ("console", "json" or "csv", as --benchmark_format said) and,
 * when --benchmark_out was given, written there in `file_format` (its
 * --benchmark_out_format; NULL when there is no --benchmark_out). Names
 * stay as registered (no "/real_time" suffix). Calls fn for every run and
 * returns how many benchmarks ran. */
size_t ax_gb_run(const char *format, const char *file_format, ax_gb_result_fn fn, void *ctx);
void ax_gb_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
