/* The SIMD128 GEMM (src/kernels/gemm_simd128.c) against the plain C
 * reference, in WebAssembly: every shape class the blocked algorithm has
 * (full and edge tiles, one row, k over one block, transposed operands,
 * rows at their own offsets, beta 0 and 1).  With k within one block its
 * sums are the reference's, in the same order: the same bits; beyond, the
 * blocks' partial sums are added (and with beta 1, to C after its sum),
 * within a rounding bound: |difference| <= 1e-6 (k + 1), the terms being
 * products of numbers in [-1, 1].  Built and run by
 * tests/web/run.sh; ends with "N passed, N failed". */
#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned next = 1;

static float draw(void)
{
    next = next * 1103515245u + 12345u;
    return (float)((next >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* One shape: the worst difference over its bound, or -1 if the bits must
 * match and do not. */
static double one(int ta, int tb, int m, int n, int k, int rows_at, float beta)
{
    int lda = ta ? m + 3 : k + 2, ldb = tb ? k + 1 : n + 5;
    size_t asz = (size_t)(ta ? k : m) * lda, bsz = (size_t)(tb ? n : k) * ldb + 8 * ldb;
    float *a = malloc(sizeof(float) * asz), *b = malloc(sizeof(float) * bsz);
    float *c0 = malloc(sizeof(float) * m * (n + 1)), *c1 = malloc(sizeof(float) * m * (n + 1));
    size_t *brow = malloc(sizeof(size_t) * (tb ? n : k));
    for (size_t i = 0; i < asz; i++)
        a[i] = draw();
    for (size_t i = 0; i < bsz; i++)
        b[i] = draw();
    for (int i = 0; i < m * (n + 1); i++)
        c0[i] = c1[i] = draw();
    for (int r = 0; r < (tb ? n : k); r++) /* rows shifted as a convolution's are */
        brow[r] = (size_t)r * ldb + (size_t)(r % 3);
    const size_t *rows = rows_at ? brow : NULL;
    gemm_rows_ref(ta, tb, m, n, k, a, lda, b, ldb, rows, beta, c0, n + 1);
    gemm_rows_simd128(ta, tb, m, n, k, a, lda, b, ldb, rows, beta, c1, n + 1);
    double worst = 0;
    int same = 1;
    for (int i = 0; i < m * (n + 1); i++) {
        double d = fabs((double)c0[i] - c1[i]) / (1e-6 * (k + 1));
        worst = d > worst ? d : worst;
        same &= c0[i] == c1[i];
    }
    free(a), free(b), free(c0), free(c1), free(brow);
    return k <= 256 && beta == 0.0f && !same ? -1 : worst;
}

int main(void)
{
    const int ms[] = {1, 5, 6, 7, 13, 130}, ns[] = {1, 3, 4, 8, 9, 17, 33}, ks[] = {1, 7, 25, 256, 300};
    int passed = 0, failed = 0;
    for (int t = 0; t < 4; t++)
        for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                    for (int rows_at = 0; rows_at < 2; rows_at++)
                        for (int beta = 0; beta < 2; beta++) {
                            int ta = t & 1, tb = t >> 1;
                            double w = one(ta, tb, ms[mi], ns[ni], ks[ki], rows_at, (float)beta);
                            if (w >= 0 && w <= 1) {
                                passed++;
                                continue;
                            }
                            failed++;
                            printf("FAIL ta %d tb %d m %d n %d k %d rows %d beta %d: %s %.3g\n",
                                   ta, tb, ms[mi], ns[ni], ks[ki], rows_at, beta,
                                   w < 0 ? "other bits than the reference" : "off by", w);
                        }
    printf("simd128 GEMM against the reference: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
