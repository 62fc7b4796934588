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

/* What a run over values [from, to) of the batch needs: src scaled where
 * kept, zero elsewhere, into dst (forward: x to y; backward: dy to dx). */
typedef struct {
    const layer *l;
    const float *src;
    float *dst;
} values;

static void mask_values(const void *ctx, long from, long to)
{
    const values *v = ctx;
    float scale = 1.0f / (1.0f - v->l->spec.alpha);
    for (long i = from; i < to; i++)
        v->dst[i] = kept(v->l, i) ? v->src[i] * scale : 0.0f;
}

static void dropout_forward(layer *l, const float *x, float *y, images im, int training)
{
    long size = (long)cnn_shape_size(l->in);
    if (!training || l->spec.alpha == 0.0f) {
        memcpy(y + im.first * size, x + im.first * size,
               sizeof(float) * (size_t)((im.last - im.first) * size));
        return;
    }
    values v = {l, x, y};
    split_images(im, size, 1, mask_values, &v);
}

/* The forward output tells which values were kept only when x != 0, so the
 * mask is recomputed from the hash instead. */
static void dropout_backward(layer *l, const float *x, const float *y, const float *dy,
                             float *dx, images im)
{
    (void)x, (void)y;
    if (!dx)
        return;
    values v = {l, dy, dx};
    split_images(im, (long)cnn_shape_size(l->in), 1, mask_values, &v);
}

const layer_ops dropout_ops = {
    .setup = dropout_setup,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
