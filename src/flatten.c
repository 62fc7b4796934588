/* Flatten: c x h x w maps become one vector of c*h*w values (the memory is
 * already in that order, so this is a copy).  Dense layers flatten their
 * input themselves; this layer exists for specs that say it. */
#include "layer.h"

#include <string.h>

static int flatten_setup(layer *l, cnn_error *err)
{
    (void)err;
    l->out = (cnn_shape){(int)cnn_shape_size(l->in), 1, 1};
    return CNN_OK;
}

static void flatten_forward(const layer *l, const float *x, float *y, const layer_call *c)
{
    size_t size = cnn_shape_size(l->in), at = (size_t)c->first * size;
    memcpy(y + at, x + at, sizeof(float) * (size_t)(c->last - c->first) * size);
}

static void flatten_backward(const layer *l, const float *x, const float *y, const float *dy,
                             float *dx, const layer_call *c)
{
    (void)x, (void)y;
    size_t size = cnn_shape_size(l->in), at = (size_t)c->first * size;
    if (dx)
        memcpy(dx + at, dy + at, sizeof(float) * (size_t)(c->last - c->first) * size);
}

const layer_ops flatten_ops = {
    .setup = flatten_setup,
    .forward = flatten_forward,
    .backward = flatten_backward,
};
