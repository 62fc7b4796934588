/* cnn_model_parse_onnx on hostile bytes, then the network is set up and run.
 *
 * A network the importer accepts must also be one the core can run: it is
 * initialised with a batch of 1 (cnn_net_init must refuse, not crash, when
 * it is too large: the library's size cap is compiled lower for fuzzing,
 * see run.sh) and, if small enough to be quick, run forward once on an
 * image of zeros.  The input is copied to a buffer of its exact length, so
 * that ASan sees any read past the end of the file. */
#include "cnn.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FLOPS 2e7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    cnn_error err;
    cnn_net *net = cnn_model_parse_onnx(copy, size, NULL, &err);
    free(copy);
    if (!net) {
        if (err.msg[0] == '\0' || err.status >= 0)
            abort();
        return 0;
    }
    if (cnn_net_layers(net) < 1)
        abort();
    if (cnn_net_init(net, 1, 7, &err) == CNN_OK) {
        double flops = 0;
        for (int i = 0; i < cnn_net_layers(net); i++)
            flops += cnn_net_layer_flops(net, i);
        if (flops < MAX_FLOPS) {
            float *x = calloc(cnn_shape_size(cnn_net_input_shape(net)), sizeof *x);
            if (!x || cnn_forward(net, x, 1, 0, &err))
                abort();
            free(x);
        }
    } else if (err.msg[0] == '\0' || err.status >= 0) {
        abort();
    }
    cnn_net_free(net);
    return 0;
}
