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

static void flatten_forward(layer *l, const float *x, float *y, int n, int training)
{
    (void)training;
    memcpy(y, x, sizeof(float) * (size_t)n * cnn_shape_size(l->in));
}

static void flatten_backward(layer *l, const float *x, const float *y, const float *dy,
                             float *dx, int n)
{
    (void)x, (void)y;
    if (dx)
        memcpy(dx, dy, sizeof(float) * (size_t)n * cnn_shape_size(l->in));
}

const layer_ops flatten_ops = {flatten_setup, flatten_forward, flatten_backward};
