/* Element-wise activations: ReLU (max(0, x): the negatives become 0), leaky
 * ReLU, sigmoid and tanh.
 *
 * Each backward needs only the output y (ReLU: y > 0 exactly where x > 0;
 * sigmoid' = y (1 - y); tanh' = 1 - y^2), so the network may run them in
 * place, writing y over x, and keep one buffer instead of two. */
#include "layer.h"

#include <math.h>

static int activation_setup(layer *l, cnn_error *err)
{
    (void)err;
    l->out = l->in;
    return CNN_OK;
}

/* What a run over values [from, to) of the batch needs. */
typedef struct {
    const layer *l;
    const float *x, *y, *dy;
    float *out;
} values;

/* One loop per kind, with no branch on the kind inside, so that each
 * vectorises. */
static void forward_values(const void *ctx, long from, long to)
{
    const values *v = ctx;
    const float *x = v->x;
    float *y = v->out, alpha = v->l->spec.alpha;
    switch (v->l->spec.kind) {
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

static void backward_values(const void *ctx, long from, long to)
{
    const values *v = ctx;
    const float *y = v->y, *dy = v->dy;
    float *dx = v->out, alpha = v->l->spec.alpha;
    switch (v->l->spec.kind) {
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

static void activation_forward(layer *l, const float *x, float *y, images im, int training)
{
    (void)training;
    values v = {l, x, NULL, NULL, y};
    split_images(im, (long)cnn_shape_size(l->in), 1, forward_values, &v);
}

static void activation_backward(layer *l, const float *x, const float *y, const float *dy,
                                float *dx, images im)
{
    (void)x; /* may already hold y when run in place */
    if (!dx)
        return;
    values v = {l, NULL, y, dy, dx};
    split_images(im, (long)cnn_shape_size(l->in), 1, backward_values, &v);
}

const layer_ops activation_ops = {
    .setup = activation_setup,
    .forward = activation_forward,
    .backward = activation_backward,
};
