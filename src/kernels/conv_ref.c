/* The convolution as its definition reads: every output a sum over the
 * window, every gradient the same sum turned around.  No tiling, no
 * unrolled matrix, sums in double: the reference the three fast methods
 * of conv.c (im2col, shifted rows, Winograd) are tested against. */
#include "kernels.h"

/* Input pixel (iy, ix) of channel ch of image j, or NULL in the padding. */
static const float *pixel(const conv_dims *d, const float *x, int j, int ch, int iy, int ix)
{
    if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
        return NULL;
    return x + (((size_t)j * d->c + ch) * d->h + iy) * d->w + ix;
}

static size_t weight_at(const conv_dims *d, int f, int ch, int ky, int kx)
{
    return (((size_t)f * d->c + ch) * d->kh + ky) * d->kw + kx;
}

static size_t output_at(const conv_dims *d, int j, int f, int oy, int ox)
{
    return (((size_t)j * d->filters + f) * d->oh + oy) * d->ow + ox;
}

/* y(j, f, oy, ox) = b(f) + sum over ch, ky, kx of
 *                   w(f, ch, ky, kx) x(j, ch, oy*sh + ky - ph, ox*sw + kx - pw) */
void conv_ref_forward(const conv_dims *d, int n, const float *x, const float *w, const float *b,
                      float *y)
{
    for (int j = 0; j < n; j++)
        for (int f = 0; f < d->filters; f++)
            for (int oy = 0; oy < d->oh; oy++)
                for (int ox = 0; ox < d->ow; ox++) {
                    double sum = b ? b[f] : 0.0;
                    for (int ch = 0; ch < d->c; ch++)
                        for (int ky = 0; ky < d->kh; ky++)
                            for (int kx = 0; kx < d->kw; kx++) {
                                const float *p = pixel(d, x, j, ch, oy * d->sh + ky - d->ph,
                                                       ox * d->sw + kx - d->pw);
                                if (p)
                                    sum += (double)w[weight_at(d, f, ch, ky, kx)] * *p;
                            }
                    y[output_at(d, j, f, oy, ox)] = (float)sum;
                }
}

/* Where window offset k puts output o over input i: o = (i + pad - k) /
 * stride when that divides exactly and o is an output, else -1. */
static int covering(int i, int pad, int k, int stride, int outs)
{
    int t = i + pad - k;
    return t >= 0 && t % stride == 0 && t / stride < outs ? t / stride : -1;
}

/* dx(j, ch, iy, ix) = sum over f, ky, kx of w(f, ch, ky, kx) dy(j, f, oy, ox)
 *                     for the outputs (oy, ox) whose window puts (ky, kx) there */
void conv_ref_input_grad(const conv_dims *d, int n, const float *w, const float *dy, float *dx)
{
    for (int j = 0; j < n; j++)
        for (int ch = 0; ch < d->c; ch++)
            for (int iy = 0; iy < d->h; iy++)
                for (int ix = 0; ix < d->w; ix++) {
                    double sum = 0.0;
                    for (int f = 0; f < d->filters; f++)
                        for (int ky = 0; ky < d->kh; ky++)
                            for (int kx = 0; kx < d->kw; kx++) {
                                int oy = covering(iy, d->ph, ky, d->sh, d->oh);
                                int ox = covering(ix, d->pw, kx, d->sw, d->ow);
                                if (oy >= 0 && ox >= 0)
                                    sum += (double)w[weight_at(d, f, ch, ky, kx)] *
                                           dy[output_at(d, j, f, oy, ox)];
                            }
                    dx[(((size_t)j * d->c + ch) * d->h + iy) * d->w + ix] = (float)sum;
                }
}

/* dw(f, ch, ky, kx) = sum over images and outputs of
 *                     dy(j, f, oy, ox) x(j, ch, oy*sh + ky - ph, ox*sw + kx - pw);
 * db(f) = sum of dy(j, f, ., .) (db may be NULL) */
void conv_ref_weight_grad(const conv_dims *d, int n, const float *x, const float *dy, float *dw,
                          float *db)
{
    for (int f = 0; f < d->filters; f++) {
        for (int ch = 0; ch < d->c; ch++)
            for (int ky = 0; ky < d->kh; ky++)
                for (int kx = 0; kx < d->kw; kx++) {
                    double sum = 0.0;
                    for (int j = 0; j < n; j++)
                        for (int oy = 0; oy < d->oh; oy++)
                            for (int ox = 0; ox < d->ow; ox++) {
                                const float *p = pixel(d, x, j, ch, oy * d->sh + ky - d->ph,
                                                       ox * d->sw + kx - d->pw);
                                if (p)
                                    sum += (double)dy[output_at(d, j, f, oy, ox)] * *p;
                            }
                    dw[weight_at(d, f, ch, ky, kx)] = (float)sum;
                }
        double bias = 0.0;
        for (int j = 0; j < n; j++)
            for (int o = 0; o < d->oh * d->ow; o++)
                bias += dy[output_at(d, j, f, 0, 0) + (size_t)o];
        if (db)
            db[f] = (float)bias;
    }
}
