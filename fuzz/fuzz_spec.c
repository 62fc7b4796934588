/* cnn_net_parse on hostile text, then the network is set up and run.
 *
 * A parsed network is initialised with a batch of 2 (cnn_net_init must
 * refuse, not crash, when it is too large: the library's size cap is
 * compiled lower for fuzzing, see run.sh), written back as text and parsed
 * again (the text must rebuild the same network), and, if small enough to be
 * quick, run forward and backward once. */
#include "cnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 2 };
#define MAX_FLOPS 2e6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse(text, &cfg, &err);
    free(text);
    if (!net) {
        if (err.msg[0] == '\0' || err.status >= 0)
            abort();
        return 0;
    }
    if (cnn_net_layers(net) < 1 || cfg.batch < 1 || cfg.epochs < 1)
        abort();

    /* The text must rebuild the same network. */
    char *again = cnn_net_to_spec(net);
    if (!again)
        abort();
    cnn_net *twin = cnn_net_parse(again, NULL, &err);
    if (!twin || cnn_net_layers(twin) != cnn_net_layers(net) ||
        cnn_net_param_count(twin) != cnn_net_param_count(net))
        abort();
    char *third = cnn_net_to_spec(twin);
    if (!third || strcmp(again, third) != 0)
        abort();
    free(again), free(third);
    cnn_net_free(twin);

    if (cnn_net_init(net, BATCH, 7, &err) == CNN_OK) {
        double flops = 0;
        for (int i = 0; i < cnn_net_layers(net); i++)
            flops += cnn_net_layer_flops(net, i);
        cnn_shape in = cnn_net_input_shape(net);
        cnn_layer_spec last = cnn_net_layer(net, cnn_net_layers(net) - 1);
        if (flops * BATCH < MAX_FLOPS) {
            size_t n = cnn_shape_size(in) * BATCH;
            float *x = malloc(n * sizeof *x);
            for (size_t i = 0; i < n; i++)
                x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
            if (cnn_forward(net, x, BATCH, 1, &err))
                abort();
            if (last.kind == CNN_SOFTMAX) {
                int k = cnn_net_classes(net);
                cnn_label labels[BATCH] = {0, (cnn_label)(k > 1 ? 1 : 0)};
                if (k <= 256) {
                    cnn_net_want_input_grad(net, 1);
                    if (cnn_backward(net, labels, BATCH, &err))
                        abort();
                }
            }
            free(x);
        }
    } else if (err.msg[0] == '\0' || err.status >= 0) {
        abort();
    }
    cnn_net_free(net);
    return 0;
}
