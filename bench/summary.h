/* summary.h - collects finished runs and prints the end-of-run summary
 * (ratios to the naive and oneDNN peers, geometric means). */
#ifndef AX_BENCH_SUMMARY_H
#define AX_BENCH_SUMMARY_H
#include "bench.h"
#include <stdio.h>

typedef struct bench_summary bench_summary;
bench_summary *bench_summary_new(void);
void bench_summary_free(bench_summary *s);
/* name will run: the summary lists benchmarks in the order they were
 * expected, not finished (random with interleaved repetitions) */
void bench_summary_expect(bench_summary *s, const char *name);
void bench_summary_add(bench_summary *s, const ax_gb_result *r);
void bench_summary_print(const bench_summary *s, FILE *f);
#endif
