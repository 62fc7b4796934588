/* The registry: one entry per layer kind.  Everything that needs to know a
 * kind (the network, the plan, the initialisation, the spec parser and
 * writer, the descriptions the tools and pictures show) asks it here.
 * Adding a kind: its file (its layer_ops, and its options if it takes
 * any), the enum in cnn.h, and one line below. */
#include "layer.h"

#include <string.h>

const layer_kind layer_kinds[] = {
    /*                  name       ops              options          act pool keeps_dy reads_x
     *                                                               passes_init */
    [CNN_INPUT] =      {"input",   NULL,            NULL,            0, 0, 0, 0, 0},
    [CNN_CONV] =       {"conv",    &conv_ops,       conv_options,    0, 0, 0, 0, 0},
    [CNN_RELU] =       {"relu",    &activation_ops, NULL,            1, 0, 0, 0, 0},
    [CNN_LEAKY_RELU] = {"leaky",   &activation_ops, leaky_options,   1, 0, 0, 0, 0},
    [CNN_SIGMOID] =    {"sigmoid", &activation_ops, NULL,            1, 0, 0, 0, 0},
    [CNN_TANH] =       {"tanh",    &activation_ops, NULL,            1, 0, 0, 0, 0},
    [CNN_MAXPOOL] =    {"maxpool", &pool_ops,       pool_options,    0, 1, 0, 0, 1},
    [CNN_AVGPOOL] =    {"avgpool", &pool_ops,       avgpool_options, 0, 1, 0, 0, 1},
    [CNN_SUMPOOL] =    {"sumpool", &pool_ops,       pool_options,    0, 1, 0, 0, 1},
    [CNN_DENSE] =      {"dense",   &dense_ops,      dense_options,   0, 0, 1, 1, 0},
    [CNN_DROPOUT] =    {"dropout", &dropout_ops,    dropout_options, 0, 0, 0, 0, 1},
    [CNN_FLATTEN] =    {"flatten", &flatten_ops,    NULL,            0, 0, 0, 0, 1},
    [CNN_SOFTMAX] =    {"softmax", &softmax_ops,    NULL,            0, 0, 0, 0, 0},
};

/* A kind added to the enum (before CNN_LAYER_KINDS) without its line here
 * stops the build; a hole left in the middle fails the registry's test. */
_Static_assert(sizeof layer_kinds / sizeof layer_kinds[0] == CNN_LAYER_KINDS,
               "every layer kind needs its line in the registry");

const char *cnn_layer_name(cnn_layer_kind kind)
{
    return kind >= 0 && kind < CNN_LAYER_KINDS && layer_kinds[kind].name ? layer_kinds[kind].name : "?";
}

int kind_named(const char *name)
{
    for (int k = 0; k < CNN_LAYER_KINDS; k++)
        if (layer_kinds[k].ops && strcmp(layer_kinds[k].name, name) == 0)
            return k;
    return -1;
}
