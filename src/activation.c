/* Element-wise activations: ReLU (max(0, x): the negatives become 0), leaky
 * ReLU, sigmoid and tanh.
 *
 * Each backward needs only the output y (ReLU: y > 0 exactly where x > 0;
 * sigmoid' = y (1 - y); tanh' = 1 - y^2), so the network may run them in
 * place, writing y over x, and keep one buffer instead of two. */
#include "layer.h"

#include <math.h>
#include <stddef.h>

static int activation_setup(layer *l, cnn_error *err)
{
    (void)err;
    l->out = l->in;
    return CNN_OK;
}

/* The values of the call's images: [from, to) of the batch. */
static void values_of(const layer *l, const layer_call *c, long *from, long *to)
{
    long per = (long)cnn_shape_size(l->in);
    *from = c->first * per, *to = c->last * per;
}

/* One loop per kind, with no branch on the kind inside, so that each
 * vectorises. */
static void activation_forward(const layer *l, const float *x, float *y, const layer_call *c)
{
    long from, to;
    values_of(l, c, &from, &to);
    float alpha = l->spec.alpha;
    switch (l->spec.kind) {
    case CNN_RELU:
#pragma omp simd
        for (long i = from; i < to; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case CNN_LEAKY_RELU:
#pragma omp simd
        for (long i = from; i < to; i++)
            y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
        break;
    case CNN_SIGMOID:
        for (long i = from; i < to; i++)
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    default:
        for (long i = from; i < to; i++)
            y[i] = tanhf(x[i]);
        break;
    }
}

/* x may already hold y when run in place: the backward reads y alone. */
static void activation_backward(const layer *l, const float *x, const float *y,
                                const float *dy, float *dx, const layer_call *c)
{
    (void)x;
    if (!dx)
        return;
    long from, to;
    values_of(l, c, &from, &to);
    float alpha = l->spec.alpha;
    switch (l->spec.kind) {
    case CNN_RELU:
#pragma omp simd
        for (long i = from; i < to; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case CNN_LEAKY_RELU: /* alpha >= 0, so y > 0 exactly where x > 0 */
#pragma omp simd
        for (long i = from; i < to; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : alpha * dy[i];
        break;
    case CNN_SIGMOID:
#pragma omp simd
        for (long i = from; i < to; i++)
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    default:
#pragma omp simd
        for (long i = from; i < to; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    }
}

const layer_ops activation_ops = {
    .setup = activation_setup,
    .forward = activation_forward,
    .backward = activation_backward,
};

/* leaky [SLOPE]: y = SLOPE * x below 0 */
const layer_option leaky_options[] = {
    {NULL, OPT_FLOAT, "the slope", offsetof(cnn_layer_spec, alpha), 0.0f, 1.0f, 0.01f,
     OPTION_MAY_BE_LEFT_OUT},
    {0},
};
