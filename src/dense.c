/* Fully connected: every output is a weighted sum of the whole (flattened)
 * input.  Weights are (outputs, inputs) as in PyTorch:  y = x W^T + b. */
#include "kernels/kernels.h"
#include "layer.h"

#include <stddef.h>

static int dense_setup(layer *l, cnn_error *err)
{
    if (l->spec.filters < 1)
        return cnn_fail(err, CNN_EINVAL, "dense needs at least 1 output");
    size_t in = cnn_shape_size(l->in);
    l->out = (cnn_shape){l->spec.filters, 1, 1};
    l->nweights = (size_t)l->spec.filters * in;
    l->nbias = l->spec.no_bias ? 0 : (size_t)l->spec.filters;
    return CNN_OK;
}

/* dst = a * x along a row: one image's weight gradient, row by row (a
 * vectorised clone per instruction set, as the optimiser's update). */
static VECTOR_CLONES void scaled_row(float a, const float *restrict x, int n,
                                     float *restrict dst)
{
    for (int i = 0; i < n; i++)
        dst[i] = a * x[i];
}

static void dense_forward(const layer *l, const float *x, float *y, const layer_call *c)
{
    int in = (int)cnn_shape_size(l->in), out = l->spec.filters, rows = c->last - c->first;
    x += (size_t)c->first * in;
    y += (size_t)c->first * out;
    if (c->n == 1) /* one image: dot products with W's rows, no packing */
        dot_rows(1, out, in, x, in, l->w, in, NULL, 0.0f, y, out);
    else
        gemm(0, 1, rows, out, in, x, in, l->w, in, 0.0f, y, out);
    if (l->b)
        for (int i = 0; i < rows; i++)
            for (int o = 0; o < out; o++)
                y[(size_t)i * out + o] += l->b[o];
}

/* dX = dY W, image by image; the weight gradient waits for every image
 * (dense_grads). */
static void dense_backward(const layer *l, const float *x, const float *y, const float *dy,
                           float *dx, const layer_call *c)
{
    (void)x, (void)y;
    int in = (int)cnn_shape_size(l->in), out = l->spec.filters;
    if (dx)
        gemm_threads(0, 0, c->last - c->first, in, out, dy + (size_t)c->first * out, out, l->w,
                     in, 0.0f, dx + (size_t)c->first * in, in, c->threads);
}

/* The weight gradient is made tile by tile: each gradient group's
 * dY_g^T X_g for one tile into this thread's scratch, then the tile's tree
 * sum into dW, while the groups' tiles are still in cache. */
enum { TILE_ROWS = 64, TILE_COLS = 256 };

static size_t dense_scratch_bytes(const layer *l, const epilogue *ep)
{
    (void)l, (void)ep;
    return sizeof(float) * GRAD_GROUPS * (TILE_ROWS * TILE_COLS + TILE_ROWS);
}

/* dW's rows [o0, o0 + rows), columns [c0, c0 + cols): the tree sum of
 * each of this process's groups' dY_g^T X_g. */
static void weight_tile(const layer *l, const float *x, const float *dy, const layer_call *c,
                        int o0, int rows, int c0, int cols, float *tiles)
{
    int n = c->n, in = (int)cnn_shape_size(l->in), out = l->spec.filters;
    size_t stride = (size_t)rows * cols;
    for (int g = 0; g < GRAD_GROUPS; g++) {
        int first = group_first(n, g), count = group_first(n, g + 1) - first;
        if (c->groups >> g & 1)
            gemm(1, 0, rows, cols, count, dy + (size_t)first * out + o0, out,
                 x + (size_t)first * in + c0, in, 0.0f, tiles + g * stride, cols);
    }
    for (int r = 0; r < rows; r++)
        group_tree(tiles + (size_t)r * cols, stride, c->groups, 0, (size_t)cols,
                   l->dw + (size_t)(o0 + r) * in + c0);
}

/* db's [o0, o1): per group, the images' dy in order; then the tree. */
static void bias_grads(const layer *l, const float *dy, const layer_call *c, int o0, int o1,
                       float *sums)
{
    int n = c->n, out = l->spec.filters, rows = o1 - o0;
    for (int g = 0; g < GRAD_GROUPS; g++) {
        if (!(c->groups >> g & 1))
            continue;
        for (int o = o0; o < o1; o++) {
            float sum = 0.0f;
            for (int i = group_first(n, g); i < group_first(n, g + 1); i++)
                sum += dy[(size_t)i * out + o];
            sums[g * rows + o - o0] = sum;
        }
    }
    group_tree(sums, (size_t)rows, c->groups, 0, (size_t)rows, l->db + o0);
}

/* dW = dY^T X and db for W's rows [o0, o1) of this part, summed per
 * gradient group and then along the groups' tree whoever computes them.
 * For one image it is an outer product, which needs no GEMM machinery. */
static int dense_grads(const layer *l, const float *x, const float *dy, const layer_call *c,
                       int part, int parts, param_range done[2])
{
    int n = c->n, in = (int)cnn_shape_size(l->in), out = l->spec.filters;
    int o0 = (int)((long)out * part / parts), o1 = (int)((long)out * (part + 1) / parts);
    float *tiles = c->scratch, *sums = tiles + GRAD_GROUPS * TILE_ROWS * TILE_COLS;
    if (n == 1) {
        for (int o = o0; c->groups && o < o1; o++) {
            scaled_row(dy[o], x, in, l->dw + (size_t)o * in);
            if (l->db)
                l->db[o] = dy[o];
        }
    } else {
        for (int r = o0; r < o1; r += TILE_ROWS) {
            int rows = o1 - r < TILE_ROWS ? o1 - r : TILE_ROWS;
            for (int col = 0; col < in; col += TILE_COLS)
                weight_tile(l, x, dy, c, r, rows, col, in - col < TILE_COLS ? in - col : TILE_COLS,
                            tiles);
            if (l->db)
                bias_grads(l, dy, c, r, r + rows, sums);
        }
    }
    done[0] = (param_range){(size_t)o0 * in, (size_t)o1 * in};
    done[1] = (param_range){l->nweights + o0, l->nweights + o1};
    return o1 > o0 ? (l->db ? 2 : 1) : 0;
}

static double dense_flops(const layer *l)
{
    return 2.0 * (double)cnn_shape_size(l->out) * (double)cnn_shape_size(l->in);
}

const layer_ops dense_ops = {
    .setup = dense_setup,
    .scratch_bytes = dense_scratch_bytes,
    .forward = dense_forward,
    .backward = dense_backward,
    .grads = dense_grads,
    .flops = dense_flops,
};

/* dense OUTPUTS [nobias] [init STD] */
const layer_option dense_options[] = {
    {NULL, OPT_INT, "the number of outputs", offsetof(cnn_layer_spec, filters), 1, 1 << 24, 0, 0},
    {"nobias", OPT_FLAG, "nobias", offsetof(cnn_layer_spec, no_bias), 0, 1, 0, OPTION_ONLY_LEARNING},
    {"init", OPT_FLOAT, "init (the weights' standard deviation)",
     offsetof(cnn_layer_spec, init_std), 1e-12f, 100.0f, 0, OPTION_ONLY_LEARNING},
    {0},
};
