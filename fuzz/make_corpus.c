/* Writes the seed corpora for the fuzz targets: small valid inputs of every
 * kind each parser accepts, made here so that no binary is committed.
 *   make_corpus DIR   ->  DIR/idx, DIR/image, DIR/spec, DIR/model, DIR/onnx */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "cnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *root;

static void put(const char *kind, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, kind);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", root, kind, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
}

static size_t gzip(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* One fuzz_idx input: flags, images length, images, labels. */
static void idx_seed(const char *name, int flags, const uint8_t *img, size_t ni, const uint8_t *lab,
                     size_t nl)
{
    uint8_t buf[8192];
    buf[0] = (uint8_t)flags, buf[1] = (uint8_t)ni, buf[2] = (uint8_t)(ni >> 8);
    memcpy(buf + 3, img, ni);
    memcpy(buf + 3 + ni, lab, nl);
    put("idx", name, buf, 3 + ni + nl);
}

static void idx_seeds(void)
{
    int n = 3, h = 4, w = 5;
    uint8_t img[16 + 60], lab[8 + 3];
    be32(img, 0x803), be32(img + 4, (uint32_t)n), be32(img + 8, (uint32_t)h), be32(img + 12, (uint32_t)w);
    for (int i = 0; i < n * h * w; i++)
        img[16 + i] = (uint8_t)(i * 37);
    be32(lab, 0x801), be32(lab + 4, (uint32_t)n);
    lab[8] = 0, lab[9] = 2, lab[10] = 1;
    idx_seed("plain", 0, img, sizeof img, lab, sizeof lab);
    idx_seed("plain-limit2", 2 << 2, img, sizeof img, lab, sizeof lab);
    idx_seed("gzip-here", 3, img, sizeof img, lab, sizeof lab);
    uint8_t gi[512], gl[512];
    size_t ngi = gzip(img, sizeof img, gi, sizeof gi), ngl = gzip(lab, sizeof lab, gl, sizeof gl);
    idx_seed("gzip-files", 0, gi, ngi, gl, ngl);
    idx_seed("gzip-images", 0, gi, ngi, lab, sizeof lab);
    idx_seed("swapped", 0, lab, sizeof lab, img, sizeof img);
}

static void image_seeds(void)
{
    enum { W = 7, H = 5 };
    uint8_t px[W * H * 4];
    for (int i = 0; i < W * H * 4; i++)
        px[i] = (uint8_t)(i * 29 + 3);
    static const char *names[] = {"", "gray", "graya", "rgb", "rgba"};
    char name[64], path[1024];
    for (int comp = 1; comp <= 4; comp++) {
        /* stb writes to files: write, then copy in with the request byte. */
        const char *fmt[] = {"png", "bmp", "jpg"};
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/tmp.%s", root, fmt[f]);
            int ok = f == 0   ? stbi_write_png(path, W, H, comp, px, W * comp)
                     : f == 1 ? stbi_write_bmp(path, W, H, comp, px)
                              : stbi_write_jpg(path, W, H, comp, px, 80);
            if (!ok)
                continue;
            FILE *in = fopen(path, "rb");
            uint8_t buf[65536];
            size_t n = fread(buf + 1, 1, sizeof buf - 1, in);
            fclose(in);
            remove(path);
            for (int req = 0; req < 2; req++) {
                buf[0] = req ? (uint8_t)(27 << 2 | 1) : (uint8_t)(13 << 2 | 2);
                snprintf(name, sizeof name, "%s-%s-%d", names[comp], fmt[f], req);
                put("image", name, buf, n + 1);
            }
        }
    }
    uint8_t pgm[64 + W * H * 3];
    int n = snprintf((char *)pgm + 1, 64, "P5\n# seed\n%d %d\n255\n", W, H) + 1;
    memcpy(pgm + n, px, W * H);
    pgm[0] = 9 << 2;
    put("image", "gray-pgm", pgm, (size_t)n + W * H);
    n = snprintf((char *)pgm + 1, 64, "P6\n%d %d\n255\n", W, H) + 1;
    memcpy(pgm + n, px, W * H * 3);
    pgm[0] = 9 << 2 | 1;
    put("image", "rgb-ppm", pgm, (size_t)n + W * H * 3);
}

static const char *specs[] = {
    "input 8x8x1\nconv 2 3x3 stride 2 pad 1 nobias init 0.1\nleaky 0.2\navgpool 2 ceil\n"
    "dropout 0.5\nflatten\ndense 3 init 0.5\nsoftmax\ntrain adam lr 0.001 batch 4 epochs 2\n",
    "input 6x7x3 mean 0.5 std 0.25; conv 4 3x3 pad same; tanh; sumpool 2x3 stride 1; sigmoid; "
    "maxpool 2 stride 1x2; dense 5 nobias; relu; dense 2; softmax",
    "input 5\ndense 4\nsoftmax # comment\ntrain momentum 0.9 lr 0.1 decay 0.0001 schedule step "
    "step 2 gamma 0.5\n",
    "input 9x9\nconv 1 9x9\nsoftmax\ntrain sgd schedule cosine\n",
    "input 7x8x2; conv 3 3x3 pad 1,0,2,1; relu; maxpool 3 stride 2 pad 1 ceil; "
    "avgpool 2 pad 0,1,1,0 countpad; sumpool 2x3 pad 1x2; dense 2; softmax",
};

static void spec_seeds(void)
{
    const char *presets[] = {"seed", "lenet", "convnet", "xo"};
    for (int i = 0; i < 4; i++)
        put("spec", presets[i], cnn_preset(presets[i]), strlen(cnn_preset(presets[i])));
    char name[32];
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        snprintf(name, sizeof name, "hand-%zu", i);
        put("spec", name, specs[i], strlen(specs[i]));
    }
}

/* A model file of the network text: a checkpoint with its optimiser, or
 * int8 (quantized on a few made-up images: its QUNT section). */
static void model_seed(const char *name, const char *spec, int checkpoint, int int8)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(spec, &cfg, &err);
    if (!net || cnn_net_init(net, 2, 1, &err)) {
        fprintf(stderr, "make_corpus: %s\n", err.msg);
        exit(1);
    }
    if (int8) {
        size_t in = cnn_shape_size(cnn_net_input_shape(net));
        float *x = malloc(sizeof(float) * in * 4);
        for (size_t i = 0; x && i < in * 4; i++)
            x[i] = (float)(i % 7) / 3.0f - 1.0f;
        if (!x || cnn_net_quantize(net, x, 4, &err)) {
            fprintf(stderr, "make_corpus: %s\n", x ? err.msg : "out of memory");
            exit(1);
        }
        free(x);
    }
    cnn_optim *opt = checkpoint ? cnn_optim_new(net, &cfg, &err) : NULL;
    cnn_model_meta meta;
    memset(&meta, 0, sizeof meta);
    strcpy(meta.dataset, "seed");
    meta.epochs = 2;
    meta.accuracy = 0.5f;
    meta.train = cfg;
    meta.class_names = (char[]){"a\nb\nc"};
    meta.history_count = 2;
    meta.history[1].train_loss = 1.0f;
    char path[1024];
    snprintf(path, sizeof path, "%s/tmp.cnn", root);
    if (cnn_model_save(path, net, &meta, opt, &err)) {
        fprintf(stderr, "make_corpus: %s\n", err.msg);
        exit(1);
    }
    FILE *f = fopen(path, "rb");
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    remove(path);
    put("model", name, buf, n);
    cnn_optim_free(opt);
    cnn_net_free(net);
}

/* A network's ONNX file, as cnn's exporter writes it (the exporter writes
 * to a path: written, then copied in). */
static void onnx_seed(const char *name, const char *spec)
{
    cnn_error err;
    cnn_net *net = cnn_net_parse(spec, NULL, &err);
    char path[1024];
    snprintf(path, sizeof path, "%s/tmp.onnx", root);
    if (!net || cnn_net_init(net, 1, 1, &err) || cnn_model_export_onnx(path, net, NULL, &err)) {
        fprintf(stderr, "make_corpus: %s\n", err.msg);
        exit(1);
    }
    FILE *f = fopen(path, "rb");
    static uint8_t buf[1 << 20];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    remove(path);
    put("onnx", name, buf, n);
    cnn_net_free(net);
}

/* A file of tests/onnx/fixtures, as PyTorch wrote it, when it is there
 * (make_corpus runs from the top of the repository). */
static void onnx_fixture(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "tests/onnx/fixtures/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    put("onnx", name, buf, n);
}

/* ---- ONNX graphs of what the exporter never writes, by hand ---------- */

/* A protobuf message being written, in the wire format: fields in order,
 * a nested message as the bytes of its own pb. */
typedef struct {
    uint8_t b[4096];
    size_t n;
} pb;

static void byte(pb *m, uint8_t c)
{
    if (m->n == sizeof m->b) {
        fprintf(stderr, "make_corpus: a hand-made ONNX seed outgrew its buffer\n");
        exit(1);
    }
    m->b[m->n++] = c;
}

static void varint(pb *m, uint64_t v)
{
    do
        byte(m, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
    while (v >>= 7);
}

/* little-endian, as protobuf's fixed32 */
static void float32(pb *m, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int b = 0; b < 4; b++)
        byte(m, (uint8_t)(u >> (8 * b)));
}

static void pb_int(pb *m, int field, int64_t v)
{
    varint(m, (uint64_t)field << 3), varint(m, (uint64_t)v);
}

static void pb_bytes(pb *m, int field, const void *p, size_t n)
{
    varint(m, (uint64_t)field << 3 | 2), varint(m, n);
    for (size_t i = 0; i < n; i++)
        byte(m, ((const uint8_t *)p)[i]);
}

static void pb_str(pb *m, int field, const char *s) { pb_bytes(m, field, s, strlen(s)); }
static void pb_sub(pb *m, int field, const pb *sub) { pb_bytes(m, field, sub->b, sub->n); }

/* TensorProto: dims (field 1), data type (2: 1 float, 7 int64), name (8),
 * packed float (4) or int64 (7) data; floats made up when values is NULL. */
static pb tensor_pb(const char *name, int ndims, const int64_t *dims, const float *values,
                    int int64)
{
    pb t = {0}, data = {0};
    int64_t count = 1;
    for (int i = 0; i < ndims; i++)
        pb_int(&t, 1, dims[i]), count *= dims[i];
    pb_int(&t, 2, int64 ? 7 : 1);
    pb_str(&t, 8, name);
    for (int64_t i = 0; i < count; i++) {
        float v = values ? values[i] : (float)(i % 7) * 0.1f - 0.3f;
        if (int64)
            varint(&data, (uint64_t)(int64_t)v);
        else
            float32(&data, v);
    }
    pb_sub(&t, int64 ? 7 : 4, &data);
    return t;
}

/* AttributeProto: name (1), f (2), i (3), s (4), t (5), ints (8), and its
 * type (20: 1 float, 2 int, 3 string, 4 tensor, 7 ints). */
static void attr_int(pb *a, const char *name, int64_t v)
{
    pb x = {0};
    pb_str(&x, 1, name), pb_int(&x, 3, v), pb_int(&x, 20, 2);
    pb_sub(a, 5, &x);
}

static void attr_float(pb *a, const char *name, float v)
{
    pb x = {0};
    pb_str(&x, 1, name);
    varint(&x, 2 << 3 | 5), float32(&x, v);
    pb_int(&x, 20, 1);
    pb_sub(a, 5, &x);
}

static void attr_ints(pb *a, const char *name, int n, const int64_t *v)
{
    pb x = {0};
    pb_str(&x, 1, name);
    for (int i = 0; i < n; i++)
        pb_int(&x, 8, v[i]);
    pb_int(&x, 20, 7);
    pb_sub(a, 5, &x);
}

static void attr_string(pb *a, const char *name, const char *v)
{
    pb x = {0};
    pb_str(&x, 1, name), pb_str(&x, 4, v), pb_int(&x, 20, 3);
    pb_sub(a, 5, &x);
}

static void attr_tensor(pb *a, const char *name, const pb *t)
{
    pb x = {0};
    pb_str(&x, 1, name), pb_sub(&x, 5, t), pb_int(&x, 20, 4);
    pb_sub(a, 5, &x);
}

/* NodeProto into the graph: inputs (1) and outputs (2), comma-separated
 * here, op_type (4), then the attributes already in attrs (field 5). */
static void node_pb(pb *g, const char *op, const char *in, const char *out, const pb *attrs)
{
    pb n = {0};
    const char *lists[2] = {in, out};
    for (int k = 0; k < 2; k++)
        for (const char *p = lists[k]; *p;) {
            size_t len = strcspn(p, ",");
            pb_bytes(&n, k + 1, p, len);
            p += len + (p[len] == ',');
        }
    pb_str(&n, 4, op);
    for (size_t i = 0; attrs && i < attrs->n; i++)
        byte(&n, attrs->b[i]);
    pb_sub(g, 1, &n);
}

/* ValueInfoProto (graph input 11, output 12): a float tensor of these
 * dims, 0 standing for the symbolic batch "N". */
static void value_pb(pb *g, int field, const char *name, int ndims, const int64_t *dims)
{
    pb shape = {0}, tensor = {0}, type = {0}, v = {0};
    for (int i = 0; i < ndims; i++) {
        pb d = {0};
        if (dims[i])
            pb_int(&d, 1, dims[i]);
        else
            pb_str(&d, 2, "N");
        pb_sub(&shape, 1, &d);
    }
    pb_int(&tensor, 1, 1), pb_sub(&tensor, 2, &shape);
    pb_sub(&type, 1, &tensor);
    pb_str(&v, 1, name), pb_sub(&v, 2, &type);
    pb_sub(g, field, &v);
}

/* ModelProto: ir_version (1), the graph (7) with its name (2, which the
 * checker wants), the default opset (8). */
static void model_pb(const char *name, const pb *g, int opset)
{
    pb m = {0}, op = {0}, named = *g;
    pb_str(&named, 2, name);
    pb_int(&m, 1, 7);
    pb_sub(&m, 7, &named);
    pb_int(&op, 2, opset);
    pb_sub(&m, 8, &op);
    put("onnx", name, m.b, m.n);
}

static void init_pb(pb *g, const char *name, int ndims, const int64_t *dims, const float *v)
{
    pb t = tensor_pb(name, ndims, dims, v, 0);
    pb_sub(g, 5, &t);
}

/* A TensorFlow-style image graph: an NHWC input, Transpose, Div 255, Sub,
 * Div, Conv (SAME_UPPER, stride 2), Relu, MaxPool (ceil_mode), a Constant
 * shape for Reshape, MatMul + Add, Dropout, Identity, Softmax. */
static void onnx_nhwc_seed(void)
{
    pb g = {0}, a = {0};
    value_pb(&g, 11, "x", 4, (int64_t[]){0, 5, 5, 2});
    attr_ints(&a, "perm", 4, (int64_t[]){0, 3, 1, 2});
    node_pb(&g, "Transpose", "x", "t", &a);
    node_pb(&g, "Div", "t,k255", "p", NULL);
    node_pb(&g, "Sub", "p,mean", "q", NULL);
    node_pb(&g, "Div", "q,std", "r", NULL);
    a.n = 0;
    attr_string(&a, "auto_pad", "SAME_UPPER");
    attr_ints(&a, "strides", 2, (int64_t[]){2, 2});
    attr_ints(&a, "kernel_shape", 2, (int64_t[]){3, 3});
    node_pb(&g, "Conv", "r,w,b", "c", &a);
    node_pb(&g, "Relu", "c", "c1", NULL);
    a.n = 0;
    attr_ints(&a, "kernel_shape", 2, (int64_t[]){3, 3});
    attr_int(&a, "ceil_mode", 1);
    node_pb(&g, "MaxPool", "c1", "m", &a);
    a.n = 0;
    pb shape = tensor_pb("", 1, (int64_t[]){2}, (float[]){0, -1}, 1);
    attr_tensor(&a, "value", &shape);
    node_pb(&g, "Constant", "", "shape", &a);
    node_pb(&g, "Reshape", "m,shape", "f", NULL);
    node_pb(&g, "MatMul", "f,mw", "d", NULL);
    node_pb(&g, "Add", "d,mb", "e", NULL);
    node_pb(&g, "Dropout", "e", "e1", NULL);
    node_pb(&g, "Identity", "e1", "e2", NULL);
    node_pb(&g, "Softmax", "e2", "y", NULL);
    init_pb(&g, "k255", 0, NULL, (float[]){255});
    init_pb(&g, "mean", 0, NULL, (float[]){0.5f});
    init_pb(&g, "std", 0, NULL, (float[]){0.25f});
    init_pb(&g, "w", 4, (int64_t[]){3, 2, 3, 3}, NULL);
    init_pb(&g, "b", 1, (int64_t[]){3}, NULL);
    init_pb(&g, "mw", 2, (int64_t[]){3, 2}, NULL);
    init_pb(&g, "mb", 1, (int64_t[]){2}, NULL);
    value_pb(&g, 12, "y", 2, (int64_t[]){0, 2});
    model_pb("hand-nhwc", &g, 13);
}

/* A flat input through Gemm (transB 0, alpha, beta), BatchNormalization,
 * LeakyRelu, Flatten, Tanh, Gemm (transB 1), Sigmoid and an opset-11
 * Softmax on axis 1. */
static void onnx_flat_seed(void)
{
    pb g = {0}, a = {0};
    value_pb(&g, 11, "x", 2, (int64_t[]){0, 6});
    attr_float(&a, "alpha", 0.5f), attr_float(&a, "beta", 2.0f), attr_int(&a, "transB", 0);
    node_pb(&g, "Gemm", "x,gw,gc", "g", &a);
    a.n = 0;
    attr_float(&a, "epsilon", 1e-3f);
    node_pb(&g, "BatchNormalization", "g,s,sb,m,v", "n", &a);
    a.n = 0;
    attr_float(&a, "alpha", 0.1f);
    node_pb(&g, "LeakyRelu", "n", "l", &a);
    a.n = 0;
    attr_int(&a, "axis", 1);
    node_pb(&g, "Flatten", "l", "f", &a);
    node_pb(&g, "Tanh", "f", "t", NULL);
    a.n = 0;
    attr_int(&a, "transB", 1);
    node_pb(&g, "Gemm", "t,hw", "h", &a);
    node_pb(&g, "Sigmoid", "h", "s1", NULL);
    a.n = 0;
    attr_int(&a, "axis", 1);
    node_pb(&g, "Softmax", "s1", "y", &a);
    init_pb(&g, "gw", 2, (int64_t[]){6, 4}, NULL);
    init_pb(&g, "gc", 1, (int64_t[]){4}, NULL);
    init_pb(&g, "s", 1, (int64_t[]){4}, NULL);
    init_pb(&g, "sb", 1, (int64_t[]){4}, NULL);
    init_pb(&g, "m", 1, (int64_t[]){4}, NULL);
    init_pb(&g, "v", 1, (int64_t[]){4}, (float[]){0.5f, 1, 2, 0.25f});
    init_pb(&g, "hw", 2, (int64_t[]){3, 4}, NULL);
    value_pb(&g, 12, "y", 2, (int64_t[]){0, 3});
    model_pb("hand-flat", &g, 11);
}

static void onnx_seeds(void)
{
    onnx_seed("seed", cnn_preset("seed"));
    onnx_seed("xo", cnn_preset("xo"));
    onnx_seed("tiny", "input 6x6x2 mean 0.5 std 0.25; conv 3 3x3 stride 2 pad 1; leaky 0.2; "
                      "avgpool 2 ceil; tanh; dense 4 nobias; softmax");
    onnx_seed("pools", "input 7x5; conv 2 3x3 pad same nobias; relu; sumpool 2 stride 1; "
                       "maxpool 2 ceil; sigmoid; flatten; dense 3");
    onnx_seed("dense", "input 5; dense 4; relu; dense 2; softmax");
    /* lenet5.onnx (248 KB) is left out: over max_len, libFuzzer would cut
     * it to a prefix that no longer parses, and its operators are all in
     * convbn.onnx (30 KB) too. */
    onnx_fixture("convbn.onnx");
    onnx_nhwc_seed();
    onnx_flat_seed();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    root = argv[1];
    mkdir(root, 0755);
    idx_seeds();
    image_seeds();
    spec_seeds();
    model_seed("small", specs[0], 0, 0);
    model_seed("small-ckpt", specs[0], 1, 0);
    model_seed("small-int8", specs[0], 0, 1);
    model_seed("pools-ckpt", specs[1], 1, 0);
    model_seed("dense", specs[2], 0, 0);
    model_seed("dense-int8", specs[2], 0, 1);
    model_seed("xo-ckpt", cnn_preset("xo"), 1, 0);
    onnx_seeds();
    return 0;
}
