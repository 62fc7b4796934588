/* cnn export: a model as an ONNX file, for ONNX Runtime, OpenCV, a browser. */
#include "cli.h"

static const char EXPORT_HELP[] =
    "usage: cnn export MODEL --onnx OUT.onnx\n"
    "Writes the model as ONNX (opset 13): input \"pixels\" (N x C x H x W, values\n"
    "0..255; the model's normalisation is in the graph), output \"output\" (the\n"
    "probabilities, N x classes), the same numbers as cnn predict gives.\n";

int cmd_export(int argc, char **argv)
{
    cli_option opts[] = {{"onnx", 1, NULL}};
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[1];
    int parsed = cli_parse("export", EXPORT_HELP, argc, argv, opts, nopts, pos, 1, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    const char *out = cli_value(opts, nopts, "onnx");
    if (npos != 1 || !out)
        return cli_error(EXIT_USAGE, "export: cnn export MODEL --onnx OUT.onnx");
    cnn_error err;
    cnn_model_meta meta;
    cnn_net *net = cnn_model_load(pos[0], &meta, NULL, NULL, NULL, &err);
    if (!net)
        return cli_error(EXIT_FAIL, "%s", err.msg);
    int rc = cnn_model_export_onnx(out, net, &meta, &err) ? cli_error(EXIT_FAIL, "%s", err.msg) : 0;
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
    cli_option opts[] = {{"out", 1, NULL}};
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[1];
    int parsed = cli_parse("import", IMPORT_HELP, argc, argv, opts, nopts, pos, 1, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    const char *out = cli_value(opts, nopts, "out");
    if (npos != 1 || !out)
        return cli_error(EXIT_USAGE, "import: cnn import IN.onnx --out MODEL");
    cnn_error err;
    cnn_model_meta meta;
    cnn_net *net = cnn_model_import_onnx(pos[0], &meta, &err);
    if (!net)
        return cli_error(EXIT_FAIL, "%s", err.msg);
    int rc = cnn_net_init(net, 1, 0, &err) || cnn_model_save(out, net, &meta, NULL, &err)
                 ? cli_error(EXIT_FAIL, "%s", err.msg)
                 : 0;
    if (rc == 0) {
        cnn_shape in = cnn_net_input_shape(net);
        printf("imported %s: %d layers, %zu parameters, input %dx%dx%d; saved %s\n", pos[0],
               cnn_net_layers(net), cnn_net_param_count(net), in.h, in.w, in.c, out);
    }
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
    return rc;
}
