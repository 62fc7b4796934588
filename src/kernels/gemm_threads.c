/* A GEMM split across threads: one image's convolution, the only product
 * that a network still splits (a batch is shared by image).  Each thread owns a block of rows (or, when
 * there are too few rows, of columns) of C; since every element's sum runs
 * over k in the same order whoever computes it, the result is the same for
 * any number of threads. */
#include "kernels.h"

#include <stddef.h>

/* Below this many multiply-adds a second thread costs more than it saves
 * (LeNet-5's second conv on one image, 0.34M: 2 threads 22.5 us an image
 * end to end, 1 thread 9.0). */
enum { MIN_WORK_PER_THREAD = 1 << 20 };

void gemm_threads_rows(int ta, int tb, int m, int n, int k, const float *a, int lda,
                       const float *b, int ldb, const size_t *brow, float beta, float *c,
                       int ldc, int threads)
{
    double work = (double)m * n * k;
    if (threads > 1 && work < (double)MIN_WORK_PER_THREAD * threads)
        threads = (int)(work / MIN_WORK_PER_THREAD) > 1 ? (int)(work / MIN_WORK_PER_THREAD) : 1;
    if (threads <= 1) {
        gemm_rows(ta, tb, m, n, k, a, lda, b, ldb, brow, beta, c, ldc);
        return;
    }
    int by_rows = m >= 4 * threads;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; t++) {
        if (by_rows) {
            int r0 = (int)((long)m * t / threads), r1 = (int)((long)m * (t + 1) / threads);
            const float *at = ta ? a + r0 : a + (size_t)r0 * lda;
            gemm_rows(ta, tb, r1 - r0, n, k, at, lda, b, ldb, brow, beta, c + (size_t)r0 * ldc,
                      ldc);
        } else {
            /* column blocks on 16-float boundaries keep the vector loops whole */
            int blocks = (n + 15) / 16;
            int c0 = blocks * t / threads * 16, c1 = blocks * (t + 1) / threads * 16;
            if (c1 > n)
                c1 = n;
            if (c1 <= c0)
                continue;
            /* columns of op(B) are B's columns, or with tb its rows */
            const float *bt = tb && !brow ? b + (size_t)c0 * ldb : tb ? b : b + c0;
            const size_t *rt = tb && brow ? brow + c0 : brow;
            gemm_rows(ta, tb, m, c1 - c0, k, a, lda, bt, ldb, rt, beta, c + c0, ldc);
        }
    }
}

void gemm_threads(int ta, int tb, int m, int n, int k, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc, int threads)
{
    gemm_threads_rows(ta, tb, m, n, k, a, lda, b, ldb, NULL, beta, c, ldc, threads);
}
