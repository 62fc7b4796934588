/* cnn show: what every layer of a network makes of one image, as pictures
 * (PNG grids) and, with --json, as numbers. */
#include "cli.h"
#include "viz.h"

#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: cnn show MODEL IMAGE [--out DIR] [--invert] [--json]\n"
    "Runs one image file (PNG, JPEG, BMP, PGM) through the network and writes\n"
    "into DIR [show] one PNG per layer with its feature maps (one tile per\n"
    "channel) and one per convolution with its filters: blue negative, white 0,\n"
    "red positive, on a scale symmetric around 0 given under each picture.\n"
    "Prints the predicted probabilities.  --invert maps p to 255 - p (dark\n"
    "digits on white paper); --json prints every layer's shape and values.\n";

/* Writes layer i's feature maps (and its filters, for a convolution). */
static int save_layer(cnn_net *net, int i, const char *dir, cnn_error *err)
{
    char name[64];
    const char *kind = i < 0 ? "input" : cnn_layer_name(cnn_net_layer(net, i).kind);
    viz_image im = {0};
    snprintf(name, sizeof name, "%02d-%s.png", i + 1, kind);
    int rc = viz_activation(&im, net, i, 0, err);
    if (rc == CNN_OK)
        rc = viz_png_save_in(&im, dir, name, err);
    viz_image_free(&im);
    if (rc || i < 0 || cnn_net_layer(net, i).kind != CNN_CONV)
        return rc;
    snprintf(name, sizeof name, "%02d-%s-filters.png", i + 1, kind);
    rc = viz_filters(&im, net, i, err);
    if (rc == CNN_OK)
        rc = viz_png_save_in(&im, dir, name, err);
    viz_image_free(&im);
    return rc;
}

static void json_layer(const cnn_net *net, int i)
{
    cnn_shape s = i < 0 ? cnn_net_input_shape(net) : cnn_net_layer_shape(net, i);
    const float *a = cnn_net_activation(net, i);
    printf("%s{\"index\":%d,\"layer\":\"%s\",\"shape\":[%d,%d,%d],\"values\":[", i < 0 ? "" : ",",
           i + 1, i < 0 ? "input" : cnn_layer_name(cnn_net_layer(net, i).kind), s.c, s.h, s.w);
    for (size_t k = 0; k < cnn_shape_size(s); k++)
        printf("%s%.6g", k ? "," : "", a[k]);
    printf("]}");
}

int cmd_show(int argc, char **argv)
{
    cli_option opts[] = {{"out", 1, NULL}, {"invert", 0, NULL},
                         {"json", 0, NULL}};
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[2];
    int parsed = cli_parse("show", HELP, argc, argv, opts, nopts, pos, 2, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    if (npos != 2)
        return cli_error(EXIT_USAGE, "show: give a model and an image (cnn show MODEL IMAGE)");
    const char *dir = cli_value(opts, nopts, "out");
    dir = dir ? dir : "show";
    cnn_model_meta meta = {0};
    cnn_net *net = cli_load_net(pos[0], NULL, &meta, NULL);
    if (!net)
        return EXIT_FAIL;
    cnn_shape in = cnn_net_input_shape(net);
    size_t per = cnn_shape_size(in);
    uint8_t *pixels = malloc(per);
    float *x = malloc(sizeof(float) * per);
    float mean, std;
    cnn_net_normalization(net, &mean, &std);
    cnn_error err;
    int rc = EXIT_FAIL, k = cnn_net_classes(net);
    if (!pixels || !x) {
        cli_error(EXIT_FAIL, "out of memory");
        goto done;
    }
    if (cnn_image_load(pos[1], in.c, in.h, in.w, cli_flag(opts, nopts, "invert"), pixels, &err)) {
        cli_error(EXIT_FAIL, "%s", err.msg);
        goto done;
    }
    cnn_dataset one = {1, in.c, in.h, in.w, k, pixels, NULL, NULL};
    cnn_dataset_batch(&one, NULL, 0, 1, mean, std, x, NULL);
    cnn_net_keep_activations(net, 1); /* every layer's own maps */
    if (cnn_net_init(net, 1, 0, &err) || cnn_forward(net, x, 1, 0, &err)) {
        cli_error(EXIT_FAIL, "%s", err.msg);
        goto done;
    }
    int layers = cnn_net_layers(net);
    for (int i = -1; i < layers; i++)
        if (save_layer(net, i, dir, &err)) {
            cli_error(EXIT_FAIL, "%s", err.msg);
            goto done;
        }
    const float *p = cnn_net_output(net);
    int best = cnn_net_predicted(net, 0);
    char name[64];
    cli_class_name(&meta, best, name, sizeof name);
    if (cli_flag(opts, nopts, "json")) {
        printf("{\"file\":");
        cli_json_string(pos[1]);
        printf(",\"out\":");
        cli_json_string(dir);
        printf(",");
        cli_json_prediction(best, name, p, k);
        printf(",\"layers\":[");
        for (int i = -1; i < layers; i++)
            json_layer(net, i);
        printf("]}\n");
    } else {
        printf("%s: %s (%.1f%%)\n", pos[1], name, 100 * p[best]);
        for (int j = 0; j < k; j++) {
            char nj[64];
            cli_class_name(&meta, j, nj, sizeof nj);
            printf("  %-12s %6.2f%%%s\n", nj, 100 * p[j], j == best ? "  <" : "");
        }
        printf("feature maps and filters of %d layers written to %s/\n", layers, dir);
    }
    rc = 0;
done:
    free(pixels);
    free(x);
    cnn_model_meta_free(&meta);
    cnn_net_free(net);
    return rc;
}
