/* The smallest complete program: build a network from text, train it on the
 * generated X-or-O images, and report its accuracy on images it never saw.
 *
 *   cc train_xo.c $(pkg-config --cflags --libs cnn) -o train_xo && ./train_xo
 */
#include <cnn.h>
#include <stdio.h>

int main(void)
{
    cnn_error err;
    cnn_train_config cfg;
    cnn_net *net = cnn_net_parse("input 9x9x1 mean 0.5 std 0.5\n"
                                 "conv 8 3x3\n"
                                 "relu\n"
                                 "maxpool 2 ceil\n"
                                 "dense 2\n"
                                 "softmax\n"
                                 "train adam lr 0.01 batch 16 epochs 5\n",
                                 &cfg, &err);
    cnn_dataset train, test;
    if (!net || cnn_xo_generate(2000, 9, 1, &train, &err) ||
        cnn_xo_generate(500, 9, 2, &test, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cnn_metrics m;
    if (cnn_fit(net, &train, &test, &cfg, 42, &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("X or O: %.1f%% of %d held-out images right\n", 100 * m.accuracy, m.count);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    cnn_net_free(net);
    return m.accuracy > 0.95 ? 0 : 1;
}
