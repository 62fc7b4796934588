/* Convolution: N learned kh x kw filters slid over an input of any depth.
 *
 * Cross-correlation, as in most frameworks: the filter is not flipped.
 * Weights are laid out (filters, in channels, kh, kw) as in PyTorch, so one
 * filter is one row of a [filters x (c*kh*kw)] matrix and the layer is, per
 * image, one matrix product with the im2col-unrolled input:
 *     y[filters x oh*ow] = W[filters x K] * cols[K x oh*ow] + b
 */
#include "kernels/kernels.h"
#include "layer.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Weight gradients are summed per fixed group of images, then the groups
 * are added in order: the result does not depend on the number of threads. */
enum { GRAD_GROUPS = 8 };

typedef struct {
    int k;      /* c * kh * kw: length of one unrolled window */
    int area;   /* oh * ow                                    */
} geometry;

static geometry geom(const layer *l)
{
    geometry g = {l->in.c * l->spec.kh * l->spec.kw, l->out.h * l->out.w};
    return g;
}

static int conv_setup(layer *l, cnn_error *err)
{
    cnn_layer_spec *s = &l->spec;
    if (s->filters < 1 || s->kh < 1 || s->kw < 1 || s->sh < 1 || s->sw < 1 || s->ph < 0 ||
        s->pw < 0)
        return cnn_fail(err, CNN_EINVAL, "conv needs filters >= 1, a window >= 1x1, stride >= 1 "
                                         "and padding >= 0");
    if (s->same) {
        if (s->kh % 2 == 0 || s->kw % 2 == 0)
            return cnn_fail(err, CNN_EINVAL, "conv: 'same' padding needs an odd window, not %dx%d",
                            s->kh, s->kw);
        s->ph = (s->kh - 1) / 2;
        s->pw = (s->kw - 1) / 2;
    }
    int oh = window_out(l->in.h, s->kh, s->sh, s->ph, 0);
    int ow = window_out(l->in.w, s->kw, s->sw, s->pw, 0);
    if (oh < 1 || ow < 1)
        return cnn_fail(err, CNN_ESHAPE,
                        "conv %dx%d (pad %d,%d) does not fit its %dx%dx%d input",
                        s->kh, s->kw, s->ph, s->pw, l->in.h, l->in.w, l->in.c);
    l->out = (cnn_shape){s->filters, oh, ow};
    l->nweights = (size_t)s->filters * l->in.c * s->kh * s->kw;
    l->nbias = s->no_bias ? 0 : (size_t)s->filters;
    geometry g = geom(l);
    l->scratch_bytes = sizeof(float) * ((size_t)l->threads * 2 * g.k * g.area +
                                        (size_t)GRAD_GROUPS * (l->nweights + l->nbias));
    return CNN_OK;
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* The per-thread unrolled-window buffers: cols then dcols. */
static float *cols_of(const layer *l, int thread)
{
    geometry g = geom(l);
    return (float *)l->scratch + (size_t)thread * 2 * g.k * g.area;
}

static void forward_one(const layer *l, const float *x, float *y, int threads)
{
    const cnn_layer_spec *s = &l->spec;
    geometry g = geom(l);
    float *cols = cols_of(l, thread_id());
    im2col(x, l->in.c, l->in.h, l->in.w, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw, l->out.h,
           l->out.w, cols);
    gemm_threads(0, 0, s->filters, g.area, g.k, l->w, g.k, cols, g.area, 0.0f, y, g.area,
                 threads);
    if (l->b)
        for (int f = 0; f < s->filters; f++) {
            float *row = y + (size_t)f * g.area;
            for (int i = 0; i < g.area; i++)
                row[i] += l->b[f];
        }
}

static void conv_forward(layer *l, const float *x, float *y, int n, int training)
{
    (void)training;
    size_t in_size = cnn_shape_size(l->in), out_size = cnn_shape_size(l->out);
    if (n == 1) { /* one image: split its filters across threads instead */
        forward_one(l, x, y, l->threads);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(l->threads)
    for (int i = 0; i < n; i++)
        forward_one(l, x + i * in_size, y + i * out_size, 1);
}

/* Images [first, last) of one gradient group: their weight gradients summed
 * into gw, gb, and their input gradients into dx. */
static void backward_group(const layer *l, const float *x, const float *dy, float *dx,
                           float *gw, float *gb, int first, int last, int threads)
{
    const cnn_layer_spec *s = &l->spec;
    geometry g = geom(l);
    size_t in_size = cnn_shape_size(l->in), out_size = cnn_shape_size(l->out);
    float *cols = cols_of(l, thread_id());
    float *dcols = cols + (size_t)g.k * g.area;
    for (int i = first; i < last; i++) {
        const float *dyi = dy + i * out_size;
        im2col(x + i * in_size, l->in.c, l->in.h, l->in.w, s->kh, s->kw, s->sh, s->sw, s->ph,
               s->pw, l->out.h, l->out.w, cols);
        /* dW += dY * cols^T */
        gemm_threads(0, 1, s->filters, g.k, g.area, dyi, g.area, cols, g.area,
                     i == first ? 0.0f : 1.0f, gw, g.k, threads);
        if (gb)
            for (int f = 0; f < s->filters; f++) {
                float sum = i == first ? 0.0f : gb[f];
                const float *row = dyi + (size_t)f * g.area;
                for (int p = 0; p < g.area; p++)
                    sum += row[p];
                gb[f] = sum;
            }
        if (dx) { /* dX = col2im(W^T * dY) */
            gemm_threads(1, 0, g.k, g.area, s->filters, l->w, g.k, dyi, g.area, 0.0f, dcols,
                         g.area, threads);
            float *dxi = dx + i * in_size;
            memset(dxi, 0, sizeof(float) * in_size);
            col2im(dcols, l->in.c, l->in.h, l->in.w, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw,
                   l->out.h, l->out.w, dxi);
        }
    }
}

static void conv_backward(layer *l, const float *x, const float *y, const float *dy, float *dx,
                          int n)
{
    (void)y;
    int groups = n < GRAD_GROUPS ? n : GRAD_GROUPS;
    if (groups == 1) {
        backward_group(l, x, dy, dx, l->dw, l->db, 0, n, l->threads);
        return;
    }
    size_t np = l->nweights + l->nbias;
    float *partial = (float *)l->scratch + (size_t)l->threads * 2 * geom(l).k * geom(l).area;
#pragma omp parallel for schedule(static) num_threads(l->threads)
    for (int gi = 0; gi < groups; gi++) {
        float *gw = partial + gi * np;
        backward_group(l, x, dy, dx, gw, l->db ? gw + l->nweights : NULL, gi * n / groups,
                       (gi + 1) * n / groups, 1);
    }
    /* dw and db are adjacent in the gradient buffer, as in the partials. */
    float *grad = l->dw;
#pragma omp parallel for schedule(static) num_threads(l->threads) if (np > PARALLEL_MIN)
    for (size_t p = 0; p < np; p++) {
        float sum = partial[p];
        for (int gi = 1; gi < groups; gi++)
            sum += partial[gi * np + p];
        grad[p] = sum;
    }
}

const layer_ops conv_ops = {conv_setup, conv_forward, conv_backward};
