/* Element-wise activations: ReLU (max(0, x): the negatives become 0), leaky
 * ReLU, sigmoid and tanh.  Each backward uses the saved output y where it
 * can (sigmoid' = y (1 - y), tanh' = 1 - y^2). */
#include "layer.h"

#include <math.h>

static int activation_setup(layer *l, cnn_error *err)
{
    (void)err;
    l->out = l->in;
    return CNN_OK;
}

static void activation_forward(layer *l, const float *x, float *y, int n, int training)
{
    (void)training;
    long count = (long)n * (long)cnn_shape_size(l->in);
    cnn_layer_kind kind = l->spec.kind;
    float alpha = l->spec.alpha;
#pragma omp parallel for schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
    for (long i = 0; i < count; i++) {
        float v = x[i];
        switch (kind) {
        case CNN_RELU: y[i] = v > 0.0f ? v : 0.0f; break;
        case CNN_LEAKY_RELU: y[i] = v > 0.0f ? v : alpha * v; break;
        case CNN_SIGMOID: y[i] = 1.0f / (1.0f + expf(-v)); break;
        default: y[i] = tanhf(v); break;
        }
    }
}

static void activation_backward(layer *l, const float *x, const float *y, const float *dy,
                                float *dx, int n)
{
    if (!dx)
        return;
    long count = (long)n * (long)cnn_shape_size(l->in);
    cnn_layer_kind kind = l->spec.kind;
    float alpha = l->spec.alpha;
#pragma omp parallel for schedule(static) num_threads(l->threads) if (count > PARALLEL_MIN)
    for (long i = 0; i < count; i++) {
        switch (kind) {
        case CNN_RELU: dx[i] = x[i] > 0.0f ? dy[i] : 0.0f; break;
        case CNN_LEAKY_RELU: dx[i] = x[i] > 0.0f ? dy[i] : alpha * dy[i]; break;
        case CNN_SIGMOID: dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
        default: dx[i] = dy[i] * (1.0f - y[i] * y[i]); break;
        }
    }
}

const layer_ops activation_ops = {activation_setup, activation_forward, activation_backward};
