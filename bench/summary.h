/* summary.h - collects finished runs and prints the end-of-run summary
 * (ratios to the naive and oneDNN peers, geometric means). */
#ifndef AX_BENCH_SUMMARY_H
#define AX_BENCH_SUMMARY_H
#include "bench.h"
#include <stdio.h>

typedef struct bench_summary bench_summary;
bench_summary *bench_summary_new(void);
void bench_summary_free(bench_summary *s);
void bench_summary_add(bench_summary *s, const ax_gb_result *r);
void bench_summary_print(const bench_summary *s, FILE *f);
#endif
