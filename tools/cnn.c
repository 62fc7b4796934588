/* cnn: train, evaluate and look inside convolutional networks. */
#include "cli.h"
#include "team.h"

#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
} commands[] = {
    {"train", cmd_train, "train a network on a dataset and save the model"},
    {"eval", cmd_eval, "accuracy, loss and confusion matrix of a model on test data"},
    {"predict", cmd_predict, "classify image files with a model"},
    {"summary", cmd_summary, "the layers, shapes, parameters and FLOPs of a network"},
    {"show", cmd_show, "feature maps, filters and probabilities of a model for one image"},
    {"report", cmd_report, "one HTML page: layers, curves, filters, maps, confusion, mistakes"},
    {"xo", cmd_xo, "the X-or-O walkthrough of how a CNN sees, by the real layers"},
    {"bench", cmd_bench, "training and inference speed, latency, memory of the reference nets"},
    {"export", cmd_export, "a model as an ONNX file (opset 13)"},
    {"import", cmd_import, "an ONNX model as a cnn model"},
    {"quantize", cmd_quantize, "a model made an int8 model, calibrated on its data"},
};

static int usage(FILE *to)
{
    fprintf(to, "usage: cnn COMMAND [OPTIONS]   (cnn COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(to, "  %-9s %s\n", commands[i].name, commands[i].what);
    fprintf(to, "\nNET is a preset (seed, lenet, convnet, xo), a network file, a model file, or\n"
                "network text such as \"input 28x28; conv 8 3x3; maxpool 2; dense 10; softmax\".\n"
                "cnn %s\n",
            CNN_VERSION);
    return to == stdout ? 0 : EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    if (strcmp(argv[1], "--version") == 0) {
        printf("cnn %s\n", CNN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            int rc = cli_team_start(&argc, &argv, argv[1]);
            if (rc == 0)
                rc = commands[i].run(argc - 2, argv + 2);
            cli_team_stop(rc);
            return rc;
        }
    return cli_error(EXIT_USAGE, "unknown command '%s' (see cnn --help)", argv[1]);
}
