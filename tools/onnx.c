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
    cnn_net *net = cnn_model_load(pos[0], NULL, NULL, NULL, NULL, &err);
    if (!net)
        return cli_error(EXIT_FAIL, "%s", err.msg);
    int rc = cnn_model_export_onnx(out, net, &err) ? cli_error(EXIT_FAIL, "%s", err.msg) : 0;
    cnn_net_free(net);
    return rc;
}
