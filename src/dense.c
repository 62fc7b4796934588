/* Fully connected: every output is a weighted sum of the whole (flattened)
 * input.  Weights are (outputs, inputs) as in PyTorch:  y = x W^T + b. */
#include "kernels/kernels.h"
#include "layer.h"

#include <stddef.h>

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

static void dense_forward(const layer *l, const float *x, float *y, const layer_call *c)
{
    int in = (int)cnn_shape_size(l->in), out = l->spec.filters, rows = c->last - c->first;
    x += (size_t)c->first * in;
    y += (size_t)c->first * out;
    if (c->n == 1) /* one image: dot products with W's rows, no packing */
        dot_rows(1, out, in, x, in, l->w, in, NULL, 0.0f, y, out);
    else
        gemm(0, 1, rows, out, in, x, in, l->w, in, 0.0f, y, out);
    if (l->b)
        for (int i = 0; i < rows; i++)
            for (int o = 0; o < out; o++)
                y[(size_t)i * out + o] += l->b[o];
}

/* dX = dY W, image by image; the weight gradient waits for every image
 * (dense_grads). */
static void dense_backward(const layer *l, const float *x, const float *y, const float *dy,
                           float *dx, const layer_call *c)
{
    (void)x, (void)y;
    int in = (int)cnn_shape_size(l->in), out = l->spec.filters;
    if (dx)
        gemm_threads(0, 0, c->last - c->first, in, out, dy + (size_t)c->first * out, out, l->w,
                     in, 0.0f, dx + (size_t)c->first * in, in, c->threads);
}

/* dW = dY^T X for W's rows [o0, o1) of this part: each weight sums over the
 * batch in image order whoever computes it.  For one image it is an outer
 * product, which needs no GEMM machinery. */
static int dense_grads(const layer *l, const float *x, const float *dy, const layer_call *c,
                       int part, int parts, param_range done[2])
{
    int n = c->n, in = (int)cnn_shape_size(l->in), out = l->spec.filters;
    int o0 = (int)((long)out * part / parts), o1 = (int)((long)out * (part + 1) / parts);
    if (n == 1)
        for (int o = o0; o < o1; o++)
            scaled_row(dy[o], x, in, l->dw + (size_t)o * in);
    else if (o1 > o0)
        gemm(1, 0, o1 - o0, in, n, dy + o0, out, x, in, 0.0f, l->dw + (size_t)o0 * in, in);
    if (l->db)
        for (int o = o0; o < o1; o++) {
            float sum = 0.0f;
            for (int i = 0; i < n; i++)
                sum += dy[(size_t)i * out + o];
            l->db[o] = sum;
        }
    done[0] = (param_range){(size_t)o0 * in, (size_t)o1 * in};
    done[1] = (param_range){l->nweights + o0, l->nweights + o1};
    return o1 > o0 ? (l->db ? 2 : 1) : 0;
}

static double dense_flops(const layer *l)
{
    return 2.0 * (double)cnn_shape_size(l->out) * (double)cnn_shape_size(l->in);
}

const layer_ops dense_ops = {
    .setup = dense_setup,
    .forward = dense_forward,
    .backward = dense_backward,
    .grads = dense_grads,
    .flops = dense_flops,
};

/* dense OUTPUTS [nobias] [init STD] */
const layer_option dense_options[] = {
    {NULL, OPT_INT, "the number of outputs", offsetof(cnn_layer_spec, filters), 1, 1 << 24, 0, 0},
    {"nobias", OPT_FLAG, "nobias", offsetof(cnn_layer_spec, no_bias), 0, 1, 0, OPTION_ONLY_LEARNING},
    {"init", OPT_FLOAT, "init (the weights' standard deviation)",
     offsetof(cnn_layer_spec, init_std), 1e-12f, 100.0f, 0, OPTION_ONLY_LEARNING},
    {0},
};
