/* Pooling: max, average or sum over k x k windows moved by a stride.
 *
 * The stride defaults to the window (non-overlapping windows).  With
 * ceil_mode the partial windows at the right and bottom edge are kept, as the
 * X-or-O explanation draws it (7x7, window 2, stride 2 -> 4x4); an average
 * over a partial window divides by the pixels it actually covers.  Max
 * pooling routes the gradient to the first arg-max in row-major order. */
#include "kernels/kernels.h"
#include "layer.h"

#include <stddef.h>
#include <string.h>

static int pool_setup(layer *l, cnn_error *err)
{
    cnn_layer_spec *s = &l->spec;
    if (s->sh == 0)
        s->sh = s->kh;
    if (s->sw == 0)
        s->sw = s->kw;
    if (s->kh < 1 || s->kw < 1 || s->sh < 1 || s->sw < 1)
        return cnn_fail(err, CNN_EINVAL, "pooling needs a window and stride >= 1");
    int oh = window_out(l->in.h, s->kh, s->sh, 0, s->ceil_mode);
    int ow = window_out(l->in.w, s->kw, s->sw, 0, s->ceil_mode);
    if (oh < 1 || ow < 1)
        return cnn_fail(err, CNN_ESHAPE, "pooling window %dx%d is larger than its %dx%dx%d input",
                        s->kh, s->kw, l->in.h, l->in.w, l->in.c);
    l->out = (cnn_shape){l->in.c, oh, ow}; /* a max-pool's arg-max: the plan's */
    return CNN_OK;
}

/* The common case, 2x2 windows moved by 2 with every window whole: no
 * bounds to check, and a kernel for it. */
static void max2x2(const float *in, int w, int oh, int ow, float *y, int *argmax)
{
    for (int oy = 0; oy < oh; oy++) {
        const float *r0 = in + (size_t)2 * oy * w;
        pool2x2_rows(r0, r0 + w, ow, 0.0f, 0, w, 2 * oy * w, y + oy * ow, argmax + oy * ow);
    }
}

/* The planes (one channel of one image each) of the call's images. */
static void forward_planes(const layer *l, const float *x, float *y, const layer_call *c)
{
    const cnn_layer_spec *s = &l->spec;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    int *argmax = c->argmax;
    int whole2x2 = whole_2x2_max(l);
    for (long p = (long)c->first * l->in.c; p < (long)c->last * l->in.c; p++) {
        const float *in = x + (size_t)p * h * w;
        if (whole2x2) {
            max2x2(in, w, oh, ow, y + (size_t)p * oh * ow, argmax + (size_t)p * oh * ow);
            continue;
        }
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int y0 = oy * s->sh, x0 = ox * s->sw;
                int y1 = y0 + s->kh < h ? y0 + s->kh : h, x1 = x0 + s->kw < w ? x0 + s->kw : w;
                size_t o = ((size_t)p * oh + oy) * ow + ox;
                if (s->kind == CNN_MAXPOOL) {
                    int best = y0 * w + x0;
                    for (int yy = y0; yy < y1; yy++)
                        for (int xx = x0; xx < x1; xx++)
                            if (in[yy * w + xx] > in[best]) /* strict: the first wins */
                                best = yy * w + xx;
                    argmax[o] = best;
                    y[o] = in[best];
                } else {
                    float sum = 0.0f;
                    for (int yy = y0; yy < y1; yy++)
                        for (int xx = x0; xx < x1; xx++)
                            sum += in[yy * w + xx];
                    y[o] = s->kind == CNN_AVGPOOL ? sum / (float)((y1 - y0) * (x1 - x0)) : sum;
                }
            }
    }
}

static void backward_planes(const layer *l, const float *dy, float *dx, const layer_call *c)
{
    const cnn_layer_spec *s = &l->spec;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    const int *argmax = c->argmax;
    for (long p = (long)c->first * l->in.c; p < (long)c->last * l->in.c; p++) {
        float *din = dx + (size_t)p * h * w;
        memset(din, 0, sizeof(float) * (size_t)h * w);
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                size_t o = ((size_t)p * oh + oy) * ow + ox;
                if (s->kind == CNN_MAXPOOL) {
                    din[argmax[o]] += dy[o];
                    continue;
                }
                int y0 = oy * s->sh, x0 = ox * s->sw;
                int y1 = y0 + s->kh < h ? y0 + s->kh : h, x1 = x0 + s->kw < w ? x0 + s->kw : w;
                float g = s->kind == CNN_AVGPOOL ? dy[o] / (float)((y1 - y0) * (x1 - x0)) : dy[o];
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++)
                        din[yy * w + xx] += g;
            }
    }
}

static void pool_backward(const layer *l, const float *x, const float *y, const float *dy,
                          float *dx, const layer_call *c)
{
    (void)x, (void)y;
    if (dx)
        backward_planes(l, dy, dx, c);
}

static double pool_flops(const layer *l)
{
    return (double)cnn_shape_size(l->out) * l->spec.kh * l->spec.kw;
}

const layer_ops pool_ops = {
    .setup = pool_setup,
    .forward = forward_planes,
    .backward = pool_backward,
    .flops = pool_flops,
};

/* maxpool|avgpool|sumpool KHxKW [stride S] [ceil] */
const layer_option pool_options[] = {
    {NULL, OPT_DIMS, "the window", offsetof(cnn_layer_spec, kh), 1, 1024, 0, 0},
    {"stride", OPT_DIMS, "stride", offsetof(cnn_layer_spec, sh), 1, 1024, 0, 0},
    {"ceil", OPT_FLAG, "ceil", offsetof(cnn_layer_spec, ceil_mode), 0, 1, 0, 0},
    {0},
};
