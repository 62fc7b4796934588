/* Dropout (training only): each value is zeroed with probability p and the
 * survivors scaled by 1 / (1 - p), so nothing changes at inference.
 * The mask of value i at training step t is a hash of (seed, t, i): no
 * state to carry, the same for any thread count, and reproducible on resume. */
#include "layer.h"

#include <stddef.h>
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

static int kept(const layer *l, uint64_t step, long i)
{
    uint64_t h = mix(l->seed ^ mix(step * 0x9E3779B97F4A7C15ull + (uint64_t)i));
    return (double)(h >> 11) * 0x1.0p-53 >= l->spec.alpha;
}

/* src scaled where kept, zero elsewhere, into dst, over the call's images
 * (forward: x to y; backward: dy to dx). */
static void mask_values(const layer *l, const float *src, float *dst, const layer_call *c)
{
    long size = (long)cnn_shape_size(l->in);
    float scale = 1.0f / (1.0f - l->spec.alpha);
    for (long i = c->first * size; i < c->last * size; i++)
        dst[i] = kept(l, c->step, i) ? src[i] * scale : 0.0f;
}

static void dropout_forward(const layer *l, const float *x, float *y, const layer_call *c)
{
    long size = (long)cnn_shape_size(l->in);
    if (!c->training || l->spec.alpha == 0.0f) {
        memcpy(y + c->first * size, x + c->first * size,
               sizeof(float) * (size_t)((c->last - c->first) * size));
        return;
    }
    mask_values(l, x, y, c);
}

/* The forward output tells which values were kept only when x != 0, so the
 * mask is recomputed from the hash instead. */
static void dropout_backward(const layer *l, const float *x, const float *y, const float *dy,
                             float *dx, const layer_call *c)
{
    (void)x, (void)y;
    if (dx)
        mask_values(l, dy, dx, c);
}

const layer_ops dropout_ops = {
    .setup = dropout_setup,
    .forward = dropout_forward,
    .backward = dropout_backward,
};

/* dropout P: each input zeroed with probability P while training */
const layer_option dropout_options[] = {
    {NULL, OPT_FLOAT, "the probability", offsetof(cnn_layer_spec, alpha), 0.0f, 0.99f, 0, 0},
    {0},
};
