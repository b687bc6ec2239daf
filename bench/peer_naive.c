/* peer_naive.c - the `naive` peer: the plain lookup loop existing CPU
 * emulators run (AdaPT-style), acc += T[a*256 + w] over row-major operands,
 * one OpenMP thread per core over output rows; for convolutions the same
 * loop directly over NHWC activations. Compiled with the library's flags;
 * it is the baseline every ratio starts from. */
#include "bench.h"

void bench_naive_gemm(const int32_t *table, size_t M, size_t N, size_t K, const uint8_t *A,
                      const uint8_t *Wt, int32_t *C, int threads)
{
    const long rows = (long)M;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (long m = 0; m < rows; m++) {
        const uint8_t *a = A + (size_t)m * K;
        for (size_t n = 0; n < N; n++) {
            const uint8_t *w = Wt + n * K;
            uint32_t acc = 0; /* wraps modulo 2^32 like the reference */
            for (size_t k = 0; k < K; k++) acc += (uint32_t)table[(size_t)a[k] * 256 + w[k]];
            C[(size_t)m * N + n] = (int32_t)acc;
        }
    }
}

void bench_naive_conv(const int32_t *table, const ax_conv2d_shape *s, const uint8_t *X, const uint8_t *Wt,
                      int32_t *Y, int threads)
{
    const size_t kh = s->kernel_h, kw = s->kernel_w, cg = s->in_c / s->groups, og = s->out_c / s->groups;
    const size_t oh = (s->in_h + s->pad_top + s->pad_bottom - s->dilation_h * (kh - 1) - 1) / s->stride_h + 1;
    const size_t ow = (s->in_w + s->pad_left + s->pad_right - s->dilation_w * (kw - 1) - 1) / s->stride_w + 1;
    const long rows = (long)(s->batch * oh);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (long r = 0; r < rows; r++) {
        size_t b = (size_t)r / oh, oy = (size_t)r % oh;
        for (size_t ox = 0; ox < ow; ox++)
            for (size_t o = 0; o < s->out_c; o++) {
                const uint8_t *w = Wt + o * kh * kw * cg;
                size_t c0 = o / og * cg;
                uint32_t acc = 0;
                for (size_t ky = 0; ky < kh; ky++)
                    for (size_t kx = 0; kx < kw; kx++, w += cg) {
                        size_t y = oy * s->stride_h + ky * s->dilation_h, x = ox * s->stride_w + kx * s->dilation_w;
                        bool in = y >= s->pad_top && x >= s->pad_left && y - s->pad_top < s->in_h &&
                                  x - s->pad_left < s->in_w;
                        const uint8_t *a = in ? X + ((b * s->in_h + y - s->pad_top) * s->in_w + x - s->pad_left) *
                                                         s->in_c + c0
                                              : NULL;
                        for (size_t i = 0; i < cg; i++)
                            acc += (uint32_t)table[(size_t)(a ? a[i] : s->pad_byte) * 256 + w[i]];
                    }
                Y[((size_t)r * ow + ox) * s->out_c + o] = (int32_t)acc;
            }
    }
}
