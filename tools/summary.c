/* cnn summary: a table of the layers, like Keras's model summary. */
#include "cli.h"

#include <string.h>

static const char HELP[] =
    "usage: cnn summary NET|MODEL [--json]\n"
    "Prints each layer's output shape, parameters and forward FLOPs per image\n"
    "(a multiply-add counts as 2), and the totals.\n";

static void human(double v, char *out, size_t n)
{
    if (v >= 1e9)
        snprintf(out, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, n, "%.1fK", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

int cmd_summary(int argc, char **argv)
{
    cli_option opts[] = {{"json", 0, NULL}};
    int nopts = sizeof opts / sizeof opts[0], npos;
    const char *pos[1];
    int parsed = cli_parse("summary", HELP, argc, argv, opts, nopts, pos, 1, &npos);
    if (parsed)
        return CLI_PARSE_EXIT(parsed);
    if (npos != 1)
        return cli_error(EXIT_USAGE, "summary: which network? (cnn summary NET|MODEL)");
    int is_model;
    cnn_net *net = cli_load_net(pos[0], NULL, NULL, &is_model);
    if (!net)
        return EXIT_FAIL;
    int json = cli_flag(opts, nopts, "json");
    cnn_shape in = cnn_net_input_shape(net);
    double flops = 0;
    int width = 22; /* the layer column: as wide as its widest (a pool's four pads) */
    for (int i = 0; i < cnn_net_layers(net); i++) {
        cnn_layer_spec l = cnn_net_layer(net, i);
        char desc[128];
        int len = cnn_layer_text(&l, 1, desc, sizeof desc);
        width = len > width ? len : width;
    }
    if (json)
        printf("{\"input\":[%d,%d,%d],\"layers\":[", in.c, in.h, in.w);
    else {
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%d", in.c, in.h, in.w);
        printf("%-3s %-*s %-16s %12s %12s\n", "#", width, "layer", "output (CxHxW)", "params",
               "FLOPs");
        printf("%-3s %-*s %-16s %12s %12s\n", "0", width, "input", shape, "0", "0");
    }
    for (int i = 0; i < cnn_net_layers(net); i++) {
        cnn_layer_spec l = cnn_net_layer(net, i);
        cnn_shape s = cnn_net_layer_shape(net, i);
        char desc[128], shape[32], f[16];
        cnn_layer_text(&l, 1, desc, sizeof desc);
        double fl = cnn_net_layer_flops(net, i);
        flops += fl;
        snprintf(shape, sizeof shape, "%dx%dx%d", s.c, s.h, s.w);
        human(fl, f, sizeof f);
        if (json)
            printf("%s{\"layer\":\"%s\",\"output\":[%d,%d,%d],\"params\":%zu,\"flops\":%.0f}",
                   i ? "," : "", desc, s.c, s.h, s.w, cnn_net_layer_params(net, i), fl);
        else
            printf("%-3d %-*s %-16s %12zu %12s\n", i + 1, width, desc, shape,
                   cnn_net_layer_params(net, i), f);
    }
    char f[16];
    human(flops, f, sizeof f);
    size_t params = cnn_net_param_count(net);
    if (json)
        printf("],\"params\":%zu,\"flops\":%.0f,\"bytes\":%zu}\n", params, flops, params * 4);
    else
        printf("total: %zu parameters (%.1f KiB of float32), %s FLOPs per image forward\n", params,
               params * 4 / 1024.0, f);
    cnn_net_free(net);
    return 0;
}
