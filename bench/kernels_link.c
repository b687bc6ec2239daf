/* kernels_link.c - the scalar references --verify compares every path with,
 * threaded over row blocks or images so verification stays quick. */
#include "bench.h"

#include <string.h>

/* ax_conv2d_reference, one image per thread. */
void bench_conv_reference(const int32_t *table, const ax_conv2d_shape *s, const uint8_t *X, const uint8_t *W,
                          int32_t *Y, int threads)
{
    size_t oh, ow;
    ax_error err;
    if (ax_conv2d_output_size(s, &oh, &ow, &err) != 0) return;
    const size_t x_img = s->in_h * s->in_w * s->in_c, y_img = oh * ow * s->out_c;
    const long batch = (long)s->batch;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (long b = 0; b < batch; b++) {
        ax_conv2d_shape one = *s;
        one.batch = 1;
        ax_conv2d_reference(table, &one, X + (size_t)b * x_img, W, Y + (size_t)b * y_img, false);
    }
}

void bench_reference(const int32_t *table, size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                     const uint8_t *B, size_t ldb, int32_t *C, size_t ldc, int threads)
{
    const size_t block = 64;
    const long nb = (long)((M + block - 1) / block);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (long b = 0; b < nb; b++) {
        size_t m0 = (size_t)b * block, mb = M - m0 < block ? M - m0 : block;
        ax_gemm_reference(table, mb, N, K, A + m0 * lda, lda, B, ldb, C + m0 * ldc, ldc, false);
    }
}
