/* An ONNX model (opsets 7 to 17) as a cnn network.  The graph must be one
 * path from its input to its output: each node on it reads the tensor the
 * node before it wrote, and its weights are initializers or Constants.
 * The node mapping:
 *
 *   Conv                  conv (pads asymmetric or auto_pad; group 1, or a
 *                         depthwise all-ones Conv: sumpool, as cnn exports)
 *   MaxPool, AveragePool  maxpool, avgpool (pads; ceil_mode as end pads;
 *                         count_include_pad)
 *   Gemm, MatMul [+ Add]  dense (transB, alpha, beta folded in)
 *   BatchNormalization    folded into the Conv or Gemm before it
 *   Relu LeakyRelu Sigmoid Tanh Softmax Flatten   the same
 *   Reshape               to (N, values): flatten
 *   Dropout               dropout (the identity in inference)
 *   Identity, Pad of 0    nothing
 *   Transpose             first, perm (0,3,1,2): an NHWC input
 *   Div 255, Sub, Div     first, by scalars: the input's normalisation
 *
 * Anything else is refused with a message naming the node, its op and
 * what is supported; nothing is built from a graph that is refused. */
#include "file.h"
#include "onnx.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SUPPORTED[] =
    "cnn imports Conv, MaxPool, AveragePool (and a Pad of zeros before it), Gemm, MatMul+Add, "
    "BatchNormalization after Conv or Gemm, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Flatten, "
    "Reshape to (N, values), Dropout, Identity, Constant, a leading NHWC Transpose and scalar "
    "Div/Sub normalisation";

/* A layer read from the graph, built into the network once all is read. */
typedef struct {
    cnn_layer_spec spec;
    float *w, *b; /* owned */
    size_t nw, nb;
    const char *output; /* the tensor it wrote (BatchNormalization folds) */
} read_layer;

typedef struct {
    const Onnx__GraphProto *g;
    int64_t opset; /* as the file has it: an int would read 2^32 + 13 as 13 */
    tensor *consts;
    size_t nconsts, cap;
    const char *cur;   /* the data path's tensor */
    cnn_shape shape;   /* its shape, per image */
    int flat;          /* it is (N, values) */
    cnn_shape input;
    const char *input_name;
    int pad[4];             /* a Pad's top, left, bottom, right before a pool */
    const char *pad_before; /* the tensor it wrote (NULL: none pending) */
    float mean, std;   /* the normalisation read so far */
    int norm_step;     /* 0 nothing yet; 1 after Div 255; 2 after Sub; 3 after Div */
    read_layer *layers;
    int nlayers, max_layers;
    const Onnx__NodeProto *node;
    int node_index;
    cnn_error *err;
} importer;

static int refuse(importer *im, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const Onnx__NodeProto *n = im->node;
    char where[300] = "the graph";
    if (n && n->name && *n->name)
        snprintf(where, sizeof where, "node '%.200s' (%.60s)", n->name, n->op_type);
    else if (n)
        snprintf(where, sizeof where, "node %d (%.60s)", im->node_index, n->op_type);
    return cnn_fail(im->err, CNN_EFORMAT, "%s: %s; %s", where, why, SUPPORTED);
}

/* ---- tensors known before the data reaches them ------------------------ */

static const tensor *constant(const importer *im, const char *name)
{
    for (size_t i = 0; name && *name && i < im->nconsts; i++)
        if (strcmp(im->consts[i].name, name) == 0)
            return &im->consts[i];
    return NULL;
}

static int add_constant(importer *im, const Onnx__TensorProto *t, const char *name)
{
    if (im->nconsts == im->cap) {
        size_t cap = im->cap ? 2 * im->cap : 16;
        tensor *grown = realloc(im->consts, cap * sizeof *grown);
        if (!grown)
            return cnn_fail(im->err, CNN_ENOMEM, "out of memory");
        im->consts = grown, im->cap = cap;
    }
    tensor *c = &im->consts[im->nconsts];
    int rc = tensor_read(t, c, im->err);
    if (rc)
        return rc;
    if (name)
        c->name = name;
    im->nconsts++;
    return CNN_OK;
}

/* Node input i as a constant of `count` values (0: any), or an error. */
static const tensor *weight(importer *im, size_t i, size_t count, const char *what)
{
    const Onnx__NodeProto *n = im->node;
    const tensor *t = i < n->n_input ? constant(im, n->input[i]) : NULL;
    if (!t) {
        refuse(im, "its %s ('%s') is not an initializer or a Constant", what,
               i < n->n_input ? n->input[i] : "");
        return NULL;
    }
    if (count && t->count != count) {
        refuse(im, "its %s has %zu values, %zu expected", what, t->count, count);
        return NULL;
    }
    return t;
}

static int is_scalar(const tensor *t) { return t && t->count == 1; }

/* ---- the layers ---------------------------------------------------------- */

static read_layer *add_layer(importer *im, cnn_layer_kind kind)
{
    if (im->nlayers == im->max_layers) {
        refuse(im, "more layers than the graph has nodes");
        return NULL;
    }
    read_layer *l = &im->layers[im->nlayers++];
    memset(l, 0, sizeof *l);
    l->spec.kind = kind;
    return l;
}

static float *copy_floats(importer *im, const float *src, size_t n)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p)
        cnn_fail(im->err, CNN_ENOMEM, "out of memory");
    else if (src)
        memcpy(p, src, sizeof(float) * n);
    return p;
}

/* cnn's (PyTorch's) output size of a window: floor, or with ceil mode the
 * ceiling, less a last window that would start in the end padding. */
static int window_size(int in, int k, int s, int begin, int end, int ceil_mode)
{
    int span = in + begin + end - k;
    if (span < 0)
        return 0;
    int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    return ceil_mode && (out - 1) * s >= in + begin ? out - 1 : out;
}

typedef struct {
    int kh, kw, sh, sw, top, left, bottom, right;
} window_attrs;

/* kernel_shape (or the weight's), strides, pads, auto_pad, dilations of a
 * Conv or pooling node over the current shape. */
static int read_window(importer *im, int kh, int kw, window_attrs *w)
{
    const Onnx__NodeProto *n = im->node;
    int64_t k[2] = {kh, kw}, s[2] = {1, 1}, p[4] = {0, 0, 0, 0}, d[2] = {1, 1};
    char pad[32];
    int nk = attr_ints(n, "kernel_shape", k, 2), ns = attr_ints(n, "strides", s, 2);
    int np = attr_ints(n, "pads", p, 4), nd = attr_ints(n, "dilations", d, 2);
    if (nk < 0 || ns < 0 || np < 0 || nd < 0 || (nk && nk != 2) || (ns && ns != 2) ||
        (np && np != 4) || (nd && nd != 2) || (!nk && kh < 1))
        return refuse(im, "only 2-D windows (kernel_shape, strides, dilations of 2, pads of 4)");
    if (d[0] != 1 || d[1] != 1)
        return refuse(im, "dilations other than 1");
    for (int i = 0; i < 2; i++)
        if (k[i] < 1 || k[i] > 1024 || s[i] < 1 || s[i] > 1024)
            return refuse(im, "a window or stride outside 1..1024");
    for (int i = 0; i < 4; i++)
        if (p[i] < 0 || p[i] >= k[i % 2])
            return refuse(im, "pads outside 0..window-1");
    const char *mode = attr_string(n, "auto_pad", pad, sizeof pad);
    int in[2] = {im->shape.h, im->shape.w};
    if (strcmp(mode, "SAME_UPPER") == 0 || strcmp(mode, "SAME_LOWER") == 0) {
        for (int i = 0; i < 2; i++) { /* output ceil(in / s) */
            long total = ((long)in[i] + s[i] - 1) / s[i] * s[i] - s[i] + k[i] - in[i];
            total = total > 0 ? total : 0;
            p[i] = mode[5] == 'U' ? total / 2 : total - total / 2;
            p[i + 2] = total - p[i];
        }
    } else if (strcmp(mode, "VALID") == 0) {
        memset(p, 0, sizeof p);
    } else if (*mode && strcmp(mode, "NOTSET") != 0) {
        return refuse(im, "auto_pad '%s'", mode);
    }
    *w = (window_attrs){(int)k[0], (int)k[1], (int)s[0], (int)s[1],
                        (int)p[0], (int)p[1], (int)p[2], (int)p[3]};
    return CNN_OK;
}

static void set_window(cnn_layer_spec *s, const window_attrs *w)
{
    s->kh = w->kh, s->kw = w->kw, s->sh = w->sh, s->sw = w->sw;
    s->ph = w->top, s->pw = w->left, s->ph_end = w->bottom, s->pw_end = w->right;
    s->pad_asym = w->top != w->bottom || w->left != w->right;
}

/* cur becomes the node's output, of this shape. */
static void advance(importer *im, cnn_shape shape, int flat)
{
    im->cur = im->node->output[0];
    im->shape = shape, im->flat = flat;
}

/* ---- one node each ------------------------------------------------------- */

/* A depthwise Conv of all-ones weights and no bias: cnn's own sumpool. */
static int is_sum_pool(const tensor *w, int64_t group, int channels, int has_bias)
{
    if (group != channels || w->dims[1] != 1 || w->dims[0] != channels || has_bias)
        return 0;
    for (size_t i = 0; i < w->count; i++)
        if (w->data[i] != 1.0f)
            return 0;
    return 1;
}

static int read_conv(importer *im)
{
    const Onnx__NodeProto *n = im->node;
    const tensor *w = weight(im, 1, 0, "weight");
    if (!w)
        return im->err->status;
    if (w->ndims != 4 || im->flat)
        return refuse(im, "only 2-D convolutions of NCHW images");
    if (w->dims[0] < 1) /* a BatchNormalization after it would divide by 0 */
        return refuse(im, "a weight of no filters");
    /* group as int64: a group of 2^32 + 1 is not group 1 */
    int64_t group = attr_int(n, "group", 1);
    int c = im->shape.c;
    const tensor *b = n->n_input > 2 && *n->input[2] ? weight(im, 2, (size_t)w->dims[0], "bias")
                                                     : NULL;
    if (n->n_input > 2 && *n->input[2] && !b)
        return im->err->status;
    window_attrs win;
    int rc = read_window(im, (int)w->dims[2], (int)w->dims[3], &win);
    if (rc)
        return rc;
    /* ONNX: kernel_shape, when given, is the weight's; a (1, 9) weight read
     * as 3x3 would be the same count of other weights */
    if (win.kh != w->dims[2] || win.kw != w->dims[3])
        return refuse(im, "a kernel_shape of %dx%d for a weight of %lldx%lld", win.kh, win.kw,
                      (long long)w->dims[2], (long long)w->dims[3]);
    int sum = group != 1 && is_sum_pool(w, group, c, b != NULL);
    if (!sum && (group != 1 || w->dims[1] != c))
        return refuse(im, "group %lld over %d channels (only group 1, or cnn's all-ones "
                          "depthwise sum pooling)", (long long)group, c);
    read_layer *l = add_layer(im, sum ? CNN_SUMPOOL : CNN_CONV);
    if (!l)
        return im->err->status;
    set_window(&l->spec, &win);
    if (!sum) {
        l->spec.filters = (int)w->dims[0];
        l->spec.no_bias = b == NULL;
        l->nw = w->count, l->nb = b ? b->count : 0;
        if (!(l->w = copy_floats(im, w->data, l->nw)) || (b && !(l->b = copy_floats(im, b->data, l->nb))))
            return CNN_ENOMEM;
    }
    l->output = n->output[0];
    cnn_shape out = {sum ? c : (int)w->dims[0],
                     window_size(im->shape.h, win.kh, win.sh, win.top, win.bottom, 0),
                     window_size(im->shape.w, win.kw, win.sw, win.left, win.right, 0)};
    if (out.h < 1 || out.w < 1)
        return refuse(im, "the window does not fit its %dx%d input", im->shape.h, im->shape.w);
    if (cnn_shape_size(out) > MAX_VALUES) /* filters and pads grow an image: past an int */
        return refuse(im, "an output of %zu values (at most 2^28)", cnn_shape_size(out));
    advance(im, out, 0);
    return CNN_OK;
}

/* ceil_mode as end pads: ONNX's ceil output size, reached in floor mode. */
static int more_pad(int in, int k, int s, int begin, int end)
{
    int out = (in + begin + end - k + s - 1) / s + 1, need = (out - 1) * s + k - (in + begin + end);
    return need > 0 ? need : 0;
}

static void ceil_as_pads(const cnn_shape *in, window_attrs *w)
{
    w->bottom += more_pad(in->h, w->kh, w->sh, w->top, w->bottom);
    w->right += more_pad(in->w, w->kw, w->sw, w->left, w->right);
}

/* An AveragePool after a Pad of zeros: an avgpool with that padding and
 * countpad, and ceil mode when the pool pads the end further (cnn's export
 * of a ceil-mode countpad pool). */
static int padded_average(importer *im, window_attrs *win)
{
    window_attrs w = *win;
    const int *p = im->pad;
    int extra = attr_int(im->node, "ceil_mode", 0) || w.bottom || w.right;
    cnn_shape in = im->shape;
    int oh = window_size(in.h + p[0] + p[2], w.kh, w.sh, 0, w.bottom, 0);
    int ow = window_size(in.w + p[1] + p[3], w.kw, w.sw, 0, w.right, 0);
    if (attr_int(im->node, "ceil_mode", 0))
        oh = (in.h + p[0] + p[2] + w.bottom - w.kh + w.sh - 1) / w.sh + 1,
        ow = (in.w + p[1] + p[3] + w.right - w.kw + w.sw - 1) / w.sw + 1;
    w.top = p[0], w.left = p[1], w.bottom = p[2], w.right = p[3];
    if (oh != window_size(in.h, w.kh, w.sh, p[0], p[2], extra) ||
        ow != window_size(in.w, w.kw, w.sw, p[1], p[3], extra) || p[0] >= w.kh || p[2] >= w.kh ||
        p[1] >= w.kw || p[3] >= w.kw)
        return refuse(im, "a Pad and an AveragePool that no padded average gives");
    read_layer *l = add_layer(im, CNN_AVGPOOL);
    if (!l)
        return im->err->status;
    set_window(&l->spec, &w);
    l->spec.count_pad = 1, l->spec.ceil_mode = extra;
    l->output = im->node->output[0];
    im->pad_before = NULL;
    advance(im, (cnn_shape){in.c, oh, ow}, 0);
    return CNN_OK;
}

static int read_pool(importer *im, cnn_layer_kind kind)
{
    const Onnx__NodeProto *n = im->node;
    if (im->flat)
        return refuse(im, "pooling over a flat tensor");
    if (n->n_output > 1 && *n->output[1])
        return refuse(im, "the Indices output");
    if (attr_int(n, "storage_order", 0))
        return refuse(im, "storage_order 1");
    window_attrs win;
    int rc = read_window(im, 0, 0, &win);
    if (rc)
        return rc;
    int count_pad = kind == CNN_AVGPOOL && attr_int(n, "count_include_pad", 0);
    if (im->pad_before) { /* Pad, then an average: padding that counts */
        if (kind != CNN_AVGPOOL || count_pad || win.top || win.left)
            return refuse(im, "a Pad before other than an AveragePool without pads of its own");
        return padded_average(im, &win);
    }
    if (attr_int(n, "ceil_mode", 0)) {
        if (count_pad)
            return refuse(im, "ceil_mode with count_include_pad");
        ceil_as_pads(&im->shape, &win);
        if (win.bottom >= win.kh || win.right >= win.kw)
            return refuse(im, "ceil_mode reaching a window past the padding");
    }
    read_layer *l = add_layer(im, kind);
    if (!l)
        return im->err->status;
    set_window(&l->spec, &win);
    l->spec.count_pad = count_pad;
    l->output = n->output[0];
    cnn_shape out = {im->shape.c, window_size(im->shape.h, win.kh, win.sh, win.top, win.bottom, 0),
                     window_size(im->shape.w, win.kw, win.sw, win.left, win.right, 0)};
    if (out.h < 1 || out.w < 1)
        return refuse(im, "the window does not fit its %dx%d input", im->shape.h, im->shape.w);
    if (cnn_shape_size(out) > MAX_VALUES) /* pads grow an image, one pool after another */
        return refuse(im, "an output of %zu values (at most 2^28)", cnn_shape_size(out));
    advance(im, out, 0);
    return CNN_OK;
}

/* A dense layer of `outputs` from weights w (out x in, or in x out when
 * transposed), scaled by alpha. */
static read_layer *dense(importer *im, const tensor *w, int transposed, float alpha)
{
    size_t in = cnn_shape_size(im->shape);
    if (!im->flat) {
        refuse(im, "a matrix product of a 4-D tensor (Flatten it first)");
        return NULL;
    }
    if (w->ndims != 2 || (size_t)w->dims[transposed ? 0 : 1] != in) {
        refuse(im, "weights that do not fit its %zu inputs", in);
        return NULL;
    }
    if (w->count == 0) { /* a BatchNormalization after it would divide by 0 */
        refuse(im, "a weight of no outputs");
        return NULL;
    }
    int out = (int)w->dims[transposed ? 1 : 0];
    read_layer *l = add_layer(im, CNN_DENSE);
    if (!l || !(l->w = copy_floats(im, NULL, w->count)))
        return NULL;
    for (int o = 0; o < out; o++)
        for (size_t i = 0; i < in; i++)
            l->w[(size_t)o * in + i] =
                alpha * w->data[transposed ? i * (size_t)out + o : (size_t)o * in + i];
    l->spec.filters = out, l->spec.no_bias = 1, l->nw = w->count;
    l->output = im->node->output[0];
    advance(im, (cnn_shape){out, 1, 1}, 1);
    return l;
}

/* A bias for the dense layer l: c (one value, or one per output) x beta. */
static int dense_bias(importer *im, read_layer *l, const tensor *c, float beta)
{
    int out = l->spec.filters;
    if (c->count != 1 && c->count != (size_t)out)
        return refuse(im, "a bias of %zu values for %d outputs", c->count, out);
    if (!(l->b = copy_floats(im, NULL, (size_t)out)))
        return CNN_ENOMEM;
    for (int o = 0; o < out; o++)
        l->b[o] = beta * c->data[c->count == 1 ? 0 : o];
    l->nb = (size_t)out, l->spec.no_bias = 0;
    return CNN_OK;
}

static int read_gemm(importer *im)
{
    const Onnx__NodeProto *n = im->node;
    if (attr_int(n, "transA", 0))
        return refuse(im, "transA on the data");
    const tensor *w = weight(im, 1, 0, "weight (B)");
    if (!w)
        return im->err->status;
    read_layer *l = dense(im, w, !attr_int(n, "transB", 0), attr_float(n, "alpha", 1.0f));
    if (!l)
        return im->err->status;
    if (n->n_input > 2 && *n->input[2]) {
        const tensor *c = weight(im, 2, 0, "bias (C)");
        return c ? dense_bias(im, l, c, attr_float(n, "beta", 1.0f)) : im->err->status;
    }
    return CNN_OK;
}

static int read_matmul(importer *im)
{
    const tensor *w = weight(im, 1, 0, "weight");
    return !w ? im->err->status : dense(im, w, 1, 1.0f) ? CNN_OK : im->err->status;
}

/* Add right after a MatMul: its bias. */
static int read_add(importer *im)
{
    read_layer *l = im->nlayers ? &im->layers[im->nlayers - 1] : NULL;
    const tensor *c = im->node->n_input > 1 ? constant(im, im->node->input[1]) : NULL;
    if (!l || l->spec.kind != CNN_DENSE || l->b || !c || strcmp(l->output, im->cur) != 0)
        return refuse(im, "an Add that is not a MatMul's bias");
    int rc = dense_bias(im, l, c, 1.0f);
    if (rc == CNN_OK)
        l->output = im->node->output[0], advance(im, im->shape, im->flat);
    return rc;
}

/* BatchNormalization right after a Conv or Gemm: folded into its weights,
 * y = (x - mean) * scale / sqrt(var + eps) + B. */
static int read_batchnorm(importer *im)
{
    read_layer *l = im->nlayers ? &im->layers[im->nlayers - 1] : NULL;
    if (!l || (l->spec.kind != CNN_CONV && l->spec.kind != CNN_DENSE) ||
        strcmp(l->output, im->cur) != 0)
        return refuse(im, "a BatchNormalization that does not follow a Conv or Gemm");
    if (im->node->n_output > 1 && *im->node->output[1])
        return refuse(im, "training mode (the running statistics as outputs)");
    size_t c = (size_t)l->spec.filters;
    const tensor *t[4];
    const char *what[4] = {"scale", "B", "mean", "var"};
    for (int i = 0; i < 4; i++)
        if (!(t[i] = weight(im, (size_t)i + 1, c, what[i])))
            return im->err->status;
    if (!l->b && !(l->b = copy_floats(im, NULL, c)))
        return CNN_ENOMEM;
    if (l->spec.no_bias)
        memset(l->b, 0, sizeof(float) * c), l->nb = c, l->spec.no_bias = 0;
    float eps = attr_float(im->node, "epsilon", 1e-5f);
    size_t per = l->nw / c;
    for (size_t o = 0; o < c; o++) {
        float k = t[0]->data[o] / sqrtf(t[3]->data[o] + eps);
        for (size_t i = 0; i < per; i++)
            l->w[o * per + i] *= k;
        l->b[o] = (l->b[o] - t[2]->data[o]) * k + t[1]->data[o];
    }
    l->output = im->node->output[0];
    advance(im, im->shape, im->flat);
    return CNN_OK;
}

/* Flatten, or a Reshape to (N, values): a flatten layer (nothing when the
 * tensor is flat already). */
static int read_flatten(importer *im, int reshape)
{
    size_t values = cnn_shape_size(im->shape);
    if (reshape) {
        const tensor *s = weight(im, 1, 2, "shape");
        if (!s)
            return im->err->status;
        float a = s->data[0], b = s->data[1];
        int ok = ((a == 0 || a == -1) && (b == -1 || b == (float)values)) ||
                 (a == -1 && b == (float)values);
        if (!ok || attr_int(im->node, "allowzero", 0))
            return refuse(im, "a Reshape other than to (N, values)");
    } else {
        int64_t axis = attr_int(im->node, "axis", 1);
        if (axis != 1 && !(axis == -3 && !im->flat) && !(axis == -1 && im->flat))
            return refuse(im, "a Flatten on axis %lld (only 1: each image to a vector)",
                          (long long)axis);
    }
    if (!im->flat) {
        read_layer *l = add_layer(im, CNN_FLATTEN);
        if (!l)
            return im->err->status;
        l->output = im->node->output[0];
    }
    advance(im, (cnn_shape){(int)values, 1, 1}, 1);
    return CNN_OK;
}

/* Softmax over each image's values: axis 1 of a flat tensor (or, before
 * opset 13, of a 4-D one, which it then treats as flat). */
static int read_softmax(importer *im)
{
    int64_t axis = attr_int(im->node, "axis", im->opset < 13 ? 1 : -1);
    int whole = im->flat ? axis == 1 || axis == -1 : im->opset < 13 && axis == 1;
    if (!whole && !(im->shape.h == 1 && im->shape.w == 1 && (axis == 1 || axis == -3)))
        return refuse(im, "a Softmax on axis %lld of a %s tensor (only over each image's "
                          "values)", (long long)axis, im->flat ? "2-D" : "4-D");
    read_layer *l = add_layer(im, CNN_SOFTMAX);
    if (!l)
        return im->err->status;
    l->output = im->node->output[0];
    advance(im, (cnn_shape){(int)cnn_shape_size(im->shape), 1, 1}, 1);
    return CNN_OK;
}

static int read_activation(importer *im, cnn_layer_kind kind)
{
    read_layer *l = add_layer(im, kind);
    if (!l)
        return im->err->status;
    if (kind == CNN_LEAKY_RELU)
        l->spec.alpha = attr_float(im->node, "alpha", 0.01f);
    l->output = im->node->output[0];
    advance(im, im->shape, im->flat);
    return CNN_OK;
}

/* Before any layer: Div by 255, Sub a scalar, Div by a scalar, in this
 * order (each may be missing): the normalisation cnn applies to pixels. */
static int read_normalisation(importer *im, int div)
{
    const tensor *c = im->node->n_input > 1 ? constant(im, im->node->input[1]) : NULL;
    if (im->nlayers || !is_scalar(c))
        return refuse(im, "arithmetic other than the input's scalar normalisation");
    float v = c->data[0];
    if (div && im->norm_step == 0 && v == 255.0f)
        im->norm_step = 1;
    else if (!div && im->norm_step < 2)
        im->mean = v, im->norm_step = 2;
    else if (div && im->norm_step < 3 && v != 0.0f)
        im->std = v, im->norm_step = 3;
    else
        return refuse(im, "a normalisation other than Div 255, Sub mean, Div std");
    advance(im, im->shape, im->flat);
    return CNN_OK;
}

/* The NHWC input of a TensorFlow-made graph: (0, 3, 1, 2) as the very first
 * node; the image is then C x H x W from the input's H, W, C. */
static int read_transpose(importer *im)
{
    int64_t perm[4];
    int n = attr_ints(im->node, "perm", perm, 4);
    if (n != 4 || perm[0] != 0 || perm[1] != 3 || perm[2] != 1 || perm[3] != 2 ||
        strcmp(im->cur, im->input_name) != 0 || im->flat)
        return refuse(im, "a Transpose other than the first, of an NHWC input");
    cnn_shape nhwc = im->shape; /* read as (C, H, W) = (H, W, C) */
    im->input = im->shape = (cnn_shape){nhwc.w, nhwc.c, nhwc.h};
    advance(im, im->shape, 0);
    return CNN_OK;
}

/* A Pad of zeros on the image's sides, which PyTorch writes before every
 * AvgPool2d (of nothing when it has no padding, else of its padding, which
 * then counts) and cnn before an avgpool with countpad: kept for the
 * AveragePool that must follow it. */
static int read_pad(importer *im)
{
    const Onnx__NodeProto *n = im->node;
    char mode[32];
    int64_t pads[8] = {0};
    int count = attr_ints(n, "pads", pads, 8); /* before opset 11 */
    const tensor *t = n->n_input > 1 && *n->input[1] ? constant(im, n->input[1]) : NULL;
    const tensor *value = n->n_input > 2 && *n->input[2] ? constant(im, n->input[2]) : NULL;
    if ((n->n_input > 1 && *n->input[1] && !t) || (n->n_input > 2 && *n->input[2] && !value))
        return refuse(im, "its pads or value are not an initializer or a Constant");
    if (t && t->count <= 8)
        for (size_t i = 0; i < t->count; i++)
            pads[i] = (int64_t)t->data[i];
    count = t ? (int)t->count : count;
    int zero = (!value || (value->count == 1 && value->data[0] == 0)) &&
               attr_float(n, "value", 0.0f) == 0.0f;
    if (strcmp(attr_string(n, "mode", mode, sizeof mode), "constant") && *mode)
        zero = 0;
    if (im->flat || count != 8 || !zero || pads[0] || pads[1] || pads[4] || pads[5] ||
        pads[2] < 0 || pads[3] < 0 || pads[6] < 0 || pads[7] < 0 || im->pad_before)
        return refuse(im, "a Pad other than of zeros on an image's sides");
    int sides[4] = {(int)pads[2], (int)pads[3], (int)pads[6], (int)pads[7]};
    if (sides[0] | sides[1] | sides[2] | sides[3]) {
        memcpy(im->pad, sides, sizeof sides);
        im->pad_before = im->node->output[0];
    }
    advance(im, im->shape, im->flat); /* the shape the pool will see is the unpadded one */
    return CNN_OK;
}

/* Dropout: cnn's, of the same ratio (the identity in inference, as in
 * ONNX; it drops again if the model is trained on). */
static int read_dropout(importer *im)
{
    const Onnx__NodeProto *n = im->node;
    if (n->n_output > 1 && *n->output[1])
        return refuse(im, "the mask output");
    float ratio = attr_float(n, "ratio", 0.5f); /* before opset 12 */
    if (n->n_input > 1 && *n->input[1]) {
        const tensor *r = weight(im, 1, 1, "ratio");
        if (!r)
            return im->err->status;
        ratio = r->data[0];
    }
    if (!(ratio >= 0.0f && ratio < 1.0f))
        return refuse(im, "a ratio of %g (only 0 <= ratio < 1)", ratio);
    read_layer *l = add_layer(im, CNN_DROPOUT);
    if (!l)
        return im->err->status;
    l->spec.alpha = ratio;
    l->output = n->output[0];
    advance(im, im->shape, im->flat);
    return CNN_OK;
}

/* ---- the graph ----------------------------------------------------------- */

static int read_node(importer *im)
{
    const char *op = im->node->op_type ? im->node->op_type : "";
    if (im->pad_before && strcmp(op, "AveragePool") != 0)
        return refuse(im, "a Pad of the image that no AveragePool follows");
    static const struct {
        const char *op;
        cnn_layer_kind kind;
    } acts[] = {{"Relu", CNN_RELU}, {"LeakyRelu", CNN_LEAKY_RELU}, {"Sigmoid", CNN_SIGMOID},
                {"Tanh", CNN_TANH}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(op, acts[i].op) == 0)
            return read_activation(im, acts[i].kind);
    if (strcmp(op, "Conv") == 0)
        return read_conv(im);
    if (strcmp(op, "MaxPool") == 0 || strcmp(op, "AveragePool") == 0)
        return read_pool(im, op[0] == 'M' ? CNN_MAXPOOL : CNN_AVGPOOL);
    if (strcmp(op, "Gemm") == 0)
        return read_gemm(im);
    if (strcmp(op, "MatMul") == 0)
        return read_matmul(im);
    if (strcmp(op, "Add") == 0)
        return read_add(im);
    if (strcmp(op, "BatchNormalization") == 0)
        return read_batchnorm(im);
    if (strcmp(op, "Flatten") == 0 || strcmp(op, "Reshape") == 0)
        return read_flatten(im, op[0] == 'R');
    if (strcmp(op, "Softmax") == 0)
        return read_softmax(im);
    if (strcmp(op, "Div") == 0 || strcmp(op, "Sub") == 0)
        return read_normalisation(im, op[0] == 'D');
    if (strcmp(op, "Transpose") == 0)
        return read_transpose(im);
    if (strcmp(op, "Pad") == 0)
        return read_pad(im);
    if (strcmp(op, "Dropout") == 0)
        return read_dropout(im);
    if (strcmp(op, "Identity") == 0) {
        advance(im, im->shape, im->flat);
        return CNN_OK;
    }
    return refuse(im, "not an operator cnn imports");
}

/* The graph's one input that is not an initializer: its name and its
 * shape, (N, C, H, W), (N, C, H) as C x H x 1, or (N, values) (N alone:
 * one value an image). */
static int read_input(importer *im, const char **name)
{
    const Onnx__GraphProto *g = im->g;
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < g->n_input; i++)
        if (g->input[i]->name && !constant(im, g->input[i]->name)) {
            if (in)
                return refuse(im, "more than one input");
            in = g->input[i];
        }
    const Onnx__TypeProto *t = in ? in->type : NULL;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type ||
        t->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || !t->tensor_type->shape)
        return refuse(im, "its input is not one float tensor of known shape");
    const Onnx__TensorShapeProto *s = t->tensor_type->shape;
    int64_t d[4] = {1, 1, 1, 1};
    if (s->n_dim < 1 || s->n_dim > 4)
        return refuse(im, "an input of %zu dimensions (only N x C x H x W, N x C x H or "
                          "N x values)", s->n_dim);
    for (size_t i = 1; i < s->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = s->dim[i];
        if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
            dim->dim_value < 1 || dim->dim_value > (1 << 24))
            return refuse(im, "input dimension %zu is not a size in 1..2^24", i);
        d[i] = dim->dim_value;
    }
    /* (each side fits an int, but not their product) */
    if ((uint64_t)(d[1] * d[2]) > MAX_VALUES || (uint64_t)(d[1] * d[2] * d[3]) > MAX_VALUES)
        return refuse(im, "an input of more than 2^28 values an image");
    im->flat = s->n_dim <= 2;
    im->input = im->shape = (cnn_shape){(int)d[1], (int)d[2], (int)d[3]};
    *name = in->name;
    return CNN_OK;
}

/* The opset of the default domain: 7 to 17. */
static int read_opset(importer *im, const Onnx__ModelProto *m)
{
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain;
        if (!d || !*d || strcmp(d, "ai.onnx") == 0)
            im->opset = m->opset_import[i]->version;
    }
    if (im->opset < 7 || im->opset > 17)
        return refuse(im, "opset %lld (cnn reads opsets 7 to 17)", (long long)im->opset);
    return CNN_OK;
}

/* Node by node along the one path: a node reads the current tensor (or is
 * a Constant), and the last one writes the graph's output. */
static int walk(importer *im)
{
    const Onnx__GraphProto *g = im->g;
    for (size_t i = 0; i < g->n_node; i++) {
        im->node = g->node[i], im->node_index = (int)i;
        const Onnx__NodeProto *n = im->node;
        if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0)
            return refuse(im, "an operator of domain '%s'", n->domain);
        if (n->op_type && strcmp(n->op_type, "Constant") == 0) {
            const Onnx__AttributeProto *v = attr_find(n, "value");
            if (!v || !v->t || n->n_output != 1)
                return refuse(im, "a Constant without a tensor value");
            int rc = add_constant(im, v->t, n->output[0]);
            if (rc)
                return rc;
            continue;
        }
        if (n->n_input < 1 || n->n_output < 1 || !n->input[0] || strcmp(n->input[0], im->cur))
            return refuse(im, "it does not read '%s', the tensor the path has reached (cnn "
                              "imports one path, without branches or cycles)", im->cur);
        int rc = read_node(im);
        if (rc)
            return rc;
    }
    im->node = NULL;
    if (g->n_output != 1 || !g->output[0]->name || strcmp(g->output[0]->name, im->cur))
        return refuse(im, "its output is not the end of the one path from its input");
    return CNN_OK;
}

/* ---- the network --------------------------------------------------------- */

static cnn_net *build(importer *im)
{
    cnn_net *net = cnn_net_new(im->input, im->err);
    size_t total = 0;
    for (int i = 0; net && i < im->nlayers; i++) {
        if (cnn_net_add(net, &im->layers[i].spec, im->err)) {
            cnn_net_free(net);
            return NULL;
        }
        total += im->layers[i].nw + im->layers[i].nb;
    }
    float *params = net ? malloc(sizeof(float) * (total ? total : 1)) : NULL;
    if (net && !params) {
        cnn_fail(im->err, CNN_ENOMEM, "out of memory");
        cnn_net_free(net);
        return NULL;
    }
    size_t at = 0;
    for (int i = 0; net && i < im->nlayers; i++) {
        const read_layer *l = &im->layers[i];
        /* a layer without weights has w and b NULL: memcpy from NULL is
         * undefined even for 0 bytes */
        if (l->nw)
            memcpy(params + at, l->w, sizeof(float) * l->nw), at += l->nw;
        if (l->nb)
            memcpy(params + at, l->b, sizeof(float) * l->nb), at += l->nb;
    }
    if (net && cnn_net_set_params(net, params, total, im->err)) {
        cnn_net_free(net);
        net = NULL;
    }
    if (net)
        cnn_net_set_normalization(net, im->mean, im->std);
    free(params);
    return net;
}

static void importer_free(importer *im)
{
    for (size_t i = 0; i < im->nconsts; i++)
        free(im->consts[i].data);
    free(im->consts);
    for (int i = 0; i < im->nlayers; i++)
        free(im->layers[i].w), free(im->layers[i].b);
    free(im->layers);
}

/* The model's metadata: cnn's class names and data set, if it wrote them. */
static int read_meta(const Onnx__ModelProto *m, cnn_model_meta *meta, cnn_error *err)
{
    memset(meta, 0, sizeof *meta);
    meta->accuracy = -1.0f;
    meta->train = cnn_train_defaults();
    snprintf(meta->version, sizeof meta->version, "onnx");
    for (size_t i = 0; i < m->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *e = m->metadata_props[i];
        if (e->key && e->value && strcmp(e->key, "cnn.classes") == 0 && !meta->class_names &&
            !(meta->class_names = strdup(e->value)))
            return cnn_fail(err, CNN_ENOMEM, "out of memory");
        if (e->key && e->value && strcmp(e->key, "cnn.dataset") == 0)
            snprintf(meta->dataset, sizeof meta->dataset, "%s", e->value);
    }
    return CNN_OK;
}

cnn_net *cnn_model_parse_onnx(const uint8_t *bytes, size_t len, cnn_model_meta *meta,
                              cnn_error *err)
{
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, bytes);
    if (!m || !m->graph) {
        if (m)
            onnx__model_proto__free_unpacked(m, NULL);
        cnn_fail(err, CNN_EFORMAT, "not an ONNX model (the protobuf does not parse)");
        return NULL;
    }
    importer im = {.g = m->graph, .std = 1.0f, .err = err};
    im.max_layers = (int)(m->graph->n_node < 65536 ? m->graph->n_node : 65536);
    im.layers = calloc((size_t)im.max_layers + 1, sizeof *im.layers);
    int rc = im.layers ? read_opset(&im, m) : cnn_fail(err, CNN_ENOMEM, "out of memory");
    for (size_t i = 0; rc == CNN_OK && i < m->graph->n_initializer; i++)
        rc = add_constant(&im, m->graph->initializer[i], NULL);
    const char *input = NULL;
    if (rc == CNN_OK && (rc = read_input(&im, &input)) == CNN_OK) {
        im.cur = im.input_name = input;
        rc = walk(&im);
    }
    if (rc == CNN_OK && im.nlayers == 0)
        rc = refuse(&im, "no layer on the path from its input to its output");
    cnn_net *net = rc == CNN_OK ? build(&im) : NULL;
    if (net && meta && read_meta(m, meta, err)) {
        cnn_net_free(net);
        net = NULL;
    }
    importer_free(&im);
    onnx__model_proto__free_unpacked(m, NULL);
    return net;
}

cnn_net *cnn_model_import_onnx(const char *path, cnn_model_meta *meta, cnn_error *err)
{
    size_t len;
    uint8_t *bytes = file_read_all(path, (size_t)1 << 31, &len, err);
    if (!bytes)
        return NULL;
    cnn_error inner;
    cnn_net *net = cnn_model_parse_onnx(bytes, len, meta, &inner);
    if (!net)
        cnn_fail(err, inner.status, "%s: %s", path, inner.msg);
    free(bytes);
    return net;
}
