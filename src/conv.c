/* Convolution: N learned kh x kw filters slid over an input of any depth.
 *
 * Cross-correlation, as in most frameworks: the filter is not flipped.
 * Weights are laid out (filters, in channels, kh, kw) as in PyTorch, so one
 * filter is one row of a [filters x K] matrix (K = channels * kh * kw) and
 * the layer is one matrix product with the unrolled input:
 *     y[filters x oh*ow] = W[filters x K] * cols[K x oh*ow] + b
 * Two ways to get cols:
 *  - stride 1 ("shifted"): the row of cols for (channel, ky, kx) is the
 *    zero-padded image itself, read from offset (channel, ky, kx), if the
 *    product runs over whole padded rows (wp columns per output row, of which
 *    ow are kept).  The GEMM reads those rows in place (gemm_rows): nothing
 *    is unrolled, at the price of wp - ow discarded columns per row.
 *  - any stride: im2col writes cols out; a few images are unrolled side by
 *    side so that the product is wide enough to run near the machine's peak.
 * A 3x3 stride-1 layer with many channels takes its output, and its input
 * gradient, by Winograd's F(2x2, 3x3) instead (kernels/winograd.c): 2.25
 * times fewer multiplications, and its weight gradient the same way.
 * The bottom and right padding may differ from the top and left (ONNX's
 * pads): im2col needs only the top and left pads and the output's size,
 * the shifted rows pad each side by its own, and Winograd takes equal
 * pads only (geom).
 */
#include "kernels/kernels.h"
#include "layer.h"

#include <stddef.h>
#include <string.h>

/* Below this many columns (K) the weight gradient is computed as dot
 * products: a blocked GEMM's vectors would run along those few columns. */
enum { FEW_COLUMNS = 32 };

/* Images unrolled together: at most 8, and at most about 1 MiB of columns. */
enum { MAX_GROUP = 8, GROUP_FLOATS = 1 << 18 };

/* Winograd needs this many input channels and filters: its products run
 * over the channels (k = inputs) and its transforms cost per channel. */
enum { WINOGRAD_MIN_CHANNELS = 16 };

typedef struct {
    int k;       /* c * kh * kw: length of one unrolled window        */
    int area;    /* oh * ow                                           */
    int shifted; /* stride 1: cols are shifted rows of the padded image */
    int group;   /* im2col: images unrolled side by side              */
    int hp, wp;  /* shifted: the padded image                         */
    int span;    /* shifted: product columns per image, oh * wp        */
    size_t padded; /* shifted: floats of a padded image, with the slack
                    * that the last window's row overruns (kw)        */
    int winograd;  /* 3x3, stride 1, many channels: Winograd F(2x2, 3x3) */
    int th, tw;    /* winograd: output tiles of the forward (2x2 each)  */
    int bh, bw;    /* winograd: tiles of the input gradient             */
} geometry;

static geometry geom(const layer *l)
{
    const cnn_layer_spec *s = &l->spec;
    geometry g = {0};
    g.k = l->in.c * s->kh * s->kw;
    g.area = l->out.h * l->out.w;
    g.shifted = s->sh == 1 && s->sw == 1;
    g.group = 1;
    g.hp = l->in.h + s->ph + s->ph_end;
    g.wp = l->in.w + s->pw + s->pw_end;
    g.span = l->out.h * g.wp;
    g.padded = (size_t)l->in.c * g.hp * g.wp + (size_t)s->kw;
    /* Winograd's planes of the input gradient hold dy 2 - pad in from their
     * top and left edge, and the far border they leave is sized for the
     * same pad at the bottom and right: an asymmetric conv takes the
     * shifted rows instead, which pad each side by its own amount. */
    g.winograd = g.shifted && s->kh == 3 && s->kw == 3 && s->ph <= 2 && s->pw <= 2 &&
                 !s->pad_asym && l->in.c >= WINOGRAD_MIN_CHANNELS &&
                 s->filters >= WINOGRAD_MIN_CHANNELS;
    g.th = (l->out.h + 1) / 2, g.tw = (l->out.w + 1) / 2;
    g.bh = (l->in.h + 1) / 2, g.bw = (l->in.w + 1) / 2;
    size_t per = (size_t)g.k * g.area;
    while (!g.shifted && g.group < MAX_GROUP && (size_t)(g.group + 1) * per <= GROUP_FLOATS)
        g.group++;
    return g;
}

/* Buffers start on 64-byte lines: a vector load that straddles two lines
 * costs two. */
static size_t whole_lines(size_t floats) { return (floats + 15) & ~(size_t)15; }

/* Per thread.  Shifted: the offsets of the rows of cols (one size_t per
 * row; each thread writes its own copy, a few hundred bytes, rather than
 * share one), the padded image and its gradient, the product
 * [filters x span] (or the output gradient spread out the same way), and
 * the input-gradient columns [K x span].  im2col: unrolled columns, their
 * gradient, and filters x columns of outputs or output gradients in the
 * grouped layout.  Where each starts, in floats from the scratch's first
 * (each on whole lines; those a path does not use stay at 0), and its
 * end: the one description of the layout, for sizing the scratch and for
 * carving it. */
typedef struct {
    size_t rows, padded, dpadded, cols, dcols, maps, stage, next;
    size_t u, ut, du, tiles_in, dtiles_in, v, m; /* winograd */
} thread_layout;

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Winograd's zero-padded input planes: the forward's (x) and the input
 * gradient's (dy), each 2 more rows and columns than its outputs' tiles
 * cover. */
static size_t tiles_in_plane(const geometry *g)
{
    return (size_t)(2 * g->th + 2) * (2 * g->tw + 2);
}
static size_t dtiles_in_plane(const geometry *g)
{
    return (size_t)(2 * g->bh + 2) * (2 * g->bw + 2);
}

/* The floats of one image's output (its pool's, if fused) that a conv
 * whose output is streamed puts together before streaming them out (else
 * 0). */
static size_t staged(const epilogue *ep) { return ep->stream ? cnn_shape_size(ep->out) : 0; }

static thread_layout layout_of(const layer *l, const epilogue *ep)
{
    geometry g = geom(l);
    int filters = l->spec.filters;
    thread_layout t = {0};
    if (g.shifted) {
        size_t maps = (size_t)g.span * filters, dcols = (size_t)g.span * g.k;
        size_t padded = g.padded, dpadded = g.padded, channels = (size_t)l->in.c;
        size_t tiles = (size_t)g.th * g.tw, dtiles = (size_t)g.bh * g.bw;
        if (g.winograd) { /* maps holds the forward's tiles; dcols the input gradient's */
            maps = 4 * tiles * filters;
            dcols = 4 * dtiles * channels;
            padded = dpadded = 0;
        }
        size_t rows = g.winograd ? 0 : (size_t)g.k;
        t.padded = whole_lines((sizeof(size_t) * rows + sizeof(float) - 1) / sizeof(float));
        t.dpadded = t.padded + whole_lines(padded);
        t.maps = t.dpadded + whole_lines(dpadded);
        t.dcols = t.maps + whole_lines(maps);
        t.next = t.dcols + whole_lines(dcols);
        if (g.winograd) {
            t.u = t.next;
            t.ut = t.u + whole_lines(16 * channels * filters);
            t.du = t.ut + whole_lines(16 * channels * filters);
            t.tiles_in = t.du + whole_lines(16 * channels * filters);
            t.dtiles_in = t.tiles_in + whole_lines(channels * tiles_in_plane(&g));
            size_t block = (size_t)winograd_block(g.th, g.tw);
            size_t dblock = (size_t)winograd_block(g.bh, g.bw);
            t.v = t.dtiles_in + whole_lines(filters * dtiles_in_plane(&g));
            t.m = t.v + whole_lines(16 * max_size(channels * block, filters * dblock));
            t.next = t.m + whole_lines(16 * max_size(filters * block, channels * dblock));
        }
    } else {
        t.dcols = whole_lines((size_t)g.group * g.area * g.k);
        t.maps = 2 * t.dcols;
        t.next = t.maps + whole_lines((size_t)g.group * g.area * filters);
    }
    t.stage = t.next;
    t.next += whole_lines(staged(ep));
    return t;
}

/* Floats between one group's partial gradients and the next's. */
static size_t partial_stride(const layer *l) { return whole_lines(l->nweights + l->nbias); }

static int conv_setup(layer *l, cnn_error *err)
{
    cnn_layer_spec *s = &l->spec;
    settle_pads(s);
    if (s->filters < 1 || s->kh < 1 || s->kw < 1 || s->sh < 1 || s->sw < 1 || s->ph < 0 ||
        s->pw < 0 || s->ph_end < 0 || s->pw_end < 0)
        return cnn_fail(err, CNN_EINVAL, "conv needs filters >= 1, a window >= 1x1, stride >= 1 "
                                         "and padding >= 0");
    /* a window over more than 2^28 inputs would overflow the int sizes */
    if ((size_t)l->in.c * (size_t)s->kh * (size_t)s->kw > (size_t)1 << 28)
        return cnn_fail(err, CNN_ESHAPE, "a %dx%d window over %d channels is too large", s->kh,
                        s->kw, l->in.c);
    if (s->same) {
        if (s->kh % 2 == 0 || s->kw % 2 == 0)
            return cnn_fail(err, CNN_EINVAL, "conv: 'same' padding needs an odd window, not %dx%d",
                            s->kh, s->kw);
        s->ph = s->ph_end = (s->kh - 1) / 2;
        s->pw = s->pw_end = (s->kw - 1) / 2;
        s->pad_asym = 0;
    }
    int oh = window_out(l->in.h, s->kh, s->sh, s->ph, s->ph_end, 0);
    int ow = window_out(l->in.w, s->kw, s->sw, s->pw, s->pw_end, 0);
    if (oh < 1 || ow < 1) {
        char pad[48];
        pad_text(s, pad, sizeof pad);
        return cnn_fail(err, CNN_ESHAPE, "conv %dx%d (pad %s) does not fit its %dx%dx%d input",
                        s->kh, s->kw, pad, l->in.h, l->in.w, l->in.c);
    }
    l->out = (cnn_shape){s->filters, oh, ow};
    l->nweights = (size_t)s->filters * l->in.c * s->kh * s->kw;
    l->nbias = s->no_bias ? 0 : (size_t)s->filters;
    l->shared_bytes = sizeof(float) * (size_t)GRAD_GROUPS * partial_stride(l);
    return CNN_OK;
}

/* A thread's scratch; the batch's (shared) holds the per-group weight
 * gradients. */
static size_t conv_scratch_bytes(const layer *l, const epilogue *ep)
{
    return sizeof(float) * layout_of(l, ep).next;
}

typedef struct {
    float *cols, *dcols, *maps; /* im2col                                */
    float *padded, *dpadded;    /* shifted; maps and dcols are reused     */
    size_t *rows;               /* shifted: row offsets                   */
    float *stage;               /* streamed: one image's output, or NULL  */
    const epilogue *ep;         /* what follows the product               */
    int *argmax;                /* a fused pool's                         */
    float *u, *ut;              /* winograd: the filters, forward and back */
    float *du;                  /* winograd: the weight gradient's sums    */
    float *tiles_in, *dtiles_in; /* winograd: padded x, padded dy          */
    float *v, *m;               /* winograd: transformed inputs, products */
} buffers;

/* Row (channel, ky, kx) of cols starts at channel * hp*wp + ky * wp + kx of
 * the padded image.  A pure function of the shapes. */
static void set_row_offsets(const layer *l, size_t *row)
{
    geometry g = geom(l);
    for (int ch = 0, r = 0; ch < l->in.c; ch++)
        for (int ky = 0; ky < l->spec.kh; ky++)
            for (int kx = 0; kx < l->spec.kw; kx++)
                row[r++] = ((size_t)ch * g.hp + ky) * g.wp + kx;
}

/* A thread's buffers in its scratch, with its row offsets written. */
static buffers buffers_of(const layer *l, const layer_call *c)
{
    thread_layout t = layout_of(l, &c->ep);
    float *base = c->scratch;
    geometry g = geom(l);
    if (g.shifted && !g.winograd) /* only the shifted product reads them */
        set_row_offsets(l, (size_t *)base);
    return (buffers){.rows = (size_t *)base,
                     .cols = base + t.cols,
                     .dcols = base + t.dcols,
                     .maps = base + t.maps,
                     .padded = base + t.padded,
                     .dpadded = base + t.dpadded,
                     .stage = staged(&c->ep) && c->n > 1 ? base + t.stage : NULL,
                     .ep = &c->ep,
                     .argmax = c->argmax,
                     .u = base + t.u,
                     .ut = base + t.ut,
                     .du = base + t.du,
                     .tiles_in = base + t.tiles_in,
                     .dtiles_in = base + t.dtiles_in,
                     .v = base + t.v,
                     .m = base + t.m};
}

/* c planes of h x w (src: planes `plane` floats apart, rows `pitch`) into
 * zero-filled planes of rows x width, at row top and column left. */
static void pad_planes(const float *src, size_t plane, int pitch, int c, int h, int w, int top,
                       int left, int rows, int width, float *dst)
{
    for (int ch = 0; ch < c; ch++) {
        float *to = dst + (size_t)ch * rows * width;
        const float *from = src + ch * plane;
        memset(to, 0, sizeof(float) * (size_t)top * width);
        to += (size_t)top * width;
        if (left == 0 && width == w && pitch == w) { /* no side padding: one run */
            memcpy(to, from, sizeof(float) * (size_t)h * w);
        } else {
            for (int y = 0; y < h; y++) {
                float *row = to + (size_t)y * width;
                zero_floats(row, left);
                copy_floats(row + left, from + (size_t)y * pitch, w);
                zero_floats(row + left + w, width - left - w);
            }
        }
        memset(to + (size_t)h * width, 0, sizeof(float) * (size_t)(rows - top - h) * width);
    }
}

/* x (c x h x w) into the middle of the zero-padded xp (c x hp x wp, then
 * the slack). */
static void pad_image(const layer *l, const float *x, float *xp)
{
    geometry g = geom(l);
    int h = l->in.h, w = l->in.w;
    pad_planes(x, (size_t)h * w, w, l->in.c, h, w, l->spec.ph, l->spec.pw, g.hp, g.wp, xp);
    zero_floats(xp + g.padded - l->spec.kw, l->spec.kw);
}

/* A row of the product plus the bias, through the ReLU if relu. */
static VECTOR_CLONES void bias_row(const float *restrict src, int n, float bias, int relu,
                                   float *restrict dst)
{
    if (relu)
        for (int i = 0; i < n; i++)
            dst[i] = src[i] + bias > 0.0f ? src[i] + bias : 0.0f;
    else
        for (int i = 0; i < n; i++)
            dst[i] = src[i] + bias;
}

/* A row of the gradient through the ReLU: dy where the output y is
 * positive.  dy is loaded either way, so that the loop has no branch and
 * vectorises (a branch per element mispredicted on the ReLU's pattern:
 * 8% of convnet's training). */
static VECTOR_CLONES void relu_grad_row(const float *restrict dy, const float *restrict y, int n,
                                        float *restrict dst)
{
    for (int i = 0; i < n; i++) {
        float g = dy[i];
        dst[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

/* dst += src along a row (the add-back of the input gradient's columns). */
static VECTOR_CLONES void add_row(const float *restrict src, int n, float *restrict dst)
{
    for (int i = 0; i < n; i++)
        dst[i] += src[i];
}

/* One image's product into the layer's output: filter f's row r is at
 * src + f * fstride + r * rstride.  Adds the bias, and does the epilogue's
 * ReLU and max-pool if any (y and the arg-max are then the pool's).  With
 * a stage, the image's output is put together there, then streamed out. */
static void store_output(const layer *l, const float *src, size_t fstride, size_t rstride,
                         int image, float *y, const buffers *b)
{
    int relu = b->ep->relu, pool = b->ep->pool;
    cnn_shape out = pool ? b->ep->out : l->out;
    size_t per = cnn_shape_size(out), plane_size = (size_t)out.h * out.w;
    float *stage = b->stage, *dst = stage ? stage : y + (size_t)image * per;
    int *arg = pool ? b->argmax + (size_t)image * per : NULL;
    for (int f = 0; f < l->spec.filters; f++) {
        float bias = l->b ? l->b[f] : 0.0f;
        const float *plane = src + (size_t)f * fstride;
        float *to = dst + (size_t)f * plane_size;
        for (int oy = 0; oy < out.h; oy++) {
            const float *row = plane + (size_t)(pool ? 2 * oy : oy) * rstride;
            if (pool)
                pool2x2_rows(row, row + rstride, out.w, bias, relu, l->out.w, 2 * oy * l->out.w,
                             to + oy * out.w, arg + f * plane_size + oy * out.w);
            else
                bias_row(row, out.w, bias, relu, to + oy * out.w);
        }
    }
    if (stage)
        stream_floats(y + (size_t)image * per, stage, per);
}

/* The gradient of one image's product, laid out as store_output reads it,
 * from dy (and y) of the step's output: through the epilogue's max-pool to
 * its arg-max and through its ReLU where the output is positive, zero
 * elsewhere.  Touches only the oh x ow kept entries. */
static void load_gradient(const layer *l, const float *dy, const float *y, int image,
                          float *dst, size_t fstride, size_t rstride, const buffers *b)
{
    int oh = l->out.h, ow = l->out.w, relu = b->ep->relu;
    for (int f = 0; f < l->spec.filters; f++) {
        float *plane = dst + (size_t)f * fstride;
        if (b->ep->pool) {
            int ph = b->ep->out.h, pw = b->ep->out.w;
            size_t at = ((size_t)image * l->spec.filters + f) * ph * pw;
            const int *arg = b->argmax + at;
            for (int oy = 0; oy < ph; oy++) {
                float *g0 = plane + (size_t)2 * oy * rstride, *g1 = g0 + rstride;
                unpool2x2_rows(dy + at + oy * pw, relu ? y + at + oy * pw : NULL,
                               arg + oy * pw, pw, ow, 2 * oy * ow, g0, g1);
                zero_floats(g0 + 2 * pw, ow - 2 * pw); /* an odd column left out */
                zero_floats(g1 + 2 * pw, ow - 2 * pw);
            }
            for (int oy = 2 * ph; oy < oh; oy++) /* an odd row left out */
                zero_floats(plane + (size_t)oy * rstride, ow);
            continue;
        }
        for (int oy = 0; oy < oh; oy++) {
            size_t at = (((size_t)image * l->spec.filters + f) * oh + oy) * ow;
            float *row = plane + (size_t)oy * rstride;
            if (relu)
                relu_grad_row(dy + at, y + at, ow, row);
            else
                copy_floats(row, dy + at, ow);
        }
    }
}

/* One image through a stride-1 layer: the product over whole padded rows,
 * of which store_output keeps ow columns per row. */
static void forward_shifted(const layer *l, const float *x, float *y, int image, buffers b,
                            int threads)
{
    const cnn_layer_spec *s = &l->spec;
    geometry g = geom(l);
    pad_image(l, x + (size_t)image * cnn_shape_size(l->in), b.padded);
    gemm_threads_rows(0, 0, s->filters, g.span, g.k, l->w, g.k, b.padded, 0, b.rows, 0.0f,
                      b.maps, g.span, threads);
    store_output(l, b.maps, (size_t)g.span, (size_t)g.wp, image, y, &b);
}

/* x padded to whole tiles of the output, for Winograd. */
static void pad_tiles(const layer *l, const float *x, float *tiles_in)
{
    geometry g = geom(l);
    int h = l->in.h, w = l->in.w;
    pad_planes(x, (size_t)h * w, w, l->in.c, h, w, l->spec.ph, l->spec.pw, 2 * g.th + 2,
               2 * g.tw + 2, tiles_in);
}

/* One image through a Winograd layer: x padded to whole tiles, its
 * correlation with the filters (b.u, from winograd_filters), and the
 * outputs that exist of those tiles stored. */
static void forward_winograd(const layer *l, const float *x, float *y, int image, buffers b,
                             int threads)
{
    geometry g = geom(l);
    int c = l->in.c, tw = 2 * g.tw;
    pad_tiles(l, x + (size_t)image * cnn_shape_size(l->in), b.tiles_in);
    winograd_correlate(b.u, l->spec.filters, c, b.tiles_in, tiles_in_plane(&g), tw + 2, g.th,
                       g.tw, b.v, b.m, b.maps, threads);
    store_output(l, b.maps, (size_t)2 * g.th * tw, (size_t)tw, image, y, &b);
}

/* Images [first, last) of a Winograd layer, as backward_range below.  Each
 * image's output gradient goes straight into the middle of b.dtiles_in,
 * padded by 2 - pad (the border, zeroed once, stays zero): the input of
 * the weight gradient's transform and of the input gradient's correlation
 * (with the filters turned half a turn and transposed, b.ut).  The weight
 * gradient's sums accumulate in Winograd's domain (b.du) and come back as
 * 3x3 filters once, at the end. */
static void backward_winograd(const layer *l, const float *x, const float *y, const float *dy,
                              float *dx, float *gw, float *gb, int first, int last, buffers b,
                              int threads)
{
    geometry g = geom(l);
    int filters = l->spec.filters, c = l->in.c, h = l->in.h, w = l->in.w;
    int dpitch = 2 * g.bw + 2;
    size_t dplane = dtiles_in_plane(&g), in_size = cnn_shape_size(l->in);
    float *dyt = b.dtiles_in + (size_t)(2 - l->spec.ph) * dpitch + (2 - l->spec.pw);
    if (last > first)
        memset(b.dtiles_in, 0, sizeof(float) * filters * dplane);
    for (int j = first; j < last; j++) {
        load_gradient(l, dy, y, j, dyt, dplane, (size_t)dpitch, &b);
        if (gb)
            for (int f = 0; f < filters; f++) {
                float sum = sum_floats(b.dtiles_in + f * dplane, (int)dplane);
                gb[f] = j == first ? sum : gb[f] + sum;
            }
        pad_tiles(l, x + (size_t)j * in_size, b.tiles_in);
        winograd_filter_grads_add(b.tiles_in, tiles_in_plane(&g), 2 * g.tw + 2, c, dyt, dplane,
                                  dpitch, filters, g.th, g.tw, b.v, b.m, b.du, j > first);
        if (!dx)
            continue;
        winograd_correlate(b.ut, c, filters, b.dtiles_in, dplane, dpitch, g.bh, g.bw, b.v, b.m,
                           b.dcols, threads);
        for (int ch = 0; ch < c; ch++)
            for (int iy = 0; iy < h; iy++)
                copy_floats(dx + j * in_size + ((size_t)ch * h + iy) * w,
                            b.dcols + ((size_t)ch * 2 * g.bh + iy) * 2 * g.bw, w);
    }
    if (last > first)
        winograd_filter_grads(b.du, filters, c, gw);
}

/* Images [first, last) of a stride-1 layer, as backward_range below. */
static void backward_shifted(const layer *l, const float *x, const float *y, const float *dy,
                             float *dx, float *gw, float *gb, int first, int last, buffers b,
                             int threads)
{
    const cnn_layer_spec *s = &l->spec;
    geometry g = geom(l);
    const size_t *row = b.rows;
    size_t in_size = cnn_shape_size(l->in);
    int oh = l->out.h, ow = l->out.w, h = l->in.h, w = l->in.w;
    float *dys = b.maps; /* dy spread over whole padded rows, zeros between */
    for (int j = first; j < last; j++) {
        float beta = j == first ? 0.0f : 1.0f;
        load_gradient(l, dy, y, j, dys, (size_t)g.span, (size_t)g.wp, &b);
        for (int f = 0; f < s->filters; f++)
            for (int oy = 0; oy < oh; oy++)
                zero_floats(dys + (size_t)f * g.span + (size_t)oy * g.wp + ow, g.wp - ow);
        /* dW += dY * cols^T; the discarded columns add zeros */
        pad_image(l, x + (size_t)j * in_size, b.padded);
        if (g.k < FEW_COLUMNS)
            dot_rows(s->filters, g.k, g.span, dys, g.span, b.padded, 0, row, beta, gw, g.k);
        else
            gemm_threads_rows(0, 1, s->filters, g.k, g.span, dys, g.span, b.padded, 0, row, beta,
                              gw, g.k, threads);
        if (gb)
            for (int f = 0; f < s->filters; f++) {
                float sum = sum_floats(dys + (size_t)f * g.span, g.span);
                gb[f] = beta == 0.0f ? sum : gb[f] + sum;
            }
        if (!dx)
            continue;
        /* dX: each row of W^T dY added back at its offset, then unpadded */
        gemm_threads(1, 0, g.k, g.span, s->filters, l->w, g.k, dys, g.span, 0.0f, b.dcols,
                     g.span, threads);
        memset(b.dpadded, 0, sizeof(float) * g.padded);
        for (int r = 0; r < g.k; r++)
            add_row(b.dcols + (size_t)r * g.span, g.span, b.dpadded + row[r]);
        for (int ch = 0; ch < l->in.c; ch++)
            for (int y = 0; y < h; y++)
                copy_floats(dx + (size_t)j * in_size + ((size_t)ch * h + y) * w,
                            b.dpadded + ((size_t)ch * g.hp + y + s->ph) * g.wp + s->pw, w);
    }
}

/* Unrolls images [first, first + count) side by side into one
 * [K x count*area] matrix: image j's columns start at column j * area. */
static void unroll(const layer *l, const float *x, int first, int count, float *cols)
{
    const cnn_layer_spec *s = &l->spec;
    geometry g = geom(l);
    size_t in_size = cnn_shape_size(l->in), ld = (size_t)count * g.area;
    for (int j = 0; j < count; j++)
        im2col(x + (first + j) * in_size, l->in.c, l->in.h, l->in.w, s->kh, s->kw, s->sh, s->sw,
               s->ph, s->pw, l->out.h, l->out.w, cols + (size_t)j * g.area, ld);
}

/* Images [first, first + count) through the layer, with `threads` threads
 * for the product when one image is all there is. */
static void forward_group(const layer *l, const float *x, float *y, int first, int count,
                          buffers b, int threads)
{
    const cnn_layer_spec *s = &l->spec;
    geometry g = geom(l);
    int width = count * g.area;
    unroll(l, x, first, count, b.cols);
    gemm_threads(0, 0, s->filters, width, g.k, l->w, g.k, b.cols, width, 0.0f, b.maps, width,
                 threads);
    for (int j = 0; j < count; j++) /* image j: columns [j * area, (j + 1) * area) */
        store_output(l, b.maps + (size_t)j * g.area, (size_t)width, (size_t)l->out.w,
                     first + j, y, &b);
}

/* Inference keeps a Winograd layer's transformed filters in the thread's
 * cache, next to the weights they came from, and transforms again only
 * when those differ, bit for bit, from the layer's weights: whatever wrote
 * them (a training step, cnn_net_set_params, a loaded model or the caller
 * through cnn_net_params).  The comparison reads the weights once; the
 * transform read them and wrote 16/9 as many floats (for convnet's second
 * conv, 3.1% of the batch-1 forward, against 1.0% for the comparison).
 * Training changes the weights every step, so it transforms into its
 * scratch as before.  The zeroed cache is consistent already: all-zero
 * weights, and their transform. */
static size_t conv_cache_bytes(const layer *l)
{
    size_t u = whole_lines((size_t)16 * l->in.c * l->spec.filters);
    return geom(l).winograd ? sizeof(float) * (u + l->nweights) : 0;
}

static float *forward_filters(const layer *l, const layer_call *c, float *scratch)
{
    int filters = l->spec.filters, channels = l->in.c;
    if (c->training || !c->cache) {
        winograd_filters(l->w, filters, channels, 0, scratch);
        return scratch;
    }
    float *u = c->cache, *from = u + whole_lines((size_t)16 * channels * filters);
    if (memcmp(from, l->w, sizeof(float) * l->nweights)) {
        winograd_filters(l->w, filters, channels, 0, u);
        memcpy(from, l->w, sizeof(float) * l->nweights);
    }
    return u;
}

/* Images one at a time (stride 1) or a few side by side (im2col); a batch
 * of one image splits its filters among the threads instead. */
static void conv_forward(const layer *l, const float *x, float *y, const layer_call *c)
{
    geometry g = geom(l);
    buffers b = buffers_of(l, c);
    if (g.winograd && c->last > c->first)
        b.u = forward_filters(l, c, b.u);
    for (int first = c->first; first < c->last; first += g.group) {
        int count = c->last - first < g.group ? c->last - first : g.group;
        if (g.winograd)
            forward_winograd(l, x, y, first, b, c->threads);
        else if (g.shifted)
            forward_shifted(l, x, y, first, b, c->threads);
        else
            forward_group(l, x, y, first, count, b, c->threads);
    }
}

/* Images [first, last) of one gradient group: their weight gradients summed
 * into gw, gb, and their input gradients into dx. */
static void backward_range(const layer *l, const float *x, const float *y, const float *dy,
                           float *dx, float *gw, float *gb, int first, int last, buffers b,
                           int threads)
{
    const cnn_layer_spec *s = &l->spec;
    geometry g = geom(l);
    size_t in_size = cnn_shape_size(l->in);
    for (int at = first; at < last; at += g.group) {
        int count = last - at < g.group ? last - at : g.group, width = count * g.area;
        float beta = at == first ? 0.0f : 1.0f;
        const float *dyg = b.maps; /* dy in the grouped layout */
        for (int j = 0; j < count; j++)
            load_gradient(l, dy, y, at + j, b.maps + (size_t)j * g.area, (size_t)width,
                          (size_t)l->out.w, &b);
        unroll(l, x, at, count, b.cols);
        /* dW += dY * cols^T */
        if (g.k < FEW_COLUMNS)
            dot_rows(s->filters, g.k, width, dyg, width, b.cols, width, NULL, beta, gw, g.k);
        else
            gemm_threads(0, 1, s->filters, g.k, width, dyg, width, b.cols, width, beta, gw, g.k,
                         threads);
        if (gb)
            for (int f = 0; f < s->filters; f++) {
                float sum = sum_floats(dyg + (size_t)f * width, width);
                gb[f] = beta == 0.0f ? sum : gb[f] + sum;
            }
        if (dx) { /* dX = col2im(W^T * dY), image by image */
            gemm_threads(1, 0, g.k, width, s->filters, l->w, g.k, dyg, width, 0.0f, b.dcols,
                         width, threads);
            for (int j = 0; j < count; j++) {
                float *dxi = dx + (at + j) * in_size;
                memset(dxi, 0, sizeof(float) * in_size);
                col2im(b.dcols + (size_t)j * g.area, (size_t)width, l->in.c, l->in.h, l->in.w,
                       s->kh, s->kw, s->sh, s->sw, s->ph, s->pw, l->out.h, l->out.w, dxi);
            }
        }
    }
}

/* The gradient groups that lie in [first, last) (the executor gives a
 * thread whole groups): their input gradients, and each group's weight
 * gradient summed into its own partial; conv_grads adds the partials.  A
 * batch of one image is one group, written straight into dw. */
static void conv_backward(const layer *l, const float *x, const float *y, const float *dy,
                          float *dx, const layer_call *c)
{
    int n = c->n;
    buffers b = buffers_of(l, c);
    if (geom(l).winograd && dx && c->last > c->first)
        winograd_filters(l->w, l->in.c, l->spec.filters, 1, b.ut);
    void (*range)(const layer *, const float *, const float *, const float *, float *, float *,
                  float *, int, int, buffers, int) =
        geom(l).winograd ? backward_winograd : geom(l).shifted ? backward_shifted : backward_range;
    if (n == 1) {
        if (c->last > c->first)
            range(l, x, y, dy, dx, l->dw, l->db, 0, n, b, c->threads);
        return;
    }
    size_t stride = partial_stride(l);
    for (int gi = 0; gi < GRAD_GROUPS; gi++) {
        int first = group_first(n, gi), last = group_first(n, gi + 1);
        if (first == last || first < c->first || last > c->last)
            continue;
        float *gw = (float *)c->shared + gi * stride;
        range(l, x, y, dy, dx, gw, l->db ? gw + l->nweights : NULL, first, last, b, 1);
    }
}

/* dw and db (adjacent in the gradient buffer, as in the partials): this
 * part's whole lines of them, each the tree sum of this process's groups'
 * partials (a batch of one image has its gradient from the backward
 * already). */
static int conv_grads(const layer *l, const float *x, const float *dy, const layer_call *c,
                      int part, int parts, param_range done[2])
{
    (void)x, (void)dy;
    size_t np = l->nweights + l->nbias, lines = (np + 15) / 16;
    size_t p0 = lines * part / parts * 16, p1 = lines * (part + 1) / parts * 16;
    if (p1 > np)
        p1 = np;
    if (c->n > 1)
        group_tree(c->shared, partial_stride(l), c->groups, p0, p1, l->dw);
    done[0] = (param_range){p0, p1};
    return p1 > p0;
}

const char *conv_method(const layer *l)
{
    geometry g = geom(l);
    return g.winograd ? "winograd" : g.shifted ? "shifted" : "im2col";
}

static double conv_flops(const layer *l)
{
    return 2.0 * (double)cnn_shape_size(l->out) * l->in.c * l->spec.kh * l->spec.kw;
}

const layer_ops conv_ops = {
    .setup = conv_setup,
    .scratch_bytes = conv_scratch_bytes,
    .cache_bytes = conv_cache_bytes,
    .forward = conv_forward,
    .backward = conv_backward,
    .grads = conv_grads,
    .flops = conv_flops,
};

/* conv FILTERS KHxKW [stride S] [pad P|PHxPW|T,L,B,R|same] [nobias] [init STD] */
const layer_option conv_options[] = {
    {NULL, OPT_INT, "the number of filters", offsetof(cnn_layer_spec, filters), 1, 65536, 0, 0},
    {NULL, OPT_DIMS, "the filter size", offsetof(cnn_layer_spec, kh), 1, 1024, 0, 0},
    {"stride", OPT_DIMS, "stride", offsetof(cnn_layer_spec, sh), 1, 1024, 1, 0},
    {"pad", OPT_PAD, "pad", offsetof(cnn_layer_spec, ph), 0, 1024, 0, 0},
    {"nobias", OPT_FLAG, "nobias", offsetof(cnn_layer_spec, no_bias), 0, 1, 0, OPTION_ONLY_LEARNING},
    {"init", OPT_FLOAT, "init (the weights' standard deviation)",
     offsetof(cnn_layer_spec, init_std), 1e-12f, 100.0f, 0, OPTION_ONLY_LEARNING},
    {0},
};
