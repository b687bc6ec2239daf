/* verify.c - --verify: before anything is timed, every case the filter
 * selects runs once on its shape and must equal ax_gemm_reference (convs:
 * ax_conv2d_reference) on the same operands (oneDNN against the exact
 * u8 x s8 table). */
#include "bench.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Google Benchmark's filter: an extended regex searched in the name; a
 * leading '-' negates; "", "." and "all" select everything. */
bool bench_filter_match(const char *filter, const char *name)
{
    if (!filter || !*filter || strcmp(filter, ".") == 0 || strcmp(filter, "all") == 0) return true;
    bool negate = filter[0] == '-';
    regex_t re;
    if (regcomp(&re, filter + negate, REG_EXTENDED | REG_NOSUB) != 0) return false;
    bool hit = regexec(&re, name, 0, NULL, 0) == 0;
    regfree(&re);
    return hit != negate;
}

bool bench_filter_valid(const char *filter)
{
    regex_t re;
    if (!filter || !*filter) return true;
    if (regcomp(&re, filter + (filter[0] == '-'), REG_EXTENDED | REG_NOSUB) != 0) return false;
    regfree(&re);
    return true;
}

static void first_difference(const bench_case *c, const int32_t *got, const int32_t *want, char *msg, size_t cap)
{
    const bench_shape *s = c->shape;
    size_t n = s->c_len, i = 0;
    while (i < n && got[i] == want[i]) i++;
    if (s->conv) {
        snprintf(msg, cap, "%s differs from ax_conv2d_reference at output pixel %zu (NHWC) channel %zu: got %d, want %d",
                 c->name, i / s->cs.out_c, i % s->cs.out_c, got[i], want[i]);
        return;
    }
    size_t g = i / (s->M * s->N), r = i % (s->M * s->N);
    snprintf(msg, cap, "%s differs from ax_gemm_reference (M=%zu N=%zu K=%zu) at group %zu row %zu col %zu: got %d, want %d",
             c->name, s->M, s->N, s->K, g, r / s->N, r % s->N, got[i], want[i]);
}

/* Returns the number of cases that failed; messages go to err_out. */
int bench_verify(bench_run *run, const bool *selected, FILE *err_out)
{
    int failed = 0, checked = 0;
    int32_t *ref = NULL, *got = NULL;
    size_t cap = 0;
    const bench_shape *ref_shape = NULL;
    const bench_mult *ref_mult = NULL;
    bool tty = isatty(fileno(err_out));
    size_t total = 0, done = 0;
    for (size_t i = 0; i < run->n_cases; i++) total += selected[i];
    for (size_t i = 0; i < run->n_cases; i++) {
        bench_case *c = &run->cases[i];
        if (!selected[i]) continue;
        if (tty) fprintf(err_out, "\r[verify %zu/%zu] %-100.100s\r", ++done, total, c->name);
        const bench_shape *s = c->shape;
        size_t n = s->c_len;
        ax_error err = {{0}};
        if (bench_operands_use(run, s, &err) != 0) {
            fprintf(err_out, "bench-approx: --verify: %s\n", err.msg);
            failed++;
            continue;
        }
        if (n > cap) {
            free(ref), free(got);
            ref = malloc(n * sizeof *ref);
            got = aligned_alloc(64, (n * sizeof *got + 63) / 64 * 64); /* as bench_operands_use's */
            cap = n;
            ref_shape = NULL;
            if (!ref || !got) {
                fprintf(err_out, "bench-approx: --verify: %s: out of memory\n", c->name);
                failed++, cap = 0;
                continue;
            }
        }
        memset(got, 0x5a, n * sizeof *got);
        char msg[AX_ERROR_MAX + AX_BENCH_NAME_MAX];
        if (bench_case_compute(c, got, &err) != 0) {
            fprintf(err_out, "bench-approx: --verify: %s: %s\n", c->name, err.msg);
            failed++;
            continue;
        }
        const uint8_t *A = bench_case_activations(c);
        if ((ref_shape != s || ref_mult != c->mult) && s->conv) {
            bench_conv_reference(c->mult->m->table, &s->cs, A, run->ops.B, ref, run->threads);
            ref_shape = s, ref_mult = c->mult;
        }
        if (ref_shape != s || ref_mult != c->mult) { /* cases come grouped by shape and multiplier */
            for (size_t g = 0; g < s->G; g++)
                bench_reference(c->mult->m->table, s->M, s->N, s->K, A + g * s->M * s->K, s->K,
                                run->ops.B + g * s->K * s->N, s->N, ref + g * s->M * s->N, s->N, run->threads);
            ref_shape = s, ref_mult = c->mult;
        }
        if (memcmp(got, ref, n * sizeof *got) != 0) {
            first_difference(c, got, ref, msg, sizeof msg);
            fprintf(err_out, "bench-approx: --verify: %s\n", msg);
            failed++;
        }
        checked++;
    }
    free(ref);
    free(got);
    if (tty) fprintf(err_out, "%-120s\r", "");
    if (!failed) fprintf(err_out, "bench-approx: --verify: %d benchmarked path/shape pairs equal ax_gemm_reference / ax_conv2d_reference\n", checked);
    return failed;
}
