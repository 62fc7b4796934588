/* C = A B^T as dot products of contiguous rows, for the shapes a blocked
 * GEMM handles badly: one image through a dense layer (a matrix-vector
 * product) and weight gradients with few columns (3x3 filters over one
 * channel: 9).  Eight running sums, added in a fixed order, so the result
 * does not depend on which thread computes which element.  This is the
 * portable path; the SIMD ones are in gemm_block.h. */
#include "kernels.h"

float sum_floats(const float *a, int k)
{
    float acc[8] = {0};
    int p = 0;
    for (; p + 8 <= k; p += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += a[p + j];
    float tail = 0.0f;
    for (; p < k; p++)
        tail += a[p];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) +
           tail;
}

static float dot(const float *a, const float *b, int k)
{
    float acc[8] = {0};
    int p = 0;
    for (; p + 8 <= k; p += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += a[p + j] * b[p + j];
    float tail = 0.0f;
    for (; p < k; p++)
        tail += a[p] * b[p];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) +
           tail;
}

void dot_rows_ref(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                  const size_t *brow, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float d = dot(a + (size_t)i * lda, b + (brow ? brow[j] : (size_t)j * ldb), k);
            c[(size_t)i * ldc + j] = beta == 0.0f ? d : c[(size_t)i * ldc + j] + d;
        }
}
