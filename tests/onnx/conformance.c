/* The importer against tests no one here wrote: each folder of the ONNX
 * project's node tests (Debian's libonnx-testdata) holds model.onnx and
 * test_data_set_N/{input_0,output_0}.pb.  A model cnn imports must give the
 * reference outputs within the tests' own tolerance (ONNX's backend tests:
 * rtol 1e-3, atol 1e-7); one it refuses is skipped, with the reason.
 *   onnx_conformance DIR...             one line per test, then the counts
 *   onnx_conformance --raw MODEL.onnx INPUT.bin N OUTPUT.bin [TOL]
 *       a model on N raw float32 images against raw float32 outputs
 *       (the PyTorch fixtures of tests/onnx/fixtures), to TOL (1e-5)
 * Exit status 1 if any test fails. */
#include "cnn.h"
#include "file.h"
#include "onnx.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole file (at most 1 GiB), or NULL. */
static uint8_t *slurp(const char *path, size_t *len)
{
    return file_read_all(path, (size_t)1 << 30, len, NULL);
}

/* A float tensor file (TensorProto) as floats; its dims in dims[]. */
static float *read_tensor(const char *path, size_t *count, int64_t *dims, int *ndims)
{
    size_t len;
    uint8_t *bytes = slurp(path, &len);
    Onnx__TensorProto *t = bytes ? onnx__tensor_proto__unpack(NULL, len, bytes) : NULL;
    free(bytes);
    if (!t || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || t->n_dims > 8) {
        if (t)
            onnx__tensor_proto__free_unpacked(t, NULL);
        return NULL;
    }
    size_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++)
        n *= (size_t)t->dims[i], dims[i] = t->dims[i];
    *ndims = (int)t->n_dims;
    float *v = malloc(sizeof(float) * (n ? n : 1));
    if (v && n && t->has_raw_data && t->raw_data.len == 4 * n)
        memcpy(v, t->raw_data.data, 4 * n); /* little-endian, as this machine */
    else if (v && n && t->n_float_data == n)
        memcpy(v, t->float_data, 4 * n);
    else if (v && !n)
        ; /* an empty tensor: nothing to copy */
    else
        free(v), v = NULL;
    onnx__tensor_proto__free_unpacked(t, NULL);
    *count = n;
    return v;
}

/* net on n images of x; the worst error against want beyond
 * atol + rtol |want| (<= 0: within), and the largest difference. */
static int compare(cnn_net *net, const float *x, int n, const float *want, size_t count,
                   double atol, double rtol, double *worst)
{
    cnn_error err;
    if (cnn_net_init(net, n, 0, &err) || cnn_forward(net, x, n, 0, &err)) {
        printf("    %s\n", err.msg);
        return -1;
    }
    size_t k = cnn_shape_size(cnn_net_layer_shape(net, cnn_net_layers(net) - 1));
    if (k * (size_t)n != count) {
        printf("    %zu outputs, the reference has %zu\n", k * (size_t)n, count);
        return -1;
    }
    const float *y = cnn_net_output(net);
    int bad = 0;
    *worst = 0;
    for (size_t i = 0; i < count; i++) {
        double d = fabs((double)y[i] - want[i]);
        *worst = d > *worst ? d : *worst;
        bad |= !(d <= atol + rtol * fabs(want[i]));
    }
    return bad;
}

/* The model of a node test with its inputs after the first (the weights,
 * which these tests feed at run time) bound as initializers, from data set
 * 0: cnn takes weights as constants. */
static cnn_net *import_bound(const char *dir, cnn_error *err)
{
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    uint8_t *bytes = slurp(path, &len);
    Onnx__ModelProto *m = bytes ? onnx__model_proto__unpack(NULL, len, bytes) : NULL;
    free(bytes);
    if (!m || !m->graph) {
        cnn_fail(err, CNN_EFORMAT, "%s: no model", path);
        return NULL;
    }
    Onnx__GraphProto *g = m->graph;
    size_t extra = g->n_input > 1 ? g->n_input - 1 : 0, n0 = g->n_initializer;
    Onnx__TensorProto **inits = calloc(n0 + extra + 1, sizeof *inits), **old = g->initializer;
    char **names = calloc(extra + 1, sizeof *names);
    if (n0)
        memcpy(inits, old, n0 * sizeof *inits);
    for (size_t i = 0; i < extra; i++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%zu.pb", dir, i + 1);
        uint8_t *tb = slurp(path, &len);
        inits[n0 + i] = tb ? onnx__tensor_proto__unpack(NULL, len, tb) : NULL;
        free(tb);
        if (!inits[n0 + i]) {
            extra = i; /* an optional input left out */
            break;
        }
        names[i] = inits[n0 + i]->name; /* its own, put back before it is freed */
        inits[n0 + i]->name = g->input[i + 1]->name;
    }
    g->initializer = inits, g->n_initializer = n0 + extra;
    len = onnx__model_proto__get_packed_size(m);
    bytes = malloc(len);
    onnx__model_proto__pack(m, bytes);
    for (size_t i = 0; i < extra; i++) {
        inits[n0 + i]->name = names[i];
        onnx__tensor_proto__free_unpacked(inits[n0 + i], NULL);
    }
    free(names);
    g->initializer = old, g->n_initializer = n0;
    free(inits);
    onnx__model_proto__free_unpacked(m, NULL);
    cnn_net *net = cnn_model_parse_onnx(bytes, len, NULL, err);
    free(bytes);
    return net;
}

/* One node test: 1 passed, 0 skipped, -1 failed. */
static int node_test(const char *dir)
{
    char path[4096];
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    cnn_error err;
    cnn_net *net = import_bound(dir, &err);
    if (!net) {
        char *why = strstr(err.msg, "; cnn imports");
        if (why)
            *why = '\0'; /* the list of what is supported, on every line */
        printf("skip %s: %s\n", name, err.msg);
        return 0;
    }
    int result = 1;
    for (int set = 0; result == 1; set++) {
        int64_t din[8], dout[8];
        int nin, nout;
        size_t cin, cout;
        snprintf(path, sizeof path, "%s/test_data_set_%d/input_0.pb", dir, set);
        float *x = read_tensor(path, &cin, din, &nin);
        snprintf(path, sizeof path, "%s/test_data_set_%d/output_0.pb", dir, set);
        float *want = x ? read_tensor(path, &cout, dout, &nout) : NULL;
        double worst = 0;
        if (!x && set > 0) {
            free(x);
            break;
        }
        int bad = !x || !want ? -1 : compare(net, x, (int)din[0], want, cout, 1e-7, 1e-3, &worst);
        printf("%s %s (data set %d, largest difference %.3g)\n", bad ? "FAIL" : "pass", name, set,
               worst);
        result = bad ? -1 : 1;
        free(x), free(want);
    }
    cnn_net_free(net);
    return result;
}

static int raw_test(char **argv, int argc)
{
    cnn_error err;
    cnn_net *net = cnn_model_import_onnx(argv[2], NULL, &err);
    if (!net) {
        printf("FAIL %s: %s\n", argv[2], err.msg);
        return 1;
    }
    int n = atoi(argv[4]);
    size_t lx, ly;
    float *x = (float *)slurp(argv[3], &lx), *want = (float *)slurp(argv[5], &ly);
    double tol = argc > 6 ? atof(argv[6]) : 1e-5, worst = 0;
    int bad = !x || !want || lx != 4 * (size_t)n * cnn_shape_size(cnn_net_input_shape(net))
                  ? -1
                  : compare(net, x, n, want, ly / 4, tol, 0, &worst);
    printf("%s %s: largest difference from the reference %.3g (tolerance %g)\n",
           bad ? "FAIL" : "pass", argv[2], worst, tol);
    free(x), free(want);
    cnn_net_free(net);
    return bad != 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "--raw") == 0)
        return raw_test(argv, argc);
    int passed = 0, skipped = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        int r = node_test(argv[i]);
        passed += r > 0, skipped += r == 0, failed += r < 0;
    }
    printf("%d passed, %d failed, %d skipped (not imported)\n", passed, failed, skipped);
    return failed != 0;
}
