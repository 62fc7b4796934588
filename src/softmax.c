/* Softmax turns scores into probabilities; with cross-entropy it is fused:
 * loss = log(sum exp(z)) - z[label], computed as log-sum-exp around the
 * maximum so that large scores do not overflow, and the gradient with
 * respect to the scores is simply p - onehot(label). */
#include "layer.h"

#include <math.h>

static int softmax_setup(layer *l, cnn_error *err)
{
    if (cnn_shape_size(l->in) < 2)
        return cnn_fail(err, CNN_ESHAPE, "softmax needs at least 2 classes, its input has %zu",
                        cnn_shape_size(l->in));
    l->out = (cnn_shape){(int)cnn_shape_size(l->in), 1, 1};
    return CNN_OK;
}

static void softmax_forward(const layer *l, const float *x, float *y, const layer_call *c)
{
    int k = l->out.c;
    for (int i = c->first; i < c->last; i++) {
        const float *z = x + (size_t)i * k;
        float *p = y + (size_t)i * k;
        float max = z[0];
        for (int j = 1; j < k; j++)
            max = z[j] > max ? z[j] : max;
        float sum = 0.0f;
        for (int j = 0; j < k; j++)
            sum += p[j] = expf(z[j] - max);
        for (int j = 0; j < k; j++)
            p[j] /= sum;
    }
}

/* The generic chain rule through softmax alone: dx = p * (dy - <dy, p>).
 * Training uses the fused form in softmax_cross_entropy_grad instead. */
static void softmax_backward(const layer *l, const float *x, const float *y, const float *dy,
                             float *dx, const layer_call *c)
{
    (void)x;
    if (!dx)
        return;
    int k = l->out.c;
    for (int i = c->first; i < c->last; i++) {
        const float *p = y + (size_t)i * k, *g = dy + (size_t)i * k;
        float dot = 0.0f;
        for (int j = 0; j < k; j++)
            dot += g[j] * p[j];
        for (int j = 0; j < k; j++)
            dx[(size_t)i * k + j] = p[j] * (g[j] - dot);
    }
}

const layer_ops softmax_ops = {
    .setup = softmax_setup,
    .forward = softmax_forward,
    .backward = softmax_backward,
};

/* Cross-entropy summed over images [first, last), from the scores z
 * (before softmax); correct counts the arg-max of p that hit. */
double softmax_cross_entropy_sum(const float *z, const cnn_label *labels, int first, int last,
                                 int k, const float *p, int *correct)
{
    double total = 0.0;
    int right = 0;
    for (int i = first; i < last; i++) {
        const float *zi = z + (size_t)i * k, *pi = p + (size_t)i * k;
        double max = zi[0];
        for (int j = 1; j < k; j++)
            max = zi[j] > max ? zi[j] : max;
        double sum = 0.0;
        for (int j = 0; j < k; j++)
            sum += exp(zi[j] - max);
        total += log(sum) + max - zi[labels[i]];
        right += arg_max(pi, k) == labels[i];
    }
    if (correct)
        *correct = right;
    return total;
}

/* d(mean loss)/dz = (p - onehot) / n */
void softmax_cross_entropy_grad(const float *p, const cnn_label *labels, int n, int first,
                                int last, int k, float *dz)
{
    float inv = 1.0f / (float)n;
    for (int i = first; i < last; i++)
        for (int j = 0; j < k; j++)
            dz[(size_t)i * k + j] = (p[(size_t)i * k + j] - (j == labels[i])) * inv;
}
