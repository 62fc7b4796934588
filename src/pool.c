/* Pooling: max, average or sum over k x k windows moved by a stride.
 *
 * The stride defaults to the window (non-overlapping windows).  With
 * ceil_mode the partial windows at the right and bottom edge are kept, as the
 * X-or-O explanation draws it (7x7, window 2, stride 2 -> 4x4); an average
 * over a partial window divides by the pixels it actually covers.  Max
 * pooling routes the gradient to the first arg-max in row-major order.
 *
 * Padding, as in ONNX's MaxPool and AveragePool and PyTorch's max_pool2d
 * and avg_pool2d: windows start `ph` rows above the input and `pw` columns
 * left of it, and may reach ph_end, pw_end past its far edges.  The pads are
 * no pixels: they never win a max (as if -infinity), add nothing to a sum,
 * and an average divides by the pixels its window covers, or with
 * count_pad (count_include_pad) by the window as far as the padded input
 * goes.  Each pad is smaller than the window, so every window holds a
 * pixel, and every gradient goes to pixels. */
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
    if (s->same)
        return cnn_fail(err, CNN_EINVAL, "'pad same' is for conv: give a pool its pads");
    settle_pads(s);
    char pad[48];
    pad_text(s, pad, sizeof pad);
    if (s->ph < 0 || s->pw < 0 || s->ph_end < 0 || s->pw_end < 0)
        return cnn_fail(err, CNN_EINVAL, "pad %s: each pad must be >= 0", pad);
    if (s->ph >= s->kh || s->ph_end >= s->kh || s->pw >= s->kw || s->pw_end >= s->kw)
        return cnn_fail(err, CNN_EINVAL,
                        "pad %s must be smaller than the %dx%d window on every side (a window "
                        "over padding alone would hold no pixel)",
                        pad, s->kh, s->kw);
    if (s->count_pad && s->kind != CNN_AVGPOOL)
        return cnn_fail(err, CNN_EINVAL, "countpad is for avgpool only, not %s",
                        cnn_layer_name(s->kind));
    int oh = window_out(l->in.h, s->kh, s->sh, s->ph, s->ph_end, s->ceil_mode);
    int ow = window_out(l->in.w, s->kw, s->sw, s->pw, s->pw_end, s->ceil_mode);
    if (oh < 1 || ow < 1)
        return cnn_fail(err, CNN_ESHAPE,
                        "pooling window %dx%d (pad %s) is larger than its %dx%dx%d input", s->kh,
                        s->kw, pad, l->in.h, l->in.w, l->in.c);
    l->out = (cnn_shape){l->in.c, oh, ow}; /* a max-pool's arg-max: the plan's */
    return CNN_OK;
}

/* The pixels of window (oy, ox), rows [y0, y1) and columns [x0, x1) of the
 * input, and what an average of them divides by. */
typedef struct {
    int y0, y1, x0, x1, count;
} window;

static inline window window_at(const cnn_layer_spec *s, int h, int w, int oy, int ox)
{
    int ys = oy * s->sh - s->ph, xs = ox * s->sw - s->pw; /* may start in the padding */
    int ye = ys + s->kh, xe = xs + s->kw;
    window r = {ys > 0 ? ys : 0, ye < h ? ye : h, xs > 0 ? xs : 0, xe < w ? xe : w, 0};
    if (s->count_pad) { /* PyTorch: the window clipped to the padded input */
        ye = ye < h + s->ph_end ? ye : h + s->ph_end;
        xe = xe < w + s->pw_end ? xe : w + s->pw_end;
        r.count = (ye - ys) * (xe - xs);
    } else {
        r.count = (r.y1 - r.y0) * (r.x1 - r.x0);
    }
    return r;
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
                window r = window_at(s, h, w, oy, ox);
                size_t o = ((size_t)p * oh + oy) * ow + ox;
                if (s->kind == CNN_MAXPOOL) {
                    int best = r.y0 * w + r.x0; /* a pixel: the pads never win */
                    for (int yy = r.y0; yy < r.y1; yy++)
                        for (int xx = r.x0; xx < r.x1; xx++)
                            if (in[yy * w + xx] > in[best]) /* strict: the first wins */
                                best = yy * w + xx;
                    argmax[o] = best;
                    y[o] = in[best];
                } else {
                    float sum = 0.0f;
                    for (int yy = r.y0; yy < r.y1; yy++)
                        for (int xx = r.x0; xx < r.x1; xx++)
                            sum += in[yy * w + xx];
                    y[o] = s->kind == CNN_AVGPOOL ? sum / (float)r.count : sum;
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
                window r = window_at(s, h, w, oy, ox);
                float g = s->kind == CNN_AVGPOOL ? dy[o] / (float)r.count : dy[o];
                for (int yy = r.y0; yy < r.y1; yy++)
                    for (int xx = r.x0; xx < r.x1; xx++)
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

/* maxpool|avgpool|sumpool KHxKW [stride S] [pad P|PHxPW|T,L,B,R] [ceil] */
const layer_option pool_options[] = {
    {NULL, OPT_DIMS, "the window", offsetof(cnn_layer_spec, kh), 1, 1024, 0, 0},
    {"stride", OPT_DIMS, "stride", offsetof(cnn_layer_spec, sh), 1, 1024, 0, 0},
    {"pad", OPT_PAD, "pad", offsetof(cnn_layer_spec, ph), 0, 1023, 0, 0},
    {"ceil", OPT_FLAG, "ceil", offsetof(cnn_layer_spec, ceil_mode), 0, 1, 0, 0},
    {0},
};

/* avgpool: the same, and [countpad] */
const layer_option avgpool_options[] = {
    {NULL, OPT_DIMS, "the window", offsetof(cnn_layer_spec, kh), 1, 1024, 0, 0},
    {"stride", OPT_DIMS, "stride", offsetof(cnn_layer_spec, sh), 1, 1024, 0, 0},
    {"pad", OPT_PAD, "pad", offsetof(cnn_layer_spec, ph), 0, 1023, 0, 0},
    {"ceil", OPT_FLAG, "ceil", offsetof(cnn_layer_spec, ceil_mode), 0, 1, 0, 0},
    {"countpad", OPT_FLAG, "countpad", offsetof(cnn_layer_spec, count_pad), 0, 1, 0, 0},
    {0},
};
