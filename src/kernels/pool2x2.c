/* 2x2 max-pooling of a pair of rows, and its adjoint: the plain C reference.
 * A convolution with a fused max-pool stores its output through these (with
 * its bias and ReLU applied on the way), and the pooling layer uses them for
 * its common case, 2x2 windows moved by 2. */
#include "kernels.h"

/* Clones: machines without the AVX-512 path still get the loop vectorised. */
VECTOR_CLONES void pool2x2_rows_ref(const float *r0, const float *r1, int n, float bias,
                                    int relu, int w, int base, float *out, int *at)
{
    for (int x = 0; x < n; x++) {
        float a = r0[2 * x] + bias, b = r0[2 * x + 1] + bias;
        float c = r1[2 * x] + bias, d = r1[2 * x + 1] + bias;
        if (relu) {
            a = a > 0.0f ? a : 0.0f, b = b > 0.0f ? b : 0.0f;
            c = c > 0.0f ? c : 0.0f, d = d > 0.0f ? d : 0.0f;
        }
        /* selects, not branches, which the data would make unpredictable */
        int top = b > a, bottom = d > c;
        float t = top ? b : a, u = bottom ? d : c;
        int down = u > t;
        out[x] = down ? u : t;
        at[x] = base + 2 * x + (down ? w + bottom : top);
    }
}

VECTOR_CLONES void unpool2x2_rows_ref(const float *dy, const float *y, const int *at, int n,
                                      int w, int base, float *g0, float *g1)
{
    for (int x = 0; x < n; x++) {
        float g = !y || y[x] > 0.0f ? dy[x] : 0.0f;
        int off = at[x] - base - 2 * x;
        g0[2 * x] = off == 0 ? g : 0.0f;
        g0[2 * x + 1] = off == 1 ? g : 0.0f;
        g1[2 * x] = off == w ? g : 0.0f;
        g1[2 * x + 1] = off == w + 1 ? g : 0.0f;
    }
}
