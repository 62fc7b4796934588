/* Dropout (training only): each value is zeroed with probability p and the
 * survivors scaled by 1 / (1 - p), so nothing changes at inference.
 * The mask of value i at training step t is a hash of (seed, t, i): no
 * state to carry, the same for any thread count, and reproducible on resume. */
#include "layer.h"

#include <string.h>

static int dropout_setup(layer *l, cnn_error *err)
{
    if (!(l->spec.alpha >= 0.0f && l->spec.alpha < 1.0f))
        return cnn_fail(err, CNN_EINVAL, "dropout probability must be in [0, 1), not %g",
                        l->spec.alpha);
    l->out = l->in;
    return CNN_OK;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int kept(const layer *l, long i)
{
    uint64_t h = mix(l->seed ^ mix(*l->step * 0x9E3779B97F4A7C15ull + (uint64_t)i));
    return (double)(h >> 11) * 0x1.0p-53 >= l->spec.alpha;
}

static void dropout_forward(layer *l, const float *x, float *y, images im, int training)
{
    long size = (long)cnn_shape_size(l->in), first = im.first * size, last = im.last * size;
    if (!training || l->spec.alpha == 0.0f) {
        memcpy(y + first, x + first, sizeof(float) * (size_t)(last - first));
        return;
    }
    float scale = 1.0f / (1.0f - l->spec.alpha);
    for (long i = first; i < last; i++)
        y[i] = kept(l, i) ? x[i] * scale : 0.0f;
}

/* The forward output tells which values were kept only when x != 0, so the
 * mask is recomputed from the hash instead. */
static void dropout_backward(layer *l, const float *x, const float *y, const float *dy,
                             float *dx, images im)
{
    (void)x, (void)y;
    if (!dx)
        return;
    long size = (long)cnn_shape_size(l->in), first = im.first * size, last = im.last * size;
    float scale = 1.0f / (1.0f - l->spec.alpha);
    for (long i = first; i < last; i++)
        dx[i] = kept(l, i) ? dy[i] * scale : 0.0f;
}

const layer_ops dropout_ops = {dropout_setup, dropout_forward, dropout_backward, NULL, 0};
