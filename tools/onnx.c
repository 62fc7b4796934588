/* cnn export and cnn import: models as ONNX files, for ONNX Runtime,
 * OpenCV, a browser, and back. */
#include "cli.h"

#include <string.h>

/* "cnn COMMAND IN --OPTION OUT": the two names, or an exit status. */
static int in_and_out(const char *command, const char *help, const char *option, int argc,
                      char **argv, const char **in, const char **out)
{
    cli_option opts[] = {{option, 1, NULL}};
    int npos, parsed = cli_parse(command, help, argc, argv, opts, 1, in, 1, &npos);
    if (parsed)
        return parsed > 0 ? -1 : EXIT_USAGE;
    *out = cli_value(opts, 1, option);
    if (npos != 1 || !*out)
        return cli_error(EXIT_USAGE, "%s: %.*s", command, (int)strcspn(help + 7, "\n"),
                         help + 7);
    return 0;
}

static const char EXPORT_HELP[] =
    "usage: cnn export MODEL --onnx OUT.onnx\n"
    "Writes the model as ONNX (opset 13): input \"pixels\" (N x C x H x W, values\n"
    "0..255; the model's normalisation is in the graph), output \"output\" (the\n"
    "probabilities, N x classes), the same numbers as cnn predict gives.\n";

int cmd_export(int argc, char **argv)
{
    const char *in, *out;
    int rc = in_and_out("export", EXPORT_HELP, "onnx", argc, argv, &in, &out);
    if (rc)
        return rc < 0 ? 0 : rc;
    cnn_error err;
    cnn_model_meta meta;
    cnn_net *net = cnn_model_load(in, &meta, NULL, NULL, NULL, &err);
    if (!net)
        return cli_error(EXIT_FAIL, "%s", err.msg);
    rc = cnn_model_export_onnx(out, net, &meta, &err) ? cli_error(EXIT_FAIL, "%s", err.msg) : 0;
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
    return rc;
}

static const char IMPORT_HELP[] =
    "usage: cnn import IN.onnx --out MODEL\n"
    "Reads an ONNX model (opsets 7 to 17: Conv, MaxPool, AveragePool, Gemm,\n"
    "MatMul+Add, BatchNormalization after Conv or Gemm, Relu, LeakyRelu,\n"
    "Sigmoid, Tanh, Softmax, Flatten, Reshape, Dropout, Identity, Constant) and\n"
    "saves it as a cnn model; anything else is refused, and nothing is saved.\n"
    "(Any command also takes the .onnx file itself where it takes a MODEL.)\n";

int cmd_import(int argc, char **argv)
{
    const char *in, *out;
    int rc = in_and_out("import", IMPORT_HELP, "out", argc, argv, &in, &out);
    if (rc)
        return rc < 0 ? 0 : rc;
    cnn_error err;
    cnn_model_meta meta;
    cnn_net *net = cnn_model_import_onnx(in, &meta, &err);
    if (!net)
        return cli_error(EXIT_FAIL, "%s", err.msg);
    rc = cnn_net_init(net, 1, 0, &err) || cnn_model_save(out, net, &meta, NULL, &err)
                 ? cli_error(EXIT_FAIL, "%s", err.msg)
                 : 0;
    if (rc == 0) {
        cnn_shape shape = cnn_net_input_shape(net);
        printf("imported %s: %d layers, %zu parameters, input %dx%dx%d; saved %s\n", in,
               cnn_net_layers(net), cnn_net_param_count(net), shape.h, shape.w, shape.c, out);
    }
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
    return rc;
}
