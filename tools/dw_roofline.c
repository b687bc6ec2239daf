/* dw_roofline.c - the memory roofline of a depthwise layer on one core: the
 * time to read its u8 NHWC input once and write its int32 NHWC output once
 * (64-byte loads and stores, interleaved output row pair by row pair in the
 * layer's proportions, the same buffers every repetition as bench-approx
 * reuses them; best of reps), printed as the GMAC/s a 3x3 kernel would reach
 * at that speed: the ceiling for lowrank_dwconv_16c4__avx512vnni, whose
 * input and output cross memory once. Store orders:
 *   st    in memory order, regular stores
 *   nt    in memory order, non-temporal stores
 *   block one 16-channel block along both rows of a pair, then the next
 *         (lines C*4 bytes apart: the kernel's order before 2026-12-04)
 *   px4   4 pixels of every block and both rows, then the next 4 (the
 *         kernel's order now); px4nt: the same, non-temporal
 *
 *   build/tools/dw-roofline [reps]                      MobileNetV2 layers, batch 8
 *   build/tools/dw-roofline reps H W C stride batch     one layer (3x3, pad 1)
 */
#include <errno.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer {
    const char *name;
    size_t h, w, c, stride;
} layer;

enum { ST, NT, BLOCK, PX4, PX4NT, N_MODES };
static const char *const mode_name[N_MODES] = {"st", "nt", "block", "px4", "px4nt"};

static volatile int32_t sink; /* keeps the loads */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline void store(int32_t *y, __m512i v, int nt)
{
    if (nt) _mm512_stream_si512((void *)y, v);
    else _mm512_store_si512(y, v);
}

/* One pass: per pair of output rows, the input rows they add (2 x stride,
 * 64 bytes at a time, folded into acc so the loads stay), then their output
 * (2 x ow pixels of C int32) in the mode's order. */
static __attribute__((noinline)) __m512i pass(const uint8_t *X, int32_t *Y, size_t n_in, size_t in_row, size_t n_out,
                                              size_t ow, size_t C, size_t stride, int mode)
{
    __m512i acc = _mm512_setzero_si512();
    size_t ir = 0, ld = ow * C;
    int nt = mode == NT || mode == PX4NT;
    for (size_t r = 0; r < n_out; r += 2) {
        size_t rows = n_out - r < 2 ? n_out - r : 2;
        for (size_t k = 0; k < rows * stride && ir < n_in; k++, ir++)
            for (size_t i = 0; i < in_row; i += 64) acc = _mm512_add_epi32(acc, _mm512_load_si512(X + ir * in_row + i));
        int32_t *y = Y + r * ld;
        if (mode == ST || mode == NT)
            for (size_t i = 0; i < rows * ld; i += 16) store(y + i, acc, nt);
        else if (mode == BLOCK)
            for (size_t c = 0; c < C; c += 16)
                for (size_t q = 0; q < rows; q++)
                    for (size_t x = 0; x < ow; x++) store(y + q * ld + x * C + c, acc, 0);
        else
            for (size_t x0 = 0; x0 < ow; x0 += 4)
                for (size_t c = 0; c < C; c += 16)
                    for (size_t q = 0; q < rows; q++)
                        for (size_t x = x0; x < x0 + 4 && x < ow; x++) store(y + q * ld + x * C + c, acc, nt);
    }
    if (nt) _mm_sfence();
    return acc;
}

static int run(const layer *l, size_t batch, int reps)
{
    size_t oh = (l->h - 1) / l->stride + 1, ow = (l->w - 1) / l->stride + 1, C = (l->c + 15) / 16 * 16;
    size_t in_row = (l->w * l->c + 63) / 64 * 64, n_in = batch * l->h, n_out = batch * oh;
    uint8_t *X = aligned_alloc(64, n_in * in_row);
    int32_t *Y = aligned_alloc(64, n_out * ow * C * 4);
    if (!X || !Y) return free(X), free(Y), fprintf(stderr, "dw-roofline: out of memory for %s\n", l->name), 1;
    memset(X, 1, n_in * in_row);
    memset(Y, 0, n_out * ow * C * 4);
    double macs = (double)batch * oh * ow * l->c * 9;
    printf("%-12s %3zux%-3zux%-4zu s%zu in %5.2f MB out %5.2f MB  GMAC/s:", l->name, l->h, l->w, l->c, l->stride,
           n_in * in_row / 1e6, n_out * ow * C * 4 / 1e6);
    for (int mode = 0; mode < N_MODES; mode++) {
        double best = 1e30;
        for (int i = 0; i < reps; i++) {
            double t0 = now();
            __m512i a = pass(X, Y, n_in, in_row, n_out, ow, C, l->stride, mode);
            double t = now() - t0;
            sink += _mm512_reduce_add_epi32(a);
            if (t < best) best = t;
        }
        printf(" %s %5.1f", mode_name[mode], macs / best / 1e9);
    }
    printf("\n");
    free(X), free(Y);
    return 0;
}

/* a whole decimal number in [1, max], else a line naming the argument */
static int parse(const char *arg, const char *what, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < 1 || v > max)
        return fprintf(stderr, "dw-roofline: %s '%s' is not a whole number in 1..%zu\n", what, arg, max), -1;
    *out = (size_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const layer mbv2[] = {
        {"features.2", 112, 112, 96, 2}, {"features.3", 56, 56, 144, 1},  {"features.4", 56, 56, 144, 2},
        {"features.5", 28, 28, 192, 1},  {"features.7", 28, 28, 192, 2},  {"features.8", 14, 14, 384, 1},
        {"features.12", 14, 14, 576, 1}, {"features.14", 14, 14, 576, 2}, {"features.15", 7, 7, 960, 1},
    };
    if (argc != 1 && argc != 2 && argc != 7)
        return fprintf(stderr, "usage: %s [reps [H W C stride batch]]\n", argv[0]), 2;
    if (!__builtin_cpu_supports("avx512f")) return fprintf(stderr, "dw-roofline: this CPU has no AVX-512\n"), 1;
    size_t reps = 30;
    if (argc > 1 && parse(argv[1], "reps", 1000000, &reps)) return 2;
    if (argc == 7) {
        layer l = {"custom", 0, 0, 0, 0};
        size_t batch;
        /* bounds keep every buffer size within size_t */
        if (parse(argv[2], "H", 65536, &l.h) || parse(argv[3], "W", 65536, &l.w) || parse(argv[4], "C", 65536, &l.c) ||
            parse(argv[5], "stride", 16, &l.stride) || parse(argv[6], "batch", 4096, &batch))
            return 2;
        return run(&l, batch, (int)reps);
    }
    for (size_t i = 0; i < sizeof mbv2 / sizeof *mbv2; i++)
        if (run(&mbv2[i], 8, (int)reps)) return 1;
    return 0;
}
