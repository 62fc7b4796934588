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

/* One loop per kind, with no branch on the kind inside, so that each
 * vectorises. */
static void activation_forward(layer *l, const float *x, float *y, int n, int training)
{
    (void)training;
    long count = (long)n * (long)cnn_shape_size(l->in);
    float alpha = l->spec.alpha;
    switch (l->spec.kind) {
    case CNN_RELU:
#pragma omp parallel for simd schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case CNN_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
        break;
    case CNN_SIGMOID:
#pragma omp parallel for schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    default:
#pragma omp parallel for schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            y[i] = tanhf(x[i]);
        break;
    }
}

static void activation_backward(layer *l, const float *x, const float *y, const float *dy,
                                float *dx, int n)
{
    (void)x; /* may already hold y when run in place */
    if (!dx)
        return;
    long count = (long)n * (long)cnn_shape_size(l->in);
    float alpha = l->spec.alpha;
    switch (l->spec.kind) {
    case CNN_RELU:
#pragma omp parallel for simd schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case CNN_LEAKY_RELU: /* alpha >= 0, so y > 0 exactly where x > 0 */
#pragma omp parallel for simd schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : alpha * dy[i];
        break;
    case CNN_SIGMOID:
#pragma omp parallel for simd schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    default:
#pragma omp parallel for simd schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    }
}

const layer_ops activation_ops = {activation_setup, activation_forward, activation_backward};
