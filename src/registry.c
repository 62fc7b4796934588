/* The registry: one entry per layer kind.  Everything that needs to know a
 * kind (the network, the plan, the initialisation, the spec parser, the
 * pictures) asks it here. */
#include "layer.h"

const layer_kind layer_kinds[CNN_LAYER_KINDS] = {
    /*               name       ops              act pool keeps_dy reads_x passes_init */
    [CNN_INPUT] =   {"input",   NULL,            0, 0, 0, 0, 0},
    [CNN_CONV] =    {"conv",    &conv_ops,       0, 0, 0, 0, 0},
    [CNN_RELU] =    {"relu",    &activation_ops, 1, 0, 0, 0, 0},
    [CNN_LEAKY_RELU] = {"leaky", &activation_ops, 1, 0, 0, 0, 0},
    [CNN_SIGMOID] = {"sigmoid", &activation_ops, 1, 0, 0, 0, 0},
    [CNN_TANH] =    {"tanh",    &activation_ops, 1, 0, 0, 0, 0},
    [CNN_MAXPOOL] = {"maxpool", &pool_ops,       0, 1, 0, 0, 1},
    [CNN_AVGPOOL] = {"avgpool", &pool_ops,       0, 1, 0, 0, 1},
    [CNN_SUMPOOL] = {"sumpool", &pool_ops,       0, 1, 0, 0, 1},
    [CNN_DENSE] =   {"dense",   &dense_ops,      0, 0, 1, 1, 0},
    [CNN_DROPOUT] = {"dropout", &dropout_ops,    0, 0, 0, 0, 1},
    [CNN_FLATTEN] = {"flatten", &flatten_ops,    0, 0, 0, 0, 1},
    [CNN_SOFTMAX] = {"softmax", &softmax_ops,    0, 0, 0, 0, 0},
};

const char *cnn_layer_name(cnn_layer_kind kind)
{
    return kind >= 0 && kind < CNN_LAYER_KINDS ? layer_kinds[kind].name : "?";
}
