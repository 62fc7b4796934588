/* Fully connected: every output is a weighted sum of the whole (flattened)
 * input.  Weights are (outputs, inputs) as in PyTorch:  y = x W^T + b. */
#include "kernels/kernels.h"
#include "layer.h"

static int dense_setup(layer *l, cnn_error *err)
{
    if (l->spec.filters < 1)
        return cnn_fail(err, CNN_EINVAL, "dense needs at least 1 output");
    size_t in = cnn_shape_size(l->in);
    l->out = (cnn_shape){l->spec.filters, 1, 1};
    l->nweights = (size_t)l->spec.filters * in;
    l->nbias = l->spec.no_bias ? 0 : (size_t)l->spec.filters;
    return CNN_OK;
}

/* dst = a * x along a row: one image's weight gradient, row by row (a
 * vectorised clone per instruction set, as the optimiser's update). */
static VECTOR_CLONES void scaled_row(float a, const float *restrict x, int n,
                                     float *restrict dst)
{
    for (int i = 0; i < n; i++)
        dst[i] = a * x[i];
}

static void dense_forward(layer *l, const float *x, float *y, int n, int training)
{
    (void)training;
    int in = (int)cnn_shape_size(l->in), out = l->spec.filters;
    if (n == 1) /* one image: dot products with W's rows, no packing */
        dot_rows(1, out, in, x, in, l->w, in, NULL, 0.0f, y, out);
    else
        gemm_threads(0, 1, n, out, in, x, in, l->w, in, 0.0f, y, out, l->threads);
    if (l->b)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++)
                y[(size_t)i * out + o] += l->b[o];
}

static void dense_backward(layer *l, const float *x, const float *y, const float *dy, float *dx,
                           int n)
{
    (void)y;
    int in = (int)cnn_shape_size(l->in), out = l->spec.filters;
    /* dW = dY^T X: each weight sums over the batch in image order.  For one
     * image it is an outer product, which needs no GEMM machinery. */
    if (n == 1)
        for (int o = 0; o < out; o++)
            scaled_row(dy[o], x, in, l->dw + (size_t)o * in);
    else
        gemm_threads(1, 0, out, in, n, dy, out, x, in, 0.0f, l->dw, in, l->threads);
    if (l->db)
        for (int o = 0; o < out; o++) {
            float sum = 0.0f;
            for (int i = 0; i < n; i++)
                sum += dy[(size_t)i * out + o];
            l->db[o] = sum;
        }
    if (dx) /* dX = dY W */
        gemm_threads(0, 0, n, in, out, dy, out, l->w, in, 0.0f, dx, in, l->threads);
}

const layer_ops dense_ops = {dense_setup, dense_forward, dense_backward};
