/* cnn quantize: a trained model made an int8 model, calibrated on a few
 * hundred of its training images (post-training quantization). */
#include "cli.h"

#include <stdlib.h>

static const char HELP[] =
    "usage: cnn quantize MODEL --out MODEL8 [--data DIR] [--images N]\n"
    "Quantizes a trained model to int8 (weights per output channel, symmetric;\n"
    "every tensor between layers uint8, its range calibrated on the first N\n"
    "training images [500]).  MODEL8 is a model file like the others: cnn eval,\n"
    "predict and bench run it in int8.  Without --data, the data the model was\n"
    "trained on, when it is here.\n";

/* The first n training images of data, normalised as the model wants. */
static float *calibration_images(const cnn_net *net, const char *data, long n, int *got)
{
    cnn_dataset d = {0};
    if (cli_load_data(data, "train", (size_t)n, cnn_net_input_shape(net), &d))
        return NULL;
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    float *x = malloc(sizeof(float) * cnn_shape_size(cnn_net_input_shape(net)) * (size_t)d.n);
    if (x)
        cnn_dataset_batch(&d, NULL, 0, d.n, mean, std, x, NULL);
    else
        cli_error(EXIT_FAIL, "quantize: out of memory for %d images", d.n);
    *got = d.n;
    cnn_dataset_free(&d);
    return x;
}

int cmd_quantize(int argc, char **argv)
{
    cli_option opts[] = {{"out", 1, NULL}, {"data", 1, NULL}, {"images", 1, NULL}};
    const int nopts = 3;
    const char *in = NULL;
    int npos, parsed = cli_parse("quantize", HELP, argc, argv, opts, nopts, &in, 1, &npos);
    if (parsed)
        return parsed > 0 ? 0 : EXIT_USAGE;
    const char *out = cli_value(opts, nopts, "out");
    long images = 500;
    if (npos != 1 || !out)
        return cli_error(EXIT_USAGE, "quantize: cnn quantize MODEL --out MODEL8 [--data DIR]");
    if (cli_int(opts, nopts, "images", 1, 1L << 20, &images))
        return EXIT_USAGE;
    cnn_error err;
    cnn_model_meta meta;
    cnn_net *net = cnn_model_load(in, &meta, NULL, NULL, NULL, &err);
    if (!net)
        return cli_error(EXIT_FAIL, "%s", err.msg);
    int rc = EXIT_FAIL, got = 0;
    const char *data = cli_model_data(cli_value(opts, nopts, "data"), &meta, "quantize");
    float *x = data ? calibration_images(net, data, images, &got) : NULL;
    if (x && !cnn_net_quantize(net, x, got, &err) && !cnn_model_save(out, net, &meta, NULL, &err)) {
        printf("quantized %s to int8 on %d images of %s; saved %s\n", in, got, data, out);
        rc = 0;
    } else if (x) {
        cli_error(EXIT_FAIL, "%s", err.msg);
    }
    free(x);
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
    return rc;
}
