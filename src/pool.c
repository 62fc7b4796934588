/* Pooling: max, average or sum over k x k windows moved by a stride.
 *
 * The stride defaults to the window (non-overlapping windows).  With
 * ceil_mode the partial windows at the right and bottom edge are kept, as the
 * X-or-O explanation draws it (7x7, window 2, stride 2 -> 4x4); an average
 * over a partial window divides by the pixels it actually covers.  Max
 * pooling routes the gradient to the first arg-max in row-major order. */
#include "kernels/kernels.h"
#include "layer.h"

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
    l->out = (cnn_shape){l->in.c, oh, ow};
    /* max pooling remembers where each maximum came from */
    l->scratch_bytes =
        s->kind == CNN_MAXPOOL ? sizeof(int) * (size_t)l->max_batch * cnn_shape_size(l->out) : 0;
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

/* What a run over planes (one channel of one image each) [from, to) of the
 * batch needs. */
typedef struct {
    const layer *l;
    const float *x, *dy;
    float *out;
} planes;

static void forward_planes(const void *ctx, long from, long to)
{
    const planes *v = ctx;
    const layer *l = v->l;
    const cnn_layer_spec *s = &l->spec;
    const float *x = v->x;
    float *y = v->out;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    int *argmax = l->scratch;
    int whole2x2 = whole_2x2_max(l);
    for (long p = from; p < to; p++) {
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

static void backward_planes(const void *ctx, long from, long to)
{
    const planes *v = ctx;
    const layer *l = v->l;
    const cnn_layer_spec *s = &l->spec;
    const float *dy = v->dy;
    float *dx = v->out;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    const int *argmax = l->scratch;
    for (long p = from; p < to; p++) {
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

static void pool_forward(layer *l, const float *x, float *y, images im, int training)
{
    (void)training;
    planes v = {l, x, NULL, y};
    split_images(im, l->in.c, (long)l->in.h * l->in.w, forward_planes, &v);
}

static void pool_backward(layer *l, const float *x, const float *y, const float *dy, float *dx,
                          images im)
{
    (void)x, (void)y;
    if (!dx)
        return;
    planes v = {l, NULL, dy, dx};
    split_images(im, l->in.c, (long)l->in.h * l->in.w, backward_planes, &v);
}

const layer_ops pool_ops = {
    .setup = pool_setup,
    .forward = pool_forward,
    .backward = pool_backward,
};
