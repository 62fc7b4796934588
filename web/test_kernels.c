/* The SIMD128 kernels against the plain C reference, in WebAssembly.  The
 * 2x2 pooling rows and their adjoint (pool2x2_simd128.c): the reference's
 * bits for every length around the vector width, with ties, zeros,
 * negatives and NaN.  The GEMM (gemm_simd128.c): every shape class the blocked algorithm has
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
#include <string.h>

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

/* Pooling rows n outputs long, with and without the fused ReLU: 1 if the
 * SIMD128 pair gives the reference's outputs, positions and gradients bit
 * for bit and writes nothing past them. */
static int pool_same(int n, int relu)
{
    int w = 2 * n + (n & 1); /* odd widths too */
    float r0[96], r1[96], out[2][48], dy[48], y[48], g[2][2][97];
    int at[2][48];
    for (int i = 0; i < w; i++) { /* few distinct values: many ties */
        r0[i] = (float)(int)(draw() * 2.5f), r1[i] = (float)(int)(draw() * 2.5f);
        if (draw() > 0.95f)
            r1[i] = NAN;
    }
    for (int i = 0; i < n; i++)
        dy[i] = draw(), y[i] = (float)(int)(draw() * 1.5f);
    float bias = relu ? 0.5f : -0.0f;
    for (int i = 0; i <= 2 * n; i++)
        g[1][0][i] = g[1][1][i] = 42.0f;
    pool2x2_rows_ref(r0, r1, n, bias, relu, w, 7, out[0], at[0]);
    unpool2x2_rows_ref(dy, relu ? y : NULL, at[0], n, w, 7, g[0][0], g[0][1]);
    pool2x2_rows_simd128(r0, r1, n, bias, relu, w, 7, out[1], at[1]);
    unpool2x2_rows_simd128(dy, relu ? y : NULL, at[0], n, w, 7, g[1][0], g[1][1]);
    return memcmp(out[0], out[1], sizeof(float) * n) == 0 &&
           memcmp(at[0], at[1], sizeof(int) * n) == 0 &&
           memcmp(g[0][0], g[1][0], sizeof(float) * 2 * n) == 0 &&
           memcmp(g[0][1], g[1][1], sizeof(float) * 2 * n) == 0 && g[1][0][2 * n] == 42.0f &&
           g[1][1][2 * n] == 42.0f;
}

int main(void)
{
    int pool_passed = 0, pool_failed = 0;
    for (int n = 1; n <= 40; n++)
        for (int relu = 0; relu < 2; relu++) {
            if (pool_same(n, relu)) {
                pool_passed++;
                continue;
            }
            pool_failed++;
            printf("FAIL pooling rows n %d relu %d: other bits than the reference\n", n, relu);
        }
    printf("simd128 pooling rows against the reference: %d passed, %d failed\n", pool_passed,
           pool_failed);
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
    return failed != 0 || pool_failed != 0;
}
