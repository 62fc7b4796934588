/* A network as an ONNX model (opset 13), through protobuf-c's code for
 * Debian's onnx.proto.  Every layer maps to operators that compute exactly
 * what it computes, including where the obvious mapping is wrong:
 *
 *   input          pixels 0..255 -> Div 255, Sub mean, Div std (as cnn
 *                  converts them), so the same pixels give the same
 *                  probabilities
 *   conv           Conv (weights OIHW, as cnn's)
 *   maxpool        MaxPool; a ceil-mode partial window becomes explicit end
 *                  pads (ONNX's ceil_mode rounds differently at the edge)
 *   avgpool        AveragePool with count_include_pad=0: the pads and the
 *                  partial windows' missing pixels do not count (with
 *                  countpad: a Pad of zeros first, which then count)
 *   sumpool        a depthwise Conv with all-ones weights (group = C):
 *                  AveragePool x k^2 is wrong at partial windows, and
 *                  LpPool(p=1) sums absolute values
 *   dense          Flatten + Gemm(transB=1) (weights (out, in), as cnn's)
 *   flatten        Flatten
 *   dropout        Dropout (the identity in inference)
 *   softmax        Flatten + Softmax(axis=1), over all of a image's values
 *   activations    Relu, LeakyRelu, Sigmoid, Tanh */
#include "cnn.h"
#include "file.h"
#include "onnx.pb-c.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything a model under construction points to, freed at once. */
typedef struct {
    void **blocks;
    size_t count, capacity;
    int failed;
} arena;

static void *grab(arena *a, size_t bytes)
{
    if (a->count == a->capacity) {
        size_t cap = a->capacity ? 2 * a->capacity : 256;
        void **grown = realloc(a->blocks, cap * sizeof *grown);
        if (!grown) {
            a->failed = 1;
            return NULL;
        }
        a->blocks = grown, a->capacity = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p)
        a->failed = 1;
    else
        a->blocks[a->count++] = p;
    return p;
}

static char *text(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = grab(a, (size_t)n + 1);
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->count; i++)
        free(a->blocks[i]);
    free(a->blocks);
}

/* The graph as it grows: its nodes and initializers, and the name of the
 * tensor the next layer reads. */
typedef struct {
    arena mem;
    Onnx__NodeProto **nodes;
    Onnx__TensorProto **inits;
    size_t nnodes, ninits, max_nodes, max_inits;
    const char *cur;
    int flat; /* cur is (N, values) rather than (N, C, H, W) */
    int names;
} graph;

enum { MAX_ATTRS = 6 };

typedef struct {
    Onnx__AttributeProto *a[MAX_ATTRS];
    int n;
} attrs;

/* A new attribute of the node being built, of this name and type (NULL
 * when out of memory: the graph then fails as a whole). */
static Onnx__AttributeProto *attr_new(graph *g, attrs *at, const char *name,
                                      Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = grab(&g->mem, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1, a->type = type;
    at->a[at->n++] = a;
    return a;
}

static void attr_ints(graph *g, attrs *at, const char *name, int64_t v0, int64_t v1, int64_t v2,
                      int64_t v3, int count)
{
    int64_t *v = grab(&g->mem, 4 * sizeof *v);
    Onnx__AttributeProto *a = attr_new(g, at, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a || !v)
        return;
    v[0] = v0, v[1] = v1, v[2] = v2, v[3] = v3;
    a->n_ints = (size_t)count, a->ints = v;
}

static void attr_int(graph *g, attrs *at, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr_new(g, at, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a)
        a->has_i = 1, a->i = v;
}

static void attr_float(graph *g, attrs *at, const char *name, float v)
{
    Onnx__AttributeProto *a = attr_new(g, at, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a)
        a->has_f = 1, a->f = v;
}

/* A node reading cur (and the named extra inputs); cur becomes its output. */
static void add_node(graph *g, const char *op, const char *in1, const char *in2, const attrs *at)
{
    Onnx__NodeProto *n = grab(&g->mem, sizeof *n);
    char **inputs = grab(&g->mem, 3 * sizeof *inputs), **outputs = grab(&g->mem, sizeof(char *));
    Onnx__AttributeProto **a = grab(&g->mem, MAX_ATTRS * sizeof *a);
    const char *out = text(&g->mem, "t%d", g->names++);
    if (!n || !inputs || !outputs || !a || !out || g->nnodes == g->max_nodes) {
        g->mem.failed = 1;
        return;
    }
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = text(&g->mem, "%s_%zu", op, g->nnodes);
    inputs[0] = (char *)g->cur, inputs[1] = (char *)in1, inputs[2] = (char *)in2;
    n->n_input = in2 ? 3 : in1 ? 2 : 1, n->input = inputs;
    outputs[0] = (char *)out;
    n->n_output = 1, n->output = outputs;
    for (int i = 0; at && i < at->n; i++)
        a[i] = at->a[i];
    n->n_attribute = at ? (size_t)at->n : 0, n->attribute = a;
    g->nodes[g->nnodes++] = n;
    g->cur = out;
}

/* A float initializer of up to 4 dimensions (ndims 0: a scalar), its
 * values little-endian in raw_data. */
static const char *add_init(graph *g, const char *name, const float *v, int ndims, int64_t d0,
                            int64_t d1, int64_t d2, int64_t d3)
{
    Onnx__TensorProto *t = grab(&g->mem, sizeof *t);
    int64_t *dims = grab(&g->mem, 4 * sizeof *dims);
    size_t count = 1;
    int64_t d[4] = {d0, d1, d2, d3};
    for (int i = 0; i < ndims; i++)
        count *= (size_t)d[i];
    uint8_t *raw = grab(&g->mem, 4 * count);
    if (!t || !dims || !raw || g->ninits == g->max_inits) {
        g->mem.failed = 1;
        return name;
    }
    onnx__tensor_proto__init(t);
    memcpy(dims, d, sizeof d);
    t->name = (char *)name;
    t->n_dims = (size_t)ndims, t->dims = dims;
    t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    for (size_t i = 0; i < count; i++) { /* little-endian, whatever the host */
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int b = 0; b < 4; b++)
            raw[4 * i + b] = (uint8_t)(u >> (8 * b));
    }
    t->has_raw_data = 1, t->raw_data.len = 4 * count, t->raw_data.data = raw;
    g->inits[g->ninits++] = t;
    return name;
}

/* An int64 vector initializer (Pad's pads). */
static const char *add_init_ints(graph *g, const char *name, const int64_t *v, int n)
{
    Onnx__TensorProto *t = grab(&g->mem, sizeof *t);
    int64_t *dims = grab(&g->mem, sizeof *dims);
    if (!t || !dims || g->ninits == g->max_inits) {
        g->mem.failed = 1;
        return name;
    }
    onnx__tensor_proto__init(t);
    dims[0] = n;
    t->name = (char *)name, t->n_dims = 1, t->dims = dims;
    t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_int64_data = (size_t)n, t->int64_data = (int64_t *)v;
    g->inits[g->ninits++] = t;
    return name;
}

static void flatten(graph *g)
{
    if (g->flat)
        return;
    attrs at = {0};
    attr_int(g, &at, "axis", 1);
    add_node(g, "Flatten", NULL, NULL, &at);
    g->flat = 1;
}

/* Begin and end pads of a window over `in` giving `out` outputs: the
 * spec's, and at the end as many more as a ceil-mode partial window reads
 * (floor((in + begin + end - k) / s) + 1 == out, as ONNX computes it). */
static int64_t end_pad(int in, int out, int k, int s, int begin, int end)
{
    int need = (out - 1) * s + k - in - begin;
    return need > end ? need : end;
}

static void window_attrs(graph *g, attrs *at, const cnn_layer_spec *s, cnn_shape in,
                         cnn_shape out)
{
    attr_ints(g, at, "kernel_shape", s->kh, s->kw, 0, 0, 2);
    attr_ints(g, at, "strides", s->sh, s->sw, 0, 0, 2);
    attr_ints(g, at, "pads", s->ph, s->pw, end_pad(in.h, out.h, s->kh, s->sh, s->ph, s->ph_end),
              end_pad(in.w, out.w, s->kw, s->sw, s->pw, s->pw_end), 4);
}

/* An average that counts its zero padding: the padding as a Pad node of
 * zeros, which then count as pixels, and the pool over the padded image
 * (its own pads, if a ceil-mode window needs them, do not count). */
static void counted_average(graph *g, attrs *at, const cnn_layer_spec *s, cnn_shape in,
                            cnn_shape out)
{
    int64_t *pads = grab(&g->mem, 8 * sizeof *pads);
    if (!pads)
        return;
    pads[2] = s->ph, pads[3] = s->pw, pads[6] = s->ph_end, pads[7] = s->pw_end;
    const char *p = add_init_ints(g, text(&g->mem, "pad%zu", g->nnodes), pads, 8);
    add_node(g, "Pad", p, NULL, NULL);
    cnn_layer_spec unpadded = *s;
    unpadded.ph = unpadded.pw = unpadded.ph_end = unpadded.pw_end = 0;
    in.h += s->ph + s->ph_end, in.w += s->pw + s->pw_end;
    window_attrs(g, at, &unpadded, in, out);
    attr_int(g, at, "count_include_pad", 0);
    add_node(g, "AveragePool", NULL, NULL, at);
}

static void conv_node(graph *g, cnn_net *net, int i, const cnn_layer_spec *s, cnn_shape in,
                      cnn_shape out)
{
    const char *w = add_init(g, text(&g->mem, "conv%d.weight", i), cnn_net_layer_weights(net, i),
                             4, s->filters, in.c, s->kh, s->kw);
    const float *bias = cnn_net_layer_bias(net, i);
    const char *b = bias ? add_init(g, text(&g->mem, "conv%d.bias", i), bias, 1, s->filters,
                                    0, 0, 0)
                         : NULL;
    attrs at = {0};
    window_attrs(g, &at, s, in, out);
    add_node(g, "Conv", w, b, &at);
}

static void pool_node(graph *g, int i, const cnn_layer_spec *s, cnn_shape in, cnn_shape out)
{
    attrs at = {0};
    if (!(s->kind == CNN_AVGPOOL && s->count_pad))
        window_attrs(g, &at, s, in, out);
    if (s->kind == CNN_MAXPOOL) {
        add_node(g, "MaxPool", NULL, NULL, &at);
    } else if (s->kind == CNN_AVGPOOL && s->count_pad) {
        counted_average(g, &(attrs){0}, s, in, out);
    } else if (s->kind == CNN_AVGPOOL) {
        attr_int(g, &at, "count_include_pad", 0);
        add_node(g, "AveragePool", NULL, NULL, &at);
    } else { /* sum: a depthwise conv with ones */
        size_t n = (size_t)in.c * s->kh * s->kw;
        float *ones = grab(&g->mem, n * sizeof *ones);
        for (size_t k = 0; ones && k < n; k++)
            ones[k] = 1.0f;
        if (!ones)
            return;
        const char *w = add_init(g, text(&g->mem, "sumpool%d.ones", i), ones, 4, in.c, 1, s->kh,
                                 s->kw);
        attr_int(g, &at, "group", in.c);
        add_node(g, "Conv", w, NULL, &at);
    }
}

static void dense_node(graph *g, cnn_net *net, int i, const cnn_layer_spec *s, cnn_shape in)
{
    flatten(g);
    const char *w = add_init(g, text(&g->mem, "dense%d.weight", i),
                             cnn_net_layer_weights(net, i), 2, s->filters,
                             (int64_t)cnn_shape_size(in), 0, 0);
    const float *bias = cnn_net_layer_bias(net, i);
    const char *b = bias ? add_init(g, text(&g->mem, "dense%d.bias", i), bias, 1, s->filters, 0,
                                    0, 0)
                         : NULL;
    attrs at = {0};
    attr_int(g, &at, "transB", 1);
    add_node(g, "Gemm", w, b, &at);
}

/* Layer i's nodes, reading g->cur. */
static void layer_nodes(graph *g, cnn_net *net, int i)
{
    cnn_layer_spec s = cnn_net_layer(net, i);
    cnn_shape in = i ? cnn_net_layer_shape(net, i - 1) : cnn_net_input_shape(net);
    cnn_shape out = cnn_net_layer_shape(net, i);
    attrs at = {0};
    switch (s.kind) {
    case CNN_CONV: conv_node(g, net, i, &s, in, out); break;
    case CNN_MAXPOOL:
    case CNN_AVGPOOL:
    case CNN_SUMPOOL: pool_node(g, i, &s, in, out); break;
    case CNN_DENSE: dense_node(g, net, i, &s, in); break;
    case CNN_RELU: add_node(g, "Relu", NULL, NULL, NULL); break;
    case CNN_SIGMOID: add_node(g, "Sigmoid", NULL, NULL, NULL); break;
    case CNN_TANH: add_node(g, "Tanh", NULL, NULL, NULL); break;
    case CNN_LEAKY_RELU:
        attr_float(g, &at, "alpha", s.alpha);
        add_node(g, "LeakyRelu", NULL, NULL, &at);
        break;
    case CNN_FLATTEN: flatten(g); break;
    case CNN_SOFTMAX:
        flatten(g);
        attr_int(g, &at, "axis", 1);
        add_node(g, "Softmax", NULL, NULL, &at);
        break;
    case CNN_DROPOUT: /* the identity in inference, kept for training on */
        add_node(g, "Dropout", add_init(g, text(&g->mem, "dropout%d.ratio", i), &s.alpha, 0, 0, 0, 0, 0),
                 NULL, NULL);
        break;
    default: break;
    }
}

/* A float tensor's type: (N, C, H, W), or (N, values) when flat. */
static Onnx__ValueInfoProto *value_info(graph *g, const char *name, cnn_shape s, int flat)
{
    Onnx__ValueInfoProto *v = grab(&g->mem, sizeof *v);
    Onnx__TypeProto *t = grab(&g->mem, sizeof *t);
    Onnx__TypeProto__Tensor *tt = grab(&g->mem, sizeof *tt);
    Onnx__TensorShapeProto *shape = grab(&g->mem, sizeof *shape);
    Onnx__TensorShapeProto__Dimension *d = grab(&g->mem, 4 * sizeof *d),
                                      **dims = grab(&g->mem, 4 * sizeof *dims);
    if (!v || !t || !tt || !shape || !d || !dims)
        return v;
    int64_t sizes[4] = {0, s.c, s.h, s.w};
    if (flat)
        sizes[1] = (int64_t)cnn_shape_size(s);
    for (int i = 0; i < 4; i++) {
        onnx__tensor_shape_proto__dimension__init(&d[i]);
        if (i == 0) {
            d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d[i].dim_param = "N";
        } else {
            d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d[i].dim_value = sizes[i];
        }
        dims[i] = &d[i];
    }
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = flat ? 2 : 4, shape->dim = dims;
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    onnx__type_proto__init(t);
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, t->tensor_type = tt;
    onnx__value_info_proto__init(v);
    v->name = (char *)name, v->type = t;
    return v;
}

/* The input's normalisation, as cnn converts pixels: (p / 255 - mean) / std. */
static void normalise(graph *g, const cnn_net *net)
{
    float mean, std, k255 = 255.0f;
    cnn_net_normalization(net, &mean, &std);
    add_node(g, "Div", add_init(g, "pixel_scale", &k255, 0, 0, 0, 0, 0), NULL, NULL);
    add_node(g, "Sub", add_init(g, "pixel_mean", &mean, 0, 0, 0, 0, 0), NULL, NULL);
    add_node(g, "Div", add_init(g, "pixel_std", &std, 0, 0, 0, 0, 0), NULL, NULL);
}

static Onnx__StringStringEntryProto *entry(graph *g, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = grab(&g->mem, sizeof *e);
    if (e) {
        onnx__string_string_entry_proto__init(e);
        e->key = (char *)key, e->value = (char *)value;
    }
    return e;
}

/* The model around the graph: opset 13 (IR version 7), cnn's name and
 * version, and the network text and normalisation as metadata. */
static void wrap(graph *g, cnn_net *net, const cnn_model_meta *meta, Onnx__GraphProto *gp,
                 Onnx__ModelProto *m)
{
    static Onnx__OperatorSetIdProto opset = {PROTOBUF_C_MESSAGE_INIT(&onnx__operator_set_id_proto__descriptor),
                                             "", 1, 13};
    Onnx__OperatorSetIdProto **opsets = grab(&g->mem, sizeof *opsets);
    Onnx__StringStringEntryProto **props = grab(&g->mem, 5 * sizeof *props);
    char *spec = cnn_net_to_spec(net);
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    if (!opsets || !props || !spec) {
        free(spec);
        g->mem.failed = 1;
        return;
    }
    opsets[0] = &opset;
    props[0] = entry(g, "cnn.network", text(&g->mem, "%s", spec));
    props[1] = entry(g, "cnn.input", "pixels 0..255, normalised in the graph");
    props[2] = entry(g, "cnn.normalization", text(&g->mem, "mean %.9g std %.9g", mean, std));
    int n = 3;
    if (meta && meta->class_names) /* one a line, as in cnn's model files */
        props[n++] = entry(g, "cnn.classes", text(&g->mem, "%s", meta->class_names));
    if (meta && meta->dataset[0]) /* where cnn eval finds the test images */
        props[n++] = entry(g, "cnn.dataset", text(&g->mem, "%.63s", meta->dataset));
    free(spec);
    onnx__model_proto__init(m);
    m->has_ir_version = 1, m->ir_version = 7;
    m->producer_name = "cnn", m->producer_version = CNN_VERSION;
    m->n_opset_import = 1, m->opset_import = opsets;
    m->n_metadata_props = (size_t)n, m->metadata_props = props;
    m->graph = gp;
}

int cnn_model_export_onnx(const char *path, cnn_net *net, const cnn_model_meta *meta,
                          cnn_error *err)
{
    if (cnn_net_quant_ranges(net))
        return cnn_fail(err, CNN_EINVAL, "an int8 model does not export to ONNX yet (QDQ is not "
                                         "written); export the float model it came from");
    int layers = cnn_net_layers(net);
    graph g = {.max_nodes = 4 * (size_t)layers + 8, .max_inits = 2 * (size_t)layers + 8,
               .cur = "pixels"};
    g.nodes = grab(&g.mem, g.max_nodes * sizeof *g.nodes);
    g.inits = grab(&g.mem, g.max_inits * sizeof *g.inits);
    Onnx__ValueInfoProto **io = grab(&g.mem, 2 * sizeof *io);
    if (g.nodes && g.inits && io) {
        io[0] = value_info(&g, "pixels", cnn_net_input_shape(net), 0);
        normalise(&g, net);
        for (int i = 0; i < layers; i++)
            layer_nodes(&g, net, i);
        if (g.nnodes == 3) /* no layer: the output is the normalised input */
            add_node(&g, "Identity", NULL, NULL, NULL);
        g.nodes[g.nnodes - 1]->output[0] = "output";
        io[1] = value_info(&g, "output", cnn_net_layer_shape(net, layers - 1), g.flat);
    }
    Onnx__GraphProto gp;
    onnx__graph_proto__init(&gp);
    gp.name = "cnn";
    gp.n_node = g.nnodes, gp.node = g.nodes;
    gp.n_initializer = g.ninits, gp.initializer = g.inits;
    gp.n_input = 1, gp.input = io, gp.n_output = 1, gp.output = io ? io + 1 : NULL;
    Onnx__ModelProto m;
    wrap(&g, net, meta, &gp, &m);
    int rc = CNN_OK;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!g.mem.failed) {
        len = onnx__model_proto__get_packed_size(&m);
        bytes = malloc(len ? len : 1);
    }
    if (!bytes)
        rc = cnn_fail(err, CNN_ENOMEM, "out of memory");
    else if (onnx__model_proto__pack(&m, bytes) == len)
        rc = file_write_atomic(path, bytes, len, err);
    else
        rc = cnn_fail(err, CNN_EINVAL, "%s: the model did not pack", path);
    free(bytes);
    arena_free(&g.mem);
    return rc;
}
